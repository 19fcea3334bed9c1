"""The QR payload codec: chunk records -> compressed groups -> per-frame byte strings, and back.

A *record* is one chunk: ``[id, text, metadata, checksum]`` as UTF-8 JSON.  Records are packed
into *groups*; each group is one zstd-compressed blob that fills one frame (or, for a chunk larger
than a frame, several consecutive frames).  Every frame starts with a header naming its segment,
frame number and part, and a CRC32 of its bytes, so a frame read from the wrong place or damaged
in any way is rejected instead of returning wrong text.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import zstandard

from .errors import FrameDecodeError, InvalidInputError

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
_DICT_SAMPLES = 4000  # below this a trained dictionary costs more than it saves


def record_checksum(chunk_id: str, text: str | None, metadata: dict[str, Any]) -> str:
    """Stable checksum of one chunk; stored in the frame and in the vector store."""
    body = json.dumps([chunk_id, text, metadata], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


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


def _loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8", "surrogatepass"))


def encode_record(rec: Record) -> bytes:
    try:
        return _dumps([rec.id, rec.text, rec.metadata, rec.checksum])
    except (TypeError, ValueError) as exc:
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
        zdict = zstandard.ZstdCompressionDict(dictionary) if dictionary else None
        opts = {"dict_data": zdict, "write_checksum": False, "write_content_size": True, "write_dict_id": False}
        self._final = zstandard.ZstdCompressor(level=_LEVEL, **opts)
        self._probe = zstandard.ZstdCompressor(level=_PROBE_LEVEL, **opts)
        self._codec = _ZSTD_DICT if dictionary else _ZSTD
        self._ratio = 0.45  # running estimate of probe-compressed/raw size

    def _blob(self, items: Sequence[bytes], final: bool = True) -> bytes:
        raw = b"[" + b",".join(items) + b"]"
        return bytes((KIND_RECORDS, self._codec)) + (self._final if final else self._probe).compress(raw)

    def pack(self, records: Sequence[tuple[str, bytes]]) -> list[Group]:
        """Greedy packing: as many whole records per group as fit, each record in exactly one group."""
        groups: list[Group] = []
        i, n = 0, len(records)
        sizes = [len(r[1]) + 1 for r in records]
        while i < n:
            probe_cache: dict[int, int] = {}

            def probe(end: int, start: int = i) -> int:
                if end not in probe_cache:
                    probe_cache[end] = len(self._blob([r[1] for r in records[start:end]], final=False))
                return probe_cache[end]

            def guess(target: float, start: int = i) -> int:
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
                while end < n and probe(end + 1) <= limit:
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
    size = int(min(64 * 1024, max(8 * 1024, total // 12)))
    step = max(1, len(samples) // _DICT_SAMPLES)  # training time grows with the sample; 4k records suffice
    try:
        return zstandard.train_dictionary(size, list(samples[::step]), level=_LEVEL, k=1024, d=8).as_bytes()
    except zstandard.ZstdError:
        return None  # too few distinct samples; plain zstd still works


def dictionary_group(dictionary: bytes) -> Group:
    return Group(bytes((KIND_DICT, _ZSTD)) + zstandard.ZstdCompressor(level=_LEVEL).compress(dictionary), (), KIND_DICT)


def split_frames(blob: bytes, capacity: int) -> list[bytes]:
    return [blob[k : k + capacity] for k in range(0, len(blob), capacity)] or [b""]


def frame_bytes(segment_uid: bytes, frame: int, part: int, parts: int, body: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, _FORMAT, segment_uid, frame, part, parts, zlib.crc32(body)) + body


def parse_frame(data: bytes, segment_uid: bytes, frame: int) -> tuple[int, int, bytes]:
    """Check a decoded frame's header and CRC; return ``(part, parts, body)``."""
    if len(data) < HEADER_SIZE:
        raise FrameDecodeError(f"Frame {frame} holds {len(data)} bytes, too few for a memvid frame.")
    magic, fmt, uid, idx, part, parts, crc = _HEADER.unpack_from(data)
    body = data[HEADER_SIZE:]
    if magic != _MAGIC or fmt != _FORMAT:
        raise FrameDecodeError(f"Frame {frame} is not a memvid frame (format {fmt}).")
    if uid != segment_uid or idx != frame:
        raise FrameDecodeError(
            f"Frame {frame} belongs to segment {uid.hex()} frame {idx}, expected {segment_uid.hex()} frame {frame}: "
            "the video file was replaced or the seek landed on the wrong frame. Reopen the memory."
        )
    if zlib.crc32(body) != crc:
        raise FrameDecodeError(f"Frame {frame} failed its CRC32 check: the video is damaged.")
    return part, parts, body


def decode_group(parts: Iterable[bytes], dictionary: bytes | None) -> tuple[int, Any]:
    """Join a group's frame bodies and decompress: ``(KIND_RECORDS, [Record...])`` or ``(KIND_DICT, bytes)``."""
    blob = b"".join(parts)
    if len(blob) < 2:
        raise FrameDecodeError("Empty group payload.")
    kind, codec = blob[0], blob[1]
    try:
        if codec == _ZSTD_DICT:
            if dictionary is None:
                raise FrameDecodeError("Group needs the segment dictionary, which could not be read.")
            data = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(dictionary)).decompress(blob[2:])
        elif codec == _ZSTD:
            data = zstandard.ZstdDecompressor().decompress(blob[2:])
        elif codec == _RAW:
            data = blob[2:]
        else:
            raise FrameDecodeError(f"Unknown payload compression {codec}.")
    except zstandard.ZstdError as exc:
        raise FrameDecodeError(f"Group payload failed to decompress: {exc}") from exc
    if kind == KIND_DICT:
        return kind, data
    try:
        items = _loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameDecodeError(f"Group payload is not valid JSON: {exc}") from exc
    return kind, [Record(str(i), t, m, c) for i, t, m, c in items]
