"""LangChain ``VectorStore`` over a memvid memory: text in MP4 QR frames, vectors in Chroma."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from pydantic import ValidationError
from typing_extensions import Self

from memvid_base import (
    Chunk,
    Embedder,
    InvalidInputError,
    Memory,
    UnexpectedArgumentError,
    memory_exists,
    public_errors,
    relevance,
)

from .embeddings import MemvidEmbeddings
from .retrievers import MemvidVectorStoreRetriever

__all__ = ["MemvidVectorStore", "MemvidVectorStoreRetriever", "chunk_to_document"]

PathLike = str | os.PathLike[str]
SEARCH_TYPES = ("similarity", "similarity_score_threshold", "mmr", "hybrid", "keyword")


def chunk_to_document(chunk: Chunk) -> Document:
    """A memvid chunk as a LangChain ``Document``: decoded text, the user's metadata, and the chunk id."""
    # Copy the metadata so a caller's edits cannot reach anything the core holds.
    return Document(page_content=chunk.text, metadata=copy.deepcopy(chunk.metadata), id=chunk.id)


def _fill_ids(ids: Sequence[str | None] | None, n: int) -> list[str]:
    """The ids to store under: the given ones as strings, a random UUID where none was given."""
    return [str(i) if i is not None else str(uuid.uuid4()) for i in (ids if ids is not None else [None] * n)]


def _core_embedder(embedding: Embeddings) -> Embedder:
    """What the core ``Memory`` should embed with: the core model itself for ``MemvidEmbeddings``."""
    if isinstance(embedding, MemvidEmbeddings):
        return embedding.embedder
    label = getattr(embedding, "model", None) or getattr(embedding, "model_name", None) or ""
    return Embedder.from_functions(
        embedding.embed_documents, embedding.embed_query, name=f"langchain:{type(embedding).__name__}:{label}",
        source=embedding,
    )


