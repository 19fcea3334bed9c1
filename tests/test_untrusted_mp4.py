"""MP4 files from a stranger: the sample tables ffmpeg indexes at open are bounded by the file first.

Every crafted file here is a real memvid segment with one field changed.  Opening it gives the
exact frames, or a FrameDecodeError; never a raw exception, never memory sized by a count the file
merely declares (memvid_base/mp4_tables.py).
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvid_base import Memory, MemvidError
from memvid_base.config import VideoSettings
from memvid_base.errors import CorruptMemoryError, FrameDecodeError
from memvid_base.files.manifest import Segment
from memvid_base.files.segments import SegmentCache, plan_segment, write_plan
from memvid_base.format.container import iter_top_level_boxes, read_box
from memvid_base.format.payload import Record
from memvid_base.format.segment_meta import SegmentMeta
from memvid_base.format.video import VideoReader

RECORDS = [Record.make(str(k), t, {}) for k, t in enumerate(pydoc_chunks(limit=60))]


SETTINGS = VideoSettings.create("av1")


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int, Segment]:
    """A real AV1 segment's bytes, its frame count and its manifest entry."""
    folder = tmp_path_factory.mktemp("seg")
    seg = write_plan(plan_segment(RECORDS, SETTINGS), SETTINGS, folder / "kb.mp4", version=1, relative_to=folder)
    return (folder / "kb.mp4").read_bytes(), seg.frames, seg


def box_at(data: bytes, kind: bytes, after: int = 0) -> int:
    """Offset of the first ``kind`` box at or after ``after`` (its size field)."""
    at = data.find(kind, after)
    assert at > 4, kind
    return at - 4


def patched(data: bytes, kind: bytes, at: int, value: int) -> bytes:
    """``data`` with the 32-bit field ``at`` bytes into the ``kind`` box's payload set to ``value``."""
    out = bytearray(data)
    struct.pack_into(">I", out, box_at(data, kind, data.find(b"moov")) + 8 + at, value)
    return bytes(out)


# ------------------------------------------------------------------------------ issue 22, items 1 and 2


def test_an_unknown_codec_or_a_cut_sample_description_is_a_clear_error(segment, tmp_path: Path) -> None:
    data, frames, _ = segment
    fourcc = data.find(b"av01", box_at(data, b"stsd"))
    unknown = tmp_path / "fourcc.mp4"
    unknown.write_bytes(data[:fourcc] + b"zzzz" + data[fourcc + 4 :])
    with pytest.raises(FrameDecodeError, match="no video stream memvid can decode"):
        VideoReader(unknown, frames).read(0)
    with pytest.raises(FrameDecodeError):
        list(VideoReader(unknown).iter_frames())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: box_at(data, b"stsd")])  # between hdlr and stsd
    with pytest.raises(FrameDecodeError, match="truncated"):
        VideoReader(cut, frames).read(0)


def test_a_memory_whose_video_has_an_unknown_codec_fails_search_get_and_verify_cleanly(tmp_path: Path) -> None:
    mem = Memory.build(tmp_path / "kb.mp4", None, pydoc_chunks(limit=20), embedding_model=hash_embed)
    mem.close()
    data = mem.video_path.read_bytes()
    fourcc = data.find(b"av01", box_at(data, b"stsd"))
    mem.video_path.write_bytes(data[:fourcc] + b"zzzz" + data[fourcc + 4 :])
    stranger = Memory(mem.video_path, embedding_model=hash_embed)
    with pytest.raises(FrameDecodeError):
        stranger.search("exceptions", top_k=3)
    with pytest.raises(FrameDecodeError):
        stranger.get()
    assert not stranger.verify().ok


BOMBS = {  # (box, field offset in its payload, value): one count each, far beyond the 9-40 KB file
    "stsz fixed-size count": [(b"stsz", 4, 1), (b"stsz", 8, 30_000_000)],
    "stsz table count": [(b"stsz", 8, 30_000_000)],
    "stsc samples per chunk": [(b"stsc", 12, 30_000_000)],
    "stts run": [(b"stts", 8, 30_000_000)],
    "stco entries": [(b"stco", 4, 1 << 28)],
    "stsc entries": [(b"stsc", 4, 1 << 28)],
    "stts entries": [(b"stts", 4, 1 << 28)],
}


@pytest.mark.parametrize("name", BOMBS)
def test_counts_beyond_what_the_file_holds_are_refused_before_ffmpeg(segment, tmp_path: Path, name: str) -> None:
    data, frames, _ = segment
    for kind, at, value in BOMBS[name]:
        data = patched(data, kind, at, value)
    path = tmp_path / "bomb.mp4"
    path.write_bytes(data)
    for declared in (frames, None):  # with the segment's frame count, and from the file's size alone
        with pytest.raises(FrameDecodeError, match=r"declares|runs cover|chunks hold"):
            VideoReader(path, declared).read(0)


