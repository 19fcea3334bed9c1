"""Splitting text into chunks that start and end on sentence boundaries where possible.

A *sentence* here ends at ``.``, ``!`` or ``?`` (with any closing quotes or brackets) followed by
whitespace, at ``。！？`` (no whitespace needed), or at a blank line (so headings and paragraphs of code
end too).  A single line break does not end a sentence: prose is often hard-wrapped.  A few abbreviations (``e.g.``, ``i.e.``, ``etc.``) do not end a sentence when
a lowercase word follows.  Sentences are packed greedily into chunks of at most ``chunk_size``
characters; each chunk after the first repeats the last whole sentences of the previous one, up to
``overlap`` characters.  A sentence longer than ``chunk_size`` (typically a block of code) is split at
line breaks, then at word boundaries, and a word longer than that (a URL, CJK text without
punctuation) is cut hard.
"""

from __future__ import annotations

import re

from .errors import InvalidInputError

__all__ = ["chunk_text", "split_sentences"]

# End of a sentence: terminal punctuation + closers + whitespace, CJK terminal punctuation, or a blank line.
_END = re.compile(r"[.!?][\"'”’)\]]*\s+|[。！？][\"'”’)\]」』]*\s*|\n[ \t\r\f\v]*\n\s*")
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "mr.", "mrs.", "dr.", "no."})
_FALLBACKS = (re.compile(r"\s*\n\s*"), re.compile(r"\s+"))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the sentences of ``text``, without surrounding whitespace, in order.

    Example:
        >>> t = "One. Two!\\nThree"
        >>> [t[a:b] for a, b in split_sentences(t)]
        ['One.', 'Two!', 'Three']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        if text[m.start()] == "." and _is_abbreviation(text, start, m):
            continue
        _add_span(text, start, m.end(), spans)
        start = m.end()
    _add_span(text, start, len(text), spans)
    return spans


def _is_abbreviation(text: str, start: int, m: re.Match[str]) -> bool:
    nxt = m.end()
    if nxt >= len(text) or not text[nxt].islower():
        return False
    window = max(start, m.start() - 8)  # the longest abbreviation is short: look back a few chars only
    word = text[window : m.start() + 1].split()
    return bool(word) and word[-1].lower() in _ABBREVIATIONS


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        a = start + (len(piece) - len(piece.lstrip()))
        spans.append((a, a + len(stripped)))


def _fit(text: str, span: tuple[int, int], size: int, level: int = 0) -> list[tuple[int, int]]:
    """Split a span longer than ``size`` at line breaks, then spaces, cutting over-long words hard."""
    a, b = span
    if b - a <= size:
        return [span]
    if level >= len(_FALLBACKS):
        return [(k, min(k + size, b)) for k in range(a, b, size)]
    parts: list[tuple[int, int]] = []
    pos = a
    for m in _FALLBACKS[level].finditer(text, a, b):
        if m.start() > pos:
            parts.append((pos, m.start()))
        pos = m.end()
    if pos < b:
        parts.append((pos, b))
    pieces = [p for part in parts for p in _fit(text, part, size, level + 1)]
    out: list[tuple[int, int]] = []
    for ps, pe in pieces:  # greedy: glue neighbouring pieces while they fit
        if out and pe - out[-1][0] <= size:
            out[-1] = (out[-1][0], pe)
        else:
            out.append((ps, pe))
    return out


def chunk_text(text: str, chunk_size: int = 512, overlap: int = 50) -> list[str]:
    """Split ``text`` into chunks of at most ``chunk_size`` characters, overlapping by about ``overlap``.

    Chunks start and end on sentence boundaries where possible (then words, then characters), and the
    overlap is the last whole sentences of the previous chunk that fit in ``overlap`` characters (none
    when its last sentence is longer).  Whitespace-only text gives no chunks.  Deterministic.

    Example:
        >>> chunk_text("One. Two. Three.", chunk_size=10, overlap=0)
        ['One. Two.', 'Three.']
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, got {type(text).__name__}.")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise InvalidInputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap < chunk_size:
        raise InvalidInputError(f"overlap must be >= 0 and smaller than chunk_size ({chunk_size}), got {overlap!r}.")
    units: list[tuple[int, int]] = []
    for span in split_sentences(text):
        units.extend([span] if span[1] - span[0] <= chunk_size else _fit(text, span, chunk_size))
    chunks: list[str] = []
    i, n = 0, len(units)
    while i < n:
        j = i + 1  # units[i:j] form the chunk; always at least one unit, which fits by construction
        while j < n and units[j][1] - units[i][0] <= chunk_size:
            j += 1
        chunks.append(text[units[i][0] : units[j - 1][1]])
        if j >= n:
            break
        # Next chunk: the longest tail of whole sentences within `overlap` that still leaves room for
        # the next new unit, so every chunk makes progress.
        nxt = j
        while nxt - 1 > i and units[j - 1][1] - units[nxt - 1][0] <= overlap \
                and units[j][1] - units[nxt - 1][0] <= chunk_size:
            nxt -= 1
        i = nxt
    return chunks
