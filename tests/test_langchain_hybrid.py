"""LangChain: hybrid and keyword retrieval, and ``where_document`` on every search, over a real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_fixtures import hash_embed, pydoc_chunks, unique_identifiers
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from memvid_langchain import MemvidChat, MemvidVectorStore
from memvid_langchain.vectorstores import MemvidVectorStoreRetriever

WD = {"$and": [{"$contains": "object"}, {"$not_contains": "class"}]}


class HashEmbeddings(Embeddings):
    """The core tests' deterministic bag-of-words embedder, as LangChain embeddings."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return np.asarray(hash_embed(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(limit=160)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> MemvidVectorStore:
    video = tmp_path_factory.mktemp("lc_hybrid") / "kb.mp4"
    metadatas = [{"file": f"topic{k % 3}.txt"} for k in range(len(corpus))]
    ids = [f"c{k}" for k in range(len(corpus))]
    return MemvidVectorStore.from_texts(corpus, HashEmbeddings(), metadatas, ids=ids, video_file=video)



def matching(corpus: list[str]) -> set[str]:
    return {f"c{k}" for k, t in enumerate(corpus) if "object" in t and "class" not in t}


def test_hybrid_and_keyword_retrievers_find_exact_identifiers(store: MemvidVectorStore, corpus: list[str]) -> None:
    names = unique_identifiers(corpus)
    assert len(names) >= 5
    hybrid = store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "alpha": 0.3})
    keyword = store.as_retriever(search_type="keyword", search_kwargs={"k": 3})
    assert isinstance(hybrid, MemvidVectorStoreRetriever) and hybrid.search_type == "hybrid"
    for name, k in list(names.items())[:6]:
        top = keyword.invoke(name)[0]
        assert top.page_content == corpus[k] and top.id == f"c{k}", name  # exact text decoded from the video
    hybrid_hits = sum(corpus[k] in [d.page_content for d in hybrid.invoke(n)] for n, k in names.items())
    vector_hits = sum(corpus[k] in [d.page_content for d in store.similarity_search(n, k=5)] for n, k in names.items())
    assert hybrid_hits >= 0.8 * len(names) and hybrid_hits > vector_hits


def test_hybrid_search_methods_and_filters(store: MemvidVectorStore, corpus: list[str]) -> None:
    name, k = next(iter(unique_identifiers(corpus).items()))
    assert store.hybrid_search(name, k=3)[0].page_content == corpus[k]
    assert store.keyword_search(name, k=1)[0].page_content == corpus[k]
    assert store.hybrid_search(name, k=1, alpha=0.0)[0].page_content == corpus[k]  # keyword side only
    in_file = store.hybrid_search("function argument", k=10, filter={"file": "topic1.txt"})
    assert in_file and all(d.metadata["file"] == "topic1.txt" for d in in_file)
    assert all(d.metadata["file"] == "topic2.txt" for d in store.keyword_search("function", k=10, where={"file": "topic2.txt"}))
    docs = store.hybrid_search("object attributes", k=len(corpus), where_document=WD)
    assert {d.id for d in docs} == matching(corpus)


