"""A reusable contract for the vector-row layer, in the manner of zarr's ``StoreTests``.

Subclass :class:`VectorStoreContract` and implement ``make_store``; every test then runs against
that backend.  The rows, visibility and version rules here are the ones every read and write of a
memory relies on.
"""

from __future__ import annotations

import numpy as np
import pytest

from memvid_base import InvalidInputError
from memvid_base.index.vectors import LIVE, VectorStore, and_where, make_row, validate_where

DIM = 8


def unit(k: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[k % DIM] = 1.0
    v[(k + 1) % DIM] = 0.1 * (k // DIM)
    return v / np.linalg.norm(v)


class VectorStoreContract:
    """Behaviour every vector store backend must have."""

    def make_store(self, tmp_path) -> VectorStore:  # pragma: no cover - subclasses implement it
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path) -> VectorStore:
        s = self.make_store(tmp_path)
        rows = [make_row(f"c{k}", "seg0", k, 1, f"sum{k}", 1, 10 + k) for k in range(6)]
        metas = [{"file": "a.md" if k < 3 else "b.md", "page": k} for k in range(6)]
        s.add(rows, np.stack([unit(k) for k in range(6)]), metas)
        return s

    def test_rows_round_trip_with_their_bookkeeping(self, store: VectorStore) -> None:
        hits = {h.row.chunk_id: h.row for h in store.lookup(1)}
        assert sorted(hits) == [f"c{k}" for k in range(6)]
        row = hits["c4"]
        assert (row.row_id, row.segment, row.frame, row.frames, row.checksum, row.v0, row.v1, row.text_bytes) == (
            "c4@1", "seg0", 4, 1, "sum4", 1, LIVE, 14,
        )

    def test_rows_keep_few_metadata_keys(self, store: VectorStore) -> None:
        # Chroma stores each metadata key of a row as one SQLite row: memvid's bookkeeping uses five.
        res = store.collection.get(ids=["c4@1"], include=["metadatas"])
        assert sorted(k for k in res["metadatas"][0] if k.startswith("_mv_")) == [
            "_mv_id", "_mv_loc", "_mv_seg", "_mv_v0", "_mv_v1",
        ]

    def test_rows_written_one_key_per_field_still_read(self, store: VectorStore) -> None:
        old = {"_mv_id": "old", "_mv_seg": "seg0", "_mv_frame": 7, "_mv_frames": 2, "_mv_sum": "abc",
               "_mv_v0": 1, "_mv_v1": LIVE, "_mv_bytes": 33}
        store.collection.add(ids=["old@1"], embeddings=[unit(7)], metadatas=[old])
        row = store.rows_by_id(["old@1"], 1)["old@1"].row
        assert (row.chunk_id, row.frame, row.frames, row.checksum, row.text_bytes) == ("old", 7, 2, "abc", 33)

    def test_a_damaged_packed_field_is_reported(self, store: VectorStore) -> None:
        from memvid_base.errors import CorruptMemoryError

        store.collection.update(ids=["c1@1"], metadatas=[{"_mv_loc": "1|x|sum|10"}])
        with pytest.raises(CorruptMemoryError, match="bookkeeping"):
            store.rows_by_id(["c1@1"], 1)

    def test_rows_are_invisible_before_their_version(self, store: VectorStore) -> None:
        assert store.lookup(0) == []
        assert store.nearest(unit(0), 3, 0) == []

    def test_nearest_is_ordered_and_filtered(self, store: VectorStore) -> None:
        hits = store.nearest(unit(2), 3, 1)
        assert hits[0].row.chunk_id == "c2" and hits[0].distance == pytest.approx(0.0, abs=1e-5)
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)  # type: ignore[type-var]
        only_b = store.nearest(unit(2), 6, 1, where={"file": "b.md"})
        assert {h.row.chunk_id for h in only_b} == {"c3", "c4", "c5"}
        by_id = store.nearest(unit(2), 6, 1, chunk_ids=["c0", "c5"])
        assert {h.row.chunk_id for h in by_id} == {"c0", "c5"}

    def test_removed_rows_stay_visible_to_older_versions(self, store: VectorStore) -> None:
        store.set_removed(["c1@1"], 2)
        assert "c1" not in {h.row.chunk_id for h in store.lookup(2)}
        assert "c1" in {h.row.chunk_id for h in store.lookup(1)}  # time travel
        assert [h.row.chunk_id for h in store.rows_removed_by(2)] == ["c1"]
        assert "c1" not in {h.row.chunk_id for h in store.live_rows()}

    def test_live_rows_for_ids_ignores_uncommitted_rows(self, store: VectorStore) -> None:
        store.add([make_row("c9", "seg1", 0, 1, "s9", 3, 5)], np.stack([unit(9)]), [{}])
        assert {h.row.chunk_id for h in store.live_rows_for(["c9", "c0"], 2)} == {"c0"}
        assert {h.row.chunk_id for h in store.live_rows_for(["c9"], 3)} == {"c9"}

    def test_nearest_skips_a_writers_uncommitted_rows(self, store: VectorStore) -> None:
        # A writer's rows of version 2 sit nearest to the query before it commits: a reader at version 1
        # still gets its full top-k of committed rows, in order, through the filtered fallback.
        near = [make_row(f"n{k}", "seg1", k, 1, f"n{k}", 2, 5) for k in range(4)]
        store.add(near, np.stack([unit(2)] * 4), [{}] * 4)
        hits = store.nearest(unit(2), 3, 1, invisible_rows=0)
        assert len(hits) == 3 and hits[0].row.chunk_id == "c2"
        assert all(h.row.v0 == 1 for h in hits)
        # The same as the always-filtered query (c2, then two of the five committed rows tied at distance 1).
        assert [h.distance for h in hits] == pytest.approx([h.distance for h in store.nearest(unit(2), 3, 1)], abs=1e-5)

    def test_nearest_widens_before_it_filters(self, store: VectorStore, monkeypatch) -> None:
        # Twenty uncommitted rows (a killed writer's) nearer than every committed one: the unfiltered query
        # widens until it holds top_k committed rows; only past WIDEST_UNFILTERED does the slower filtered one run.
        import memvid_base.index.vectors as vectors

        near = [make_row(f"n{k}", "seg1", k, 1, f"n{k}", 2, 5) for k in range(20)]
        store.add(near, np.stack([unit(2)] * 20), [{}] * 20)
        filtered: list[int] = []
        query = store._query

        def spy(vector, n, where, embeddings):  # type: ignore[no-untyped-def]
            if where is not None:
                filtered.append(n)
            return query(vector, n, where, embeddings)

        monkeypatch.setattr(store, "_query", spy)
        hits = store.nearest(unit(2), 3, 1, invisible_rows=0)
        assert len(hits) == 3 and hits[0].row.chunk_id == "c2" and all(h.row.v0 == 1 for h in hits)
        assert filtered == []
        monkeypatch.setattr(vectors, "WIDEST_UNFILTERED", 12)
        again = store.nearest(unit(2), 3, 1, invisible_rows=0)
        assert again[0].row.chunk_id == "c2" and all(h.row.v0 == 1 for h in again)
        assert filtered == [3]

    def test_undo_after_removes_an_interrupted_writers_work(self, store: VectorStore) -> None:
        store.add([make_row("c7", "seg1", 0, 1, "s7", 2, 5)], np.stack([unit(7)]), [{}])
        store.set_removed(["c0@1"], 2)
        assert [h.row.chunk_id for h in store.rows_after(1)] == ["c7"]
        store.undo_after(1)
        assert store.rows_after(1) == []
        assert {h.row.chunk_id for h in store.live_rows()} == {f"c{k}" for k in range(6)}

    def test_embeddings_come_back_when_asked(self, store: VectorStore) -> None:
        [hit] = store.lookup(1, chunk_ids=["c3"], include_embeddings=True)
        assert hit.embedding is not None and np.allclose(hit.embedding, unit(3), atol=1e-6)
        assert store.lookup(1, chunk_ids=["c3"])[0].embedding is None

    def test_lookup_limit_and_delete_rows(self, store: VectorStore) -> None:
        assert len(store.lookup(1, limit=2)) == 2
        store.delete_rows(["c0@1", "c1@1"])
        assert {h.row.chunk_id for h in store.lookup(1)} == {"c2", "c3", "c4", "c5"}


