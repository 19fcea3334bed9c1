"""The default embedding model on onnxruntime (memvid_base.models.minilm) against sentence-transformers (torch).

Same texts, same run: 1,000 real chunks (``pydoc_data.topics`` chunked by ``memvid_base.chunking`` at
512 characters, overlap 50) and the retrieval benchmark's queries.  Reports, for each runtime, the
load time and documents/s through ``Embedder.embed_many`` (the path a build takes), and the cosine
between the two runtimes' vectors for every document and query (min, mean).  Also measured, to
choose the design: onnxruntime batch sizes, thread spinning on/off, and a pure-numpy forward pass
(alternative (b); needs scipy for erf, present in the dev venv).

Needs the torch extra (sentence-transformers) for the comparison.  The machine is shared: the
1-minute load average at the start is recorded, and the runtimes alternate on slices of 50 documents.

Usage::

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_embedding.py [--docs 1000] [--skip-numpy]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import log, machine_info, pydoc_chunks, write_json
from retrieval_eval import build_corpus, build_queries

from memvid_base.chunking import chunk_text
from memvid_base.embeddings import Embedder, _load_default_model


def rate(embed: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    return vectors, len(texts) / (time.perf_counter() - started)


def cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a64 * b64).sum(axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))
    return {"min": round(float(cos.min()), 10), "mean": round(float(cos.mean()), 10),
            "largest_1_minus_cos": float(f"{1 - cos.min():.3g}"), "n": len(cos)}


def numpy_forward(model: Any, texts: list[str], batch: int = 32) -> np.ndarray:
    """Alternative (b): the same encoder in plain numpy (float32), for the throughput comparison."""
    from scipy.special import erf

    from memvid_base.models.safetensors_file import read_safetensors

    w = {k: np.asarray(v, np.float32) for k, v in read_safetensors(model.folder / "model.safetensors").items()
         if v.dtype == np.float32}
    wt = {k: np.ascontiguousarray(v.T) for k, v in w.items() if v.ndim == 2 and k.startswith("encoder.")}

    def ln(x: np.ndarray, p: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[f"{p}.weight"] + w[f"{p}.bias"]

    ids_all = model.token_ids(texts)
    out = np.zeros((len(texts), 384), np.float32)
    order = sorted(range(len(texts)), key=lambda k: -len(ids_all[k]))
    for s in range(0, len(order), batch):
        rows = order[s : s + batch]
        width = len(ids_all[rows[0]])
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.float32)
        for r, k in enumerate(rows):
            ids[r, : len(ids_all[k])] = ids_all[k]
            mask[r, : len(ids_all[k])] = 1
        h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][0]
        h = ln(h + w["embeddings.position_embeddings.weight"][:width], "embeddings.LayerNorm")
        pad = ((1 - mask) * -3e38)[:, None, None, :]
        for n in range(6):
            p = f"encoder.layer.{n}"

            def lin(x: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return x @ wt[f"{p}.{name}.weight"] + w[f"{p}.{name}.bias"]

            def heads(x: np.ndarray) -> np.ndarray:
                return x.reshape(x.shape[0], x.shape[1], 12, 32).transpose(0, 2, 1, 3)

            q, k, v = (heads(lin(h, f"attention.self.{t}")) for t in ("query", "key", "value"))
            sc = q @ k.transpose(0, 1, 3, 2) * np.float32(1 / np.sqrt(32)) + pad
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            ctx = ((sc / sc.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(len(rows), width, 384)
            a = ln(lin(ctx, "attention.output.dense") + h, f"{p}.attention.output.LayerNorm")
            x = lin(a, "intermediate.dense")
            h = ln(lin(x * 0.5 * (1 + erf(x / np.float32(np.sqrt(2)))), "output.dense") + a, f"{p}.output.LayerNorm")
        mean = (h * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        out[rows] = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--out", default="embedding.json")
    args = parser.parse_args()
    info = machine_info()
    log(f"load average at start {info['loadavg_at_start']} (shared machine, not idle)")
    chunks = pydoc_chunks()
    step = max(1, len(chunks) // args.docs)
    docs = chunks[::step][: args.docs]  # spread over the whole corpus, not only its first topics
    queries = [q.text for q in build_queries(build_corpus(chunk_text))]

    started = time.perf_counter()
    ort_embedder = Embedder(None)
    ort_embedder.embed_query("warm up")
    ort_load = time.perf_counter() - started
    started = time.perf_counter()
    st_model = _load_default_model()
    st_embedder = Embedder(st_model)
    st_embedder.embed_query("warm up")
    st_load = time.perf_counter() - started
    log(f"loaded: onnxruntime {ort_load:.2f} s, sentence-transformers {st_load:.2f} s")

    # The documents in slices of 50, each embedded by one runtime then the other, so a change in the machine's
    # load hits both alike; rate = documents / summed seconds, per runtime and per half of the run.
    runtimes = (("onnxruntime", ort_embedder), ("sentence_transformers", st_embedder))
    seconds: dict[str, list[float]] = {name: [] for name, _ in runtimes}
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in runtimes}
    slices = [docs[k : k + 50] for k in range(0, len(docs), 50)]
    for n, part in enumerate(slices):
        for name, emb in runtimes if n % 2 == 0 else runtimes[::-1]:
            started = time.perf_counter()
            parts[name].append(emb.embed_many(part))
            seconds[name].append(time.perf_counter() - started)
    vecs = {name: np.concatenate(parts[name]) for name, _ in runtimes}
    half = len(slices) // 2
    rates = {name: {"all": round(len(docs) / sum(t), 1),
                    "first_half": round(sum(len(p) for p in slices[:half]) / sum(t[:half]), 1),
                    "second_half": round(sum(len(p) for p in slices[half:]) / sum(t[half:]), 1)}
             for name, t in seconds.items()}
    log(f"docs/s: {rates}")
    query_vecs: dict[str, np.ndarray] = {}
    query_ms: dict[str, float] = {}
    for name, emb in (("onnxruntime", ort_embedder), ("sentence_transformers", st_embedder)):
        started = time.perf_counter()
        query_vecs[name] = np.stack([emb.embed_query(q) for q in queries])
        query_ms[name] = round((time.perf_counter() - started) / len(queries) * 1000, 2)
        log(f"{name}: {query_ms[name]} ms per query (one at a time)")

    model = ort_embedder.native
    batch_sizes: dict[str, float] = {}
    sample = docs[:200]
    for b in (8, 16, 32, 64, 128):
        batch_sizes[str(b)] = round(rate(lambda t, b=b: model.encode(t, batch_size=b), sample)[1], 1)
        log(f"onnxruntime batch {b}: {batch_sizes[str(b)]} docs/s")
    spinning = {}
    from memvid_base.models.minilm import MiniLM

    for spin in ("0", "1"):
        m = MiniLM()
        if spin == "1":  # a second session with onnxruntime's default (spinning worker threads)
            import onnxruntime as ort

            from memvid_base import minilm_graph
            from memvid_base.models.safetensors_file import read_safetensors

            proto, weights = minilm_graph.build(read_safetensors(m.folder / "model.safetensors"), heads=12)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = m.session.get_session_options().intra_op_num_threads
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            keep = [ort.OrtValue.ortvalue_from_numpy(weights[n]) for n in weights]
            opts.add_external_initializers(list(weights), keep)
            m.session = ort.InferenceSession(proto, opts, providers=["CPUExecutionProvider"])
        spinning[f"allow_spinning={spin}"] = round(rate(m.encode, sample)[1], 1)
        log(f"onnxruntime allow_spinning={spin}: {spinning[f'allow_spinning={spin}']} docs/s")

    numpy_result: dict[str, Any] = {"skipped": True}
    if not args.skip_numpy:  # on 64 documents, onnxruntime timed on the same ones just before (load changes)
        few = docs[:64]
        ort_rate = rate(model.encode, few)[1]
        nv, r = rate(lambda t: numpy_forward(model, t), few)
        numpy_result = {"docs": len(few), "docs_per_s": round(r, 1), "onnxruntime_docs_per_s_same_docs": round(ort_rate, 1),
                        "cosine_vs_sentence_transformers": cosines(nv, vecs["sentence_transformers"][: len(few)])}
        log(f"numpy forward: {r:.1f} docs/s (onnxruntime {ort_rate:.1f} on the same docs)")

    result = {
        "machine": info,
        "note": "2 shared cores, not idle: compare runtimes within this run only",
        "texts": {"docs": len(docs), "docs_source": "pydoc_data.topics, chunk_text 512/50, "
                  f"every chunk, up to {len(docs)}" if step == 1 else f"every {step}th chunk", "queries": len(queries), "queries_source": "benchmarks/retrieval_eval"},
        "load_s": {"onnxruntime": round(ort_load, 2), "sentence_transformers": round(st_load, 2)},
        "docs_per_s": rates,
        "ms_per_query_one_at_a_time": query_ms,
        "cosine_onnxruntime_vs_sentence_transformers": {"docs": cosines(vecs["onnxruntime"], vecs["sentence_transformers"]),
                                                        "queries": cosines(query_vecs["onnxruntime"],
                                                                           query_vecs["sentence_transformers"])},
        "onnxruntime_batch_size_docs_per_s": batch_sizes,
        "onnxruntime_spinning_docs_per_s": spinning,
        "numpy_forward": numpy_result,
        "command": "HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_embedding.py",
    }
    path = write_json(args.out, result)
    log(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
