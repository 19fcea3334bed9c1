"""memvid for LangChain: a drop-in ``VectorStore`` over a video memory, its embeddings, and a RAG chat.

Example:
    >>> from memvid_langchain import MemvidChat, MemvidEmbeddings, MemvidVectorStore  # doctest: +SKIP
    >>> store = MemvidVectorStore("kb.mp4", embedding=MemvidEmbeddings())  # doctest: +SKIP
    >>> retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 5})  # doctest: +SKIP
"""

from memvid_langchain.chat import MemvidChat
from memvid_langchain.embeddings import MemvidEmbeddings
from memvid_langchain.vectorstores import MemvidVectorStore

__version__ = "0.2.0"

__all__ = [
    "MemvidChat",
    "MemvidEmbeddings",
    "MemvidVectorStore",
    "__version__",
]
