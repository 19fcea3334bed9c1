"""Exact vector search over a medium store's int8 rows: one integer matrix product in onnxruntime, then an exact re-rank.

A segment's box keeps each vector as int8 values and one scale (``format/vector_codec``), so a store of
100,000 MiniLM rows is 38 MB of int8.  onnxruntime's ``MatMulInteger`` (uint8 query × int8 rows, the fast
kernel) scores all of them; with the re-rank that took 2.2-3.0 ms at 100,000 rows, against 3.9-7.0 ms for an
HNSW query at the ``ef_search`` that keeps copies in agreement (``benchmarks/bench_search.py``).  The query is rounded to int8
for that pass, so its scores can be off by at most ``|q - q8| / |q|`` (Cauchy-Schwarz); the best candidates
are then scored exactly, and the answer is accepted only when no row outside the candidates could beat it by
that bound.  Otherwise every row whose scan score comes within the bound of the best so far is scored exactly.

So a query returns exactly what an exact cosine search of the stored vectors returns, whatever the data,
and being a pure function of the rows (ties go to the smaller row id), every copy of the MP4 returns the
same list.  After a write, a reader extends its snapshot with the new segments' rows
(:meth:`ScanIndex.extended`) instead of reading every box again.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models import onnx_proto as op
from ..types import Hit, Row
from .flat import RowSnapshot, best_first, directions, rank

MAX_SCAN_DIM = 4096  # int32 sums of dim * 127 * 128 stay exact far beyond this; wider vectors keep HNSW
# Scored exactly per query; when the bound cannot rule the rest out, the near ones are scored too.  128, not 64, since
# the query has 7 bits: at 64, 42 of 300 queries at 100,000 rows needed that second pass; at 128 none (p50 the same).
CANDIDATES = 128
_SLACK = 1e-4  # float32 rounding of both passes, in cosine units, far above what they can reach
_BLOCK = 1024  # rows converted at a time while building: no full-size wide copy, and the transpose stays in cache
_RERANK_BLOCK = 4096  # rows scored exactly at a time
_FIRST_SCORED = 16  # candidates scored exactly before the rest are ruled out by their scan scores (see _best)
_Q_MAX, _Q_SHIFT = 63, 64  # the query's int levels, and the shift that makes them uint8 (1..127): see _best

_K_CANDIDATES = np.array([CANDIDATES], dtype=np.int64)  # the scan's usual k, made once and shared, so read-only
_K_CANDIDATES.setflags(write=False)
_session_lock = threading.Lock()
_sessions: dict[tuple[bool, int], Any] = {}  # by whether the graph ends in TopK, and by threads
# Below this many rows a scan runs on one thread: waking a second one cost more than it saved. The scan call alone,
# one thread against two: 54.7 / 70.9 us at 3,800 rows, 127 / 147 at 10,000, 237 / 224 at 20,000, 786 / 597 at
# 40,000 (benchmarks/bench_exact_tiers.py, exact_tiers.json and exact_tiers_hashed.json).
ONE_THREAD_BELOW = 15_000
_THREADS = max(1, min(2, os.cpu_count() or 1))  # two halve a 100,000-row scan; more add little to a memory-bound one
_orphans: list[Any] = []  # a forked child's copies of the parent's sessions: never destroyed (see _forget_session)


def _graph(top_k: bool) -> bytes:
    """``TopK((q8 · rows - bias) * inv_norm + mask, k)`` as an ONNX model (every score when ``top_k`` is False);
    every size is an input."""
    nodes = [
        op.node("MatMulInteger", ["q", "rows"], ["dot_u"]),  # the query shifted to uint8: u8 x s8 is the fast kernel
        op.node("Sub", ["dot_u", "bias"], ["dot"]),  # bias = 64 * sum(row): undoes the shift exactly
        op.node("Cast", ["dot"], ["dot_f"], to=op.FLOAT),
        op.node("Mul", ["dot_f", "inv_norm"], ["cos"]),
        op.node("Add", ["cos", "mask"], ["scores"]),  # 0, or -inf for rows the query may not return
    ]
    inputs = [
        op.value_info("q", op.UINT8, [1, "d"]),
        op.value_info("rows", op.INT8, ["d", "n"]),
        op.value_info("bias", op.INT32, ["n"]),
        op.value_info("inv_norm", op.FLOAT, ["n"]),
        op.value_info("mask", op.FLOAT, ["n"]),
    ]
    if not top_k:
        return op.model(nodes, inputs, [op.value_info("scores", op.FLOAT, [1, "n"])], [], opset=17, name="memvid_int8_scores")
    nodes.append(op.node("TopK", ["scores", "k"], ["values", "indices"], axis=1, largest=1, sorted=1))
    inputs.append(op.value_info("k", op.INT64, [1]))
    outputs = [op.value_info("values", op.FLOAT, [1, "k"]), op.value_info("indices", op.INT64, [1, "k"])]
    return op.model(nodes, inputs, outputs, [], opset=17, name="memvid_int8_scan")


def _scan_session(top_k: bool = True, threads: int = _THREADS) -> Any:
    """The process's onnxruntime sessions, shared by every index (they hold no rows: the rows are inputs)."""
    with _session_lock:
        if (top_k, threads) not in _sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # No spinning, so an idle server does not burn a core after each query.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            _sessions[top_k, threads] = ort.InferenceSession(_graph(top_k), options, providers=["CPUExecutionProvider"])
        return _sessions[top_k, threads]


