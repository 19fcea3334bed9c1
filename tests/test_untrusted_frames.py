"""Frames and groups from a stranger: exactly the records written, or a MemvidError; never a bomb, never wrong text."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvid_base.config import VideoSettings
from memvid_base.errors import FrameDecodeError, InvalidInputError, MemvidError
from memvid_base.files.manifest import Segment
from memvid_base.files.segments import Placement, SegmentCache, SegmentPlan, plan_segment
from memvid_base.format import zstd
from memvid_base.format.payload import (
    KIND_RECORDS,
    MAX_GROUP_BYTES,
    MAX_METADATA_DEPTH,
    Record,
    decode_group,
    decode_records,
    encode_record,
    find_record,
    frame_bytes,
    max_group_output,
    parse_frame,
    records_text,
)

SETTINGS = VideoSettings.create()


def _records() -> list[Record]:
    from core_fixtures import pydoc_chunks

    texts = pydoc_chunks(160)  # enough text (>64 KiB) for a trained dictionary
    recs = [Record.make(str(k), t, {"k": k, "tags": ["a", "ü"], "nested": {"x": [1.5, None]}}) for k, t in enumerate(texts)]
    recs.append(Record.make("big", "lorem ipsum " * 900, {}))  # spans several frames
    recs.append(Record.make("gone", None, {}))  # a tombstone
    return recs


RECORDS = _records()
PLAN: SegmentPlan = plan_segment(RECORDS, SETTINGS)
UID = PLAN.uid
PAYLOADS = PLAN.payloads
SEG = Segment(UID.hex(), "kb.mp4", len(PAYLOADS), PLAN.dict_frames, 1, 0, 0, len(RECORDS), PLAN.group_crcs, PLAN.group_starts)
BY_ID = {r.id: r for r in RECORDS}


class _FakeReader:
    """Stands in for VideoReader: frame k decodes to ``payloads[k]`` (the QR step is tested elsewhere)."""

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.path = Path("kb.mp4")

    def read(self, frame: int) -> bytes:
        if not 0 <= frame < len(self.payloads):
            raise FrameDecodeError(f"no frame {frame}")
        return self.payloads[frame]

    def iter_frames(self) -> Any:
        return iter(self.payloads)


def _cache(payloads: list[bytes], monkeypatch: pytest.MonkeyPatch) -> SegmentCache:
    import memvid_base.files.segments as segments

    monkeypatch.setattr(segments, "read_frame", lambda data, backend, accept=None: data)
    cache = SegmentCache(Path("."), SETTINGS)
    monkeypatch.setattr(cache, "reader", lambda seg: _FakeReader(payloads))
    return cache


def _group_blob(first: int) -> list[bytes]:
    k = PLAN.group_starts.index(first)
    end = PLAN.group_starts[k + 1] if k + 1 < len(PLAN.group_starts) else len(PAYLOADS)
    return [parse_frame(PAYLOADS[f], UID, f)[2] for f in range(first, end)]


def test_plan_has_a_dictionary_and_a_multi_frame_group() -> None:
    assert PLAN.dict_frames >= 1
    spans = [b - a for a, b in zip(PLAN.group_starts, [*PLAN.group_starts[1:], len(PAYLOADS)])]
    assert max(spans) > 1


def test_intact_segment_reads_back_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(PAYLOADS, monkeypatch)
    seen: dict[str, Record] = {}
    for first, records in cache.iter_groups(SEG):
        assert records == cache.group(SEG, first)
        seen.update((r.id, r) for r in records)
    assert seen == BY_ID


def test_parts_header_cannot_make_the_reader_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    first = PLAN.group_starts[1] if PLAN.dict_frames else 0
    for part, parts in ((0, 0), (0, 65535), (1, 1), (5, 2)):
        bad = list(PAYLOADS)
        body = parse_frame(PAYLOADS[first], UID, first)[2]
        bad[first] = frame_bytes(UID, first, part, parts, body)
        cache = _cache(bad, monkeypatch)
        with pytest.raises(FrameDecodeError, match="part"):
            cache.group(SEG, first)
        with pytest.raises(FrameDecodeError, match="part"):
            list(cache.iter_groups(SEG))


def _dictionary_of(plan: SegmentPlan) -> bytes | None:
    if not plan.dict_frames:
        return None
    return decode_group([parse_frame(plan.payloads[f], plan.uid, f)[2] for f in range(plan.dict_frames)], None)[1]


def _texts(plan: SegmentPlan) -> dict[int, str]:
    """Each records group's JSON text, by its first frame."""
    out = {}
    ends = [*plan.group_starts[1:], len(plan.payloads)]
    for first, end in zip(plan.group_starts[1 if plan.dict_frames else 0 :], ends[1 if plan.dict_frames else 0 :]):
        bodies = [parse_frame(plan.payloads[f], plan.uid, f)[2] for f in range(first, end)]
        out[first] = records_text(bodies, _dictionary_of(plan))
    return out


