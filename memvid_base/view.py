"""What one reader of a memory sees: a committed manifest, its settings, decoded frames and vector rows.

A view follows the memory as other processes commit (:meth:`MemoryView.refresh`), or stays on one
version (``as_of``) until compaction removes that version.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import VideoSettings
from .errors import (
    CorruptMemoryError,
    InvalidInputError,
    MemoryNotFoundError,
    MemvidError,
    VersionNotAvailableError,
)
from .files.layout import Layout
from .files.manifest import Manifest, Segment, read_manifest
from .files.segments import SegmentCache
from .index.chroma_io import hold_readers_lock, open_client, release_readers_lock
from .index.reader import materialize
from .index.vectors import ExactIndex, VectorStore
from .storage.replay import BoxCache, exact_index_from_boxes
from .storage.transaction import collect_old_stores, committed_here, new_uid, rolled_back_message
from .types import Chunk, Hit


class MemoryView:
    """The committed state one ``Memory`` object reads.

    Args:
        layout: The memory's files.
        client: A Chroma client to use, or None to open a persistent one in the memory's cache folder.
        as_of: Stay on this version.
        cache_size: Decoded groups (frames) kept in memory.
    """

    def __init__(self, layout: Layout, client: Any, as_of: int | None, cache_size: int) -> None:
        self.layout = layout
        self.as_of = as_of
        self._client = client
        self._owns_client = client is None
        self._cache_size = cache_size
        self._lock = threading.RLock()
        self._vectors: VectorStore | None = None
        self._client_dir: Path | None = None  # the store folder our own client reads
        self._store_dir: tuple[str, Path] | None = None  # the manifest's store path and where it resolved
        self._readers_lock: int | None = None
        self._boxes = BoxCache()  # segments' boxes already read for the exact index (see _flat_source)
        self._boxes_lock = threading.Lock()
        self.consistent = False  # the store was checked against the manifest (see checked_store)
        self._writing: Manifest | None = None  # a writer's manifest, which stores follow until it commits (see use)
        self.mtime: int | None = None
        self.manifest = self._read()
        self.settings = VideoSettings.from_dict(self.manifest.video)
        self.segments = self._segment_cache()
        self.seg_by_uid: dict[str, Segment] = {s.uid: s for s in self.manifest.segments}

    def _read(self) -> Manifest:
        if not self.layout.index.is_file():
            hint = " The video exists but its index is missing; open the memory at its latest version to rebuild the index from the video." if self.layout.video.exists() else ""
            raise MemoryNotFoundError(
                f"No memory index at {self.layout.index}.{hint} Build one with MemvidEncoder or Memory.create()."
            )
        # The mtime is taken before the read: a commit landing between them then looks newer than what
        # was read, so the next refresh() reloads it (taken after, a reader could keep a stale manifest).
        mtime = self.layout.index.stat().st_mtime_ns
        manifest = read_manifest(self.layout.index)
        self.mtime = mtime
        if self.as_of is not None and not manifest.history_floor <= self.as_of <= manifest.version:
            raise VersionNotAvailableError(
                f"Version {self.as_of} is not available: this memory has versions {manifest.history_floor}.."
                f"{manifest.version} (older ones were compacted away)."
            )
        return manifest

    @property
    def version(self) -> int:
        return self.manifest.version if self.as_of is None else self.as_of

    @property
    def latest(self) -> bool:
        return self.as_of is None

    def refresh(self) -> bool:
        """Reload the manifest if another process committed a change. Returns True if it did.

        A view opened ``as_of`` a version keeps reading that version, and raises
        :class:`VersionNotAvailableError` once a compaction has removed it.
        """
        try:
            mtime = self.layout.index.stat().st_mtime_ns
        except FileNotFoundError as exc:
            raise MemoryNotFoundError(f"The index {self.layout.index} was removed while the memory was open.") from exc
        if mtime == self.mtime:
            return False
        with self._lock:
            if self.as_of is not None:
                floor = read_manifest(self.layout.index).history_floor
                if self.as_of < floor:
                    raise VersionNotAvailableError(
                        f"Version {self.as_of} was compacted away while this memory was open (history now starts "
                        f"at {floor}). Open a version from {floor} on, or the latest."
                    )
                self.mtime = mtime
                return False
            self.adopt(self._read(), self.mtime)
            if self._owns_client and not committed_here(self.layout.index, mtime):
                # Another process committed: our cached Chroma view is stale, so open the store afresh.
                self._open_own_client(fresh=True)
        return True

    def adopt(self, manifest: Manifest, mtime: int | None) -> None:
        """Read ``manifest`` from now on (one this process committed, or just read)."""
        self.manifest = manifest
        self._writing = None
        if mtime is not None:
            self.mtime = mtime
        self.settings = VideoSettings.from_dict(manifest.video)
        self.seg_by_uid = {s.uid: s for s in manifest.segments}
        self.segments.close()  # readers of renamed or removed segment files must not linger
        self.segments = self._segment_cache()

    def _segment_cache(self) -> SegmentCache:
        layout = self.layout  # not self: a closure over the view would make a reference cycle that holds its locks
        return SegmentCache(layout.root, self.settings, self._cache_size,
                            locate=lambda seg: layout.segment_source(seg.file, f"Segment {seg.uid} file"))

    def use(self, manifest: Manifest) -> None:
        """Open stores for the manifest a writer re-read under its lock, without showing it to readers.

        The writer changes that manifest in place as it works (its new segments, then its version), so
        this view's readers keep a committed one: a copy of it, taken at the transaction's first call
        while it is still as committed, when another process committed since this view last read.
        :meth:`adopt` ends the write; :meth:`abandon_write` ends one that raised.
        """
        if manifest is self._writing:
            return
        if (manifest.created, manifest.version) != (self.manifest.created, self.manifest.version):
            committed = copy.deepcopy(manifest)
            self.manifest = committed
            self.seg_by_uid = {s.uid: s for s in committed.segments}
        self._writing = manifest

    def abandon_write(self) -> None:
        """After a write that raised: stores follow the readers' manifest again, re-read if the file changed."""
        self._writing = None
        with contextlib.suppress(MemvidError, OSError):
            self.refresh()  # a commit that landed before the failure (kb.mp4's promotion failed, say) is real

    @property
    def _store_manifest(self) -> Manifest:
        """The manifest that names the store: the writer's while one works here, else the readers'."""
        return self._writing if self._writing is not None else self.manifest

    @property
    def client(self) -> Any:
        """The Chroma client for the store the manifest names (a compaction moves it to a new folder)."""
        if self._owns_client:
            if self._client is None or self.store_dir != self._client_dir:
                # A store last written by another process must be read afresh, not from Chroma's per-process cache.
                self._open_own_client(fresh=not committed_here(self.layout.index, self.mtime))
        return self._client

    @property
    def owns_client(self) -> bool:
        return self._owns_client

    @property
    def store_dir(self) -> Path:
        rel = self._store_manifest.store["path"]
        if self._store_dir is None or self._store_dir[0] != rel:  # checked once per path, not on every query
            self._store_dir = (rel, self.layout.resolve(rel, "store.path"))
        return self._store_dir[1]

    def _open_own_client(self, fresh: bool) -> None:
        folder = self.store_dir
        self._client = open_client(folder, fresh=fresh)
        self._vectors = None
        if folder != self._client_dir:
            # Hold the folder we read, so a writer never removes it under us; let go of the last one.
            lock = hold_readers_lock(folder)
            release_readers_lock(self._readers_lock)
            self._readers_lock, self._client_dir = lock, folder

    def store(self, create: bool = False) -> VectorStore:
        """The vector store the manifest names (opened on first use)."""
        if self._owns_client and self._client is not None and self.store_dir != self._client_dir:
            self._open_own_client(fresh=not committed_here(self.layout.index, self.mtime))  # a compaction moved it
        m = self._store_manifest
        if self._vectors is None or self._vectors.name != m.store["collection"]:
            self._vectors = VectorStore(self.client, m.store["collection"], m.embedding.get("dimension"), create=create,
                                        flat_source=self._flat_source())
        return self._vectors

    def checked_store(self, create: bool = False) -> VectorStore:
        """The store, checked on first use to hold no versions newer than the manifest.

        Newer rows without a writer at work mean an old manifest was restored over a newer memory.  A
        reader's store that is not open yet stays closed until a query needs a row (a keyword search
        on its quick path never does, and then neither imports nor opens Chroma); the check runs then.
        """
        if not create and self._client is None and self._owns_client:
            name = self.manifest.store["collection"]
            if self._vectors is None or self._vectors.name != name:
                lazy = VectorStore(None, name, self.manifest.embedding.get("dimension"),
                                   opener=lambda: self._client_for(lazy), on_open=self._check_opened,
                                   flat_source=self._flat_source())
                self._vectors = lazy
            return self._vectors  # not opened yet: checked when it opens
        store = self.store(create)
        if not self.consistent and self.as_of is None:
            if not self.layout.writer_pending() and store.rows_after(self.manifest.version):
                if self.refresh():  # a writer committed between our reads: check the newer manifest
                    return self.checked_store(create)
                raise CorruptMemoryError(rolled_back_message(self.layout, self.manifest.version))
            self.consistent = True
        return store

    def _flat_source(self) -> Callable[[int, ExactIndex | None], ExactIndex | None]:
        """Where the store's exact index comes from: the segments' boxes, as the manifest at ``head`` names them."""
        view = weakref.ref(self)  # the store must not keep the view (and its locks) alive

        def index(head: int, base: ExactIndex | None) -> ExactIndex | None:
            me = view()
            if me is None or me.layout.remote:
                return None  # over HTTP the boxes were read once, into the store (lazy_metadata.store_from_boxes)
            m = me.manifest  # read once: another thread's refresh() may replace it meanwhile
            if m.version != head or m.history_floor > head:
                return None
            try:
                if me.as_of is None and not me.consistent and not me.layout.writer_pending() and me.layout.segments_newer_than(head):
                    return None  # an older manifest restored over a newer memory: the store's check says so (checked_store)
                with me._boxes_lock:  # the box cache is shared by this view's threads
                    return exact_index_from_boxes(me.layout, m, me._boxes, base)
            except (MemvidError, OSError):
                return None  # a box or folder that cannot be read: the store answers instead

        return index

    def _client_for(self, store: VectorStore) -> Any:
        client = self.client  # opening our own client forgets the store handle: keep the one being opened
        if self._vectors is None and store.name == self._store_manifest.store["collection"]:
            self._vectors = store
        return client

    def _check_opened(self, store: VectorStore) -> None:
        """:meth:`checked_store`'s check, for a store opened on first use."""
        if self.consistent or self.as_of is not None or self.layout.writer_pending():
            return
        if store.rows_after(self.manifest.version):
            if self.refresh():
                return  # a writer committed meanwhile: the next read checks the store the newer manifest names
            raise CorruptMemoryError(rolled_back_message(self.layout, self.manifest.version))
        self.consistent = True

    def fresh_store(self) -> tuple[VectorStore, dict[str, str]]:
        """An empty store for a new version: a new folder for our own client, a new collection for a server's."""
        collection = f"mv_{new_uid()}"
        dim = self._store_manifest.embedding.get("dimension")
        if not self._owns_client:
            return VectorStore(self.client, collection, dim, create=True), {"collection": collection}
        name = self.layout.new_store_dir(new_uid())
        (self.layout.root / name).mkdir()
        client = open_client(self.layout.resolve(name, "store.path"), fresh=True)
        return VectorStore(client, collection, dim, create=True), {"path": name, "collection": collection}

    def collect_old_stores(self, owns_files: bool) -> None:
        """Remove store folders no reader holds any more (after this view moved to the new one)."""
        if owns_files and self._owns_client:
            self.store()  # moves this process's readers lock to the new store
            collect_old_stores(self.layout, self.manifest)

    def frame_pixels(self, segment: str, frame: int) -> Any:
        """The grayscale pixels of one frame of the segment file ``segment``."""
        seg = next((s for s in self.manifest.segments if s.file and s.file == segment), None)
        if seg is None:
            raise InvalidInputError(f"{segment!r} is not a segment of this memory version.")
        if not isinstance(frame, int) or not 0 <= frame < seg.frames:
            raise InvalidInputError(f"Frame {frame!r} is outside 0..{seg.frames - 1} of {segment}.")
        return self.segments.reader(seg).read(frame)

    def forget_store(self) -> None:
        self._vectors = None

    def materialize(self, hits: Sequence[Hit]) -> list[Chunk]:
        """Chunks for hits, text decoded from the video."""
        return materialize(self.segments, self.seg_by_uid, hits)

    def close(self) -> None:
        """Close the video readers and let go of the store folder (both reopen on the next read)."""
        self.segments.close()
        if self._owns_client and self._readers_lock is not None:
            release_readers_lock(self._readers_lock)
            self._readers_lock, self._client_dir, self._client, self._vectors = None, None, None, None

    def __del__(self) -> None:
        release_readers_lock(getattr(self, "_readers_lock", None))
