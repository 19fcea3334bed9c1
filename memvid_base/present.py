"""How memvid shows chunks and memories to people: source labels, citations, JSON records and info rows.

Shared by the CLI, the web UI, chat and the adapters, so every surface names a source the same way.
"""

from __future__ import annotations

from typing import Any

from .types import Chunk

_SOURCE_KEYS = ("file", "source", "title")


def source_label(metadata: dict[str, Any] | None, default: str = "(no file)") -> str:
    """Where a chunk came from, for people: ``apollo_11.md, page 2``.

    Example:
        >>> source_label({"file": "apollo_11.md", "page": 2})
        'apollo_11.md, page 2'
    """
    meta = metadata or {}
    parts = [str(meta[k]) for k in _SOURCE_KEYS if meta.get(k)][:1]
    if meta.get("page") is not None:
        parts.append(f"page {meta['page']}")
    return ", ".join(parts) or default


def cite(chunk: Chunk, number: int) -> str:
    """A one-line citation: ``[1] notes.md, page 3 (frame 12, chunk 7)``."""
    return f"[{number}] {source_label(chunk.metadata, 'memory')} (frame {chunk.frame}, chunk {chunk.id})"


def chunk_record(rank: int, chunk: Chunk) -> dict[str, Any]:
    """A search result as plain JSON-ready data."""
    meta = chunk.metadata or {}
    return {
        "rank": rank,
        "id": chunk.id,
        "score": None if chunk.score is None else round(chunk.score, 6),
        "distance": None if chunk.distance is None else round(chunk.distance, 6),
        "frame": chunk.frame,
        "segment": chunk.segment,
        "file": meta.get("file") or meta.get("source"),
        "page": meta.get("page"),
        "source": source_label(meta),
        "metadata": meta,
        "text": chunk.text,
    }


def human_bytes(n: int | float | None) -> str:
    """``1536`` -> ``'1.5 KB'``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def info_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures of :meth:`Memory.info` as labelled rows (for the CLI and the web UI)."""
    ratio = info.get("ratio_to_raw_text")
    return [
        ("Video", str(info["video_file"])),
        ("Index", str(info["index_file"])),
        ("Chunks", str(info["chunks"])),
        ("Frames", str(info["frames"])),
        ("Segments", str(info["segments"])),
        ("Version", f"{info['version']} ({info['versions']} versions kept, history from {info['history_floor']})"),
        ("Codec", f"{info['codec']} (crf {info['crf']}, {info['fps']} fps, {info['frame_size']}px frames, QR v{info['qr_version']})"),
        ("Video size", human_bytes(info["video_bytes"])),
        ("Raw text", human_bytes(info["raw_text_bytes"])),
        ("Video / raw text", "-" if ratio is None else f"{ratio:.3f}"),
        ("Duration", f"{info['duration_seconds']} s"),
        ("Embedding model", f"{info['embedding_model']} ({info['embedding_dimension']} dims)"),
        ("Dead rows", str(info["dead_rows"])),
    ]
