"""Hybrid search latency: what does ``mode="hybrid"`` add over ``mode="vector"`` at 100,000 chunks? (issue 13, goal 5)

    .venv/bin/python benchmarks/bench_hybrid.py --quick    # 2,000 chunks, about 1 minute: checks the script works
    .venv/bin/python benchmarks/bench_hybrid.py            # 100,000 chunks: see "Run time" below
    .venv/bin/python benchmarks/bench_hybrid.py --reuse DIR --queries 105   # keep the memory in DIR; a second
                                                           # run opens it and times only the queries (~1 min)

Run time of the full tier (estimates on the 2-core box, not yet run): building 100k chunks from
precomputed vectors takes about 3-4 min (``bench_append.py`` measured 3 min), the keyword index build
decodes every frame of the video once (19 s at 20k chunks under load, so about 1.5-3 min), and the 10
timed appends about 30 s.  The 300 queries make 3,600 timed calls (3 modes x hot/cold x ``search`` and
``retrieve``).  With vector search at ~10-50 ms that part takes
1-2 min **once keyword lookups are fast**; at commit 751665d a keyword or hybrid call took ~0.6 s at
20k chunks (load 3-5) and grows with the memory (``VectorStore.rows_by_id`` filters Chroma by
version), so the full tier would then take about 2 hours.  ``--queries 35`` (30 timed) bounds it at
about 15-25 min; the default takes about 8-12 min idle after that lookup is fixed.

Everything goes through the public API of one open ``Memory``, in one process:

1. Build: ``Memory.create`` + ``Memory.add(texts, embeddings=...)`` of real, distinct text chunks
   (``_common.distinct_chunks``, at most 512 characters each) with deterministic 384-d hashed
   bag-of-words vectors (``_common.hashed_vectors``).  The memory's embedder is the same hashing
   function, so a query's vector costs microseconds: **no MiniLM time is included anywhere**.
2. Appends without a keyword index: ``Memory.add`` of 100 new chunks (with precomputed vectors),
   repeated; the memory has never been searched by keyword, so no keyword index exists yet.
3. The keyword index is built by the first ``search(mode="keyword")``; its build time and its size
   on disk are reported.
4. Appends with the keyword index: the same ``Memory.add`` of 100 chunks; the writer keeps the index
   in step.  After each, outside the timing, a keyword search must find the new chunk and the index
   must not need a rebuild.
5. Latency: for each of 300 queries (half identifiers taken from the corpus, half 2-5 word phrases),
   the three modes in an order that rotates per query, so drift in machine load hits all modes alike.
   For each mode: ``mem.clear_cache()`` then one timed call (cold: frames decoded from the video),
   then the same call again (hot: frames in the decoded-frame cache).  This is done through
   ``Memory.search(q, top_k=5, mode=...)`` (includes embedding the query with the hashing
   function) and through ``Memory.retrieve(q, vector, top_k=5, mode=...)`` with a precomputed vector.
   The first 5 queries are a warm-up and are not timed.

The added latency of hybrid is reported as the difference of the p50s (and p95s) of the two modes,
and as the median of the per-query paired differences.  Goal: at most 2 ms at 100,000 chunks.

Results are printed and written to ``benchmarks/results/hybrid.json`` (``hybrid_quick.json``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Measure the memvid_base of the checkout this script lives in, not whichever one the venv's editable
# install points at (the editable finder comes after sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    WORK,
    Timer,
    core_info,
    dir_bytes,
    distinct_chunks,
    hashed_vectors,
    latency_summary,
    log,
    machine_info,
    write_json,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODES = ("vector", "keyword", "hybrid")
GOAL_ADDED_MS = 2.0
CLEAN_LOAD = 0.5
WARMUP = 5
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{5,}\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z']+")


# ---------------------------------------------------------------------------------------------- queries


def make_queries(chunks: list[str], n: int, seed: int = 17) -> list[tuple[str, str]]:
    """``n`` queries ``(kind, text)``, alternating identifiers from the corpus and 2-5 word phrases."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        chunk = chunks[int(rng.integers(len(chunks)))]
        if len(out) % 2 == 0:
            # identifiers: snake_case or mixedCase names, as users look up functions and settings
            idents = [w for w in _IDENT.findall(chunk) if "_" in w.strip("_") or (w != w.lower() and w != w.upper())]
            if idents:
                out.append(("identifier", idents[int(rng.integers(len(idents)))]))
        else:
            words = _WORD.findall(chunk)
            if len(words) >= 5:
                k = int(rng.integers(2, 6))
                start = int(rng.integers(0, len(words) - k + 1))
                out.append(("phrase", " ".join(words[start : start + k])))
    return out


# ---------------------------------------------------------------------------------------------- embedder