def test_one_record_parsed_alone_is_the_one_the_whole_group_gives() -> None:
    found = {}
    for text in _texts(PLAN).values():
        for rec in decode_records([bytes((KIND_RECORDS, 0)) + text.encode("utf-8", "surrogatepass")], None):
            found[rec.id] = find_record(text, rec.id, rec.checksum)
            assert find_record(text, rec.id, "0" * 16) is None  # another checksum than the index's: not this one
    assert found == BY_ID  # a tombstone and a record spanning several frames included


def _planted(decoys: int, forged: Record | None = None) -> tuple[SegmentPlan, Record]:
    """A segment whose first record's metadata holds lists that start the way the second record does."""
    target = Record.make("B", "the real text", {"k": 1})
    lists: list[Any] = [["B", "not a record"]] * decoys
    if forged is not None:
        lists.append([forged.id, forged.text, forged.metadata, forged.checksum])
    decoy = Record.make("A", "text", {"lists": lists})
    return plan_segment([decoy, target], SETTINGS), target


def test_a_list_in_metadata_that_starts_like_a_record_is_not_taken_for_it() -> None:
    # A list can start with '["B",' inside another record's metadata (a string cannot: its quotes are escaped);
    # a forged one whose content hashes to itself, but not to the index's checksum, is skipped too.
    plan, target = _planted(3, forged=Record.make("B", "forged text", {}))
    (text,) = _texts(plan).values()
    assert text.index('["B",') < text.index(json.dumps(target.text))  # the decoys come first
    assert find_record(text, "B", target.checksum) == target


def test_past_a_few_false_starts_the_whole_group_is_parsed_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    plan, target = _planted(50)
    (text,) = _texts(plan).values()
    assert find_record(text, "B", target.checksum) is None  # gives up: a crafted group cannot make it parse much
    seg = Segment(plan.uid.hex(), "kb.mp4", len(plan.payloads), plan.dict_frames, 1, 0, 0, 2, plan.group_crcs,
                  plan.group_starts)
    cache = _cache(plan.payloads, monkeypatch)
    first = plan.group_starts[-1]
    assert cache.record(Placement(seg.uid, first, 1), seg, "B", target.checksum) == target
    with pytest.raises(FrameDecodeError, match="does not match the index checksum"):
        cache.record(Placement(seg.uid, first, 1), seg, "B", "0" * 16)


def test_a_damaged_record_found_alone_still_fails_its_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    # The record a search asks for is checked whether it was parsed alone or with its group.
    plan, target = _planted(0)
    (first,) = _texts(plan)
    cache = _cache(plan.payloads, monkeypatch)
    seg = Segment(plan.uid.hex(), "kb.mp4", len(plan.payloads), plan.dict_frames, 1, 0, 0, 2, plan.group_crcs,
                  plan.group_starts)
    cached = cache._cached(seg, first)
    cached.text = cached.text.replace("the real text", "the fake text")  # as if the group had decoded so
    with pytest.raises(FrameDecodeError, match="failed its checksum"):
        cache.record(Placement(seg.uid, first, 1), seg, "B", target.checksum)


def test_group_start_not_in_index_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(PAYLOADS, monkeypatch)
    with pytest.raises(FrameDecodeError, match="does not start a group"):
        cache.group(SEG, len(PAYLOADS) + 10)


def test_group_must_be_a_list_of_records() -> None:
    def raw(obj: Any) -> list[bytes]:
        return [bytes((KIND_RECORDS, 0)) + json.dumps(obj).encode()]

    good = RECORDS[0]
    bad: Any
    for bad in ({}, "x", 5, [["1", "t", {}]], [[1, "t", {}, "c"]], [["1", 5, {}, "c"]], [["1", "t", [], "c"]], [["1", "t", {}, None]], [None]):
        with pytest.raises(FrameDecodeError, match=r"not a list of records|is not \[id, text, metadata, checksum\]"):
            decode_group(raw(bad), None)
    with pytest.raises(FrameDecodeError, match="failed its checksum"):
        decode_group(raw([[good.id, f"{good.text}!", good.metadata, good.checksum]]), None)
    assert decode_records(raw([[good.id, good.text, good.metadata, good.checksum]]), None) == [good]
    with pytest.raises(FrameDecodeError, match="not valid JSON"):
        decode_group([bytes((KIND_RECORDS, 0)) + b"\xff\xfe"], None)


