"""Talking to Chroma safely: opening clients, turning its failures into memvid errors, and keeping a
store folder alive while reader processes use it."""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import MemvidError, StoreError
from ..safe_files import open_nofollow, read_bytes_nofollow

try:  # POSIX advisory locks keep a store folder alive while readers use it
    import fcntl
except ImportError:  # pragma: no cover - Windows: old store folders are simply kept
    fcntl = None  # type: ignore[assignment]

_T = TypeVar("_T")
READERS_LOCK = "memvid-readers.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a planted link must not make us create or lock a file elsewhere


def guarded(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Turn any failure inside Chroma into a :class:`StoreError` that says what to do."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except MemvidError:
            raise
        except Exception as exc:
            raise StoreError(
                f"The vector store failed ({type(exc).__name__}: {exc}). If the disk is full, free space; if another "
                "process compacted the memory, reopen it; if the store is damaged, run `memvid verify --repair`."
            ) from exc

    return wrapper


def hold_readers_lock(store_dir: Path) -> int | None:
    """Take a shared lock that keeps ``store_dir`` from being removed while this process reads it."""
    if fcntl is None:
        return None
    try:
        fd = os.open(store_dir / READERS_LOCK, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError:
        return None  # a read-only folder: nothing can remove it either
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def release_readers_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def remove_if_unused(store_dir: Path) -> bool:
    """Delete a retired store folder unless a reader still holds it; True if it is gone."""
    if not store_dir.is_dir():
        return True
    if fcntl is None:
        return False
    try:
        fd = os.open(store_dir / READERS_LOCK, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    import shutil  # here: only a stale store's removal needs it, and a keyword search imports this module

    try:
        shutil.rmtree(store_dir, ignore_errors=True)
    finally:
        os.close(fd)
    return not store_dir.exists()


def open_client(path: Path, fresh: bool = False) -> Any:
    """A persistent Chroma client with telemetry off (memvid never talks to the network).

    Chroma caches one client system per path and process, and that cache does not see rows another
    process added later.  ``fresh`` drops this path's cached system (clients already holding it keep
    working) so the new client reads the store as it is on disk now.  Chroma has no public call that
    drops one path's entry (``clear_system_cache`` drops every path and breaks open clients), hence
    the one private access below.
    """
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings

    if fresh or not path.exists():
        SharedSystemClient._identifier_to_system.pop(str(path), None)
    try:
        return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False))
    except Exception as exc:
        raise StoreError(
            f"Cannot open the vector store {path} ({type(exc).__name__}: {exc}). If the disk is full, free some space; "
            "if the folder is read-only, copy the memory somewhere writable."
        ) from exc


# hnswlib's persisted header as Chroma 1.x writes it: a u32 format version, then size_t fields in order
# (offsetLevel0, max_elements, cur_element_count, size_data_per_element, ...).
_HNSW_HEADER = struct.Struct("<I4Q")
_SCRUB_BLOCK = 1 << 20


def scrub_unused_hnsw_space(store_dir: Path) -> int:
    """Zero the slots an HNSW file reserves for rows it does not hold yet; returns the bytes zeroed.

    hnswlib preallocates room for more rows than it holds and writes that room to disk as it was
    in memory: uninitialized heap, which can hold chunk text this process handled moments before.
    The text must live only in the video, so every writer calls this once its rows are in.  Only
    bytes past the last held row change; a header that does not parse is left alone.
    """
    zeroed = 0
    for header in sorted(store_dir.glob("*/header.bin")):
        if header.parent.is_symlink():
            continue  # never write through a planted link
        try:
            raw = read_bytes_nofollow(header, 4096, "an HNSW header")[: _HNSW_HEADER.size]
            version, _offset0, capacity, count, per_row = _HNSW_HEADER.unpack(raw)
        except (MemvidError, OSError, struct.error):
            continue
        if version != 1 or not 0 < per_row < 1 << 24 or not 0 <= count <= capacity < 1 << 40:
            continue
        for name, row_bytes in (("data_level0.bin", per_row), ("length.bin", 4)):
            zeroed += _zero_tail(header.parent / name, count * row_bytes)
    return zeroed


def _zero_tail(path: Path, start: int) -> int:
    """Overwrite every non-zero block of ``path`` from ``start`` to its end with zeros."""
    try:
        fd = open_nofollow(path, os.O_RDWR)
    except (MemvidError, OSError):
        return 0
    zeroed = 0
    try:
        end = os.fstat(fd).st_size
        pos = start
        while pos < end:
            block = os.pread(fd, min(_SCRUB_BLOCK, end - pos), pos)
            if not block:
                break
            if block.count(0) != len(block):
                os.pwrite(fd, bytes(len(block)), pos)
                zeroed += len(block)
            pos += len(block)
    finally:
        os.close(fd)
    return zeroed
