"""The values that travel between memvid's layers: chunks returned to users, vector rows and hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def relevance(distance: float) -> float:
    """Cosine distance in ``[0, 2]`` as a relevance score in ``[0, 1]``, higher is more similar (``1 - d / 2``)."""
    return float(min(1.0, max(0.0, 1.0 - distance / 2.0)))


@dataclass
class Chunk:
    """One chunk as returned by a search or lookup. ``text`` was decoded from the video."""

    id: str
    text: str
    metadata: dict[str, Any]
    frame: int
    segment: str
    score: float | None = None  # relevance in [0, 1], higher is more similar (1 - cosine_distance / 2)
    distance: float | None = None  # cosine distance in [0, 2]
    embedding: list[float] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chunk_id": self.id,
            "text": self.text,
            "score": self.score,
            "distance": self.distance,
            "frame": self.frame,
            "segment": self.segment,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Row:
    """One vector row: a version of a chunk, where its frames are, and when it is live.

    A row is visible at version ``V`` when ``v0 <= V < v1``; ``v1`` is :data:`memvid_base.index.vectors.LIVE`
    until the chunk is replaced or deleted.
    """

    row_id: str
    chunk_id: str
    segment: str  # segment uid
    frame: int  # first frame of the chunk's group
    frames: int  # frames the group spans
    checksum: str
    v0: int
    v1: int
    text_bytes: int

    def visible_at(self, version: int) -> bool:
        return self.v0 <= version < self.v1


@dataclass(frozen=True)
class Hit:
    """A row found by a query or lookup, with its distance (None for lookups) and, if asked for, its vector."""

    row: Row
    distance: float | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
