"""Retrieval-quality evaluation on a corpus no one here wrote: Python's own ``pydoc_data.topics``.

* :mod:`.queries` builds the query set (keyword and semantic queries with their relevant chunks).
* :mod:`.harness` scores any ``search_fn(query, k) -> chunk ids`` by recall@k and MRR per query type.

``benchmarks/bench_retrieval.py`` runs vector, keyword and hybrid search through them.
"""

from .harness import evaluate
from .queries import Corpus, Query, build_corpus, build_queries

__all__ = ["Corpus", "Query", "build_corpus", "build_queries", "evaluate"]
