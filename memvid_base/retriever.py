"""``MemvidRetriever``: semantic search over a memory (the original memvid API)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .boundary import public_errors
from .memory import Memory


@public_errors  # bad arguments raise InvalidInputError, never a raw traceback (boundary.py)
class MemvidRetriever:
    """Searches a memory; every returned text is decoded from its video frame.

    Args:
        video_file: The memory's MP4 (or its index JSON).
        index_file: The index JSON; found from the video when omitted (see :mod:`memvid_base.files.layout`).
        config: Accepted for compatibility with the original memvid; unused.
        embedding_model: Must have the dimension the memory was built with; default: the bundled MiniLM.
        as_of: Search the memory as it was at this version.
        client: Any chromadb client, e.g. ``chromadb.HttpClient`` for a ``chroma run`` server.

    Example:
        >>> r = MemvidRetriever("space.mp4", "space_index.json")   # doctest: +SKIP
        >>> r.search("When did humans land on the Moon?", top_k=1)  # doctest: +SKIP
        ['Apollo 11 landed on the Moon in 1969']
    """

    def __init__(
        self,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        config: Mapping[str, Any] | None = None,
        *,
        embedding_model: Any = None,
        as_of: int | None = None,
        client: Any = None,
        cache_size: int = 512,
    ) -> None:
        self.memory = Memory(video_file, index_file, embedding_model=embedding_model, as_of=as_of, client=client,
                             cache_size=cache_size)
        self.video_file = str(self.memory.video_path)
        self.index_file = str(self.memory.index_path)

    def search(
        self,
        query: str,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        *,
        mode: str = "vector",
        where_document: Mapping[str, Any] | None = None,
        alpha: float | None = None,
    ) -> list[str]:
        """The texts of the ``top_k`` best chunks, best first.

        Args:
            query: What to look for.
            top_k: How many texts to return.
            where: A metadata filter, as in Chroma.
            mode: ``"vector"`` (semantic, default), ``"keyword"`` (BM25: names, error codes) or ``"hybrid"``.
            where_document: Keep chunks whose text matches, e.g. ``{"$contains": "zstd"}``.
            alpha: Hybrid weight of the vector side, 0..1.
        """
        return [c.text for c in self.memory.search(query, top_k, where, mode=mode, where_document=where_document, alpha=alpha)]

    def search_with_metadata(self, query: str, top_k: int = 5, where: Mapping[str, Any] | None = None,
                             **modes: Any) -> list[dict[str, Any]]:
        """Like ``search`` (the same ``mode``, ``where_document`` and ``alpha``), each hit a dict: text, score,
        distance, frame, chunk_id, segment, metadata."""
        return [c.to_dict() for c in self.memory.search(query, top_k, where, **modes)]

    def get_chunk_by_id(self, chunk_id: str | int) -> str | None:
        found = self.memory.get_by_ids([str(chunk_id)])
        return found[0].text if found else None

    def clear_cache(self) -> None:
        self.memory.clear_cache()

    def get_stats(self) -> dict[str, Any]:
        return self.memory.info()

    def close(self) -> None:
        self.memory.close()
