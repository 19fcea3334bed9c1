"""The Chroma side of a memory: one vector per chunk version, keyed by where its frames are.

Rows never hold text.  Each row carries the chunk id, its segment and frame span, its checksum and
the version range ``[_mv_v0, _mv_v1)`` in which it is live, plus the user's scalar metadata for
filtering.  A row is visible at version ``V`` when ``_mv_v0 <= V < _mv_v1``; this is what makes
``as_of`` time travel and crash recovery work without rewriting anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptMemoryError, InvalidInputError

LIVE = 2**62  # _mv_v1 of a row that has not been deleted or replaced
INTERNAL_PREFIX = "_mv_"


def open_client(path: Path, fresh: bool = False) -> Any:
    """A persistent Chroma client with telemetry off (memvid never talks to the network).

    Chroma caches one client system per path and process, and that cache does not see rows another
    process added later.  ``fresh`` drops the cached system (others holding it keep working) so the
    new client reads the store as it is on disk now.
    """
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings

    if fresh or not path.exists():
        SharedSystemClient._identifier_to_system.pop(str(path), None)
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False))


def scalar_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The part of user metadata Chroma can filter on: str/int/float/bool values under non-internal keys."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key.startswith(INTERNAL_PREFIX):
            raise InvalidInputError(f"Metadata key {key!r} is reserved: keys starting with {INTERNAL_PREFIX!r} are memvid's.")
        if isinstance(value, (str, bool, int, float)) and not (isinstance(value, int) and abs(value) >= 2**63):
            out[key] = value
    return out


def visible(version: int) -> dict[str, Any]:
    return {"$and": [{"_mv_v0": {"$lte": version}}, {"_mv_v1": {"$gt": version}}]}


def and_where(*clauses: dict[str, Any] | None) -> dict[str, Any] | None:
    """Combine where clauses; Chroma wants ``$and`` around more than one condition."""
    flat: list[dict[str, Any]] = []
    for clause in clauses:
        if not clause:
            continue
        if set(clause) == {"$and"}:
            flat.extend(clause["$and"])
        elif len(clause) > 1 and not any(k.startswith("$") for k in clause):
            flat.extend({k: v} for k, v in clause.items())
        else:
            flat.append(clause)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else {"$and": flat}


class ChromaStore:
    """Thin wrapper over one Chroma collection that knows memvid's row layout."""

    def __init__(self, client: Any, collection: str, dimension: int | None = None, create: bool = False) -> None:
        self.client = client
        self.name = collection
        if create:
            self.collection = client.get_or_create_collection(
                collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_search": 100, "ef_construction": 200}},
                metadata={"memvid": True, "dimension": dimension or 0},
            )
        else:
            try:
                self.collection = client.get_collection(collection, embedding_function=None)
            except Exception as exc:
                raise CorruptMemoryError(
                    f"The vector store has no collection {collection!r}. Run rebuild_index() (or `memvid verify "
                    "--rebuild-index`) to rebuild it from the video."
                ) from exc
        try:
            self.batch = int(client.get_max_batch_size())
        except Exception:
            self.batch = 5000

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        for k in range(0, len(ids), self.batch):
            self.collection.add(
                ids=list(ids[k : k + self.batch]),
                embeddings=vectors[k : k + self.batch],
                metadatas=list(metadatas[k : k + self.batch]),
            )

    def set_removed(self, row_ids: Sequence[str], version: int) -> None:
        for k in range(0, len(row_ids), self.batch):
            part = list(row_ids[k : k + self.batch])
            self.collection.update(ids=part, metadatas=[{"_mv_v1": version}] * len(part))

    def delete_rows(self, row_ids: Sequence[str]) -> None:
        for k in range(0, len(row_ids), self.batch):
            self.collection.delete(ids=list(row_ids[k : k + self.batch]))

    def get(self, where: dict[str, Any] | None, include_embeddings: bool = False, limit: int | None = None) -> dict[str, Any]:
        include = ["metadatas", "embeddings"] if include_embeddings else ["metadatas"]
        out: dict[str, Any] = {"ids": [], "metadatas": [], "embeddings": []}
        offset = 0
        page = min(self.batch, limit) if limit else self.batch
        while True:
            res = self.collection.get(where=where, include=include, limit=page, offset=offset)
            out["ids"].extend(res["ids"])
            out["metadatas"].extend(res["metadatas"] or [])
            if include_embeddings and res.get("embeddings") is not None:
                out["embeddings"].extend(list(res["embeddings"]))
            offset += len(res["ids"])
            if len(res["ids"]) < page or (limit and offset >= limit):
                return out

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None, include_embeddings: bool = False) -> list[tuple[str, float, dict[str, Any], Any]]:
        include = ["metadatas", "distances"] + (["embeddings"] if include_embeddings else [])
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=include)
        embs = res.get("embeddings")
        rows = []
        for k, row_id in enumerate(res["ids"][0]):
            rows.append((row_id, float(res["distances"][0][k]), res["metadatas"][0][k], embs[0][k] if embs is not None else None))
        return rows

    def count(self) -> int:
        return int(self.collection.count())

    def drop(self) -> None:
        self.client.delete_collection(self.name)
