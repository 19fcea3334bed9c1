"""The int8 scan medium stores answer unfiltered vector queries from (index.int8_scan.ScanIndex).

Its promise: exactly the list an exact float64 cosine search of the stored vectors returns (ties to the
smaller row id), whatever the data, so a bare copy of an MP4 returns the same lists as the original without HNSW.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memvid_base import Memory, vectors
from memvid_base.format.vector_codec import int8_parts, round_trip
from memvid_base.index import int8_scan
from memvid_base.index.flat import FlatIndex
from memvid_base.index.int8_scan import ScanIndex
from memvid_base.index.vectors import LIVE, VectorStore
from memvid_base.types import Row
from tests.core_fixtures import hash_embed, pydoc_chunks


def _rows(n: int, v1: dict[int, int] | None = None, chunk: dict[int, str] | None = None) -> list[Row]:
    v1, chunk = v1 or {}, chunk or {}
    # Zero-padded row ids: ties go to the smaller row id, which is then the earlier row, as in _exact.
    return [Row(f"r{i:05d}", chunk.get(i, f"c{i}"), "seg", i, 1, "x", 1, v1.get(i, LIVE), 1) for i in range(n)]


def _exact(vecs: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    """The reference: float64 cosine over every allowed row, ties to the earlier row."""
    a = vecs.astype(np.float64)
    norms = np.linalg.norm(a, axis=1)
    q64 = q.astype(np.float64)
    sims = (a @ q64) / np.where(norms > 0, norms, 1) / np.linalg.norm(q64)
    order = [int(i) for i in np.lexsort((np.arange(len(a)), -sims))]
    return [i for i in order if allowed is None or allowed[i]][:k]


def _scan(vecs: np.ndarray, rows: list[Row] | None = None) -> ScanIndex:
    return ScanIndex(1, rows or _rows(len(vecs)), *int8_parts(vecs))


@pytest.mark.parametrize("seed", range(4))
def test_the_scan_returns_the_exact_list(seed: int) -> None:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, 48)).astype(np.float32)
    raw = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 48)).astype(np.float32)
    _, stored = round_trip(raw, "int8")  # what a box holds
    index = _scan(raw)
    for q in rng.standard_normal((25, 48)).astype(np.float32):
        for k in (1, 5, 40):
            got = index.nearest(q, k, 1, None, False)
            assert [int(h.row.row_id[1:]) for h in got] == _exact(stored, q, k)
            assert [h.distance for h in got] == sorted(h.distance for h in got)  # type: ignore[type-var]


def _counting_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Record each scan the index runs: ("top", k) for a top-k pass, ("all", None) for every row's score."""
    runs: list[tuple[str, int | None]] = []
    real = int8_scan._scan_session

    class Counting:
        def __init__(self, top_k: bool = True, threads: int = 1) -> None:
            self.top_k, self.threads = top_k, threads

        def run(self, names: object, feed: dict[str, np.ndarray]) -> object:
            runs.append(("top", int(feed["k"][0])) if self.top_k else ("all", None))
            return real(self.top_k, self.threads).run(names, feed)

    monkeypatch.setattr(int8_scan, "_scan_session", Counting)
    return runs


def test_near_ties_outside_the_first_candidates_are_scored_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows closer together than the int8 query's rounding (but not than float32's) need a second look."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal(64).astype(np.float32)
    raw = np.vstack([base + 0.05 * rng.standard_normal((500, 64)).astype(np.float32),
                     rng.standard_normal((1500, 64)).astype(np.float32)])
    _, stored = round_trip(raw, "int8")
    index = _scan(raw)
    runs = _counting_runs(monkeypatch)
    q = base + 0.05 * rng.standard_normal(64).astype(np.float32)
    got = index.nearest(q, 5, 1, None, False)
    assert [int(h.row.row_id[1:]) for h in got] == _exact(stored, q, 5)
    assert runs == [("top", int8_scan.CANDIDATES), ("all", None)]
    runs.clear()
    far = index.nearest(rng.standard_normal(64).astype(np.float32), 5, 1, None, False)  # a clear winner: one pass
    assert len(far) == 5 and runs == [("top", int8_scan.CANDIDATES)]