def test_where_document_on_every_search_method(store: MemvidVectorStore, corpus: list[str]) -> None:
    expected = matching(corpus)
    assert expected and len(expected) < len(corpus)
    n = len(corpus)
    vector = store.embeddings.embed_query("object attributes")
    results: dict[str, list[Document]] = {
        "similarity_search": store.similarity_search("object attributes", k=n, where_document=WD),
        "with_score": [d for d, _ in store.similarity_search_with_score("object attributes", k=n, where_document=WD)],
        "relevance": [d for d, _ in store.similarity_search_with_relevance_scores("object attributes", k=n, where_document=WD)],
        "by_vector": store.similarity_search_by_vector(vector, k=n, where_document=WD),
        "by_vector_with_score": [d for d, _ in store.similarity_search_by_vector_with_score(vector, k=n, where_document=WD)],
        "keyword": store.keyword_search("object", k=n, where_document=WD),
    }
    for method, docs in results.items():
        assert all("object" in d.page_content and "class" not in d.page_content for d in docs), method
        if method != "keyword":  # every chunk has a vector, so every match comes back
            assert {d.id for d in docs} == expected, method
    mmr = store.max_marginal_relevance_search("object attributes", k=5, fetch_k=40, where_document=WD)
    mmr_vec = store.max_marginal_relevance_search_by_vector(vector, k=5, fetch_k=40, where_document=WD)
    assert len(mmr) == 5 and {d.id for d in mmr} <= expected and {d.id for d in mmr_vec} <= expected
    chunks = store.search_chunks("object", "hybrid", k=n, where_document=WD, alpha=0.5, filter={"file": "topic0.txt"})
    assert {c.id for c in chunks} == {i for i in expected if int(i[1:]) % 3 == 0}
    one = {"$contains": "__missing__"}
    assert all("__missing__" in d.page_content for d in store.similarity_search("dict", k=n, where_document=one))


def test_retriever_where_document_and_async(store: MemvidVectorStore, corpus: list[str]) -> None:
    import asyncio

    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 50, "where_document": WD})
    docs = asyncio.run(retriever.ainvoke("object attributes"))
    assert docs and {d.id for d in docs} <= matching(corpus)
    similar = store.as_retriever(search_kwargs={"k": 4, "where_document": {"$contains": "yield"}})
    assert all("yield" in d.page_content for d in similar.invoke("generator functions"))


def test_bad_search_types_and_filters_are_errors(store: MemvidVectorStore) -> None:
    with pytest.raises(ValueError, match="search_type of fuzzy not allowed"):
        store.as_retriever(search_type="fuzzy")
    with pytest.raises(ValueError, match="Unknown search_type"):
        store.search_chunks("x", "fuzzy")
    with pytest.raises(ValueError, match=r"\$regex"):
        store.similarity_search("x", where_document={"$regex": "a.*"})
    with pytest.raises(ValueError, match="exactly one operator"):
        store.hybrid_search("x", where_document={"$contains": "a", "$not_contains": "b"})
    with pytest.raises(ValueError, match="alpha"):
        store.hybrid_search("x", alpha=1.5)
    with pytest.raises(TypeError, match="fetch_k"):
        store.search_chunks("x", "hybrid", fetch_k=3)
    with pytest.raises(ValueError, match="where_document is for searches"):
        store.delete(where_document={"$contains": "x"})


def test_chat_retrieves_by_keyword_and_hybrid(store: MemvidVectorStore, corpus: list[str]) -> None:
    name, k = next(iter(unique_identifiers(corpus).items()))
    for search_type in ("keyword", "hybrid"):
        chat = MemvidChat(store=store, top_k=3, search_type=search_type, search_kwargs={"filter": {"file": f"topic{k % 3}.txt"}})
        assert chat.retriever.search_type == search_type
        chunks = chat._retrieve(name)
        assert chunks[0].text == corpus[k] and chunks[0].metadata["file"] == f"topic{k % 3}.txt"
        assert chat.last_sources[0].page_content == corpus[k]
        assert chat.chat(f"What is {name}?")  # the offline answer runs over the same retrieval


async def test_async_defaults_run_in_an_executor(tmp_path: Path) -> None:
    store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=HashEmbeddings())
    ids = await store.aadd_documents([Document(page_content="zstd compresses frames", id="z"),
                                      Document(page_content="gzip is older", id="g")])
    assert ids == ["z", "g"]
    assert [d.page_content for d in await store.aget_by_ids(["g", "z"])] == ["gzip is older", "zstd compresses frames"]
    keyword = store.as_retriever(search_type="keyword", search_kwargs={"k": 2})
    assert [d.id for d in await keyword.ainvoke("zstd")] == ["z"]
    assert await store.adelete(["z"]) is True
    assert await store.aget_by_ids(["z"]) == []
    assert [d.id for d in await store.asimilarity_search("frames", k=2, where_document={"$contains": "gzip"})] == ["g"]
