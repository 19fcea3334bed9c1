"""A memory's keyword index as a cache: kept in step with committed versions, rebuilt from the video when stale.

The index (:class:`~memvid_base.keywords.KeywordIndex`) holds one entry per vector row, keyed by the
same row id (``chunk@version``), and no text.  Its stamp names the store collection and the
version it was last committed for.  It is usable for a manifest when the collection matches and the
stamp's version is not older than the manifest's: extra rows of a newer, uncommitted writer are
harmless because every hit is checked against the vector store's visibility rules.  Anything else
(missing, damaged, older, another lineage) is rebuilt by decoding the video.

Writers keep an existing index in step; a memory never searched by keyword never pays for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import CorruptMemoryError, MemoryLockedError
from .keywords import KeywordIndex
from .manifest import Manifest, WriterLock
from .reader import materialize
from .segments import SegmentCache
from .vectors import VectorStore

_REBUILD_BATCH = 2000
_LOCK_WAIT_S = 60.0  # a reader that must rebuild waits this long for a writer to finish


def stamp_for(manifest: Manifest, version: int | None = None) -> str:
    return f"{manifest.store['collection']}:{manifest.version if version is None else version}"


def usable(index: KeywordIndex, manifest: Manifest) -> bool:
    """Whether ``index`` holds every row committed up to ``manifest``'s version for its store."""
    collection, _, version = (index.stamp or "").rpartition(":")
    return collection == manifest.store["collection"] and version.isdigit() and int(version) >= manifest.version


class KeywordCache:
    """Opens, checks and rebuilds one memory's keyword index.

    Args:
        folder: The cache folder the index lives in.
        index_path: The memory's manifest, whose writer lock guards a rebuild.
    """

    def __init__(self, folder: Path, index_path: Path) -> None:
        self.folder = folder
        self.index_path = index_path
        self._index: KeywordIndex | None = None

    def existing(self) -> KeywordIndex | None:
        """The index if one was ever built here (writers only maintain an existing one)."""
        if self._index is None and self.folder.is_dir():
            self._index = KeywordIndex.open(self.folder)
        return self._index

    def ready(self, manifest: Manifest, segments: SegmentCache, store: VectorStore, hold_lock: bool = False) -> KeywordIndex:
        """An index usable for ``manifest``, rebuilt from the video first if need be."""
        if self._index is None:
            self._index = KeywordIndex.open(self.folder)
        else:
            self._index.reload()
        if usable(self._index, manifest):
            return self._index
        if hold_lock:
            self.rebuild(manifest, segments, store)
        else:
            try:
                with WriterLock(self.index_path, timeout=_LOCK_WAIT_S):
                    self._index.reload()
                    if not usable(self._index, manifest):
                        self.rebuild(manifest, segments, store)
            except MemoryLockedError as exc:
                raise MemoryLockedError(
                    f"The keyword index of {self.index_path} must be rebuilt, but a writer has held the memory for "
                    f"{_LOCK_WAIT_S:.0f} s. Try again when it has finished."
                ) from exc
        return self._index

    def rebuild(self, manifest: Manifest, segments: SegmentCache, store: VectorStore) -> None:
        """Index every row the store holds (every retained version), with text decoded from the video."""
        assert self._index is not None
        index = self._index
        index.clear()
        seg_by_uid = {s.uid: s for s in manifest.segments}
        hits = [h for h in store.all_rows() if h.row.v0 <= manifest.version]
        for k in range(0, len(hits), _REBUILD_BATCH):
            part = hits[k : k + _REBUILD_BATCH]
            try:
                chunks = materialize(segments, seg_by_uid, part)
            except CorruptMemoryError as exc:
                self.close()
                raise CorruptMemoryError(f"Cannot build the keyword index: {exc}") from exc
            index.add([h.row.row_id for h in part], [c.text for c in chunks])
        index.commit(stamp_for(manifest))

    def stage(self, added: Sequence[tuple[str, str]] = (), removed: Sequence[str] = ()) -> bool:
        """Stage a writer's rows into an existing, up-to-date index; False if there is none to keep."""
        index = self.existing()
        if index is None:
            return False
        if added:
            index.add([r for r, _ in added], [t for _, t in added])
        if removed:
            index.delete(list(removed))
        return True

    def commit(self, manifest: Manifest, version: int) -> None:
        """Record staged rows for ``version``, just before the manifest commit makes it visible."""
        index = self.existing()
        if index is not None and usable(index, manifest):
            index.commit(stamp_for(manifest, version))
        elif index is not None:
            self.close()  # stale: drop the staged rows; the next keyword search rebuilds it

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
