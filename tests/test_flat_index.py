"""The exact in-memory index small stores answer unfiltered vector queries from (index.flat.FlatIndex)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from memvid_base import Memory, vectors
from memvid_base.errors import CorruptMemoryError, MemvidError
from memvid_base.files.layout import Layout
from memvid_base.index.flat import best_first, near_best, rank, unit_query, unit_rows
from memvid_base.index.row_table import RowTable
from memvid_base.index.vectors import FlatIndex
from memvid_base.storage import replay
from memvid_base.storage.replay import rows_from_boxes
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
        m.setattr(vectors, "SCAN_MAX_ROWS", 10)  # above both in-memory tiers
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


def test_identical_rows_rank_by_row_id_wherever_they_sit() -> None:
    """BLAS scored identical rows a float32 step apart by their place in a block (its tiles, then a remainder loop),
    so a later copy of a chunk could rank before the first: 37 of these 100 cases did before the re-score."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        for n in (13, 515, 1027, 1030, 2049):
            raw = rng.standard_normal((n, 384)).astype(np.float32)
            same = [3, n - 3, n - 2, n - 1]  # the last rows of the last block
            raw[same] = raw[3]
            rows = [Row(f"r{i:05d}", f"c{i}", "s", i, 1, "x", 1, vectors.LIVE, 1) for i in range(n)]
            q = raw[3] + 0.3 * rng.standard_normal(384).astype(np.float32)
            got = FlatIndex(1, rows, raw).nearest(q, 4, 1, None, False)
            assert [h.row.frame for h in got] == same
            assert len({h.distance for h in got}) == 1


def test_near_best_agrees_with_a_full_sort_on_ties_masks_and_any_size() -> None:
    """The block-maxima shortcut must pick what sorting every score picks: duplicates, masked rows (-inf), the
    best rows packed into one block, and sizes below, at and above the shortcut's threshold."""
    rng = np.random.default_rng(7)
    for size in (1, 5, 255, 256, 257, 1000, 3800, 4099):
        for case in ("random", "ties", "masked", "clustered"):
            values = rng.standard_normal(size).astype(np.float32)
            if case == "ties":
                values = np.round(values, 1)
            elif case == "masked":
                values[rng.random(size) < 0.9] = -np.inf
            elif case == "clustered":
                values[: min(size, 40)] += 10  # every winner in the first block
            for n in {1, 2, 5, 16, size}:
                for slack in (0.0, 1e-6, 0.05):
                    if n > size:
                        continue
                    floor = np.float64(np.sort(values)[size - n]) - slack
                    assert near_best(values, n, slack).tolist() == np.flatnonzero(values >= floor).tolist(), (size, case, n)


def test_unit_query_matches_the_rows_directions() -> None:
    rng = np.random.default_rng(2)
    for v in (rng.standard_normal(384).astype(np.float32), np.full(4, 3e38, np.float32), np.float32([0, 1e-30, 0])):
        q = unit_query(v)
        assert q.dtype == np.float32 and np.allclose(q, unit_rows(v.reshape(1, -1))[0], rtol=1e-6, atol=0)
        assert abs(float(np.linalg.norm(q.astype(np.float64))) - 1) < 1e-6  # no overflow, no underflow
    assert not unit_query(np.zeros(8, np.float32)).any()  # a zero query stays zero: every row scores 0


def test_rank_sorts_few_and_many_candidates_the_same_way() -> None:
    """Up to 32 candidates are ranked by Python's sort, more by numpy: both put ties in row-id order."""
    rows = RowTable.of([Row(f"r{(i * 7919) % 1000:04d}", f"c{i}", "s", i, 1, "x", 1, vectors.LIVE, 1) for i in range(1000)])
    rng = np.random.default_rng(3)
    for size in (1, 6, 32, 33, 200):
        cand = rng.choice(1000, size, replace=False)
        sims = np.round(rng.random(size), 1)  # many ties
        want = sorted(range(size), key=lambda i: (-sims[i], rows.row_ids[cand[i]]))[:5]
        assert rank(rows, cand, sims, 5).tolist() == want
        # best_first: the same order, as the row numbers and similarities a hit is made from
        assert best_first(rows, cand, sims, 5) == ([int(cand[i]) for i in want], [float(sims[i]) for i in want])


def _store_rows(mem: Memory) -> dict[str, tuple[Row, np.ndarray]]:
    hits = mem.open_store()._get(None, include_embeddings=True)
    return {h.row.row_id: (h.row, np.asarray(h.embedding)) for h in hits}


def _box_rows(mem: Memory) -> dict[str, tuple[Row, np.ndarray]]:
    found = rows_from_boxes(mem.layout, mem.manifest, 10_000)
    assert found is not None
    rows, vecs = found
    assert len(rows) == len(vecs) == mem.manifest.live_chunks + mem.manifest.dead_rows
    return {r.row_id: (r, v) for r, v in zip(rows, vecs)}


