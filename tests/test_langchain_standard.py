"""LangChain's standard vector store suite, sync and async, run as langchain-chroma runs it."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from memvid_langchain import MemvidVectorStore


class TestMemvidVectorStoreStandard(VectorStoreIntegrationTests):
    """Every test gets an empty memory in its own folder, embedded with the suite's deterministic fakes."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=self.get_embeddings())
        try:
            yield store
        finally:
            store.memory.close()

    @property
    def has_async(self) -> bool:
        return True

    @property
    def has_get_by_ids(self) -> bool:
        return True
