"""Where one hot search spends its time: spans through ``Memory`` → retrieval → Chroma → decoded text (issue 24).

    .venv/bin/python benchmarks/profile_search.py                 # 2,000 chunks, 200 queries
    .venv/bin/python benchmarks/profile_search.py --cprofile 25   # also print cProfile's top 25 per mode

Builds (once, under ``.bench/work/profile_<N>``) a memory of real distinct chunks with hashed 384-d vectors,
then, in this process, for each query repeated hot (frames already decoded), times:

* ``search``: the public call (``search_by_vector`` for vector, ``retrieve(q, v, mode="hybrid")`` for hybrid);
* its layers, each called alone the way the layer above calls it: planning (``MemoryReader._plan``:
  checks, refresh, store handle), ranking (``Ranker.ranked``), materializing the hits (``_materialize``),
  and the bare Chroma calls (``collection.query`` with ids+distances only, and with metadatas as the
  vector path asks), plus the BM25 search alone for hybrid.

The medians of the spans need not add up to the median of the whole.  The load average is recorded at
the start.  Results: ``benchmarks/results/profile_search.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, core_info, distinct_chunks, hashed_vectors, log, machine_info, queries_from, write_json


def _med(fn: Callable[[Any], Callable[[], Any]], reps: list[Any]) -> float:
    ms = []
    for r in reps:
        fn_r = fn(r)
        fn_r()
        t = time.perf_counter_ns()
        fn_r()
        ms.append((time.perf_counter_ns() - t) / 1e6)
    return round(statistics.median(ms), 4)


def _spans(mem: Any, col: Any, kw: Any, pairs: list[tuple[str, np.ndarray]], mode: str) -> dict[str, float]:
    def text_of(q: str) -> str | None:
        return None if mode == "vector" else q

    planned = {id(p): mem._plan(text_of(p[0]), p[1], 5, None, mode, None, None, None, False) for p in pairs}
    ranked = {id(p): planned[id(p)][0].ranked(planned[id(p)][1], 5) for p in pairs}
    s = {
        "search": _med(lambda p: (lambda: mem.retrieve(text_of(p[0]), p[1], 5, mode=mode)), pairs),
        "plan": _med(lambda p: (lambda: mem._plan(text_of(p[0]), p[1], 5, None, mode, None, None, None, False)),
                     pairs),
        "rank": _med(lambda p: (lambda: planned[id(p)][0].ranked(planned[id(p)][1], 5)), pairs),
        "materialize": _med(lambda p: (lambda: mem._materialize([h for h, _ in ranked[id(p)][:5]])), pairs),
        "chroma_ids_only_k5": _med(lambda p: (lambda: col.query(query_embeddings=[p[1]], n_results=5,
                                                                include=["distances"])), pairs),
        "chroma_with_metadatas_k5": _med(lambda p: (lambda: col.query(query_embeddings=[p[1]], n_results=5,
                                                                      include=["metadatas", "distances"])), pairs),
    }
    if mode == "hybrid":
        s["chroma_ids_only_k58"] = _med(lambda p: (lambda: col.query(query_embeddings=[p[1]], n_results=58,
                                                                     include=["distances"])), pairs)
        s["bm25_alone_k50"] = _med(lambda p: (lambda: kw.search_payloads(p[0], 50)), pairs)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--out", default="profile_search.json", help="results file name")
    ap.add_argument("--cprofile", type=int, default=0, help="print cProfile's top N functions (cumulative) per mode")
    args = ap.parse_args()
    from memvid_base import Memory

    res: dict[str, Any] = {"machine": machine_info(), "core": core_info(), "chunks": args.chunks}
    work = WORK / f"profile_{args.chunks}"
    texts = distinct_chunks(args.chunks)
    if not (work / "ok").exists():
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log(f"building {args.chunks} chunks")
        mem = Memory.create(work / "kb.mp4")
        mem.add(texts, embeddings=hashed_vectors(texts))
        mem.close()
        (work / "ok").write_text("ok\n")
    queries = queries_from(texts, args.queries, seed=13)
    qv = hashed_vectors(queries)
    mem = Memory(work / "kb.mp4")
    mem.search(queries[0], mode="keyword")  # keyword index built outside the timings
    col = mem.open_store().collection
    kw = mem._keywords.ready(mem.manifest, mem.segments, mem.open_store())
    pairs = list(zip(queries, qv))
    for q, v in pairs[:10]:
        mem.search_by_vector(v), mem.retrieve(q, v, 5, mode="hybrid")

    spans: dict[str, dict[str, float]] = {}
    for mode in ("vector", "hybrid"):
        spans[mode] = _spans(mem, col, kw, pairs, mode)
        log(f"{mode}: " + ", ".join(f"{k} {v} ms" for k, v in spans[mode].items()))
        if args.cprofile:
            text_of = (lambda q: None) if mode == "vector" else (lambda q: q)
            prof = cProfile.Profile()
            prof.enable()
            for q, v in pairs:
                mem.retrieve(text_of(q), v, 5, mode=mode)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(args.cprofile)
            print(buf.getvalue())
    # What the exact in-memory index costs to read, once per store and committed version (vectors.FlatIndex).
    store = mem.open_store()
    if hasattr(store, "flat"):  # a --core older than the in-memory index has none
        t = time.perf_counter()
        store._forget_flat()
        store.flat(mem.manifest.version, mem.manifest.live_chunks)
        res["flat_index_load_ms"] = round((time.perf_counter() - t) * 1000, 1)
        log(f"exact in-memory index load: {res['flat_index_load_ms']} ms")
    res["spans_median_ms"] = spans
    write_json(args.out, res)


if __name__ == "__main__":
    main()
