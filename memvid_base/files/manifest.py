"""The manifest (``index.json`` in the cache folder, or ``kb_index.json``): format, settings, segments and versions. It never holds chunk text.

The manifest is the single commit point of a memory.  Writers prepare everything else first
(segment files, vector rows marked with the next version) and then atomically replace the
manifest; a reader opens whichever manifest is in place and sees exactly that version.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptMemoryError, MemoryLockedError, MemoryNotFoundError
from ..safe_files import read_bytes_nofollow, touch_nofollow, write_bytes_atomic
from .layout import safe_relative_path

FORMAT_NAME = "memvid-base"
FORMAT_VERSION = 1


@dataclass
class Segment:
    """One immutable MP4 file holding a run of frames."""

    uid: str  # 16 hex chars, also written into every frame header
    file: str  # path relative to the manifest's folder
    frames: int
    dict_frames: int  # leading frames that hold the segment's zstd dictionary (0 = none)
    version: int  # the version that added it
    bytes: int
    raw_text_bytes: int
    chunks: int
    group_crcs: list[int] = field(default_factory=list)  # CRC32 of each group blob, by its first frame
    group_starts: list[int] = field(default_factory=list)


@dataclass
class VersionEntry:
    version: int
    time: float
    op: str
    live_chunks: int
    note: str = ""


@dataclass
class Manifest:
    video: dict[str, Any]
    embedding: dict[str, Any]
    store: dict[str, Any]
    version: int = 0
    history_floor: int = 0  # oldest version still openable with as_of (older ones were compacted away)
    segments: list[Segment] = field(default_factory=list)
    versions: list[VersionEntry] = field(default_factory=list)
    live_chunks: int = 0
    live_text_bytes: int = 0
    dead_rows: int = 0  # vector rows no longer live at the head version (reclaimed by compact)
    created: float = field(default_factory=time.time)

    def to_json(self) -> str:
        data = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(data, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes, source: Path) -> Manifest:
        """Parse and strictly validate a manifest read from ``source`` (see :mod:`memvid_base.files.manifest`)."""
        return _parse(text, source)


def read_manifest(path: Path) -> Manifest:
    """Read and validate the manifest at ``path``; refuses files above :data:`MAX_MANIFEST_BYTES` before reading.

    The file is opened without following a symbolic link: a manifest is memvid's own plain file, and
    a link planted in its place (say, to another memory's index) is refused, never read.
    """
    if not os.path.lexists(path):
        raise MemoryNotFoundError(f"Index file {path} does not exist. Build the memory first (MemvidEncoder.build_video).")
    try:
        data = read_bytes_nofollow(path, MAX_MANIFEST_BYTES, "a memvid index")
    except FileNotFoundError as exc:
        raise MemoryNotFoundError(f"Index file {path} does not exist. Build the memory first (MemvidEncoder.build_video).") from exc
    except OSError as exc:
        raise CorruptMemoryError(f"{path} cannot be read ({exc.strerror or exc}). Check its permissions and the disk.") from exc
    return Manifest.from_json(data, path)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a mix (never through a link)."""
    write_bytes_atomic(path, data)


def write_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write(path, manifest.to_json().encode("utf-8"))


class WriterLock:
    """An exclusive, non-blocking lock held by the one process allowed to change a memory.

    Args:
        lock_path: The lock file (:attr:`memvid_base.files.layout.Layout.lock`); its folder, the memory's
            cache folder, is created when missing and refused when it is a symbolic link.
        timeout: Seconds to wait for another writer (0: fail at once).
    """

    def __init__(self, lock_path: Path, timeout: float = 0) -> None:
        from filelock import FileLock  # 25 ms to import: loaded by writers, never by a search

        self.path = lock_path
        self._lock = FileLock(str(self.path), timeout=timeout)

    def __enter__(self) -> WriterLock:
        folder = self.path.parent
        if folder.is_symlink():  # a planted link would put the lock (and every cache file beside it) elsewhere
            raise CorruptMemoryError(f"{folder} is a symbolic link; remove it (a memory's cache folder must be a real folder).")
        folder.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink():  # a planted link would make the lock open (and create) a file elsewhere
            raise CorruptMemoryError(f"{self.path} is a symbolic link; remove it (a memory's lock file must be a plain file).")
        touch_nofollow(self.path, "a memory's lock file")  # created here without following links; FileLock then opens it
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout as exc:
            raise MemoryLockedError(
                f"The memory is locked by another writer ({self.path}). Wait for it to finish; "
                "readers can keep searching meanwhile."
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# ---------------------------------------------------------------------------------------------- validation
#
# A manifest may come from a stranger, so every field is checked for type and range before any other code
# sees it, and every failure is a CorruptMemoryError that names the field.  Unknown keys at the top level, in
# segments and in versions are ignored (and dropped on the next write); unknown keys inside ``video``,
# ``embedding`` and ``store`` are kept when their values are plain scalars, so a later minor addition does not
# make a memory unreadable, and refused otherwise.  A change to the meaning of known fields must raise
# FORMAT_VERSION instead.  The maxima are far above anything memvid writes; they exist so that no later
# code allocates or loops without bound because of a number read from a file.

MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_VERSION = 2**40  # one commit per microsecond for 12 days; well inside Chroma's int64 metadata
MAX_SEGMENTS = 1_000_000
MAX_VERSION_ENTRIES = 10_000_000
MAX_SEGMENT_FRAMES = 10_000_000
MAX_COUNT = 2**48  # chunks, rows and ids
MAX_BYTES = 2**50  # byte sizes
MAX_TEXT_FIELD = 4096  # model names, notes, ops, store kinds
MAX_DIMENSION = 65_536
_UID = re.compile(r"[0-9a-f]{16}")
_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")  # Chroma's collection-name rule
_FIX = "Restore the index from a backup or rebuild the memory."


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Checker:
    """Field checks that all fail with one message shape: ``<file>: <field> must be <rule>, got <value>. <fix>``."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, field_name: str, rule: str, value: object) -> CorruptMemoryError:
        return CorruptMemoryError(f"{self.source}: {field_name} must be {rule}, got {_shown(value)}. {_FIX}")

    def get(self, obj: dict[str, Any], key: str, where: str) -> Any:
        if key not in obj:
            raise CorruptMemoryError(f"{self.source}: {where}{key} is missing. {_FIX}")
        return obj[key]

    def integer(self, value: object, field_name: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
        # bool is an int subclass, and "12" is a string: both are refused, so a typo never becomes a number.
        if type(value) is not int or not lo <= value <= hi:
            rule = "a non-negative integer" if lo == 0 else f"an integer of at least {lo}"
            raise self.fail(field_name, f"{rule} no larger than {hi}", value)
        return value

    def number(self, value: object, field_name: str) -> float:
        if (type(value) is int or type(value) is float) and math.isfinite(value) and 0 <= value <= 1e11:
            return float(value)
        raise self.fail(field_name, "a finite, non-negative timestamp in seconds", value)

    def text(self, value: object, field_name: str, nullable: bool = False) -> str:
        if nullable and value is None:
            return value  # type: ignore[return-value]
        if not isinstance(value, str) or len(value) > MAX_TEXT_FIELD:
            raise self.fail(field_name, f"a string of at most {MAX_TEXT_FIELD} characters", value)
        return value

    def mapping(self, value: object, field_name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field_name, "an object", value)
        return value

    def sequence(self, value: object, field_name: str, limit: int) -> list[Any]:
        if not isinstance(value, list) or len(value) > limit:
            shown = value if not isinstance(value, list) else f"a list of {len(value)} items"
            raise self.fail(field_name, f"a list of at most {limit} items", shown)
        return value


def _parse(raw: str | bytes, source: Path) -> Manifest:
    if isinstance(raw, bytes):
        if len(raw) > MAX_MANIFEST_BYTES:
            raise CorruptMemoryError(f"{source} is larger than {MAX_MANIFEST_BYTES} bytes; it is not a valid index. {_FIX}")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptMemoryError(
                f"{source} is not UTF-8 text (byte {exc.start} is invalid), so it is not a memvid index. {_FIX}"
            ) from exc
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except RecursionError as exc:
        raise CorruptMemoryError(f"{source} is nested too deeply to be a memvid index. {_FIX}") from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, huge integers
        raise CorruptMemoryError(f"{source} is not valid JSON ({exc}). {_FIX}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise CorruptMemoryError(
            f"{source} is not a memvid index (it may come from the original memvid 0.1.x, whose videos hold no "
            "decodable text). Rebuild the memory with MemvidEncoder."
        )
    if "\\u" in raw:  # a \ud800 escape decodes to a lone surrogate, which the next write could not encode
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CorruptMemoryError(f"{source} holds a string that is not valid Unicode (a lone surrogate). {_FIX}") from exc
    c = _Checker(source)
    fmt = data.get("format_version")
    if type(fmt) is int and fmt > FORMAT_VERSION:
        raise CorruptMemoryError(f"{source} uses format {fmt}; upgrade memvid to read it.")
    c.integer(fmt, "format_version", 1, FORMAT_VERSION)
    version = c.integer(c.get(data, "version", ""), "version", 0, MAX_VERSION)
    floor = c.integer(c.get(data, "history_floor", ""), "history_floor", 0, MAX_VERSION)
    if floor > version:
        raise c.fail("history_floor", f"at most version ({version})", floor)
    raw_segments = c.sequence(c.get(data, "segments", ""), "segments", MAX_SEGMENTS)
    segments = [_segment(c, s, f"segments[{k}]", version) for k, s in enumerate(raw_segments)]
    seen: set[str] = set()
    for k, seg in enumerate(segments):
        if seg.uid in seen:
            raise c.fail(f"segments[{k}].uid", "unique among the segments", seg.uid)
        seen.add(seg.uid)
    raw_versions = c.sequence(c.get(data, "versions", ""), "versions", MAX_VERSION_ENTRIES)
    versions = [_version_entry(c, v, f"versions[{k}]", version) for k, v in enumerate(raw_versions)]
    return Manifest(
        video=_video(c, c.get(data, "video", "")),
        embedding=_embedding(c, c.get(data, "embedding", "")),
        store=_store(c, c.get(data, "store", "")),
        version=version,
        history_floor=floor,
        segments=segments,
        versions=versions,
        live_chunks=c.integer(c.get(data, "live_chunks", ""), "live_chunks"),
        live_text_bytes=c.integer(c.get(data, "live_text_bytes", ""), "live_text_bytes", 0, MAX_BYTES),
        dead_rows=c.integer(c.get(data, "dead_rows", ""), "dead_rows"),
        created=c.number(c.get(data, "created", ""), "created"),
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a memvid index")


def _video(c: _Checker, value: object) -> dict[str, Any]:
    from ..config import CODECS  # config imports nothing of ours but errors; imported here to keep this module light

    video = c.mapping(value, "video")
    codec = c.get(video, "codec", "video.")
    if not isinstance(codec, str) or codec not in CODECS:
        raise c.fail("video.codec", f"one of {', '.join(CODECS)}", codec)
    backend = c.get(video, "qr_backend", "video.")
    if not isinstance(backend, str) or backend not in ("zxing", "qrcode"):
        raise c.fail("video.qr_backend", "'zxing' or 'qrcode'", backend)
    c.integer(c.get(video, "fps", "video."), "video.fps", 1, 240)
    size = c.integer(c.get(video, "frame_size", "video."), "video.frame_size", 16, 16_384)
    if size % 2:
        raise c.fail("video.frame_size", "even", size)
    c.integer(c.get(video, "crf", "video."), "video.crf", 0, 63)
    c.integer(c.get(video, "module_px", "video."), "video.module_px", 1, 64)
    c.integer(c.get(video, "qr_version", "video."), "video.qr_version", 1, 40)
    return _scalar_extras(c, video, "video")


def _embedding(c: _Checker, value: object) -> dict[str, Any]:
    emb = c.mapping(value, "embedding")
    c.text(c.get(emb, "model", "embedding."), "embedding.model", nullable=True)
    dim = c.get(emb, "dimension", "embedding.")
    if dim is not None:
        c.integer(dim, "embedding.dimension", 1, MAX_DIMENSION)
    return _scalar_extras(c, emb, "embedding")


def _store(c: _Checker, value: object) -> dict[str, Any]:
    store = c.mapping(value, "store")
    safe_relative_path(c.get(store, "path", "store."), "store.path", c.source)
    collection = c.get(store, "collection", "store.")
    if not isinstance(collection, str) or not _COLLECTION.fullmatch(collection):
        raise c.fail("store.collection", "a Chroma collection name (3-512 letters, digits, '.', '_' or '-')", collection)
    if "kind" in store:
        c.text(store["kind"], "store.kind")
    if "next_id" in store:
        c.integer(store["next_id"], "store.next_id")
    return _scalar_extras(c, store, "store")


def _scalar_extras(c: _Checker, obj: dict[str, Any], where: str) -> dict[str, Any]:
    """Refuse nested values in a settings object: memvid writes only scalars there."""
    for key, value in obj.items():
        if value is not None and type(value) not in (str, int, float, bool):
            raise c.fail(f"{where}.{key}", "a string, number, boolean or null", value)
        if isinstance(value, str) and len(value) > MAX_TEXT_FIELD:
            raise c.fail(f"{where}.{key}", f"at most {MAX_TEXT_FIELD} characters", value)
    return obj


def _segment(c: _Checker, value: object, where: str, version: int) -> Segment:
    s = c.mapping(value, where)

    def req(key: str) -> Any:
        return c.get(s, key, f"{where}.")

    uid = req("uid")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise c.fail(f"{where}.uid", "16 lowercase hex characters", uid)
    file = safe_relative_path(req("file"), f"{where}.file", c.source, allow_empty=True)
    frames = c.integer(req("frames"), f"{where}.frames", 0, MAX_SEGMENT_FRAMES)
    if file == "" and frames:
        raise c.fail(f"{where}.frames", "0 for a segment with no file", frames)
    dict_frames = c.integer(req("dict_frames"), f"{where}.dict_frames", 0, frames)
    seg_version = c.integer(req("version"), f"{where}.version", 0, version)
    starts = c.sequence(req("group_starts"), f"{where}.group_starts", frames)
    crcs = c.sequence(req("group_crcs"), f"{where}.group_crcs", frames)
    if frames and not starts:
        raise c.fail(f"{where}.group_starts", f"a non-empty list for a segment of {frames} frames", starts)
    if len(crcs) != len(starts):
        raise c.fail(f"{where}.group_crcs", f"a list as long as group_starts ({len(starts)})", f"{len(crcs)} items")
    prev = -1
    for k, start in enumerate(starts):
        c.integer(start, f"{where}.group_starts[{k}]", 0, frames - 1)
        if start <= prev or (k == 0 and start != 0):
            raise c.fail(f"{where}.group_starts[{k}]", "strictly increasing from 0", start)
        prev = start
    if dict_frames and (len(starts) < 2 or starts[1] != dict_frames):
        raise c.fail(f"{where}.dict_frames", "the first frame of the second group", dict_frames)
    for k, crc in enumerate(crcs):
        c.integer(crc, f"{where}.group_crcs[{k}]", 0, 2**32 - 1)
    return Segment(
        uid=uid,
        file=file,
        frames=frames,
        dict_frames=dict_frames,
        version=seg_version,
        bytes=c.integer(req("bytes"), f"{where}.bytes", 0, MAX_BYTES),
        raw_text_bytes=c.integer(req("raw_text_bytes"), f"{where}.raw_text_bytes", 0, MAX_BYTES),
        chunks=c.integer(req("chunks"), f"{where}.chunks"),
        group_crcs=list(crcs),
        group_starts=list(starts),
    )


def _version_entry(c: _Checker, value: object, where: str, version: int) -> VersionEntry:
    v = c.mapping(value, where)
    return VersionEntry(
        version=c.integer(c.get(v, "version", f"{where}."), f"{where}.version", 0, version),
        time=c.number(c.get(v, "time", f"{where}."), f"{where}.time"),
        op=c.text(c.get(v, "op", f"{where}."), f"{where}.op"),
        live_chunks=c.integer(c.get(v, "live_chunks", f"{where}."), f"{where}.live_chunks"),
        note=c.text(v.get("note", ""), f"{where}.note"),
    )
