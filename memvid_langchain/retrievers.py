"""``MemvidVectorStoreRetriever``: LangChain's vector-store retriever with memvid's hybrid and keyword search types."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStoreRetriever


class MemvidVectorStoreRetriever(VectorStoreRetriever):
    """LangChain's ``VectorStoreRetriever`` with two more search types for a :class:`MemvidVectorStore`.

    ``"hybrid"`` calls :meth:`MemvidVectorStore.hybrid_search` and ``"keyword"``
    :meth:`MemvidVectorStore.keyword_search` with ``search_kwargs`` (``k``, ``filter``,
    ``where_document``, and ``alpha`` for hybrid); the other types behave as in LangChain.
    Async calls of the new types run the sync search in an executor.
    """

    allowed_search_types: ClassVar[Collection[str]] = (*VectorStoreRetriever.allowed_search_types, "hybrid", "keyword")

    def _text_search(self, query: str, kwargs: dict[str, Any]) -> list[Document]:
        store = self.vectorstore
        if not hasattr(store, "hybrid_search") or not hasattr(store, "keyword_search"):
            raise ValueError(f"search_type {self.search_type!r} needs a MemvidVectorStore, got {type(store).__name__}.")
        args = self.search_kwargs | kwargs
        if self.search_type == "hybrid":
            return store.hybrid_search(query, **args)
        return store.keyword_search(query, **args)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type in ("hybrid", "keyword"):
            return self._text_search(query, kwargs)
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type in ("hybrid", "keyword"):
            return await run_in_executor(None, self._text_search, query, kwargs)
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
