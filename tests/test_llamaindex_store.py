"""MemvidVectorStore against the LlamaIndex vector store contract, with a fast deterministic embedding."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pytest
from core_fixtures import chroma_rows
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from memvid_base import DimensionMismatchError, InvalidInputError, Memory, MemvidEncoder
from memvid_llamaindex import MemvidVectorStore, UnsupportedFilterError, to_chroma_where
from memvid_llamaindex.filters import filter_to_clause, restrict_where, transform_operator

DIM = 64
_WORD = re.compile(r"\w+")


def hash_vectors(texts: list[str]) -> np.ndarray:
    """Bag of words hashed into 64 dimensions: deterministic, torch-free, shared words => similar vectors."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            out[row, h % (DIM - 1)] += 1.0 if h & 1 << 31 else -1.0
        out[row, -1] += 0.01
    return out


class HashEmbedding(BaseEmbedding):
    model_name: str = "hash-64"

    def _get_query_embedding(self, query: str) -> list[float]:
        return hash_vectors([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return hash_vectors([text])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


EMBED = HashEmbedding()

# A small real dataset: (id, text, metadata)
BOOKS = [
    ("shawshank", "The Shawshank Redemption is a story of hope and friendship in prison.",
     {"author": "Stephen King", "theme": "Friendship", "year": 1982, "rating": 8.9}),
    ("godfather", "The Godfather follows a Mafia family and its succession of power.",
     {"director": "Francis Ford Coppola", "theme": "Mafia", "year": 1972, "rating": 9.2}),
    ("inception", "Inception is about thieves who steal secrets from inside dreams.",
     {"director": "Christopher Nolan", "theme": "Fiction", "year": 2010, "rating": 8.8}),
    ("mockingbird", "To Kill a Mockingbird is about racial injustice in a small Alabama town.",
     {"author": "Harper Lee", "theme": "Mafia", "year": 1960, "rating": 8.3}),
    ("1984", "Nineteen Eighty-Four describes a totalitarian state and constant surveillance.",
     {"author": "George Orwell", "theme": "Totalitarianism", "year": 1949, "rating": 8.5}),
    ("gatsby", "The Great Gatsby portrays wealth, love and the American dream in the 1920s.",
     {"author": "F. Scott Fitzgerald", "theme": "The American Dream", "year": 1925, "rating": 7.9}),
    ("lotr", "The Lord of the Rings is a fantasy quest to destroy a powerful ring.",
     {"author": "J.R.R. Tolkien", "theme": "Fiction", "year": 1954, "rating": 9.0}),
]


def book_nodes() -> list[TextNode]:
    nodes = []
    for node_id, text, meta in BOOKS:
        node = TextNode(id_=node_id, text=text, metadata=dict(meta))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{meta['theme']}")
        node.embedding = hash_vectors([text])[0].tolist()
        nodes.append(node)
    return nodes


def qvec(text: str) -> list[float]:
    return hash_vectors([text])[0].tolist()


def node_dump(node: Any) -> dict[str, Any]:
    data = node.model_dump()
    data.pop("embedding", None)
    return data


@pytest.fixture
def store(tmp_path):
    s = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    s.add(book_nodes())
    yield s
    s.close()


# ---------------------------------------------------------------------- round trips


def test_add_then_get_nodes_round_trips_whole_nodes(tmp_path):
    rich = TextNode(
        id_="rich",
        text="Ünïcödé text with emoji 🚀 and\nnewlines\tand tabs.",
        metadata={"file": "a.md", "page": 3, "score": 0.5, "ok": True, "tags": ["x", "y"], "nested": {"k": [1, 2]}},
        excluded_embed_metadata_keys=["page"],
        excluded_llm_metadata_keys=["tags"],
        metadata_template="{key}={value}",
        text_template="META: {metadata_str}\nTEXT: {content}",
        start_char_idx=10,
        end_char_idx=60,
    )
    rich.relationships = {
        NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1", metadata={"file": "a.md"}, hash="abc"),
        NodeRelationship.PREVIOUS: RelatedNodeInfo(node_id="prev"),
        NodeRelationship.NEXT: RelatedNodeInfo(node_id="next"),
    }
    rich.embedding = qvec(rich.text)
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    assert store.add([rich]) == ["rich"]

    [back] = store.get_nodes(node_ids=["rich"])
    assert type(back) is TextNode
    assert node_dump(back) == node_dump(rich)
    assert back.ref_doc_id == "doc-1"
    assert back.relationships[NodeRelationship.NEXT].node_id == "next"

    res = store.query(VectorStoreQuery(query_embedding=qvec(rich.text), similarity_top_k=1))
    assert res.ids == ["rich"]
    assert node_dump(res.nodes[0]) == node_dump(rich)
    assert res.nodes[0].get_content() == rich.get_content()  # templates and excluded keys survive

    # The text really lives in the video: the Chroma rows carry no copy of it.
    rows = chroma_rows(store.client)["metadatas"]
    assert all(rich.text not in str(v) for row in rows for v in row.values())


def test_get_nodes_by_ids_filters_and_all(store):
    got = store.get_nodes(node_ids=["gatsby", "missing", "1984"])
    assert [n.node_id for n in got] == ["gatsby", "1984"]
    assert got[0].text == BOOKS[5][1]
    assert {n.node_id for n in store.get_nodes()} == {b[0] for b in BOOKS}
    fiction = MetadataFilters(filters=[MetadataFilter(key="theme", value="Fiction")])
    assert {n.node_id for n in store.get_nodes(filters=fiction)} == {"inception", "lotr"}
    assert [n.node_id for n in store.get_nodes(node_ids=["lotr", "gatsby"], filters=fiction)] == ["lotr"]
    assert store.get_nodes(node_ids=[]) == []


def test_add_is_an_upsert_by_node_id(store):
    node = TextNode(id_="gatsby", text="A rewritten summary about Long Island parties.", metadata={"year": 2000})
    node.embedding = qvec(node.text)
    store.add([node])
    assert len(store.client) == len(BOOKS)
    [back] = store.get_nodes(node_ids=["gatsby"])
    assert back.text == node.text and back.metadata == {"year": 2000}
    res = store.query(VectorStoreQuery(query_embedding=qvec("Long Island parties"), similarity_top_k=1))
    assert res.ids == ["gatsby"]


def test_delete_by_ref_doc_id(store):
    store.delete("doc-Mafia")  # the source document of godfather and mockingbird
    left = {n.node_id for n in store.get_nodes()}
    assert left == {b[0] for b in BOOKS} - {"godfather", "mockingbird"}
    res = store.query(VectorStoreQuery(query_embedding=qvec(BOOKS[1][1]), similarity_top_k=7))
    assert "godfather" not in res.ids and len(res.ids) == 5


def test_delete_nodes_by_ids_filters_and_both(store):
    store.delete_nodes(node_ids=["1984"])
    assert "1984" not in {n.node_id for n in store.get_nodes()}
    store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="year", value=1960, operator="<")]))
    assert {n.node_id for n in store.get_nodes()} == {"shawshank", "godfather", "inception", "mockingbird"}
    # ids AND filters: only nodes matching both go
    store.delete_nodes(node_ids=["inception", "shawshank"], filters=MetadataFilters(filters=[MetadataFilter(key="theme", value="Fiction")]))
    assert {n.node_id for n in store.get_nodes()} == {"shawshank", "godfather", "mockingbird"}
    with pytest.raises(InvalidInputError, match="clear"):
        store.delete_nodes()