def test_deep_metadata_is_bad_input_on_write_and_damage_on_read() -> None:
    deep: Any = {}
    for _ in range(5_000):
        deep = {"a": deep}
    with pytest.raises(InvalidInputError, match=f"nested more than {MAX_METADATA_DEPTH} levels"):
        encode_record(Record("1", "t", deep, "0" * 16))
    body = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(FrameDecodeError, match="nested too deeply"):
        decode_group([bytes((KIND_RECORDS, 0)) + body], None)
    nested = [["1", "t", json.loads("{}"), "c"]]
    inner: Any = nested[0][2]
    for _ in range(MAX_METADATA_DEPTH + 1):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(FrameDecodeError, match="nests more than"):
        decode_group([bytes((KIND_RECORDS, 0)) + json.dumps(nested).encode()], None)


@pytest.mark.parametrize("depth", range(MAX_METADATA_DEPTH - 2, MAX_METADATA_DEPTH + 3))
@pytest.mark.parametrize("brackets_in_text", [0, 200])
def test_the_nesting_limit_holds_at_its_edge_with_or_without_brackets_in_the_text(depth: int, brackets_in_text: int) -> None:
    """Reading skips the nesting walk when a group holds too few brackets to nest deeply: the verdict is the same."""
    meta: Any = {}
    inner = meta
    for _ in range(depth - 1):
        inner["a"] = {}
        inner = inner["a"]
    text = "x[" * brackets_in_text
    rec = Record.make("1", text, meta)
    body = json.dumps([[rec.id, rec.text, rec.metadata, rec.checksum]]).encode()
    if depth > MAX_METADATA_DEPTH:
        with pytest.raises(FrameDecodeError, match="nests more than"):
            decode_group([bytes((KIND_RECORDS, 0)) + body], None)
    else:
        assert decode_records([bytes((KIND_RECORDS, 0)) + body], None) == [rec]


def _decode_plan(plan: SegmentPlan) -> list[Record]:
    """Decode a planned segment's groups straight from its frame payloads, checking the size bound of each."""
    out: list[Record] = []
    dictionary = None
    for k, first in enumerate(plan.group_starts):
        end = plan.group_starts[k + 1] if k + 1 < len(plan.group_starts) else len(plan.payloads)
        bodies = [parse_frame(plan.payloads[f], plan.uid, f)[2] for f in range(first, end)]
        assert sum(len(b) for b in bodies) <= SETTINGS.frame_capacity * (end - first)
        kind, payload = decode_group(bodies, dictionary)
        if kind == KIND_RECORDS:
            out.extend(payload)
        else:
            dictionary = payload
    return out


def test_writer_keeps_every_group_within_the_readers_bound() -> None:
    repetitive = [Record.make(str(k), "the same line again " * 40, {}) for k in range(1000)]
    plan = plan_segment(repetitive, SETTINGS)
    assert _decode_plan(plan) == repetitive
    assert len(plan.group_starts) > 1  # 800 KB that compresses to a few KB still needs several groups
    lone = Record.make("x", "x" * 2_000_000, {})  # compresses ~10000x: stored raw so the bound still holds
    assert _decode_plan(plan_segment([lone], SETTINGS)) == [lone]
    with pytest.raises(InvalidInputError, match="Split it into smaller chunks"):
        plan_segment([Record.make("y", "y" * (MAX_GROUP_BYTES + 1), {})], SETTINGS)


# ------------------------------------------------------------------------------------------------ bombs


def _crafted_frame(declared: int) -> bytes:
    """A zstd frame whose header declares ``declared`` bytes of content, followed by one small RLE block."""
    header = struct.pack("<IB", 0xFD2FB528, 0b1110_0000) + struct.pack("<Q", declared)  # 8-byte FCS, single segment
    block = (1 | (1 << 1) | (1024 << 3)).to_bytes(3, "little") + b"\x00"  # last block, RLE, 1024 bytes of 0
    return header + block


def _unsized(data: bytes) -> bytes:
    """A zstd frame without the content size in its header (memvid always writes it)."""
    options = {zstd.CompressionParameter.content_size_flag: 0}
    return zstd.ZstdCompressor(options=options).compress(data, zstd.ZstdCompressor.FLUSH_FRAME)


def test_declared_size_beyond_the_cap_is_refused_before_allocating() -> None:
    frame = _crafted_frame(2**40)
    assert zstd.declared_size(frame) == 2**40
    with pytest.raises(FrameDecodeError, match=r"declares 1099511627776 bytes, more than the \d+ its format allows"):
        decode_group([bytes((KIND_RECORDS, 1)) + frame], None)
    with pytest.raises(FrameDecodeError, match="declares"):
        decode_group([bytes((1, 1)) + frame], None)  # as a dictionary group
    assert max_group_output(len(frame)) == 256 * 1024