def _forget_session() -> None:
    global _sessions, _session_lock
    # A forked child must not use the parent's onnxruntime thread pool, nor destroy it: another parent thread may
    # have been inside a scan at the fork, and tearing its copy down hangs the child.  Kept, and never used.
    _orphans.append(_sessions)
    _sessions, _session_lock = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_session)


class ScanIndex(RowSnapshot):
    """Every row of a store as int8 codes with one scale each, for exact cosine search by an int8 scan.

    Args:
        head: The committed version the rows were read at.
        rows: The store's rows, in its order.
        codes: ``(n, dim)`` int8 values; row ``i``'s vector is ``codes[i] * scales[i]`` (all zero where the
            scale is 0, as :func:`~memvid_base.format.vector_codec.decode_int8_parts` gives them).
        scales: ``(n,)`` float32 scales.
        exact: The float32 vectors when the box did not hold int8 (then ``codes`` approximates them and
            the bound widens by the largest difference in direction); None when ``codes * scales`` are the vectors.

    Example:
        >>> import numpy as np
        >>> from memvid_base.format.vector_codec import int8_parts
        >>> from memvid_base.types import Row
        >>> vecs = np.eye(3, dtype=np.float32)
        >>> rows = [Row(f"r{i}", f"c{i}", "seg", i, 1, "x", 1, 2**62, 1) for i in range(3)]
        >>> index = ScanIndex(1, rows, *int8_parts(vecs))
        >>> [h.row.chunk_id for h in index.nearest(np.array([0.1, 1.0, 0.2]), 2, 1, None, False)]
        ['c1', 'c2']
    """

    def __init__(self, head: int, rows: Sequence[Row], codes: np.ndarray, scales: np.ndarray,
                 exact: np.ndarray | None = None, *, segments: frozenset[tuple[str, str]] = frozenset(),
                 floor: int = 0) -> None:
        super().__init__(head, rows)
        n = len(rows)
        if codes.shape[0] != n or scales.shape != (n,) or (exact is not None and exact.shape != codes.shape):
            raise ValueError(f"{n} rows need {n} codes and scales, got {codes.shape} and {scales.shape}")
        self._hold(codes, np.asarray(scales, dtype=np.float32), *_scan_parts(codes), exact, segments, floor, None)

    def _hold(self, codes: np.ndarray, scales: np.ndarray, rows_t: np.ndarray, bias: np.ndarray, inv_norm: np.ndarray,
              inv_norm64: np.ndarray, exact: np.ndarray | None, segments: frozenset[tuple[str, str]], floor: int,
              live: dict[str, int] | None) -> None:
        self.dim = codes.shape[1]
        self.codes, self.scales, self.exact = codes, scales, exact
        self.rows_t, self.bias, self.inv_norm = rows_t, bias, inv_norm  # what the scan reads (_scan_parts)
        self.inv_norm64 = inv_norm64  # what the exact re-rank of int8 rows reads
        self.drift = 0.0 if exact is None else _direction_drift(codes, exact)
        self.segments = segments  # (uid, file) of the segments read, and the history floor: what extended() checks
        self.floor = floor
        self._live = live
        self._open_mask = np.zeros(len(codes), dtype=np.float32)  # the scan's mask input when every row may be returned

    def live_positions(self, live: int) -> dict[str, int]:
        """Each chunk's current row (``v1 == live``) by chunk id; computed once per snapshot."""
        if self._live is None:
            ids = self.rows.chunk_ids
            self._live = {ids[k]: k for k in np.flatnonzero(self.v1 == live).tolist()}
        return self._live

    def extended(self, head: int, segments: frozenset[tuple[str, str]], ended: dict[int, int], rows: Sequence[Row],
                 codes: np.ndarray, scales: np.ndarray, live: dict[str, int]) -> ScanIndex:
        """This snapshot at a later ``head``: the rows at positions ``ended`` end at the version given, and
        ``rows`` (with their int8 ``codes`` and ``scales``) follow the old ones; ``live`` maps chunk ids to
        current rows.  Copies the arrays once instead of reading every box again: the first vector query after an
        append to 100,000 rows took 73 ms median, text decoding included (benchmarks/bench_append.py)."""
        if self.exact is not None:
            raise ValueError("a snapshot of float vectors is read again, not extended")
        out = ScanIndex.__new__(ScanIndex)
        RowSnapshot.__init__(out, head, self.rows.ended(ended) + rows)
        rows_t, bias, inv_norm, inv_norm64 = _scan_parts(codes)
        out._hold(np.concatenate((self.codes, codes)), np.concatenate((self.scales, np.asarray(scales, dtype=np.float32))),
                  np.concatenate((self.rows_t, rows_t), axis=1), np.concatenate((self.bias, bias)),
                  np.concatenate((self.inv_norm, inv_norm)), np.concatenate((self.inv_norm64, inv_norm64)), None,
                  segments, self.floor, live)
        assert len(out.rows) == out.rows_t.shape[1] == len(self.rows) + len(rows)
        return out

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored float32 vectors of row numbers ``rows``, as the store holds them."""
        if self.exact is not None:
            return self.exact[rows]
        return np.multiply(self.codes[rows], self.scales[rows, None], dtype=np.float32)

    def nearest(self, vector: np.ndarray, top_k: int, version: int, chunk_ids: Sequence[str] | None,
                include_embeddings: bool) -> list[Hit]:
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        mask = self.allowed(version, chunk_ids)
        visible = len(self.rows) if mask is None else int(mask.sum())
        n = min(top_k, visible)
        if n <= 0:
            return []
        best, sims = self._best(q, n, visible, mask)
        vecs = self.vectors(np.asarray(best, dtype=np.int64)) if include_embeddings else [None] * len(best)
        return [Hit(row, 1.0 - s, v) for row, s, v in zip(self.rows.take(best), sims, vecs)]

    def _best(self, q: np.ndarray, n: int, visible: int, mask: np.ndarray | None) -> tuple[list[int], list[float]]:
        """Row numbers of the ``n`` best rows visible through ``mask``, best first, and their exact cosines."""
        q64 = q.astype(np.float64)
        squares = float(q64 @ q64)  # float32 values squared and summed in float64: no overflow, no underflow to 0
        if not (squares > 0 and math.isfinite(squares)):  # a zero query: every row scores 0, and the tie rule decides
            return self._ranked(np.flatnonzero(mask) if mask is not None else np.arange(len(self.rows)),
                                np.zeros_like(q64), n)
        norm = math.sqrt(squares)
        unit = q64 / norm
        # 7 bits, not 8: without AVX-VNNI, onnxruntime's u8 x s8 kernel (VPMADDUBSW) adds products in pairs into
        # int16 with saturation, and 2 * 255 * 127 overflows it, so the scan was wrong on AVX2-only CPUs (AMD EPYC
        # here). With the query at most 127 after its shift, a pair stays within 2 * 127 * 128 = 32,512.
        # Few numpy calls: each costs microseconds once a scan has emptied the caches.
        step = _Q_MAX / float(np.maximum.reduce(np.abs(q64)))  # the ufunc's reduce: no ndarray.max wrapper
        alpha = step * norm  # the scan scores alpha * cosine: the query is unit * alpha, rounded
        shifted = q64 * step + _Q_SHIFT  # its largest |value| is 63 before the shift: no clip needed
        q8 = np.rint(shifted)
        err = shifted - q8
        bound = math.sqrt(float(err @ err)) / alpha + self.drift + _SLACK  # |unit - q8 / alpha|, and the margins
        k = min(visible, max(CANDIDATES, 2 * n))
        feed = {
            "q": q8.astype(np.uint8).reshape(1, -1),
            "rows": self.rows_t,
            "bias": self.bias,
            "inv_norm": self.inv_norm,
            "mask": self._open_mask if mask is None else np.where(mask, np.float32(0), np.float32(-np.inf)),
            "k": _K_CANDIDATES if k == CANDIDATES else np.array([k], dtype=np.int64),
        }
        threads = 1 if len(self.rows) < ONE_THREAD_BELOW else _THREADS
        values, indices = _scan_session(True, threads).run(None, feed)
        scanned, cand = values[0], indices[0]  # best first
        # The best few first: a later candidate can only enter the top n (or tie) if its reach (scan score / alpha +
        # bound, the most it can score) gets to the n-th best so far. At 100,000 rows 5-12 of the 128 needed scoring,
        # and scoring all 128 right after the scan (which leaves the caches cold) took 0.3-0.4 ms of a 2 ms query.
        first = min(k, max(_FIRST_SCORED, 2 * n))
        best, sims = self._ranked(cand[:first], unit, n)
        # A later candidate must scan at least this high to matter. An np.float64 keeps numpy 2's comparison with the
        # float32 scores in float64; where it is rounded to float32 instead (numpy 1.x), rounding is monotonic and the
        # scores are float32 values, so that can only let in a few more candidates, never leave one out.
        reach = np.float64((sims[-1] - bound) * alpha)
        if first < k and scanned[first] >= reach:  # scores fall along the list: those that reach are a prefix
            late = int(np.count_nonzero(scanned[first:] >= reach))
            best, sims = self._ranked(cand[: first + late], unit, n)
        if k >= visible or sims[-1] > float(scanned[k - 1]) / alpha + bound:
            return best, sims  # no row outside the candidates scored near enough to win
        # Not certain: score exactly every row whose scan score is within the bound of the n-th best so far
        # (rows packed closer than the query's rounding, or many near-duplicates), in blocks.
        every = {name: value for name, value in feed.items() if name != "k"}
        scores = _scan_session(False, threads).run(None, every)[0][0]
        return self._ranked(np.flatnonzero(scores >= np.float64((sims[-1] - bound) * alpha)), unit, n)

    def _ranked(self, cand: np.ndarray, unit: np.ndarray, n: int) -> tuple[list[int], list[float]]:
        """The ``n`` best of rows ``cand`` by exact cosine with the unit query, and their cosines, best first, as
        lists (ties to the smaller row id)."""
        if len(cand) <= _RERANK_BLOCK:  # one block, as nearly always: ranked as it is
            rows = np.asarray(cand, dtype=np.int64)
            return best_first(self.rows, rows, self._cosines(rows, unit), n)
        rows, sims = self._exact_among(cand, unit, n)
        return rows.tolist(), sims.tolist()

    def _cosines(self, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """Exact cosines of row numbers ``rows`` with the unit query, in float64.

        A stored vector is its int8 codes times one positive scale, so its direction is the codes' own: they are
        scored as they are (integers, exact in float64) with their exact norms, without making float32 vectors
        first: 107 us for 16 rows right after a scan of 100,000 rows, against 174 (timed ad hoc).
        """
        if self.exact is not None:  # the box held float32 vectors: score those
            return np.einsum("ij,j->i", directions(self.exact[rows]), unit)
        return np.einsum("ij,j->i", self.codes.take(rows, axis=0).astype(np.float64), unit) * self.inv_norm64.take(rows)

    def _exact_among(self, cand: np.ndarray, unit: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_ranked` for more candidates than one block, as arrays.

        In float64 on the rows' directions, so no stored magnitude can overflow or underflow the scores; in
        blocks, so even every row of a large index never needs more than a block's worth of memory.
        """
        best, best_sims = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        for start in range(0, len(cand), _RERANK_BLOCK):
            block = np.asarray(cand[start : start + _RERANK_BLOCK], dtype=np.int64)
            # einsum, not `@`: BLAS's matrix-vector kernels give a row's dot product other low bits by its place in
            # the block (tiles of rows, then a remainder loop), so identical rows scored apart and the tie rule
            # did not decide. einsum sums each row the same way wherever it sits.
            sims = self._cosines(block, unit)
            rows, scored = np.concatenate((best, block)), np.concatenate((best_sims, sims))
            if len(rows) > n:
                floor = np.partition(scored, len(scored) - n)[len(scored) - n]
                keep = scored >= floor  # rows tied with the n-th best stay for the tie rule
                rows, scored = rows[keep], scored[keep]
            order = rank(self.rows, rows, scored, n)
            best, best_sims = rows[order], scored[order]
        return best, best_sims


