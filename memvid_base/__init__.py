"""memvid_base: text chunks stored as QR codes in MP4 video, searched through a Chroma index.

The video is the source of truth: every search decodes its results from the frames.
"""

from . import _aliases
from .chat import MemvidChat, chat_with_memory, create_chat_model, quick_chat
from .chunking import chunk_text
from .config import VideoSettings
from .embeddings import DEFAULT_DIMENSION, DEFAULT_MODEL_NAME, Embedder
from .encoder import MemvidEncoder
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
    UnsupportedCodecError,
    VersionNotAvailableError,
)
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

_aliases.install()  # memvid_base.files.layout and the other 0.2 module paths keep importing


def __getattr__(name: str) -> object:
    if name == "MemvidInteractive":  # imports gradio, which is slow and optional
        from .apps.interactive import MemvidInteractive

        return MemvidInteractive
    raise AttributeError(name)


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
    "quick_chat",
    "relevance",
    "resolve_paths",
    "source_label",
]
