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
from pathlib import Path

import av
import numpy as np
import pytest
from core_fixtures import encode_gray_frames, hash_embed, pydoc_chunks

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
    with open(path, "rb") as fh:  # the reader asks for AV1 only: another codec is turned away before any table
        assert (read_sample_table(fh, codec=b"av01") is None) == (codec != "av1")


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


def _packets(path: Path) -> tuple[list[bytes], int]:
    with open(path, "rb") as fh:
        table = read_sample_table(fh)
        assert table is not None
        packets = []
        for _, offset, size in table.spans:
            fh.seek(offset)
            packets.append(fh.read(size))
    return packets, table.width


def test_a_packet_holding_two_frames_is_refused(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    packets, size = _packets(path)
    decoder = dav1d.Dav1dDecoder(size, size)
    assert decoder.decode(packets[0], 0).shape == (size, size)
    with pytest.raises(FrameDecodeError):
        dav1d.Dav1dDecoder(size, size).decode(packets[1] + packets[2], 1)
    decoder.close()
    decoder.close()  # twice is harmless
    with pytest.raises(FrameDecodeError, match="closed"):
        decoder.decode(packets[0], 0)


def test_a_frame_larger_than_the_track_declares_is_refused(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    packets, size = _packets(path)
    with pytest.raises(FrameDecodeError):
        dav1d.Dav1dDecoder(size // 2, size // 2).decode(packets[0], 0)  # over the decoder's pixel limit
    with pytest.raises(FrameDecodeError, match="not the track's"):
        dav1d.Dav1dDecoder(size + 8, size).decode(packets[0], 0)  # within the pixel limit, but not its size


def test_garbage_is_a_frame_decode_error(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    _, size = _packets(path)
    for junk in (b"\x00", bytes(range(256)) * 8, b"\xff" * 3000):
        with pytest.raises(FrameDecodeError):
            dav1d.Dav1dDecoder(size, size).decode(junk, 0)


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
    encode_gray_frames(gop, "libx264", {"g": "3", "bf": "0", "crf": "18", "x264-params": "scenecut=0"},
                       [render_frame(p, settings) for p in _payloads()])
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


# ----------------------------------------------------------------- crafted files: never other frames than PyAV's

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta"}
Box = list  # [type, bytes payload | list of child boxes]


def _parse(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """A memvid MP4 as a box tree (containers as lists of children), enough to rewrite its moov."""
    out: list[Box] = []
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        body = data[start + 8 : start + size]
        out.append([kind, _parse(data, start + 8, start + size) if kind in _CONTAINERS else body])
        start += size
    return out


def _serialize(boxes: list[Box]) -> bytes:
    parts = []
    for kind, body in boxes:
        payload = _serialize(body) if isinstance(body, list) else body
        parts.append(struct.pack(">I4s", 8 + len(payload), kind) + payload)
    return b"".join(parts)


def _box(boxes: list[Box], *path: bytes) -> Box:
    for kind in path:
        node = next(b for b in boxes if b[0] == kind)
        boxes = node[1]
    return node


def _rewritten(path: Path, edit: object) -> Path:
    """A copy of the segment with its moov changed by ``edit(tree)`` (mdat comes first, so no offset moves)."""
    tree = _parse(path.read_bytes())
    assert [b[0] for b in tree].index(b"mdat") < [b[0] for b in tree].index(b"moov")
    edit(tree)  # type: ignore[operator]
    out = path.with_name("crafted.mp4")
    out.write_bytes(_serialize(tree))
    return out


def _frames_both_ways(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    reader = VideoReader(path)
    try:
        native = list(reader.iter_frames())
    finally:
        reader.close()
    return native, _pyav_gray(path)


def test_a_decoy_table_outside_the_track_is_ignored_as_ffmpeg_ignores_it(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")
    huge = [b"stsz", struct.pack(">IIII", 0, 1, 0xFFFFFFFF, 0)]  # 4 billion one-byte samples: 32 GiB as an array

    crafted = _rewritten(path, lambda tree: _box(tree, b"moov")[1].append([b"udta", [[b"stbl", [huge]]]]))
    with open(crafted, "rb") as fh:
        table = read_sample_table(fh)
    assert table is not None and table.spans == _ffmpeg_spans(path)
    native, reference = _frames_both_ways(crafted)
    assert len(native) == N_FRAMES and all(np.array_equal(a, b) for a, b in zip(native, reference, strict=True))

    # Inside the track, the size check that runs before either reader refuses the file outright.
    inside = _rewritten(path, lambda tree: _box(tree, b"moov", b"trak")[1].append([b"udta", [[b"stbl", [huge]]]]))
    with pytest.raises(FrameDecodeError, match="more than the file"):
        VideoReader(inside).read(0)


def test_a_table_given_twice_in_the_track_goes_to_ffmpeg(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")

    def twice(tree: list[Box]) -> None:
        stbl = _box(tree, b"moov", b"trak", b"mdia", b"minf", b"stbl")[1]
        stbl.append(list(next(b for b in stbl if b[0] == b"stco")))

    with open(_rewritten(path, twice), "rb") as fh:
        assert read_sample_table(fh) is None


def test_an_empty_last_chunk_is_read_like_ffmpeg_reads_it(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")

    def empty_chunk(tree: list[Box]) -> None:
        stbl = _box(tree, b"moov", b"trak", b"mdia", b"minf", b"stbl")[1]
        stco = next(b for b in stbl if b[0] == b"stco")
        (first,) = struct.unpack_from(">I", stco[1], 8)
        stco[1] = struct.pack(">IIII", 0, 2, first, first)
        stsc = next(b for b in stbl if b[0] == b"stsc")
        stsc[1] = struct.pack(">II", 0, 2) + struct.pack(">III", 1, N_FRAMES, 1) + struct.pack(">III", 2, 0, 1)

    crafted = _rewritten(path, empty_chunk)
    with open(crafted, "rb") as fh:
        table = read_sample_table(fh)
    assert table is not None and table.spans == _ffmpeg_spans(crafted)
    native, reference = _frames_both_ways(crafted)
    assert len(native) == len(reference) == N_FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(native, reference, strict=True))


def test_an_edit_list_that_cuts_the_end_goes_to_ffmpeg(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")

    def cut(tree: list[Box]) -> None:
        elst = _box(tree, b"moov", b"trak", b"edts", b"elst")
        assert elst[1][0] == 0  # version 0
        elst[1] = elst[1][:8] + struct.pack(">I", 1) + elst[1][12:]  # shows 1 ms of the media

    crafted = _rewritten(path, cut)
    with open(crafted, "rb") as fh:
        assert read_sample_table(fh) is None
    native, reference = _frames_both_ways(crafted)
    assert len(native) == len(reference) < N_FRAMES  # both read what ffmpeg shows


def test_the_av1c_copy_of_the_sequence_header_is_not_decoded(tmp_path: Path) -> None:
    path, _ = _write(tmp_path, "av1")

    def scramble_av1c(tree: list[Box]) -> None:
        stsd = _box(tree, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
        body = bytearray(stsd[1])
        at = body.find(b"av1C") + 4 + 4  # the av1C payload, after its 4-byte header
        body[at:] = b"\xff" * (len(body) - at)  # not a sequence header any more; ffmpeg only parses it
        stsd[1] = bytes(body)

    native, reference = _frames_both_ways(_rewritten(path, scramble_av1c))
    assert len(native) == N_FRAMES and all(np.array_equal(a, b) for a, b in zip(native, reference, strict=True))


def test_limited_range_luma_is_stretched_as_pyav_converts_it() -> None:
    luma = np.kron(np.arange(256, dtype=np.uint8).reshape(16, 16), np.ones((2, 2), dtype=np.uint8))
    frame = av.VideoFrame.from_ndarray(np.concatenate([luma, np.full((16, 32), 128, np.uint8)]), format="yuv420p")
    assert np.array_equal(dav1d._STUDIO_TO_FULL[luma], frame.to_ndarray(format="gray"))
    frame.color_range = 2  # full range (JPEG): unchanged
    assert np.array_equal(luma, frame.to_ndarray(format="gray"))


@pytest.mark.parametrize("params", ["scm=1", "scm=1:color-range=1"])
def test_blurred_and_full_range_frames_give_pyavs_pixels(tmp_path: Path, params: str) -> None:
    settings = VideoSettings.create("av1")
    path = tmp_path / "blur.mp4"
    encode_gray_frames(path, "libsvtav1", {"g": "1", "crf": "63", "preset": "8", "svtav1-params": params},
                       [render_frame(p, settings) for p in _payloads()])
    with open(path, "rb") as fh:
        assert read_sample_table(fh) is not None  # read natively: all-intra, one plain track
    native, reference = _frames_both_ways(path)
    assert len(native) == N_FRAMES
    assert any(len(np.unique(f)) > 2 for f in reference)  # not only black and white: the conversion matters
    assert all(np.array_equal(a, b) for a, b in zip(native, reference, strict=True))
