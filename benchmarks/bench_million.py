"""The million-chunk tier: build time, cold and hot search, search-process memory and disk footprint.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --quick           # 3,000 chunks, about 30 s
    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --chunks 100000   # a tenth of the full run
    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py                   # 1,000,000 chunks
    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --keep            # ... and keep the memory
    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --search-only     # search it again, no build

How long it takes.  The full run of this round (idle machine, load 0.45 at start) took 1,806 s in all:
1,713 s of build (its ten 100,000-chunk ``add``s took 110, 141, 172, 189, 200, 203, 221, 150, 164 and
151 s), 72 s making the hashed vectors, and under a minute for the footprint and 200 cold and hot
queries.  Under load it takes several times longer.  It needs about 3.5 GB of free disk (the memory is
2.8 GB at 1M).  The builder's memory was not measured; Chroma holds its index in memory there too.  The
search process holds Chroma's HNSW index in memory, 1,676 B per row at 384-d float32 (1.68 GB at 1M);
its peak RSS was 2.24 GB.  ``bench_million_partial.py`` measures what a stopped run committed, if a
session ends mid-build.

What it does:

* ``n`` distinct chunks of real text (``_common.iter_distinct_chunks``: pydoc topics, then the
  standard library's and the venv's Python sources, then their other text files; this project's venv
  holds 1,045,784 distinct chunks, 757,212 of them from ``.py`` files) with deterministic 384-d hashed bag-of-words
  vectors (``_common.hashed_vectors``; no model is involved, search latency does not depend on it).
* Build: ``Memory.create`` then ``add`` in batches of ``--batch`` chunks (each batch is one version
  and one MP4 segment, as an application appending documents would write them), vectors given.
* Search: a fresh process that never imports torch or the model (``_search_worker.py``) runs top-5
  queries; before every cold query it empties memvid's frame cache and drops the memory's files from
  the OS page cache (``posix_fadvise``, those files only; ``--keep-page-cache`` skips that part, so the
  store's SQLite pages and the MP4 stay cached).  Hot queries repeat a query at once.
* Footprint: every byte under the memory's folder, split into video (QR frames and per-segment box),
  vector store (HNSW files and SQLite tables, per row) and the rest, against the raw UTF-8 text.

Targets: cold search p50 <= 20 ms and search-process peak RSS <= 2.5 GB at 1M chunks.
Results go to ``benchmarks/results/million.json`` (``million_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    WORK,
    Timer,
    core_info,
    dir_bytes,
    hashed_vectors,
    iter_distinct_chunks,
    log,
    machine_info,
    queries_from,
    write_json,
)
from _footprint import store_breakdown
from bench_core import run_json

HERE = Path(__file__).resolve().parent
TARGETS = {"search_cold_p50_ms_max": 20.0, "search_peak_rss_mb_max": 2560.0}


def build(folder: Path, n: int, batch: int, n_queries: int) -> tuple[dict[str, Any], list[str]]:
    """Build the memory batch by batch; returns timings and sampled query strings."""
    from memvid_base import Memory

    chunks = iter_distinct_chunks()
    out: dict[str, Any] = {"batches": [], "raw_text_bytes": 0}
    queries: list[str] = []
    per_batch = max(1, -(-n_queries // max(1, -(-n // batch))))
    embed_s = 0.0
    with Timer() as total:
        mem = Memory.create(folder / "kb.mp4")
        done = 0
        while done < n:
            texts = list(itertools.islice(chunks, min(batch, n - done)))
            if len(texts) < min(batch, n - done):
                raise RuntimeError(f"The offline corpus ran out after {done + len(texts)} distinct chunks; ask for fewer.")
            with Timer() as tv:
                vectors = hashed_vectors(texts)
            embed_s += tv.s
            with Timer() as ta:
                mem.add(texts, ids=[str(done + k) for k in range(len(texts))], embeddings=vectors)
            out["raw_text_bytes"] += sum(len(t.encode("utf-8")) for t in texts)
            queries += queries_from(texts, per_batch, seed=done)
            done += len(texts)
            out["batches"].append({"chunks": len(texts), "add_s": round(ta.s, 2)})
            log(f"  {done:,} chunks; this batch's add took {ta.s:.1f} s ({len(texts) / ta.s:.0f} chunks/s)")
        info = mem.info()
        mem.close()
    out["chunks"] = done
    out["hashed_vectors_s"] = round(embed_s, 2)
    out["build_s"] = round(total.s - embed_s, 2)  # excludes making the stand-in vectors
    out["build_chunks_per_s"] = round(done / out["build_s"], 1)
    out["video_bytes"] = info["video_bytes"]
    out["video_over_raw_text"] = info["ratio_to_raw_text"]
    out["frames"] = info["frames"]
    return out, queries[:n_queries]


def footprint(folder: Path, raw: int, rows: int) -> dict[str, Any]:
    """Bytes on disk under the memory's folder: video, store (broken down), everything else."""
    total = dir_bytes(folder)
    video = sum(p.stat().st_size for p in folder.rglob("*.mp4") if p.is_file())
    stores = [p.parent for p in folder.rglob("chroma.sqlite3")]
    store = sum(dir_bytes(s) for s in stores)
    out: dict[str, Any] = {
        "total_bytes": total,
        "total_over_raw_text": round(total / raw, 3),
        "video_bytes": video,
        "store_bytes": store,
        "other_bytes": total - video - store,
        "per_chunk_bytes": {"raw_text": round(raw / rows, 1), "video": round(video / rows, 1),
                            "store": round(store / rows, 1), "other": round((total - video - store) / rows, 1)},
    }
    if stores:
        out["store"] = store_breakdown(stores[0], rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3,000 chunks and 30 queries: checks that the script works")
    ap.add_argument("--chunks", type=int, default=None, help="chunks to build (default 1,000,000; quick 3,000)")
    ap.add_argument("--batch", type=int, default=None, help="chunks per add() call (default 100,000; quick 1,000)")
    ap.add_argument("--queries", type=int, default=None, help="queries per search measurement (default 200; quick 30)")
    ap.add_argument("--keep-page-cache", action="store_true",
                    help="cold queries empty only memvid's frame cache, not the OS page cache of the memory's files")
    ap.add_argument("--keep", action="store_true", help="keep the built memory under .bench/work/million*")
    ap.add_argument("--search-only", action="store_true",
                    help="skip the build: measure search again on the memory a run with --keep left")
    ap.add_argument("--out", default=None, help="results file name under benchmarks/results/ "
                    "(default million.json; million_quick.json with --quick)")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'taken under load')")
    args = ap.parse_args()
    n = args.chunks or (3_000 if args.quick else 1_000_000)
    batch = args.batch or (1_000 if args.quick else 100_000)
    n_q = args.queries or (30 if args.quick else 200)

    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "note": args.note, "machine": machine_info(),
                           "core": core_info(), "targets": TARGETS}
    load = res["machine"]["loadavg_at_start"][0]
    res["clean"] = bool(load <= 0.5)
    if not res["clean"]:
        log(f"load average {load} at start: timings are NOT clean (taken under load)")
    work = WORK / ("million_quick" if args.quick else "million")
    kept = work / "built.json"
    started = time.perf_counter()
    if args.search_only:
        # Search apart from the build: after a build, its writes are still being flushed.
        if not kept.is_file():
            raise SystemExit(f"No kept memory at {work}: run once with --keep first.")
        saved = json.loads(kept.read_text())
        built, queries = saved["build"], saved["queries"]
        res["build"] = built
        res["search_only"] = True
        log(f"search only, on the memory kept at {work} ({built['chunks']:,} chunks)")
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log(f"building {n:,} chunks in batches of {batch:,} (hashed 384-d vectors)")
        built, queries = build(work / "memory", n, batch, n_q)
        res["build"] = built
        log(f"built in {built['build_s']} s ({built['build_chunks_per_s']} chunks/s); "
            f"video {built['video_over_raw_text']}x raw text")
        if args.keep:
            kept.write_text(json.dumps({"build": built, "queries": queries}))

    res["footprint"] = footprint(work / "memory", built["raw_text_bytes"], built["chunks"])
    log(f"footprint {res['footprint']['total_over_raw_text']}x raw text; per chunk {res['footprint']['per_chunk_bytes']}")

    qfile = work / "queries.npy"
    np.save(qfile, hashed_vectors(queries))
    log(f"search: fresh process without the model, {len(queries)} queries, top-5, caches emptied before cold queries")
    cmd = [sys.executable, str(HERE / "_search_worker.py"), "memvid", str(work / "memory" / "kb.mp4"), str(qfile)]
    if not args.keep_page_cache:
        cmd += ["--evict", str(work / "memory")]
    res["search"] = run_json(cmd, timeout=7200)
    s = res["search"]
    log(f"cold p50/p95 {s['cold']['p50_ms']}/{s['cold']['p95_ms']} ms, hot p50/p95 {s['hot']['p50_ms']}/{s['hot']['p95_ms']} ms, "
        f"peak RSS {s['peak_rss_mb']} MB")
    res["verdicts"] = {
        "search_cold_p50_ms": [s["cold"]["p50_ms"], s["cold"]["p50_ms"] <= TARGETS["search_cold_p50_ms_max"]],
        "search_peak_rss_mb": [s["peak_rss_mb"], s["peak_rss_mb"] <= TARGETS["search_peak_rss_mb_max"]],
    }
    res["total_s"] = round(time.perf_counter() - started, 1)
    res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not (args.keep or args.search_only):
        shutil.rmtree(work, ignore_errors=True)
    path = write_json(args.out or ("million_quick.json" if args.quick else "million.json"), res)
    for what, (value, ok) in res["verdicts"].items():
        print(f"{what:24} {value:>10}  {'PASS' if ok else 'MISS'}")
    print(f"Total {res['total_s']} s{'' if res['clean'] else ' (NOT clean: taken under load)'}. "
          f"Results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
