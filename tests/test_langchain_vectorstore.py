"""MemvidVectorStore beyond the standard suite: filters, MMR, scores, upsert, deletion, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_fixtures import chroma_rows
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from memvid_base.errors import MemoryNotFoundError, MemvidError
from memvid_langchain import MemvidEmbeddings, MemvidVectorStore


class TableEmbeddings(Embeddings):
    """Fixed 3-d vectors per text, so distances and MMR picks are known exactly."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, [0.0, 0.0, 1.0])  # the core probes the dimension with an unknown text


FAKE = DeterministicFakeEmbedding(size=16)

DOCS = [
    Document(id="a1", page_content="alpha one", metadata={"file": "a.md", "page": 1, "lang": "en"}),
    Document(id="a2", page_content="alpha two", metadata={"file": "a.md", "page": 2, "lang": "en"}),
    Document(id="a3", page_content="alpha three", metadata={"file": "a.md", "page": 2, "lang": "de"}),
    Document(id="b1", page_content="beta one", metadata={"file": "b.md", "page": 1, "lang": "en"}),
    Document(id="b2", page_content="beta two", metadata={"file": "b.md", "page": 2, "lang": "de"}),
]


@pytest.fixture()
def store(tmp_path: Path) -> MemvidVectorStore:
    s = MemvidVectorStore(tmp_path / "kb.mp4", embedding=FAKE)
    s.add_documents(DOCS)
    return s


def ids(docs: list[Document]) -> set[str | None]:
    return {d.id for d in docs}


# ---------------------------------------------------------------------- filters


def test_filter_one_key(store: MemvidVectorStore) -> None:
    assert ids(store.similarity_search("alpha", k=10, filter={"file": "b.md"})) == {"b1", "b2"}


def test_filter_several_keys_gets_and_wrapper(store: MemvidVectorStore) -> None:
    # Chroma rejects a bare multi-key where; the store must wrap it in $and.
    assert ids(store.similarity_search("alpha", k=10, filter={"file": "a.md", "page": 2})) == {"a2", "a3"}
    assert ids(store.similarity_search("x", k=10, filter={"file": "a.md", "page": 2, "lang": "de"})) == {"a3"}
    found = store.similarity_search_with_relevance_scores("x", k=10, filter={"page": {"$gte": 2}, "lang": "en"})
    assert [d.id for d, _ in found] == ["a2"]
    mmr = store.max_marginal_relevance_search("x", k=10, fetch_k=10, filter={"file": "b.md", "lang": "de"})
    assert ids(mmr) == {"b2"}


def test_filter_operators_and_where_alias(store: MemvidVectorStore) -> None:
    either = {"$or": [{"file": "b.md"}, {"lang": "de"}]}
    assert ids(store.similarity_search("x", k=10, filter=either)) == {"a3", "b1", "b2"}
    assert ids(store.similarity_search("x", k=10, where={"page": 1})) == {"a1", "b1"}
    assert store.similarity_search("x", k=10, filter={"file": "nope.md"}) == []
    vec = FAKE.embed_query("x")
    assert ids(store.similarity_search_by_vector(vec, k=10, filter={"file": "a.md", "lang": "en"})) == {"a1", "a2"}


def test_filter_through_retriever(store: MemvidVectorStore) -> None:
    retriever = store.as_retriever(search_kwargs={"k": 10, "filter": {"file": "a.md", "page": 1}})
    assert [d.id for d in retriever.invoke("alpha")] == ["a1"]
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "filter": {"lang": "de"}})
    assert ids(mmr.invoke("alpha")) == {"a3", "b2"}


def test_bad_search_arguments_are_errors(store: MemvidVectorStore) -> None:
    with pytest.raises(TypeError, match="filters"):
        store.similarity_search("x", filters={"file": "a.md"})
    with pytest.raises(ValueError, match=r"\$regex"):
        store.similarity_search("x", where_document={"$regex": "a"})  # Chroma's regex filter is not offered
    with pytest.raises(ValueError, match="not both"):
        store.similarity_search("x", filter={"page": 1}, where={"page": 2})


# ---------------------------------------------------------------------- scores and MMR

VECTORS = {
    "query": [1.0, 0.0, 0.0],
    "same": [2.0, 0.0, 0.0],  # unnormalised on purpose: cosine ignores length
    "orthogonal": [0.0, 1.0, 0.0],
    "opposite": [-1.0, 0.0, 0.0],
}


def test_scores_are_cosine_distance_and_relevance_in_unit_interval(tmp_path: Path) -> None:
    store = MemvidVectorStore.from_texts(
        ["same", "orthogonal", "opposite"],
        TableEmbeddings(VECTORS),
        ids=["s", "o", "x"],
        video_file=tmp_path / "kb.mp4",
    )
    with_distance = store.similarity_search_with_score("query", k=3)
    assert [d.id for d, _ in with_distance] == ["s", "o", "x"]
    assert [round(s, 4) for _, s in with_distance] == [0.0, 1.0, 2.0]
    relevance = store.similarity_search_with_relevance_scores("query", k=3)
    assert [round(s, 4) for _, s in relevance] == [1.0, 0.5, 0.0]
    assert all(0.0 <= s <= 1.0 for _, s in relevance)
    by_vector = store.similarity_search_by_vector_with_score([0.0, 3.0, 0.0], k=1)
    assert by_vector[0][0].id == "o" and by_vector[0][1] == pytest.approx(0.0, abs=1e-5)
    thresholded = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.4, "k": 3}
    )
    assert [d.id for d in thresholded.invoke("query")] == ["s", "o"]


