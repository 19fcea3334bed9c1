"""The QR payload codec: chunk records -> compressed groups -> per-frame byte strings, and back.

A *record* is one chunk: ``[id, text, metadata, checksum]`` as UTF-8 JSON.  Records are packed
into *groups*; each group is one zstd-compressed blob that fills one frame (or, for a chunk larger
than a frame, several consecutive frames).  Every frame starts with a header naming its segment,
frame number and part, and a CRC32 of its bytes, so a frame read from the wrong place or damaged
in any way is rejected instead of returning wrong text.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import FrameDecodeError, InvalidInputError
from . import zstd
from .digest import blake2b

_MAGIC = b"MV"
_FORMAT = 1
_HEADER = struct.Struct(">2sB8sIHHI")  # magic, format, segment uid, frame, part, parts, crc32
HEADER_SIZE = _HEADER.size

KIND_RECORDS = 0
KIND_DICT = 1
_RAW, _ZSTD, _ZSTD_DICT = 0, 1, 2
_LEVEL = 19
_PROBE_LEVEL = 9
_PROBE_SLACK = 1.03
_DICT_MIN_BYTES = 64 * 1024
_DICT_MAX_BYTES = 40 * 1024
_DICT_SAMPLES = 4000  # below this a trained dictionary costs more than it saves

# Bounds on what a group may inflate to.  The writer never makes a group beyond them, so the reader can
# refuse anything larger as damaged or hostile before allocating it (a zstd frame can declare any size).
MAX_GROUP_BYTES = 64 * 1024 * 1024  # decompressed records of one group, absolute
MAX_DICT_BYTES = 1024 * 1024  # a segment's dictionary (train_dictionary makes at most 64 KiB)
MAX_RATIO = 64  # decompressed / compressed bytes of one group ...
RATIO_FLOOR = 256 * 1024  # ... except that any group may inflate to this much
MAX_METADATA_DEPTH = 100  # nesting of a chunk's metadata (objects and lists); deeper is refused on write and read
_DICTS_KEEP = 8  # loaded dictionaries kept, one per recent segment (each holds zstd's digested form)
_DICTS: OrderedDict[bytes, zstd.ZstdDict] = OrderedDict()
_DICTS_LOCK = threading.Lock()


def record_checksum(chunk_id: str, text: str | None, metadata: dict[str, Any]) -> str:
    """Stable checksum of one chunk; stored in the frame and in the vector store."""
    body = json.dumps([chunk_id, text, metadata], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Record:
    """One chunk as stored in the video."""

    id: str
    text: str | None  # None marks a tombstone: the chunk was deleted at this segment's version
    metadata: dict[str, Any]
    checksum: str

    @property
    def deleted(self) -> bool:
        return self.text is None

    @classmethod
    def make(cls, chunk_id: str, text: str | None, metadata: dict[str, Any]) -> Record:
        return cls(chunk_id, text, metadata, record_checksum(chunk_id, text, metadata))

    def verify(self) -> None:
        if record_checksum(self.id, self.text, self.metadata) != self.checksum:
            raise FrameDecodeError(f"Chunk {self.id!r} failed its checksum: the video is damaged. Run verify().")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def max_group_output(compressed: int) -> int:
    """The most bytes a records group of ``compressed`` bytes may decompress to (the writer keeps to it)."""
    return min(MAX_GROUP_BYTES, max(RATIO_FLOOR, MAX_RATIO * compressed))


def _depth_exceeds(obj: Any, limit: int) -> bool:
    """Whether ``obj`` nests lists/dicts more than ``limit`` deep (iterative, so it cannot overflow the stack)."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def encode_record(rec: Record) -> bytes:
    """One record as compact UTF-8 JSON; refuses metadata JSON cannot hold or that nests too deeply."""
    if _depth_exceeds(rec.metadata, MAX_METADATA_DEPTH):
        raise InvalidInputError(
            f"Chunk {rec.id!r} has metadata nested more than {MAX_METADATA_DEPTH} levels deep. Flatten it."
        )
    try:
        return _dumps([rec.id, rec.text, rec.metadata, rec.checksum])
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"Chunk {rec.id!r} has metadata that cannot be stored as JSON: {exc}") from exc


