"""Recall@k and MRR of a search function over a labelled query set, per query type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from .queries import Query

SearchFn = Callable[[str, int], Sequence[str]]


def evaluate(search_fn: SearchFn, queries: Sequence[Query], k: int = 5) -> dict[str, dict[str, float]]:
    """Score ``search_fn`` on ``queries``.

    ``recall@k`` is the share of queries with at least one relevant chunk in the top ``k`` (for a
    keyword query there is one relevant chunk, or two when the chunk overlap repeats the identifier;
    for a topic title every chunk of the topic counts).  ``mrr`` is the mean of 1/rank of the first
    relevant chunk within the top ``k`` (0 when none), so both read on the same cut-off.

    Returns:
        ``{query_type: {"recall@k": r, "mrr": m, "n": count}}`` plus an ``"all"`` entry.
    """
    per: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for q in queries:
        ranked = list(search_fn(q.text, k))[:k]
        rank = next((i for i, cid in enumerate(ranked, start=1) if cid in q.relevant), None)
        score = (1.0 if rank else 0.0, 1.0 / rank if rank else 0.0)
        per[q.kind].append(score)
        per["all"].append(score)
    return {kind: {f"recall@{k}": round(100 * sum(s[0] for s in v) / len(v), 2),
                   "mrr": round(sum(s[1] for s in v) / len(v), 4), "n": len(v)}
            for kind, v in per.items()}
