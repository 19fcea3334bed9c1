"""Opening a memory's videos for reading, local or over HTTP(S): the one door the reader goes through.

A local path opens directly; a URL opens through a :class:`~memvid_base.remote.range_file.RangeFile`, which
reads it with range requests.  The names of the remote pieces (``RangeFile``, its errors and the
cache folders in :mod:`memvid_base.remote.cache_dirs`) are re-exported here, so ``memvid_base.format.opening`` stays
the one module to import for reading remote memories.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from ..errors import FrameDecodeError
from ..remote.cache_dirs import cache_dir_for, cache_key, cache_root
from ..remote.range_file import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_DEADLINE,
    DEFAULT_FETCH_SIZE,
    DEFAULT_MAX_CACHED_BYTES,
    DEFAULT_TIMEOUT,
    MAX_BLOCK_SIZE,
    MAX_REDIRECTS,
    RangeFile,
)
from ..remote.range_http import RemoteFileChangedError, RemoteUnavailableError, display_url, is_remote
from .mp4_tables import check_sample_tables

if TYPE_CHECKING:
    import av

AVIO_BUFFER_SIZE = 4096  # PyAV's read size: smaller than a block, so a seek reads one frame, not 32 KiB past it

__all__ = [
    "AVIO_BUFFER_SIZE",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_DEADLINE",
    "DEFAULT_FETCH_SIZE",
    "DEFAULT_MAX_CACHED_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_BLOCK_SIZE",
    "MAX_REDIRECTS",
    "RangeFile",
    "RemoteFileChangedError",
    "RemoteUnavailableError",
    "cache_dir_for",
    "cache_key",
    "cache_root",
    "frame_timestamps",
    "is_remote",
    "open_remote",
    "open_video",
    "range_file_of",
]


def open_remote(
    url: str,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    fetch_size: int = DEFAULT_FETCH_SIZE,
    max_cached_bytes: int = DEFAULT_MAX_CACHED_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
) -> RangeFile:
    """Open ``url`` as a read-only :class:`RangeFile` (see there for the arguments and errors)."""
    return RangeFile(url, block_size=block_size, fetch_size=fetch_size, max_cached_bytes=max_cached_bytes, timeout=timeout,
                     deadline=deadline)


def open_video(
    source: str | os.PathLike[str] | RangeFile, frames: int | None = None, **remote_options: Any
) -> av.container.InputContainer:
    """Open a video for reading: a local path directly, a URL (or an open ``RangeFile``) through range requests.

    Before ffmpeg sees the file, its sample tables are checked against its size and ``frames``
    (:mod:`memvid_base.format.mp4_tables`): ffmpeg sizes its index by the counts a file declares.  The
    first video stream decodes in low-delay mode: the decoder then returns a frame as soon as it
    has its packet instead of reading a few packets ahead, which halves the bytes a remote seek costs
    (frames are all-intra, so nothing is lost).  The ``RangeFile`` behind a remote container is
    :func:`range_file_of` it; closing the container does not close it.

    Args:
        source: a local path, an http(s) URL, or a ``RangeFile``.
        frames: the frames the segment holds, when known: a sample table declaring more is refused.
        **remote_options: ``block_size``, ``fetch_size``, ``max_cached_bytes``, ``timeout``, ``deadline`` for a URL.

    Raises:
        RemoteUnavailableError, RemoteFileChangedError: from the ``RangeFile``.
        FrameDecodeError: the sample tables are out of bounds, or the file has no decodable video stream.
        av.error.FFmpegError: the bytes are not a readable video.
        FileNotFoundError: a local file is missing.
    """
    import av  # here, not at import: a local AV1 memory is read without PyAV (see video.py)

    from . import pyav_frames  # noqa: F401  (quiet ffmpeg's log before it opens anything)

    if isinstance(source, RangeFile):
        check_sample_tables(cast(BinaryIO, source), display_url(source.url), frames)
        source.seek(0)
        container = av.open(source, mode="r", buffer_size=AVIO_BUFFER_SIZE)
    elif is_remote(source):
        assert isinstance(source, str)
        remote = open_remote(source, **remote_options)
        try:
            return open_video(remote, frames)
        except BaseException:
            remote.close()
            raise
    else:
        with open(source, "rb") as fh:
            check_sample_tables(fh, os.fspath(source), frames)
        container = av.open(os.fspath(source), mode="r")
    try:
        stream = container.streams.video[0] if container.streams.video else None
        context = None if stream is None else stream.codec_context
        if context is None:  # no video track, or one whose codec ffmpeg does not know (an unknown fourcc)
            raise FrameDecodeError(
                f"{_name(source)} has no video stream memvid can decode (no video track, or an unknown codec); "
                "it is damaged or not a memvid segment."
            )
        context.flags |= av.codec.context.Flags.low_delay
    except BaseException:
        container.close()
        raise
    return container


def _name(source: str | os.PathLike[str] | RangeFile) -> str:
    return display_url(source.url) if isinstance(source, RangeFile) else os.fspath(source)


def range_file_of(container: av.container.InputContainer) -> RangeFile | None:
    """The ``RangeFile`` a container reads from, or None for a local file."""
    wrapper = getattr(container, "file", None)  # PyAV wraps Python file objects in a PyIOFile
    inner = getattr(wrapper, "file", None)
    return inner if isinstance(inner, RangeFile) else None


def frame_timestamps(container: av.container.InputContainer) -> list[int]:
    """The pts of every frame of the first video stream, from the container's index: no packet is read.

    Our segments are all-intra with no reordering, so the index's timestamps are the frames' pts (the
    reader still checks the pts of every frame it decodes).  Demuxing every packet instead, as a local
    reader may, would download a remote file whole.
    """
    stream = container.streams.video[0]
    return sorted(entry.timestamp for entry in stream.index_entries if entry.size > 0 and not entry.is_discard)
