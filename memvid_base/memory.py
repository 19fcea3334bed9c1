"""``Memory``: a versioned, appendable video memory. Every other API in memvid is built on it.

``Memory`` is a facade over small layers, each in its own module: :mod:`~memvid_base.files.layout` (where
the files are), :mod:`~memvid_base.storage.transaction` (lock, repair, commit), :mod:`~memvid_base.storage.ingest`
(new chunks into a version), :mod:`~memvid_base.index.vectors` (the row schema over Chroma),
:mod:`~memvid_base.reading` (search and lookups; text decoded from frames) and
:mod:`~memvid_base.storage.maintenance` (verify, compact, rebuild).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .boundary import public_errors
from .config import VideoOptions
from .errors import InvalidInputError
from .files.layout import Layout, default_index_path, resolve_paths
from .files.manifest import Manifest, WriterLock, read_manifest
from .index import query
from .index.vectors import VectorStore, validate_where
from .reading import MemoryReader
from .safe_files import unlink_file
from .storage.transaction import WriteTransaction
from .types import Chunk, Hit

if TYPE_CHECKING:
    from .storage.ingest import SegmentSink
    from .storage.maintenance import VerifyReport

# The write path (storage.creation, storage.ingest, storage.maintenance) is imported by the methods that
# write: a process that only searches never loads it.

__all__ = ["Chunk", "Memory", "VerifyReport", "default_index_path", "resolve_paths"]


def __getattr__(name: str) -> object:
    if name == "VerifyReport":  # re-exported here since 0.1; defined on the write path
        from .storage.maintenance import VerifyReport

        return VerifyReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@public_errors  # bad arguments raise InvalidInputError, never a raw traceback (boundary.py)
class Memory(MemoryReader):
    """A searchable text memory stored as QR frames in MP4 files, with vectors in Chroma.

    Args:
        video_file: The memory's video (``kb.mp4``) or its index (``kb_index.json``).
        index_file: The manifest path; by default ``<video stem>_index.json`` beside the video when that
            file exists (an earlier layout), else ``index.json`` in the hidden cache folder
            ``.<video name>.memvid-cache`` beside the video (see :mod:`memvid_base.files.layout`).
        embedding_model: See :class:`memvid_base.embeddings.Embedder`. Its dimension must match the memory's.
        client: Any ``chromadb`` client (e.g. ``chromadb.HttpClient``); default: a ``PersistentClient`` in the memory's cache folder.
        as_of: Open the memory read-only as it was at this version.
        cache_size: How many decoded groups (frames) to keep in memory.
        n_workers: Processes that render QR frames when writing.
        owns_files: False for a staging memory that shares ``kb.mp4`` and the segments folder with
            the memory it will replace: it never renames or cleans them.

    Example:
        >>> mem = Memory.create("kb.mp4")                               # doctest: +SKIP
        >>> mem.add(["Apollo 11 landed on the Moon in 1969."], metadatas=[{"file": "space.md"}])  # doctest: +SKIP
        >>> mem.search("When did humans land on the Moon?", top_k=1)[0].text  # doctest: +SKIP
        'Apollo 11 landed on the Moon in 1969.'
    """

    def __init__(
        self,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        *,
        embedding_model: Any = None,
        client: Any = None,
        as_of: int | None = None,
        cache_size: int = 512,
        n_workers: int | None = None,
        owns_files: bool = True,
    ) -> None:
        super().__init__(video_file, index_file, embedding_model=embedding_model, client=client, as_of=as_of,
                         cache_size=cache_size)
        self.n_workers = max(1, n_workers if n_workers is not None else min(2, os.cpu_count() or 1))
        self._promote = owns_files

    @classmethod
    def create(
        cls,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        *,
        embedding_model: Any = None,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
        client: Any = None,
        exist_ok: bool = False,
        overwrite: bool = False,
        n_workers: int | None = None,
    ) -> Memory:
        """Create an empty memory; a memory already there (its MP4 or its index) is opened or refused, never lost.

        Args:
            exist_ok: Open the memory already at these paths instead of raising :class:`MemoryExistsError`.
            overwrite: Replace whatever is there (a memory, or any other file at the video's path) with
                an empty memory, atomically.

        Raises:
            MemoryExistsError: A memory is there, and neither ``exist_ok`` nor ``overwrite`` was given.
            NotAMemoryError: A file that is not a memory is at the video's path and ``overwrite`` was not given.
        """
        from .storage import creation

        options = VideoOptions(codec, fps, frame_size, crf, qr_backend)
        if overwrite:
            return cls.build(video_file, index_file, [], embedding_model=embedding_model, codec=codec, fps=fps,
                             frame_size=frame_size, crf=crf, qr_backend=qr_backend, client=client,
                             n_workers=n_workers, overwrite=True)
        return creation.create(cls, Layout.of(video_file, index_file), embedding_model, options, client, exist_ok,
                               n_workers)

    @classmethod
    def build(
        cls,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        *,
        embedding_model: Any = None,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
        client: Any = None,
        n_workers: int | None = None,
        show_progress: bool = False,
        overwrite: bool = False,
    ) -> Memory:
        """Build a new memory from scratch, replacing any memory at the same paths only once the new one is complete.

        The new memory is written under temporary names and committed by one atomic rename of its
        index; if anything fails or the process dies first, the old memory is untouched. A memory
        that was there (a copied MP4 with no cache included) is replaced, and a warning on the
        ``memvid_base`` logger says how many chunks it held; a file that is not a memory is replaced
        only with ``overwrite=True``.
        """
        from .storage import creation, maintenance

        layout = Layout.of(video_file, index_file)
        found = creation.prepare_replace(cls, layout, overwrite)
        embedder, old = creation.build(cls, layout, texts, metadatas, ids, embedding_model,
                                       VideoOptions(codec, fps, frame_size, crf, qr_backend), client, n_workers,
                                       show_progress)
        final = cls(layout.video, layout.index, embedding_model=embedder, client=client, n_workers=n_workers)
        with final._transaction() as tx:
            tx.promote_base()
            if old is not None:
                maintenance.forget_replaced(layout, old, tx.m, final.open_store().client)
            creation.drop_foreign(layout, found, tx.m)
        final._adopt(tx)
        creation.announce_replaced(layout, old)
        return final

    def _transaction(self) -> WriteTransaction:
        if self.layout.read_only:
            raise InvalidInputError(
                f"This memory is read-only: it is read from {self.layout.source}. To change it, copy its MP4 into a "
                "folder you can write to and open that copy."
            )
        if self.as_of is not None:
            raise InvalidInputError(
                f"This memory was opened as_of={self.as_of} and is read-only; open the latest version to write."
            )
        self.fill_metadata()  # a memory rebuilt from its boxes gets its rows' user metadata before any change
        return WriteTransaction(self.layout, self._store_for, promote=self._promote, keywords=self._keywords)

    @contextlib.contextmanager
    def _write(self) -> Iterator[WriteTransaction]:
        """One write transaction under this object's lock, its manifest adopted once it committed."""
        with self._lock:
            tx = self._transaction()
            with self._adopting(tx), tx:
                yield tx

    @contextlib.contextmanager
    def _adopting(self, tx: WriteTransaction) -> Iterator[None]:
        """Adopt ``tx``'s manifest when the block ends well; when it raises, this object's readers stay on the
        last committed version (the writer's manifest, changed in place as it worked, is never shown to them:
        :meth:`MemoryView.use`)."""
        try:
            yield
        except BaseException:
            self._view.abandon_write()
            raise
        self._adopt(tx)

    def _store_for(self, manifest: Manifest) -> VectorStore:
        self._view.use(manifest)
        return self._view.store()

    def _adopt(self, tx: WriteTransaction) -> None:
        """Take on the manifest a transaction committed."""
        self._view.adopt(tx.m, tx.mtime)

    def _sink(self) -> SegmentSink:
        from .storage import ingest

        return ingest.SegmentSink(self.layout, self.settings, self.n_workers)

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: Sequence[Sequence[float]] | np.ndarray | None = None,
        *,
        show_progress: bool = False,
    ) -> list[str]:
        """Append chunks as one new version; an id that already exists is replaced (upsert).

        Returns the chunk ids, generated where none were given.  Nothing already written is re-encoded.
        """
        from .storage import ingest

        texts, metas, id_list = ingest.check_batch(texts, metadatas, ids)
        if not texts:
            return []
        vectors = None if embeddings is None else query.check_vectors(self.manifest, embeddings, len(texts))
        with self._write() as tx:
            return ingest.add(tx, self._sink(), self.embedder, texts, metas, id_list, vectors, show_progress)

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete chunks by id and/or metadata filter as one new version. Returns how many were deleted.

        ``delete()`` with neither argument raises; use :meth:`clear` to empty the memory.
        """
        from .storage import ingest

        if ids is None and where is None:
            raise InvalidInputError("delete() needs ids or a where filter; call clear() to delete everything.")
        if where is not None:
            validate_where(where)
        with self._write() as tx:
            hits: list[Hit] = []
            if ids is not None:
                hits.extend(tx.store.live_rows_for(query.check_ids(ids), tx.m.version))
            if where is not None:
                hits.extend(tx.store.lookup(tx.m.version, where))
            return ingest.delete(tx, self._sink(), hits)

    def clear(self) -> None:
        """Delete every chunk as one new version (earlier versions stay readable until compaction)."""
        from .storage import ingest

        with self._write() as tx:
            ingest.clear(tx, self._sink())


    def compact(self, keep_history: bool = False, show_progress: bool = False) -> dict[str, int]:
        """Rewrite the live chunks into one fresh segment, keeping ids, metadata and vectors.

        Without ``keep_history`` the old segments and dead vector rows are deleted afterwards, and
        versions before the compaction can no longer be opened with ``as_of``.
        """
        from .storage import maintenance

        with self._write() as tx:
            out = maintenance.compact(tx, self.segments, self._sink(), self._view.fresh_store, keep_history, show_progress)
        self._view.collect_old_stores(self._promote)
        return out

    def rebuild_index(self, show_progress: bool = False) -> int:
        """Recreate the vector store from the video alone: decode every segment, replay versions, re-embed.

        Returns the number of live chunks. With the same embedding model, searches return the same results.
        """
        from .storage import ingest, maintenance

        with self._lock, WriterLock(self.layout.lock):
            tx = WriteTransaction(self.layout, self._store_for, promote=self._promote)
            tx.manifest = read_manifest(self.layout.index)
            with self._adopting(tx):
                self._view.use(tx.m)
                self._view.forget_store()
                ingest.check_dimension(tx.m, self.embedder)
                live = maintenance.rebuild_store(tx, self.segments, self.embedder.embed_many, self._view.fresh_store,
                                                 show_progress)
        self._view.collect_old_stores(self._promote)
        return live

    def repair(self, show_progress: bool = False) -> dict[str, Any]:
        """Rebuild what can be rebuilt from the video; report what cannot.

        Drops vector rows newer than the manifest (a restored older index), rebuilds the vector store
        from the video when its rows disagree with the frames, and lists damaged segments, whose
        chunks only a backup can bring back.
        """
        with self._lock, WriterLock(self.layout.lock):
            store = self._view.store()
            dropped = len(store.rows_after(self.manifest.version))
            if dropped:
                store.undo_after(self.manifest.version)
            for marker in (self.layout.pending_marker, self.layout.legacy_pending_marker):
                if marker is not None:
                    unlink_file(marker, "a memory's pending marker")  # a folder there is refused, not a raw error
            self._view.consistent = True
        report = self.verify(show_progress)
        rebuilt = False
        if not report.ok and not report.bad_segments:
            self.rebuild_index(show_progress)
            rebuilt, report = True, self.verify(show_progress)
        return {"dropped_newer_rows": dropped, "rebuilt_store": rebuilt, "live_chunks": report.live_chunks,
                "ok": report.ok, "unrecoverable": sorted(set(report.bad_segments)), "errors": report.errors}


    def export(self, path: str | os.PathLike[str], show_progress: bool = False, overwrite: bool = False) -> dict[str, Any]:
        """Write every live chunk, with its vectors, into one self-contained MP4 at ``path``; this memory is unchanged.

        A file already at ``path`` is replaced only with ``overwrite=True``.

        ``Memory(path)`` opens the file alone, anywhere, without re-embedding. See
        :func:`memvid_base.storage.export.export_memory` for the figures returned and what is refused.
        """
        from .storage.export import export_memory

        return export_memory(self, path, show_progress, overwrite)
