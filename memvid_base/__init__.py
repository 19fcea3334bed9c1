"""memvid_base: text chunks stored as QR codes in MP4 video, searched through a Chroma index.

The video is the source of truth: every search decodes its results from the frames.
"""

from .chat import MemvidChat, chat_with_memory, quick_chat
from .chunking import chunk_text
from .config import VideoSettings
from .embeddings import Embedder
from .encoder import MemvidEncoder
from .errors import (
    CorruptMemoryError,
    DimensionMismatchError,
    FrameDecodeError,
    InvalidInputError,
    MemoryLockedError,
    MemoryNotFoundError,
    MemvidError,
    UnsupportedCodecError,
    VersionNotAvailableError,
)
from .memory import Chunk, Memory, VerifyReport
from .retriever import MemvidRetriever

__version__ = "0.2.0"


def __getattr__(name: str) -> object:
    if name == "MemvidInteractive":  # imports gradio, which is slow and optional
        from .interactive import MemvidInteractive

        return MemvidInteractive
    raise AttributeError(name)


__all__ = [
    "Chunk",
    "CorruptMemoryError",
    "DimensionMismatchError",
    "Embedder",
    "FrameDecodeError",
    "InvalidInputError",
    "Memory",
    "MemoryLockedError",
    "MemoryNotFoundError",
    "MemvidChat",
    "MemvidEncoder",
    "MemvidError",
    "MemvidInteractive",
    "MemvidRetriever",
    "UnsupportedCodecError",
    "VerifyReport",
    "VersionNotAvailableError",
    "VideoSettings",
    "chat_with_memory",
    "chunk_text",
    "quick_chat",
    "__version__",
]
