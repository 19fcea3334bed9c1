"""Exact in-memory vector search over a snapshot of a store's rows, for stores small enough to hold in memory.

Two indexes answer an unfiltered vector query without HNSW.  Both are pure functions of the rows and
vectors in the segments' boxes, so every copy of an MP4 returns the same lists:

* :class:`FlatIndex` (this module): float32 rows, one matrix product per query (small stores).
* :class:`~memvid_base.index.int8_scan.ScanIndex`: the boxes' int8 rows scanned by onnxruntime, then the
  best candidates ranked exactly (medium stores).

They share :class:`RowSnapshot`: which rows a version sees, the ``ids`` restriction, and the final ranking
rule (best first, ties to the smaller row id).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..types import Hit, Row
from .row_table import RowTable

_FLAT_BLOCK = 1024
# Unit rows and query: a float32 dot product is within about d * 2**-24 of the true one, so BLAS's and einsum's
# differ by twice that, and a row whose einsum score can reach the n-th best lies within 4 * d * 2**-24 of the BLAS
# floor. Twice that again, for margin.
_SLACK_PER_DIM = 8 * 2.0**-24
_BLOCKS = 64  # block maxima that bound a top-n search's floor (near_best)
_SORTED_IN_PYTHON = 32  # candidates up to this many are ranked by Python's sort (rank)


class RowSnapshot:
    """Every row of a store at committed version ``head``, in the store's order (a snapshot, never written).

    It is valid for every version up to ``head``: a row's ``[v0, v1)`` range only changes for versions
    after the committed one (a later writer's rows and removals), so the visibility test stays right for
    those versions.
    """

    def __init__(self, head: int, rows: Sequence[Row]) -> None:
        self.head = head
        self.rows = RowTable.of(rows)
        self.v0, self.v1 = self.rows.v0, self.rows.v1
        self._by_chunk: dict[str, list[int]] | None = None
        self._visible: tuple[int, np.ndarray | None] | None = None

    def _mask(self, version: int) -> np.ndarray | None:
        """Rows visible at ``version`` (None: all of them)."""
        visible = self._visible  # read once: another thread may replace it (the snapshot is shared)
        if visible is None or visible[0] != version:
            mask = (self.v0 <= version) & (self.v1 > version)
            visible = self._visible = (version, None if bool(mask.all()) else mask)
        return visible[1]

    def allowed(self, version: int, chunk_ids: Sequence[str] | None) -> np.ndarray | None:
        """Rows a query at ``version`` restricted to ``chunk_ids`` may return (None: every row)."""
        mask = self._mask(version)
        if chunk_ids is None:
            return mask
        allowed = np.zeros(len(self.rows), dtype=bool)
        allowed[[k for cid in dict.fromkeys(chunk_ids) for k in self._chunk_rows().get(str(cid), ())]] = True
        return allowed if mask is None else mask & allowed

    def _chunk_rows(self) -> dict[str, list[int]]:
        by_chunk = self._by_chunk
        if by_chunk is None:
            by_chunk = {}  # filled before it is published: another thread must never see it half done
            for k, chunk_id in enumerate(self.rows.chunk_ids):
                by_chunk.setdefault(chunk_id, []).append(k)
            self._by_chunk = by_chunk
        return by_chunk


def rank(rows: RowTable, cand: np.ndarray, sims: np.ndarray, n: int) -> np.ndarray:
    """Positions in ``cand`` of its ``n`` best row numbers by similarity ``sims`` (one per candidate), best first.

    Ties go to the smaller row id, not to the earlier row: every reader then breaks them the same way,
    whatever order its snapshot holds the rows in (a snapshot extended after a write keeps its old order).
    """
    if len(cand) <= _SORTED_IN_PYTHON:
        return np.asarray(ranked_positions(rows, cand.tolist(), sims.tolist(), n), dtype=np.int64)
    order = np.argsort(-sims, kind="stable")
    ranked = sims[order]
    if not (ranked[1:] == ranked[:-1]).any():
        return order[:n]  # no two equal: nothing for the tie rule to decide (the usual case, and cheaper)
    ids = np.asarray([rows.row_ids[k] for k in cand.tolist()], dtype=object)
    return np.lexsort((ids, -sims))[:n]


def best_first(rows: RowTable, cand: np.ndarray, sims: np.ndarray, n: int) -> tuple[list[int], list[float]]:
    """The ``n`` best row numbers of ``cand`` by ``sims``, best first (:func:`rank`'s rule), and their similarities,
    as lists: what a hit is made from. A search's few candidates never go back to numpy."""
    if len(cand) <= _SORTED_IN_PYTHON:
        numbers, scores = cand.tolist(), sims.tolist()
        order = ranked_positions(rows, numbers, scores, n)
        return [numbers[i] for i in order], [scores[i] for i in order]
    ranked = rank(rows, cand, sims, n)
    return cand[ranked].tolist(), sims[ranked].tolist()


def ranked_positions(rows: RowTable, numbers: list[int], scores: list[float], n: int) -> list[int]:
    """:func:`rank` for a few candidates given as lists (row numbers and their similarities), by Python's sort.

    2.5 us for a search's 16 candidates against numpy's 7.7 (timed ad hoc). Row ids are read only when two of the
    first n + 1 scores are equal (each lookup misses the caches right after a scan).
    """
    best = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    if any(scores[best[i]] == scores[best[i + 1]] for i in range(min(n, len(best) - 1))):
        row_ids = rows.row_ids
        best = sorted(range(len(numbers)), key=lambda i: (-scores[i], row_ids[numbers[i]]))
    return best[:n]


def near_best(values: np.ndarray, n: int, slack: float) -> np.ndarray:
    """Positions, ascending, of every value at or above the ``n``-th largest minus ``slack``
    (``1 <= n <= len(values)``; ``-inf`` allowed, no NaN).

    Through block maxima: the ``n``-th largest of ``_BLOCKS`` block maxima is at most the ``n``-th largest value
    (``n`` blocks each hold one at least that large), so only the few values near it are looked at again.
    12 us for 3,800 scores, against 52 for ``np.argpartition`` over all of them (timed ad hoc).
    """
    size = len(values)
    if size >= 4 * _BLOCKS and n <= _BLOCKS // 4:
        width = size // _BLOCKS
        maxima = values[: _BLOCKS * width].reshape(_BLOCKS, width).max(axis=1)
        lower = np.float64(np.partition(maxima, _BLOCKS - n)[_BLOCKS - n])  # float64: the comparisons stay exact
        if lower == lower:  # never NaN here (scores of finite vectors); if one were, the plain way below is right
            near = np.flatnonzero(values >= lower - slack)  # every value within slack of the n-th largest, and more
            picked = values[near]
            floor = np.float64(np.partition(picked, len(picked) - n)[len(picked) - n]) - slack
            return near[picked >= floor]
    floor = np.float64(np.partition(values, size - n)[size - n]) - slack
    return np.flatnonzero(values >= floor)


def directions(matrix: np.ndarray) -> np.ndarray:
    """Each row of ``matrix`` scaled to length 1, in float64 (so no stored magnitude overflows or underflows);
    an all-zero row stays zero and scores 0 against any query."""
    wide = np.array(matrix, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    wide /= np.where(norms > 0, norms, 1.0)[:, None]
    return wide


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """:func:`directions` as float32."""
    return directions(matrix).astype(np.float32)


def unit_query(vector: np.ndarray) -> np.ndarray:
    """One vector's direction as float32, computed in float64 like :func:`unit_rows` (zero stays zero), in four
    numpy calls instead of nine: each costs microseconds on a query's hot path."""
    wide = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.sqrt(wide @ wide))
    return (wide / norm if norm > 0 else wide).astype(np.float32)


class FlatIndex(RowSnapshot):
    """Every row of a store with its float32 vector, for exact cosine search in numpy."""

    def __init__(self, head: int, rows: Sequence[Row], vectors: np.ndarray) -> None:
        super().__init__(head, rows)
        self.matrix = np.ascontiguousarray(vectors, dtype=np.float32)  # the stored vectors, as hits return them
        self.unit = unit_rows(self.matrix)  # their directions, searched

    def nearest(self, vector: np.ndarray, top_k: int, version: int, chunk_ids: Sequence[str] | None,
                include_embeddings: bool) -> list[Hit]:
        q = unit_query(vector)
        # In blocks of 1,024 rows: one BLAS call over 5,000 rows went multi-threaded and took 28 ms instead of
        # 0.1 ms on a busy 2-core machine; blocks stay single-threaded and were 2x faster than einsum.
        sims = np.empty(len(self.rows), dtype=np.float32)
        for start in range(0, len(self.rows), _FLAT_BLOCK):
            np.matmul(self.unit[start : start + _FLAT_BLOCK], q, out=sims[start : start + _FLAT_BLOCK])
        mask = self.allowed(version, chunk_ids)
        if mask is not None:
            sims = np.where(mask, sims, -np.inf)
        n = min(top_k, len(self.rows) if mask is None else int(mask.sum()))
        if n <= 0:
            return []
        if n < len(sims):
            # Every row that may tie with the n-th best competes, so the tie rule decides (a partition picks any).
            cand = near_best(sims, n, _SLACK_PER_DIM * len(q))  # masked rows (-inf) never qualify
        else:
            cand = np.arange(len(sims))  # n rows, all visible
        # The candidates scored again with einsum, whose sum for a row does not depend on where the row sits: BLAS
        # gave identical rows scores one float32 step apart by their place in a block (its tiles, then a remainder
        # loop), and a later copy of a chunk could rank before the first.
        exact = np.einsum("ij,j->i", self.unit[cand], q)
        if len(cand) > n:  # near-duplicates can put thousands in the slack: only those at the n-th best or above rank
            keep = exact >= np.partition(exact, len(exact) - n)[len(exact) - n]
            cand, exact = cand[keep], exact[keep]
        best, scores = best_first(self.rows, cand, exact, n)
        return [Hit(row, 1.0 - s, self.matrix[k].copy() if include_embeddings else None)
                for row, k, s in zip(self.rows.take(best), best, scores)]
