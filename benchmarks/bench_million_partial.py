"""Measure what a stopped ``bench_million.py`` run built: search, memory and footprint at its size.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_million_partial.py --log bench_million.log

A 1,000,000-chunk build takes longer than one session may have (each 100,000-chunk ``add`` gets
slower as the memory grows, see the log).  Killing the build leaves the memory at its last committed
batch (a killed writer loses nothing committed), so this script measures that memory the way
``bench_million.py`` would have measured the full one: a fresh search process without the model,
top-5, memvid's frame cache emptied and the memory's files dropped from the page cache before every
cold query, and its footprint on disk.  The batch times are read from the stopped run's log.

Caveat: the rows the killed batch had already put in the store stay there, invisible, until the next
write undoes them, so the store's size and the search process's memory include them.  Last round's
stopped run measured 2,014 MB at 500,000 committed chunks with 87,000 such rows in its HNSW; the full
run later measured 2,237 MB at 1,000,000.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, core_info, hashed_vectors, iter_distinct_chunks, machine_info, queries_from, write_json
from bench_core import run_json
from bench_million import HERE, TARGETS, footprint, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", type=Path, required=True, help="the stopped bench_million.py run's output")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    res: dict[str, Any] = {"note": args.note, "machine": machine_info(), "core": core_info(), "targets": TARGETS}
    res["clean"] = bool(res["machine"]["loadavg_at_start"][0] <= 0.5)
    batches = [{"chunks_after": int(a.replace(",", "")), "add_s": float(b)}
               for a, b in re.findall(r"([\d,]+) chunks; this batch's add took ([\d.]+) s", args.log.read_text())]
    res["batches_from_log"] = batches
    folder = WORK / "million" / "memory"
    from memvid_base import Memory

    mem = Memory(folder / "kb.mp4")
    rows = len(mem)
    res["chunks"] = rows
    log(f"the stopped build committed {rows:,} chunks (version {mem.version})")
    mem.close()
    texts: list[str] = []
    raw = 0
    for t in iter_distinct_chunks():
        if len(texts) >= rows:
            break
        texts.append(t)
        raw += len(t.encode("utf-8"))
    res["footprint"] = footprint(folder, raw, rows)
    log(f"footprint {res['footprint']['total_over_raw_text']}x raw text; per chunk {res['footprint']['per_chunk_bytes']}")
    qfile = WORK / "million" / "queries_partial.npy"
    np.save(qfile, hashed_vectors(queries_from(texts, args.queries, seed=3)))
    cmd = [sys.executable, str(HERE / "_search_worker.py"), "memvid", str(folder / "kb.mp4"), str(qfile), "--evict", str(folder)]
    started = time.perf_counter()
    res["search"] = s = run_json(cmd, timeout=3600)
    res["search_s"] = round(time.perf_counter() - started, 1)
    log(f"cold p50/p95 {s['cold']['p50_ms']}/{s['cold']['p95_ms']} ms, hot p50/p95 {s['hot']['p50_ms']}/{s['hot']['p95_ms']} ms, "
        f"peak RSS {s['peak_rss_mb']} MB")
    res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"Results written to {write_json('million_partial.json', res)}")


if __name__ == "__main__":
    main()
