"""Drives memvid v2 (``memvid-sdk``) for ``bench_peer_v2.py``; runs in the peer's own venv, never in this project's.

    .bench/peer-venv/bin/python benchmarks/_peer_v2_driver.py build  <job.json>
    .bench/peer-venv/bin/python benchmarks/_peer_v2_driver.py holds  <job.json>
    .bench/peer-venv/bin/python benchmarks/_peer_v2_driver.py search <job.json>
    .bench/peer-venv/bin/python benchmarks/_peer_v2_driver.py first  <job.json>

Each command reads one JSON job file and prints one JSON object on its last stdout line.  Vectors
travel as JSON lists (the peer takes lists; no numpy here, so ``first`` imports only what the peer
needs).  Chunk ``i`` is stored with uri ``mv://c{i}``.  The caller sets ``MEMVID_TELEMETRY=0``.
"""

from __future__ import annotations

import json
import os
import sys
import time

T_START = time.perf_counter()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (k - lo), 3)


def _summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": _pct(ms, 0.5), "p95_ms": _pct(ms, 0.95)}


def _index(hit: dict) -> int | None:
    uri = str(hit.get("uri") or "")
    return int(uri[6:]) if uri.startswith("mv://c") and uri[6:].isdigit() else None


def build(job: dict) -> dict:
    import memvid_sdk as m

    texts: list[str] = json.load(open(job["texts"]))
    vectors: list[list[float]] = json.load(open(job["vectors"]))
    batch = int(job.get("batch", 5))
    t0 = time.perf_counter()
    mv = m.create(job["path"], enable_vec=True, enable_lex=True)
    added, error = 0, None
    try:
        for k in range(0, len(texts), batch):
            reqs = [{"title": f"c{i}", "label": "chunk", "text": texts[i], "uri": f"mv://c{i}", "metadata": {}}
                    for i in range(k, min(k + batch, len(texts)))]
            mv.put_many(reqs, embeddings=vectors[k : k + len(reqs)])
            added += len(reqs)
    except Exception as exc:  # CapacityExceededError at the free tier's 50 MB, or anything else: report it
        error = f"{type(exc).__name__}: {exc}"[:300]
    mv.close()
    build_s = time.perf_counter() - t0
    return {"build_s": round(build_s, 3), "added": added, "error": error, "bytes": os.path.getsize(job["path"])}


def holds(job: dict) -> dict:
    """How many chunks are findable by their own vector (the top-3 of a search for it contains it)."""
    import memvid_sdk as m

    vectors: list[list[float]] = json.load(open(job["vectors"]))
    mv = m.use("basic", job["path"], mode="open", read_only=True)
    found = 0
    for i, v in enumerate(vectors[: job["n"]]):
        res = mv.find("x", k=3, mode="sem", query_embedding=v)
        found += any(_index(h) == i for h in res["hits"])
    return {"findable_by_own_vector": found, "n": job["n"], "stats": mv.stats()}


def search(job: dict) -> dict:
    import memvid_sdk as m

    queries: list[str] = job["queries"]
    qvecs: list[list[float]] = json.load(open(job["qvectors"]))
    k, big = job.get("k", 5), 100_000  # snippet_chars large enough for the whole chunk
    mv = m.use("basic", job["path"], mode="open", read_only=True)

    def sem(v: list[float]) -> dict:
        return mv.find("x", k=k, mode="sem", query_embedding=v, snippet_chars=big)

    def lex(q: str) -> dict:
        return mv.find(q, k=k, mode="lex", snippet_chars=big)

    def hyb_find(q: str, v: list[float]) -> dict:
        return mv.find(q, k=k, mode="hybrid", query_embedding=v, snippet_chars=big)

    def hyb_ask(q: str, v: list[float]) -> dict:
        return mv.ask(q, k=k, mode="hybrid", context_only=True, query_embedding=v, snippet_chars=big)

    def safe(fn, *a):  # some queries raise in the peer (e.g. LexIndexDisabledError on an indexed file): counted
        try:
            return fn(*a)
        except Exception as exc:
            errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}"[:200])
            return None

    errors: list[str] = []
    out: dict = {"sem_top": [], "sem_texts": [], "lex_top": [], "lex_nonempty": 0, "hyb_top": [], "errors": errors}
    timings: dict[str, list[float]] = {"vector_hot": [], "keyword_hot": [], "hybrid_find_hot": [], "hybrid_ask_hot": []}
    for q, v in zip(queries[:5], qvecs[:5]):  # warm-up, not timed
        safe(sem, v), safe(lex, q), safe(hyb_find, q, v), safe(hyb_ask, q, v)
    for q, v in zip(queries, qvecs):
        res = sem(v)
        t = time.perf_counter()
        res = sem(v)
        timings["vector_hot"].append((time.perf_counter() - t) * 1000)
        out["sem_top"].append([_index(h) for h in res["hits"]])
        out["sem_texts"].append([h.get("text") for h in res["hits"]])
        lres = safe(lex, q)
        if lres is not None:
            t = time.perf_counter()
            lres = lex(q)
            timings["keyword_hot"].append((time.perf_counter() - t) * 1000)
        out["lex_top"].append([_index(h) for h in (lres or {"hits": []})["hits"]])
        out["lex_nonempty"] += bool(lres and lres["hits"])
        for name, fn in (("hybrid_find_hot", hyb_find), ("hybrid_ask_hot", hyb_ask)):
            hres = safe(fn, q, v)
            if hres is not None:
                t = time.perf_counter()
                hres = fn(q, v)
                timings[name].append((time.perf_counter() - t) * 1000)
            if name == "hybrid_find_hot":
                out["hyb_top"].append([_index(h) for h in (hres or {"hits": []})["hits"]])
                out["hybrid_find_engine"] = (hres or {}).get("engine") or out.get("hybrid_find_engine")
    out["latency"] = {name: _summary(ms) for name, ms in timings.items()}
    return out


def first(job: dict) -> dict:
    """Open and run one query, timed from this process's start (the caller also times the whole process)."""
    import memvid_sdk as m

    t_import = time.perf_counter()
    mv = m.use("basic", job["path"], mode="open", read_only=True)
    t_open = time.perf_counter()
    if job["mode"] == "lex":
        res = mv.find(job["query"], k=5, mode="lex", snippet_chars=100_000)
    else:
        res = mv.find("x", k=5, mode="sem", query_embedding=job["qvector"], snippet_chars=100_000)
    t_end = time.perf_counter()
    return {"hits": len(res["hits"]), "import_ms": round((t_import - T_START) * 1000, 1),
            "open_ms": round((t_open - t_import) * 1000, 1), "query_ms": round((t_end - t_open) * 1000, 1)}


if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    result = {"build": build, "holds": holds, "search": search, "first": first}[cmd](json.load(open(path)))
    print(json.dumps(result, default=str))
