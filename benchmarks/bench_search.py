"""Search only: cold/hot top-5 latency of this project vs. plain Chroma on one corpus size, same run.

    .venv/bin/python benchmarks/bench_search.py --quick           # 2,000 chunks, 30 queries: checks the script
    .venv/bin/python benchmarks/bench_search.py --chunks 100000   # the 100k tier of bench_core, search part only

The memory and the plain Chroma store are built once (same distinct real-text chunks and hashed
384-d vectors as ``bench_core.py``'s large tier) under ``.bench/work/search_<N>`` and reused by later
runs with the same ``--chunks`` (``--rebuild`` forces a fresh build; a memory built at another default frame
size is built again).  Both stores get the same
``ef_search`` before measuring: memvid's own (400) unless ``--ef-search`` says otherwise.  Each side is measured in its
own fresh process (``_search_worker.py``); each round runs the workers (and ``--baseline``'s) once, in reverse
order every other round, so that load changes on a shared machine hit them alike, and the ratios come from the
same round.  Results go to
``benchmarks/results/search.json`` (``search_quick.json`` with ``--quick``, ``search_ef100.json``
with ``--ef-search 100``, ``search_chroma_ef100.json`` with ``--chroma-ef 100``: memvid at its own 400 against
plain Chroma at its default, what a user choosing between them gets).

Up to 200,000 rows memvid answers unfiltered queries from its exact int8 scan, not HNSW (``ef_search`` then
changes only its filtered queries); each worker records which index answered.  After the rounds, a bare copy
of the MP4 is opened and its top-5 lists compared with the original's and with exact search (``--no-agreement``
skips it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, Timer, core_info, distinct_chunks, hashed_vectors, machine_info, queries_from, write_json
from bench_core import HERE, build_chroma, build_memvid_vectors, log, run_json, search_worker


def baseline_worker(core: Path, path: Path, qfile: Path) -> dict[str, Any]:
    """The memvid worker run on another checkout's ``memvid_base`` (``MEMVID_BENCH_CORE``), e.g. the last commit."""
    os.environ["MEMVID_BENCH_CORE"] = str(core)
    try:
        return run_json([sys.executable, str(HERE / "_search_worker.py"), "memvid", str(path), str(qfile)], timeout=1200)
    finally:
        del os.environ["MEMVID_BENCH_CORE"]


def build(work: Path, n: int, n_q: int, rebuild: bool, frame_size: int | None = None) -> Path:
    """Build (or reuse) the memory and the plain Chroma store for ``n`` chunks, and with ``frame_size`` a second
    memory of the same chunks and vectors at that frame size (``memvid_<px>px``); returns the query file."""
    done = work / "built.ok"
    qfile = work / f"queries_{n_q}.npy"
    from memvid_base.config import VideoSettings

    # A memory built before the default frame size changed is built again (the Chroma store is kept).
    stamp = f"ok, default frame_size {VideoSettings.create().frame_size}\n"
    if not rebuild and done.exists() and done.read_text() != stamp:
        log(f"the memory under {work} was built at another default frame size: building it again")
        shutil.rmtree(work / "memvid", ignore_errors=True)
        texts = distinct_chunks(n)
        t_x, mem = build_memvid_vectors(work / "memvid", texts, hashed_vectors(texts))
        mem.close()
        log(f"  {t_x:.1f} s")
        done.write_text(stamp)
    if rebuild or not done.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        texts = distinct_chunks(n)
        vectors = hashed_vectors(texts)
        log(f"building this project's memory of {n} chunks")
        t_x, mem = build_memvid_vectors(work / "memvid", texts, vectors)
        mem.close()
        log(f"  {t_x:.1f} s; plain Chroma")
        with Timer() as t:
            build_chroma(work / "chroma", texts, vectors)
        log(f"  {t.s:.1f} s")
        done.write_text(stamp)
    sized = work / f"memvid_{frame_size}px"
    if frame_size and (rebuild or not (sized / "built.ok").exists()):
        shutil.rmtree(sized, ignore_errors=True)
        texts = distinct_chunks(n)
        log(f"building the same memory at frame_size {frame_size}")
        t_s, mem = build_memvid_vectors(sized, texts, hashed_vectors(texts), frame_size)
        mem.close()
        log(f"  {t_s:.1f} s")
        (sized / "built.ok").write_text("ok\n")
    if not qfile.exists():
        texts = distinct_chunks(n)
        np.save(qfile, hashed_vectors(queries_from(texts, n_q, seed=13)).astype(np.float32))
    return qfile


