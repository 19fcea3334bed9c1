"""Drives the ORIGINAL memvid 0.1.3 (from PyPI) in its own venv; run by ``bench_core.py``.

    .bench/memvid013-venv/bin/python benchmarks/_memvid013_driver.py build  <chunks.json> <workdir> <model dir> <queries.json>
    .bench/memvid013-venv/bin/python benchmarks/_memvid013_driver.py search <chunks.json> <workdir> <model dir> <queries.json>

Build and search run in separate processes so that the search process's peak RSS is its own.

It builds a memory from exactly the chunks the other systems get, with memvid 0.1.3's defaults
(``MemvidEncoder().build_video(...)``), its embedding model pointed at the same local MiniLM folder.
It then decodes every frame with memvid 0.1.3's own decoder (``memvid.utils.decode_qr``, OpenCV)
and compares the text, and times ``MemvidRetriever.search`` with the query embedding taken out
(precomputed with the same model and served from a lookup), with its frame cache cleared before
each query.  Prints one JSON object as the last line of stdout.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """VmHWM, not ru_maxrss (which a fork+exec child inherits from its parent on Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main() -> None:
    mode, chunks_file, workdir, model_dir, queries_file = sys.argv[1:6]
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    chunks = json.loads(Path(chunks_file).read_text())
    queries = json.loads(Path(queries_file).read_text())
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"system": "memvid 0.1.3 (PyPI)", "chunks": len(chunks), "rss_mb_python_start": round(rss_mb(), 1)}

    t = time.perf_counter()
    import memvid.config as mcfg

    out["import_s"] = round(time.perf_counter() - t, 2)
    out["rss_mb_after_import"] = round(rss_mb(), 1)
    # get_default_config() reads this module global each time; IndexManager() is built from it.
    mcfg.EMBEDDING_MODEL = model_dir
    from memvid import MemvidEncoder, MemvidRetriever
    from memvid.index import IndexManager
    from memvid.utils import decode_qr

    # Time its embedding step inside the build (IndexManager._generate_embeddings).
    embed_s = [0.0]
    orig_gen = IndexManager._generate_embeddings

    def timed_gen(self, chunks, show_progress):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return orig_gen(self, chunks, show_progress)
        finally:
            embed_s[0] += time.perf_counter() - t0

    IndexManager._generate_embeddings = timed_gen

    video = work / "orig.mp4"
    index = work / "orig_index.json"
    if mode == "search":
        search(out, video, index, queries, chunks, MemvidRetriever)
        print(json.dumps(out))
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        enc = MemvidEncoder(enable_docker=False)  # no Docker on this machine; encoding is the same
        enc.add_chunks(list(chunks))
        stats = enc.build_video(str(video), str(index), show_progress=False)  # its defaults: codec="h265"
        build_s = time.perf_counter() - t
    out["build_warnings"] = [str(w.message)[:300] for w in caught]
    out["build_backend"] = stats.get("backend")
    out["build_codec"] = stats.get("codec")
    out["build_s"] = round(build_s, 2)
    out["embedding_s_inside_build"] = round(embed_s[0], 2)
    out["build_chunks_per_s"] = round(len(chunks) / build_s, 2)
    out["build_chunks_per_s_excluding_embedding"] = round(len(chunks) / max(1e-9, build_s - embed_s[0]), 2)
    out["peak_rss_mb_build"] = round(peak_mb(), 1)
    raw = sum(len(c.encode("utf-8")) for c in chunks)
    out["raw_text_bytes"] = raw
    out["video_bytes"] = video.stat().st_size
    out["ratio_to_raw_text"] = round(video.stat().st_size / raw, 3)
    index_files = [p for p in work.iterdir() if p.name.startswith("orig_index")]
    out["index_bytes"] = sum(p.stat().st_size for p in index_files)
    stored = {m.get("text") for m in json.loads(index.read_text()).get("metadata", [])}
    out["index_chunks_with_full_text"] = sum(1 for c in chunks if c in stored)  # its JSON keeps a text copy

    # Decode every frame with memvid 0.1.3's own decoder (OpenCV QRCodeDetector) and compare the text.
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = ok = readable = 0
    t = time.perf_counter()
    while True:
        ret, frame = cap.read()
        if not ret:
            break
        data = decode_qr(frame)
        if data is not None:
            readable += 1
            try:
                if json.loads(data)["text"] == chunks[frames]:
                    ok += 1
            except (ValueError, KeyError, IndexError):
                pass
        frames += 1
    cap.release()
    out["frames"] = frames
    out["frames_decoded_by_own_decoder"] = readable
    out["frames_exact_by_own_decoder"] = ok
    out["decode_all_s"] = round(time.perf_counter() - t, 2)

    print(json.dumps(out))


def search(out, video, index, queries, chunks, MemvidRetriever) -> None:  # type: ignore[no-untyped-def]
    """Peak RSS and latency; the query embedding is precomputed so only index + frame decode is timed."""
    rss_before_model = rss_mb()
    t = time.perf_counter()
    retr = MemvidRetriever(str(video), str(index))
    out["open_s"] = round(time.perf_counter() - t, 2)
    rss_after_open = rss_mb()
    model = retr.index_manager.embedding_model
    qvecs = {q: model.encode([q]) for q in queries}

    class Precomputed:
        def encode(self, texts, *a, **kw):  # type: ignore[no-untyped-def]
            return qvecs[texts[0]]

    retr.index_manager.embedding_model = Precomputed()
    decoded_hits = [0, 0]
    orig_decode = retr._decode_frames_parallel

    def counting(frame_numbers):  # type: ignore[no-untyped-def]
        res = orig_decode(frame_numbers)
        decoded_hits[0] += len(frame_numbers)
        decoded_hits[1] += sum(1 for f in frame_numbers if res.get(f))
        return res

    retr._decode_frames_parallel = counting
    for q in queries[:3]:
        retr.search(q, top_k=5)
    decoded_hits[:] = [0, 0]
    lat: list[float] = []
    for q in queries:
        retr.clear_cache()
        t = time.perf_counter()
        res = retr.search(q, top_k=5)
        lat.append((time.perf_counter() - t) * 1000)
        assert len(res) == min(5, len(chunks))
    out["search_cold"] = {
        "n": len(lat),
        "p50_ms": round(pct(lat, 0.5), 3),
        "p95_ms": round(pct(lat, 0.95), 3),
        "mean_ms": round(sum(lat) / len(lat), 3),
    }
    out["search_frames_requested"] = decoded_hits[0]
    out["search_frames_decoded"] = decoded_hits[1]
    out["search_text_source"] = (
        "video" if decoded_hits[1] == decoded_hits[0] else "JSON index fallback (frames did not decode)"
        if decoded_hits[1] == 0 else "mixed: video where frames decoded, JSON index text elsewhere"
    )
    out["rss_mb_before_model"] = round(rss_before_model, 1)
    out["rss_mb_after_open_with_model"] = round(rss_after_open, 1)
    out["rss_mb_end"] = round(rss_mb(), 1)
    out["peak_rss_mb"] = round(peak_mb(), 1)


if __name__ == "__main__":
    main()