def test_more_samples_than_the_segment_has_frames_is_refused(segment, tmp_path: Path) -> None:
    data, frames, _ = segment
    path = tmp_path / "more.mp4"
    path.write_bytes(data)
    with pytest.raises(FrameDecodeError, match=f"more than the {frames - 1} frames"):
        VideoReader(path, frames - 1).read(0)


def test_a_30_million_sample_table_costs_no_memory(segment, tmp_path: Path) -> None:
    """Measured before the check: +1.05 GB peak RSS for this 9 KB-class file (ffmpeg's index at open)."""
    data, _, _ = segment
    for kind, at, value in BOMBS["stsz fixed-size count"] + [(b"stsc", 12, 30_000_000)]:
        data = patched(data, kind, at, value)
    path = tmp_path / "bomb.mp4"
    path.write_bytes(data)
    script = textwrap.dedent(
        f"""
        import resource
        from memvid_base.errors import FrameDecodeError
        from memvid_base.format.video import VideoReader
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            VideoReader({str(path)!r}).read(0)
            raise SystemExit("opened a bomb")
        except FrameDecodeError as exc:
            print("refused", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    word, delta_kb = out.stdout.split()
    assert word == "refused" and int(delta_kb) < 50 * 1024, f"peak RSS grew by {delta_kb} KiB"


@pytest.mark.parametrize("kind", [b"moof", b"mvex"])
def test_fragmented_files_are_refused(segment, tmp_path: Path, kind: bytes) -> None:
    data, frames, _ = segment
    free = box_at(data, b"udta", data.find(b"moov"))
    path = tmp_path / "frag.mp4"
    if kind == b"moof":
        path.write_bytes(data[:box_at(data, b"free")] + struct.pack(">I4s", 8, b"moof") + data[box_at(data, b"free") + 8 :])
    else:
        path.write_bytes(data[: free + 4] + b"mvex" + data[free + 8 :])
    with pytest.raises(FrameDecodeError, match="fragmented"):
        VideoReader(path, frames).read(0)


# ------------------------------------------------------------------------------ properties


BY_ID = {r.id: r for r in RECORDS}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_moov_fields_give_the_exact_records_or_a_memvid_error(segment, tmp_path: Path, data: st.DataObject) -> None:
    raw, _, seg = segment
    moov = raw.find(b"moov") - 4
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(moov, len(raw) - 4))
        value = data.draw(st.sampled_from([0, 1, 2, 0xFF, 1 << 16, 1 << 24, 30_000_000, 0x7FFFFFFF, 0xFFFFFFFF]))
        struct.pack_into(">I", buf, at, value)
    (tmp_path / "kb.mp4").write_bytes(bytes(buf))
    cache = SegmentCache(tmp_path, SETTINGS)
    try:
        if data.draw(st.booleans()):
            records = [r for first in seg.group_starts[1 if seg.dict_frames else 0 :] for r in cache.group(seg, first)]
        else:
            records = [r for _, group in cache.iter_groups(seg) for r in group]
    except MemvidError:
        return
    finally:
        cache.close()
    for rec in records:  # a record that comes back is the record that was written
        rec.verify()
        assert BY_ID[rec.id] == rec


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, SegmentMeta]:
    """A real memory's MP4 with its memvid box, and the box's decoded self-description."""
    folder = tmp_path_factory.mktemp("described")
    mem = Memory.build(folder / "kb.mp4", None, pydoc_chunks(limit=20), embedding_model=hash_embed)
    mem.close()
    data = mem.video_path.read_bytes()
    payload = read_box(io.BytesIO(data))
    assert payload is not None
    return data, SegmentMeta.decode(payload)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_box_headers_and_payloads_give_the_same_description_or_a_corrupt_memory_error(
    described: tuple[bytes, SegmentMeta], data: st.DataObject
) -> None:
    raw, meta = described
    boxes = list(iter_top_level_boxes(io.BytesIO(raw)))
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        _, offset, size = data.draw(st.sampled_from(boxes))
        at = data.draw(st.integers(offset, offset + min(size, 64) - 1))  # a header, or the payload's own header
        if data.draw(st.booleans()):
            struct.pack_into(">I", buf, min(at, len(buf) - 4), data.draw(st.sampled_from([0, 1, 7, 8, 0xFFFFFFFF, len(raw)])))
        else:
            buf[at] ^= 1 << data.draw(st.integers(0, 7))
    if data.draw(st.booleans()):
        del buf[data.draw(st.integers(0, len(buf))) :]  # and maybe cut short
    try:
        payload = read_box(io.BytesIO(bytes(buf)))
        got = None if payload is None else SegmentMeta.decode(payload)
    except CorruptMemoryError:
        return
    assert got is None or got == meta  # no box at all (its header was hit), or exactly the one written