def _resolve_where(filter: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Turn a ``filter`` (or Chroma-style ``where``) into a Chroma where; reject arguments that cannot be honoured.

    A dict with several keys, such as ``{"file": "a.md", "page": 2}``, is wrapped in ``$and`` by the core.
    ``kwargs`` must hold nothing else (``where_document`` is taken out first by :func:`_resolve_filters`).
    """
    where = kwargs.pop("where", None)
    if filter is not None and where is not None:
        raise InvalidInputError("Pass the metadata filter as filter= or where=, not both.")
    if kwargs:
        raise UnexpectedArgumentError(f"Unexpected keyword arguments: {', '.join(sorted(kwargs))}.")
    chosen = filter if filter is not None else where
    return dict(chosen) if chosen else None


def _no_more(kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise UnexpectedArgumentError(f"Unexpected search arguments: {', '.join(sorted(kwargs))}.")


def _resolve_filters(
    filter: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> tuple[dict[str, Any] | None, Any]:
    """``(where, where_document)`` for a search: the metadata filter and the text filter, as Chroma takes them."""
    where_document = kwargs.pop("where_document", None)
    return _resolve_where(filter, kwargs), (where_document or None)


# A bad argument raises InvalidInputError, as in the core; pydantic's ValidationError (a retriever's bad search_type)
# passes through, as LangChain callers expect.
@public_errors(keep=(ValidationError,))
class MemvidVectorStore(VectorStore):
    """A memvid memory as a LangChain vector store.

    Each text is stored in a QR code inside an MP4 video (the source of truth) and its vector in a
    Chroma collection beside it. Every document a search returns was decoded from the video.

    Setup:
        Install ``memvid-rag``; everything runs offline. With no ``embedding``, the store uses
        :class:`~memvid_langchain.MemvidEmbeddings` (all-MiniLM-L6-v2, bundled). Any LangChain
        ``Embeddings`` works instead; its vectors (scaled to unit length) are the ones stored. A
        memory must always be opened with the model it was built with.

    Distance and scores:
        The index uses **cosine** distance. ``similarity_search_with_score`` returns that distance
        (in ``[0, 2]``, lower is more similar, like ``Chroma``).
        ``similarity_search_with_relevance_scores`` returns ``1 - distance / 2``, always in
        ``[0, 1]``, higher is more similar.

    Filters:
        ``filter`` is a Chroma ``where`` on metadata: ``{"file": "a.md"}``,
        ``{"page": {"$gte": 3}}``, ``{"$or": [...]}``. A dict with several keys, such as
        ``{"file": "a.md", "page": 2}``, means all of them; it is wrapped in the ``$and`` Chroma
        requires. Only ``str``, ``int``, ``float`` and ``bool`` metadata values can be filtered on,
        but every JSON value is stored and returned exactly as given.

        ``where_document`` filters on the text, with langchain-chroma's meaning:
        ``{"$contains": "zstd"}`` (case-sensitive substring), ``{"$not_contains": "gzip"}`` and
        ``{"$and": [...]}`` / ``{"$or": [...]}`` of them. Every search method takes it. Candidates
        come from the keyword index and each match is confirmed on the text decoded from the video,
        so nothing that fails the filter is returned. ``$regex`` is refused.

    Search types:
        Besides ``similarity``, ``mmr`` and ``similarity_score_threshold``, :meth:`as_retriever`
        takes ``search_type="hybrid"`` (BM25 and vectors fused by reciprocal rank; ``alpha`` in
        ``search_kwargs`` weights the vector side, default 0.3) and ``"keyword"`` (BM25 only). The
        same searches are :meth:`hybrid_search` and :meth:`keyword_search`.

    Ids and deletion:
        ``add_documents`` upserts: a document whose ``id`` (or ``ids=`` entry) already exists
        replaces it. Documents without an id get a random UUID. ``delete(ids)`` ignores unknown
        ids. ``delete()`` with neither ids nor a filter **raises** ``ValueError`` rather than
        emptying the store; call :meth:`clear` to delete everything.

    Async:
        The core is synchronous (local Chroma and video decoding), so the ``a*`` methods
        (``aadd_documents``, ``aget_by_ids``, ``adelete``, ``asimilarity_search``...) are
        LangChain's defaults, which run the sync methods in an executor; the retriever's
        ``hybrid`` and ``keyword`` searches do the same.

    Args:
        video_file: The memory's video (``kb.mp4``). Not needed when ``memory`` is given.
        index_file: Its index; found from the video when omitted (see :mod:`memvid_base.files.layout`).
        embedding: The LangChain embeddings; default :class:`~memvid_langchain.MemvidEmbeddings`.
        memory: An open core :class:`memvid_base.Memory` to wrap instead of paths.
        create: Create an empty memory if none exists at the paths (else raise
            ``MemoryNotFoundError``).
        client: A ``chromadb`` client for the vectors; default a persistent one in the memory's cache folder.
        codec: Video codec for a new memory: ``"av1"``, ``"h265"``, ``"h264"`` or ``"mp4v"``.
        fps: Frames per second for a new memory.
        frame_size: Frame size in pixels for a new memory (default: the codec's).
        crf: Quality for a new memory (default: the codec's).
        qr_backend: ``"zxing"`` or ``"qrcode"`` for a new memory.

    Example:
        >>> import os, tempfile
        >>> from memvid_langchain import MemvidVectorStore
        >>> folder = tempfile.mkdtemp()
        >>> store = MemvidVectorStore(os.path.join(folder, "kb.mp4"))
        >>> store.add_texts(
        ...     ["Apollo 11 landed on the Moon in 1969.", "Python was created by Guido van Rossum."],
        ...     metadatas=[{"file": "space.md"}, {"file": "python.md"}],
        ...     ids=["moon", "python"],
        ... )
        ['moon', 'python']
        >>> doc = store.similarity_search("When did humans land on the Moon?", k=1)[0]
        >>> doc.id, doc.page_content, doc.metadata
        ('moon', 'Apollo 11 landed on the Moon in 1969.', {'file': 'space.md'})
        >>> store.similarity_search("programming languages", k=1, filter={"file": "space.md"})[0].id
        'moon'
        >>> retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 1})
        >>> retriever.invoke("Who made Python?")[0].id
        'python'
        >>> store.as_retriever(search_type="hybrid", search_kwargs={"k": 1}).invoke("Guido")[0].id
        'python'
        >>> [d.id for d in store.similarity_search("space", k=2, where_document={"$contains": "Moon"})]
        ['moon']
    """

    def __init__(
        self,
        video_file: PathLike | None = None,
        index_file: PathLike | None = None,
        embedding: Embeddings | None = None,
        *,
        memory: Memory | None = None,
        create: bool = True,
        client: Any = None,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
    ) -> None:
        if memory is not None:
            if embedding is not None:
                raise InvalidInputError("Pass embedding= or memory=, not both: a Memory already has its embedding model.")
            inner = memory.embedder.wrapped  # the LangChain model the memory embeds with, if any
            self._embedding: Embeddings = inner if isinstance(inner, Embeddings) else MemvidEmbeddings(memory.embedder)
            self._memory = memory
            return
        if video_file is None:
            raise InvalidInputError("MemvidVectorStore needs a video_file (e.g. 'kb.mp4') or an open memory=.")
        self._embedding = embedding if embedding is not None else MemvidEmbeddings()
        model = _core_embedder(self._embedding)
        if create:
            self._memory = Memory.create(
                video_file,
                index_file,
                embedding_model=model,
                codec=codec,
                fps=fps,
                frame_size=frame_size,
                crf=crf,
                qr_backend=qr_backend,
                client=client,
                exist_ok=True,
            )
        else:
            self._memory = Memory(video_file, index_file, embedding_model=model, client=client)

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings that vectors and queries are made with."""
        return self._embedding

    @property
    def memory(self) -> Memory:
        """The core :class:`memvid_base.Memory` underneath (versions, compaction, verification, ...)."""
        return self._memory

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Cosine distance ``d`` in ``[0, 2]`` to relevance ``1 - d / 2`` in ``[0, 1]``."""
        return relevance

    # ------------------------------------------------------------------ writing

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts as one new version of the memory; an existing id is replaced (upsert).

        Args:
            texts: The texts.
            metadatas: One JSON-serializable dict per text; returned exactly as given.
            ids: One id per text; a missing or ``None`` id gets a random UUID.
            **kwargs: ``batch_size`` is accepted (for LangChain's indexing API) and ignored.

        Returns:
            The ids, in the order of ``texts``.

        Raises:
            ValueError: If the lengths differ, an id repeats, or a text or metadata cannot be stored.
        """
        kwargs.pop("batch_size", None)
        if kwargs:
            raise UnexpectedArgumentError(f"Unexpected keyword arguments: {', '.join(sorted(kwargs))}.")
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise InvalidInputError(f"Got {len(texts)} texts but {len(metadatas)} metadatas.")
        if ids is not None and len(ids) != len(texts):
            raise InvalidInputError(f"Got {len(texts)} texts but {len(ids)} ids.")
        return self._memory.add(texts, metadatas, _fill_ids(ids, len(texts)))

    def delete(self, ids: list[str] | None = None, *, filter: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Delete documents by id and/or metadata filter, as one new version.

        Unknown ids are ignored. Earlier versions stay readable through the core's ``as_of``
        until the memory is compacted.

        Args:
            ids: Ids to delete.
            filter: A metadata filter (see the class docs); everything matching is deleted.
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            ``True``.

        Raises:
            ValueError: If neither ids nor a filter is given. Use :meth:`clear` to delete everything.
        """
        if "where_document" in kwargs:
            raise InvalidInputError("delete() takes ids or a metadata filter; where_document is for searches.")
        where = _resolve_where(filter, kwargs)
        if ids is None and where is None:
            raise InvalidInputError("delete() needs ids or a filter; it never empties the store. Call clear() for that.")
        self._memory.delete(ids=None if ids is None else [str(i) for i in ids], where=where)
        return True

    def clear(self) -> None:
        """Delete every document, as one new version of the memory."""
        self._memory.clear()

    # ------------------------------------------------------------------ reading

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in the order asked; unknown ids are skipped.

        Args:
            ids: The ids.

        Returns:
            The documents, text decoded from the video, ``id`` set.
        """
        return [chunk_to_document(c) for c in self._memory.get_by_ids([str(i) for i in ids])]

    def similarity_search(
        self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first.

        Args:
            query: The query text.
            k: How many documents to return.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            The documents.
        """
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(  # type: ignore[override]
        self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to ``query``, with their cosine distance (lower is closer).

        Args:
            query: The query text.
            k: How many documents to return.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            ``(document, distance)`` pairs, best first; distances lie in ``[0, 2]``.
        """
        return self.similarity_search_by_vector_with_score(
            self._memory.embed_query(query).tolist(), k, filter, **kwargs
        )

    def similarity_search_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to an embedding vector, best first.

        Args:
            embedding: The query vector, from :attr:`embeddings`.
            k: How many documents to return.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            The documents.
        """
        return [doc for doc, _ in self.similarity_search_by_vector_with_score(embedding, k, filter, **kwargs)]

    def similarity_search_by_vector_with_score(
        self, embedding: Sequence[float], k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to an embedding vector, with their cosine distance.

        Args:
            embedding: The query vector, from :attr:`embeddings`.
            k: How many documents to return.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            ``(document, distance)`` pairs, best first; distances lie in ``[0, 2]``.
        """
        where, where_document = _resolve_filters(filter, kwargs)
        chunks = self._memory.search_by_vector(embedding, k, where, where_document=where_document)
        return [(chunk_to_document(c), float(c.distance or 0.0)) for c in chunks]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Documents relevant to ``query`` and diverse among themselves (maximal marginal relevance).

        Args:
            query: The query text.
            k: How many documents to return.
            fetch_k: How many nearest documents to choose among.
            lambda_mult: ``1`` ranks by relevance only, ``0`` by diversity only.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            The documents, in the order MMR picked them.
        """
        return self.max_marginal_relevance_search_by_vector(
            self._memory.embed_query(query).tolist(), k, fetch_k, lambda_mult, filter, **kwargs
        )

    def max_marginal_relevance_search_by_vector(  # type: ignore[override]
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Like :meth:`max_marginal_relevance_search`, from an embedding vector.

        Args:
            embedding: The query vector, from :attr:`embeddings`.
            k: How many documents to return.
            fetch_k: How many nearest documents to choose among.
            lambda_mult: ``1`` ranks by relevance only, ``0`` by diversity only.
            filter: A metadata filter (see the class docs).
            **kwargs: ``where_document`` (a text filter, see the class docs); ``where`` is accepted as
                another name for ``filter``.

        Returns:
            The documents, in the order MMR picked them.
        """
        where, where_document = _resolve_filters(filter, kwargs)
        chunks = self._memory.mmr_search(None, k, fetch_k, lambda_mult, where, vector=embedding,
                                         where_document=where_document)
        return [chunk_to_document(c) for c in chunks]

    def hybrid_search(
        self,
        query: str,
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        alpha: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Keyword (BM25) and vector search fused by reciprocal rank: exact words and meaning both count.

        Args:
            query: The query text.
            k: How many documents to return.
            filter: A metadata filter (see the class docs), applied to both sides.
            where_document: A text filter (see the class docs).
            alpha: Weight of the vector side, 0..1 (1: vector only, 0: keyword only; default 0.3).
            **kwargs: ``where`` is accepted as another name for ``filter``.

        Returns:
            The documents, best first.
        """
        return [chunk_to_document(c) for c in self._text_search(query, "hybrid", k, filter, where_document, alpha, kwargs)]

    def keyword_search(
        self,
        query: str,
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """BM25 keyword search: the documents that best match the query's words, best first.

        Args:
            query: The query text.
            k: How many documents to return.
            filter: A metadata filter (see the class docs).
            where_document: A text filter (see the class docs).
            **kwargs: ``where`` is accepted as another name for ``filter``.

        Returns:
            The documents, best first.
        """
        return [chunk_to_document(c) for c in self._text_search(query, "keyword", k, filter, where_document, None, kwargs)]

    def _text_search(
        self,
        query: str,
        mode: str,
        k: int,
        filter: Mapping[str, Any] | None,
        where_document: Mapping[str, Any] | None,
        alpha: float | None,
        kwargs: dict[str, Any],
    ) -> list[Chunk]:
        where = _resolve_where(filter, kwargs)
        return self._memory.search(query, k, where, mode=mode, where_document=where_document, alpha=alpha)

    def search_chunks(self, query: str, search_type: str = "similarity", **search_kwargs: Any) -> list[Chunk]:
        """Core chunks for a query, as ``as_retriever(search_type, search_kwargs)`` would find them.

        Unlike documents, chunks keep the frame and segment that citations show.

        Args:
            query: The query text.
            search_type: ``"similarity"``, ``"mmr"``, ``"similarity_score_threshold"``, ``"hybrid"``
                or ``"keyword"``.
            **search_kwargs: ``k``, ``filter`` (or ``where``), ``where_document``, and
                ``fetch_k``/``lambda_mult`` (MMR), ``score_threshold`` or ``alpha`` (hybrid).

        Returns:
            The chunks, best first.
        """
        if search_type not in SEARCH_TYPES:
            raise InvalidInputError(f"Unknown search_type {search_type!r}: use one of {', '.join(SEARCH_TYPES)}.")
        kwargs = dict(search_kwargs)
        k = int(kwargs.pop("k", 4))
        where_document = kwargs.pop("where_document", None)
        where = _resolve_where(kwargs.pop("filter", None), {k2: kwargs.pop(k2) for k2 in list(kwargs) if k2 == "where"})
        if search_type in ("hybrid", "keyword"):
            alpha = kwargs.pop("alpha", None) if search_type == "hybrid" else None
            _no_more(kwargs)
            return self._memory.search(query, k, where, mode=search_type, where_document=where_document, alpha=alpha)
        vector = self._memory.embed_query(query)
        if search_type == "mmr":
            fetch_k, lambda_mult = int(kwargs.pop("fetch_k", 20)), float(kwargs.pop("lambda_mult", 0.5))
            _no_more(kwargs)
            return self._memory.mmr_search(None, k, fetch_k, lambda_mult, where, vector=vector,
                                           where_document=where_document)
        threshold = kwargs.pop("score_threshold", None)
        _no_more(kwargs)
        chunks = self._memory.search_by_vector(vector, k, where, where_document=where_document)
        if search_type == "similarity_score_threshold" and threshold is not None:
            chunks = [c for c in chunks if (c.score or 0.0) >= float(threshold)]
        return chunks

    def as_retriever(self, **kwargs: Any) -> MemvidVectorStoreRetriever:
        """A retriever over this store; ``search_type`` may also be ``"hybrid"`` or ``"keyword"``.

        Args:
            **kwargs: As for LangChain's ``VectorStore.as_retriever``: ``search_type`` and
                ``search_kwargs`` (``k``, ``filter``, ``where_document``, ``alpha``, ``fetch_k``,
                ``lambda_mult``, ``score_threshold``), ``tags``...

        Returns:
            A :class:`MemvidVectorStoreRetriever`.

        Example:
            >>> store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "alpha": 0.3})  # doctest: +SKIP
        """
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return MemvidVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        video_file: PathLike | None = None,
        index_file: PathLike | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> Self:
        """Build a memory from texts and return it as a store.

        Args:
            texts: The texts.
            embedding: The LangChain embeddings; default :class:`~memvid_langchain.MemvidEmbeddings`.
            metadatas: One JSON-serializable dict per text.
            ids: One id per text; missing ones get random UUIDs.
            video_file: Where the memory goes (``kb.mp4``). Required.
            index_file: Its index; found from the video when omitted (see :mod:`memvid_base.files.layout`).
            overwrite: ``False`` (the default) upserts the texts into the memory already at these paths
                (its MP4 alone is enough: a copied file is opened, never replaced), and builds a new
                one in one compact video when there is none. ``True`` builds a fresh memory and
                atomically replaces whatever is there, a memory or any other file.
            **kwargs: Passed to the constructor: ``client``, ``codec``, ``fps``, ``frame_size``,
                ``crf``, ``qr_backend``.

        Returns:
            The store.

        Example:
            >>> import os, tempfile
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from memvid_langchain import MemvidVectorStore
            >>> video = os.path.join(tempfile.mkdtemp(), "kb.mp4")
            >>> store = MemvidVectorStore.from_texts(
            ...     ["foo", "bar"], DeterministicFakeEmbedding(size=8), ids=["1", "2"], video_file=video
            ... )
            >>> store.similarity_search("bar", k=1)[0].id
            '2'
        """
        if video_file is None:
            raise InvalidInputError("from_texts needs video_file= (e.g. 'kb.mp4'): a memvid store lives in files.")
        if not overwrite and memory_exists(video_file, index_file):
            store = cls(video_file, index_file, embedding, **kwargs)
            store.add_texts(texts, metadatas, ids=ids)
            return store
        if metadatas is not None and len(metadatas) != len(texts):
            raise InvalidInputError(f"Got {len(texts)} texts but {len(metadatas)} metadatas.")
        if ids is not None and len(ids) != len(texts):
            raise InvalidInputError(f"Got {len(texts)} texts but {len(ids)} ids.")
        emb = embedding if embedding is not None else MemvidEmbeddings()
        final = _fill_ids(ids, len(texts))
        memory = Memory.build(
            video_file, index_file, list(texts), metadatas, final, embedding_model=_core_embedder(emb),
            overwrite=overwrite, **kwargs,
        )
        store = cls(memory=memory)
        store._embedding = emb
        return store

    @classmethod
    def from_documents(cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any) -> Self:
        """Build a memory from documents (their ``id`` is kept); see :meth:`from_texts` for the arguments.

        Args:
            documents: The documents.
            embedding: The LangChain embeddings; default :class:`~memvid_langchain.MemvidEmbeddings`.
            **kwargs: As for :meth:`from_texts`; ``video_file`` is required.

        Returns:
            The store.
        """
        return super().from_documents(documents, embedding, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"MemvidVectorStore({self._memory!r})"
