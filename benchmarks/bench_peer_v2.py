"""This project against memvid v2 (``memvid-sdk``, Rust core) on the same texts and the same vectors (issue 24).

    .venv/bin/python benchmarks/bench_peer_v2.py --quick            # 500 chunks, 30 queries: checks the script
    .venv/bin/python benchmarks/bench_peer_v2.py                    # 2,000 and 5,000 chunks, 100 queries, MiniLM

The peer lives in its own venv, ``.bench/peer-venv`` (created here with ``pip install memvid-sdk`` when
missing; it is not a dependency of this project), and is driven in subprocesses by ``_peer_v2_driver.py``
with ``MEMVID_TELEMETRY=0`` (its opt-out, read in ``memvid_sdk/_analytics.py``).  This project is measured
in subprocesses of this script too (``--worker``), which never load an embedding model.

Both systems get the same chunks (``_common.distinct_chunks``: the pydoc topics, then the standard
library's sources, at most 512 characters) and the same vectors (all-MiniLM-L6-v2 through
``memvid_base.embeddings.Embedder``, cached under ``.bench/peer_vectors``; ``--vectors hashed`` for the
deterministic stand-in).  The peer ingests with ``put_many`` in batches of 5 (larger batches lost vectors:
see FACTS), and how many chunks it can find by their own vector is counted before anything is compared.
Its free tier stops at 50 MB (``CapacityExceededError``): this project is then given exactly the chunks
the peer took.

Measured per size: build time excluding embedding (this project also reports its keyword index build,
which it makes on the first keyword search, where the peer builds it during ingest), bytes on disk over
the raw text, hot vector p50/p95, hot hybrid p50, hot keyword p50, a fresh process's open + first
keyword query and open + first vector query (wall time of the whole process, median of
``--first-reps``, and import + open + query as each process times them from its first line, which
leaves out the interpreter's start and exit), recall@5 of the vector search against exact float32 cosine search, and whether
returned texts equal the chunks given.  "Hot" is a query repeated at once, timed the second time.
Queries are 4-10 word runs from random chunks (``queries_from``'s method; the source chunk is kept,
so keyword and hybrid are scored by whether it is in the top 5).  The load average is recorded at the
start of each size; ratios between the two systems in the same run count more than absolute times.
This VM's speed drifts by a third within minutes, so the systems take turns: ``--search-rounds N`` runs
the hot searches N times each, alternating (p50 = the median of the rounds' p50s), and ``--baseline DIR``
times another checkout's hot searches and fresh-process first queries in the same rotating rounds, on the
same memory (a before/after).
Results: ``benchmarks/results/peer_v2.json`` (``peer_v2_quick.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PEER_VENV = HERE.parent / ".bench" / "peer-venv"
DRIVER = HERE / "_peer_v2_driver.py"
# A fresh process: import, open, one query (what `memvid search` costs before any output).  Besides the whole
# process's wall time, each side reports import / open / query timed inside it, from its first line.
_FIRST_OURS = {
    mode: "import time; t0=time.perf_counter(); import json,sys; j=json.load(open(sys.argv[1])); "
          "from memvid_base import Memory; t1=time.perf_counter(); m=Memory(j['path']); t2=time.perf_counter(); "
          f"r={call}; t3=time.perf_counter(); import memvid_base, os; "
          "print(json.dumps({'hits': len(r), 'core': os.path.dirname(memvid_base.__file__), "
          "'import_ms': round((t1-t0)*1000, 1), 'open_ms': round((t2-t1)*1000, 1), 'query_ms': round((t3-t2)*1000, 1)}))"
    for mode, call in (("lex", "m.search(j['query'], top_k=5, mode='keyword')"),
                       ("sem", "m.search_by_vector(j['qvector'], top_k=5)"))
}


CORE = HERE.parent  # the folder whose memvid_base this project's workers import (--core)
BASELINE: Path | None = None  # another checkout measured in the same rounds (--baseline)


def _git_head(folder: Path) -> str | None:
    out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or None


def _env(core: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, MEMVID_TELEMETRY="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False")
    env["PYTHONPATH"] = str(core or CORE)
    # A user's second run finds bytecode on disk; with PYTHONDONTWRITEBYTECODE set, every fresh process
    # would compile numpy and the package from source again (~0.5 s) and time that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd: list[str], timeout: float = 1800, cwd: Path | None = None,
         core: Path | None = None) -> tuple[dict[str, Any], float]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(core), cwd=cwd or HERE.parent)
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1]), wall


def ensure_peer() -> Path:
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", "memvid-sdk"], check=True)
    return py


def peer_version(py: Path) -> str:
    out = subprocess.run([str(py), "-m", "pip", "show", "memvid-sdk"], capture_output=True, text=True).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Version:")), "?")


def queries_with_source(chunks: list[str], n: int, seed: int = 13) -> list[tuple[str, int]]:
    """``queries_from``'s queries (runs of 4-10 words from random chunks), with the chunk each came from."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for k in rng.choice(len(chunks), size=n, replace=len(chunks) < n):
        words = re.findall(r"[A-Za-z_][A-Za-z_0-9]+", chunks[int(k)]) or chunks[int(k)].split() or ["python"]
        length = int(rng.integers(4, 11))
        start = int(rng.integers(0, max(1, len(words) - length)))
        out.append((" ".join(words[start : start + length]), int(k)))
    return out


