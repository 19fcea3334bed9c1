"""A memory read over HTTP from a real nginx: what opening it and searching it cost, in time and bytes (issue 12).

    .venv/bin/python benchmarks/bench_remote.py --quick    # 2,000 chunks, about 30-60 s: checks the script works
    .venv/bin/python benchmarks/bench_remote.py            # 20,000 chunks, hashed vectors

Corpus: ``_common.distinct_chunks`` (real text, at most 512 characters a chunk), each chunk with one
user metadata key ``file`` (one name per 100 chunks); 384-d deterministic hashed vectors
(``_common.hashed_vectors``): the bytes and times measured here do not depend on the model.

Steps, in one process; nginx (Debian's, ``tests/nginx_server.py``) serves the file on 127.0.0.1 and
every byte count is read from its access log (``$body_bytes_sent``), never from the client:

1. ``Memory.build`` then ``compact()``: the memory is one MP4, copied into nginx's folder.
2. First open: ``Memory(url)`` with an empty user cache and an embedding model that refuses to be
   called.  Reported: time, bytes sent and requests, against the file's size and its box's size.
   The store is built from the box; no frame is read.
3. Reopen with the caches in place (the cache is checked against the box's head only).
4. Cold vector searches, ``top_k=5``: before each one the memory's video readers and decoded frames
   are dropped (``mem.segments.close()``), so each search reopens the file (its ``moov``) and fetches
   its frames; the vector store stays.  p50/p95 latency and bytes per search.  The cost of reopening
   the file alone (``open_video`` + its frame index) is reported beside it.  The same searches on a
   local copy of the file (opened eagerly, with its own index) are the comparison.
5. The one-time metadata backfill (``fill_metadata()``: every frame read once), its time and bytes,
   then cold ``where`` searches, checked against the local copy (same ids for identical filters).
6. The same first-open work on a local bare MP4: from the box alone (what a read-only folder gets)
   against from every frame (what a writable folder gets, ``recovery.recover``), same run.

Results are printed and written to ``benchmarks/results/remote[_quick].json``.  A 1-minute load
above 0.5 at the start marks the run NOT CLEAN.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import (
    DIM,
    WORK,
    Timer,
    core_info,
    distinct_chunks,
    hashed_vectors,
    latency_summary,
    log,
    machine_info,
    queries_from,
    write_json,
)
from nginx_server import NginxServer, serve_folder

CLEAN_LOAD_MAX = 0.5
K = 5


def embedder_for(texts: list[str], vectors: np.ndarray) -> Any:
    """An embedder that returns the precomputed hashed vectors (keyed by the cleaned text, as build embeds it)."""
    from memvid_base import Embedder
    from memvid_base.embeddings import clean_for_embedding

    row = {clean_for_embedding(t): k for k, t in enumerate(texts)}
    return Embedder.from_functions(lambda batch: vectors[[row[t] for t in batch]], name="hashed-384", dimension=DIM)


def refusing_embedder() -> Any:
    from memvid_base import Embedder

    def refuse(texts: list[str]) -> np.ndarray:
        raise AssertionError("the embedding model was called while opening the remote memory")

    return Embedder.from_functions(refuse, name="refusing", dimension=DIM)


class Traffic:
    """Bytes and requests nginx logged for one path since the last :meth:`reset`."""

    def __init__(self, server: NginxServer, path: str) -> None:
        self.server, self.path = server, path

    def reset(self) -> None:
        self.server.clear_log()

    def read(self) -> tuple[int, int]:
        entries = [e for e in self.server.log_entries() if e.path == self.path]
        return sum(e.body_bytes_sent for e in entries), len(entries)


def cold_searches(mem: Any, qvecs: np.ndarray, traffic: Traffic | None, where: Any = None) -> dict[str, Any]:
    """Search each vector after dropping the memory's readers and frames; latency and (remote) bytes a search."""
    ms, sent, reqs, ids = [], [], [], []
    for q in qvecs:
        mem.segments.close()
        if traffic is not None:
            traffic.reset()
        with Timer() as t:
            got = mem.search_by_vector(q, top_k=K, where=where)
        ms.append(t.s * 1000)
        ids.append([c.id for c in got])
        if traffic is not None:
            b, r = traffic.read()
            sent.append(b)
            reqs.append(r)
    out: dict[str, Any] = {"latency": latency_summary(ms)}
    if traffic is not None:
        out["bytes_per_search"] = {"p50": float(np.median(sent)), "p95": float(np.percentile(sent, 95)),
                                   "mean": float(np.mean(sent))}
        out["requests_per_search_mean"] = round(float(np.mean(reqs)), 2)
    out["ids"] = ids
    return out