def test_clear_empties_the_store_and_it_stays_usable(store):
    store.clear()
    assert store.get_nodes() == []
    assert store.query(VectorStoreQuery(query_embedding=qvec("hope"), similarity_top_k=3)).ids == []
    store.add(book_nodes()[:2])
    assert {n.node_id for n in store.get_nodes()} == {"shawshank", "godfather"}


def test_similarities_are_higher_for_more_similar(store):
    res = store.query(VectorStoreQuery(query_embedding=qvec(BOOKS[2][1]), similarity_top_k=7))
    assert res.ids[0] == "inception"
    assert res.similarities[0] == pytest.approx(1.0, abs=1e-4)
    assert res.similarities == sorted(res.similarities, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in res.similarities)
    assert [n.node_id for n in res.nodes] == res.ids


def test_query_str_without_embedding_uses_the_store_model(store):
    res = store.query(VectorStoreQuery(query_str="fantasy quest to destroy a ring", similarity_top_k=1))
    assert res.ids == ["lotr"]


def test_doc_ids_and_node_ids_restrict_results(store):
    q = qvec(BOOKS[2][1])
    res = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=5, doc_ids=["doc-Mafia"]))
    assert set(res.ids) == {"godfather", "mockingbird"}
    res = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=5, node_ids=["gatsby", "1984"]))
    assert set(res.ids) == {"gatsby", "1984"}
    res = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=5, node_ids=["gatsby", "1984"], doc_ids=["doc-Totalitarianism"]))
    assert res.ids == ["1984"]
    # empty lists mean "no restriction" (VectorStoreIndex.as_retriever passes node_ids=[])
    res = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=3, node_ids=[]))
    assert res.ids[0] == "inception" and len(res.ids) == 3


