"""Reciprocal rank fusion of ranked result lists (pure functions, no I/O).

RRF (Cormack, Clarke and Büttcher, 2009) scores an item by ``sum_i w_i / (k + rank_i)`` over the lists
that contain it (ranks start at 1).  It needs no score calibration between a BM25 ranking and a cosine
ranking, which is why hybrid search uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import InvalidInputError

__all__ = ["alpha_weights", "fuse_checked", "reciprocal_rank_fusion"]


def alpha_weights(alpha: float) -> tuple[float, float]:
    """``(vector_weight, keyword_weight)`` for a LlamaIndex-style ``alpha``.

    ``alpha`` weights the dense side: 1.0 is vector only, 0.0 keyword only, 0.5 equal weights.

    Raises:
        InvalidInputError: ``alpha`` is not a number in [0, 1].

    Example:
        >>> alpha_weights(0.75)
        (0.75, 0.25)
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) <= 1.0:
        raise InvalidInputError(f"alpha must be a number between 0 and 1, got {alpha!r}.")
    return float(alpha), 1.0 - float(alpha)


def reciprocal_rank_fusion(ranked_lists: Sequence[Sequence[str]], k: int = 60,
                           weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids into one ranking by (weighted) reciprocal rank.

    An id repeated within one list counts at its best rank only.  A list with weight 0 contributes
    nothing, and its ids appear only if another list has them.  Ties are broken by the best rank the
    id reached in any list, then by the id itself, so the output is deterministic.

    Args:
        ranked_lists: Each list is ids, best first.
        k: The RRF constant (60 in the paper and in most systems); larger flattens the rank curve.
        weights: One non-negative weight per list (default all 1.0).

    Returns:
        ``(id, fused_score)`` pairs, best first.

    Raises:
        InvalidInputError: Bad ``k``, weights of the wrong length or sign, or non-string ids.

    Example:
        >>> [i for i, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]])]
        ['b', 'a', 'c']
    """
    if isinstance(ranked_lists, (str, bytes)) or not isinstance(ranked_lists, Sequence):
        raise InvalidInputError("ranked_lists must be a sequence of ranked id lists.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidInputError(f"k must be a non-negative integer, got {k!r}.")
    if weights is None:
        weights = [1.0] * len(ranked_lists)
    if len(weights) != len(ranked_lists):
        raise InvalidInputError(f"weights has {len(weights)} entries for {len(ranked_lists)} ranked lists.")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise InvalidInputError(f"Every weight must be a finite number >= 0, got {w!r}.")
    for ranked in ranked_lists:
        if isinstance(ranked, (str, bytes)) or not isinstance(ranked, Sequence):
            raise InvalidInputError("Each ranked list must be a sequence of ids, not a single string.")
        for item in ranked:
            if not isinstance(item, str):
                raise InvalidInputError(f"Ids must be strings, got {type(item).__name__}.")
    return fuse_checked(ranked_lists, k, weights)


def fuse_checked(ranked_lists: Sequence[Sequence[str]], k: int, weights: Sequence[float]) -> list[tuple[str, float]]:
    """:func:`reciprocal_rank_fusion` for arguments already known to be valid (the search's own id lists)."""
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for ranked, weight in zip(ranked_lists, weights):
        if weight <= 0:
            continue
        w = float(weight)
        seen: set[str] = set()
        for rank, item in enumerate(ranked, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
            if rank < best.get(item, rank + 1):
                best[item] = rank
    return sorted(scores.items(), key=lambda p: (-p[1], best[p[0]], p[0]))
