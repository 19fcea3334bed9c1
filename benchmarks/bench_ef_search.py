"""How often two Chroma builds of the same rows return the same top-k, by ``ef_search`` (issue 12).

    HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_ef_search.py   # ~3 min idle

Chroma's HNSW construction is not deterministic, so a store rebuilt from an MP4 can rank differently
from the original's.  For each ``ef_search``, two collections get the same 20,000 MiniLM vectors
(int8-rounded as memvid stores them, same ids, same order) and 300 queries are compared: identical
top-5 and top-10 lists, and overlap with exact search.  The corpus embedding is reused from
``bench_single_file.py --minilm --vectors-cache .bench/vectors`` when present.

``--num-threads 1 --ef 100`` asks whether a single-threaded build is deterministic (it is not: Chroma 1.5.9
gave different lists for the same rows in the same order; see ``ef_search_threads1.json``), which would have
let a lower ``ef_search`` keep copies in agreement (issue 24).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, distinct_chunks, machine_info, queries_from, write_json
from bench_single_file import texts_key


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ef", type=int, nargs="+", default=[100, 200, 300, 400, 600], help="ef_search values")
    ap.add_argument("--num-threads", type=int, default=None, help="Chroma's hnsw num_threads (default: its own)")
    ap.add_argument("--out", default="ef_search.json")
    args = ap.parse_args()
    import chromadb
    from chromadb.config import Settings

    from memvid_base import Embedder

    res = {"machine": machine_info(), "num_threads": args.num_threads, "rows": []}
    hnsw = {"space": "cosine", "ef_construction": 200} | ({"num_threads": args.num_threads} if args.num_threads else {})
    texts = distinct_chunks(20000)
    model = Embedder()
    cached = ROOT / ".bench" / "vectors" / f"{model.name.replace('/', '_')}-{texts_key(texts)}.npy"
    x = np.load(cached) if cached.is_file() else np.asarray(model.embed_many(texts), dtype=np.float32)
    q = np.asarray([model.embed_query(t) for t in queries_from(texts, 300, seed=17)], dtype=np.float32)
    scale = np.abs(x).max(axis=1, keepdims=True) / 127
    xq = (np.round(x / scale).clip(-127, 127) * scale).astype(np.float32)
    ids = [str(k) for k in range(len(xq))]
    xn = xq / np.linalg.norm(xq, axis=1, keepdims=True)
    exact = [[str(j) for j in np.argsort(-(xn @ v))[:10]] for v in q]
    for ef in args.ef:
        got = []
        for _ in range(2):
            client = chromadb.PersistentClient(tempfile.mkdtemp(dir=ROOT / ".bench"), settings=Settings(anonymized_telemetry=False))
            col = client.create_collection("ef_bench", embedding_function=None,
                                           configuration={"hnsw": hnsw | {"ef_search": ef}})
            for k in range(0, len(ids), 5000):
                col.add(ids=ids[k:k + 5000], embeddings=xq[k:k + 5000])
            got.append([col.query(query_embeddings=[v], n_results=10, include=["distances"])["ids"][0] for v in q])
        a, b = got
        row = {"ef_search": ef,
               "identical_top5": round(float(np.mean([x[:5] == y[:5] for x, y in zip(a, b)])), 4),
               "identical_top10": round(float(np.mean([x == y for x, y in zip(a, b)])), 4),
               "overlap_at_10_vs_exact": round(float(np.mean([len(set(x) & set(e)) / 10 for x, e in zip(a, exact)])), 4)}
        res["rows"].append(row)
        print(row, flush=True)
    res["machine"]["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"Results written to {write_json(args.out, res)}")


if __name__ == "__main__":
    main()