def hashed_embedder() -> Any:
    """The memory's embedder: the same hashing function that made the chunk vectors (no model)."""
    from memvid_base import Embedder

    def docs(texts: list[str]) -> np.ndarray:
        return hashed_vectors(list(texts))

    def one(text: str) -> np.ndarray:
        return hashed_vectors([text])[0]

    return Embedder.from_functions(docs, one, name="hashed-bag-of-words-384 (benchmark, not a model)", dimension=384)


# ---------------------------------------------------------------------------------------------- appends


def timed_adds(mem: Any, extra: list[str], start: int, reps: int, batch: int, check_keywords: bool) -> list[float]:
    """``reps`` calls of ``Memory.add`` with ``batch`` new chunks each; ms per call.

    Vectors are computed outside the timing.  After each call (untimed) the first new chunk must come
    back for its own vector; with ``check_keywords`` also from the keyword index, which must still be usable.
    """
    from memvid_base.index.keyword_cache import usable

    out: list[float] = []
    for r in range(reps):
        lo = start + r * batch
        texts = extra[lo : lo + batch]
        ids = [f"add{lo + j}" for j in range(len(texts))]
        vecs = hashed_vectors(texts)
        with Timer() as t:
            mem.add(texts, ids=ids, embeddings=vecs)
        out.append(t.s * 1000)
        hits = mem.retrieve(None, vecs[0], top_k=5)
        assert any(h.id == ids[0] and h.text == texts[0] for h in hits), f"appended chunk {ids[0]} not found by vector"
        if check_keywords:
            index = mem._keywords.existing()  # the writer must have kept it in step: no rebuild on the next search
            assert index is not None and usable(index, mem.manifest), "keyword index left stale by Memory.add"
            # restricted to the new id, so near-duplicate code chunks elsewhere cannot outrank it
            hits = mem.retrieve(texts[0][:200], None, top_k=1, mode="keyword", ids=[ids[0]])
            assert [h.text for h in hits] == [texts[0]], f"appended chunk {ids[0]} not found by keyword"
    return out


# ---------------------------------------------------------------------------------------------- latency


def measure(mem: Any, queries: list[tuple[str, str]], qvecs: np.ndarray) -> dict[str, Any]:
    """Cold and hot latency of every mode through ``search`` and ``retrieve``, modes rotating per query."""
    calls: dict[str, Callable[[str, int, str], Any]] = {
        "search": lambda q, i, mode: mem.search(q, top_k=5, mode=mode),
        "retrieve": lambda q, i, mode: mem.retrieve(q, None if mode == "keyword" else qvecs[i], top_k=5, mode=mode),
    }
    ms: dict[str, dict[str, dict[str, list[float]]]] = {
        api: {mode: {"cold": [], "hot": []} for mode in MODES} for api in calls
    }
    kinds: list[str] = []
    empty = {mode: 0 for mode in MODES}
    for i, (kind, q) in enumerate(queries):
        timed = i >= WARMUP
        if timed:
            kinds.append(kind)
        rot = i % len(MODES)
        for api, call in calls.items():
            for mode in MODES[rot:] + MODES[:rot]:
                mem.clear_cache()
                t0 = time.perf_counter()
                res = call(q, i, mode)
                cold = (time.perf_counter() - t0) * 1000
                t0 = time.perf_counter()
                call(q, i, mode)
                hot = (time.perf_counter() - t0) * 1000
                if timed:
                    ms[api][mode]["cold"].append(cold)
                    ms[api][mode]["hot"].append(hot)
                    if api == "search" and not res:
                        empty[mode] += 1
                elif not res and mode != "keyword":
                    raise AssertionError(f"{mode} search returned nothing for {q!r}")
    out: dict[str, Any] = {"queries_timed": len(kinds), "empty_results": empty}
    for api in calls:
        a: dict[str, Any] = {}
        for cache in ("hot", "cold"):
            per = {mode: latency_summary(ms[api][mode][cache]) for mode in MODES}
            vec, hyb = ms[api]["vector"][cache], ms[api]["hybrid"][cache]
            paired = [h - v for h, v in zip(hyb, vec)]
            a[cache] = {
                **per,
                "hybrid_minus_vector": {
                    "p50_ms": round(per["hybrid"]["p50_ms"] - per["vector"]["p50_ms"], 3),
                    "p95_ms": round(per["hybrid"]["p95_ms"] - per["vector"]["p95_ms"], 3),
                    "paired_median_ms": round(statistics.median(paired), 3),
                },
                "by_kind_p50_ms": {
                    kind: {mode: round(statistics.median([x for x, k in zip(ms[api][mode][cache], kinds) if k == kind]), 3)
                           for mode in MODES}
                    for kind in sorted(set(kinds))
                },
            }
        out[api] = a
    return out


