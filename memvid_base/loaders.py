"""Reading documents (PDF, Markdown, plain text) into ``(text, metadata)`` pieces."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, MemoryNotFoundError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".text", ".csv", ".json", ".html", ".htm", ".py"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".pdf"}


def read_pdf(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(page_text, {"file": name, "page": n})`` for each page with text (pages count from 1)."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:
        raise InvalidInputError(f"Reading {Path(path).name} needs pypdf: pip install 'memvid-rag[pdf]'.") from exc

    p = Path(path)
    if not p.is_file():
        raise MemoryNotFoundError(f"PDF {p} does not exist.")
    try:
        reader = PdfReader(str(p))
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))  # PasswordType.NOT_DECRYPTED is 0
            except Exception:
                ok = False
            if not ok:
                raise InvalidInputError(f"{p} is encrypted. Decrypt it first (e.g. `qpdf --decrypt`) and add it again.")
        pages = list(reader.pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InvalidInputError(f"{p} is not a readable PDF ({exc}). Check the file or convert it to text.") from exc
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many types on malformed content streams
            raise InvalidInputError(f"Page {number} of {p} could not be read ({exc}).") from exc
        if text.strip():
            yield text, {"file": p.name, "page": number}


def read_text_file(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    if not p.is_file():
        raise MemoryNotFoundError(f"File {p} does not exist.")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{p} is not UTF-8 text ({exc}). Convert it to UTF-8 first.") from exc


def iter_files(paths: list[str | os.PathLike[str]]) -> Iterator[Path]:
    """Expand files and folders (recursively) into supported files, in a stable order."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES and not child.name.startswith("."):
                    yield child
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InvalidInputError(f"{p}: unsupported file type {p.suffix!r}. Supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}.")
            yield p
        else:
            raise MemoryNotFoundError(f"{p} does not exist.")
