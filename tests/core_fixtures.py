"""Shared helpers for the core tests: a fast deterministic embedder and a real text corpus."""

from __future__ import annotations

import hashlib
import pydoc_data.topics
import re
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+")
DIM = 64


def hash_embed(texts: list[str]) -> np.ndarray:
    """Bag-of-words hashed into 64 dimensions: deterministic, torch-free, and similar texts score similar."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            out[row, h % DIM] += 1.0 if h & 1 << 31 else -1.0
        out[row, -1] += 0.01  # no all-zero rows
    return out


def pydoc_chunks(limit: int | None = None, size: int = 512) -> list[str]:
    """Real English/technical text: Python's own help topics, chunked."""
    from memvid_base.chunking import chunk_text

    chunks: list[str] = []
    for text in pydoc_data.topics.topics.values():
        chunks.extend(chunk_text(text, size, 50))
        if limit and len(chunks) >= limit:
            break
    seen: set[str] = set()
    unique = [c for c in chunks if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]
    return unique[:limit] if limit else unique


def chroma_rows(memory: object, include: list[str] | None = None) -> dict:
    """The raw rows of a memory's Chroma collection, read as an outsider would: straight from the store folder."""
    import chromadb
    from chromadb.config import Settings

    store = memory.manifest.store  # type: ignore[attr-defined]
    client = chromadb.PersistentClient(path=str(memory.root / store["path"]), settings=Settings(anonymized_telemetry=False))  # type: ignore[attr-defined]
    return client.get_collection(store["collection"]).get(include=include or ["metadatas"])


IDENT = re.compile(r"\b[a-z_]+\.[a-z_]+(?:\.[a-z_]+)*\b|\b__[a-z]+__\b")  # sys.modules, __missing__, ...


def unique_identifiers(corpus: list[str]) -> dict[str, int]:
    """Identifiers that occur in exactly one chunk, with that chunk's index: exact-match keyword queries."""
    where: dict[str, set[int]] = {}
    for k, text in enumerate(corpus):
        for name in IDENT.findall(text):
            where.setdefault(name, set()).add(k)
    return {name: next(iter(ks)) for name, ks in where.items() if len(ks) == 1 and len(name) > 8}


def _deep_filter(levels: int) -> dict[str, Any]:
    deep: dict[str, Any] = {"file": "x"}
    for _ in range(levels):
        deep = {"$and": [deep]}
    return deep


# Arguments no public call should turn into a raw traceback: wrong types, overflow, NaN, a NUL, a lone
# surrogate, an unknown filter operator, and a filter nested 3,000 levels deep.
HOSTILE_VALUES: list[Any] = [None, -1, 0, 2**63, "5", float("nan"), True, b"x", [1], {"$bogus": 1}, "\x00", "\ud800",
                             object(), _deep_filter(3000)]


def encode_gray_frames(path: object, encoder: str, options: dict[str, str], frames: list[np.ndarray]) -> None:
    """Write grayscale frames to an MP4 with any ffmpeg encoder and options (files memvid would not write itself)."""
    from fractions import Fraction

    import av

    size = frames[0].shape[0]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(encoder, rate=Fraction(30))
        assert isinstance(stream, av.VideoStream)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = options
        chroma = np.full((size // 2, size), 128, dtype=np.uint8)  # U and V planes, neutral grey
        for k, gray in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.concatenate([gray, chroma]), format="yuv420p")
            frame.pts = k
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
