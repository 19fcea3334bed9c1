"""memvid for LlamaIndex: a memory (QR-code video + Chroma index) as a ``VectorStoreIndex`` backend.

Example:
    >>> from llama_index.core import StorageContext, VectorStoreIndex      # doctest: +SKIP
    >>> from memvid_llamaindex import MemvidEmbedding, MemvidVectorStore   # doctest: +SKIP
    >>> store = MemvidVectorStore("kb.mp4")                               # doctest: +SKIP
    >>> index = VectorStoreIndex.from_documents(                          # doctest: +SKIP
    ...     docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=MemvidEmbedding())
    >>> index.as_query_engine(similarity_top_k=3).query("question")     # doctest: +SKIP
"""

try:
    import llama_index.core  # noqa: F401  (checked first, so a missing extra gives one clear line)
except ImportError as _exc:
    raise ImportError("memvid_llamaindex needs llama-index-core: pip install 'memvid-rag[llamaindex]'") from _exc

from .embeddings import MemvidEmbedding
from .filters import UnsupportedFilterError, to_chroma_where
from .vector_store import MemvidVectorStore, chunk_to_node

__all__ = ["MemvidEmbedding", "MemvidVectorStore", "UnsupportedFilterError", "chunk_to_node", "to_chroma_where"]