def test_add_requires_embeddings_with_the_memory_dimension(tmp_path):
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    with pytest.raises(InvalidInputError, match="no embedding"):
        store.add([TextNode(text="no vector")])
    store.add(book_nodes()[:1])
    bad = TextNode(text="wrong size", embedding=[0.1] * 10)
    with pytest.raises(DimensionMismatchError, match="10-d"):
        store.add([bad])
    with pytest.raises(InvalidInputError, match="hybrid"):
        store.query(VectorStoreQuery(query_embedding=qvec("x"), mode=VectorStoreQueryMode.HYBRID))


def test_duplicate_node_ids_in_one_batch_keep_the_last(tmp_path):
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    a = TextNode(id_="same", text="first version", embedding=qvec("first version"))
    b = TextNode(id_="same", text="second version", embedding=qvec("second version"))
    assert store.add([a, b]) == ["same", "same"]
    assert [n.text for n in store.get_nodes()] == ["second version"]


# ---------------------------------------------------------------------- filters

EXPECTED = [
    # (operator, key, value, the ids a Python evaluation of the filter selects)
    ("==", "theme", "Mafia", {"godfather", "mockingbird"}),
    ("!=", "theme", "Mafia", {"shawshank", "inception", "1984", "gatsby", "lotr"}),
    (">", "year", 1960, {"shawshank", "godfather", "inception"}),
    (">=", "year", 1960, {"shawshank", "godfather", "inception", "mockingbird"}),
    ("<", "year", 1954, {"1984", "gatsby"}),
    ("<=", "year", 1954, {"1984", "gatsby", "lotr"}),
    (">", "rating", 8.8, {"shawshank", "godfather", "lotr"}),
    ("in", "theme", ["Fiction", "Totalitarianism"], {"inception", "lotr", "1984"}),
    ("nin", "theme", ["Fiction", "Mafia"], {"shawshank", "1984", "gatsby"}),
    ("in", "year", [1972, 1925], {"godfather", "gatsby"}),
]


@pytest.mark.parametrize(("op", "key", "value", "expected"), EXPECTED)
def test_every_supported_operator(store, op, key, value, expected):
    filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])
    res = store.query(VectorStoreQuery(query_embedding=qvec("a story"), similarity_top_k=10, filters=filters))
    assert set(res.ids) == expected
    assert {n.node_id for n in store.get_nodes(filters=filters)} == expected


