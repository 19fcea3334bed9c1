"""What every ``memvid`` subcommand shares: the user-error type, finding and opening a memory, output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import MemoryNotFoundError, MemvidError

if TYPE_CHECKING:
    from .memory import Memory

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
    from .layout import resolve_paths

    return resolve_paths(path, index)


def open_memory(path: str, index: str | None = None, **kwargs: Any) -> Memory:
    """Open an existing memory, with a CLI-shaped message when it is not there."""
    from .memory import Memory
    from .range_http import is_remote

    if is_remote(path):
        return Memory(path, **kwargs)  # read-only, with its caches in the user's cache folder
    video, index_path = memory_paths(path, index)
    if not index_path.is_file():
        if video.is_file() and index is None:
            return Memory(video, **kwargs)  # a bare MP4: its index and store are rebuilt from the file
        raise MemoryNotFoundError(
            f"{path}: no memory there (looked for {index_path}). Create one with `memvid encode FILES -o {video}`."
        )
    return Memory(video, index_path, **kwargs)


def print_json(data: Any, out: TextIO) -> None:
    """``data`` as indented JSON on ``out`` (anything JSON cannot spell is written as its ``str``)."""
    json.dump(data, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")