def _scan_parts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the scan reads for int8 ``codes``: the rows transposed, ``64 * sum(row)`` (the query's shift), and
    ``1 / |row|`` in float32; and ``1 / |row|`` in float64, for the exact re-rank (0 for an all-zero row)."""
    n, dim = codes.shape
    rows_t = np.empty((dim, n), dtype=np.int8)  # the right side of the matrix product
    bias = np.empty(n, dtype=np.int32)
    inv_norm64 = np.empty(n, dtype=np.float64)
    for start in range(0, n, _BLOCK):
        block = codes[start : start + _BLOCK]
        rows_t[:, start : start + len(block)] = block.T
        wide = block.astype(np.int16)  # |code| <= 128: squares fit int16, their sums int32
        bias[start : start + len(block)] = _Q_SHIFT * wide.sum(axis=1, dtype=np.int32)
        squares = np.einsum("ij,ij->i", wide, wide, dtype=np.int32).astype(np.float64)  # exact
        inv_norm64[start : start + len(block)] = np.where(squares > 0, 1.0 / np.sqrt(np.maximum(squares, 1.0)), 0.0)
    return rows_t, bias, inv_norm64.astype(np.float32), inv_norm64


def _direction_drift(codes: np.ndarray, exact: np.ndarray) -> float:
    """The largest distance between a row's direction and its int8 codes' (bounds the scan's extra error)."""
    worst = 0.0
    for start in range(0, len(codes), _BLOCK):
        gap = directions(exact[start : start + _BLOCK]) - directions(codes[start : start + _BLOCK])
        worst = max(worst, float(np.sqrt(np.einsum("ij,ij->i", gap, gap)).max(initial=0.0)))
    return worst


__all__ = ["CANDIDATES", "MAX_SCAN_DIM", "ONE_THREAD_BELOW", "ScanIndex"]
