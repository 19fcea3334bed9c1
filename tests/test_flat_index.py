"""The exact in-memory index small stores answer unfiltered vector queries from (vectors.FlatIndex)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from memvid_base import Memory, vectors
from memvid_base.index.vectors import FlatIndex
from memvid_base.types import Row
from tests.core_fixtures import hash_embed, pydoc_chunks


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(120)


@pytest.fixture()
def memory(tmp_path: Path, corpus: list[str]) -> Memory:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, ids=[f"c{i}" for i in range(len(corpus))], embeddings=hash_embed(corpus))
    return mem


def _exact(corpus_vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    a = corpus_vecs / np.linalg.norm(corpus_vecs, axis=1, keepdims=True)
    sims = a @ (q / np.linalg.norm(q))
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]


def test_unfiltered_search_is_exact_and_served_from_memory(memory: Memory, corpus: list[str]) -> None:
    vecs = hash_embed(corpus)
    queries = hash_embed(["exception handling in a try statement", "for loop over a sequence", "class definition"])
    for q in queries:
        got = memory.search_by_vector(q, top_k=7)
        assert [c.id for c in got] == [f"c{i}" for i in _exact(vecs, q, 7)]
        assert all(c.text == corpus[int(c.id[1:])] for c in got)  # text decoded from the video
        assert [c.distance for c in got] == sorted(c.distance for c in got)
    store = memory.open_store()
    assert store._flat is not None and store._flat.head == memory.version
    # The distances agree with Chroma's own (same cosine), to float32 rounding.
    res = store.collection.query(query_embeddings=[queries[0]], n_results=3, include=["distances"])
    flat = store._flat.nearest(queries[0], 3, memory.version, None, False)
    assert [h.row.row_id for h in flat] == res["ids"][0]
    assert np.allclose([h.distance for h in flat], res["distances"][0], atol=1e-5)


def test_writes_and_time_travel_see_the_right_rows(memory: Memory, corpus: list[str]) -> None:
    q = hash_embed([corpus[3]])[0]
    v1 = memory.version
    assert memory.search_by_vector(q, top_k=1)[0].id == "c3"
    memory.delete(ids=["c3"])
    after = memory.search_by_vector(q, top_k=5)
    assert "c3" not in [c.id for c in after]
    memory.add(["A brand new chunk about FLATINDEX_MARKER."], ids=["new"], embeddings=hash_embed([corpus[3]]))
    assert memory.search_by_vector(q, top_k=1)[0].id == "new"
    old = Memory(memory.video_path, embedding_model=hash_embed, as_of=v1)
    assert old.search_by_vector(q, top_k=1)[0].id == "c3"  # the row removed later is visible at v1
    assert "new" not in [c.id for c in old.search_by_vector(q, top_k=10)]


def test_ids_restriction_and_embeddings(memory: Memory, corpus: list[str]) -> None:
    q = hash_embed([corpus[10]])[0]
    got = memory.search_by_vector(q, top_k=3, ids=["c20", "c30", "c40", "nope"], include_embeddings=True)
    assert sorted(c.id for c in got) == ["c20", "c30", "c40"]
    want = hash_embed([corpus[20]])[0]
    emb = next(c.embedding for c in got if c.id == "c20")
    assert emb is not None and np.allclose(np.asarray(emb) / np.linalg.norm(emb), want / np.linalg.norm(want), atol=0.02)
    assert memory.search_by_vector(q, top_k=3, ids=[]) == []


def test_a_bare_copy_returns_the_same_lists(memory: Memory, corpus: list[str], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(memory.video_path, copy / "kb.mp4")
    other = Memory(copy / "kb.mp4", embedding_model=hash_embed)
    for q in hash_embed(corpus[::7]):
        assert [c.id for c in memory.search_by_vector(q, top_k=10)] == [c.id for c in other.search_by_vector(q, top_k=10)]


def test_large_stores_and_filters_keep_using_chroma(memory: Memory, corpus: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    q = hash_embed([corpus[5]])[0]
    store = memory.open_store()
    with monkeypatch.context() as m:
        m.setattr(vectors, "FLAT_MAX_ROWS", 10)
        store._forget_flat()
        assert memory.search_by_vector(q, top_k=1)[0].id == "c5"
        assert store._flat is None
    store._forget_flat()
    memory.search_by_vector(q, top_k=1, where={"nothing": 1})
    assert store._flat is None


def test_flat_index_ties_and_visibility_by_version() -> None:
    rows = [Row(f"c{i}@1", f"c{i}", "s", i, 1, "x", 1, vectors.LIVE if i != 2 else 3, 1) for i in range(4)]
    m = np.asarray([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    flat = FlatIndex(3, rows, m)
    assert [h.row.chunk_id for h in flat.nearest(np.asarray([1.0, 0.0]), 3, 2, None, False)] == ["c0", "c1", "c2"]
    assert [h.row.chunk_id for h in flat.nearest(np.asarray([1.0, 0.0]), 3, 3, None, False)] == ["c0", "c1", "c3"]
    assert flat.nearest(np.asarray([1.0, 0.0]), 5, 0, None, False) == []
