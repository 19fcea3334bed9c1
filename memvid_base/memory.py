"""``Memory``: a versioned, appendable video memory. Every other API in memvid is built on it.

``Memory`` is a facade over small layers, each in its own module: :mod:`~memvid_base.layout` (where
the files are), :mod:`~memvid_base.transaction` (lock, repair, commit), :mod:`~memvid_base.ingest`
(new chunks into a version), :mod:`~memvid_base.vectors` (the row schema over Chroma),
:mod:`~memvid_base.reader` (text decoded from frames) and :mod:`~memvid_base.maintenance`
(verify, compact, rebuild).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import creation, fusion, ingest, maintenance, query, recovery, retrieval
from . import query as _query  # mmr_search has a parameter named query
from .config import VideoOptions, VideoSettings
from .doc_filter import validate_where_document
from .embeddings import Embedder
from .errors import CorruptMemoryError, InvalidInputError, MemoryNotFoundError, StoreError
from .keyword_cache import KeywordCache
from .layout import Layout, default_index_path, resolve_paths
from .maintenance import VerifyReport
from .manifest import Manifest, WriterLock, read_manifest
from .mmr import maximal_marginal_relevance
from .segments import SegmentCache
from .transaction import WriteTransaction, collect_old_stores, new_uid, rolled_back_message
from .types import Chunk, Hit
from .vectors import VectorStore, open_client, validate_where
from .view import MemoryView

_R = TypeVar("_R")

__all__ = ["Chunk", "Memory", "VerifyReport", "default_index_path", "resolve_paths"]


class Memory:
    """A searchable text memory stored as QR frames in MP4 files, with vectors in Chroma.

    Args:
        video_file: The memory's video (``kb.mp4``) or its index (``kb_index.json``).
        index_file: The manifest path; defaults to ``<video stem>_index.json`` beside the video.
        embedding_model: See :class:`memvid_base.embeddings.Embedder`. Its dimension must match the memory's.
        client: Any ``chromadb`` client (e.g. ``chromadb.HttpClient``); default: a ``PersistentClient`` beside the index.
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
        if as_of is not None and (not isinstance(as_of, int) or isinstance(as_of, bool)):
            raise InvalidInputError(f"as_of must be an integer version, got {as_of!r}.")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise InvalidInputError(f"cache_size must be a positive integer, got {cache_size!r}.")
        self.layout = Layout.of(video_file, index_file)
        self.embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        self.as_of = as_of
        self.n_workers = max(1, n_workers if n_workers is not None else min(2, os.cpu_count() or 1))
        self._lock = threading.RLock()
        self._promote = owns_files
        if not self.layout.index.exists() and self.layout.video.is_file() and as_of is None:
            recovery.recover(self.layout, client)  # the index is a cache: rebuild it (and the store) from the video
        self._view = MemoryView(self.layout, client, as_of, cache_size)
        self._keywords = KeywordCache(self.layout.keyword_dir, self.layout.index)
        self._consistent = False  # checked on first use of the store

    @property
    def manifest(self) -> Manifest:
        """The manifest of the version this memory reads."""
        return self._view.manifest

    @property
    def settings(self) -> VideoSettings:
        return self._view.settings

    @property
    def video_path(self) -> Path:
        return self.layout.video

    @property
    def index_path(self) -> Path:
        return self.layout.index

    @property
    def root(self) -> Path:
        return self.layout.root

    # ------------------------------------------------------------------ opening and creating

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
        n_workers: int | None = None,
    ) -> Memory:
        """Create an empty memory (or open it if ``exist_ok`` and it exists)."""
        options = VideoOptions(codec, fps, frame_size, crf, qr_backend)
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
    ) -> Memory:
        """Build a new memory from scratch, replacing any memory at the same paths only once the new one is complete.

        The new memory is written under temporary names and committed by one atomic rename of its
        index; if anything fails or the process dies first, the old memory is untouched.
        """
        layout = Layout.of(video_file, index_file)
        embedder, old = creation.build(cls, layout, texts, metadatas, ids, embedding_model,
                                       VideoOptions(codec, fps, frame_size, crf, qr_backend), client, n_workers,
                                       show_progress)
        final = cls(layout.video, layout.index, embedding_model=embedder, client=client, n_workers=n_workers)
        with final._transaction() as tx:
            tx.promote_base()
            if old is not None:
                maintenance.forget_replaced(layout, old, tx.m, final.open_store().client)
        final._adopt(tx)
        return final

    def refresh(self) -> bool:
        """Reload the manifest if another process committed a change. Returns True if it did.

        A memory opened ``as_of`` a version keeps reading that version, and raises
        :class:`VersionNotAvailableError` once a compaction has removed it.
        """
        return self._view.refresh()

    def open_store(self, create: bool = False) -> VectorStore:
        """The vector store of the version this memory reads (opened on first use).

        On first use it checks that the store holds no versions newer than the manifest (which
        happens when an old manifest is restored over a newer memory) unless a writer is at work.
        """
        store = self._view.store(create)
        if not self._consistent and self.as_of is None:
            if not self.layout.pending_marker.exists() and store.rows_after(self.manifest.version):
                if self.refresh():  # a writer committed between our reads: check the newer manifest
                    return self.open_store(create)
                raise CorruptMemoryError(rolled_back_message(self.layout, self.manifest.version))
            self._consistent = True
        return store

    def _transaction(self) -> WriteTransaction:
        if self.as_of is not None:
            raise InvalidInputError(
                f"This memory was opened as_of={self.as_of} and is read-only; open the latest version to write."
            )
        return WriteTransaction(self.layout, self._store_for, promote=self._promote, keywords=self._keywords)

    def _store_for(self, manifest: Manifest) -> VectorStore:
        self._view.use(manifest)
        return self._view.store()

    def _fresh_store(self) -> tuple[VectorStore, dict[str, str]]:
        """An empty store for a new version: a new folder for our own client, a new collection for a server's."""
        collection = f"mv_{new_uid()}"
        dim = self.manifest.embedding.get("dimension")
        if not self._view.owns_client:
            return VectorStore(self._view.client, collection, dim, create=True), {"collection": collection}
        name = self.layout.new_store_dir(new_uid())
        (self.layout.root / name).mkdir()
        client = open_client(self.layout.resolve(name, "store.path"), fresh=True)
        return VectorStore(client, collection, dim, create=True), {"path": name, "collection": collection}

    def _collect_old_stores(self) -> None:
        if self._promote and self._view.owns_client:
            self.open_store()  # moves this process's readers lock to the new store
            collect_old_stores(self.layout, self.manifest)

    def _adopt(self, tx: WriteTransaction) -> None:
        """Take on the manifest a transaction committed."""
        self._view.adopt(tx.m, tx.mtime)

    def _sink(self) -> ingest.SegmentSink:
        return ingest.SegmentSink(self.layout, self.settings, self.n_workers)

    @property
    def segments(self) -> SegmentCache:
        """The decoded-frame cache over this memory's segments."""
        return self._view.segments

    @property
    def version(self) -> int:
        """The version this memory object reads: ``as_of`` if given, else the latest committed one."""
        return self.manifest.version if self.as_of is None else self.as_of

    @property
    def dimension(self) -> int | None:
        """The dimension of the memory's vectors (None for a new memory that holds none yet)."""
        dim = self.manifest.embedding.get("dimension")
        return int(dim) if dim else None

    def __len__(self) -> int:
        return self.manifest.live_chunks if self.as_of is None else len(self.open_store().lookup(self.version))

    # ------------------------------------------------------------------ writing

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
        texts, metas, id_list = ingest.check_batch(texts, metadatas, ids)
        if not texts:
            return []
        vectors = None if embeddings is None else query.check_vectors(self.manifest, embeddings, len(texts))
        with self._lock, self._transaction() as tx:
            out = ingest.add(tx, self._sink(), self.embedder, texts, metas, id_list, vectors, show_progress)
        self._adopt(tx)
        return out

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete chunks by id and/or metadata filter as one new version. Returns how many were deleted.

        ``delete()`` with neither argument raises; use :meth:`clear` to empty the memory.
        """
        if ids is None and where is None:
            raise InvalidInputError("delete() needs ids or a where filter; call clear() to delete everything.")
        if where is not None:
            validate_where(where)
        with self._lock, self._transaction() as tx:
            hits: list[Hit] = []
            if ids is not None:
                hits.extend(tx.store.live_rows_for([str(i) for i in ids], tx.m.version))
            if where is not None:
                hits.extend(tx.store.lookup(tx.m.version, where))
            count = ingest.delete(tx, self._sink(), hits)
        self._adopt(tx)
        return count

    def clear(self) -> None:
        """Delete every chunk as one new version (earlier versions stay readable until compaction)."""
        with self._lock, self._transaction() as tx:
            ingest.clear(tx, self._sink())
        self._adopt(tx)


    def use_embedder(self, embedding_model: Any) -> None:
        """Embed with another model from now on; it must give vectors of the memory's dimension."""
        embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        if embedder.known_dimension is not None:
            self.require_dimension(embedder.known_dimension)
        self.embedder = embedder

    def require_dimension(self, dim: int) -> None:
        """Raise :class:`DimensionMismatchError` unless vectors of ``dim`` dimensions fit this memory."""
        query.require_dimension(self.manifest, dim)

    # ------------------------------------------------------------------ reading

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector, from the memory's embedding model."""
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a str, got {type(query).__name__}.")
        if self.dimension is None:
            return self.embedder.embed_query(query)
        ingest.check_dimension(self.manifest, self.embedder)
        return self.embedder.embed_query(query)

    def search(
        self,
        query: str,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        *,
        mode: str = "vector",
        where_document: Mapping[str, Any] | None = None,
        alpha: float | None = None,
    ) -> list[Chunk]:
        """Search; returns up to ``top_k`` chunks, best first, with text decoded from the video.

        Args:
            query: What to look for.
            top_k: How many chunks to return.
            where: A metadata filter, as in Chroma (``{"file": "a.md"}``, ``$and``, ``$gte``...).
            mode: ``"vector"`` (semantic), ``"keyword"`` (BM25) or ``"hybrid"`` (both, fused by rank).
            where_document: Keep chunks whose text matches, e.g. ``{"$contains": "zstd"}``.
            alpha: Hybrid weight of the vector side, 0..1 (default 0.3: exact words count more).
        """
        return self.retrieve(query, None, top_k, where, mode=mode, where_document=where_document, alpha=alpha)

    def search_by_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        include_embeddings: bool = False,
        *,
        ids: Sequence[str] | None = None,
        where_document: Mapping[str, Any] | None = None,
    ) -> list[Chunk]:
        """Like :meth:`search` for a query vector. ``ids`` restricts the search to those chunk ids."""
        return self.retrieve(None, vector, top_k, where, ids=ids, where_document=where_document,
                             include_embeddings=include_embeddings)

    def retrieve(
        self,
        text: str | None,
        vector: Sequence[float] | np.ndarray | None,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        *,
        mode: str = "vector",
        ids: Sequence[str] | None = None,
        where_document: Mapping[str, Any] | None = None,
        alpha: float | None = None,
        include_embeddings: bool = False,
    ) -> list[Chunk]:
        """Every search in one call: query text and/or vector, any mode, filters and id restriction.

        The vector is made from ``text`` when not given (vector and hybrid modes); keyword and hybrid
        modes need ``text``.
        """
        def run() -> list[Chunk]:
            ranker, req = self._plan(text, vector, top_k, where, mode, ids, where_document, alpha, include_embeddings)
            return ranker.search(req)

        return self._reading(run)

    def _reading(self, read: Callable[[], _R]) -> _R:
        """Run a read; if it fails because another process committed meanwhile (a compaction moved the
        files), read again at the new version. A failure at an unchanged version is real and raised."""
        try:
            return read()
        except (CorruptMemoryError, MemoryNotFoundError, StoreError):
            if self.as_of is None and self.refresh():
                return read()
            raise

    def _plan(
        self, text: str | None, vector: Any, top_k: int, where: Any, mode: str, ids: Sequence[str] | None,
        where_document: Any, alpha: float | None, embeddings: bool,
    ) -> tuple[retrieval.Ranker, retrieval.SearchRequest]:
        mode = retrieval.check_mode(mode)
        query.check_count(top_k, "top_k")
        if where_document is not None:
            validate_where_document(where_document)
        if mode != "vector" and (not isinstance(text, str) or not text.strip()):
            raise InvalidInputError(f"{mode} search needs the query text, got {text!r}.")
        if vector is None and mode != "keyword":
            if text is None:
                raise InvalidInputError("Give a query text or a query vector.")
            vector = self.embed_query(text)
        self.refresh()  # before planning: the query is checked against the version it will read
        m = self.manifest
        if where is not None:
            validate_where(where)
        vec = None
        if vector is not None:
            vec = query.as_vector(vector)
            query.require_dimension(m, vec.shape[0])
        weight = retrieval.DEFAULT_ALPHA if alpha is None else alpha
        fusion.alpha_weights(weight)  # validates
        req = retrieval.SearchRequest(text, vec, top_k, mode, where, None if ids is None else tuple(str(i) for i in ids),
                                      where_document, weight, embeddings)
        store = self.open_store()
        ranker = retrieval.Ranker(store, m, self.version, self.as_of is None,
                                  lambda: self._keywords.ready(m, self.segments, store), self._materialize)
        return ranker, req

    def mmr_search(
        self,
        query: str | None = None,
        top_k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        where: Mapping[str, Any] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        *,
        ids: Sequence[str] | None = None,
        mode: str = "vector",
        where_document: Mapping[str, Any] | None = None,
        alpha: float | None = None,
    ) -> list[Chunk]:
        """Maximal marginal relevance over the mode's candidates: relevant to the query and diverse."""
        if not 0.0 <= lambda_mult <= 1.0:
            raise InvalidInputError(f"lambda_mult must be in [0, 1], got {lambda_mult}.")
        if vector is None:
            if query is None:
                raise InvalidInputError("mmr_search needs a query or a vector.")
            vector = self.embed_query(query)
        pool = self.retrieve(query, vector, max(fetch_k, top_k), where, mode=mode, ids=ids,
                             where_document=where_document, alpha=alpha, include_embeddings=True)
        if not pool:
            return []
        picked = maximal_marginal_relevance(_query.as_vector(vector), retrieval.embeddings_of(pool), lambda_mult, top_k)
        return [pool[k] for k in picked]

    def get_by_ids(self, ids: Sequence[str], include_embeddings: bool = False) -> list[Chunk]:
        """The current version of each id that exists, in the order asked; unknown ids are skipped."""
        wanted = [str(i) for i in ids]

        def run() -> list[Chunk]:
            self.refresh()
            found = {h.row.chunk_id: h for h in self.open_store().lookup(self.version, None, wanted, include_embeddings)}
            return self._materialize([found[i] for i in dict.fromkeys(wanted) if i in found])

        return self._reading(run)

    def get(
        self, where: Mapping[str, Any] | None = None, limit: int | None = None, *, ids: Sequence[str] | None = None
    ) -> list[Chunk]:
        """Chunks matching a metadata filter (all live chunks if None), in insertion order."""
        if limit is not None:
            query.check_count(limit, "limit")
        if where is not None:
            validate_where(where)
        chunk_ids = None if ids is None else [str(i) for i in ids]

        def run() -> list[Chunk]:
            self.refresh()
            hits = sorted(self.open_store().lookup(self.version, where, chunk_ids, limit=limit),
                          key=lambda h: (h.row.v0, h.row.frame))
            return self._materialize(hits[:limit] if limit else hits)

        return self._reading(run)

    def frame_pixels(self, segment: str, frame: int) -> np.ndarray:
        """The grayscale pixels of one video frame: ``segment`` is a segment file as in :attr:`Chunk.segment`."""
        self.refresh()
        seg = next((s for s in self.manifest.segments if s.file and s.file == segment), None)
        if seg is None:
            raise InvalidInputError(f"{segment!r} is not a segment of this memory version.")
        if not isinstance(frame, int) or not 0 <= frame < seg.frames:
            raise InvalidInputError(f"Frame {frame!r} is outside 0..{seg.frames - 1} of {segment}.")
        return self.segments.reader(seg).read(frame)

    def _materialize(self, hits: Sequence[Hit]) -> list[Chunk]:
        return self._view.materialize(hits)

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every live chunk, decoded from the video, in insertion order."""
        yield from self.get()

    # ------------------------------------------------------------------ integrity and maintenance

    def verify(self, show_progress: bool = False) -> VerifyReport:
        """Decode every frame of every segment and check every checksum against the manifest and the store."""
        self.refresh()
        pending = self.layout.pending_marker.exists()
        store = self._view.store()  # not open_store(): verify reports a rolled-back index instead of raising
        return maintenance.verify(self.manifest, self.segments, store, self.version, pending, show_progress)

    def compact(self, keep_history: bool = False, show_progress: bool = False) -> dict[str, int]:
        """Rewrite the live chunks into one fresh segment, keeping ids, metadata and vectors.

        Without ``keep_history`` the old segments and dead vector rows are deleted afterwards, and
        versions before the compaction can no longer be opened with ``as_of``.
        """
        with self._lock, self._transaction() as tx:
            out = maintenance.compact(tx, self.segments, self._sink(), self._fresh_store, keep_history, show_progress)
        self._adopt(tx)
        self._collect_old_stores()
        return out

    def rebuild_index(self, show_progress: bool = False) -> int:
        """Recreate the vector store from the video alone: decode every segment, replay versions, re-embed.

        Returns the number of live chunks. With the same embedding model, searches return the same results.
        """
        with self._lock, WriterLock(self.layout.index):
            tx = WriteTransaction(self.layout, self._store_for, promote=self._promote)
            tx.manifest = read_manifest(self.layout.index)
            self._view.use(tx.m)
            self._view.forget_store()
            ingest.check_dimension(tx.m, self.embedder)
            live = maintenance.rebuild_store(tx, self.segments, self.embedder.embed_many, self._fresh_store, show_progress)
        self._adopt(tx)
        self._collect_old_stores()
        return live

    def repair(self, show_progress: bool = False) -> dict[str, Any]:
        """Rebuild what can be rebuilt from the video; report what cannot.

        Drops vector rows newer than the manifest (a restored older index), rebuilds the vector store
        from the video when its rows disagree with the frames, and lists damaged segments, whose
        chunks only a backup can bring back.
        """
        with self._lock, WriterLock(self.layout.index):
            store = self._view.store()
            dropped = len(store.rows_after(self.manifest.version))
            if dropped:
                store.undo_after(self.manifest.version)
            self.layout.pending_marker.unlink(missing_ok=True)
            self._consistent = True
        report = self.verify(show_progress)
        rebuilt = False
        if not report.ok and not report.bad_segments:
            self.rebuild_index(show_progress)
            rebuilt, report = True, self.verify(show_progress)
        return {"dropped_newer_rows": dropped, "rebuilt_store": rebuilt, "live_chunks": report.live_chunks,
                "ok": report.ok, "unrecoverable": sorted(set(report.bad_segments)), "errors": report.errors}

    def info(self) -> dict[str, Any]:
        """Figures about the memory: chunks, frames, versions, codec, sizes, ratio to raw text, model."""
        self.refresh()
        return maintenance.info(self.layout, self.manifest, self.settings)

    def history(self) -> list[dict[str, Any]]:
        """Every retained version: number, time, operation, live chunks and a note."""
        return [vars(v).copy() for v in self.manifest.versions]

    def clear_cache(self) -> None:
        """Forget decoded frames, so the next reads decode from the video again."""
        self.segments.clear()

    def close(self) -> None:
        """Close the video readers and drop decoded frames (the memory can be used again; files reopen lazily)."""
        self._view.close()
        self._keywords.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self.layout.video)!r}, version={self.version}, chunks={self.manifest.live_chunks})"
