"""The memvid box in an MP4: the video stays valid and identical, and hostile box structures are refused."""

from __future__ import annotations

import io
import os
import struct
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from memvid_base.config import VideoSettings
from memvid_base.errors import CorruptMemoryError, InvalidInputError
from memvid_base.format.container import MEMVID_BOX_UUID, append_box, iter_top_level_boxes, read_box
from memvid_base.format.video import VideoReader, write_video

PAYLOAD = b"memvid segment metadata \x00\xff" * 100


def _frames(n: int = 6, size: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    out = []
    for k in range(n):
        img = np.full((size, size), 30 * k, np.uint8)
        img[::8, :] = rng.integers(0, 256, size, dtype=np.uint8)  # some structure, different per frame
        out.append(img)
    return out


def _decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("container") / "seg.mp4"
    assert write_video(path, _frames(), VideoSettings.create("h264", frame_size=128)) == 6
    return path


@pytest.fixture()
def copy(mp4: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.mp4"
    dst.write_bytes(mp4.read_bytes())
    return dst


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _memvid_box(payload: bytes) -> bytes:
    return _box(b"uuid", MEMVID_BOX_UUID + payload)


class CountingReader:
    """A file-like with only seek/read/tell (like an HTTP range reader) that counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)
        self.bytes_read = 0
        self.reads = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.bytes_read += len(data)
        self.reads += 1
        return data


def test_append_keeps_the_video_valid_and_identical(copy: Path) -> None:
    before_bytes = copy.read_bytes()
    before = _decode_all(copy)
    assert read_box(copy) is None
    append_box(copy, PAYLOAD)

    after_bytes = copy.read_bytes()
    assert after_bytes[: len(before_bytes)] == before_bytes  # nothing of the video moved
    assert len(after_bytes) == len(before_bytes) + 24 + len(PAYLOAD)
    after = _decode_all(copy)
    assert len(after) == len(before) == 6
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    with av.open(str(copy)) as container:
        assert container.streams.video[0].frames == 6
    assert read_box(copy) == PAYLOAD
    reader = VideoReader(copy)  # memvid's own seeking reader lands on every frame as before
    try:
        assert sum(1 for _ in reader.iter_frames()) == 6
        assert all(np.array_equal(reader.read(k), before[k]) for k in (5, 0, 3))
    finally:
        reader.close()
    types = [t for t, _, _ in iter_top_level_boxes(io.BytesIO(after_bytes))]
    assert types[0] == b"ftyp" and b"moov" in types and types[-1] == b"uuid"


def test_ffmpeg_binary_decodes_without_errors(copy: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    append_box(copy, PAYLOAD)
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(copy), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == ""


def test_second_append_refused(copy: Path) -> None:
    append_box(copy, PAYLOAD)
    size = copy.stat().st_size
    with pytest.raises(InvalidInputError, match="already has a memvid box"):
        append_box(copy, b"other")
    assert copy.stat().st_size == size
    assert read_box(copy) == PAYLOAD


def test_read_box_accepts_path_str_and_file(copy: Path) -> None:
    append_box(str(copy), b"")
    assert read_box(str(copy)) == b""
    with open(copy, "rb") as fh:
        assert read_box(fh) == b""


def test_append_refuses_non_mp4(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(_box(b"ftyp", b"isom\0\0\0\0") + _box(b"mdat", b"\0" * 64))  # no moov: unfinished
    with pytest.raises(InvalidInputError, match="not a finished MP4"):
        append_box(path, PAYLOAD)
    path.write_bytes(b"hello, this is not a video at all\n")
    with pytest.raises(CorruptMemoryError):
        append_box(path, PAYLOAD)


def test_append_refuses_after_a_size_zero_box(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(_box(b"ftyp", b"isom\0\0\0\0") + _box(b"moov", b"") + struct.pack(">I4s", 0, b"mdat") + b"\0" * 40)
    with pytest.raises(InvalidInputError, match="size 0"):
        append_box(path, PAYLOAD)


def test_truncated_files_raise(copy: Path) -> None:
    append_box(copy, PAYLOAD)
    data = copy.read_bytes()
    boxes = list(iter_top_level_boxes(io.BytesIO(data)))
    mdat = next((off, size) for t, off, size in boxes if t == b"mdat")
    cuts = [len(data) - 1, len(data) - len(PAYLOAD) // 2, mdat[0] + mdat[1] // 2, mdat[0] + 4, 3]
    for cut in cuts:
        with pytest.raises(CorruptMemoryError, match="truncated"):
            read_box(io.BytesIO(data[:cut]))


def test_box_past_eof_and_impossible_sizes(copy: Path) -> None:
    data = copy.read_bytes()
    for bad in (
        struct.pack(">I4s", 10**6, b"uuid") + MEMVID_BOX_UUID,  # declared beyond EOF
        struct.pack(">I4sQ", 1, b"uuid", 2**63) + MEMVID_BOX_UUID,  # huge 64-bit largesize
        struct.pack(">I4sQ", 1, b"uuid", 4),  # largesize smaller than its own header
        struct.pack(">I4s", 5, b"free"),  # size below the 8-byte header
        struct.pack(">I4s", 8, b"uuid"),  # a uuid box without its extended type
    ):
        with pytest.raises(CorruptMemoryError):
            read_box(io.BytesIO(data + bad))


def test_size_zero_box_runs_to_eof(copy: Path) -> None:
    data = copy.read_bytes()
    tail = struct.pack(">I4s", 0, b"free") + b"\0" * 100
    boxes = list(iter_top_level_boxes(io.BytesIO(data + tail)))
    assert boxes[-1] == (b"free", len(data), len(tail))  # not a loop, not an error
    assert read_box(io.BytesIO(data + tail)) is None
    memvid_to_eof = struct.pack(">I4s", 0, b"uuid") + MEMVID_BOX_UUID + PAYLOAD
    assert read_box(io.BytesIO(data + memvid_to_eof)) == PAYLOAD


def test_max_bytes_and_duplicate_boxes(copy: Path) -> None:
    append_box(copy, PAYLOAD)
    with pytest.raises(CorruptMemoryError, match="refusing"):
        read_box(copy, max_bytes=len(PAYLOAD) - 1)
    assert read_box(copy, max_bytes=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(CorruptMemoryError, match="two memvid boxes"):
        read_box(io.BytesIO(copy.read_bytes() + _memvid_box(b"second")))


def test_foreign_uuid_boxes_are_ignored(copy: Path) -> None:
    data = copy.read_bytes() + _box(b"uuid", bytes(16) + b"someone else's box")
    assert read_box(io.BytesIO(data)) is None
    assert read_box(io.BytesIO(data + _memvid_box(PAYLOAD))) == PAYLOAD


def test_many_tiny_boxes_are_refused_quickly() -> None:
    data = _box(b"ftyp", b"isom") + _box(b"free", b"") * 200_000
    with pytest.raises(CorruptMemoryError, match="top-level boxes"):
        read_box(io.BytesIO(data))


def test_read_box_reads_headers_only_on_a_large_mdat() -> None:
    mdat_body = os.urandom(1024) * 8 * 1024  # 8 MiB of "video"
    for mdat in (_box(b"mdat", mdat_body), struct.pack(">I4sQ", 1, b"mdat", 16 + len(mdat_body)) + mdat_body):
        data = _box(b"ftyp", b"isom\0\0\0\0") + _box(b"free", b"") + mdat + _box(b"moov", b"\0" * 200) + _memvid_box(PAYLOAD)
        reader = CountingReader(data)
        assert read_box(reader) == PAYLOAD  # type: ignore[arg-type]
        assert reader.bytes_read < 2 * len(PAYLOAD) + 200
        assert reader.bytes_read < len(data) / 1000


def test_append_box_on_synthetic_largesize_file(tmp_path: Path) -> None:
    path = tmp_path / "big.mp4"
    body = b"\1" * 4096
    path.write_bytes(_box(b"ftyp", b"isom") + struct.pack(">I4sQ", 1, b"mdat", 16 + len(body)) + body + _box(b"moov", b""))
    append_box(path, PAYLOAD)
    assert read_box(path) == PAYLOAD
    assert [t for t, _, _ in iter_top_level_boxes(io.BytesIO(path.read_bytes()))] == [b"ftyp", b"mdat", b"moov", b"uuid"]