def test_and_or_and_nested_filters(store):
    q = VectorStoreQuery(query_embedding=qvec("a story"), similarity_top_k=10)

    def ids(filters: MetadataFilters) -> set[str]:
        q.filters = filters
        return set(store.query(q).ids)

    after_1950 = MetadataFilter(key="year", value=1950, operator=FilterOperator.GT)
    mafia = MetadataFilter(key="theme", value="Mafia")
    assert ids(MetadataFilters(filters=[after_1950, mafia])) == {"godfather", "mockingbird"}
    assert ids(MetadataFilters(filters=[after_1950, mafia], condition=FilterCondition.OR)) == {
        "shawshank", "godfather", "inception", "mockingbird", "lotr"
    }
    nested = MetadataFilters(
        filters=[
            MetadataFilters(filters=[MetadataFilter(key="theme", value="Fiction"), MetadataFilter(key="rating", value=9.0, operator=">=")]),
            MetadataFilters(
                filters=[MetadataFilter(key="year", value=1930, operator="<"), MetadataFilter(key="author", value="George Orwell")],
                condition=FilterCondition.OR,
            ),
        ],
        condition=FilterCondition.OR,
    )
    assert ids(nested) == {"lotr", "gatsby", "1984"}
    deep = MetadataFilters(filters=[nested, MetadataFilter(key="rating", value=8.0, operator=">")])
    assert ids(deep) == {"lotr", "1984"}
    # a filter key nobody has matches nothing; an empty filter list matches everything
    assert ids(MetadataFilters(filters=[MetadataFilter(key="publisher", value="x")])) == set()
    assert len(ids(MetadataFilters(filters=[]))) == len(BOOKS)


def test_filter_translation_is_pure_and_exact():
    f = MetadataFilters(
        filters=[
            MetadataFilter(key="a", value=1),
            MetadataFilters(
                filters=[MetadataFilter(key="b", value=["x"], operator="in"), MetadataFilter(key="c", value=2.5, operator="<=")],
                condition="or",
            ),
        ]
    )
    assert to_chroma_where(f) == {"$and": [{"a": {"$eq": 1}}, {"$or": [{"b": {"$in": ["x"]}}, {"c": {"$lte": 2.5}}]}]}
    assert to_chroma_where(MetadataFilters(filters=[MetadataFilter(key="a", value="v", operator="!=")])) == {"a": {"$ne": "v"}}
    assert to_chroma_where(None) is None
    assert filter_to_clause(MetadataFilter(key="k", value="v", operator="nin")) == {"k": {"$nin": ["v"]}}
    assert transform_operator(FilterOperator.GTE) == "$gte"
    assert restrict_where({"a": {"$eq": 1}}, ["d"]) == {"$and": [{"a": {"$eq": 1}}, {"ref_doc_id": {"$in": ["d"]}}]}


@pytest.mark.parametrize(
    "operator",
    [FilterOperator.ANY, FilterOperator.ALL, FilterOperator.CONTAINS, FilterOperator.TEXT_MATCH,
     FilterOperator.TEXT_MATCH_INSENSITIVE, FilterOperator.IS_EMPTY],
)
def test_unsupported_operators_raise_clearly(store, operator):
    filters = MetadataFilters(filters=[MetadataFilter(key="theme", value=["Fiction"], operator=operator)])
    with pytest.raises(UnsupportedFilterError, match=f"{operator.value!r} is not supported.*Supported operators: ==, !="):
        store.query(VectorStoreQuery(query_embedding=qvec("x"), filters=filters))
    with pytest.raises(UnsupportedFilterError):
        store.get_nodes(filters=filters)
    with pytest.raises(UnsupportedFilterError):
        store.delete_nodes(filters=filters)
    assert len(store.get_nodes()) == len(BOOKS)  # nothing was deleted


def test_not_condition_and_bad_values_raise_clearly():
    with pytest.raises(UnsupportedFilterError, match="'not' is not supported"):
        to_chroma_where(MetadataFilters(filters=[MetadataFilter(key="a", value=1)], condition=FilterCondition.NOT))
    with pytest.raises(UnsupportedFilterError, match="use 'in' or 'nin'"):
        to_chroma_where(MetadataFilters(filters=[MetadataFilter(key="a", value=["x", "y"])]))
    with pytest.raises(UnsupportedFilterError, match="non-empty list"):
        to_chroma_where(MetadataFilters(filters=[MetadataFilter(key="a", value=[], operator="in")]))
    with pytest.raises(UnsupportedFilterError, match="reserved"):
        to_chroma_where(MetadataFilters(filters=[MetadataFilter(key="_mv_id", value="x")]))


