"""Exceptions raised by memvid. Every message says what went wrong and what to do next."""

from __future__ import annotations


class MemvidError(Exception):
    """Base class for every error memvid raises on purpose."""


class InvalidInputError(MemvidError, ValueError):
    """The caller passed something memvid cannot store or use (empty text, bad metadata, bad settings)."""


class UnexpectedArgumentError(InvalidInputError, TypeError):
    """An argument the call does not take, or of a type it cannot use: a TypeError, as Python raises for one,
    and an InvalidInputError."""


class MemoryNotFoundError(MemvidError, FileNotFoundError):
    """The video or index file of a memory does not exist."""


class CorruptMemoryError(MemvidError):
    """A video, frame, index or store is damaged: memvid refuses to return anything from it."""


class FrameDecodeError(CorruptMemoryError):
    """A frame could not be read, its QR code could not be decoded, or its checksum failed."""


class DimensionMismatchError(MemvidError, ValueError):
    """The embedding model's dimension differs from the one the memory was built with."""


class MemoryLockedError(MemvidError):
    """Another process is writing to this memory right now."""


class VersionNotAvailableError(MemvidError, LookupError):
    """The requested version does not exist or was removed by compaction."""


class UnsupportedCodecError(InvalidInputError):
    """The video codec name is not one memvid can write and read back."""


class StoreError(MemvidError):
    """The vector store failed (a full disk, a store another process replaced, a damaged file)."""


class MemoryExistsError(MemvidError, FileExistsError):
    """A memory is already at the path a new one was to be created at (open it, or overwrite it on purpose)."""


class NotAMemoryError(CorruptMemoryError):
    """The file at a memory's path is not a memvid memory (an ordinary video, or not an MP4 at all)."""
