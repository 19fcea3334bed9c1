"""A memory's keyword index as a cache: kept in step with committed versions, rebuilt from the video when stale.

The index (:class:`~memvid_base.index.keywords.KeywordIndex`) holds one entry per vector row, keyed by the
same row id (``chunk@version``), and no text.  Its stamp names the memory (its creation time) and
the version it was last committed for.  It is usable for a manifest of the same memory whose version
is not newer than the stamp's: extra rows of a newer writer are harmless because every hit is
checked against the vector store's visibility rules.  Anything else (missing, damaged, older,
another memory) is rebuilt by decoding the video.

Writers keep an existing index in step; a memory never searched by keyword never pays for one.  A
writer that finds the index busy (a reader rebuilding it) leaves it behind, to be rebuilt on the
next keyword search: the index is a cache, never a reason to fail a write.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import CorruptMemoryError, StoreError
from ..files.manifest import Manifest
from ..files.segments import SegmentCache
from ..types import Row
from .keywords import KeywordIndex
from .reader import materialize
from .vectors import VectorStore, row_payload

_REBUILD_BATCH = 2000
_BUSY_WAIT_S = 30.0  # a rebuild waits this long for another process's keyword writer


def stamp_for(manifest: Manifest, version: int | None = None) -> str:
    return f"{manifest.created!r}:{manifest.version if version is None else version}"


def usable(index: KeywordIndex, manifest: Manifest) -> bool:
    """Whether ``index`` holds every row committed up to ``manifest``'s version of this memory."""
    lineage, _, version = (index.stamp or "").rpartition(":")
    return (lineage == repr(manifest.created) and version.isdigit() and len(version) <= 18
            and int(version) >= manifest.version)


class KeywordCache:
    """Opens, checks and rebuilds one memory's keyword index.

    Args:
        folder: The folder the index lives in (``keywords`` in the memory's cache folder).
        index_path: The memory's manifest.
    """

    def __init__(self, folder: Path, index_path: Path) -> None:
        self.folder = folder
        self.index_path = index_path
        self._index: KeywordIndex | None = None
        self._skip = False  # a write found the index busy: do not commit a partial update

    def _check_folder(self) -> None:
        for folder in (self.folder.parent, self.folder):  # the index empties its folder when damaged: never follow a link
            if folder.is_symlink():
                raise CorruptMemoryError(f"{folder} is a symbolic link; remove it (it is a cache, rebuilt on use).")

    def existing(self) -> KeywordIndex | None:
        """The index if one was ever built here (writers only maintain an existing one)."""
        self._check_folder()
        if self._index is None and self.folder.is_dir():
            self._index = KeywordIndex.open(self.folder)
        return self._index

    def ready(self, manifest: Manifest, segments: SegmentCache, store: VectorStore) -> KeywordIndex:
        """An index usable for ``manifest``, rebuilt from the video first if need be."""
        if self._index is None:
            self._check_folder()
            self._index = KeywordIndex.open(self.folder)
        elif usable(self._index, manifest):
            # The searched snapshot already holds every row this version can see (newer writers' rows are
            # harmless, see the module docstring): a reload per search cost 0.15-0.2 ms of a 1 ms hot query.
            return self._index
        else:
            self._check_folder()
            self._index.reload()
        deadline = time.monotonic() + _BUSY_WAIT_S
        while not usable(self._index, manifest):
            try:
                self.rebuild(manifest, segments, store)
            except StoreError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # another process holds the keyword writer: it may bring the index up to date
                self._index.reload()
        return self._index

    def rebuild(self, manifest: Manifest, segments: SegmentCache, store: VectorStore) -> None:
        """Index every row the store holds (every retained version), with text decoded from the video."""
        assert self._index is not None
        index = self._index
        try:
            index.clear()
        except Exception as exc:
            index.close()
            self._index = KeywordIndex.open(self.folder)
            raise StoreError(f"The keyword index is busy in another process ({exc}).") from exc
        seg_by_uid = {s.uid: s for s in manifest.segments}
        hits = [h for h in store.all_rows() if h.row.v0 <= manifest.version]
        for k in range(0, len(hits), _REBUILD_BATCH):
            part = hits[k : k + _REBUILD_BATCH]
            try:
                chunks = materialize(segments, seg_by_uid, part)
            except CorruptMemoryError as exc:
                self.close()
                raise CorruptMemoryError(f"Cannot build the keyword index: {exc}") from exc
            index.add([h.row.row_id for h in part], [c.text for c in chunks], [row_payload(h.row) for h in part])
        index.commit(stamp_for(manifest))

    def rebuilding(self, manifest: Manifest) -> KeywordIndex | None:
        """The index emptied for a caller that refills it and commits :func:`stamp_for` ``manifest``.

        None when the index is already usable for ``manifest``, or busy in another process (the next
        keyword search then rebuilds it as usual).
        """
        self._check_folder()
        if self._index is None:
            self._index = KeywordIndex.open(self.folder)
        else:
            self._index.reload()
        if usable(self._index, manifest):
            return None
        try:
            self._index.clear()
        except Exception:
            self.close()
            return None
        return self._index

    def stage(self, added: Sequence[tuple[Row, str]] = (), removed: Sequence[str] = ()) -> bool:
        """Stage a writer's rows into an existing, up-to-date index; False if there is none to keep."""
        index = self.existing()
        if index is None or self._skip:
            return False
        try:
            if added:
                index.add([r.row_id for r, _ in added], [t for _, t in added], [row_payload(r) for r, _ in added])
            if removed:
                index.delete(list(removed))
        except Exception:
            self._skip = True  # busy (a reader is rebuilding it): leave it stale rather than fail the write
            return False
        return True

    def commit(self, manifest: Manifest, version: int) -> None:
        """Record staged rows for ``version``, just before the manifest commit makes it visible."""
        index = self.existing()
        if index is not None and not self._skip and usable(index, manifest):
            try:
                index.commit(stamp_for(manifest, version))
            except Exception:
                self.close()
        elif index is not None:
            self.close()  # stale or skipped: drop the staged rows; the next keyword search rebuilds it
        self._skip = False

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        self._skip = False
