"""``MemvidVectorStore``: a memvid memory as a LlamaIndex vector store.

The adapter is thin: every operation is one call on :class:`memvid_base.Memory`.  Nodes are stored
with their text in the video (QR frames) and their metadata, relationships and node type as
LlamaIndex's ``node_to_metadata_dict(node, remove_text=True)`` defines them; that dict is kept
exactly in the video, and its scalar values also go to Chroma so they can be filtered on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr, ValidationError
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from memvid_base import (
    DEFAULT_MODEL_NAME,
    Chunk,
    DimensionMismatchError,
    Embedder,
    InvalidInputError,
    Memory,
    MemoryNotFoundError,
    memory_exists,
    public_errors,
)

from .embeddings import as_core_embedder
from .filters import REF_DOC_KEY, restrict_where, to_chroma_where

NODE_CONTENT_KEY = "_node_content"
_TEXT_MODES = {
    VectorStoreQueryMode.HYBRID: "hybrid",
    VectorStoreQueryMode.TEXT_SEARCH: "keyword",
    VectorStoreQueryMode.SPARSE: "keyword",  # BM25 is this store's sparse retriever
}
_MODES = (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR, *_TEXT_MODES)


# A bad argument raises InvalidInputError, as in the core; pydantic's own ValidationError of a bad field passes through.
@public_errors(keep=(ValidationError,))
class MemvidVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store backed by a memvid memory (QR-code video + Chroma index).

    ``stores_text`` is True: node text is decoded from the video on every query, so a
    ``VectorStoreIndex`` needs no docstore and ``VectorStoreIndex.from_vector_store`` reopens an
    existing memory (including one built by ``MemvidEncoder``) without re-ingesting anything.

    Similarities in query results are cosine relevance in ``[0, 1]``, **higher is more similar**:
    ``1 - cosine_distance / 2`` (1 for an identical direction, 0.5 for orthogonal vectors).

    Args:
        video_file: The memory's video (``kb.mp4``) or index (``kb_index.json``).
        index_file: The index path, if not the default (see :mod:`memvid_base.files.layout`).
        memory: An open :class:`memvid_base.Memory` to wrap instead of opening paths.
        embed_model: The model that made the nodes' embeddings (any LlamaIndex ``BaseEmbedding``).
            Needed only to create a memory for vectors other than the default 384-d MiniLM ones
            (``MemvidEmbedding``), or to embed a ``query_str`` that comes without a vector.  An
            existing memory opened without it still answers vector queries and takes new nodes
            that carry their own embeddings.
        codec: Video codec for a new memory (``av1``, ``h265``, ``h264``, ``mp4v``).
        frame_size: Frame size in pixels for a new memory (default: the codec's; smaller frames make a result's
            first read faster and the file a little larger, see ``benchmarks/bench_frame_size.py``).
        create_if_missing: Create an empty memory at the paths if none exists (default True).
        client: Any ``chromadb`` client; default: a persistent client in the memory's cache folder.
        mmr_prefetch_factor: In MMR mode, fetch ``similarity_top_k * factor`` candidates (at least 20)
            unless the query passes ``mmr_prefetch_k``.

    Example:
        >>> from llama_index.core import StorageContext, VectorStoreIndex      # doctest: +SKIP
        >>> store = MemvidVectorStore("kb.mp4")                               # doctest: +SKIP
        >>> ctx = StorageContext.from_defaults(vector_store=store)            # doctest: +SKIP
        >>> index = VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=MemvidEmbedding())  # doctest: +SKIP
        >>> VectorStoreIndex.from_vector_store(store, embed_model=MemvidEmbedding())  # reopen later  # doctest: +SKIP
    """

    stores_text: bool = True
    flat_metadata: bool = False

    video_file: str = Field(description="The memory's video file.")
    index_file: str = Field(description="The memory's index (manifest) file.")
    codec: str = Field(default="av1", description="Video codec used when the memory is created here.")
    frame_size: int | None = Field(default=None, description="Frame size in pixels of the memory's video.")
    mmr_prefetch_factor: float = Field(default=4.0, gt=0, description="MMR candidates per requested result.")

    _memory: Memory = PrivateAttr()

    def __init__(
        self,
        video_file: str | os.PathLike[str] | None = None,
        index_file: str | os.PathLike[str] | None = None,
        *,
        memory: Memory | None = None,
        embed_model: Any = None,
        codec: str = "av1",
        frame_size: int | None = None,
        create_if_missing: bool = True,
        client: Any = None,
        **kwargs: Any,
    ) -> None:
        if memory is None:
            if video_file is None:
                raise InvalidInputError("MemvidVectorStore needs video_file (e.g. 'kb.mp4') or memory=Memory(...).")
            model = as_core_embedder(embed_model)
            if memory_exists(video_file, index_file):  # its MP4 or its index: a copied MP4 is a memory
                memory = Memory(video_file, index_file, embedding_model=model, client=client)
                if model is None:
                    _stand_in_for_recorded_model(memory)
            elif create_if_missing:
                memory = Memory.create(video_file, index_file, embedding_model=model, codec=codec, frame_size=frame_size,
                                       client=client)
            else:
                raise MemoryNotFoundError(f"No memory at {video_file}; pass create_if_missing=True to create one.")
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared on this class
            video_file=str(memory.video_path), index_file=str(memory.index_path), codec=memory.settings.codec,
            frame_size=memory.settings.frame_size, **kwargs
        )
        self._memory = memory

    @classmethod
    def from_memory(cls, memory: Memory, **kwargs: Any) -> MemvidVectorStore:
        """Wrap an already open :class:`memvid_base.Memory`."""
        return cls(memory=memory, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "MemvidVectorStore"

    @property
    def client(self) -> Memory:
        """The underlying :class:`memvid_base.Memory`."""
        return self._memory

    @property
    def memory(self) -> Memory:
        return self._memory

    # ------------------------------------------------------------------ writing

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store nodes (upsert by node id) as one new memory version, using the embeddings on the nodes."""
        if isinstance(nodes, (str, bytes, dict)) or not isinstance(nodes, Sequence):
            raise InvalidInputError(f"add() takes a list of nodes, got {type(nodes).__name__}.")
        if not nodes:
            return []
        for node in nodes:
            if not isinstance(node, BaseNode):
                raise InvalidInputError(f"add() takes LlamaIndex nodes (e.g. TextNode), got a {type(node).__name__}.")
        latest: dict[str, BaseNode] = {}
        for node in nodes:  # a node id given twice in one batch: the last one wins, as in an upsert
            if node.embedding is None:
                raise InvalidInputError(
                    f"Node {node.node_id!r} has no embedding. Add nodes through a VectorStoreIndex with an "
                    "embed_model (e.g. MemvidEmbedding()), or set node.embedding first."
                )
            latest.pop(node.node_id, None)
            latest[node.node_id] = node
        unique = list(latest.values())
        vectors = [node.get_embedding() for node in unique]
        self._check_dimension(len(vectors[0]))
        self._memory.add(
            texts=[node.get_content(metadata_mode=MetadataMode.NONE) for node in unique],
            metadatas=[
                node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata) for node in unique
            ],
            ids=[node.node_id for node in unique],
            embeddings=vectors,
        )
        return [node.node_id for node in nodes]

    def _check_dimension(self, dim: int) -> None:
        want = self._memory.dimension or self._memory.embedder.dimension
        if dim != want:
            raise DimensionMismatchError(
                f"The nodes carry {dim}-d embeddings but this memory holds {want}-d vectors "
                f"({self._memory.manifest.embedding.get('model') or self._memory.embedder.name}). Open the store with "
                "MemvidVectorStore(..., embed_model=<the embed_model that made the nodes>) and a memory built with it."
            )

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node whose source document is ``ref_doc_id``."""
        self._memory.delete(where={REF_DOC_KEY: str(ref_doc_id)})

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes matching both ``node_ids`` and ``filters`` (either may be omitted, not both)."""
        where = to_chroma_where(filters)
        if node_ids is None and where is None:
            raise InvalidInputError("delete_nodes() needs node_ids or filters; call clear() to delete everything.")
        if node_ids is not None and not node_ids:
            return
        if where is None:
            self._memory.delete(ids=[str(i) for i in node_ids or []])
        elif node_ids is None:
            self._memory.delete(where=where)
        else:  # both: only the listed nodes that match the filters
            self._memory.delete(ids=[c.id for c in self._memory.get(where=where, ids=[str(i) for i in node_ids])])

    def clear(self) -> None:
        """Delete every node (as one new memory version)."""
        self._memory.clear()

    # ------------------------------------------------------------------ reading

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Run a query in ``DEFAULT``, ``MMR``, ``HYBRID`` or ``TEXT_SEARCH`` (also ``SPARSE``) mode.

        * ``DEFAULT``: the ``similarity_top_k`` nearest nodes to ``query_embedding`` (or to the
          embedded ``query_str``).
        * ``MMR``: relevant and diverse.  ``mmr_threshold`` (from the query or from kwargs, default
          0.5) weighs relevance against diversity: 1 is plain relevance order, 0 is maximum
          diversity.  ``mmr_prefetch_k`` or ``mmr_prefetch_factor`` in kwargs sets how many
          candidates MMR chooses from.
        * ``HYBRID``: BM25 keyword search and vector search fused by weighted reciprocal rank.
          ``alpha`` weights the vector side as LlamaIndex defines it (1 vector only, 0 keyword
          only; None: the core's default 0.3, which met both goals of the retrieval evaluation).
          Returns ``hybrid_top_k`` nodes if set, else ``similarity_top_k``.  The fusion takes
          ``max(result size, 50)`` candidates from each side; ``similarity_top_k`` and
          ``sparse_top_k`` do not change that depth here.
        * ``TEXT_SEARCH`` / ``SPARSE``: BM25 only; returns ``sparse_top_k`` nodes if set, else
          ``similarity_top_k``.  No embedding is needed.

        ``HYBRID`` and ``TEXT_SEARCH`` need ``query_str``.  ``filters``, ``doc_ids`` and
        ``node_ids`` restrict the candidates in every mode (an empty id list restricts nothing, as
        LlamaIndex's retriever expects).  Similarities are in ``[0, 1]``, higher is better: cosine
        relevance in ``DEFAULT``/``MMR``, the fused rank score (1 = first on both sides) in
        ``HYBRID``, BM25 relative to the best hit in ``TEXT_SEARCH``.

        Args:
            query: The LlamaIndex query.
            **kwargs: ``where_document``: a Chroma-style text filter (``{"$contains": "zstd"}``,
                ``$not_contains``, ``$and``, ``$or``), matched on the text decoded from the video,
                as ``ChromaVectorStore`` takes it; pass it through
                ``index.as_retriever(vector_store_kwargs={"where_document": ...})``.  MMR options as above.

        Raises:
            InvalidInputError: An unsupported mode, a text mode without ``query_str``, or neither a
                vector nor a text to search with.
        """
        if not isinstance(query, VectorStoreQuery):
            raise InvalidInputError(f"query() takes a VectorStoreQuery, got {type(query).__name__}.")
        if query.mode not in _MODES:
            supported = ", ".join(m.value for m in _MODES)
            raise InvalidInputError(
                f"Query mode {query.mode.value!r} is not supported by MemvidVectorStore; use one of {supported}."
            )
        where_document = kwargs.get("where_document")
        # An empty doc_ids / node_ids list means "no restriction": VectorStoreIndex.as_retriever() passes
        # node_ids=[] for every store that keeps its own text.
        where = restrict_where(to_chroma_where(query.filters), query.doc_ids or None)
        ids = [str(i) for i in query.node_ids] if query.node_ids else None
        if query.mode in _TEXT_MODES:
            chunks = self._text_query(query, _TEXT_MODES[query.mode], where, ids, where_document)
        elif query.mode == VectorStoreQueryMode.MMR:
            chunks = self._mmr_query(query, where, ids, where_document, kwargs)
        else:
            chunks = self._memory.search_by_vector(self._vector(query), query.similarity_top_k, where, ids=ids,
                                                   where_document=where_document)
        return VectorStoreQueryResult(
            nodes=[chunk_to_node(c) for c in chunks],
            similarities=[float(c.score if c.score is not None else 0.0) for c in chunks],
            ids=[c.id for c in chunks],
        )

    def _vector(self, query: VectorStoreQuery) -> Any:
        """The query vector: the given embedding, else the embedded ``query_str``."""
        if query.query_embedding is not None:
            return query.query_embedding
        if query.query_str:
            return self._memory.embed_query(query.query_str)
        raise InvalidInputError("The query has neither a query_embedding nor a query_str.")

    def _text_query(
        self, query: VectorStoreQuery, mode: str, where: Any, ids: list[str] | None, where_document: Any
    ) -> list[Chunk]:
        if not query.query_str or not query.query_str.strip():
            raise InvalidInputError(
                f"{query.mode.value} queries need query_str (the words to match); got {query.query_str!r}."
            )
        if mode == "keyword":
            top_k = query.sparse_top_k or query.similarity_top_k
            return self._memory.retrieve(query.query_str, None, top_k, where, mode="keyword", ids=ids,
                                         where_document=where_document)
        top_k = query.hybrid_top_k or query.similarity_top_k
        vector = query.query_embedding  # None: the core embeds query_str
        return self._memory.retrieve(query.query_str, vector, top_k, where, mode="hybrid", ids=ids,
                                     where_document=where_document, alpha=query.alpha)

    def _mmr_query(
        self, query: VectorStoreQuery, where: Any, ids: list[str] | None, where_document: Any, kwargs: dict[str, Any]
    ) -> list[Chunk]:
        top_k = query.similarity_top_k
        lam = query.mmr_threshold if query.mmr_threshold is not None else kwargs.get("mmr_threshold")
        fetch_k = kwargs.get("mmr_prefetch_k") or max(
            20, int(top_k * kwargs.get("mmr_prefetch_factor", self.mmr_prefetch_factor))
        )
        return self._memory.mmr_search(
            vector=self._vector(query),
            top_k=top_k,
            fetch_k=max(int(fetch_k), top_k),
            lambda_mult=0.5 if lam is None else float(lam),
            where=where,
            ids=ids,
            where_document=where_document,
        )

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """Nodes by id (in the order asked) and/or by metadata filter (in insertion order); all nodes if neither."""
        if node_ids is not None and not node_ids:
            return []
        where = to_chroma_where(filters)
        if where is None and node_ids is not None:
            chunks = self._memory.get_by_ids([str(i) for i in node_ids])
        else:
            chunks = self._memory.get(where=where, ids=None if node_ids is None else [str(i) for i in node_ids])
        return [chunk_to_node(c) for c in chunks]

    # ------------------------------------------------------------------ async: the same work in a worker thread

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Add nodes; runs :meth:`add` in a worker thread."""
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete a source document's nodes; runs :meth:`delete` in a worker thread."""
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes; runs :meth:`delete_nodes` in a worker thread."""
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aclear(self) -> None:
        """Delete every node; runs :meth:`clear` in a worker thread."""
        await asyncio.to_thread(self.clear)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Query; runs :meth:`query` in a worker thread."""
        return await asyncio.to_thread(self.query, query, **kwargs)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Get nodes; runs :meth:`get_nodes` in a worker thread."""
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    def persist(self, persist_path: str, fs: Any = None) -> None:
        """Nothing to do: every change is committed to the memory's files as it happens."""
        return None

    def close(self) -> None:
        self._memory.close()


def _stand_in_for_recorded_model(memory: Memory) -> None:
    """Opened with no embed_model: if the memory was built with another model than MiniLM, stand in for it.

    The stand-in knows the model's name and dimension, so nodes that carry their own vectors can be
    added and nodes deleted, but it cannot embed text: that needs the real model.
    """
    recorded = memory.manifest.embedding
    if not (recorded.get("dimension") and recorded.get("model") not in (None, DEFAULT_MODEL_NAME)):
        return
    name = str(recorded["model"])

    def refuse(texts: list[str]) -> Any:
        raise InvalidInputError(
            f"This memory's vectors come from {name!r}, which the store was not given. Pass "
            "MemvidVectorStore(..., embed_model=<that model>) to embed text, or query with a query_embedding."
        )

    memory.use_embedder(Embedder.from_functions(refuse, name=name, dimension=int(recorded["dimension"])))


def chunk_to_node(chunk: Chunk) -> BaseNode:
    """A memvid chunk as a LlamaIndex node.

    Chunks written by this store come back as the node that was added (type, id, metadata,
    relationships, templates) with the text decoded from the video.  Chunks written by other memvid
    APIs (``MemvidEncoder``, ``Memory.add``) become a ``TextNode`` with the chunk id and metadata.
    """
    if NODE_CONTENT_KEY in chunk.metadata:
        return metadata_dict_to_node(chunk.metadata, text=chunk.text)
    return TextNode(id_=chunk.id, text=chunk.text, metadata=dict(chunk.metadata))
