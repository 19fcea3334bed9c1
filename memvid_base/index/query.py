"""Planning a read: validate what the caller asked for, then ask the vector store for the right rows.

Functions here take explicit collaborators (a :class:`~memvid_base.index.vectors.VectorStore`, the
manifest) and return :class:`~memvid_base.types.Hit` rows; :mod:`~memvid_base.index.reader` turns hits
into text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embeddings import normalize
from ..errors import DimensionMismatchError, InvalidInputError
from ..files.manifest import Manifest
from ..types import Hit
from .mmr import maximal_marginal_relevance
from .vectors import VectorStore


@dataclass(frozen=True)
class VectorQuery:
    """A validated nearest-neighbour request."""

    vector: np.ndarray
    top_k: int
    where: Mapping[str, Any] | None = None
    ids: tuple[str, ...] | None = None  # restrict to these chunk ids
    with_embeddings: bool = False


MAX_COUNT = 2**31 - 1  # the vector store's counts are machine integers; more than this is a mistake, not a request


def check_count(value: object, name: str) -> int:
    """A positive integer such as ``top_k`` (at most ``MAX_COUNT``), or a clear error."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_COUNT:
        raise InvalidInputError(f"{name} must be a positive integer no larger than {MAX_COUNT}, got {value!r}.")
    return value


def check_ids(ids: Any, name: str = "ids") -> list[str]:
    """Chunk ids as strings: a list (not one string), each valid Unicode, or a clear error."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidInputError(f"{name} must be a list of chunk ids, got {type(ids).__name__}.")
    out = [str(i) for i in ids]
    for i in out:
        try:
            i.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"The chunk id {i[:40]!r} in {name} is not valid Unicode (a lone surrogate).") from exc
    return out


def as_vector(vector: Any) -> np.ndarray:
    try:
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"The query vector must be a list of numbers ({exc}).") from exc
    # One call: a float64 sum of float32 values cannot overflow, and is finite only if every value is. The ufunc's
    # own reduce skips ndarray.sum's Python wrapper: 1.3 against 2.3 us (timed ad hoc).
    if not vec.size or not math.isfinite(np.add.reduce(vec, dtype=np.float64)):
        raise InvalidInputError("The query vector is empty or contains NaN or infinite values.")
    return vec


def require_dimension(manifest: Manifest, dim: int) -> None:
    """Raise :class:`DimensionMismatchError` unless vectors of ``dim`` dimensions fit the memory."""
    want = manifest.embedding.get("dimension")
    if want and dim != want:
        raise DimensionMismatchError(
            f"Got {dim}-d vectors but this memory holds {want}-d vectors from "
            f"{manifest.embedding.get('model')}. Use the model the memory was built with."
        )


def check_vectors(manifest: Manifest, embeddings: Any, n: int) -> np.ndarray:
    """``n`` caller-given document vectors as unit-length float32 rows of the memory's dimension."""
    try:
        arr = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"embeddings must be {n} vectors of numbers ({exc}).") from exc
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InvalidInputError(f"Expected {n} embeddings, got an array of shape {arr.shape}.")
    require_dimension(manifest, arr.shape[1])
    return normalize(arr)


def nearest(store: VectorStore, manifest: Manifest, version: int, latest: bool, q: VectorQuery) -> list[Hit]:
    """The rows visible at ``version`` nearest to the query, best first."""
    if (manifest.live_chunks == 0 and latest) or manifest.live_chunks + manifest.dead_rows == 0 or q.ids == ():
        return []
    return store.nearest(q.vector, q.top_k, version, q.where, None if q.ids is None else list(q.ids),
                         q.with_embeddings, invisible_rows=manifest.dead_rows if latest else None,
                         head=manifest.version, total_rows=manifest.live_chunks + manifest.dead_rows)


def pick_diverse(vector: np.ndarray, hits: Sequence[Hit], lambda_mult: float, top_k: int) -> list[Hit]:
    """Maximal marginal relevance over hits that carry their embeddings."""
    if not 0.0 <= lambda_mult <= 1.0:
        raise InvalidInputError(f"lambda_mult must be in [0, 1], got {lambda_mult}.")
    if not hits:
        return []
    picked = maximal_marginal_relevance(vector, np.asarray([h.embedding for h in hits], dtype=np.float32), lambda_mult, top_k)
    return [hits[k] for k in picked]
