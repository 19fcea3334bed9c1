"""LlamaIndex: HYBRID and TEXT_SEARCH query modes, alpha / sparse_top_k / hybrid_top_k, where_document."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from core_fixtures import hash_embed, pydoc_chunks, unique_identifiers
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from memvid_base import InvalidInputError
from memvid_llamaindex import MemvidVectorStore, UnsupportedFilterError

HYBRID, TEXT = VectorStoreQueryMode.HYBRID, VectorStoreQueryMode.TEXT_SEARCH
WD = {"$and": [{"$contains": "object"}, {"$not_contains": "class"}]}


class HashEmbedding(BaseEmbedding):
    """The core tests' deterministic bag-of-words embedder, as a LlamaIndex embedding."""

    model_name: str = "hash-64"

    def _get_query_embedding(self, query: str) -> list[float]:
        return np.asarray(hash_embed([query]))[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_query_embedding(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


EMBED = HashEmbedding()


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(limit=160)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> MemvidVectorStore:
    s = MemvidVectorStore(tmp_path_factory.mktemp("li_hybrid") / "kb.mp4", embed_model=EMBED)
    nodes = [TextNode(id_=f"n{k}", text=t, metadata={"file": f"topic{k % 3}.txt"}, embedding=EMBED.get_text_embedding(t))
             for k, t in enumerate(corpus)]
    s.add(nodes)
    return s



def q(text: str, mode: VectorStoreQueryMode, k: int = 5, **kwargs: object) -> VectorStoreQuery:
    return VectorStoreQuery(query_str=text, query_embedding=EMBED.get_query_embedding(text), mode=mode,
                            similarity_top_k=k, **kwargs)  # type: ignore[arg-type]


def test_text_search_and_hybrid_find_exact_identifiers(store: MemvidVectorStore, corpus: list[str]) -> None:
    names = unique_identifiers(corpus)
    assert len(names) >= 5
    for name, k in list(names.items())[:6]:
        res = store.query(VectorStoreQuery(query_str=name, mode=TEXT, similarity_top_k=3))  # no embedding needed
        assert res.ids[0] == f"n{k}" and res.nodes[0].get_content() == corpus[k], name
        assert res.similarities[0] == pytest.approx(1.0)  # BM25 relative to the best hit
    hybrid = sum(f"n{k}" in store.query(q(n, HYBRID, alpha=0.3)).ids for n, k in names.items())
    dense = sum(f"n{k}" in store.query(q(n, VectorStoreQueryMode.DEFAULT)).ids for n, k in names.items())
    assert hybrid >= 0.8 * len(names) and hybrid > dense
    res = store.query(q(next(iter(names)), HYBRID))
    assert all(0.0 <= s <= 1.0 for s in res.similarities) and res.similarities == sorted(res.similarities, reverse=True)


def test_alpha_and_result_sizes(store: MemvidVectorStore, corpus: list[str]) -> None:
    name = "function argument"
    assert len(store.query(q(name, HYBRID, k=4)).ids) == 4
    assert len(store.query(q(name, HYBRID, k=4, hybrid_top_k=7)).ids) == 7  # hybrid_top_k sizes the fused result
    assert len(store.query(q(name, TEXT, k=4)).ids) == 4
    assert len(store.query(q(name, TEXT, k=4, sparse_top_k=6)).ids) == 6  # sparse_top_k sizes a text search
    vector_only = store.query(q(name, HYBRID, k=5, alpha=1.0)).ids
    assert vector_only == store.query(q(name, VectorStoreQueryMode.DEFAULT, k=5)).ids
    keyword_only = store.query(q(name, HYBRID, k=5, alpha=0.0)).ids
    assert keyword_only == store.query(q(name, TEXT, k=5)).ids
    with pytest.raises(InvalidInputError, match="alpha"):
        store.query(q(name, HYBRID, alpha=1.5))


def test_filters_doc_ids_and_node_ids_apply_in_text_modes(store: MemvidVectorStore) -> None:
    filters = MetadataFilters(filters=[MetadataFilter(key="file", value="topic1.txt")])
    for mode in (HYBRID, TEXT):
        res = store.query(q("function argument", mode, k=10, filters=filters))
        assert res.ids and all(n.metadata["file"] == "topic1.txt" for n in res.nodes)
        allowed = ["n3", "n4", "n7", "n10"]
        res = store.query(q("function argument object", mode, k=10, node_ids=allowed))
        assert set(res.ids) <= set(allowed)


def test_where_document_in_every_mode(store: MemvidVectorStore, corpus: list[str]) -> None:
    expected = {f"n{k}" for k, t in enumerate(corpus) if "object" in t and "class" not in t}
    assert expected and len(expected) < len(corpus)
    n = len(corpus)
    for mode in (VectorStoreQueryMode.DEFAULT, HYBRID, TEXT, VectorStoreQueryMode.MMR):
        res = store.query(q("object attributes", mode, k=n), where_document=WD)
        texts = [node.get_content() for node in res.nodes]
        assert texts and all("object" in t and "class" not in t for t in texts), mode  # no false positives
        if mode in (VectorStoreQueryMode.DEFAULT, HYBRID):
            assert set(res.ids) == expected, mode  # and nothing missed
    retriever = VectorStoreIndex.from_vector_store(store, embed_model=EMBED).as_retriever(
        similarity_top_k=n, vector_store_query_mode="hybrid", vector_store_kwargs={"where_document": WD})
    assert {r.node.node_id for r in retriever.retrieve("object attributes")} == expected


def test_text_modes_need_query_str_and_text_filters_say_where_to_go(store: MemvidVectorStore) -> None:
    vector = EMBED.get_query_embedding("x")
    for mode in (HYBRID, TEXT):
        with pytest.raises(InvalidInputError, match="query_str"):
            store.query(VectorStoreQuery(query_embedding=vector, mode=mode, similarity_top_k=2))
    with pytest.raises(InvalidInputError, match="not supported"):
        store.query(VectorStoreQuery(query_embedding=vector, mode=VectorStoreQueryMode.SVM))
    text_match = MetadataFilters(filters=[MetadataFilter(key="text", value="obj", operator=FilterOperator.TEXT_MATCH)])
    with pytest.raises(UnsupportedFilterError, match="where_document"):
        store.query(q("x", TEXT, filters=text_match))
    with pytest.raises(InvalidInputError, match=r"\$regex"):
        store.query(q("x", HYBRID), where_document={"$regex": "o.*"})


def test_async_query_runs_the_same_search(store: MemvidVectorStore, corpus: list[str]) -> None:
    name, k = next(iter(unique_identifiers(corpus).items()))
    res = asyncio.run(store.aquery(VectorStoreQuery(query_str=name, mode=TEXT, similarity_top_k=1)))
    assert res.ids == [f"n{k}"]
    doc = MemvidVectorStore.aquery.__doc__ or ""
    assert "worker thread" in doc


def test_store_opened_from_path_answers_text_search(store: MemvidVectorStore, corpus: list[str]) -> None:
    reopened = MemvidVectorStore(Path(store.video_file), embed_model=EMBED)
    name, k = next(iter(unique_identifiers(corpus).items()))
    assert reopened.query(VectorStoreQuery(query_str=name, mode=TEXT)).ids == [f"n{k}"]
    reopened.close()