def test_no_pair_of_products_can_saturate_the_kernels_int16_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without AVX-VNNI, onnxruntime's u8 x s8 kernel (VPMADDUBSW) adds two products into int16 with saturation:
    on such CPUs (AMD EPYC with AVX2 only) an 8-bit query gave wrong lists.  The query is fed on 7 bits, so no
    pair can reach 32,767 whatever the CPU; this test holds that on every machine, the exact lists above only
    where the kernel saturates."""
    feeds: list[dict[str, np.ndarray]] = []
    real = int8_scan._scan_session

    class Recording:
        def __init__(self, top_k: bool = True, threads: int = 1) -> None:
            self.top_k, self.threads = top_k, threads

        def run(self, names: object, feed: dict[str, np.ndarray]) -> object:
            feeds.append(feed)
            return real(self.top_k, self.threads).run(names, feed)

    monkeypatch.setattr(int8_scan, "_scan_session", Recording)
    rng = np.random.default_rng(11)
    raw = rng.standard_normal((400, 32)).astype(np.float32)
    raw[0] = 1.0  # codes of +127 in every column against an all-positive query: the largest pairs there are
    index = _scan(raw)
    for q in [np.ones(32, dtype=np.float32), rng.standard_normal(32).astype(np.float32), -np.ones(32, dtype=np.float32)]:
        assert [int(h.row.row_id[1:]) for h in index.nearest(q, 5, 1, None, False)] == _exact(round_trip(raw, "int8")[1], q, 5)
    for feed in feeds:
        q = feed["q"].astype(np.int64)
        rows = feed["rows"].astype(np.int64)
        assert q.max() <= 127
        assert int(2 * q.max() * np.abs(rows).max()) <= 32767  # a pair of products fits int16


def test_thousands_of_identical_rows_are_scored_in_blocks_and_exactly() -> None:
    rng = np.random.default_rng(8)
    raw = rng.standard_normal((12000, 32)).astype(np.float32)
    raw[:9000] = raw[0]  # boilerplate: one vector, many chunks
    _, stored = round_trip(raw, "int8")
    index = _scan(raw)
    for q in (raw[0], raw[9500], rng.standard_normal(32).astype(np.float32)):
        got = index.nearest(q, 7, 1, None, False)
        assert [int(h.row.row_id[1:]) for h in got] == _exact(stored, q, 7)  # ties: the smallest row ids


def test_identical_rows_tie_exactly_and_go_to_the_smaller_row_id() -> None:
    """A row's exact score must not depend on the rows scored beside it.  With ``@`` (BLAS) the last rows of a block
    whose length is not a multiple of its tile took another loop and scored a float step apart, so one of many
    identical chunks could outrank the earlier ones; the staged re-rank makes such blocks common."""
    rng = np.random.default_rng(13)
    raw = rng.standard_normal((3000, 384)).astype(np.float32)
    same = np.sort(rng.choice(3000, 27, replace=False))
    raw[same] = raw[same[0]]
    index = _scan(raw)
    for q in raw[same[0]] + 0.4 * rng.standard_normal((6, 384)).astype(np.float32):
        for k in (5, 9, 13, 27):
            got = index.nearest(q, k, 1, None, False)
            assert [int(h.row.row_id[1:]) for h in got] == [int(i) for i in same[:k]]
            assert len({h.distance for h in got}) == 1


def _count_scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each exact re-rank scores, call by call (the list fills as the index searches)."""
    scored: list[int] = []
    real = ScanIndex._cosines

    def counting(self: ScanIndex, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
        scored.append(len(rows))
        return real(self, rows, unit)

    monkeypatch.setattr(ScanIndex, "_cosines", counting)
    return scored


def test_the_staged_re_rank_scores_few_candidates_and_keeps_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates are scored exactly best first; the rest only when their scan score could still reach the list."""
    scored = _count_scored(monkeypatch)
    rng = np.random.default_rng(14)
    centers = rng.standard_normal((40, 96)).astype(np.float32)
    raw = centers[rng.integers(0, 40, 6000)] + 0.4 * rng.standard_normal((6000, 96)).astype(np.float32)
    _, stored = round_trip(raw, "int8")
    index = _scan(raw)
    for q in rng.standard_normal((30, 96)).astype(np.float32):
        scored.clear()
        assert [int(h.row.row_id[1:]) for h in index.nearest(q, 5, 1, None, False)] == _exact(stored, q, 5)
        assert scored[0] == 16 and sum(scored) < int8_scan.CANDIDATES  # far fewer than every candidate


def test_later_candidates_that_can_still_reach_the_list_are_scored_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Near-duplicates score within the query's rounding of each other: those the first pass cannot rule out are
    scored exactly in a second pass (the scan's scores fall along its list, so they are the next few)."""
    scored = _count_scored(monkeypatch)
    monkeypatch.setattr(int8_scan, "_FIRST_SCORED", 1)
    rng = np.random.default_rng(21)
    base = rng.standard_normal(64).astype(np.float32)
    raw = base + 0.1 * rng.standard_normal((2000, 64)).astype(np.float32)
    _, stored = round_trip(raw, "int8")
    index = _scan(raw)
    partial = 0
    for q in (base + 0.5 * rng.standard_normal((20, 64))).astype(np.float32):
        scored.clear()
        assert [int(h.row.row_id[1:]) for h in index.nearest(q, 1, 1, None, False)] == _exact(stored, q, 1)
        assert scored[0] == 2  # the first pass: 2 * n candidates
        partial += len(scored) == 2 and 2 < scored[1] < int8_scan.CANDIDATES  # then the few that could still reach
    assert partial >= 10


def test_extreme_magnitudes_neither_overflow_nor_underflow() -> None:
    rng = np.random.default_rng(9)
    raw = rng.standard_normal((3000, 24)).astype(np.float32)
    raw[::3] *= np.float32(1e30)
    raw[1::3] *= np.float32(1e-30)
    _, stored = round_trip(raw, "int8")
    scan, flat = _scan(raw), FlatIndex(1, _rows(3000), stored)
    for q in rng.standard_normal((10, 24)).astype(np.float32):
        for scale in (np.float32(1e37), np.float32(1.0), np.float32(1e-37)):
            want = _exact(stored, q * scale, 5)
            for index in (scan, flat):
                got = index.nearest(q * scale, 5, 1, None, False)
                assert [int(h.row.row_id[1:]) for h in got] == want
                assert all(np.isfinite(h.distance) for h in got)  # type: ignore[arg-type]


def test_visibility_ids_and_embeddings() -> None:
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((400, 32)).astype(np.float32)
    _, stored = round_trip(raw, "int8")
    rows = _rows(400, v1={i: 2 for i in range(0, 400, 3)}, chunk={5: "shared", 6: "shared"})
    index = _scan(raw, rows)
    q = rng.standard_normal(32).astype(np.float32)
    at2 = np.asarray([r.visible_at(2) for r in rows])
    assert [int(h.row.row_id[1:]) for h in index.nearest(q, 10, 2, None, False)] == _exact(stored, q, 10, at2)
    assert [int(h.row.row_id[1:]) for h in index.nearest(q, 10, 1, None, False)] == _exact(stored, q, 10)
    some = np.zeros(400, dtype=bool)
    some[[5, 6, 7, 8]] = True
    got = index.nearest(q, 3, 1, ["shared", "c7", "c8", "nope"], True)
    assert [int(h.row.row_id[1:]) for h in got] == _exact(stored, q, 3, some)
    for h in got:
        assert h.embedding is not None and np.array_equal(h.embedding, stored[int(h.row.row_id[1:])])
    assert index.nearest(q, 3, 1, [], False) == []
    assert index.nearest(q, 3, 0, None, False) == []  # nothing is visible before the first version


def test_degenerate_queries_and_rows() -> None:
    raw = np.zeros((200, 16), dtype=np.float32)
    raw[50:] = np.random.default_rng(1).standard_normal((150, 16))
    index = _scan(raw)
    zero = index.nearest(np.zeros(16, dtype=np.float32), 4, 1, None, False)
    assert [h.row.row_id for h in zero] == ["r00000", "r00001", "r00002", "r00003"]  # all score 0: smallest ids win
    q = raw[120] * 3
    assert index.nearest(q, 1, 1, None, False)[0].row.row_id == "r00120"
    _, stored = round_trip(raw, "int8")
    every = index.nearest(q, 200, 1, None, False)  # all-zero rows score 0: after the positive rows, before the negative
    assert [int(h.row.row_id[1:]) for h in every] == _exact(stored, q, 200)
    assert {h.distance for h in every if int(h.row.row_id[1:]) < 50} == {1.0}


def test_vectors_stored_as_floats_are_ranked_on_the_floats() -> None:
    """A box may hold float32 or float16: the scan then bounds the codes' own rounding too."""
    rng = np.random.default_rng(5)
    raw = rng.standard_normal((2000, 24)).astype(np.float32)
    codes, scales = int8_parts(raw)
    index = ScanIndex(1, _rows(2000), codes, scales, raw)
    assert index.drift > 0
    flat = FlatIndex(1, _rows(2000), raw)
    for q in rng.standard_normal((20, 24)).astype(np.float32):
        assert [h.row.row_id for h in index.nearest(q, 5, 1, None, False)] == [
            h.row.row_id for h in flat.nearest(q, 5, 1, None, False)]
        assert [int(h.row.row_id[1:]) for h in index.nearest(q, 5, 1, None, False)] == _exact(raw, q, 5)


# ------------------------------------------------------------------------------------------- through Memory


def _store(mem: Memory) -> VectorStore:
    store = mem._view._vectors
    assert store is not None
    return store


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(120)


@pytest.fixture()
def medium(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a 120-chunk memory 'medium': above the flat tier, within the scan's."""
    monkeypatch.setattr(vectors, "FLAT_MAX_ROWS", 20)


def test_a_medium_memory_answers_from_the_scan_without_chroma(
    tmp_path: Path, corpus: list[str], medium: None
) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, ids=[f"c{i}" for i in range(len(corpus))], embeddings=hash_embed(corpus))
    mem.close()
    reader = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
    _, stored = round_trip(hash_embed(corpus), "int8")
    for q in hash_embed(["exception handling in a try statement", "for loop over a sequence", corpus[17]]):
        got = reader.search_by_vector(q, top_k=6)
        assert [c.id for c in got] == [f"c{i}" for i in _exact(stored, q, 6)]
        assert all(c.text == corpus[int(c.id[1:])] for c in got)  # text from the video
    store = _store(reader)
    assert isinstance(store._flat, ScanIndex) and not store.opened  # Chroma never opened


def test_the_scan_takes_over_from_the_flat_index_above_scan_from_rows(
    tmp_path: Path, corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flat up to SCAN_FROM_ROWS, then the scan (which reads a quarter of the bytes); flat again, up to FLAT_MAX_ROWS,
    where the scan is off. Every tier gives the same lists."""
    monkeypatch.setattr(vectors, "SCAN_FROM_ROWS", 100)
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus[:100], ids=[f"c{i}" for i in range(100)], embeddings=hash_embed(corpus[:100]))
    queries = hash_embed(["exception handling in a try statement", corpus[17], corpus[110]])
    mem.search_by_vector(queries[0])
    assert isinstance(_store(mem)._flat, FlatIndex)
    mem.add(corpus[100:], ids=[f"c{i}" for i in range(100, len(corpus))], embeddings=hash_embed(corpus[100:]))
    lists = [[c.id for c in mem.search_by_vector(q, top_k=6)] for q in queries]
    assert isinstance(_store(mem)._flat, ScanIndex)
    _, stored = round_trip(hash_embed(corpus), "int8")
    assert lists == [[f"c{i}" for i in _exact(stored, q, 6)] for q in queries]
    mem.close()
    monkeypatch.setattr(vectors, "SCAN_MAX_ROWS", 0)
    flat = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
    assert [[c.id for c in flat.search_by_vector(q, top_k=6)] for q in queries] == lists
    assert isinstance(_store(flat)._flat, FlatIndex)


def test_writes_time_travel_and_a_bare_copy_of_a_medium_memory(tmp_path: Path, corpus: list[str], medium: None) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus[:80], ids=[f"c{i}" for i in range(80)], embeddings=hash_embed(corpus[:80]))
    first = mem.version
    mem.delete(ids=["c3", "c4"])
    mem.add(corpus[80:], ids=[f"c{i}" for i in range(80, 120)], embeddings=hash_embed(corpus[80:]))
    _, stored = round_trip(hash_embed(corpus), "int8")
    live = np.asarray([i not in (3, 4) for i in range(120)])
    queries = hash_embed(corpus[::9])
    for q in queries:
        assert [c.id for c in mem.search_by_vector(q, top_k=10)] == [f"c{i}" for i in _exact(stored, q, 10, live)]
    old = Memory(mem.video_path, embedding_model=hash_embed, as_of=first)
    early = np.asarray([i < 80 for i in range(120)])
    assert [c.id for c in old.search_by_vector(queries[0], top_k=20)] == [f"c{i}" for i in _exact(stored, queries[0], 20, early)]
    mem.compact()  # appended segments travel in the MP4 once compacted
    (tmp_path / "copy").mkdir()
    shutil.copy(mem.video_path, tmp_path / "copy" / "kb.mp4")
    other = Memory(tmp_path / "copy" / "kb.mp4", embedding_model=hash_embed)
    for q in queries:
        assert [c.id for c in mem.search_by_vector(q, top_k=10)] == [c.id for c in other.search_by_vector(q, top_k=10)]
    assert isinstance(_store(other)._flat, ScanIndex)
    hybrid = other.search("try statement exception", top_k=5, mode="hybrid")
    assert [c.id for c in hybrid] == [c.id for c in mem.search("try statement exception", top_k=5, mode="hybrid")]
    assert len(hybrid) == 5


def test_after_writes_the_extended_scan_equals_one_read_afresh(
    tmp_path: Path, corpus: list[str], medium: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adds, upserts and deletes extend the last snapshot; a snapshot or compaction reads every box again."""
    from memvid_base.storage import replay

    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus[:60], ids=[f"c{i}" for i in range(60)], embeddings=hash_embed(corpus[:60]))
    q = hash_embed(["the with statement and context managers"])[0]
    mem.search_by_vector(q, top_k=3)
    fresh_reads: list[int] = []
    real = replay.int8_rows_from_metas

    def counting(*args: object, **kwargs: object) -> object:
        fresh_reads.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(replay, "int8_rows_from_metas", counting)
    steps = [
        lambda: mem.add(corpus[60:90], ids=[f"c{i}" for i in range(60, 90)], embeddings=hash_embed(corpus[60:90])),
        lambda: mem.delete(ids=["c1", "c61"]),
        lambda: mem.add([corpus[5], "c62 replaced"], ids=["c2", "c62"], embeddings=hash_embed([corpus[5], "c62 replaced"])),
        lambda: mem.add(["c62 again"], ids=["c62"], embeddings=hash_embed(["c62 again"])),
        lambda: mem.add(corpus[90:], embeddings=hash_embed(corpus[90:])),
    ]
    for step in steps:
        step()
        got = [c.id for c in mem.search_by_vector(q, top_k=8)]
        extended = _store(mem)._flat
        assert isinstance(extended, ScanIndex) and extended.head == mem.version
        reader = Memory(mem.video_path, embedding_model=hash_embed)
        assert [c.id for c in reader.search_by_vector(q, top_k=8)] == got
        afresh = _store(reader)._flat
        assert isinstance(afresh, ScanIndex)
        assert {r.row_id: r for r in extended.rows} == {r.row_id: r for r in afresh.rows}
        by_id = {r.row_id: k for k, r in enumerate(afresh.rows)}
        order = [by_id[r.row_id] for r in extended.rows]
        assert np.array_equal(extended.codes, afresh.codes[order]) and np.array_equal(extended.scales, afresh.scales[order])
        for version in range(1, mem.version + 1):  # time travel through the extended snapshot
            assert [h.row.row_id for h in extended.nearest(q, 10, version, None, False)] == [
                h.row.row_id for h in afresh.nearest(q, 10, version, None, False)]
    assert len(fresh_reads) == 5  # the readers' first reads; the writer only extended
    mem.compact(keep_history=True)  # a snapshot: read afresh
    mem.search_by_vector(q, top_k=3)
    assert len(fresh_reads) == 6


def test_the_tiers_are_set_per_process_by_environment_variables() -> None:
    code = "from memvid_base.index import vectors as v; print(v.FLAT_MAX_ROWS, v.SCAN_FROM_ROWS, v.SCAN_MAX_ROWS)"
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "MEMVID_FLAT_MAX_ROWS": "10", "MEMVID_SCAN_FROM_ROWS": "7",
           "MEMVID_SCAN_MAX_ROWS": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root, timeout=120)
    assert out.stdout.split() == ["10", "7", "0"], out.stderr
    for value in ("lots", "\u00b2"):  # a word, and a digit that is not an ASCII one
        env["MEMVID_SCAN_MAX_ROWS"] = value
        bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root, timeout=120)
        assert bad.returncode != 0 and "InvalidInputError" in bad.stderr and "is not a row count" in bad.stderr