async def test_async_relevance_scores_match_sync(tmp_path: Path) -> None:
    store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=TableEmbeddings(VECTORS))
    await store.aadd_texts(["same", "orthogonal", "opposite"], ids=["s", "o", "x"])
    got = await store.asimilarity_search_with_relevance_scores("query", k=3)
    assert [(d.id, round(s, 4)) for d, s in got] == [("s", 1.0), ("o", 0.5), ("x", 0.0)]
    assert [d.id for d in await store.asimilarity_search("query", k=1)] == ["s"]
    assert [d.id for d in await store.asimilarity_search_by_vector([0.0, 1.0, 0.0], k=1)] == ["o"]


CLUSTER = {
    "query": [1.0, 0.15, 0.0],
    "dup one": [1.0, 0.0, 0.0],
    "dup two": [1.0, 0.01, 0.0],
    "dup three": [1.0, 0.0, 0.01],
    "other": [0.6, 0.8, 0.0],
}


def test_mmr_prefers_diverse_results(tmp_path: Path) -> None:
    store = MemvidVectorStore.from_texts(list(CLUSTER)[1:], TableEmbeddings(CLUSTER), video_file=tmp_path / "kb.mp4")
    plain = [d.page_content for d in store.similarity_search("query", k=2)]
    assert set(plain) <= {"dup one", "dup two", "dup three"}  # relevance alone returns near-duplicates
    mmr = [d.page_content for d in store.max_marginal_relevance_search("query", k=2, fetch_k=4, lambda_mult=0.5)]
    assert mmr[0] in {"dup one", "dup two", "dup three"} and mmr[1] == "other"
    by_vector = store.max_marginal_relevance_search_by_vector(CLUSTER["query"], k=2, fetch_k=4, lambda_mult=0.5)
    assert [d.page_content for d in by_vector] == mmr
    relevance_only = store.max_marginal_relevance_search("query", k=2, fetch_k=4, lambda_mult=1.0)
    assert [d.page_content for d in relevance_only] == plain
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
    assert [d.page_content for d in retriever.invoke("query")] == mmr


async def test_async_mmr(tmp_path: Path) -> None:
    store = MemvidVectorStore.from_texts(list(CLUSTER)[1:], TableEmbeddings(CLUSTER), video_file=tmp_path / "kb.mp4")
    got = await store.amax_marginal_relevance_search("query", k=2, fetch_k=4)
    assert got[1].page_content == "other" and all(d.id for d in got)


# ---------------------------------------------------------------------- documents, ids, deletion


def test_metadata_comes_back_exactly_and_is_not_shared(tmp_path: Path) -> None:
    meta = {"file": "x.md", "tags": ["a", "b"], "nested": {"k": [1, 2.5, None]}, "none": None, "flag": False, "n": 3}
    store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=FAKE)
    store.add_documents([Document(id="x", page_content="héllo wörld 🎥", metadata=meta)])
    (doc,) = store.get_by_ids(["x"])
    assert doc == Document(id="x", page_content="héllo wörld 🎥", metadata=meta)
    assert type(doc.metadata["n"]) is int and doc.metadata["flag"] is False
    doc.metadata["tags"].append("mutated")
    assert store.similarity_search("héllo wörld 🎥", k=1)[0].metadata == meta
    assert store.similarity_search("q", k=1, filter={"flag": False})[0].id == "x"


def test_upsert_by_document_id(store: MemvidVectorStore) -> None:
    before = len(store.memory)
    ids_ = store.add_documents([Document(id="a1", page_content="alpha one, revised", metadata={"file": "c.md"})])
    assert ids_ == ["a1"] and len(store.memory) == before
    assert store.get_by_ids(["a1"]) == [Document(id="a1", page_content="alpha one, revised", metadata={"file": "c.md"})]
    assert store.similarity_search("alpha one, revised", k=1)[0].id == "a1"
    # ids= wins over Document.id, as LangChain documents; missing ids become UUIDs
    mixed = store.add_documents([Document(id="ignored", page_content="p"), Document(page_content="q")], ids=["p", None])
    assert mixed[0] == "p" and len(mixed[1]) == 36 and store.get_by_ids(["ignored"]) == []


def test_get_by_ids_keeps_order_and_skips_unknown(store: MemvidVectorStore) -> None:
    assert [d.id for d in store.get_by_ids(["b2", "missing", "a1"])] == ["b2", "a1"]


