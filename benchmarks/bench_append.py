"""Append benchmark: does the cost of an append grow with the size of the memory?

    .venv/bin/python benchmarks/bench_append.py --quick    # bases of 300 and 2,000 chunks, under a minute
    .venv/bin/python benchmarks/bench_append.py            # bases of 10,000 and 100,000 chunks

For each base size it builds a memory from precomputed vectors (deterministic 384-d hashed
bag-of-words vectors of real text, so the base build takes minutes, not the half hour MiniLM would),
then measures on the open ``Memory``:

* batch appends: ``Memory.add`` of 100 new chunks, repeated (default 5 times), time per call;
* streaming: 50 calls of ``Memory.add`` with 1 chunk each, time per call;
* after every append, the first vector query at the new version (where the exact in-memory index of a
  medium memory is brought up to date with the new rows).

Each appended batch is checked to be searchable right after the call returns (outside the timing).
By default the appended chunks also come with precomputed vectors, so the figure is memvid's own
append cost; ``--append-vectors minilm`` embeds them with the real all-MiniLM-L6-v2 inside
``Memory.add`` instead (adds roughly 1-3 s per 100 chunks on 2 cores).

Results are printed and written to ``benchmarks/results/append.json`` (``append_quick.json``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    WORK,
    Timer,
    core_info,
    distinct_chunks,
    hashed_vectors,
    latency_summary,
    log,
    machine_info,
    write_json,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def one_base(
    n_base: int, base_texts: list[str], extra: list[str], batch: int, reps: int, stream: int, embedder: Any, work: Path
) -> dict[str, Any]:
    from memvid_base import Memory

    out: dict[str, Any] = {"base_chunks": n_base}
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"[{n_base}] building the base memory from precomputed vectors")
    with Timer() as t:
        vecs = hashed_vectors(base_texts)
        mem = Memory.create(work / "kb.mp4", embedding_model=embedder)
        mem.add(base_texts, ids=[f"b{k}" for k in range(n_base)], embeddings=vecs)
    out["base_build_s"] = round(t.s, 1)
    info = mem.info()
    out["base_video_bytes"] = info["video_bytes"]
    out["base_frames"] = info["frames"]
    log(f"[{n_base}]   {t.s:.1f} s, {info['frames']} frames")

    pos = 0

    def take(k: int) -> tuple[list[str], list[str]]:
        nonlocal pos
        texts = extra[pos : pos + k]
        ids = [f"a{pos + j}" for j in range(k)]
        pos += k
        return texts, ids

    first_query_ms: list[float] = []

    def append(texts: list[str], ids: list[str]) -> float:
        vectors = None if embedder is not None else hashed_vectors(texts)  # computed outside the timing
        with Timer() as t:
            mem.add(texts, ids=ids, embeddings=vectors)
        # Searchable right away: the first new chunk comes back for its own vector, text decoded from video.
        # Timed apart: the first vector query at the new version (it brings the exact index up to date).
        probe = vectors[0] if vectors is not None else mem.embed_query(texts[0])
        with Timer() as q:
            hits = mem.search_by_vector(probe, top_k=5)
        first_query_ms.append(q.s * 1000)
        assert any(h.id == ids[0] and h.text == texts[0] for h in hits), f"appended chunk {ids[0]} not found"
        return t.s * 1000

    mem.search_by_vector(hashed_vectors(base_texts[:1])[0], top_k=5)  # the base's exact index, read once (not timed)

    log(f"[{n_base}] {reps} appends of {batch} chunks")
    batch_ms = [append(*take(batch)) for _ in range(reps)]
    out["batch_append"] = {"chunks_per_call": batch, **latency_summary(batch_ms), "each_ms": [round(x, 1) for x in batch_ms]}
    out["batch_append"]["median_ms"] = round(statistics.median(batch_ms), 1)
    log(f"[{n_base}]   median {statistics.median(batch_ms):.0f} ms per {batch}-chunk append: {[round(x) for x in batch_ms]}")

    log(f"[{n_base}] streaming: {stream} appends of 1 chunk")
    stream_ms = [append(*take(1)) for _ in range(stream)]
    out["stream_append"] = {"chunks_per_call": 1, **latency_summary(stream_ms), "each_ms": [round(x, 1) for x in stream_ms]}
    tenth = max(1, stream // 5)
    out["stream_append"]["first_fifth_median_ms"] = round(statistics.median(stream_ms[:tenth]), 1)
    out["stream_append"]["last_fifth_median_ms"] = round(statistics.median(stream_ms[-tenth:]), 1)
    log(f"[{n_base}]   p50 {out['stream_append']['p50_ms']} ms, p95 {out['stream_append']['p95_ms']} ms per 1-chunk append")
    out["first_query_after_append"] = {**latency_summary(first_query_ms), "median_ms": round(statistics.median(first_query_ms), 1)}
    log(f"[{n_base}]   first vector query after an append: median {out['first_query_after_append']['median_ms']} ms")
    out["final"] = {k: mem.info()[k] for k in ("chunks", "segments", "version", "frames", "video_bytes")}
    mem.close()
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="bases of 300 and 2,000 chunks; validates the script")
    ap.add_argument("--bases", type=int, nargs="+", default=None, help="base sizes (default 10000 100000)")
    ap.add_argument("--batch", type=int, default=100, help="chunks per batch append (default 100)")
    ap.add_argument("--reps", type=int, default=None, help="batch appends per base (default 5; quick 3)")
    ap.add_argument("--stream", type=int, default=None, help="1-chunk appends per base (default 50; quick 10)")
    ap.add_argument("--append-vectors", choices=["hashed", "minilm"], default="hashed",
                    help="vectors of the appended chunks: precomputed (default) or real MiniLM inside Memory.add")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'taken under load')")
    args = ap.parse_args()

    bases = args.bases or ([300, 2000] if args.quick else [10_000, 100_000])
    reps = args.reps or (3 if args.quick else 5)
    stream = args.stream or (10 if args.quick else 50)
    batch = args.batch
    embedder = None
    if args.append_vectors == "minilm":
        from memvid_base import Embedder

        embedder = Embedder()
        embedder.embed_documents(["warm up"] * 4)

    started = time.perf_counter()
    n_extra = reps * batch + stream
    corpus = distinct_chunks(max(bases) + n_extra)
    extra = corpus[-n_extra:]  # never part of any base
    res: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "note": args.note,
        "machine": machine_info(),
        "core": core_info(),
        "base_vectors": "deterministic 384-d hashed bag-of-words vectors of real text (pydoc topics + stdlib sources)",
        "append_vectors": (
            "all-MiniLM-L6-v2, embedded inside Memory.add (timing includes embedding)" if embedder is not None
            else "precomputed hashed vectors passed to Memory.add (timing excludes embedding)"
        ),
        "codec": "av1 (default settings)",
        "bases": [],
    }
    wdir = WORK / ("append_quick" if args.quick else "append")
    # Warm-up outside all timings: imports, the Chroma client, the AV1 encoder's first start.
    from memvid_base import Memory

    shutil.rmtree(wdir, ignore_errors=True)
    warm = Memory.create(wdir / "warmup" / "kb.mp4")
    warm.add(extra[:2], embeddings=hashed_vectors(extra[:2]))
    warm.close()
    shutil.rmtree(wdir / "warmup", ignore_errors=True)
    for n in bases:
        res["bases"].append(one_base(n, corpus[:n], extra, batch, reps, stream, embedder, wdir / str(n)))
    res["total_s"] = round(time.perf_counter() - started, 1)
    b = res["bases"]
    if len(b) >= 2:
        res["batch_append_growth"] = round(b[-1]["batch_append"]["median_ms"] / b[0]["batch_append"]["median_ms"], 2)
        res["stream_append_growth"] = round(b[-1]["stream_append"]["p50_ms"] / b[0]["stream_append"]["p50_ms"], 2)
    path = write_json("append_quick.json" if args.quick else "append.json", res)

    print()
    print("=" * 92)
    print(f"append benchmark ({res['mode']}), {res['machine']['time']}, load average at start {res['machine']['loadavg_at_start']}")
    print(f"appended chunks: {res['append_vectors']}")
    print("=" * 92)
    print(f"{'base chunks':>11} {'base build s':>12} {f'{batch}-chunk append: median ms':>28} {'p95 ms':>8}   "
          f"{'1-chunk append: p50 ms':>22} {'p95 ms':>8}")
    for r in b:
        print(f"{r['base_chunks']:>11} {r['base_build_s']:>12} {r['batch_append']['median_ms']:>28} {r['batch_append']['p95_ms']:>8}   "
              f"{r['stream_append']['p50_ms']:>22} {r['stream_append']['p95_ms']:>8}")
    if len(b) >= 2:
        print(f"\nlargest / smallest base: {res['batch_append_growth']}x for {batch}-chunk appends, "
              f"{res['stream_append_growth']}x for 1-chunk appends (1.0 = no growth with memory size)")
    for r in b:
        s = r["stream_append"]
        print(f"[{r['base_chunks']}] streaming: first fifth median {s['first_fifth_median_ms']} ms, last fifth "
              f"{s['last_fifth_median_ms']} ms (does the cost grow with the number of segments?); final "
              f"{r['final']['segments']} segments, version {r['final']['version']}")
    print(f"\nTotal {res['total_s']} s. Results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
