"""The write transaction: lock, reload, repair, commit, promote.

Every change writes one new immutable segment, then the vector rows tagged with the next version,
then atomically replaces the manifest.  Until that last step no reader can see the change, and a
crash at any point leaves the memory at its last committed version; the next writer undoes what
the crashed one left behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import CorruptMemoryError, InvalidInputError
from ..files.layout import Layout
from ..files.manifest import Manifest, VersionEntry, WriterLock, read_manifest, write_manifest
from ..index.chroma_io import remove_if_unused, scrub_unused_hnsw_space
from ..index.keyword_cache import KeywordCache
from ..index.vectors import VectorStore
from ..safe_files import is_plain_file, not_a_plain_file, touch_nofollow, unlink_file

_MARKER = "a memory's pending marker"
_LAST_WRITTEN: dict[Path, int] = {}  # manifest mtimes this process committed, so readers here need no store reload


def fault(point: str) -> None:
    """Crash-test hook: ``MEMVID_FAULT=<point>`` kills the process right here, as ``kill -9`` would."""
    if os.environ.get("MEMVID_FAULT") == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def committed_here(index: Path, mtime: int | None) -> bool:
    """Whether the manifest at ``mtime`` was written by this process (so its store view is current)."""
    return mtime is not None and _LAST_WRITTEN.get(index.resolve()) == mtime


def rolled_back_message(layout: Layout, version: int) -> str:
    return (
        f"{layout.index} is older than its vector store, which holds versions after {version}: the index was "
        "restored from an older copy. Restore the index that matches the store, or run `memvid verify --repair` "
        "to drop the newer versions and keep this one."
    )


def collect_old_stores(layout: Layout, manifest: Manifest) -> None:
    """Remove store folders of earlier versions that no reader process holds any more."""
    current = layout.resolve(str(manifest.store["path"]), "store.path")
    for folder in layout.store_dirs():
        if folder.resolve() != current:
            remove_if_unused(folder)


def new_uid() -> str:
    return os.urandom(8).hex()


def now() -> float:
    return round(time.time(), 3)


class WriteTransaction:
    """One change to a memory, made by the one process that holds its writer lock.

    Args:
        layout: The memory's files.
        open_store: Returns the vector store a manifest names.
        promote: Whether this memory owns its files (False for a staging build that shares the
            segments folder with a live memory it will replace).
        keywords: The memory's keyword index, kept in step with each commit if it exists.

    Example:
        >>> with WriteTransaction(layout, open_store) as tx:               # doctest: +SKIP
        ...     version = tx.next_version
        ...     ...  # write a segment and rows tagged with ``version``
        ...     tx.commit("add", "3 chunks")
    """

    def __init__(
        self,
        layout: Layout,
        open_store: Callable[[Manifest], VectorStore],
        promote: bool = True,
        keywords: KeywordCache | None = None,
    ) -> None:
        self.layout = layout
        self.promote = promote
        self.keywords = keywords
        self._open_store = open_store
        self._lock = WriterLock(layout.lock)
        self.manifest: Manifest | None = None
        self.mtime: int | None = None

    def __enter__(self) -> WriteTransaction:
        self._lock.__enter__()
        try:
            self.manifest = read_manifest(self.layout.index)
            self.repair()
        except BaseException:
            self._lock.__exit__()
            raise
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.keywords is not None and exc_type is not None:
            self.keywords.close()  # drop rows staged for a version that never committed
        try:
            if exc_type is None and self.promote:
                # Every path through a transaction commits or raises, so a clean exit left nothing behind.
                unlink_file(self.layout.pending_marker, _MARKER)
                with contextlib.suppress(OSError):  # a build or compaction moved its segment to kb.mp4
                    self.layout.segments_dir.rmdir()  # only when empty (and never through a symlink)
        finally:
            self._lock.__exit__()

    @property
    def m(self) -> Manifest:
        if self.manifest is None:
            raise InvalidInputError("The write transaction is not open: use it in a with block.")
        return self.manifest

    @property
    def store(self) -> VectorStore:
        return self._open_store(self.m)

    @property
    def next_version(self) -> int:
        return self.m.version + 1

    # ---------------------------------------------------------------- repair

    def repair(self) -> None:
        """Undo what an interrupted writer left behind: rows and files that no committed version references.

        Writers drop a marker before touching the store and remove it after committing, so the store
        scans (which cost time proportional to the memory) only run after a crash.
        """
        marker = self.layout.pending_marker
        if os.path.lexists(marker) and not is_plain_file(marker):
            # Refused before anything changes: a link or folder here would fail the commit after its commit point.
            raise not_a_plain_file(marker, _MARKER)
        had_pending = self.layout.writer_pending() or not self.promote
        if not had_pending and self.store.rows_after(self.m.version):
            # No writer was interrupted, yet the store holds newer versions: the manifest was rolled back
            # (restored from an older copy). Undoing those rows would destroy data, so refuse instead.
            raise CorruptMemoryError(rolled_back_message(self.layout, self.m.version))
        if self.promote:
            touch_nofollow(marker, _MARKER)
        if had_pending:
            self.store.undo_after(self.m.version)
            self._repair_files()
        if self.promote:
            legacy = self.layout.legacy_pending_marker
            for path in [*self.layout.stale_staging(), *([legacy] if had_pending and legacy is not None else [])]:
                unlink_file(path)  # no build runs while we hold the lock: these are a crash's leftovers
        self.collect_old_stores()

    def _referenced(self, path: Path) -> bool:
        uid = path.name.split(".")[0].rpartition("-")[2]
        return len(uid) == 16 and bool(self.store.rows_in_segment(uid))

    def retire_store(self, old: dict[str, object]) -> None:
        """After a commit moved the rows to a new store: drop the old one, now or once no reader holds it."""
        if old.get("path") != self.m.store.get("path"):
            self.collect_old_stores()
        elif old.get("collection") != self.m.store.get("collection"):
            try:  # a server-side store (chroma run) is safe for other processes: drop the collection now
                self.store.client.delete_collection(str(old["collection"]))
            except Exception:
                pass  # already gone

    def collect_old_stores(self) -> None:
        if self.promote:  # a staging build shares the folder with the memory it replaces
            collect_old_stores(self.layout, self.m)

    def _repair_files(self) -> None:
        if not self.promote:
            return  # a staging build shares the segments folder with the live memory; never clean it from here
        known = {self.layout.resolve(s.file, "segment file") for s in self.m.segments if s.file}
        folder = self.layout.segments_dir
        if folder.is_symlink():
            raise CorruptMemoryError(f"{folder} is a symbolic link; a memory's segments folder must be a real folder.")
        if folder.is_dir():
            for path in folder.iterdir():
                # Never delete a segment that a stored row still points at (its uid ends the file name).
                leftover = path.suffix in (".mp4", ".tmp") and (is_plain_file(path) or path.is_symlink())
                if leftover and path.resolve() not in known and not self._referenced(path):
                    unlink_file(path)
        for path in self.layout.stale_promote_temps():
            unlink_file(path)

    # ---------------------------------------------------------------- commit

    def commit(self, op: str, note: str) -> int:
        """Make the prepared change visible as the next version: the atomic manifest replace."""
        m = self.m
        if self.keywords is not None:
            self.keywords.commit(m, self.next_version)  # before the manifest: a crash between leaves it ahead, still usable
        m.version = self.next_version
        m.versions.append(VersionEntry(m.version, now(), op, m.live_chunks, note))
        self.write()
        fault("committed")
        if self.promote:
            unlink_file(self.layout.pending_marker, _MARKER)
        return m.version

    def scrub_store(self) -> None:
        """Zero the room Chroma's HNSW files reserve for future rows (it can hold stale heap bytes: text)."""
        if self.m.store.get("kind", "chroma-persistent") == "chroma-persistent" and self.m.store.get("path"):
            folder = self.layout.resolve(str(self.m.store["path"]), "store.path")
            if folder.is_dir():
                scrub_unused_hnsw_space(folder)

    def write(self) -> None:
        """Replace the manifest atomically and remember that this process wrote it."""
        self.scrub_store()
        write_manifest(self.layout.index, self.m)
        self.mtime = self.layout.index.stat().st_mtime_ns
        _LAST_WRITTEN[self.layout.index.resolve()] = self.mtime

    def promote_base(self) -> None:
        """Give the oldest retained segment the memory's own name (``kb.mp4``) once nothing else uses that name.

        The new name is linked in and committed before the old name is unlinked, so at every moment the
        manifest points at a complete file with the right contents.
        """
        m = self.m
        if not self.promote:
            return
        target = self.layout.video_name
        if any(s.file == target for s in m.segments):
            return
        candidates = [s for s in m.segments if s.file and s.version >= m.history_floor]
        if not candidates:
            return
        seg = candidates[0]
        src = self.layout.resolve(seg.file, "segment file")
        tmp = self.layout.promote_temp(seg.uid)
        unlink_file(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            import shutil  # imported here: it loads bz2 and lzma, which readers never need

            shutil.copyfile(src, tmp)
        os.replace(tmp, self.layout.video)
        seg.file = target
        self.write()
        src.unlink()
