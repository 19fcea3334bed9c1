"""memvid for LangChain: a drop-in ``VectorStore`` over a video memory, its embeddings, and a RAG chat.

Example:
    >>> from memvid_langchain import MemvidChat, MemvidEmbeddings, MemvidVectorStore  # doctest: +SKIP
    >>> store = MemvidVectorStore("kb.mp4", embedding=MemvidEmbeddings())  # doctest: +SKIP
    >>> retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 5})  # doctest: +SKIP
"""

try:
    import langchain_core  # noqa: F401  (checked first, so a missing extra gives one clear line)
except ImportError as _exc:
    raise ImportError("memvid_langchain needs langchain-core: pip install 'memvid-rag[langchain]'") from _exc

from memvid_langchain.chat import MemvidChat
from memvid_langchain.embeddings import MemvidEmbeddings
from memvid_langchain.retrievers import MemvidVectorStoreRetriever
from memvid_langchain.vectorstores import MemvidVectorStore

__version__ = "0.2.0"

__all__ = [
    "MemvidChat",
    "MemvidEmbeddings",
    "MemvidVectorStore",
    "MemvidVectorStoreRetriever",
    "__version__",
]
