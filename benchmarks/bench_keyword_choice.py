"""Choose the BM25 library for the keyword index by measurement: Tantivy (``tantivy``) against ``bm25s``.

For 10k and 100k distinct chunks of real text (``_common.distinct_chunks``: the ``pydoc_data`` topics, then
the standard library's sources, packed into chunks of at most 512 characters) it measures:

* build time (index + durable save/commit) and on-disk size;
* query latency p50/p95 for 100 phrase queries (4-10 words from the corpus) and 100 single identifiers,
  top 10 (and top 50 for ``KeywordIndex``, the depth hybrid search fuses);
* incremental updates: adding 1,000 chunks and deleting 100, then committing; bm25s has no add or
  delete, so its figure is a full re-index of the changed corpus plus a save.

Three variants: ``tantivy_keywordindex`` is ``memvid_base.index.keywords.KeywordIndex`` as shipped (identifier
tokens + parts + case-sensitive trigrams for ``$contains`` prefiltering); ``tantivy_words_only`` is the
same without the trigram field (what BM25 alone costs); ``bm25s`` uses its default tokenizer (scikit-learn
pattern, English stopwords) and ``save()`` without the corpus, so it too holds no text.

Needs ``bm25s`` (not a dependency of memvid): ``pip install bm25s==0.3.16``.

Usage::

    python benchmarks/bench_keyword_choice.py            # 10k and 100k: 68-93 s on this 2-core machine
    python benchmarks/bench_keyword_choice.py --sizes 10000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import RESULTS, distinct_chunks, queries_from


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def latency(fn: Callable[[str], Any], queries: list[str]) -> dict[str, float]:
    for q in queries[:5]:  # warm caches
        fn(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(times[int(0.95 * len(times)) - 1], 3)}


def identifier_queries(chunks: list[str], n: int) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for c in chunks[:: max(1, len(chunks) // (4 * n))]:
        for ident in re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", c):
            if ident not in seen:
                seen.add(ident)
                found.append(ident)
                break
        if len(found) >= n:
            break
    return found


def bench_keywordindex(chunks: list[str], extra: list[str], queries: list[str], work: Path) -> dict[str, Any]:
    from memvid_base.index.keywords import KeywordIndex

    folder = work / "kwi"
    t0 = time.perf_counter()
    idx = KeywordIndex.open(folder)
    idx.add([f"c{i}@1" for i in range(len(chunks))], chunks)
    idx.commit("v1")
    build = time.perf_counter() - t0
    size = dir_size(folder)
    lat = latency(lambda q: idx.search(q, 10), queries)
    lat50 = latency(lambda q: idx.search(q, 50), queries)  # the depth hybrid search fuses
    t0 = time.perf_counter()
    idx.add([f"x{i}@2" for i in range(len(extra))], extra)
    idx.delete([f"c{i}@1" for i in range(100)])
    idx.commit("v2")
    incr = time.perf_counter() - t0
    cand = latency(lambda q: idx.candidates([q]), [q for q in queries if len(q) >= 3][:50])
    n = len(idx)
    idx.close()
    return {"build_s": round(build, 2), "disk_mb": round(size / 2**20, 2), "query": lat, "query_top50": lat50,
            "incremental_add1000_del100_commit_s": round(incr, 3), "incremental": True,
            "contains_candidates": cand, "rows_after_update": n}


def bench_tantivy_words(chunks: list[str], extra: list[str], queries: list[str], work: Path) -> dict[str, Any]:
    import tantivy

    from memvid_base import keywords as kw

    folder = work / "tw"
    folder.mkdir()
    t0 = time.perf_counter()
    b = tantivy.SchemaBuilder()
    b.add_text_field("row_id", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("words", stored=False, tokenizer_name="mv_words", index_option="freq")
    b.add_text_field("parts", stored=False, tokenizer_name="mv_parts", index_option="freq")
    schema = b.build()
    index = tantivy.Index(schema, path=str(folder))
    analyzers = kw._analyzers()
    for name in ("mv_words", "mv_parts"):
        index.register_tokenizer(name, analyzers[name])
    w = index.writer(heap_size=64_000_000, num_threads=1)
    for i, text in enumerate(chunks):
        w.add_document(tantivy.Document(row_id=f"c{i}", words=text, parts=text))
    w.commit()
    index.reload()
    build = time.perf_counter() - t0
    size = dir_size(folder)

    def search(q: str) -> list[tuple[str, float]]:
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, f, t, index_option="freq"))
                   for f, a in (("words", "mv_words"), ("parts", "mv_parts")) for t in set(analyzers[a].analyze(q))]
        if not clauses:
            return []
        s = index.searcher()
        return [(str(s.doc(addr).get_first("row_id")), float(sc)) for sc, addr in s.search(tantivy.Query.boolean_query(clauses), 10).hits]

    lat = latency(search, queries)
    t0 = time.perf_counter()
    for i, text in enumerate(extra):
        w.add_document(tantivy.Document(row_id=f"x{i}", words=text, parts=text))
    for i in range(100):
        w.delete_documents_by_term("row_id", f"c{i}")
    w.commit()
    incr = time.perf_counter() - t0
    return {"build_s": round(build, 2), "disk_mb": round(size / 2**20, 2), "query": lat,
            "incremental_add1000_del100_commit_s": round(incr, 3), "incremental": True}


def bench_bm25s(chunks: list[str], extra: list[str], queries: list[str], work: Path) -> dict[str, Any]:
    import bm25s

    folder = work / "bm25s"

    def build(texts: list[str]) -> Any:
        tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
        r = bm25s.BM25()
        r.index(tokens, show_progress=False)
        if folder.exists():
            shutil.rmtree(folder)
        r.save(str(folder))
        return r

    t0 = time.perf_counter()
    retriever = build(chunks)
    build_s = time.perf_counter() - t0
    size = dir_size(folder)

    def search(q: str) -> Any:
        toks = [t for t in bm25s.tokenize(q, stopwords="en", return_ids=False, show_progress=False)[0]
                if t in retriever.vocab_dict]
        if not toks:
            return []
        return retriever.retrieve([toks], k=10, show_progress=False)

    lat = latency(search, queries)
    t0 = time.perf_counter()
    build(chunks[100:] + extra)  # no add/delete API: the only update is a full re-index
    incr = time.perf_counter() - t0
    return {"build_s": round(build_s, 2), "disk_mb": round(size / 2**20, 2), "query": lat,
            "incremental_add1000_del100_commit_s": round(incr, 3), "incremental": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--out", type=Path, default=RESULTS / "keyword_choice.json")
    args = ap.parse_args()
    t_all = time.perf_counter()
    corpus = distinct_chunks(max(args.sizes) + 1000)
    text_mb = {}
    results: dict[str, Any] = {"sizes": {}}
    for n in args.sizes:
        chunks, extra = corpus[:n], corpus[n : n + 1000]
        text_mb[n] = round(sum(len(c.encode()) for c in chunks) / 2**20, 2)
        queries = queries_from(chunks, 100) + identifier_queries(chunks, 100)
        row: dict[str, Any] = {"raw_text_mb": text_mb[n], "queries": len(queries)}
        for name, fn in (("tantivy_keywordindex", bench_keywordindex), ("tantivy_words_only", bench_tantivy_words),
                         ("bm25s", bench_bm25s)):
            work = Path(tempfile.mkdtemp(prefix=f"kwbench-{name}-"))
            try:
                row[name] = fn(chunks, extra, queries, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(n, name, json.dumps(row[name]), flush=True)
        results["sizes"][str(n)] = row
    from importlib.metadata import version

    import bm25s
    import tantivy  # noqa: F401

    results["versions"] = {"tantivy": version("tantivy"), "bm25s": bm25s.__version__, "python": sys.version.split()[0]}
    results["crash_safety"] = {
        "tantivy": "A commit writes new segment files, then replaces meta.json atomically; a kill -9 at any point "
                   "leaves the previous meta.json (and the stamp document committed with it). "
                   "Tested: tests/test_keywords.py::test_kill_9_mid_commit_leaves_a_committed_state.",
        "bm25s": "save() np.save()s several arrays and JSON files in place, one after another, with no commit "
                 "record: a kill -9 mid-save can leave arrays from two different indexes (read from bm25s 0.3.16 "
                 "BM25.save).",
    }
    results["command"] = "python benchmarks/bench_keyword_choice.py " + " ".join(sys.argv[1:])
    results["wall_s"] = round(time.perf_counter() - t_all, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {results['wall_s']} s")


if __name__ == "__main__":
    main()