def test_the_boxes_hold_exactly_the_rows_and_vectors_the_store_holds(tmp_path: Path, corpus: list[str]) -> None:
    """What a first query reads from the MP4 is what Chroma holds, through every kind of version."""
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    steps = [
        lambda: mem.add(corpus[:40], ids=[f"c{i}" for i in range(40)], embeddings=hash_embed(corpus[:40])),
        lambda: mem.add(corpus[40:60], ids=[f"c{i}" for i in range(40, 60)], embeddings=hash_embed(corpus[40:60])),
        lambda: mem.delete(ids=["c1", "c41"]),
        lambda: mem.add(["c2 replaced"], ids=["c2"], embeddings=hash_embed(["c2 replaced"])),  # an upsert
        lambda: mem.compact(keep_history=True),
        lambda: mem.add(corpus[60:80], embeddings=hash_embed(corpus[60:80])),
        lambda: mem.clear(),
        lambda: mem.add(corpus[80:90], ids=[f"c{i}" for i in range(80, 90)], embeddings=hash_embed(corpus[80:90])),
        lambda: mem.delete(ids=["c80"]),
        lambda: mem.compact(),  # history dropped: dead rows leave the store
    ]
    for step in steps:
        step()
        store, boxes = _store_rows(mem), _box_rows(mem)
        assert boxes.keys() == store.keys()
        for rid, (row, vec) in boxes.items():
            assert row == store[rid][0]
            # The values the store was given; Chroma normalizes them again, which moves a few by one float32 step.
            assert np.allclose(vec, store[rid][1], rtol=1e-6, atol=1e-7)


def test_a_restored_older_manifest_is_not_answered_from_the_boxes(tmp_path: Path, corpus: list[str]) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus[:10], embeddings=hash_embed(corpus[:10]))
    old = mem.index_path.read_bytes()
    mem.add(corpus[10:20], embeddings=hash_embed(corpus[10:20]))
    mem.close()
    mem.index_path.write_bytes(old)
    assert mem.layout.segments_newer_than(1) and not mem.layout.segments_newer_than(2)
    reader = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
    with pytest.raises(CorruptMemoryError):  # the store's check runs, as test_lazy_store shows for any query
        reader.search_by_vector(hash_embed([corpus[0]])[0], top_k=1)


def _counting_box_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = replay.read_segment_meta

    def counting(path: object) -> object:
        reads.append(str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(replay, "read_segment_meta", counting)
    return reads


def test_after_an_append_the_first_query_reads_only_the_new_box(
    tmp_path: Path, corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    for k in range(0, 60, 10):
        mem.add(corpus[k : k + 10], ids=[f"c{i}" for i in range(k, k + 10)], embeddings=hash_embed(corpus[k : k + 10]))
    reads = _counting_box_reads(monkeypatch)
    q = hash_embed([corpus[65]])[0]
    mem.search_by_vector(q, top_k=3)
    assert len(reads) == 6  # one per segment, once
    mem.add(corpus[60:70], ids=[f"c{i}" for i in range(60, 70)], embeddings=hash_embed(corpus[60:70]))
    assert mem.search_by_vector(q, top_k=1)[0].id == "c65"
    assert len(reads) == 7 and reads[-1].endswith(mem.manifest.segments[-1].file)


def test_a_manifest_naming_one_file_many_times_reads_it_at_most_twice(
    tmp_path: Path, corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, ids=[f"c{i}" for i in range(len(corpus))], embeddings=hash_embed(corpus))
    mem.close()
    doc = json.loads(mem.index_path.read_text())
    doc["segments"] += [dict(doc["segments"][-1], uid=f"{k:016x}") for k in range(300)]  # a stranger's manifest
    mem.index_path.write_text(json.dumps(doc))
    reads = _counting_box_reads(monkeypatch)
    reader = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
    try:
        reader.search_by_vector(hash_embed([corpus[3]])[0], top_k=3)
    except MemvidError:
        pass  # the store may refuse the manifest too; what matters is the work done before
    assert len(reads) <= 2


def test_a_stale_head_or_an_unlistable_segments_folder_falls_back_to_the_store(
    memory: Memory, corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    index = memory._view._flat_source()
    assert index(memory.version, None) is not None
    assert index(memory.version - 1, None) is None  # the view moved on: never rows of one version under another's head

    def unlistable(self: object, version: int) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Layout, "segments_newer_than", unlistable)
    reader = Memory(memory.video_path, embedding_model=hash_embed)
    assert reader.search_by_vector(hash_embed([corpus[7]])[0], top_k=1)[0].id == "c7"  # answered by Chroma