def test_delete_semantics(store: MemvidVectorStore) -> None:
    with pytest.raises(ValueError, match="clear"):
        store.delete()
    assert len(store.memory) == 5  # delete() never empties the store
    assert store.delete(["a1", "no-such-id"]) is True
    assert store.get_by_ids(["a1"]) == []
    assert store.delete(filter={"file": "a.md", "page": 2}) is True
    assert ids(store.similarity_search("x", k=10)) == {"b1", "b2"}
    store.delete(where={"lang": "de"})
    assert ids(store.similarity_search("x", k=10)) == {"b1"}
    store.clear()
    assert store.similarity_search("x", k=10) == []


def test_add_texts_validates_lengths(tmp_path: Path) -> None:
    store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=FAKE)
    with pytest.raises(ValueError, match="metadatas"):
        store.add_texts(["a", "b"], metadatas=[{}])
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["a", "b"], ids=["1"])
    assert store.add_texts([]) == []
    assert store.add_texts(["a"], ids=["1"], batch_size=10) == ["1"]  # LangChain's indexing API passes batch_size


# ---------------------------------------------------------------------- embeddings and storage


def test_embeddings_property_and_stored_vectors(tmp_path: Path) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    store = MemvidVectorStore(tmp_path / "kb.mp4", embedding=emb)
    assert store.embeddings is emb
    store.add_texts(["some text"], ids=["t"])
    (chunk,) = store.memory.get_by_ids(["t"], include_embeddings=True)
    want = np.asarray(emb.embed_documents(["some text"])[0])
    assert chunk.embedding is not None
    # the stored vector is the model's own, scaled to unit length, kept as int8 with a per-vector scale
    # (what the segment's box holds): each component within half a step of 1/127 of the largest one
    unit = want / np.linalg.norm(want)
    np.testing.assert_allclose(chunk.embedding, unit, atol=0.5 * np.abs(unit).max() / 127 + 1e-6)


def test_default_embeddings_are_memvid_minilm(tmp_path: Path) -> None:
    store = MemvidVectorStore(tmp_path / "kb.mp4")  # the model loads lazily; nothing is embedded here
    assert isinstance(store.embeddings, MemvidEmbeddings)
    assert store.embeddings.model_name == "sentence-transformers/all-MiniLM-L6-v2"


def test_text_is_decoded_from_the_video(store: MemvidVectorStore) -> None:
    rows = chroma_rows(store.memory, include=["documents"])
    assert rows["ids"] and all(d is None for d in rows["documents"])  # Chroma holds vectors, never text
    assert store.similarity_search("beta one", k=1)[0].page_content == "beta one"
    for path in {store.memory.root / c.segment for c in store.memory.get_by_ids(["a1"])}:
        size = path.stat().st_size
        path.unlink()
        path.write_bytes(b"\0" * size)  # destroy the video; the vectors are untouched
    fresh = MemvidVectorStore(store.memory.video_path, embedding=FAKE, create=False)
    with pytest.raises(MemvidError):
        fresh.get_by_ids(["a1"])


def test_reopen_existing_and_missing(tmp_path: Path, store: MemvidVectorStore) -> None:
    again = MemvidVectorStore(store.memory.video_path, store.memory.index_path, embedding=FAKE, create=False)
    assert ids(again.similarity_search("x", k=10)) == {d.id for d in DOCS}
    with pytest.raises(MemoryNotFoundError):
        MemvidVectorStore(tmp_path / "missing.mp4", embedding=FAKE, create=False)
    with pytest.raises(ValueError, match="video_file"):
        MemvidVectorStore(embedding=FAKE)
    wrapped = MemvidVectorStore(memory=store.memory)
    assert wrapped.embeddings is FAKE and wrapped.get_by_ids(["b1"])[0].page_content == "beta one"


def test_from_texts_appends_by_default_and_overwrites_only_when_asked(tmp_path: Path) -> None:
    video = tmp_path / "kb.mp4"
    first = MemvidVectorStore.from_documents(DOCS, FAKE, video_file=video)
    assert [d.id for d in first.get_by_ids(["a1", "b2"])] == ["a1", "b2"]  # Document.id kept
    assert first.memory.info()["segments"] == 1  # built as one compact video
    appended = MemvidVectorStore.from_texts(["more"], FAKE, ids=["m"], video_file=video)
    assert ids(appended.similarity_search("x", k=10)) == {d.id for d in DOCS} | {"m"}  # nothing lost
    rebuilt = MemvidVectorStore.from_texts(["fresh"], FAKE, ids=["f"], video_file=video, overwrite=True)
    assert ids(rebuilt.similarity_search("x", k=10)) == {"f"}
    with pytest.raises(ValueError, match="video_file"):
        MemvidVectorStore.from_texts(["x"], FAKE)


async def test_afrom_documents_and_adelete(tmp_path: Path) -> None:
    store = await MemvidVectorStore.afrom_documents(DOCS, FAKE, video_file=tmp_path / "kb.mp4")
    assert await store.adelete(["a1", "a2"]) is True
    assert [d.id for d in await store.aget_by_ids(["a1", "a3"])] == ["a3"]
