"""Search latency and peak RSS of one store, measured in a fresh process that never loads an embedding model.

Run by ``bench_core.py``; it reads precomputed query vectors (``.npy``) so that neither torch nor
the model is ever imported here.  Prints one JSON object on stdout.

    python benchmarks/_search_worker.py memvid  <video.mp4> <queries.npy> [--top-k 5]
    python benchmarks/_search_worker.py chroma  <chroma dir> <queries.npy> --collection NAME

``--evict DIR`` also drops DIR's files from the operating system's page cache before every cold
query (``posix_fadvise(DONTNEED)`` on those files only, so other processes' caches are untouched),
so that a cold query reads its frames from the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import latency_summary, peak_rss_mb, rss_mb


def evict(folder: Path | None) -> None:
    """Drop the page-cache pages of every file under ``folder`` (Linux; a no-op where unsupported)."""
    if folder is None or not hasattr(os, "posix_fadvise"):
        return
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["memvid", "chroma"])
    ap.add_argument("path")
    ap.add_argument("queries")
    ap.add_argument("--collection")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--evict", type=Path, default=None, help="drop this folder's files from the page cache before cold queries")
    args = ap.parse_args()

    out: dict = {"kind": args.kind, "rss_mb_python_start": round(rss_mb(), 1)}
    import numpy as np

    queries = np.load(args.queries).astype(np.float32)
    k = args.top_k
    t0 = time.perf_counter()
    if args.kind == "memvid":
        from memvid_base import Memory

        mem = Memory(args.path)
        out["chunks"] = len(mem)

        def search(v: np.ndarray) -> int:
            res = mem.search_by_vector(v, top_k=k)
            assert len(res) == min(k, out["chunks"]) and all(r.text for r in res)
            return len(res)

        def clear() -> None:
            mem.clear_cache()

        collection = None  # memvid's Chroma collection is opened only for the HNSW-only queries at the end
    else:
        import chromadb
        from chromadb.config import Settings

        client = chromadb.PersistentClient(path=args.path, settings=Settings(anonymized_telemetry=False))
        col = client.get_collection(args.collection, embedding_function=None)
        out["chunks"] = col.count()

        def search(v: np.ndarray) -> int:
            res = col.query(query_embeddings=[v], n_results=k, include=["documents", "metadatas", "distances"])
            assert len(res["documents"][0]) == min(k, out["chunks"]) and all(res["documents"][0])
            return len(res["documents"][0])

        def clear() -> None:
            pass

        collection = col
    out["open_s"] = round(time.perf_counter() - t0, 3)
    out["rss_mb_after_open"] = round(rss_mb(), 1)

    t = time.perf_counter()
    search(queries[0])  # memvid: reads the exact index from the boxes (up to 200,000 rows), else loads HNSW
    out["first_query_ms"] = round((time.perf_counter() - t) * 1000, 1)
    for v in queries[1 : args.warmup]:  # opens the video, first decoder setup
        search(v)

    # Cold: the decoded-frame cache is emptied before every query, so every result is decoded from video.
    cold: list[float] = []
    for v in queries:
        clear()
        evict(args.evict)
        t = time.perf_counter()
        search(v)
        cold.append((time.perf_counter() - t) * 1000)
    # Hot: the same query repeated right away (its frames are in memvid's LRU cache).
    hot: list[float] = []
    for v in queries:
        search(v)
        t = time.perf_counter()
        search(v)
        hot.append((time.perf_counter() - t) * 1000)

    # Each side's peak before the ids-only HNSW queries below; memvid's process has not opened Chroma up to here
    # (unfiltered queries up to 200,000 rows never do).
    out["peak_rss_mb_before_hnsw_only"] = round(peak_rss_mb(), 1)
    out["chroma_imported_before_hnsw_only"] = "chromadb" in sys.modules
    if collection is None:
        collection = mem.open_store().collection

    # The HNSW search alone, ids and distances only, on each side's own collection: two builds of the same
    # vectors make different graphs, and this is how much of a gap that alone makes.
    ids_only: list[float] = []
    for v in queries:
        collection.query(query_embeddings=[v], n_results=k, include=["distances"])
        t = time.perf_counter()
        collection.query(query_embeddings=[v], n_results=k, include=["distances"])
        ids_only.append((time.perf_counter() - t) * 1000)
    out["hnsw_ids_only_hot"] = latency_summary(ids_only)

    # Where a cold memvid query spends its time (store query, then frame decode; diagnostic only).
    if args.kind == "memvid":
        vq: list[float] = []
        dec: list[float] = []
        groups: list[int] = []
        for v in queries:
            mem.clear_cache()
            evict(args.evict)
            t = time.perf_counter()
            ranker, req = mem._plan(None, np.asarray(v, dtype=np.float32), k, None, "vector", None, None, None, False)
            rows = ranker._vector(req, k)
            t1 = time.perf_counter()
            mem._materialize(rows)
            t2 = time.perf_counter()
            vq.append((t1 - t) * 1000)
            dec.append((t2 - t1) * 1000)
            groups.append(len({(h.row.segment, h.row.frame) for h in rows}))
        out["breakdown_cold"] = {"vector_query": latency_summary(vq), "frame_decode": latency_summary(dec)}
        out["groups_per_query"] = round(sum(groups) / len(groups), 2)  # distinct frame groups a top-k decodes
        exact = mem._view._vectors._flat if mem._view._vectors is not None else None
        out["vector_index"] = type(exact).__name__ if exact is not None else "HNSW"  # what answered unfiltered queries

    out["cold"] = latency_summary(cold)
    out["cold_evicts_page_cache"] = args.evict is not None
    out["hot"] = latency_summary(hot)
    out["rss_mb_end"] = round(rss_mb(), 1)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["torch_loaded"] = "torch" in sys.modules
    out["sentence_transformers_loaded"] = "sentence_transformers" in sys.modules
    print(json.dumps(out))


if __name__ == "__main__":
    main()
