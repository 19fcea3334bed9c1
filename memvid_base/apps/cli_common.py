"""What every ``memvid`` subcommand shares: the user-error type, finding and opening a memory, output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import MemoryNotFoundError, MemvidError

if TYPE_CHECKING:
    from ..memory import Memory

PROG = "memvid"


class UserError(MemvidError):
    """A mistake in the command line itself (bad combination of options, nothing to encode...)."""


def quiet_libraries() -> None:
    """Silence the model-loading bars and chatter of the libraries memvid uses; memvid draws its own bars."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on an interactive terminal, and never with --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def one_line(message: str) -> str:
    """``message`` on one line, its whitespace runs collapsed to single spaces."""
    return " ".join(str(message).split())


def memory_paths(path: str, index: str | None = None) -> tuple[Path, Path]:
    """``(video, index)`` for a path that is either the video or the index."""
    from ..files.layout import resolve_paths

    return resolve_paths(path, index)


def open_memory(path: str, index: str | None = None, **kwargs: Any) -> Memory:
    """Open an existing memory (its MP4 alone is enough), with a CLI-shaped message when none is there."""
    from ..files.locate import locate
    from ..memory import Memory

    found = locate(path, index)
    if found.state == "absent":
        raise MemoryNotFoundError(
            f"{path}: no memory there (no such MP4, and no index at {found.index}). Create one with "
            f"`memvid encode FILES -o {found.video}`."
        )
    found.require()
    return Memory(path, index, **kwargs)


def resolve_embedding_model(spec: str | None) -> Any:
    """The ``--embedding-model`` value as something :class:`~memvid_base.embeddings.Embedder` accepts.

    Args:
        spec: ``None`` (the default MiniLM), a local SentenceTransformer path or name, or ``module:attribute``
            naming a callable ``list[str] -> vectors`` (for memories built with a custom embedding function).

    Returns:
        ``None``, the path string, or the imported callable.

    Raises:
        InvalidInputError: ``module:attribute`` could not be imported or is not callable.
    """
    import importlib

    from ..errors import InvalidInputError

    if not spec or ":" not in spec or os.path.exists(spec):
        return spec or None
    module_name, _, attr = spec.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"--embedding-model {spec!r}: cannot import it ({exc}).") from exc
    if not callable(target):
        raise InvalidInputError(f"--embedding-model {spec!r} is not callable.")
    return target


def print_json(data: Any, out: TextIO) -> None:
    """``data`` as indented JSON on ``out`` (anything JSON cannot spell is written as its ``str``)."""
    json.dump(data, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")