def set_ef_search(work: Path, ef: int, chroma_ef: int | None = None) -> None:
    """Give the stores their query-time ``ef_search`` (a setting Chroma keeps per collection and lets change):
    ``ef`` to both, or ``chroma_ef`` to the plain Chroma store when given."""
    import chromadb
    from chromadb.config import Settings

    stores = [(work / "chroma", chroma_ef or ef), *((f, ef) for f in sorted(work.glob("memvid*/.*memvid-cache/chroma*")))]
    for folder, ef in stores:
        client = chromadb.PersistentClient(path=str(folder), settings=Settings(anonymized_telemetry=False))
        for col in client.list_collections():
            col.modify(configuration={"hnsw": {"ef_search": ef}})
            assert col.configuration["hnsw"]["ef_search"] == ef


def copy_agreement(work: Path, n: int, qfile: Path, k: int = 5) -> dict[str, Any]:
    """Top-``k`` lists of the memory, of a bare copy of its MP4 (opened from its boxes), and of exact search.

    Exact search is float64 cosine over the int8 vectors the MP4 holds, ties to the earlier row. Lists are
    compared as texts (the chunks are distinct), so the copy's own row ids do not matter.
    """
    from memvid_base import Memory
    from memvid_base.format.vector_codec import round_trip

    copy_dir = work / "bare_copy"
    shutil.rmtree(copy_dir, ignore_errors=True)
    copy_dir.mkdir()
    shutil.copy(work / "memvid" / "kb.mp4", copy_dir / "kb.mp4")
    texts = distinct_chunks(n)
    where = {t: i for i, t in enumerate(texts)}
    queries = np.load(qfile).astype(np.float32)
    _, stored = round_trip(hashed_vectors(texts), "int8")
    norms = np.linalg.norm(stored.astype(np.float64), axis=1)
    sims = (stored.astype(np.float64) @ queries.T.astype(np.float64)) / np.where(norms > 0, norms, 1)[:, None]
    exact = [[int(i) for i in np.lexsort((np.arange(n), -sims[:, j]))[:k]] for j in range(len(queries))]
    original, copy = Memory(work / "memvid" / "kb.mp4"), Memory(copy_dir / "kb.mp4")
    with Timer() as t:
        copy.search_by_vector(queries[0], top_k=k)
    mine = [[where[c.text] for c in original.search_by_vector(v, top_k=k)] for v in queries]
    theirs = [[where[c.text] for c in copy.search_by_vector(v, top_k=k)] for v in queries]
    original.close()
    copy.close()
    shutil.rmtree(copy_dir, ignore_errors=True)
    return {
        "queries": len(queries),
        "copy_identical_top5": round(float(np.mean([a == b for a, b in zip(mine, theirs)])), 4),
        "original_identical_to_exact_top5": round(float(np.mean([a == e for a, e in zip(mine, exact)])), 4),
        "original_overlap_at_5_vs_exact": round(float(np.mean([len(set(a) & set(e)) / k for a, e in zip(mine, exact)])), 4),
        "copy_first_query_s": round(t.s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 chunks, 30 queries, 1 round")
    ap.add_argument("--chunks", type=int, default=None, help="corpus size (default 100000; quick 2000)")
    ap.add_argument("--queries", type=int, default=None, help="queries per measurement (default 200; quick 30)")
    ap.add_argument("--rounds", type=int, default=None, help="alternating memvid/Chroma worker pairs (default 2)")
    ap.add_argument("--rebuild", action="store_true", help="build the memory and the Chroma store again")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a folder holding another memvid_base (e.g. `git archive HEAD~1 memvid_base | tar -x -C DIR`), "
                    "measured in each round too")
    ap.add_argument("--ef-search", type=int, default=None,
                    help="HNSW ef_search given to both stores before measuring (default: memvid's own, 400)")
    ap.add_argument("--chroma-ef", type=int, default=None,
                    help="ef_search of the plain Chroma store only (100 is Chroma's default: the store a user who picks "
                    "plain Chroma runs); memvid keeps its own")
    ap.add_argument("--frame-size", type=int, default=None, metavar="PX",
                    help="also measure a memory of the same chunks built at this frame size (bench_frame_size.py)")
    ap.add_argument("--no-agreement", action="store_true",
                    help="skip comparing a bare copy's top-5 lists with the original's and with exact search")
    ap.add_argument("--out", default=None, help="result file name under benchmarks/results/ (default from the options)")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    n = args.chunks or (2_000 if args.quick else 100_000)
    n_q = args.queries or (30 if args.quick else 200)
    rounds = args.rounds or (1 if args.quick else 2)

    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "note": args.note, "machine": machine_info(),
                           "core": core_info(), "chunks": n, "queries": n_q, "rounds": []}
    work = WORK / f"search_{n}"
    qfile = build(work, n, n_q, args.rebuild, args.frame_size)
    from memvid_base.index.vectors import HNSW_CONFIGURATION

    res["ef_search"] = args.ef_search or HNSW_CONFIGURATION["hnsw"]["ef_search"]
    res["chroma_ef_search"] = args.chroma_ef or res["ef_search"]
    set_ef_search(work, res["ef_search"], args.chroma_ef)
    workers: dict[str, Callable[[], dict[str, Any] | None]] = {
        "memvid": lambda: search_worker("memvid", work / "memvid" / "kb.mp4", qfile),
        "chroma": lambda: search_worker("chroma", work / "chroma", qfile, "plain"),
        "baseline": lambda: baseline_worker(args.baseline, work / "memvid" / "kb.mp4", qfile) if args.baseline else None,
        "sized": lambda: search_worker("memvid", work / f"memvid_{args.frame_size}px" / "kb.mp4", qfile) if args.frame_size else None,
    }
    for r in range(rounds):
        # Odd rounds run the workers in reverse, so a load that rises or falls during a round favours no side.
        order = list(workers) if r % 2 == 0 else list(reversed(workers))
        got = {name: workers[name]() for name in order}
        m, c, b, z = got["memvid"], got["chroma"], got["baseline"], got["sized"]
        assert m is not None and c is not None
        row = {
            "order": order,
            "memvid": m,
            "chroma": c,
            "baseline": b,
            "cold_p50_ratio": round(m["cold"]["p50_ms"] / c["cold"]["p50_ms"], 2),
            "cold_p95_ratio": round(m["cold"]["p95_ms"] / c["cold"]["p95_ms"], 2),
            "hot_p50_ratio": round(m["hot"]["p50_ms"] / c["hot"]["p50_ms"], 2),
            "hnsw_ids_only_p50_ratio": round(m["hnsw_ids_only_hot"]["p50_ms"] / c["hnsw_ids_only_hot"]["p50_ms"], 2),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
        if z:
            row |= {"frame_size": args.frame_size, "sized": z, "sized_cold_p50_ratio": round(z["cold"]["p50_ms"] / c["cold"]["p50_ms"], 2),
                    "sized_hot_p50_ratio": round(z["hot"]["p50_ms"] / c["hot"]["p50_ms"], 2)}
        res["rounds"].append(row)
        log(
            f"round {r + 1}: memvid cold p50 {m['cold']['p50_ms']} p95 {m['cold']['p95_ms']} hot p50 {m['hot']['p50_ms']} ms"
            f" | Chroma p50 {c['cold']['p50_ms']} p95 {c['cold']['p95_ms']} hot {c['hot']['p50_ms']} ms"
            f" | ratios cold p50 {row['cold_p50_ratio']}x p95 {row['cold_p95_ratio']}x hot {row['hot_p50_ratio']}x"
            f" | HNSW alone {m['hnsw_ids_only_hot']['p50_ms']} vs {c['hnsw_ids_only_hot']['p50_ms']} ms"
            f" | decode p50 {m['breakdown_cold']['frame_decode']['p50_ms']} ms, groups/query {m.get('groups_per_query')}"
            + (f" | baseline cold p50 {b['cold']['p50_ms']} p95 {b['cold']['p95_ms']} hot {b['hot']['p50_ms']} ms" if b else "")
            + (f" | {args.frame_size} px frames: cold p50 {z['cold']['p50_ms']} ({row['sized_cold_p50_ratio']}x) hot {z['hot']['p50_ms']} "
               f"({row['sized_hot_p50_ratio']}x), decode p50 {z['breakdown_cold']['frame_decode']['p50_ms']} ms" if z else "")
            + f" | load {row['loadavg']}"
        )
    if not args.no_agreement:
        res["copy_agreement"] = copy_agreement(work, n, qfile)
        log(f"bare copy: {res['copy_agreement']}")
    for key in ("cold_p50_ratio", "cold_p95_ratio", "hot_p50_ratio", "hnsw_ids_only_p50_ratio"):
        res[f"median_{key}"] = round(statistics.median(r[key] for r in res["rounds"]), 3)
    if args.frame_size:
        for key in ("sized_cold_p50_ratio", "sized_hot_p50_ratio"):
            res[f"median_{key}"] = round(statistics.median(r[key] for r in res["rounds"]), 3)
        log(f"{args.frame_size} px frames: median ratios cold p50 {res['median_sized_cold_p50_ratio']}x, hot {res['median_sized_hot_p50_ratio']}x")
    res["clean"] = res["machine"]["loadavg_at_start"][0] <= 0.5
    name = "search_quick" if args.quick else "search" + (f"_ef{args.ef_search}" if args.ef_search else "") + (
        f"_chroma_ef{args.chroma_ef}" if args.chroma_ef else "")
    path = write_json(args.out or f"{name}.json", res)
    log(f"median ratios: cold p50 {res['median_cold_p50_ratio']}x, p95 {res['median_cold_p95_ratio']}x, "
        f"hot {res['median_hot_p50_ratio']}x, HNSW alone {res['median_hnsw_ids_only_p50_ratio']}x (load at start {res['machine']['loadavg_at_start']}; "
        f"{'clean' if res['clean'] else 'NOT clean: loaded machine'}) -> {path}")


if __name__ == "__main__":
    main()
