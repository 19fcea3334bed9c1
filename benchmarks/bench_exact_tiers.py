"""Where the int8 scan should take over from the float32 flat index (issue 24): both exact tiers, same rows, same queries.

    .venv/bin/python benchmarks/bench_exact_tiers.py                       # MiniLM vectors of the bundled corpus
    .venv/bin/python benchmarks/bench_exact_tiers.py --sizes 2000 3800 --vectors hashed

For each size, a :class:`~memvid_base.index.flat.FlatIndex` (float32 rows, one BLAS product) and a
:class:`~memvid_base.index.int8_scan.ScanIndex` (int8 rows, onnxruntime) are built in this process from the same
vectors (the scan from their int8 codes, as a segment's box holds them) and answer the same top-5 queries, taking
turns query by query.  Each query runs once untimed, then once timed:

* ``warm``: right after the untimed run, so the rows are in the CPU caches;
* ``emptied``: after reading a 64 MB buffer, as when other work (decoding frames, another process) has evicted
  them: the flat index then reads 1,536 bytes a row from memory, the scan 384.

It also times the scan's onnxruntime call alone on one thread and on two.  Both indexes must return the same
lists (checked).  Timings are the ``nearest`` call only, not a whole search.  Results:
``benchmarks/results/exact_tiers.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import core_info, distinct_chunks, log, machine_info, queries_from, write_json


def _vectors(texts: list[str], kind: str) -> np.ndarray:
    from bench_peer_v2 import embed  # cached under .bench/peer_vectors, shared with that benchmark

    return np.asarray(embed(texts, kind), dtype=np.float32)


def _session(threads: int) -> Any:
    import onnxruntime as ort

    from memvid_base.index import int8_scan

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(int8_scan._graph(True), options, providers=["CPUExecutionProvider"])


def one_size(n: int, vecs: np.ndarray, queries: np.ndarray, rounds: int, junk: np.ndarray) -> dict[str, Any]:
    from memvid_base.format.vector_codec import int8_parts
    from memvid_base.index.flat import FlatIndex
    from memvid_base.index.int8_scan import ScanIndex
    from memvid_base.index.vectors import LIVE
    from memvid_base.types import Row

    rows = [Row(f"c{i}@1", f"c{i}", "seg", i, 1, "x", 1, LIVE, 1) for i in range(n)]
    codes, scales = int8_parts(vecs[:n])
    flat = FlatIndex(1, rows, codes * scales[:, None])  # the float32 vectors a box of int8 decodes to
    scan = ScanIndex(1, rows, codes, scales)
    out: dict[str, Any] = {"rows": n, "same_lists": 0, "queries": 0}
    for state in ("warm", "emptied"):
        ms: dict[str, list[float]] = {"flat": [], "scan": []}
        for rnd in range(rounds):
            for i, q in enumerate(queries):
                pair = [("flat", flat), ("scan", scan)]
                got = {}
                for name, index in pair if (i + rnd) % 2 else pair[::-1]:
                    index.nearest(q, 5, 1, None, False)
                    if state == "emptied":
                        junk.sum()
                    t = time.perf_counter_ns()
                    got[name] = [h.row.row_id for h in index.nearest(q, 5, 1, None, False)]
                    ms[name].append((time.perf_counter_ns() - t) / 1e3)
                out["same_lists"] += got["flat"] == got["scan"]
                out["queries"] += 1
        out[state] = {name: round(statistics.median(v), 1) for name, v in ms.items()}
        out[state]["scan_over_flat"] = round(out[state]["scan"] / out[state]["flat"], 2)
    # The scan's onnxruntime call alone, on one thread and on two, taking turns.
    feed = {"rows": scan.rows_t, "bias": scan.bias, "inv_norm": scan.inv_norm, "mask": scan._open_mask,
            "k": np.array([128], dtype=np.int64)}
    sessions = {threads: _session(threads) for threads in (1, 2)}
    ort_us: dict[int, list[float]] = {1: [], 2: []}
    for rnd in range(rounds):
        for i, q in enumerate(queries):
            unit = q / np.linalg.norm(q)
            q8 = np.rint(unit * (63 / np.abs(unit).max()))
            feed["q"] = (q8 + 64).astype(np.uint8).reshape(1, -1)
            for threads in (1, 2) if (i + rnd) % 2 else (2, 1):
                sessions[threads].run(None, feed)
                t = time.perf_counter_ns()
                sessions[threads].run(None, feed)
                ort_us[threads].append((time.perf_counter_ns() - t) / 1e3)
    out["scan_call_us"] = {f"{t}_thread{'s' if t > 1 else ''}": round(statistics.median(v), 1) for t, v in ort_us.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 3000, 3800, 6000, 10000])
    ap.add_argument("--vectors", choices=["minilm", "hashed"], default="minilm")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="exact_tiers.json")
    args = ap.parse_args()
    import os

    res: dict[str, Any] = {"machine": machine_info(), "core": core_info(), "vectors": args.vectors,
                           "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "sizes": []}
    texts = distinct_chunks(max(args.sizes))
    log(f"{args.vectors} vectors for {len(texts)} chunks (cached under .bench/peer_vectors)")
    vecs = _vectors(texts, args.vectors)
    queries = _vectors(queries_from(texts, args.queries, seed=13), args.vectors)
    junk = np.ones(64 * 2**20 // 8)
    for n in args.sizes:
        row = one_size(n, vecs, queries, args.rounds, junk)
        log(f"{n} rows: warm flat {row['warm']['flat']} / scan {row['warm']['scan']} us ({row['warm']['scan_over_flat']}x), "
            f"emptied flat {row['emptied']['flat']} / scan {row['emptied']['scan']} us ({row['emptied']['scan_over_flat']}x); "
            f"scan call 1 / 2 threads {row['scan_call_us']['1_thread']} / {row['scan_call_us']['2_threads']} us; "
            f"same lists {row['same_lists']}/{row['queries']}")
        res["sizes"].append(row)
    res["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    log(f"-> {write_json(args.out, res)}")


if __name__ == "__main__":
    main()
