"""memvid_base: text chunks stored as QR codes in MP4 video, searched through a Chroma index.

The video is the source of truth: every search decodes its results from the frames.

Names are imported on first use (PEP 562), so ``from memvid_base import Memory`` loads the reading
path only: a fresh process's first query does not wait for the encoder, chat or the model code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import _aliases
from .errors import (
    CorruptMemoryError,
    DimensionMismatchError,
    FrameDecodeError,
    InvalidInputError,
    MemoryExistsError,
    MemoryLockedError,
    MemoryNotFoundError,
    MemvidError,
    NotAMemoryError,
    StoreError,
    UnexpectedArgumentError,
    UnsupportedCodecError,
    VersionNotAvailableError,
)

if TYPE_CHECKING:
    from .apps.interactive import MemvidInteractive
    from .boundary import public_errors
    from .chat import MemvidChat, chat_with_memory, create_chat_model, quick_chat
    from .chunking import chunk_text
    from .config import VideoSettings
    from .embeddings import DEFAULT_DIMENSION, DEFAULT_MODEL_NAME, Embedder
    from .encoder import MemvidEncoder
    from .files.layout import resolve_paths
    from .files.locate import Location, locate, memory_exists
    from .index.vectors import RESERVED_PREFIX, and_where
    from .memory import Memory
    from .present import cite, human_bytes, info_rows, source_label
    from .reading import MemoryReader
    from .retriever import MemvidRetriever
    from .storage.maintenance import VerifyReport
    from .types import Chunk, relevance

__version__ = "0.2.0"

# Public name -> the module that defines it (relative to this package).
_LAZY = {
    "MemvidInteractive": ".apps.interactive",  # imports gradio, which is slow and optional
    "public_errors": ".boundary",  # for adapters: their bad arguments raise InvalidInputError too
    **dict.fromkeys(("MemvidChat", "chat_with_memory", "create_chat_model", "quick_chat"), ".chat"),
    "chunk_text": ".chunking",
    "VideoSettings": ".config",
    **dict.fromkeys(("DEFAULT_DIMENSION", "DEFAULT_MODEL_NAME", "Embedder"), ".embeddings"),
    "MemvidEncoder": ".encoder",
    "resolve_paths": ".files.layout",
    **dict.fromkeys(("Location", "locate", "memory_exists"), ".files.locate"),
    **dict.fromkeys(("RESERVED_PREFIX", "and_where"), ".index.vectors"),
    "Memory": ".memory",
    **dict.fromkeys(("cite", "human_bytes", "info_rows", "source_label"), ".present"),
    "MemoryReader": ".reading",
    "MemvidRetriever": ".retriever",
    "VerifyReport": ".storage.maintenance",
    **dict.fromkeys(("Chunk", "relevance"), ".types"),
}

_aliases.install()  # memvid_base.layout and the other 0.2 module paths keep importing


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memvid_base' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT_DIMENSION",
    "DEFAULT_MODEL_NAME",
    "RESERVED_PREFIX",
    "Chunk",
    "CorruptMemoryError",
    "DimensionMismatchError",
    "Embedder",
    "FrameDecodeError",
    "InvalidInputError",
    "Location",
    "Memory",
    "MemoryExistsError",
    "MemoryLockedError",
    "MemoryNotFoundError",
    "MemoryReader",
    "MemvidChat",
    "MemvidEncoder",
    "MemvidError",
    "MemvidInteractive",
    "MemvidRetriever",
    "NotAMemoryError",
    "StoreError",
    "UnexpectedArgumentError",
    "UnsupportedCodecError",
    "VerifyReport",
    "VersionNotAvailableError",
    "VideoSettings",
    "__version__",
    "and_where",
    "chat_with_memory",
    "chunk_text",
    "cite",
    "create_chat_model",
    "human_bytes",
    "info_rows",
    "locate",
    "memory_exists",
    "public_errors",
    "quick_chat",
    "relevance",
    "resolve_paths",
    "source_label",
]