def test_where_validation_names_the_mistake() -> None:
    for bad, message in [
        ("file", "non-empty dict"),
        ({}, "non-empty dict"),
        ({"$nope": []}, "Unknown where operator"),
        ({"page": {"$like": 1}}, "Unknown where operator"),
        ({"page": {"$in": "abc"}}, "list"),
        ({"_mv_id": "x"}, "memvid's"),
        ({"$and": "x"}, "non-empty list"),
        ({"page": [1, 2]}, "must be a str"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            validate_where(bad)
    validate_where({"$or": [{"file": "a.md"}, {"page": {"$gte": 2}}]})


def test_and_where_flattens() -> None:
    assert and_where(None, {}) is None
    assert and_where({"a": 1}) == {"a": 1}
    assert and_where({"a": 1, "b": 2}, {"$and": [{"c": 3}, {"d": 4}]}) == {
        "$and": [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]
    }


def test_where_matches_agrees_with_chroma() -> None:
    import chromadb
    from chromadb.config import Settings

    from memvid_base.index.vectors import where_matches

    rows = {"a": {"k": 1, "s": "x"}, "b": {"k": 2, "s": "y"}, "c": {"z": 1}, "d": {"k": True}, "e": {"k": 2.5}}
    col = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False)).create_collection(
        "where_semantics", embedding_function=None)
    col.add(ids=list(rows), embeddings=[[1.0, float(k)] for k in range(len(rows))], metadatas=list(rows.values()))
    for where in [{"k": 1}, {"k": {"$ne": 1}}, {"k": {"$in": [1, 2]}}, {"k": {"$nin": [1]}}, {"k": {"$gt": 1}},
                  {"k": {"$lte": 2}}, {"s": {"$in": ["x"]}}, {"$or": [{"s": "y"}, {"z": 1}]},
                  {"$and": [{"k": {"$gte": 1}}, {"k": {"$lt": 3}}]}]:
        expected = sorted(col.get(where=where)["ids"])
        assert sorted(i for i, m in rows.items() if where_matches(where, m)) == expected, where
