"""How large a segment's zstd dictionary should be: bytes on disk against a fresh process's first query.

    .venv/bin/python benchmarks/bench_dictionary.py                       # pydoc topics, 3,800 and 20,000 chunks
    .venv/bin/python benchmarks/bench_dictionary.py --caps 64 40 --sizes 3800 --reps 9

A segment's dictionary (``format/payload.train_dictionary``: a twelfth of the segment's records, between 8 KiB
and a cap) makes every group smaller, but the first read of a segment decodes the dictionary's frames as well
as its group's.  For each cap (KiB) and corpus this builds a memory (``Memory.create`` + ``add``, default
settings, ``hashed_vectors``) and reports the MP4's bytes, its frames, the dictionary's frames, and a fresh
process's open + first keyword query (whole-process wall time, and open + query timed inside the process,
medians of ``--reps``, the caps taking turns).
Corpora: ``pydoc`` (``_common.pydoc_chunks``) and ``N`` chunks of ``_common.distinct_chunks``.
Results: ``benchmarks/results/dictionary.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import ROOT, WORK, distinct_chunks, hashed_vectors, log, machine_info, pydoc_chunks, write_json  # noqa: E402

# The open + query part is also timed inside the process: it is what the dictionary changes, without the
# interpreter's and the imports' noise around it.
_FIRST = ("import sys, time; from memvid_base import Memory; t = time.perf_counter(); "
          "r = Memory(sys.argv[1]).search(sys.argv[2], top_k=5, mode='keyword'); assert r, 'no hits'; "
          "print(round((time.perf_counter() - t) * 1000, 2))")


def build(path: Path, texts: list[str], cap_kib: int) -> dict[str, Any]:
    import memvid_base.format.payload as payload
    from memvid_base import Memory

    payload._DICT_MAX_BYTES = cap_kib * 1024  # the one knob measured; everything else is the default
    shutil.rmtree(path.parent, ignore_errors=True)
    mem = Memory.create(path)
    mem.add(texts, ids=[f"c{i}" for i in range(len(texts))], embeddings=hashed_vectors(texts))
    mem.search("python", top_k=1, mode="keyword")  # the keyword index is built here, not in the timed process
    segs = mem.manifest.segments
    out = {"mp4_bytes": path.stat().st_size, "frames": sum(s.frames for s in segs),
           "dict_frames": [s.dict_frames for s in segs], "raw_text_bytes": sum(len(t.encode()) for t in texts)}
    mem.close()
    return out


def first_query_ms(paths: dict[int, Path], query: str, reps: int) -> dict[int, tuple[float, float]]:
    """Per cap: the median whole-process wall time, and the median open + query time inside the process."""
    walls: dict[int, list[float]] = {cap: [] for cap in paths}
    inner: dict[int, list[float]] = {cap: [] for cap in paths}
    caps = list(paths)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for rep in range(reps):
        for cap in caps[rep % len(caps):] + caps[: rep % len(caps)]:  # rotating order: drift favours none
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _FIRST, str(paths[cap]), query], check=True, env=env, cwd=ROOT,
                                 capture_output=True, text=True).stdout
            walls[cap].append((time.perf_counter() - t) * 1000)
            inner[cap].append(float(out.split()[-1]))
    return {cap: (round(statistics.median(walls[cap]), 1), round(statistics.median(inner[cap]), 2)) for cap in paths}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caps", type=int, nargs="+", default=[64, 40, 32], help="dictionary caps, KiB")
    ap.add_argument("--sizes", nargs="+", default=["pydoc", "3800", "20000"], help="'pydoc' or a chunk count")
    ap.add_argument("--reps", type=int, default=7, help="fresh processes per cap and corpus")
    ap.add_argument("--out", default="dictionary.json")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": machine_info(), "loadavg_at_start": os.getloadavg(), "corpora": {}}
    for size in args.sizes:
        texts = pydoc_chunks() if size == "pydoc" else distinct_chunks(int(size))
        query = " ".join(texts[len(texts) // 2].split()[3:9])
        paths, rows = {}, {}
        for cap in args.caps:
            log(f"{size}: building with a {cap} KiB dictionary cap")
            path = WORK / f"dictionary_{size}_{cap}" / "kb.mp4"
            rows[cap] = build(path, texts, cap)
            paths[cap] = path
        first = first_query_ms(paths, query, args.reps)
        base = rows[args.caps[0]]["mp4_bytes"]
        for cap in args.caps:
            rows[cap] |= {"first_keyword_query_ms": first[cap][0], "open_and_query_inside_ms": first[cap][1],
                          "mp4_vs_first_cap": round(rows[cap]["mp4_bytes"] / base, 4)}
            r = rows[cap]
            print(f"{size:>6} cap {cap:>3} KiB: MP4 {r['mp4_bytes']:>11,} bytes ({r['mp4_vs_first_cap']:.4f}x), "
                  f"{r['frames']} frames, dictionary {r['dict_frames']}, fresh first keyword query {first[cap][0]} ms "
                  f"(open + query inside the process {first[cap][1]} ms)",
                  flush=True)
        results["corpora"][size] = {"query": query, "by_cap_kib": rows}
    results["loadavg_at_end"] = os.getloadavg()
    print(f"wrote {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
