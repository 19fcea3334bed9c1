"""Maximal marginal relevance over unit vectors."""

from __future__ import annotations

import numpy as np


def maximal_marginal_relevance(query: np.ndarray, candidates: np.ndarray, lambda_mult: float = 0.5, k: int = 4) -> list[int]:
    """Pick ``k`` candidate indices balancing similarity to ``query`` against similarity to those already picked.

    ``lambda_mult`` 1 gives plain relevance order; 0 gives maximum diversity.
    """
    if len(candidates) == 0 or k <= 0:
        return []
    cands = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    relevance = cands @ q
    picked = [int(np.argmax(relevance))]
    while len(picked) < min(k, len(cands)):
        redundancy = (cands @ cands[picked].T).max(axis=1)
        score = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        score[picked] = -np.inf
        picked.append(int(np.argmax(score)))
    return picked