@dataclass(frozen=True)
class Group:
    """One compressed blob: the unit written to (and read back from) consecutive frames."""

    blob: bytes
    record_ids: tuple[str, ...]
    kind: int = KIND_RECORDS


class Packer:
    """Packs encoded records into groups that each fill ``capacity`` bytes after compression.

    Candidate group sizes are tried with a fast zstd level; only the chosen group is compressed at
    the final (slow, smaller) level, which costs about one slow compression per frame.
    """

    def __init__(self, capacity: int, dictionary: bytes | None = None) -> None:
        self.capacity = capacity
        self.dictionary = dictionary
        zdict = zstd.load_dictionary(dictionary) if dictionary else None
        # The content size in every frame header lets the reader refuse a bomb before allocating.
        self._final = zstd.compressor(_LEVEL, zdict)
        self._probe = zstd.compressor(_PROBE_LEVEL, zdict)
        self._codec = _ZSTD_DICT if dictionary else _ZSTD
        self._ratio = 0.45  # running estimate of probe-compressed/raw size
        self._max_raw = max_group_output(capacity)  # a one-frame group may not inflate beyond this

    def _blob(self, items: Sequence[bytes], final: bool = True) -> bytes:
        raw = b"[" + b",".join(items) + b"]"
        if len(raw) > MAX_GROUP_BYTES:  # only a lone record gets here: pack() keeps groups under _max_raw
            raise InvalidInputError(
                f"A chunk of {len(raw)} bytes is larger than the {MAX_GROUP_BYTES} bytes a frame group may hold. "
                "Split it into smaller chunks."
            )
        blob = bytes((KIND_RECORDS, self._codec)) + (self._final if final else self._probe)(raw)
        if final and len(raw) > max_group_output(len(blob) - 2):
            # Only a lone record compresses this well (pack() keeps multi-record groups under _max_raw):
            # store it uncompressed so that the reader's bound holds.
            blob = bytes((KIND_RECORDS, _RAW)) + raw
        return blob

    def pack(self, records: Sequence[tuple[str, bytes]]) -> list[Group]:
        """Greedy packing: as many whole records per group as fit, each record in exactly one group."""
        groups: list[Group] = []
        i, n = 0, len(records)
        sizes = [len(r[1]) + 1 for r in records]
        while i < n:
            probe_cache: dict[int, int] = {}

            def probe(end: int, start: int = i, cache: dict[int, int] = probe_cache) -> int:
                if end not in cache:
                    cache[end] = len(self._blob([r[1] for r in records[start:end]], final=False))
                return cache[end]

            def guess(target: float, start: int = i) -> int:
                target = min(target, self._max_raw - 2)  # brackets; keeps every group within the reader's bound
                end, size = start, 0
                while end < n and (end == start or size + sizes[end] <= target):
                    size += sizes[end]
                    end += 1
                return end

            # The final level compresses ~3% better than the probe level, so aim the probe a bit above capacity.
            limit = self.capacity * _PROBE_SLACK
            end = guess(limit / max(self._ratio, 0.05))
            got = probe(end)
            raw = sum(sizes[i:end])
            end = guess(limit * raw / max(got, 1))  # one secant step from the measured ratio
            if probe(end) <= limit:
                while end < n and sum(sizes[i : end + 1]) + 1 <= self._max_raw and probe(end + 1) <= limit:
                    # end + 1 is known to fit, so always advance (guess() alone can return end and loop forever)
                    end = max(end + 1, guess(limit * sum(sizes[i:end]) / probe(end))) if probe(end) < 0.95 * limit else end + 1
            else:
                while end > i + 1 and probe(end) > limit:
                    end -= max(1, (end - i) // 16)
            self._ratio = 0.7 * self._ratio + 0.3 * probe(end) / max(sum(sizes[i:end]), 1)
            blob = self._blob([r[1] for r in records[i:end]])
            while len(blob) > self.capacity and end > i + 1:  # rare: the final level did not fit after all
                end -= 1
                blob = self._blob([r[1] for r in records[i:end]])
            groups.append(Group(blob, tuple(r[0] for r in records[i:end])))  # a lone oversized record spans frames
            i = end
        return groups


def train_dictionary(samples: Sequence[bytes]) -> bytes | None:
    """Train a zstd dictionary for a segment, or return None when the segment is too small to gain."""
    total = sum(len(s) for s in samples)
    if total < _DICT_MIN_BYTES or len(samples) < 32:
        return None
    # At most 40 KiB (was 64): a segment's first read decodes the dictionary's frames too, 6 instead of 9-10 at 3,800
    # and 20,000 chunks, for 0.5-0.6 % more bytes (benchmarks/bench_dictionary.py).  At 32 KiB pydoc's topics no longer
    # fit in half their size (tests/test_core_memory.py).
    size = int(min(_DICT_MAX_BYTES, max(8 * 1024, total // 12)))
    step = max(1, len(samples) // _DICT_SAMPLES)  # training time grows with the sample; 4k records suffice
    try:
        return zstd.train(samples[::step], size)
    except zstd.ZstdError:
        return None  # too few distinct samples; plain zstd still works


def dictionary_group(dictionary: bytes) -> Group:
    return Group(bytes((KIND_DICT, _ZSTD)) + zstd.compressor(_LEVEL)(dictionary), (), KIND_DICT)


def split_frames(blob: bytes, capacity: int) -> list[bytes]:
    return [blob[k : k + capacity] for k in range(0, len(blob), capacity)] or [b""]


def frame_bytes(segment_uid: bytes, frame: int, part: int, parts: int, body: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, _FORMAT, segment_uid, frame, part, parts, zlib.crc32(body)) + body


def parse_frame(data: bytes, segment_uid: bytes, frame: int) -> tuple[int, int, bytes]:
    """Check a decoded frame's header and CRC; return ``(part, parts)`` with ``0 <= part < parts``, and the body."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < HEADER_SIZE:
        size = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise FrameDecodeError(f"Frame {frame} holds {size} bytes, too few for a memvid frame.")
    magic, fmt, uid, idx, part, parts, crc = _HEADER.unpack_from(data)
    body = bytes(data[HEADER_SIZE:])
    if magic != _MAGIC or fmt != _FORMAT:
        raise FrameDecodeError(f"Frame {frame} is not a memvid frame (format {fmt}).")
    if uid != segment_uid or idx != frame:
        raise FrameDecodeError(
            f"Frame {frame} belongs to segment {uid.hex()} frame {idx}, expected {segment_uid.hex()} frame {frame}: "
            "the video file was replaced or the seek landed on the wrong frame. Reopen the memory."
        )
    if zlib.crc32(body) != crc:
        raise FrameDecodeError(f"Frame {frame} failed its CRC32 check: the video is damaged.")
    if not 0 <= part < parts:
        raise FrameDecodeError(f"Frame {frame} claims to be part {part} of {parts}: the video is damaged.")
    return part, parts, body


def frame_intact(data: bytes, segment_uid: bytes, frame: int, part: int, parts: int) -> bool:
    """Whether ``data`` is that frame, part ``part`` of a ``parts``-frame group, by :func:`parse_frame`'s checks.

    The CRC32 covers the body only, so the header's part and count are compared with what the index expects:
    a misread module there must send the frame to zxing-cpp (which corrects it), not fail the read.
    """
    try:
        return parse_frame(data, segment_uid, frame)[:2] == (part, parts)
    except FrameDecodeError:
        return False


def _dictionary(dictionary: bytes) -> zstd.ZstdDict:
    """A segment's dictionary loaded for zstd, kept between groups: digesting 64 KiB costs ~0.7 ms a time."""
    with _DICTS_LOCK:
        zdict = _DICTS.get(dictionary)
        if zdict is not None:
            _DICTS.move_to_end(dictionary)
            return zdict
    try:
        zdict = zstd.load_dictionary(dictionary)
    except ValueError as exc:
        raise FrameDecodeError(f"The segment dictionary is unusable ({exc}): the video is damaged.") from exc
    with _DICTS_LOCK:
        _DICTS[dictionary] = zdict
        while len(_DICTS) > _DICTS_KEEP:
            _DICTS.popitem(last=False)
    return zdict


def _decompress(body: bytes, dictionary: bytes | None, limit: int) -> bytes:
    """zstd-decompress ``body`` into at most ``limit`` bytes, checking the declared size before allocating."""
    try:
        declared = zstd.declared_size(body)
    except zstd.ZstdError as exc:
        raise FrameDecodeError(f"Group payload is not a zstd frame ({exc}): the video is damaged.") from exc
    if declared is None:
        raise FrameDecodeError("Group payload does not declare its size, which memvid always writes: the video is damaged.")
    if declared > limit:
        raise FrameDecodeError(
            f"Group payload declares {declared} bytes, more than the {limit} its format allows: the video is "
            "damaged or crafted. Refusing to decompress it."
        )
    zdict = _dictionary(dictionary) if dictionary is not None else None
    try:
        return zstd.decompress_frame(body, declared, zdict)
    except zstd.ZstdError as exc:
        raise FrameDecodeError(f"Group payload failed to decompress: {exc}") from exc


def _record(item: Any, k: int, verify: bool = True) -> Record:
    if (
        not isinstance(item, list)
        or len(item) != 4
        or not isinstance(item[0], str)
        or not (item[1] is None or isinstance(item[1], str))
        or not isinstance(item[2], dict)
        or not isinstance(item[3], str)
    ):
        raise FrameDecodeError(f"Record {k} of a group is not [id, text, metadata, checksum]: the video is damaged.")
    rec = Record(item[0], item[1], item[2], item[3])
    if verify:
        rec.verify()
    return rec


def decode_group(parts: Iterable[bytes], dictionary: bytes | None, verify: bool = True) -> tuple[int, Any]:
    """Join a group's frame bodies and decode them: ``(KIND_RECORDS, [Record...])`` or ``(KIND_DICT, bytes)``.

    Every record is checked against its own checksum, so a group either decodes to exactly what was
    written or raises :class:`FrameDecodeError`; decompression is bounded by :func:`max_group_output`.
    With ``verify=False`` the checksums are left to the caller, which must call ``Record.verify`` on
    every record it hands out (a search needs one or two records of a group, not all twenty).
    """
    kind, data = _group_bytes(parts, dictionary)
    if kind == KIND_DICT:
        return kind, data
    return kind, parse_records(_text(data), verify)


def _group_bytes(parts: Iterable[bytes], dictionary: bytes | None) -> tuple[int, bytes]:
    """A group's kind and its decompressed bytes (a dictionary, or the records' JSON)."""
    blob = b"".join(parts)
    if len(blob) < 2:
        raise FrameDecodeError("Empty group payload.")
    kind, codec, body = blob[0], blob[1], blob[2:]
    if kind == KIND_DICT:
        if codec != _ZSTD:
            raise FrameDecodeError(f"A dictionary group uses compression {codec}; memvid writes only zstd there.")
        return kind, _decompress(body, None, MAX_DICT_BYTES)
    if kind != KIND_RECORDS:
        raise FrameDecodeError(f"Unknown group kind {kind}: the video is damaged.")
    if codec == _ZSTD_DICT:
        if dictionary is None:
            raise FrameDecodeError("Group needs the segment dictionary, which could not be read.")
        return kind, _decompress(body, dictionary, max_group_output(len(body)))
    if codec == _ZSTD:
        return kind, _decompress(body, None, max_group_output(len(body)))
    if codec == _RAW:
        return kind, body
    raise FrameDecodeError(f"Unknown payload compression {codec}.")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise FrameDecodeError(f"Group payload is not valid JSON: {exc}") from exc


def records_text(parts: Iterable[bytes], dictionary: bytes | None) -> str:
    """A records group's JSON text, decompressed but not parsed: :func:`parse_records` parses all of it,
    :func:`find_record` only the record a search needs."""
    kind, data = _group_bytes(parts, dictionary)
    if kind != KIND_RECORDS:
        raise FrameDecodeError("A group that should hold chunks holds a dictionary: the video is damaged.")
    return _text(data)


def parse_records(text: str, verify: bool = True) -> list[Record]:
    """Every record of a group's JSON text, each checked for shape (and its checksum, with ``verify``)."""
    try:
        items = json.loads(text)
    except RecursionError as exc:
        raise FrameDecodeError("Group payload is nested too deeply: the video is damaged or crafted.") from exc
    except ValueError as exc:  # JSONDecodeError
        raise FrameDecodeError(f"Group payload is not valid JSON: {exc}") from exc
    if not isinstance(items, list):
        raise FrameDecodeError("Group payload is not a list of records: the video is damaged.")
    # Nesting cannot exceed the count of opening brackets (those inside strings only add to it): the walk,
    # a tenth of a millisecond per group, runs only when there are enough of them.
    limit = MAX_METADATA_DEPTH + 2  # the group list and the record list, then metadata
    if text.count("[") + text.count("{") > limit and _depth_exceeds(items, limit):
        raise FrameDecodeError(f"A record's metadata nests more than {MAX_METADATA_DEPTH} levels: the video is damaged.")
    return [_record(item, k, verify) for k, item in enumerate(items)]


_DECODER = json.JSONDecoder()
_FIND_TRIES = 8  # places tried before parsing the whole group instead (bounds the work a crafted group can cause)


def find_record(text: str, chunk_id: str, checksum: str) -> Record | None:
    """The record of ``chunk_id`` whose content hashes to ``checksum``, parsed alone from a group's JSON text.

    A search needs one record of a group's twenty: parsing only that one took a group's decoding from 0.105 to
    0.051 ms (benchmarks/bench_frame_read.py). A record starts with ``["<id>",``, which cannot lie inside a JSON
    string (its quotes would be escaped) but can start a list inside another record's metadata; such a place, or
    anything that is not a record whose content hashes to ``checksum`` (the index's, so a list elsewhere in the
    group that passes is the same content), is skipped. None when no place within a few tries gives it: the
    caller parses the whole group then, which raises on anything damaged.
    """
    needle = "[" + json.dumps(chunk_id, ensure_ascii=False) + ","
    at = 0
    for _ in range(_FIND_TRIES):
        at = text.find(needle, at)
        if at < 0:
            return None
        try:
            item, _ = _DECODER.raw_decode(text, at)
            rec: Record | None = _record(item, 0)  # its shape, and that its content hashes to its checksum
        except (ValueError, RecursionError, FrameDecodeError):
            rec = None
        if rec is not None and (rec.id, rec.checksum) == (chunk_id, checksum) and not _depth_exceeds(
                rec.metadata, MAX_METADATA_DEPTH):
            return rec
        at += 1
    return None


def decode_records(parts: Iterable[bytes], dictionary: bytes | None, verify: bool = True) -> list[Record]:
    """Decode a group that must hold chunk records (``verify`` as in :func:`decode_group`)."""
    return parse_records(records_text(parts, dictionary), verify)


def decode_dictionary(parts: Iterable[bytes]) -> bytes:
    """Decode a group that must hold a segment's zstd dictionary."""
    kind, data = decode_group(parts, None)
    if kind != KIND_DICT:
        raise FrameDecodeError("A segment's first group should hold its dictionary but holds chunks: the video is damaged.")
    return data  # type: ignore[no-any-return]