# ---------------------------------------------------------------------- MMR


def test_mmr_prefers_diverse_results_and_honours_threshold(tmp_path):
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    rng = np.random.default_rng(0)
    base = rng.normal(size=DIM)
    other = rng.normal(size=DIM)
    vectors = {
        "dup1": base + 0.01 * rng.normal(size=DIM),
        "dup2": base + 0.01 * rng.normal(size=DIM),
        "dup3": base + 0.01 * rng.normal(size=DIM),
        "mixed": 0.6 * base / np.linalg.norm(base) + 0.8 * other / np.linalg.norm(other),
    }
    store.add([TextNode(id_=k, text=f"node {k}", embedding=v.tolist()) for k, v in vectors.items()])
    q = base.tolist()

    plain = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=2))
    assert set(plain.ids) <= {"dup1", "dup2", "dup3"}

    diverse = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr", mmr_threshold=0.3))
    assert diverse.ids[0] in {"dup1", "dup2", "dup3"} and diverse.ids[1] == "mixed"
    assert diverse.similarities[1] < diverse.similarities[0]
    assert [n.text for n in diverse.nodes] == [f"node {i}" for i in diverse.ids]

    # mmr_threshold=1 is pure relevance: the same as the default mode
    relevance = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=3, mode="mmr", mmr_threshold=1.0))
    assert relevance.ids == store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=3)).ids

    # the threshold can also come through vector_store_kwargs, as VectorIndexRetriever passes it
    via_kwargs = store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr"), mmr_threshold=0.3)
    assert via_kwargs.ids == diverse.ids

    # filters apply to the MMR candidates too
    only = store.query(
        VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr", mmr_threshold=0.3, node_ids=["dup2", "mixed"])
    )
    assert only.ids == ["dup2", "mixed"]


def test_mmr_through_a_retriever(store):
    index = VectorStoreIndex.from_vector_store(store, embed_model=EMBED)
    retriever = index.as_retriever(similarity_top_k=3, vector_store_query_mode="mmr", vector_store_kwargs={"mmr_threshold": 0.5})
    hits = retriever.retrieve("a fantasy quest to destroy a ring")
    assert hits[0].node.node_id == "lotr"
    assert len({h.node.node_id for h in hits}) == 3


# ---------------------------------------------------------------------- async


async def test_async_variants(tmp_path):
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    assert await store.async_add(book_nodes()) == [b[0] for b in BOOKS]
    res = await store.aquery(VectorStoreQuery(query_embedding=qvec(BOOKS[0][1]), similarity_top_k=1))
    assert res.ids == ["shawshank"] and res.nodes[0].text == BOOKS[0][1]
    assert [n.node_id for n in await store.aget_nodes(node_ids=["lotr"])] == ["lotr"]
    await store.adelete("doc-Fiction")
    await store.adelete_nodes(node_ids=["gatsby"])
    assert {n.node_id for n in await store.aget_nodes()} == {"shawshank", "godfather", "mockingbird", "1984"}
    await store.aclear()
    assert await store.aget_nodes() == []


# ---------------------------------------------------------------------- reopening


