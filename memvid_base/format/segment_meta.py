"""What a segment MP4 says about itself: settings, chunk table and vectors, as one binary payload.

The payload goes in the file's memvid box (see :mod:`memvid_base.format.container`).  It holds everything
needed to rebuild the manifest and the vector store without an embedding model, and nothing that
is not already public in the frames' structure: **no chunk text and no user metadata** (those live
only in the QR frames).

Layout (all integers big-endian)::

    offset  size  field
    0       8     magic b"MVSEGMT\\0"
    8       2     format version (1)
    10      2     flags (0; reserved)
    12      4     zlen: bytes of the zstd frame that follows
    16      4     jlen: bytes of the JSON document once decompressed
    20      8     vlen: bytes of the vector block
    28      16    blake2b-128 of bytes 0..27, the zstd frame and the vector block
    44      zlen  zstd(JSON document)
    44+zlen vlen  vector block (memvid_base.format.vector_codec), one row per non-deleted chunk, in table order

The JSON document is columnar, which compresses far better than one object per chunk::

    {"segment_uid": "16 hex", "version": 3, "created": 1.7e9, "op": "add",
     "settings": {VideoSettings fields}, "payload_format": 1,
     "embedding": {"model": "...", "dim": 384},
     "vectors": {"encoding": "int8", "count": N_live},
     "frames": 120, "dict_frames": 1, "group_starts": [...], "group_crcs": [...],
     "extra": {small JSON scalars},
     "chunks": {"ids": [...], "frame_delta": [...], "frames": [...], "checksum": [...],
                "text_bytes": [...], "deleted": [indices of tombstones]}}

``frame_delta`` stores each chunk's first frame minus the previous chunk's (the first minus 0).
Decoding validates every field into :class:`~memvid_base.errors.CorruptMemoryError`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from ..config import VideoSettings, resolve_codec
from ..errors import CorruptMemoryError, InvalidInputError, MemvidError
from . import zstd
from .digest import blake2b
from .vector_codec import (
    MAX_DIM,
    VECTOR_KINDS,
    bytes_per_vector,
    decode_int8_parts,
    decode_vectors,
    encode_vectors,
    int8_parts,
)

MAGIC = b"MVSEGMT\0"
FORMAT_VERSION = 1
_PREFIX = struct.Struct(">8sHHIIQ")
_DIGEST_SIZE = 16
HEADER_SIZE = _PREFIX.size + _DIGEST_SIZE  # 44

MAX_CHUNKS = 10_000_000
MAX_FRAMES = 100_000_000
MAX_ID_CHARS = 8192
MAX_STR_CHARS = 1024  # model names, op, extra values
MAX_EXTRA_KEYS = 64
MAX_JSON_BYTES = 1 << 30
_MAX_EXPANSION = 64  # the table compresses about 3-5x; a larger claimed ratio is a decompression bomb
_ZSTD_LEVEL = 19
_HEX = re.compile(r"[0-9a-f]+")
_MAX_INT = (1 << 53) - 1  # exact in JSON numbers everywhere


@dataclass(frozen=True)
class ChunkEntry:
    """One chunk's row in a segment's table: where its group lives and how to check it."""

    id: str
    frame: int  # first frame of the group that holds the chunk
    frames: int  # frames that group spans
    checksum: str  # the record checksum (hex), as in the frame
    text_bytes: int  # UTF-8 bytes of the chunk's text (0 for a tombstone)
    deleted: bool = False  # a tombstone: the chunk was deleted at this segment's version


class ChunkTable(Sequence[ChunkEntry]):
    """A decoded box's chunk table, kept as its columns: a :class:`ChunkEntry` is made only when one is asked for.

    The first query of a fresh process at 100,000 chunks reads a box; one object per chunk was most of its time.
    Equal to the tuple of the same entries, so a decoded ``SegmentMeta`` equals the one that was encoded.
    """

    __slots__ = ("checksum", "deleted", "frame", "frames", "ids", "text_bytes")

    def __init__(self, ids: list[str], frame: list[int], frames: list[int], checksum: list[str], text_bytes: list[int],
                 deleted: frozenset[int]) -> None:  # fmt: skip
        self.ids, self.frame, self.frames, self.checksum, self.text_bytes = ids, frame, frames, checksum, text_bytes
        self.deleted = deleted  # table positions of tombstones

    @classmethod
    def of(cls, chunks: Sequence[ChunkEntry]) -> ChunkTable:
        """``chunks`` as columns (a ChunkTable as it is)."""
        if isinstance(chunks, ChunkTable):
            return chunks
        return cls([c.id for c in chunks], [c.frame for c in chunks], [c.frames for c in chunks],
                   [c.checksum for c in chunks], [c.text_bytes for c in chunks],
                   frozenset(k for k, c in enumerate(chunks) if c.deleted))  # fmt: skip

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, k: int) -> ChunkEntry: ...
    @overload
    def __getitem__(self, k: slice) -> tuple[ChunkEntry, ...]: ...

    def __getitem__(self, k: int | slice) -> ChunkEntry | tuple[ChunkEntry, ...]:
        if isinstance(k, slice):
            return tuple(self[i] for i in range(*k.indices(len(self))))
        k = range(len(self))[k]  # IndexError beyond the table, as a tuple raises
        return ChunkEntry(self.ids[k], self.frame[k], self.frames[k], self.checksum[k], self.text_bytes[k],
                          k in self.deleted)  # fmt: skip

    def __iter__(self) -> Iterator[ChunkEntry]:
        deleted = self.deleted
        for k, row in enumerate(zip(self.ids, self.frame, self.frames, self.checksum, self.text_bytes)):
            yield ChunkEntry(*row, k in deleted)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, ChunkTable)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ChunkTable({len(self)} chunks, {len(self.deleted)} tombstones)"

    @property
    def live_count(self) -> int:
        return len(self.ids) - len(self.deleted)


@dataclass(frozen=True)
class SegmentMeta:
    """Everything a segment MP4 carries beside its frames, except text and user metadata."""

    segment_uid: str  # 16 hex chars, also in every frame header
    version: int  # the memory version that wrote this segment
    settings: VideoSettings
    embedding_model: str
    embedding_dim: int
    vector_encoding: str  # one of vector_codec.VECTOR_KINDS
    chunks: tuple[ChunkEntry, ...] | ChunkTable  # a ChunkTable when decoded from a box
    vectors: bytes  # encoded, one row per non-deleted chunk in table order
    frames: int  # frames in the segment, dictionary frames included
    dict_frames: int = 0
    group_starts: tuple[int, ...] = ()
    group_crcs: tuple[int, ...] = ()
    payload_format: int = 1  # memvid_base.format.payload's frame format
    created: float = 0.0  # unix time of the version
    op: str = "add"
    extra: Mapping[str, str | int | float | bool | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept lists from callers; store tuples so the dataclass stays immutable.
        for name in ("chunks", "group_starts", "group_crcs"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def build(cls, vectors: np.ndarray | None, encoding: str = "int8", **fields: Any) -> SegmentMeta:
        """Create a SegmentMeta, encoding float vectors (one row per non-deleted chunk) as ``encoding``."""
        dim = int(fields.pop("embedding_dim", 0) or (0 if vectors is None else np.asarray(vectors).shape[-1]))
        data = b"" if vectors is None or len(vectors) == 0 else encode_vectors(vectors, encoding)
        meta = cls(vector_encoding=encoding, vectors=data, embedding_dim=dim, **fields)
        meta.validate()
        return meta

    @property
    def live_count(self) -> int:
        """Chunks that are not tombstones: the number of vector rows."""
        if isinstance(self.chunks, ChunkTable):
            return self.chunks.live_count
        return sum(1 for c in self.chunks if not c.deleted)

    def decode_vectors(self) -> np.ndarray:
        """The vectors as a float32 ``(live_count, embedding_dim)`` array."""
        return decode_vectors(self.vectors, self.vector_encoding, self.live_count, self.embedding_dim)

    def int8_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The vectors as int8 codes and scales (views of the box when it holds int8), and the float32
        vectors themselves when it holds another encoding (the codes then only approximate them)."""
        if self.vector_encoding == "int8":
            return (*decode_int8_parts(self.vectors, self.live_count, self.embedding_dim), None)
        exact = self.decode_vectors()
        wide = exact.astype(np.float64)  # the codes of each row's direction: a tiny row must not round to zeros
        peaks = np.abs(wide).max(axis=1, keepdims=True) if len(wide) else np.zeros((0, 1))
        return (*int8_parts((wide / np.where(peaks > 0, peaks, 1.0)).astype(np.float32)), exact)

    def validate(self) -> None:
        """Check every field; raises CorruptMemoryError (also used to validate decoded input)."""
        self._validate(chunks=True)

    def _validate(self, chunks: bool) -> None:
        """:meth:`validate`; ``chunks=False`` skips the per-chunk checks that :func:`_chunk_columns_ok` made."""
        _check(_is_hex(self.segment_uid, 16, 16), f"segment uid {self.segment_uid!r} is not 16 hex chars")
        _check(_is_int(self.version, 0, _MAX_INT), f"version {self.version!r} is invalid")
        _check(isinstance(self.settings, VideoSettings), "settings must be VideoSettings")
        _check_settings(self.settings.to_dict())
        _check(_is_str(self.embedding_model, MAX_STR_CHARS), "embedding model name is invalid")
        _check(_is_int(self.embedding_dim, 0, MAX_DIM), f"embedding dimension {self.embedding_dim!r} is invalid")
        _check(self.vector_encoding in VECTOR_KINDS, f"vector encoding {self.vector_encoding!r} is unknown")
        _check(_is_int(self.frames, 0, MAX_FRAMES), f"frame count {self.frames!r} is invalid")
        _check(_is_int(self.dict_frames, 0, self.frames), f"dictionary frames {self.dict_frames!r} is invalid")
        _check(_is_int(self.payload_format, 1, 255), f"payload format {self.payload_format!r} is invalid")
        _check(isinstance(self.created, (int, float)) and not isinstance(self.created, bool) and math.isfinite(self.created),
               "created time is invalid")  # fmt: skip
        _check(_is_str(self.op, MAX_STR_CHARS), "op is invalid")
        _check_extra(self.extra)
        _check(len(self.group_starts) == len(self.group_crcs), "group starts and CRCs differ in length")
        _check(len(self.group_starts) <= self.frames, "more groups than frames")
        prev = -1
        for start, crc in zip(self.group_starts, self.group_crcs):
            _check(_is_int(start, prev + 1, self.frames - 1), f"group start {start!r} is out of order or range")
            _check(_is_int(crc, 0, 0xFFFFFFFF), f"group CRC {crc!r} is invalid")
            prev = start
        _check(isinstance(self.chunks, (tuple, ChunkTable)) and len(self.chunks) <= MAX_CHUNKS, "too many chunks")
        seen: set[str] = set()
        for c in self.chunks if chunks else ():
            _check(isinstance(c, ChunkEntry), "chunk table rows must be ChunkEntry")
            _check(_is_str(c.id, MAX_ID_CHARS), f"chunk id {str(c.id)[:40]!r} is invalid or too long")
            _check(c.id not in seen, f"chunk id {c.id[:40]!r} appears twice in one segment")
            seen.add(c.id)
            _check(_is_int(c.frames, 1, self.frames) and _is_int(c.frame, 0, self.frames - c.frames),
                   f"chunk {c.id[:40]!r} lies outside the segment's {self.frames} frames")  # fmt: skip
            _check(_is_hex(c.checksum, 1, 128), f"chunk {c.id[:40]!r} has an invalid checksum")
            _check(_is_int(c.text_bytes, 0, _MAX_INT), f"chunk {c.id[:40]!r} has an invalid text size")
            _check(isinstance(c.deleted, bool), "deleted flag must be a bool")
        live = self.live_count
        _check(isinstance(self.vectors, bytes), "vectors must be bytes")
        if live and self.embedding_dim == 0:
            raise CorruptMemoryError("Segment metadata has vectors but no embedding dimension.")
        want = live * bytes_per_vector(self.vector_encoding, self.embedding_dim) if live else 0
        _check(len(self.vectors) == want, f"vector block is {len(self.vectors)} bytes, {live} vectors need {want}")

    def encode(self) -> bytes:
        """The binary payload (see the module docstring for the layout)."""
        try:
            self.validate()
        except CorruptMemoryError as exc:
            raise InvalidInputError(str(exc).replace("Segment metadata is invalid", "Cannot store segment metadata")) from exc
        prev = 0
        deltas = []
        for c in self.chunks:
            deltas.append(c.frame - prev)
            prev = c.frame
        doc = {
            "segment_uid": self.segment_uid,
            "version": self.version,
            "created": self.created,
            "op": self.op,
            "settings": self.settings.to_dict(),
            "payload_format": self.payload_format,
            "embedding": {"model": self.embedding_model, "dim": self.embedding_dim},
            "vectors": {"encoding": self.vector_encoding, "count": self.live_count},
            "frames": self.frames,
            "dict_frames": self.dict_frames,
            "group_starts": list(self.group_starts),
            "group_crcs": list(self.group_crcs),
            "extra": dict(self.extra),
            "chunks": {
                "ids": [c.id for c in self.chunks],
                "frame_delta": deltas,
                "frames": [c.frames for c in self.chunks],
                "checksum": [c.checksum for c in self.chunks],
                "text_bytes": [c.text_bytes for c in self.chunks],
                "deleted": [k for k, c in enumerate(self.chunks) if c.deleted],
            },
        }
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8", "surrogatepass")
        if len(raw) > MAX_JSON_BYTES:
            raise InvalidInputError(f"Segment table is {len(raw)} bytes, over the {MAX_JSON_BYTES} limit; write smaller segments.")
        packed = zstd.compressor(_ZSTD_LEVEL)(raw)
        prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(packed), len(raw), len(self.vectors))
        digest = _digest(prefix, packed, self.vectors)
        return prefix + digest + packed + self.vectors

    @classmethod
    def decode(cls, data: bytes) -> SegmentMeta:
        """Parse and validate a payload written by :meth:`encode`.

        Raises:
            CorruptMemoryError: Any field is missing, malformed, out of range or inconsistent, the
                digest fails, or the table would decompress past its declared size.
        """
        data = bytes(data)
        if len(data) < HEADER_SIZE:
            raise CorruptMemoryError(f"Segment metadata is {len(data)} bytes, shorter than its {HEADER_SIZE}-byte header.")
        magic, fmt, flags, zlen, jlen, vlen = _PREFIX.unpack_from(data)
        if magic != MAGIC:
            raise CorruptMemoryError("The memvid box does not start with segment metadata (bad magic).")
        if fmt != FORMAT_VERSION:
            raise CorruptMemoryError(
                f"Segment metadata format {fmt} is not supported (this memvid reads {FORMAT_VERSION}); upgrade memvid."
            )
        if flags != 0:
            raise CorruptMemoryError(f"Segment metadata has unknown flags {flags:#x}.")
        if HEADER_SIZE + zlen + vlen != len(data):
            raise CorruptMemoryError(
                f"Segment metadata declares {HEADER_SIZE + zlen + vlen} bytes but holds {len(data)}; it is truncated or damaged."
            )
        if jlen > min(MAX_JSON_BYTES, max(1 << 20, _MAX_EXPANSION * zlen)):
            raise CorruptMemoryError(f"Segment table claims {jlen} bytes from {zlen} compressed; refusing to inflate it.")
        packed = data[HEADER_SIZE : HEADER_SIZE + zlen]
        vectors = data[HEADER_SIZE + zlen :]
        if _digest(data[: _PREFIX.size], packed, vectors) != data[_PREFIX.size : HEADER_SIZE]:
            raise CorruptMemoryError("Segment metadata failed its checksum; the file is damaged.")
        raw = _inflate(packed, jlen)
        try:
            doc = json.loads(raw.decode("utf-8", "surrogatepass"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CorruptMemoryError(f"Segment table is not valid JSON: {exc}") from exc
        try:
            meta = _from_doc(doc, vectors)
        except CorruptMemoryError:
            raise
        except MemvidError as exc:  # e.g. UnsupportedCodecError from the settings
            raise CorruptMemoryError(f"Segment metadata is invalid: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptMemoryError(f"Segment metadata is invalid: {type(exc).__name__}: {exc}") from exc
        # The chunk table checked column by column (the first query of a large memory reads it); where a column fails,
        # the per-chunk checks run and name the chunk.
        meta._validate(chunks=not _chunk_columns_ok(meta))
        return meta


def _digest(prefix: bytes, packed: bytes, vectors: bytes) -> bytes:
    h = blake2b(digest_size=_DIGEST_SIZE)
    for part in (prefix, packed, vectors):
        h.update(part)
    return h.digest()


def _inflate(packed: bytes, size: int) -> bytes:
    """Decompress one zstd frame to exactly ``size`` bytes, never producing more than ``size + 1``."""
    try:
        return zstd.decompress_frame(packed, size)
    except zstd.ZstdError as exc:
        raise CorruptMemoryError(f"Segment table failed to decompress: {exc}.") from exc


def _from_doc(doc: Any, vectors: bytes) -> SegmentMeta:
    _check(isinstance(doc, dict), "the table is not a JSON object")
    known = {"segment_uid", "version", "created", "op", "settings", "payload_format", "embedding", "vectors",
             "frames", "dict_frames", "group_starts", "group_crcs", "extra", "chunks"}  # fmt: skip
    _check(set(doc) == known, f"unexpected or missing keys {sorted(set(doc) ^ known)}")
    settings = doc["settings"]
    _check_settings(settings)
    emb, vec, table = doc["embedding"], doc["vectors"], doc["chunks"]
    _check(isinstance(emb, dict) and set(emb) == {"model", "dim"}, "embedding must be {model, dim}")
    _check(isinstance(vec, dict) and set(vec) == {"encoding", "count"}, "vectors must be {encoding, count}")
    cols = ("ids", "frame_delta", "frames", "checksum", "text_bytes", "deleted")
    _check(isinstance(table, dict) and set(table) == set(cols), "chunk table columns are wrong")
    _check(all(isinstance(table[c], list) for c in cols), "chunk table columns must be lists")
    n = len(table["ids"])
    _check(n <= MAX_CHUNKS, f"{n} chunks is over the {MAX_CHUNKS} limit")
    _check(all(len(table[c]) == n for c in cols[:-1]), "chunk table columns differ in length")
    deleted: set[int] = set()
    for k in table["deleted"]:
        _check(_is_int(k, 0, n - 1) and k not in deleted, f"tombstone index {k!r} is invalid")
        deleted.add(k)
    deltas = table["frame_delta"]
    if not (all(type(d) is int for d in deltas) and (not n or (-MAX_FRAMES <= min(deltas) and max(deltas) <= MAX_FRAMES))):
        for delta in deltas:  # name the first bad one
            _check(_is_int(delta, -MAX_FRAMES, MAX_FRAMES), f"frame delta {delta!r} is invalid")
    chunks = ChunkTable(table["ids"], list(itertools.accumulate(deltas)), table["frames"], table["checksum"],
                        table["text_bytes"], frozenset(deleted))  # fmt: skip
    meta = SegmentMeta(
        segment_uid=doc["segment_uid"],
        version=doc["version"],
        settings=VideoSettings.from_dict(settings),
        embedding_model=emb["model"],
        embedding_dim=emb["dim"],
        vector_encoding=vec["encoding"],
        chunks=chunks,
        vectors=vectors,
        frames=doc["frames"],
        dict_frames=doc["dict_frames"],
        group_starts=tuple(_int_list(doc["group_starts"])),
        group_crcs=tuple(_int_list(doc["group_crcs"])),
        payload_format=doc["payload_format"],
        created=doc["created"],
        op=doc["op"],
        extra=doc["extra"],
    )
    _check(vec["count"] == meta.live_count, f"vector count {vec['count']!r} differs from {meta.live_count} live chunks")
    return meta


def _chunk_columns_ok(meta: SegmentMeta) -> bool:
    """Whether every chunk passes :meth:`SegmentMeta.validate`'s per-chunk checks, tested a column at a time."""
    chunks, total = meta.chunks, meta.frames
    if not _is_int(total, 0, MAX_FRAMES):
        return False
    if not isinstance(chunks, ChunkTable):
        if not (isinstance(chunks, tuple) and all(type(c) is ChunkEntry and type(c.deleted) is bool for c in chunks)):
            return False
        chunks = ChunkTable.of(chunks)
    return _table_columns_ok(chunks, total)


def _table_columns_ok(table: ChunkTable, total: int) -> bool:
    """:func:`_chunk_columns_ok` on a table's columns, without making an entry per chunk."""
    if not table.ids:
        return True
    ids, sums, frame, frames, sizes = table.ids, table.checksum, table.frame, table.frames, table.text_bytes
    if not (all(type(i) is str for i in ids) and max(map(len, ids)) <= MAX_ID_CHARS and len(set(ids)) == len(ids)):
        return False
    if not (all(type(x) is str for x in sums) and 1 <= min(map(len, sums)) and max(map(len, sums)) <= 128
            and _HEX.fullmatch("".join(sums)) is not None):  # fmt: skip
        return False
    if not all(type(x) is int for column in (frame, frames, sizes) for x in column):
        return False
    if not (1 <= min(frames) and max(frames) <= total and min(frame) >= 0 and 0 <= min(sizes) and max(sizes) <= _MAX_INT):
        return False
    return all(f + span <= total for f, span in zip(frame, frames))


def _check_settings(s: Any) -> None:
    _check(isinstance(s, dict), "settings must be an object")
    want = set(VideoSettings.__dataclass_fields__)
    _check(set(s) == want, f"settings keys differ from {sorted(want)}")
    _check(isinstance(s["codec"], str) and len(s["codec"]) <= 32, "codec is invalid")
    resolve_codec(s["codec"])  # UnsupportedCodecError for a codec this memvid cannot read
    _check(_is_int(s["fps"], 1, 240), f"fps {s['fps']!r} is invalid")
    _check(_is_int(s["frame_size"], 16, 8192) and s["frame_size"] % 2 == 0, f"frame size {s['frame_size']!r} is invalid")
    _check(_is_int(s["crf"], 0, 63), f"crf {s['crf']!r} is invalid")
    _check(_is_int(s["module_px"], 1, 64), f"module size {s['module_px']!r} is invalid")
    _check(_is_int(s["qr_version"], 1, 40), f"QR version {s['qr_version']!r} is invalid")
    _check(s["qr_backend"] in ("zxing", "qrcode"), f"QR backend {s['qr_backend']!r} is unknown")


def _check_extra(extra: Any) -> None:
    _check(isinstance(extra, Mapping) and len(extra) <= MAX_EXTRA_KEYS, "extra must be a small object")
    for key, value in extra.items():
        _check(_is_str(key, 64), f"extra key {str(key)[:40]!r} is invalid")
        ok = value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value))
        ok = ok or _is_str(value, MAX_STR_CHARS)
        _check(ok and not (isinstance(value, int) and abs(value) > _MAX_INT), f"extra value for {key!r} is invalid")


def _int_list(values: Any) -> list[int]:
    _check(isinstance(values, list) and len(values) <= MAX_FRAMES, "expected a list of integers")
    return values


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise CorruptMemoryError(f"Segment metadata is invalid: {what}.")


def _is_int(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_str(value: Any, max_chars: int) -> bool:
    return isinstance(value, str) and len(value) <= max_chars


def _is_hex(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, str) and lo <= len(value) <= hi and _HEX.fullmatch(value) is not None


_APPENDED_NAME = re.compile(r"(\d{8})-([0-9a-f]{16})\.mp4")


def check_versions(named: list[tuple[str, SegmentMeta]], base: str) -> None:
    """Refuse segment files whose versions cannot be put in one order: a memory rebuilt from them would apply
    deletes and updates in the wrong order.

    Each version is unique, the base file (``base``, the oldest segment kept) has the lowest, and an
    appended file named ``<version>-<uid>.mp4`` says the same version and uid as its box.

    Raises:
        CorruptMemoryError: naming the file and what to do.
    """
    fix = "Remove that file (its changes are lost) or restore the memory from a backup."
    seen: dict[int, str] = {}
    base_version = next((m.version for name, m in named if name == base), None)
    for name, meta in named:
        if meta.version in seen:
            raise CorruptMemoryError(f"{name} and {seen[meta.version]} both say they are version {meta.version}. {fix}")
        seen[meta.version] = name
        match = _APPENDED_NAME.fullmatch(name.replace("\\", "/").rpartition("/")[2])
        if match and (int(match.group(1)), match.group(2)) != (meta.version, meta.segment_uid):
            raise CorruptMemoryError(
                f"{name} is named as version {int(match.group(1))} but its box says version {meta.version} "
                f"(segment {meta.segment_uid}). {fix}"
            )
        if name != base and base_version is not None and meta.version <= base_version:
            raise CorruptMemoryError(
                f"{name} says it is version {meta.version}, not after {base}'s version {base_version}, which an appended "
                f"segment always is. {fix}"
            )