def test_with_the_scan_tier_off_a_medium_memory_uses_hnsw(
    tmp_path: Path, corpus: list[str], medium: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "SCAN_MAX_ROWS", 0)
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, ids=[f"c{i}" for i in range(len(corpus))], embeddings=hash_embed(corpus))
    assert mem.search_by_vector(hash_embed([corpus[9]])[0], top_k=1)[0].id == "c9"
    assert _store(mem)._flat is None


def test_small_scans_run_on_one_thread_and_give_the_same_list(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = np.random.default_rng(5).standard_normal((600, 24)).astype(np.float32)
    index = _scan(raw)
    q = raw[11] + 0.1
    want = [f"r{i:05d}" for i in _exact(round_trip(raw, "int8")[1], q, 5)]
    assert [h.row.row_id for h in index.nearest(q, 5, 1, None, False)] == want
    assert (True, 1) in int8_scan._sessions
    monkeypatch.setattr(int8_scan, "ONE_THREAD_BELOW", 100)  # as if the index were large
    assert [h.row.row_id for h in index.nearest(q, 5, 1, None, False)] == want
    assert (True, int8_scan._THREADS) in int8_scan._sessions


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_scans_with_its_own_session() -> None:
    raw = np.random.default_rng(4).standard_normal((300, 16)).astype(np.float32)
    index = _scan(raw)
    q = raw[7]
    assert index.nearest(q, 1, 1, None, False)[0].row.row_id == "r00007"  # the parent's session exists now
    parent = int8_scan._sessions[True, 1]  # 300 rows: scanned on one thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's session kept aside (never torn down), a fresh one, the same answer
        ok = int8_scan._sessions == {} and index.nearest(q, 1, 1, None, False)[0].row.row_id == "r00007"
        ok = ok and int8_scan._sessions[True, 1] is not parent and int8_scan._orphans[-1][True, 1] is parent
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
