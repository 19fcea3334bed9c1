"""The vector-row layer, run as a contract against each Chroma client memvid supports in-process."""

from __future__ import annotations

import uuid

import chromadb
from chromadb.config import Settings
from vector_store_contract import (
    DIM,
    VectorStoreContract,
    test_and_where_flattens,
    test_where_matches_agrees_with_chroma,
    test_where_validation_names_the_mistake,
)

from memvid_base.index.chroma_io import open_client
from memvid_base.index.vectors import VectorStore

__all__ = ["test_and_where_flattens", "test_where_matches_agrees_with_chroma", "test_where_validation_names_the_mistake"]


class TestPersistentClient(VectorStoreContract):
    def make_store(self, tmp_path) -> VectorStore:
        return VectorStore(open_client(tmp_path / "store"), f"mv_{uuid.uuid4().hex[:12]}", DIM, create=True)


class TestEphemeralClient(VectorStoreContract):
    def make_store(self, tmp_path) -> VectorStore:
        client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
        return VectorStore(client, f"mv_{uuid.uuid4().hex[:12]}", DIM, create=True)