# ---------------------------------------------------------------------------------------------- report


def verdicts(res: dict[str, Any]) -> list[tuple[str, float, str, bool | None]]:
    s = res["latency"]["search"]
    n = res["chunks"]
    rows: list[tuple[str, float, str, bool | None]] = []
    for cache in ("hot", "cold"):
        d = s[cache]["hybrid_minus_vector"]
        rows.append((f"hybrid - vector, p50, {cache} [{n} chunks] (ms)", d["p50_ms"], f"<= {GOAL_ADDED_MS}",
                     d["p50_ms"] <= GOAL_ADDED_MS))
        rows.append((f"hybrid - vector, paired median, {cache} (ms)", d["paired_median_ms"], f"<= {GOAL_ADDED_MS}",
                     d["paired_median_ms"] <= GOAL_ADDED_MS))
        rows.append((f"hybrid - vector, p95, {cache} (ms)", d["p95_ms"], "(info)", None))
    return rows


def print_report(res: dict[str, Any]) -> None:
    m = res["machine"]
    print()
    print("=" * 96)
    print(f"hybrid search latency ({res['mode']}), {m['time']}, {m['cpus']} CPUs, load average at start "
          f"{m['loadavg_at_start']}, at end {m.get('loadavg_at_end')}")
    if res["not_clean"]:
        print(f"NOT CLEAN: load above {CLEAN_LOAD} at start")
    print("=" * 96)
    print(f"{res['chunks']} chunks of real text (<= 512 chars), {res['frames']} frames, codec {res['codec']}; "
          f"vectors: {res['vectors']}")
    for api, label in (("search", "Memory.search(q, top_k=5, mode=...)  [query embedded by the hashing function]"),
                       ("retrieve", "Memory.retrieve(q, precomputed_vector, top_k=5, mode=...)")):
        a = res["latency"][api]
        print(f"\n{label}, {res['latency']['queries_timed']} queries")
        hdr = f"{'cache':6} {'mode':8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}   " \
              f"{'p50 identifier':>14} {'p50 phrase':>10}"
        print(hdr)
        print("-" * len(hdr))
        for cache in ("hot", "cold"):
            for mode in MODES:
                r = a[cache][mode]
                bk = a[cache]["by_kind_p50_ms"]
                print(f"{cache:6} {mode:8} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['mean_ms']:>8.2f}   "
                      f"{bk.get('identifier', {}).get(mode, float('nan')):>14.2f} {bk.get('phrase', {}).get(mode, float('nan')):>10.2f}")
            d = a[cache]["hybrid_minus_vector"]
            print(f"{cache:6} {'hyb-vec':8} {d['p50_ms']:>8.2f} {d['p95_ms']:>8.2f}   paired median {d['paired_median_ms']:.2f} ms")
    if "keyword_index" not in res:
        print(f"\nreused the memory in {res['reused']}: no build, append or keyword-index figures")
    else:
        _print_build(res)
    print(f"empty results (search, timed queries): {res['latency']['empty_results']}")
    print()
    print(f"{'target':52} {'value':>9} {'goal':>8}  result")
    for what, value, target, ok in verdicts(res):
        print(f"{what:52} {value:>9.3f} {target:>8}  {'PASS' if ok else 'MISS' if ok is not None else ''}")
    if res["mode"] == "quick":
        print("\n(--quick uses 2,000 chunks: these numbers only show that the script works; the goal is at 100,000.)")