def test_a_frame_that_lies_about_its_size_or_omits_it_is_refused() -> None:
    with pytest.raises(FrameDecodeError, match="failed to decompress"):
        decode_group([bytes((KIND_RECORDS, 1)) + _crafted_frame(10)], None)  # declares less than it holds
    unsized = _unsized(b"[]" * 10)
    assert zstd.declared_size(unsized) is None
    with pytest.raises(FrameDecodeError, match="does not declare its size"):
        decode_group([bytes((KIND_RECORDS, 1)) + unsized], None)
    sized = zstd.compressor(3)(b"[]")
    with pytest.raises(FrameDecodeError, match="unused data"):
        decode_group([bytes((KIND_RECORDS, 1)) + sized + b"trailing"], None)


def test_bombs_raise_quickly_with_bounded_memory(tmp_path: Path) -> None:
    """Run in a child so its peak RSS is its own: a 200 MB bomb must not be inflated."""
    script = textwrap.dedent(
        """
        import resource, struct, zlib
        from memvid_base.errors import FrameDecodeError
        from memvid_base.format import zstd
        from memvid_base.format.payload import decode_group, frame_bytes, parse_frame
        bomb = zstd.compressor(3)(bytes(200_000_000))
        unsized = zstd.ZstdCompressor(options={zstd.CompressionParameter.content_size_flag: 0}).compress(
            bytes(200_000_000), zstd.ZstdCompressor.FLUSH_FRAME)
        crafted = struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", 2**40) + bytes((3, 32, 0, 0))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        uid = bytes(8)
        for kind, body in ((0, bomb), (1, bomb), (0, unsized), (0, crafted)):
            data = frame_bytes(uid, 0, 0, 1, bytes((kind, 1)) + body)  # a one-frame segment
            try:
                decode_group([parse_frame(data, uid, 0)[2]], None)
                raise SystemExit("decoded a bomb")
            except FrameDecodeError as exc:
                print(type(exc).__name__, str(exc)[:60])
        print("delta_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["FrameDecodeError"] * 4
    delta_kb = int(lines[-1].split()[1])
    assert delta_kb < 200 * 1024, f"decoding bombs raised peak RSS by {delta_kb} KiB"


# ------------------------------------------------------------------------------------------------ properties


def _mutate(data: st.DataObject, raw: bytes, max_ops: int = 4) -> bytes:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, max_ops))):
        op = data.draw(st.sampled_from(["flip", "bit", "delete", "insert", "truncate"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "bit" and buf:
            buf[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "delete" and buf:
            del buf[pos : pos + data.draw(st.integers(1, 8))]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del buf[pos:]
    return bytes(buf)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_frames_give_the_original_records_or_a_memvid_error(data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = list(PAYLOADS)
    for _ in range(data.draw(st.integers(1, 2))):
        k = data.draw(st.integers(0, len(bad) - 1))
        bad[k] = _mutate(data, bad[k])
        if data.draw(st.booleans()):  # also fix up the CRC so the mutation reaches the layers behind it
            if len(bad[k]) >= 23:
                bad[k] = bad[k][:19] + struct.pack(">I", zlib.crc32(bad[k][23:])) + bad[k][23:]
    cache = _cache(bad, monkeypatch)
    first = data.draw(st.sampled_from(PLAN.group_starts[1:] if PLAN.dict_frames else PLAN.group_starts))
    try:
        records = cache.group(SEG, first)
    except MemvidError:
        pass
    else:
        assert records == cache.group(SEG, first)
        for rec in records:
            assert BY_ID[rec.id] == rec
        assert [r.id for r in records] == [r.id for r in decode_records(_group_blob(first), _dictionary())]
    try:
        groups = list(cache.iter_groups(SEG))
    except MemvidError:
        return
    assert {r.id: r for _, rs in groups for r in rs} == BY_ID


def _dictionary() -> bytes | None:
    from memvid_base.format.payload import decode_dictionary

    return decode_dictionary(_group_blob(0)) if PLAN.dict_frames else None


DICT = _dictionary()


@settings(max_examples=800, deadline=None)
@given(data=st.data())
def test_mutated_group_blobs_give_the_original_records_or_a_memvid_error(data: st.DataObject) -> None:
    first = data.draw(st.sampled_from(PLAN.group_starts[1:] if PLAN.dict_frames else PLAN.group_starts))
    original = decode_records(_group_blob(first), DICT)
    blob = _mutate(data, b"".join(_group_blob(first)))
    use_dict = DICT if data.draw(st.integers(0, 9)) else _mutate(data, DICT or b"")
    try:
        records = decode_records([blob], use_dict)
    except MemvidError:
        return
    assert records == original
