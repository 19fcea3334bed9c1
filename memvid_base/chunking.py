"""Splitting text into chunks on natural boundaries (paragraphs, lines, sentences, words)."""

from __future__ import annotations

import re

from .errors import InvalidInputError

_SEPARATORS = ("\n\n", "\n", r"(?<=[.!?。！？])\s+", r"\s+")


def chunk_text(text: str, chunk_size: int = 512, overlap: int = 50) -> list[str]:
    """Split ``text`` into chunks of at most ``chunk_size`` characters, overlapping by about ``overlap``.

    Splits prefer paragraph, line, sentence and word boundaries; a run with none (a long URL, CJK
    text without spaces) is cut hard.  Whitespace-only pieces are dropped.

    Example:
        >>> chunk_text("One. Two. Three.", chunk_size=10, overlap=0)
        ['One. Two.', 'Three.']
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, got {type(text).__name__}.")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidInputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not 0 <= overlap < chunk_size:
        raise InvalidInputError(f"overlap must be >= 0 and smaller than chunk_size ({chunk_size}), got {overlap}.")
    pieces = _split(text, chunk_size, 0)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > chunk_size:
            chunks.append(current.strip())
            tail = current[-overlap:] if overlap else ""
            if tail and " " in tail:
                tail = tail[tail.index(" ") + 1 :]  # start the overlap on a word boundary
            current = tail if len(tail) + len(piece) <= chunk_size else ""
        current += piece
    if current.strip():
        chunks.append(current.strip())
    return [c for c in chunks if c]


def _split(text: str, size: int, level: int) -> list[str]:
    """Pieces no longer than ``size`` that concatenate back to ``text``."""
    if len(text) <= size:
        return [text]
    if level >= len(_SEPARATORS):
        return [text[k : k + size] for k in range(0, len(text), size)]
    sep = _SEPARATORS[level]
    parts = re.split(f"({sep})", text) if level >= 2 else re.split(f"({re.escape(sep)})", text)
    joined: list[str] = []
    for k in range(0, len(parts), 2):  # glue each separator onto the piece before it
        joined.append(parts[k] + (parts[k + 1] if k + 1 < len(parts) else ""))
    out: list[str] = []
    for part in joined:
        out.extend(_split(part, size, level + 1) if len(part) > size else [part])
    return [p for p in out if p]
