"""Would an index of our own let copies agree at less cost than Chroma at ef_search 400? (issue 24)

    PYTHONPATH=. .venv/bin/python benchmarks/bench_own_index.py                 # numpy IVF, 100,000 rows, ~3 min
    PYTHONPATH=. .venv/bin/python benchmarks/bench_own_index.py --usearch-path /tmp/us   # also usearch HNSW, +5 min

Chroma's HNSW build is not deterministic, so a copy's rebuilt store only agrees with the original's
on >= 99 % of top-5 lists at ``ef_search`` 400, which costs hot queries at 100,000 rows.  An index
that is a pure function of the rows would make every copy agree at any setting.  This measures two
candidates on the corpus and vectors of ``bench_search.py`` (distinct real-text chunks, hashed
384-d vectors, 200 queries), against exact search:

* **IVF in numpy** (spherical k-means on an evenly spaced sample, fixed seed; lists stored contiguously;
  a query scores the centroids, then the rows of the ``nprobe`` nearest lists exactly);
* **usearch HNSW** built single-threaded twice (``--usearch-path``: a folder with ``usearch`` and
  ``numkong`` installed by ``pip install --target``; it is not a dependency), to see whether two builds
  agree and what recall and latency it gives.

Results go to ``benchmarks/results/own_index.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, distinct_chunks, hashed_vectors, log, machine_info, queries_from, write_json


def corpus(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and the 200 query vectors, cached under ``.bench/work/own_index_<n>``."""
    folder = WORK / f"own_index_{n}"
    rows, queries = folder / "rows.npy", folder / "queries.npy"
    if not rows.exists():
        folder.mkdir(parents=True, exist_ok=True)
        texts = distinct_chunks(n)
        np.save(rows, hashed_vectors(texts))
        np.save(queries, hashed_vectors(queries_from(texts, 200, seed=13)))
    return np.load(rows), np.load(queries)


def kmeans(sample: np.ndarray, k: int, iters: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means (unit centroids, cosine assignment), deterministic for a given sample and seed."""
    rng = np.random.default_rng(seed)
    cent = sample[rng.choice(len(sample), k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(sample @ cent.T, axis=1)
        for j in range(k):
            members = sample[assign == j]
            if len(members):
                cent[j] = members.sum(axis=0)
        cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return cent


def ivf_rows(x: np.ndarray, q: np.ndarray, exact: np.ndarray, nlist: int, train: int, probes: list[int]) -> list[dict[str, Any]]:
    t = time.perf_counter()
    cent = kmeans(x[:: max(1, len(x) // train)][:train], nlist, 8)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    assign = np.concatenate([np.argmax(x[s : s + 8192] @ cent.T, axis=1) for s in range(0, len(x), 8192)])
    assign_s = time.perf_counter() - t
    order = np.argsort(assign, kind="stable")
    xs = np.ascontiguousarray(x[order])
    bounds = np.searchsorted(assign[order], np.arange(nlist + 1))
    out = []
    for nprobe in [p for p in probes if p <= nlist]:
        recall = same = 0.0
        ms = []
        for qi, v in enumerate(q):
            t = time.perf_counter()
            probe = np.argpartition(-(cent @ v), nprobe - 1)[:nprobe]
            idx = np.concatenate([np.arange(bounds[p], bounds[p + 1]) for p in probe])
            top = order[idx[np.argpartition(-(xs[idx] @ v), 4)[:5]]]
            ms.append((time.perf_counter() - t) * 1000)
            recall += len(set(top.tolist()) & set(exact[qi].tolist())) / 5
            same += set(top.tolist()) == set(exact[qi].tolist())
        row = {"index": "ivf-numpy", "nlist": nlist, "train_rows": train, "nprobe": nprobe,
               "train_s": round(train_s, 2), "assign_s": round(assign_s, 2),
               "recall_at_5": round(recall / len(q), 3), "exact_top5_lists": round(same / len(q), 3),
               "p50_ms": round(float(np.median(ms)), 3)}
        log(f"  {row}")
        out.append(row)
    return out


def usearch_rows(path: str, x: np.ndarray, q: np.ndarray, exact: np.ndarray) -> list[dict[str, Any]]:
    sys.path.insert(0, path)
    from usearch.index import Index  # type: ignore[import-not-found]

    runs: list[dict[int, list[list[int]]]] = []
    out: list[dict[str, Any]] = []
    for build in range(2):
        index = Index(ndim=x.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128)
        t = time.perf_counter()
        index.add(np.arange(len(x)), x, threads=1)
        build_s = time.perf_counter() - t
        got: dict[int, list[list[int]]] = {}
        for ef in (64, 100, 200):
            index.expansion_search = ef
            ms, lists = [], []
            for v in q:
                t = time.perf_counter()
                lists.append(index.search(v, 5, threads=1).keys.tolist())
                ms.append((time.perf_counter() - t) * 1000)
            got[ef] = lists
            row = {"index": "usearch-hnsw", "build": build, "build_s_one_thread": round(build_s, 1), "expansion_search": ef,
                   "recall_at_5": round(float(np.mean([len(set(a) & set(e.tolist())) / 5 for a, e in zip(lists, exact)])), 3),
                   "p50_ms": round(float(np.median(ms)), 3)}
            log(f"  {row}")
            out.append(row)
        runs.append(got)
    for ef in runs[0]:
        agree = float(np.mean([set(a) == set(b) for a, b in zip(runs[0][ef], runs[1][ef])]))
        out.append({"index": "usearch-hnsw", "expansion_search": ef, "two_builds_identical_top5": round(agree, 3)})
        log(f"  two single-threaded builds, expansion_search {ef}: identical top-5 lists {agree:.3f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    ap.add_argument("--usearch-path", default=None, help="folder holding usearch and numkong (pip install --target)")
    args = ap.parse_args()
    res: dict[str, Any] = {"machine": machine_info(), "chunks": args.chunks, "vectors": "hashed", "rows": []}
    x, q = corpus(args.chunks)
    log(f"{len(x)} rows, {len(q)} queries; exact search")
    exact = np.argsort(-(q @ x.T), axis=1)[:, :5]
    ms = []
    for v in q[:50]:
        t = time.perf_counter()
        np.argpartition(-(x @ v), 4)[:5]
        ms.append((time.perf_counter() - t) * 1000)
    res["exact_float32_p50_ms"] = round(float(np.median(ms)), 2)
    log(f"  exact float32 scan: {res['exact_float32_p50_ms']} ms per query")
    for nlist, train in ((256, 16384), (512, 32768), (1024, 32768)):
        res["rows"] += ivf_rows(x, q, exact, nlist, train, args.nprobe)
    if args.usearch_path:
        res["rows"] += usearch_rows(args.usearch_path, x, q, exact)
    res["machine"]["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"Results written to {write_json('own_index.json', res)}")


if __name__ == "__main__":
    main()
