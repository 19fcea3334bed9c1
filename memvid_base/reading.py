"""``MemoryReader``: a memory opened for reading: search, lookups, time travel, verification.

It holds a :class:`~memvid_base.view.MemoryView` (what one reader sees) and plans reads through
:mod:`~memvid_base.index.retrieval` and :mod:`~memvid_base.index.query`; text always comes from the video
(:mod:`~memvid_base.index.reader`).  :class:`~memvid_base.memory.Memory` adds writing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .boundary import public_errors
from .config import VideoSettings
from .embeddings import Embedder
from .errors import CorruptMemoryError, InvalidInputError, MemoryNotFoundError, StoreError
from .files.layout import Layout
from .files.locate import locate
from .files.manifest import Manifest
from .files.segments import SegmentCache
from .index import query, retrieval
from .index import query as _query  # mmr_search has a parameter named query
from .index.keyword_cache import KeywordCache
from .index.mmr import maximal_marginal_relevance
from .index.vectors import VectorStore, validate_where
from .storage import lazy_metadata, recovery

if TYPE_CHECKING:
    from .storage.maintenance import VerifyReport
from .types import Chunk, Hit
from .view import MemoryView

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11 on; the import costs readers 4 ms

_R = TypeVar("_R")
_READ_ATTEMPTS = 16  # retried only while other processes keep committing; a compaction is ~4 quick commits (commit, promote, ...)


def _open_cache(layout: Layout, client: Any, as_of: int | None) -> None:
    """Make the index match the MP4 before anything reads it: the MP4 is the memory, the index a cache.

    A missing index is rebuilt from the MP4 (a copied file, a deleted cache folder); one that describes
    another MP4 is dropped first. Nothing at the paths, or a file that is not a memory, raises before any
    cache folder is made.
    """
    if layout.read_only:
        recovery.refresh_mirror(layout)
    elif layout.index.exists():
        if as_of is None:
            recovery.drop_stale_index(layout)
    else:
        locate(layout.video, layout.index).require()
    if layout.index.exists() or as_of is not None:
        return
    fresh = not layout.cache.exists()
    try:
        recovery.recover(layout, client)  # the index is a cache: rebuild it (and the store) from the video
    except BaseException:
        if fresh and layout.source is None and not layout.index.exists():
            import shutil  # imported here: it loads bz2 and lzma, which readers never need
            shutil.rmtree(layout.cache, ignore_errors=True)  # leave no empty cache folder behind a failed open
        raise


@public_errors  # bad arguments raise InvalidInputError, never a raw traceback (boundary.py)
class MemoryReader:
    """A memory opened for reading. See :class:`~memvid_base.memory.Memory` for the arguments."""

    def __init__(
        self,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        *,
        embedding_model: Any = None,
        client: Any = None,
        as_of: int | None = None,
        cache_size: int = 512,
    ) -> None:
        if as_of is not None and (not isinstance(as_of, int) or isinstance(as_of, bool)):
            raise InvalidInputError(f"as_of must be an integer version, got {as_of!r}.")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise InvalidInputError(f"cache_size must be a positive integer, got {cache_size!r}.")
        self.layout = Layout.of(video_file, index_file)
        _open_cache(self.layout, client, as_of)
        self.embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        self.as_of = as_of
        self._lock = threading.RLock()
        self._view = MemoryView(self.layout, client, as_of, cache_size)
        self._keywords = KeywordCache(self.layout.keyword_dir, self.layout.index)

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
        return self._view.checked_store(create)

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

    def use_embedder(self, embedding_model: Any) -> None:
        """Embed with another model from now on; it must give vectors of the memory's dimension."""
        embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        if embedder.known_dimension is not None:
            self.require_dimension(embedder.known_dimension)
        self.embedder = embedder

    def require_dimension(self, dim: int) -> None:
        """Raise :class:`DimensionMismatchError` unless vectors of ``dim`` dimensions fit this memory."""
        query.require_dimension(self.manifest, dim)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector, from the memory's embedding model."""
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a str, got {type(query).__name__}.")
        if self.dimension is None:
            return self.embedder.embed_query(query)
        from .storage import ingest  # the write path's check; a keyword-only process never loads it

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
        return self._retrieve(query, None, top_k, where, mode, None, where_document, alpha, False)

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
        return self._retrieve(None, vector, top_k, where, "vector", ids, where_document, None, include_embeddings)

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
        return self._retrieve(text, vector, top_k, where, mode, ids, where_document, alpha, include_embeddings)

    def _retrieve(
        self, text: str | None, vector: Sequence[float] | np.ndarray | None, top_k: int, where: Mapping[str, Any] | None,
        mode: str, ids: Sequence[str] | None, where_document: Mapping[str, Any] | None, alpha: float | None,
        include_embeddings: bool,
    ) -> list[Chunk]:
        # What every public search calls: one boundary wrapper per call, not one per layer (each costs a microsecond).
        def run() -> list[Chunk]:
            ranker, req = self._plan(text, vector, top_k, where, mode, ids, where_document, alpha, include_embeddings)
            return ranker.search(req)

        return self._reading(run)

    def _reading(self, read: Callable[[], _R]) -> _R:
        """Run a read; if it fails because another process committed meanwhile (a compaction moved the
        files), read again at the new version. A failure at an unchanged version is real and raised."""
        for attempt in range(_READ_ATTEMPTS):
            try:
                return read()
            except (CorruptMemoryError, MemoryNotFoundError, StoreError):
                # A writer's commit and its follow-up (promoting kb.mp4) can land between two reads.
                if attempt + 1 == _READ_ATTEMPTS or self.as_of is not None or not self.refresh():
                    raise
        raise AssertionError("unreachable")

    def _plan(
        self, text: str | None, vector: Any, top_k: int, where: Any, mode: str, ids: Sequence[str] | None,
        where_document: Any, alpha: float | None, embeddings: bool,
    ) -> tuple[retrieval.Ranker, retrieval.SearchRequest]:
        mode = retrieval.check_inputs(mode, top_k, text, vector, where_document)
        if vector is None and mode != "keyword":
            vector = self.embed_query(text or "")
        self._view.refresh()  # before planning: the query is checked against the version it will read
        if where is not None or mode != "vector" or where_document is not None:
            self.fill_metadata()  # filters and keyword search need what only the frames hold
        m = self.manifest
        req = retrieval.build_request(m, text, vector, top_k, mode, where, ids, where_document, alpha, embeddings)
        store = self.open_store()
        ranker = retrieval.Ranker(store, m, self.version, self.as_of is None,
                                  lambda: self._keywords.ready(m, self.segments, store), self._materialize)
        return ranker, req

    def fill_metadata(self, show_progress: bool | None = None) -> bool:
        """Make sure the store holds every row's user metadata; True if this call read the frames to fill it in.

        A read-only memory opens from its segments' boxes alone; the first search that filters on
        metadata (or searches by keyword) reads every frame once to fill it in
        (:mod:`~memvid_base.storage.lazy_metadata`).  Call this to pay that cost up front.
        """
        if not lazy_metadata.is_pending(self.manifest):
            return False
        with self._lock:
            done = lazy_metadata.backfill(self.layout, self._view, self._keywords, show_progress)
            self.refresh()
            self._view.manifest.store.pop(lazy_metadata.PENDING_KEY, None)  # a view held at as_of keeps its copy
        return done

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
        wanted = query.check_ids(ids)

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
        chunk_ids = None if ids is None else query.check_ids(ids)

        def run() -> list[Chunk]:
            self.refresh()
            if where is not None:
                self.fill_metadata()
            hits = sorted(self.open_store().lookup(self.version, where, chunk_ids, limit=limit),
                          key=lambda h: (h.row.v0, h.row.frame))
            return self._materialize(hits[:limit] if limit else hits)

        return self._reading(run)

    def frame_pixels(self, segment: str, frame: int) -> np.ndarray:
        """The grayscale pixels of one video frame: ``segment`` is a segment file as in :attr:`Chunk.segment`."""
        self.refresh()
        return self._view.frame_pixels(segment, frame)

    def _materialize(self, hits: Sequence[Hit]) -> list[Chunk]:
        return self._view.materialize(hits)

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every live chunk, decoded from the video, in insertion order."""
        yield from self.get()

    def verify(self, show_progress: bool = False) -> VerifyReport:
        """Decode every frame of every segment and check every checksum against the manifest and the store."""
        self.refresh()
        pending = self.layout.writer_pending()
        store = self._view.store()  # not open_store(): verify reports a rolled-back index instead of raising
        from .storage import maintenance

        return maintenance.verify(self.manifest, self.segments, store, self.version, pending, show_progress)

    def info(self) -> dict[str, Any]:
        """Figures about the memory: chunks, frames, versions, codec, sizes, ratio to raw text, model."""
        self.refresh()
        from .storage import maintenance

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self.layout.video)!r}, version={self.version}, chunks={self.manifest.live_chunks})"
