"""AV1 frames read without PyAV: our reading of the MP4 sample table, and libdav1d called directly.

The reference is always PyAV's own reading of the same file: the same packet spans as ffmpeg's
index, and the same pixels as ``VideoFrame.to_ndarray(format="gray")``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import Memory
from memvid_base.config import CODECS, VideoSettings
from memvid_base.errors import FrameDecodeError
from memvid_base.format import dav1d
from memvid_base.format.mp4_samples import read_sample_table
from memvid_base.format.qr import read_frame, render_frame
from memvid_base.format.video import VideoReader, write_video

REPO = Path(__file__).resolve().parent.parent
N_FRAMES = 6

pytestmark = pytest.mark.skipif(not dav1d.available(), reason="no usable libdav1d next to PyAV")


def _payloads() -> list[bytes]:
    return [bytes((k * 37 + i * 11) % 256 for i in range(400 + 120 * k)) for k in range(N_FRAMES)]


def _write(folder: Path, codec: str, name: str | None = None) -> tuple[Path, VideoSettings]:
    settings = VideoSettings.create(codec)
    path = folder / (name or f"{codec}.mp4")
    assert write_video(path, (render_frame(p, settings) for p in _payloads()), settings) == N_FRAMES
    return path, settings


def _ffmpeg_spans(path: Path) -> list[tuple[int, int, int]]:
    with av.open(str(path)) as container:
        entries = container.streams.video[0].index_entries
        return sorted((int(e.timestamp), int(e.pos), int(e.size)) for e in entries)


def _pyav_gray(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_the_sample_table_gives_ffmpegs_spans_for_every_codec(tmp_path: Path, codec: str) -> None:
    path, settings = _write(tmp_path, codec)
    with open(path, "rb") as fh:
        table = read_sample_table(fh)
    assert table is not None
    assert table.spans == _ffmpeg_spans(path)
    assert (table.width, table.height) == (settings.frame_size, settings.frame_size)
    assert (table.codec == b"av01") == (codec == "av1")
    assert bool(table.config) == (codec == "av1")  # av1C's sequence header


def test_libdav1d_gives_pyavs_pixels_and_the_reader_never_imports_pyav(tmp_path: Path) -> None:
    path, settings = _write(tmp_path, "av1")
    reference = _pyav_gray(path)
    script = (
        "import json, sys\n"
        "from memvid_base.format.video import VideoReader\n"
        "r = VideoReader(sys.argv[1])\n"
        "frames = [r.read(k).tolist() for k in (3, 0, 5, 1, 4, 2)]\n"
        "print(json.dumps({'frames': frames, 'pyav': 'av' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=REPO,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert res["pyav"] is False
    for k, frame in zip((3, 0, 5, 1, 4, 2), res["frames"], strict=True):
        got = np.array(frame, dtype=np.uint8)
        assert np.array_equal(got, reference[k]), f"frame {k} differs from PyAV's decode"
        assert read_frame(got, settings.qr_backend) == _payloads()[k]


def test_a_memory_searched_with_libdav1d_off_gives_the_same_text_through_pyav(tmp_path: Path) -> None:
    corpus = pydoc_chunks(40)
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, embeddings=hash_embed(corpus))
    mem.close()
    script = (
        "import json, sys\n"
        "from memvid_base import Memory\n"
        "m = Memory(sys.argv[1])\n"
        "texts = [c.text for c in m.iter_chunks()]\n"
        "print(json.dumps({'texts': texts, 'pyav': 'av' in sys.modules}))\n"
    )
    runs = {}
    for flag in ("1", "0"):
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "kb.mp4")], capture_output=True, text=True,
                             cwd=REPO, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(REPO), "MEMVID_DAV1D": flag})
        assert out.returncode == 0, out.stderr[-2000:]
        runs[flag] = json.loads(out.stdout)
    assert sorted(runs["1"]["texts"]) == sorted(corpus)
    assert runs["0"]["texts"] == runs["1"]["texts"]
    assert (runs["1"]["pyav"], runs["0"]["pyav"]) == (False, True)


def _packets(path: Path) -> tuple[list[bytes], bytes, int]:
    with open(path, "rb") as fh:
        table = read_sample_table(fh)
        assert table is not None
        packets = []
        for _, offset, size in table.spans:
            fh.seek(offset)
            packets.append(fh.read(size))
    return packets, table.config, table.width


def test_a_packet_holding_two_frames_is_refused(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    packets, config, size = _packets(path)
    decoder = dav1d.Dav1dDecoder(config, size, size)
    assert decoder.decode(packets[0], 0).shape == (size, size)
    with pytest.raises(FrameDecodeError):
        dav1d.Dav1dDecoder(config, size, size).decode(packets[1] + packets[2], 1)
    decoder.close()
    decoder.close()  # twice is harmless


def test_a_frame_larger_than_the_track_declares_is_refused(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    packets, config, size = _packets(path)
    with pytest.raises(FrameDecodeError):
        dav1d.Dav1dDecoder(config, size // 2, size // 2).decode(packets[0], 0)  # over the decoder's pixel limit
    with pytest.raises(FrameDecodeError, match="not the track's"):
        dav1d.Dav1dDecoder(config, size + 8, size).decode(packets[0], 0)  # within the pixel limit, but not its size


def test_garbage_is_a_frame_decode_error(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    _, config, size = _packets(path)
    for junk in (b"\x00", bytes(range(256)) * 8, b"\xff" * 3000):
        with pytest.raises(FrameDecodeError):
            dav1d.Dav1dDecoder(config, size, size).decode(junk, 0)


def _elst_media_time_patched(data: bytes, value: int) -> bytes:
    at = data.find(b"elst")
    assert at > 0
    out = bytearray(data)
    assert out[at + 4] == 0  # version 0: 32-bit duration and media time
    struct.pack_into(">i", out, at + 4 + 4 + 4 + 4, value)  # header, version/flags, count, duration
    return bytes(out)


def test_files_it_does_not_read_itself_go_to_ffmpeg(tmp_path: Path) -> None:
    path, settings = _write(tmp_path, "av1")
    shifted = _elst_media_time_patched(path.read_bytes(), 512)  # an edit list that hides the first frame
    assert read_sample_table(io.BytesIO(shifted)) is None

    gop = tmp_path / "gop.mp4"  # inter frames: a frame may need the ones before it
    with av.open(str(gop), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        assert isinstance(stream, av.VideoStream)
        stream.width = stream.height = settings.frame_size
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "3", "bf": "0", "crf": "18", "x264-params": "scenecut=0"}
        for k, p in enumerate(_payloads()):
            gray = render_frame(p, settings)
            chroma = np.full((settings.frame_size // 2, settings.frame_size), 128, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(np.concatenate([gray, chroma]), format="yuv420p")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with open(gop, "rb") as fh:
        assert read_sample_table(fh) is None
    reader = VideoReader(gop)
    try:
        assert read_frame(reader.read(4), "zxing") == _payloads()[4]  # read by seeking, through PyAV
    finally:
        reader.close()


def test_verification_reads_frames_the_way_searches_do(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    data = bytearray(path.read_bytes())
    entry = data.find(b"av01", data.find(b"stsd"))  # the sample entry (ftyp names the av01 brand too)
    assert entry > data.find(b"stsd") > 0
    struct.pack_into(">H", data, entry - 4 + 32, 200)  # the sample entry now says 200 px wide; the frames are not
    lying = tmp_path / "lying.mp4"
    lying.write_bytes(bytes(data))
    reader = VideoReader(lying)
    try:
        with pytest.raises(FrameDecodeError, match="not the track's"):
            reader.read(0)
        with pytest.raises(FrameDecodeError, match="not the track's"):  # verification fails too: it never passes
            next(iter(reader.iter_frames()))  # a memory whose searches fail
    finally:
        reader.close()