def agreement(a: list[list[str]], b: list[list[str]]) -> dict[str, float]:
    same = sum(x == y for x, y in zip(a, b)) / max(1, len(a))
    overlap = float(np.mean([len(set(x) & set(y)) / max(1, len(y)) for x, y in zip(a, b)])) if a else 0.0
    return {"identical_lists": round(same, 4), "mean_overlap": round(overlap, 4)}


def run(n: int, n_queries: int, work: Path) -> dict[str, Any]:
    from memvid_base import Memory
    from memvid_base.files.layout import Layout
    from memvid_base.format.container import box_size
    from memvid_base.format.opening import frame_timestamps, open_video, range_file_of
    from memvid_base.storage.recovery import recover

    out: dict[str, Any] = {"chunks": n, "queries": n_queries, "top_k": K}
    os.environ["MEMVID_CACHE_DIR"] = str(work / "user-cache")
    log(f"corpus: {n} chunks, hashed {DIM}-d vectors")
    texts = distinct_chunks(n)
    vectors = hashed_vectors(texts)
    metas = [{"file": f"doc{k // 100}.txt"} for k in range(n)]
    qvecs = hashed_vectors(queries_from(texts, n_queries))

    log("build + compact")
    with Timer() as t:
        mem = Memory.build(work / "src" / "kb.mp4", None, texts, metas, embedding_model=embedder_for(texts, vectors))
        mem.compact()
    out["build_s"] = round(t.s, 1)
    video = mem.video_path
    mem.close()
    size = video.stat().st_size
    out["file_bytes"] = size
    out["box_bytes"] = box_size(video)
    out["frames"] = sum(s.frames for s in mem.manifest.segments)

    www = work / "www"
    www.mkdir()
    shutil.copy(video, www / "kb.mp4")
    local_dir = work / "local"
    local_dir.mkdir()
    shutil.copy(video, local_dir / "kb.mp4")

    with serve_folder(www, work / "nginx") as server:
        url = server.url_for("kb.mp4")
        traffic = Traffic(server, "/kb.mp4")

        log("first open over HTTP (empty cache)")
        traffic.reset()
        with Timer() as t:
            remote = Memory(url, embedding_model=refusing_embedder())
            live = len(remote)
        if live != n:
            raise RuntimeError(f"the remote memory opened with {live} chunks, expected {n}")
        sent, reqs = traffic.read()
        out["first_open"] = {"s": round(t.s, 3), "bytes": sent, "requests": reqs,
                             "bytes_over_file": round(sent / size, 4), "bytes_over_box": round(sent / out["box_bytes"], 4)}
        remote.close()

        log("reopen over HTTP (caches in place)")
        traffic.reset()
        with Timer() as t:
            remote = Memory(url, embedding_model=refusing_embedder())
            remote.open_store()
        sent, reqs = traffic.read()
        out["reopen"] = {"s": round(t.s, 3), "bytes": sent, "requests": reqs}

        log("opening the file's video alone (moov + frame index)")
        traffic.reset()
        with Timer() as t:
            container = open_video(url)
            frame_timestamps(container)
            rf = range_file_of(container)
            container.close()
            if rf is not None:
                rf.close()
        sent, reqs = traffic.read()
        out["open_video_alone"] = {"s": round(t.s, 4), "bytes": sent, "requests": reqs}

        log(f"{n_queries} cold vector searches over HTTP (before any backfill)")
        cold = cold_searches(remote, qvecs, traffic)
        if remote.manifest.store.get("user_metadata") != "pending":
            raise RuntimeError("a plain vector search filled in the metadata")
        local = Memory(local_dir / "kb.mp4", embedding_model=refusing_embedder())  # eager: every frame, local
        local_cold = cold_searches(local, qvecs, None)
        out["cold_vector_search_remote"] = {k: v for k, v in cold.items() if k != "ids"}
        out["cold_vector_search_local"] = {k: v for k, v in local_cold.items() if k != "ids"}
        out["vector_agreement_remote_vs_local"] = agreement(cold["ids"], local_cold["ids"])

        log("metadata backfill (one read of every frame)")
        traffic.reset()
        with Timer() as t:
            remote.fill_metadata(show_progress=False)
        sent, reqs = traffic.read()
        out["backfill"] = {"s": round(t.s, 3), "bytes": sent, "requests": reqs, "bytes_over_file": round(sent / size, 4)}

        where = {"file": {"$in": [f"doc{k}.txt" for k in range(0, max(1, n // 100), 3)]}}
        log("cold where-filtered searches, remote and local")
        cold_w = cold_searches(remote, qvecs, traffic, where)
        local_w = cold_searches(local, qvecs, None, where)
        out["cold_where_search_remote"] = {k: v for k, v in cold_w.items() if k != "ids"}
        out["cold_where_search_local"] = {k: v for k, v in local_w.items() if k != "ids"}
        out["where_agreement_remote_vs_local"] = agreement(cold_w["ids"], local_w["ids"])
        remote.close()
        local.close()

    log("local bare MP4: first-open work from the box alone vs from every frame")
    for name, layout in (("boxes_only", Layout.mirrored(str((work / "src" / "kb.mp4").resolve()))),
                         ("every_frame", None)):
        if layout is None:
            eager_dir = work / "eager"
            eager_dir.mkdir()
            shutil.copy(video, eager_dir / "kb.mp4")
            layout = Layout.of(eager_dir / "kb.mp4")
        with Timer() as t:
            recover(layout)
        out.setdefault("local_first_open_s", {})[name] = round(t.s, 3)
    local_open = out["local_first_open_s"]
    local_open["every_frame_over_boxes_only"] = round(local_open["every_frame"] / local_open["boxes_only"], 2)
    return out


def print_report(res: dict[str, Any]) -> None:
    r = res["result"]
    print()
    if res["not_clean"]:
        print(f"NOT CLEAN: 1-minute load {res['machine']['loadavg_at_start'][0]} at start (> {CLEAN_LOAD_MAX}); "
              "timings are inflated by other work on the machine (byte counts are not).")
    print(f"{r['chunks']} chunks, {r['frames']} frames; file {r['file_bytes']} bytes, box {r['box_bytes']} bytes")
    fo, ro = r["first_open"], r["reopen"]
    print(f"first open over HTTP: {fo['s']} s, {fo['bytes']} bytes ({fo['bytes_over_file']:.1%} of the file, "
          f"{fo['bytes_over_box']:.2f}x the box), {fo['requests']} requests")
    print(f"reopen (caches kept): {ro['s']} s, {ro['bytes']} bytes, {ro['requests']} requests")
    ov = r["open_video_alone"]
    print(f"opening the video alone (moov): {ov['bytes']} bytes, {ov['requests']} requests")
    for key, label in (("cold_vector_search_remote", "cold vector search, HTTP"),
                       ("cold_vector_search_local", "cold vector search, local file"),
                       ("cold_where_search_remote", "cold where search, HTTP"),
                       ("cold_where_search_local", "cold where search, local file")):
        c = r[key]
        extra = ""
        if "bytes_per_search" in c:
            extra = f", {c['bytes_per_search']['p50']:.0f} bytes p50 ({c['requests_per_search_mean']} requests)"
        print(f"{label:32} p50 {c['latency']['p50_ms']:.1f} ms, p95 {c['latency']['p95_ms']:.1f} ms{extra}")
    b = r["backfill"]
    print(f"metadata backfill: {b['s']} s, {b['bytes']} bytes ({b['bytes_over_file']:.1%} of the file), "
          f"{b['requests']} requests")
    print(f"agreement remote vs local: vector {r['vector_agreement_remote_vs_local']}, "
          f"where {r['where_agreement_remote_vs_local']}")
    lo = r["local_first_open_s"]
    print(f"local bare MP4 first open: boxes only {lo['boxes_only']} s, every frame {lo['every_frame']} s "
          f"({lo['every_frame_over_boxes_only']}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 chunks and 30 queries; validates the script")
    ap.add_argument("--chunks", type=int, default=None, help="number of chunks (default 20000; quick 2000)")
    ap.add_argument("--queries", type=int, default=None, help="cold searches per kind (default 100; quick 30)")
    ap.add_argument("--note", default="", help="free text stored with the results")
    args = ap.parse_args()
    machine = machine_info()
    n = args.chunks or (2000 if args.quick else 20000)
    n_queries = args.queries or (30 if args.quick else 100)
    work = WORK / "remote"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        result = run(n, n_queries, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res = {
        "benchmark": "bench_remote",
        "mode": "quick" if args.quick else "full",
        "not_clean": machine["loadavg_at_start"][0] > CLEAN_LOAD_MAX,
        "machine": machine,
        "core": core_info(),
        "note": args.note,
        "result": result,
    }
    print_report(res)
    path = write_json("remote_quick.json" if args.quick else "remote.json", res)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
