"""The ``*_index.json`` manifest: format, settings, segments and versions. It never holds chunk text.

The manifest is the single commit point of a memory.  Writers prepare everything else first
(segment files, vector rows marked with the next version) and then atomically replace the
manifest; a reader opens whichever manifest is in place and sees exactly that version.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .errors import CorruptMemoryError, MemoryLockedError, MemoryNotFoundError

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
    def from_json(cls, text: str, source: Path) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptMemoryError(f"{source} is not valid JSON ({exc}); restore it or run `memvid verify --rebuild-index`.") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise CorruptMemoryError(
                f"{source} is not a memvid index (it may come from the original memvid 0.1.x, whose videos hold no "
                "decodable text). Rebuild the memory with MemvidEncoder."
            )
        if data.get("format_version", 0) > FORMAT_VERSION:
            raise CorruptMemoryError(f"{source} uses format {data['format_version']}; upgrade memvid to read it.")
        try:
            data.pop("format"), data.pop("format_version")
            data["segments"] = [Segment(**s) for s in data.get("segments", [])]
            data["versions"] = [VersionEntry(**v) for v in data.get("versions", [])]
            return cls(**data)
        except TypeError as exc:
            raise CorruptMemoryError(f"{source} is missing fields ({exc}); restore it from a backup.") from exc

    def segment(self, uid: str) -> Segment:
        for seg in self.segments:
            if seg.uid == uid:
                return seg
        raise CorruptMemoryError(f"The index refers to segment {uid}, which the manifest does not list.")


def read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise MemoryNotFoundError(f"Index file {path} does not exist. Build the memory first (MemvidEncoder.build_video).")
    return Manifest.from_json(path.read_text(encoding="utf-8"), path)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a mix."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a memory is an ordinary shareable file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(path: Path, manifest: Manifest) -> None:
    atomic_write(path, manifest.to_json().encode("utf-8"))


class WriterLock:
    """An exclusive, non-blocking lock held by the one process allowed to change a memory."""

    def __init__(self, index_path: Path, timeout: float = 0) -> None:
        self.path = index_path.with_name(index_path.name + ".lock")
        self._lock = FileLock(str(self.path), timeout=timeout)

    def __enter__(self) -> WriterLock:
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise MemoryLockedError(
                f"Memory {self.path.with_suffix('')} is locked by another writer ({self.path}). Wait for it to finish; "
                "readers can keep searching meanwhile."
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