def test_from_vector_store_reopens_without_reingesting(tmp_path):
    docs = [Document(text=text, id_=f"doc-{node_id}", metadata=meta) for node_id, text, meta in BOOKS]
    store = MemvidVectorStore(tmp_path / "kb.mp4", embed_model=EMBED)
    VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=EMBED)
    version = store.client.version
    store.close()

    # Opened without its embed_model: queries come with vectors, and deletes need no model.
    reopened = MemvidVectorStore(tmp_path / ".kb.mp4.memvid-cache" / "index.json", create_if_missing=False)
    index = VectorStoreIndex.from_vector_store(reopened, embed_model=EMBED)
    hits = index.as_retriever(similarity_top_k=2).retrieve("thieves who steal secrets inside dreams")
    assert hits[0].node.text == BOOKS[2][1]
    assert hits[0].node.ref_doc_id == "doc-inception"
    assert hits[0].node.metadata == BOOKS[2][2]
    hits = index.as_retriever(
        similarity_top_k=5, filters=MetadataFilters(filters=[MetadataFilter(key="author", value="Harper Lee")])
    ).retrieve("a story")
    assert [h.node.ref_doc_id for h in hits] == ["doc-mockingbird"]
    assert reopened.client.version == version  # nothing was written

    index.delete_ref_doc("doc-mockingbird")
    assert "doc-mockingbird" not in {n.ref_doc_id for n in reopened.get_nodes()}
    # New nodes come with vectors from the index's embed_model; only embedding text needs the model itself.
    index.insert(Document(text="A whale hunt across the oceans of the world.", id_="doc-moby"))
    assert index.as_retriever(similarity_top_k=1).retrieve("whale hunt")[0].node.ref_doc_id == "doc-moby"
    with pytest.raises(InvalidInputError, match="embed_model"):
        reopened.query(VectorStoreQuery(query_str="whale", similarity_top_k=1))


def test_wraps_a_memory_built_by_the_seed_encoder(tmp_path):
    enc = MemvidEncoder(embedding_model=lambda texts: hash_vectors(list(texts)))
    for node_id, text, meta in BOOKS:
        enc.add_chunks([text], metadata={"file": f"{node_id}.md", "year": meta["year"]})
    enc.build_video(str(tmp_path / "seed.mp4"), str(tmp_path / "seed_index.json"), show_progress=False)

    store = MemvidVectorStore(tmp_path / "seed.mp4", create_if_missing=False)
    index = VectorStoreIndex.from_vector_store(store, embed_model=EMBED)
    hits = index.as_retriever(
        similarity_top_k=3, filters=MetadataFilters(filters=[MetadataFilter(key="file", value="gatsby.md")])
    ).retrieve("wealth and love")
    assert len(hits) == 1
    assert hits[0].node.text == BOOKS[5][1]
    assert hits[0].node.metadata == {"file": "gatsby.md", "year": 1925}


def test_a_new_memory_takes_the_frame_size_and_a_reopened_one_reports_its_own(tmp_path):
    store = MemvidVectorStore(tmp_path / "small.mp4", embed_model=EMBED, frame_size=136)
    store.add(book_nodes()[:3])
    assert store.frame_size == 136 and store.client.settings.frame_size == 136
    assert store.client.verify().ok
    store.close()
    reopened = MemvidVectorStore(tmp_path / "small.mp4", embed_model=EMBED, frame_size=200)  # an existing memory keeps its own
    assert reopened.frame_size == 136 and len(reopened.get_nodes()) == 3


def test_wraps_an_open_memory_and_rejects_missing_paths(tmp_path):
    mem = Memory.create(tmp_path / "m.mp4", embedding_model=lambda texts: hash_vectors(list(texts)))
    store = MemvidVectorStore.from_memory(mem)
    store.add(book_nodes()[:3])
    assert store.client is mem and len(mem) == 3
    assert store.video_file.endswith("m.mp4") and store.index_file.endswith(".m.mp4.memvid-cache/index.json")
    with pytest.raises(FileNotFoundError):
        MemvidVectorStore(tmp_path / "nothing.mp4", create_if_missing=False)


def test_new_memory_rejects_vectors_its_embedder_cannot_match(tmp_path):
    """Core regression: a fresh memory with the default 384-d MiniLM must not accept 64-d vectors on the first add
    (it used to record 384 in the manifest while Chroma stored 64-d rows, breaking every later query)."""
    store = MemvidVectorStore(tmp_path / "kb.mp4")  # default embedder: MiniLM, 384-d
    with pytest.raises(DimensionMismatchError, match="64-d"):
        store.add(book_nodes()[:1])
    mem = Memory(tmp_path / "kb.mp4")
    with pytest.raises(DimensionMismatchError):
        mem.add(["text"], embeddings=hash_vectors(["text"]))
    assert len(mem) == 0 and mem.manifest.embedding.get("dimension") in (None, 384)
