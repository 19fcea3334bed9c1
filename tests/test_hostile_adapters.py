"""The adapters keep the core's promise: any argument, however wrong, raises a MemvidError, never a raw traceback.

The same hostile values as ``test_hostile_audit`` (None, NaN, 2**63, a lone surrogate, a filter nested
3,000 levels deep, ...) go to every public method of the LangChain and the LlamaIndex vector store.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery
from pydantic import ValidationError

from memvid_base import InvalidInputError, Memory, MemvidError, UnexpectedArgumentError
from memvid_langchain import MemvidVectorStore as LangChainStore
from memvid_llamaindex import MemvidVectorStore as LlamaIndexStore
from tests.core_fixtures import HOSTILE_VALUES, hash_embed, pydoc_chunks

QUERY = [float(x) for x in hash_embed(["q"])[0]]

CALLS: dict[str, Callable[[LangChainStore, LlamaIndexStore, Any], Any]] = {
    "langchain similarity_search(query)": lambda lc, li, v: lc.similarity_search(v),
    "langchain similarity_search(k)": lambda lc, li, v: lc.similarity_search("q", k=v),
    "langchain similarity_search(filter)": lambda lc, li, v: lc.similarity_search("q", filter=v),
    "langchain similarity_search(where_document)": lambda lc, li, v: lc.similarity_search("q", where_document=v),
    "langchain similarity_search_by_vector": lambda lc, li, v: lc.similarity_search_by_vector(v),
    "langchain add_texts(texts)": lambda lc, li, v: lc.add_texts(v),
    "langchain add_texts(metadatas)": lambda lc, li, v: lc.add_texts(["x"], metadatas=[v], ids=["meta"]),
    "langchain add_texts(ids)": lambda lc, li, v: lc.add_texts(["x"], ids=[v]),
    "langchain delete(ids)": lambda lc, li, v: lc.delete(v),
    "langchain delete(filter)": lambda lc, li, v: lc.delete(filter=v),
    "langchain get_by_ids": lambda lc, li, v: lc.get_by_ids(v),
    "langchain mmr(fetch_k)": lambda lc, li, v: lc.max_marginal_relevance_search("q", k=2, fetch_k=v),
    "langchain mmr(lambda_mult)": lambda lc, li, v: lc.max_marginal_relevance_search("q", k=2, lambda_mult=v),
    "langchain hybrid_search(alpha)": lambda lc, li, v: lc.hybrid_search("q", k=2, alpha=v),
    "langchain keyword_search(query)": lambda lc, li, v: lc.keyword_search(v),
    "langchain search_chunks(search_type)": lambda lc, li, v: lc.search_chunks("q", search_type=v),
    "langchain as_retriever(search_type)": lambda lc, li, v: lc.as_retriever(search_type=v),
    "llamaindex query(query)": lambda lc, li, v: li.query(v),
    "llamaindex query(similarity_top_k)": lambda lc, li, v: li.query(
        VectorStoreQuery(query_embedding=QUERY, similarity_top_k=v)
    ),
    "llamaindex query(query_embedding)": lambda lc, li, v: li.query(
        VectorStoreQuery(query_embedding=v, similarity_top_k=2)
    ),
    "llamaindex add(nodes)": lambda lc, li, v: li.add(v),
    "llamaindex add([node])": lambda lc, li, v: li.add([v]),
    "llamaindex delete(ref_doc_id)": lambda lc, li, v: li.delete(v),
    "llamaindex delete_nodes(node_ids)": lambda lc, li, v: li.delete_nodes(v),
    "llamaindex get_nodes(node_ids)": lambda lc, li, v: li.get_nodes(v),
}


@pytest.fixture()
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LangChainStore, LlamaIndexStore]:
    monkeypatch.chdir(tmp_path)  # a string is a valid path: nothing a call creates lands in the repo
    texts = pydoc_chunks(20)
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(texts, ids=[f"c{k}" for k in range(len(texts))], embeddings=hash_embed(texts))
    return LangChainStore(memory=mem), LlamaIndexStore.from_memory(mem)


def test_hostile_arguments_to_every_adapter_method_are_memvid_errors(
    stores: tuple[LangChainStore, LlamaIndexStore],
) -> None:
    lc, li = stores
    refused: dict[str, int] = {}
    leaked: list[str] = []
    for name, call in CALLS.items():
        for value in HOSTILE_VALUES:
            try:
                call(lc, li, value)
            except (MemvidError, ValidationError) as exc:  # pydantic's own error for a retriever's bad field
                assert len(str(exc)) < 2000, name  # a message, not a dump of the argument
                refused[name] = refused.get(name, 0) + 1
            except Exception as exc:  # the point is to list whatever leaks
                leaked.append(f"{name} <- {type(value).__name__}: {type(exc).__name__}: {str(exc)[:100]}")
    assert leaked == []
    assert set(refused) == set(CALLS)  # every call refuses some of these values
    assert len(lc.get_by_ids(["c0", "c19"])) == 2  # and the memory still answers


def test_an_unexpected_keyword_is_a_type_error_and_a_memvid_error(stores: tuple[LangChainStore, LlamaIndexStore]) -> None:
    lc, _ = stores
    with pytest.raises(UnexpectedArgumentError, match="filters") as caught:
        lc.similarity_search("x", filters={"file": "a.md"})
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, InvalidInputError)


def test_callers_that_catch_type_or_validation_errors_still_catch_them(
    stores: tuple[LangChainStore, LlamaIndexStore],
) -> None:
    lc, li = stores
    with pytest.raises(TypeError) as missing:
        lc.similarity_search()  # type: ignore[call-arg]  # no query: Python's own TypeError, now also a MemvidError
    assert isinstance(missing.value, UnexpectedArgumentError)
    with pytest.raises(ValidationError):  # pydantic validates the retriever's fields, as for any LangChain store
        lc.as_retriever(search_type="fuzzy")
    with pytest.raises(ValidationError):
        LlamaIndexStore(memory=li.memory, mmr_prefetch_factor="many")


def test_async_methods_stay_coroutines_and_convert_their_errors(stores: tuple[LangChainStore, LlamaIndexStore]) -> None:
    _, li = stores
    for name in ("aquery", "async_add", "adelete", "adelete_nodes", "aclear", "aget_nodes"):
        assert inspect.iscoroutinefunction(getattr(li, name)), name
    found = asyncio.run(li.aget_nodes(["c3"]))
    assert [n.node_id for n in found] == ["c3"]
    with pytest.raises(InvalidInputError, match="VectorStoreQuery"):
        asyncio.run(li.aquery(None))  # type: ignore[arg-type]
