"""What the frame size trades: bytes on disk against the time a cold query spends decoding frames.

    .venv/bin/python benchmarks/bench_frame_size.py                          # 20,000 chunks and pydoc, seven sizes
    .venv/bin/python benchmarks/bench_frame_size.py --chunks 100000 --sizes 0 136 --rounds 2

Each group of records fills one QR symbol, and a cold hit decodes its group's whole frame, so a smaller frame
(a smaller QR version, fewer bytes per group) decodes fewer pixels per hit but compresses the text less well
and adds frames.  For each ``frame_size`` (0: the default, 176 px for AV1) this builds a memory
(``Memory.create(frame_size=...)`` + ``add``, ``hashed_vectors``, otherwise default settings) and reports:

* the MP4's bytes, the QR frames alone and the whole MP4 against the raw text, and on the pydoc topics the
  frames' ratio (``tests/test_core_memory.py`` holds the default to at most 0.5);
* in one process, the memories taking turns over ``--rounds`` (reversed every other round): the p50 of a
  vector query's frame decoding with memvid's frame cache emptied first (the hits' groups read from the video;
  the same split as ``_search_worker.py``'s ``breakdown_cold``), and of the whole cold ``search_by_vector``;
* a fresh process's open + first keyword query (``bench_dictionary.first_query_ms``): a smaller frame spreads a
  segment's dictionary over more frames.

Results: ``benchmarks/results/frame_size.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import WORK, distinct_chunks, hashed_vectors, log, machine_info, pydoc_chunks, queries_from, write_json  # noqa: E402
from bench_core import build_memvid_vectors  # noqa: E402
from bench_dictionary import first_query_ms  # noqa: E402


def build(path: Path, texts: list[str], frame_size: int) -> dict[str, Any]:
    shutil.rmtree(path.parent, ignore_errors=True)
    build_s, mem = build_memvid_vectors(path.parent, texts, hashed_vectors(texts), frame_size or None)
    mem.search("python", top_k=1, mode="keyword")  # the keyword index is built here, not in the timed process
    info = mem.info()
    mem.close()
    return {"frame_size": info["frame_size"], "mp4_bytes": info["video_bytes"], "frames": info["frames"],
            "frames_over_raw_text": info["frames_ratio_to_raw_text"], "mp4_over_raw_text": info["ratio_to_raw_text"],
            "build_s": round(build_s, 1)}


def cold_rounds(paths: dict[int, Path], queries: np.ndarray, rounds: int) -> dict[int, dict[str, float]]:
    """Per size: p50 of the hits' frame decoding and of the whole search, frame cache emptied before each."""
    from memvid_base import Memory

    mems = {fs: Memory(p) for fs, p in paths.items()}
    plans: dict[int, list[Any]] = {}
    for fs, mem in mems.items():
        for v in queries[:5]:  # opens the video and the scan index
            mem.search_by_vector(v, top_k=5)
        plans[fs] = []
        for v in queries:
            ranker, req = mem._plan(None, np.asarray(v, dtype=np.float32), 5, None, "vector", None, None, None, False)
            plans[fs].append(ranker._vector(req, 5))
    decode: dict[int, list[float]] = {fs: [] for fs in paths}
    search: dict[int, list[float]] = {fs: [] for fs in paths}
    order = list(paths)
    for r in range(rounds):
        for fs in order if r % 2 == 0 else order[::-1]:
            mem = mems[fs]
            for rows in plans[fs]:
                mem.clear_cache()
                t = time.perf_counter()
                mem._materialize(rows)
                decode[fs].append((time.perf_counter() - t) * 1000)
            for v in queries:
                mem.clear_cache()
                t = time.perf_counter()
                mem.search_by_vector(v, top_k=5)
                search[fs].append((time.perf_counter() - t) * 1000)
    out = {}
    for fs, mem in mems.items():
        groups = statistics.mean(len({(h.row.segment, h.row.frame) for h in rows}) for rows in plans[fs])
        out[fs] = {"cold_decode_p50_ms": round(statistics.median(decode[fs]), 2),
                   "cold_search_p50_ms": round(statistics.median(search[fs]), 2), "groups_per_query": round(groups, 2)}
        mem.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[184, 0, 168, 152, 136, 120, 104],
                    help="frame sizes in pixels; 0 is the default")
    ap.add_argument("--chunks", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=4, help="turns each memory takes at the cold queries")
    ap.add_argument("--reps", type=int, default=7, help="fresh processes per size for the first keyword query")
    ap.add_argument("--out", default="frame_size.json")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": machine_info(), "loadavg_at_start": os.getloadavg(), "chunks": args.chunks}

    pydoc = pydoc_chunks()
    results["pydoc_frames_over_raw_text"] = {}
    for fs in args.sizes:
        log(f"pydoc topics at frame_size {fs or 'default'}")
        results["pydoc_frames_over_raw_text"][fs] = build(WORK / f"frame_size_pydoc_{fs}" / "kb.mp4", pydoc, fs)["frames_over_raw_text"]

    texts = distinct_chunks(args.chunks)
    paths: dict[int, Path] = {}
    rows: dict[int, dict[str, Any]] = {}
    for fs in args.sizes:
        log(f"{args.chunks} chunks at frame_size {fs or 'default'}")
        paths[fs] = WORK / f"frame_size_{args.chunks}_{fs}" / "kb.mp4"
        rows[fs] = build(paths[fs], texts, fs)
    log("cold queries, the sizes taking turns")
    cold = cold_rounds(paths, hashed_vectors(queries_from(texts, args.queries, seed=11)), args.rounds)
    log("fresh processes: open + first keyword query")
    first = first_query_ms(paths, " ".join(texts[len(texts) // 2].split()[3:9]), args.reps)
    base = rows[args.sizes[0]]
    for fs in args.sizes:
        r = rows[fs] | cold[fs] | {"first_keyword_query_ms": first[fs][0], "open_and_query_inside_ms": first[fs][1],
                                   "pydoc_frames_over_raw_text": results["pydoc_frames_over_raw_text"][fs],
                                   "mp4_vs_first": round(rows[fs]["mp4_bytes"] / base["mp4_bytes"], 4),
                                   "cold_decode_vs_first": round(cold[fs]["cold_decode_p50_ms"] / cold[args.sizes[0]]["cold_decode_p50_ms"], 3)}
        rows[fs] = r
        print(f"{r['frame_size']:>4} px: MP4 {r['mp4_bytes']:>11,} B ({r['mp4_vs_first']:.4f}x), frames {r['frames_over_raw_text']}x "
              f"of the text (pydoc {r['pydoc_frames_over_raw_text']}x), {r['frames']} frames | cold decode p50 "
              f"{r['cold_decode_p50_ms']} ms ({r['cold_decode_vs_first']}x), cold search {r['cold_search_p50_ms']} ms, "
              f"{r['groups_per_query']} groups/query | fresh first keyword query {r['first_keyword_query_ms']} ms "
              f"(inside {r['open_and_query_inside_ms']} ms)", flush=True)
    results["by_frame_size"] = rows
    results["loadavg_at_end"] = os.getloadavg()
    print(f"wrote {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