def embed(texts: list[str], kind: str) -> Any:
    """Vectors for ``texts``, cached by content under ``.bench/peer_vectors``."""
    import numpy as np
    from _common import hashed_vectors

    key = hashlib.sha256(("\x00".join(texts) + kind).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    cache = HERE.parent / ".bench" / "peer_vectors" / f"{kind}_{len(texts)}_{key}.npy"
    if cache.exists():
        return np.load(cache)
    if kind == "hashed":
        vecs = hashed_vectors(texts)
    else:
        from memvid_base.embeddings import Embedder

        vecs = np.asarray(Embedder().embed_documents(texts), dtype=np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs


# ------------------------------------------------------------------------------- this project's worker


def worker_build(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from memvid_base import Memory

    texts = json.load(open(job["texts"]))
    vectors = np.asarray(json.load(open(job["vectors"])), dtype=np.float32)
    t = time.perf_counter()
    mem = Memory.create(job["path"])
    mem.add(texts, ids=[f"c{i}" for i in range(len(texts))], embeddings=vectors)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    mem.search("python", top_k=1, mode="keyword")  # builds the keyword index (the peer builds its own at ingest)
    return {"build_s": round(build_s, 3), "keyword_index_s": round(time.perf_counter() - t, 3)}


def worker_search(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from _common import latency_summary

    from memvid_base import Memory

    mem = Memory(job["path"])
    queries: list[str] = job["queries"]
    qvecs = np.asarray(json.load(open(job["qvectors"])), dtype=np.float32)
    k = job.get("k", 5)

    def idx(cid: str) -> int:
        return int(cid[1:])

    def sem(v: Any) -> list[Any]:
        return mem.search_by_vector(v, top_k=k)

    def lex(q: str) -> list[Any]:
        return mem.search(q, top_k=k, mode="keyword")

    def hyb(q: str, v: Any) -> list[Any]:
        return mem.retrieve(q, v, k, mode="hybrid")

    for q, v in zip(queries[:5], qvecs[:5]):
        sem(v), lex(q), hyb(q, v)
    out: dict[str, Any] = {"sem_top": [], "sem_texts": [], "lex_top": [], "lex_nonempty": 0, "hyb_top": []}
    ms: dict[str, list[float]] = {"vector_hot": [], "keyword_hot": [], "hybrid_hot": []}
    for q, v in zip(queries, qvecs):
        sem(v)
        t = time.perf_counter()
        res = sem(v)
        ms["vector_hot"].append((time.perf_counter() - t) * 1000)
        out["sem_top"].append([idx(c.id) for c in res])
        out["sem_texts"].append([c.text for c in res])
        lex(q)
        t = time.perf_counter()
        lres = lex(q)
        ms["keyword_hot"].append((time.perf_counter() - t) * 1000)
        out["lex_top"].append([idx(c.id) for c in lres])
        out["lex_nonempty"] += bool(lres)
        hyb(q, v)
        t = time.perf_counter()
        hres = hyb(q, v)
        ms["hybrid_hot"].append((time.perf_counter() - t) * 1000)
        out["hyb_top"].append([idx(c.id) for c in hres])
    out["latency"] = {name: latency_summary(v) for name, v in ms.items()}
    import memvid_base

    out["core"] = os.path.dirname(memvid_base.__file__)
    return out


# ------------------------------------------------------------------------------- comparing


def recall_at(top: list[list[int | None]], truth: list[list[int]]) -> float:
    return round(statistics.fmean(len(set(t) & set(x for x in got if x is not None)) / len(t)
                                  for got, t in zip(top, truth)), 4)


def source_in_top(top: list[list[int | None]], sources: list[int]) -> float:
    return round(sum(s in got for got, s in zip(top, sources)) / len(sources), 4)


def exactness(top: list[list[int | None]], texts_out: list[list[str | None]], texts: list[str]) -> dict[str, Any]:
    """Returned texts equal to the chunk given, and (looser) the chunk with whitespace collapsed is a prefix."""
    n = exact = prefix = 0
    for ids, got in zip(top, texts_out):
        for i, t in zip(ids, got):
            if i is None or t is None:
                continue
            n += 1
            exact += t == texts[i]
            prefix += " ".join(t.split()).startswith(" ".join(texts[i].split()))
    return {"returned": n, "exact": exact, "exact_fraction": round(exact / n, 4) if n else None,
            "collapsed_prefix_fraction": round(prefix / n, 4) if n else None}


def first_queries(py: Path, work: Path, mem_path: Path, peer_path: Path, query: str, qvec: list[float],
                  reps: int) -> dict[str, Any]:
    """Fresh-process open + first query, whole process timed from outside, the systems taking turns.

    With ``--baseline``, another checkout's ``memvid_base`` takes its turn too; the order rotates every round, so
    a machine that speeds up or slows down during the run favours none of them.
    """
    out: dict[str, Any] = {}
    cores = {"ours": CORE} | ({"baseline": BASELINE} if BASELINE is not None else {})
    sides = [*cores, "peer"]
    for mode in ("lex", "sem"):
        walls: dict[str, list[float]] = {side: [] for side in sides}
        inner: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for side in ("ours", "peer"):
            job = work / f"first_{side}_{mode}.json"
            job.write_text(json.dumps({"path": str(mem_path if side == "ours" else peer_path), "mode": mode,
                                       "query": query, "qvector": qvec}))
        # rep -1 is an untimed warm-up per side: bytecode written, files in the page cache, as on a second run
        for rep in range(-1, reps):
            for side in sides[rep % len(sides):] + sides[: rep % len(sides)]:
                if side == "peer":
                    res, wall = _run([str(py), str(DRIVER), "first", str(work / f"first_peer_{mode}.json")])
                else:
                    # `python -c` puts the working folder first on sys.path: run it in the checkout to measure
                    res, wall = _run([sys.executable, "-c", _FIRST_OURS[mode], str(work / f"first_ours_{mode}.json")],
                                     cwd=cores[side])
                    assert res["core"] == str(cores[side] / "memvid_base"), res
                    assert res["hits"] > 0, res
                if rep < 0:
                    continue
                walls[side].append(wall * 1000)
                inner[side].append({k: res[k] for k in ("import_ms", "open_ms", "query_ms")})
        out[mode] = {"peer_inner": inner["peer"], "ours_inner": inner["ours"]}
        for side in sides:
            out[mode] |= {f"{side}_ms": round(statistics.median(walls[side]), 1),
                          f"all_{side}_ms": [round(x, 1) for x in walls[side]],
                          f"{side}_inner_ms": round(statistics.median(sum(r.values()) for r in inner[side]), 1)}
    return out


def _rounds_merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first round's results, with each latency's p50 the median of the rounds' p50s (each round listed)."""
    merged = dict(runs[0])
    merged["latency"] = {name: dict(lat) for name, lat in runs[0]["latency"].items()}
    for name, lat in merged["latency"].items():
        p50s = [r["latency"][name]["p50_ms"] for r in runs]
        lat["p50_by_round_ms"] = p50s
        lat["p50_ms"] = round(statistics.median(p50s), 3)
    return merged


def one_size(py: Path, n: int, texts_all: list[str], vec_all: Any, n_q: int, kind: str, reps: int,
             rebuild_peer: bool, search_rounds: int = 1) -> dict[str, Any]:
    import numpy as np
    from _common import WORK, dir_bytes, log

    res: dict[str, Any] = {"asked_chunks": n, "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}
    work = WORK / f"peer_v2_{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    texts, vecs = texts_all[:n], vec_all[:n]
    (work / "texts.json").write_text(json.dumps(texts))
    (work / "vectors.json").write_text(json.dumps(vecs.tolist()))

    # The peer's build does not depend on this project's code: it is kept (keyed by texts and vectors) and reused.
    key = hashlib.sha256(json.dumps(texts).encode("utf-8", "surrogatepass") + vecs.tobytes()).hexdigest()[:16]
    keep = WORK / "peer_v2_builds" / f"{n}_{key}"
    peer_path = keep / "peer.mv2"
    if rebuild_peer or not (keep / "done.json").exists():
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        log(f"{n} chunks: peer build (put_many in batches of 5)")
        pb, _ = _run([str(py), str(DRIVER), "build", _job(work, "pbuild", path=str(peer_path), texts=str(work / "texts.json"),
                                                            vectors=str(work / "vectors.json"), batch=5)])
        m = pb["added"]
        holds, _ = _run([str(py), str(DRIVER), "holds", _job(work, "pholds", path=str(peer_path),
                                                             vectors=str(work / "vectors.json"), n=m)])
        (keep / "done.json").write_text(json.dumps({"build": pb, "holds": holds, "loadavg": res["loadavg_at_start"]}))
    else:
        log(f"{n} chunks: reusing the peer's build in {keep}")
    done = json.loads((keep / "done.json").read_text())
    pb, holds = done["build"], done["holds"]
    res["peer_build"] = pb | {"loadavg_at_its_start": done["loadavg"], "reused": not rebuild_peer}
    m = pb["added"]
    if m < n:
        log(f"  the peer took {m} of {n} chunks ({pb['error']}); both systems get those {m}")
        texts, vecs = texts[:m], vecs[:m]
        (work / "texts.json").write_text(json.dumps(texts))
        (work / "vectors.json").write_text(json.dumps(vecs.tolist()))
    res["chunks"] = m
    res["peer_findable_by_own_vector"] = holds["findable_by_own_vector"]
    res["peer_stats"] = holds["stats"]
    log(f"  peer {pb['build_s']} s, findable by own vector {holds['findable_by_own_vector']}/{m}; this project's build")

    mem_path = work / "mv" / "kb.mp4"
    ob, _ = _run([sys.executable, __file__, "--worker", "build", _job(work, "obuild", path=str(mem_path),
                                                                      texts=str(work / "texts.json"),
                                                                      vectors=str(work / "vectors.json"))])
    res["ours_build"] = ob
    log(f"  ours {ob['build_s']} s (+ keyword index {ob['keyword_index_s']} s)")

    qs = queries_with_source(texts, n_q)
    queries, sources = [q for q, _ in qs], [s for _, s in qs]
    qvecs = embed(queries, kind)
    (work / "qvectors.json").write_text(json.dumps(qvecs.tolist()))
    truth = np.argsort(-(qvecs @ vecs.T), axis=1)[:, :5].tolist()  # exact cosine (unit vectors) over float32

    sides = ["peer", "ours"] + (["baseline"] if BASELINE is not None else [])
    log(f"  searches: {search_rounds} round(s), {', '.join(sides)} taking turns")
    rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for k in range(search_rounds):
        for side in sides[k % len(sides):] + sides[: k % len(sides)]:  # the order rotates every round
            if side == "peer":
                r, _ = _run([str(py), str(DRIVER), "search", _job(work, "psearch", path=str(peer_path), queries=queries,
                                                                  qvectors=str(work / "qvectors.json"))])
            else:
                core = BASELINE if side == "baseline" and BASELINE is not None else CORE
                r, _ = _run([sys.executable, __file__, "--worker", "search",
                             _job(work, "osearch", path=str(mem_path), queries=queries,
                                  qvectors=str(work / "qvectors.json"))], core=core)
                assert r["core"] == str(core / "memvid_base"), r["core"]
            rounds[side].append(r)
    if BASELINE is not None:  # the same hot searches, the --baseline checkout's code on the same memory
        base = _rounds_merged(rounds["baseline"])
        res["baseline_search"] = {"core": _git_head(BASELINE), "latency": base["latency"],
                                  "same_vector_lists": base["sem_top"] == _rounds_merged(rounds["ours"])["sem_top"]}
    ps, os_ = _rounds_merged(rounds["peer"]), _rounds_merged(rounds["ours"])
    raw = sum(len(t.encode("utf-8")) for t in texts)
    ours_bytes, mp4_bytes = dir_bytes(mem_path.parent), mem_path.stat().st_size
    peer_bytes = peer_path.stat().st_size
    for name, r in (("ours", os_), ("peer", ps)):
        res[name] = {
            "latency": r["latency"],
            "recall_at_5_vector": recall_at(r["sem_top"], truth),
            "vector_exactness": exactness(r["sem_top"], r["sem_texts"], texts),
            "keyword_nonempty": r["lex_nonempty"], "keyword_source_in_top5": source_in_top(r["lex_top"], sources),
            "hybrid_source_in_top5": source_in_top(r["hyb_top"], sources),
        }
    res["peer"]["hybrid_find_engine"] = ps.get("hybrid_find_engine")
    res["peer"]["query_errors"] = ps["errors"]  # calls that raised in the peer (untimed, counted as no hits)
    res["bytes"] = {"raw_text": raw, "ours_folder": ours_bytes, "ours_mp4": mp4_bytes, "peer_file": peer_bytes,
                    "ours_folder_over_raw": round(ours_bytes / raw, 2), "ours_mp4_over_raw": round(mp4_bytes / raw, 2),
                    "peer_over_raw": round(peer_bytes / raw, 2)}
    log("  fresh-process open + first query")
    res["first_query"] = first_queries(py, work, mem_path, peer_path, queries[0], qvecs[0].tolist(), reps)
    res["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return res


def _job(work: Path, name: str, **job: Any) -> str:
    path = work / f"{name}.json"
    path.write_text(json.dumps(job))
    return str(path)


def table(sizes: list[dict[str, Any]]) -> str:
    rows: list[tuple[str, ...]] = []
    for s in sizes:
        o, p, lo, lp = s["ours"], s["peer"], s["ours"]["latency"], s["peer"]["latency"]
        ph = min(lp["hybrid_find_hot"]["p50_ms"], lp["hybrid_ask_hot"]["p50_ms"])
        fq = s["first_query"]
        ob = s["ours_build"]
        rows += [
            (f"{s['chunks']} chunks (load {s['loadavg_at_start'][0]})", "this project", "memvid v2", "ours / peer"),
            ("build excl. embedding, s", f"{ob['build_s']} (+{ob['keyword_index_s']} keyword index)",
             f"{s['peer_build']['build_s']}", f"{(ob['build_s'] + ob['keyword_index_s']) / s['peer_build']['build_s']:.2f}x"),
            ("bytes on disk / raw text", f"{s['bytes']['ours_folder_over_raw']} (MP4 alone {s['bytes']['ours_mp4_over_raw']})",
             f"{s['bytes']['peer_over_raw']}", f"{s['bytes']['ours_folder'] / s['bytes']['peer_file']:.2f}x"),
            ("vector p50 / p95 hot, ms", f"{lo['vector_hot']['p50_ms']} / {lo['vector_hot']['p95_ms']}",
             f"{lp['vector_hot']['p50_ms']} / {lp['vector_hot']['p95_ms']}",
             f"{lo['vector_hot']['p50_ms'] / lp['vector_hot']['p50_ms']:.2f}x"),
            ("hybrid p50 hot, ms (peer: faster of find/ask)", f"{lo['hybrid_hot']['p50_ms']}", f"{ph}",
             f"{lo['hybrid_hot']['p50_ms'] / ph:.2f}x"),
            *([("  the --baseline checkout, hot vector / hybrid p50, ms",
                f"{lb['vector_hot']['p50_ms']} / {lb['hybrid_hot']['p50_ms']}", "",
                f"ours {lo['vector_hot']['p50_ms'] / lb['vector_hot']['p50_ms']:.2f}x / "
                f"{lo['hybrid_hot']['p50_ms'] / lb['hybrid_hot']['p50_ms']:.2f}x")]
              if (lb := s.get("baseline_search", {}).get("latency")) else []),
            ("keyword p50 hot, ms", f"{lo['keyword_hot']['p50_ms']}", f"{lp['keyword_hot']['p50_ms']}",
             f"{lo['keyword_hot']['p50_ms'] / lp['keyword_hot']['p50_ms']:.2f}x"),
            ("fresh process: open + first keyword query, ms", f"{fq['lex']['ours_ms']}", f"{fq['lex']['peer_ms']}",
             f"{fq['lex']['ours_ms'] / fq['lex']['peer_ms']:.2f}x"),
            ("fresh process: open + first vector query, ms", f"{fq['sem']['ours_ms']}", f"{fq['sem']['peer_ms']}",
             f"{fq['sem']['ours_ms'] / fq['sem']['peer_ms']:.2f}x"),
            *([("  the same, the --baseline checkout, keyword / vector", f"{fq['lex']['baseline_ms']} / {fq['sem']['baseline_ms']}",
                "", f"ours {fq['lex']['ours_ms'] / fq['lex']['baseline_ms']:.2f}x / {fq['sem']['ours_ms'] / fq['sem']['baseline_ms']:.2f}x")]
              if "baseline_ms" in fq["lex"] else []),
            ("  the same, inside the process (import + open + query), keyword", f"{fq['lex']['ours_inner_ms']}",
             f"{fq['lex']['peer_inner_ms']}", f"{fq['lex']['ours_inner_ms'] / fq['lex']['peer_inner_ms']:.2f}x"),
            ("  the same, inside the process, vector", f"{fq['sem']['ours_inner_ms']}",
             f"{fq['sem']['peer_inner_ms']}", f"{fq['sem']['ours_inner_ms'] / fq['sem']['peer_inner_ms']:.2f}x"),
            ("vector recall@5 vs exact float32", f"{o['recall_at_5_vector']}", f"{p['recall_at_5_vector']}", ""),
            ("keyword: queries with hits / source in top 5", f"{o['keyword_nonempty']} / {o['keyword_source_in_top5']}",
             f"{p['keyword_nonempty']} / {p['keyword_source_in_top5']}", ""),
            ("hybrid: source chunk in top 5", f"{o['hybrid_source_in_top5']}", f"{p['hybrid_source_in_top5']}", ""),
            ("returned text == chunk given", f"{o['vector_exactness']['exact_fraction']}",
             f"{p['vector_exactness']['exact_fraction']} (collapsed-whitespace prefix "
             f"{p['vector_exactness']['collapsed_prefix_fraction']})", ""),
            ("peer: chunks findable by their own vector", "", f"{s['peer_findable_by_own_vector']}/{s['chunks']}", ""),
            ("peer: query calls that raised (no hits)", "", f"{len(p['query_errors'])}", ""),
        ]
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        fn = {"build": worker_build, "search": worker_search}[sys.argv[2]]
        print(json.dumps(fn(json.load(open(sys.argv[3])))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 chunks, 30 queries, 1 fresh-process rep")
    ap.add_argument("--chunks", type=int, nargs="+", default=None, help="sizes (default 2000 5000)")
    ap.add_argument("--queries", type=int, default=None, help="queries per size (default 100; quick 30)")
    ap.add_argument("--vectors", choices=["minilm", "hashed"], default="minilm")
    ap.add_argument("--first-reps", type=int, default=None, help="fresh-process runs per system and mode (default 3)")
    ap.add_argument("--rebuild-peer", action="store_true",
                    help="build the peer's file again (by default a build of the same texts and vectors is reused)")
    ap.add_argument("--core", type=Path, default=None,
                    help="measure the memvid_base in this folder (e.g. `git archive REV memvid_base | tar -x -C DIR`)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add DIR REV`) whose fresh-process first queries run in "
                         "the same rounds, for a before/after on a machine whose speed drifts")
    ap.add_argument("--search-rounds", type=int, default=1,
                    help="hot-search runs per system, taking turns (p50 = median of the rounds' p50s; default 1)")
    ap.add_argument("--out", default=None, help="results file name (default peer_v2.json; quick peer_v2_quick.json)")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    global CORE, BASELINE
    if args.core:
        CORE = args.core.resolve()
    if args.baseline:
        BASELINE = args.baseline.resolve()
    from _common import core_info, distinct_chunks, log, machine_info, write_json

    sizes = args.chunks or ([500] if args.quick else [2000, 5000])
    n_q = args.queries or (30 if args.quick else 100)
    reps = args.first_reps or (1 if args.quick else 3)
    py = ensure_peer()
    core = core_info() | ({"source": f"--core {CORE}"} if args.core else {})
    if BASELINE is not None:
        core["baseline"] = {"folder": str(BASELINE), "git_head": _git_head(BASELINE)}
    res: dict[str, Any] = {"machine": machine_info(), "core": core, "peer": f"memvid-sdk {peer_version(py)}",
                           "vectors": args.vectors, "queries": n_q, "note": args.note, "sizes": []}
    texts = distinct_chunks(max(sizes))
    log(f"vectors ({args.vectors}) for {len(texts)} chunks (cached under .bench/peer_vectors)")
    vecs = embed(texts, args.vectors)
    for n in sizes:
        res["sizes"].append(one_size(py, n, texts, vecs, n_q, args.vectors, reps, args.rebuild_peer, args.search_rounds))
    out = write_json(args.out or ("peer_v2_quick.json" if args.quick else "peer_v2.json"), res)
    print(table(res["sizes"]))
    log(f"-> {out}")


if __name__ == "__main__":
    main()