def _print_build(res: dict[str, Any]) -> None:
    k = res["keyword_index"]
    print(f"\nkeyword index: built in {k['build_s']} s (first keyword search, decodes every frame), "
          f"{k['bytes'] / 2**20:.1f} MB on disk = {k['bytes'] / res['raw_text_bytes']:.2f}x the raw text")
    ad = res["add_100"]
    print(f"Memory.add of {ad['batch']} chunks (precomputed vectors): median {ad['without_keyword_index']['median_ms']} ms "
          f"without a keyword index, {ad['with_keyword_index']['median_ms']} ms with it kept in step "
          f"({ad['with_minus_without_median_ms']:+.1f} ms)")


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 chunks; validates the script")
    ap.add_argument("--chunks", type=int, default=None, help="memory size (default 100000; quick 2000)")
    ap.add_argument("--queries", type=int, default=None, help="queries, incl. 5 untimed warm-up (default 305; quick 65)")
    ap.add_argument("--adds", type=int, default=5, help="timed 100-chunk appends with and without the keyword index")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'taken under load')")
    ap.add_argument("--reuse", metavar="DIR", default=None,
                    help="keep the memory in DIR between runs: build it there if absent, else open it and time "
                         "only the queries (no build, append or keyword-index figures)")
    args = ap.parse_args()

    from memvid_base import Memory

    n = args.chunks or (2_000 if args.quick else 100_000)
    n_q = args.queries or ((60 if args.quick else 300) + WARMUP)
    batch = 100
    started = time.perf_counter()
    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "note": args.note, "machine": machine_info(),
                           "core": core_info()}
    res["not_clean"] = res["machine"]["loadavg_at_start"][0] > CLEAN_LOAD
    if res["not_clean"]:
        log(f"NOT CLEAN: load above {CLEAN_LOAD} at start ({res['machine']['loadavg_at_start']})")
    work = Path(args.reuse) if args.reuse else WORK / ("hybrid_quick" if args.quick else "hybrid")
    reused = bool(args.reuse) and (work / "kb.mp4").exists()
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    log(f"collecting {n} + {2 * args.adds * batch} distinct chunks of real text")
    allc = distinct_chunks(n + 2 * args.adds * batch)
    texts, extra = allc[:n], allc[n:]
    queries = make_queries(texts, n_q)
    with Timer() as t:
        vecs = hashed_vectors(texts)
        qvecs = hashed_vectors([q for _, q in queries])
    res["hashed_vectors_s"] = round(t.s, 2)
    res["vectors"] = ("deterministic 384-d hashed bag-of-words vectors, and the same hashing as the memory's embedder "
                      "(NOT MiniLM: no model time anywhere)")

    if reused:
        log(f"reusing the memory in {work} (no build, append or keyword-index figures)")
        mem = Memory(work / "kb.mp4", embedding_model=hashed_embedder())
        mem.search(queries[0][1], top_k=5, mode="keyword")  # builds the keyword index if it is missing
        res["reused"] = str(work)
    else:
        log(f"building the memory: Memory.create + Memory.add of {n} chunks with precomputed vectors")
        with Timer() as t:
            mem = Memory.create(work / "kb.mp4", embedding_model=hashed_embedder())
            mem.add(texts, ids=[f"c{k}" for k in range(n)], embeddings=vecs)
        res["build_s"] = round(t.s, 1)
        assert not mem.layout.keyword_dir.exists(), "a keyword index exists before any keyword search"
        log(f"  {t.s:.1f} s")

        log(f"{args.adds} x Memory.add of {batch} chunks, no keyword index yet")
        without = timed_adds(mem, extra, 0, args.adds, batch, check_keywords=False)

        log("building the keyword index (first keyword search)")
        with Timer() as t:
            first = mem.search(queries[0][1], top_k=5, mode="keyword")
        kdir = mem.layout.keyword_dir
        res["keyword_index"] = {"build_s": round(t.s, 2), "bytes": dir_bytes(kdir), "folder": kdir.name,
                                "first_search_hits": len(first)}
        log(f"  {t.s:.1f} s, {dir_bytes(kdir) / 2**20:.1f} MB")

        log(f"{args.adds} x Memory.add of {batch} chunks, keyword index kept in step")
        with_kw = timed_adds(mem, extra, args.adds * batch, args.adds, batch, check_keywords=True)
        res["add_100"] = {
            "batch": batch,
            "without_keyword_index": {**latency_summary(without), "median_ms": round(statistics.median(without), 1),
                                      "each_ms": [round(x, 1) for x in without]},
            "with_keyword_index": {**latency_summary(with_kw), "median_ms": round(statistics.median(with_kw), 1),
                                   "each_ms": [round(x, 1) for x in with_kw]},
            "with_minus_without_median_ms": round(statistics.median(with_kw) - statistics.median(without), 1),
        }
        res["keyword_index"]["bytes_after_adds"] = dir_bytes(kdir)

    info = mem.info()
    if reused and info["chunks"] != n + 2 * args.adds * batch:
        raise SystemExit(f"{work} holds {info['chunks']} chunks, not the {n + 2 * args.adds * batch} this run's "
                         "queries are drawn for: pass the same --chunks and --adds as when it was built, or a new DIR")
    res.update({"chunks": info["chunks"], "raw_text_bytes": info["raw_text_bytes"], "frames": info["frames"],
                "segments": info["segments"], "codec": info["codec"], "video_bytes": info["video_bytes"]})
    log(f"latency: {len(queries)} queries ({WARMUP} warm-up) x 3 modes x hot/cold x search/retrieve, "
        f"on {info['chunks']} chunks")
    res["latency"] = measure(mem, queries, qvecs)
    mem.close()
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)

    res["total_s"] = round(time.perf_counter() - started, 1)
    try:
        res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    res["verdicts"] = [{"what": w, "value": v, "target": t_, "pass": ok} for w, v, t_, ok in verdicts(res)]
    path = write_json("hybrid_quick.json" if args.quick else "hybrid.json", res)
    print_report(res)
    print(f"\nTotal {res['total_s']} s. Results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
