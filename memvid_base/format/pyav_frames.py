"""Frames decoded through PyAV: every codec ffmpeg knows, and files that need ffmpeg's demuxer.

The reader (:mod:`memvid_base.format.video`) uses this for H.264, H.265, MPEG-4 and remote files,
and for any file :mod:`~memvid_base.format.mp4_samples` does not read itself; AV1 frames of a local
memory decode through libdav1d directly (:mod:`~memvid_base.format.dav1d`) and never import PyAV.
"""

from __future__ import annotations

import os
import threading
from typing import BinaryIO

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter

from ..errors import FrameDecodeError
from .packets import PacketIndex

av.logging.set_level(av.logging.ERROR)
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise

_CONVERT_LOCK = threading.Lock()
# What PyAV may raise on a hostile file besides FFmpegError (a missing codec context, an odd index entry...):
# reported as a damaged file, never as a traceback.
HOSTILE = (av.error.FFmpegError, IndexError, AttributeError, TypeError, ValueError, OverflowError, MemoryError)


def gray_pixels(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """``frame.to_ndarray(format="gray")``, pixel for pixel, through a kept converter.

    ``to_ndarray`` builds a new swscale context for every frame, which costs more than decoding a
    small frame; a ``VideoReformatter`` keeps its context while the frame format stays the same.
    Conversions are serialised (they take ~0.1 ms): with one reformatter per decoder, two threads
    converting at once crashed PyAV 18 (segfault) in a stress test.
    """
    with _CONVERT_LOCK:
        return reformatter.reformat(frame, format="gray", threads=1).to_ndarray()  # type: ignore[no-any-return]


class PyAVDecoder:
    """One ffmpeg decoder of a stream's keyframe packets (a :class:`~memvid_base.format.packets.FrameDecoder`)."""

    def __init__(self, codec_name: str, extradata: bytes | None, time_base: object, dims: tuple[int, int]) -> None:
        decoder = av.CodecContext.create(codec_name, "r")
        assert isinstance(decoder, VideoCodecContext)
        if extradata:
            decoder.extradata = extradata
        decoder.thread_count = 1  # frames are small: worker threads cost more than they give, and we decode in parallel
        decoder.flags |= av.codec.context.Flags.low_delay
        self._decoder = decoder
        self._reformatter = VideoReformatter()
        self._time_base = time_base
        self._dims = dims  # the stream's width and height, as its header declares them

    def decode(self, packet: bytes, pts: int) -> np.ndarray:
        """The packet's one frame in grayscale (see :class:`~memvid_base.format.packets.FrameDecoder`)."""
        data = av.Packet(packet)
        data.pts = data.dts = pts
        data.time_base = self._time_base  # type: ignore[assignment]
        try:
            frames = self._decoder.decode(data)
            if not frames:  # a decoder that holds a frame back gives it up when drained
                frames = self._decoder.decode(None)
                self._decoder.flush_buffers()
        except av.error.FFmpegError as exc:
            raise FrameDecodeError(str(exc)) from exc
        if len(frames) != 1:
            raise FrameDecodeError(f"it decoded to {len(frames)} frames, not one")
        frame = frames[0]
        if not isinstance(frame, av.VideoFrame) or frame.pts != pts or (frame.width, frame.height) != self._dims:
            raise FrameDecodeError(
                f"it decoded to something other than itself (pts {frame.pts}, "
                f"{getattr(frame, 'width', '?')}x{getattr(frame, 'height', '?')})"
            )
        return gray_pixels(frame, self._reformatter)

    def close(self) -> None:
        """Nothing to free explicitly: PyAV frees the codec context with the object."""


def packet_index(container: av.container.InputContainer, file: BinaryIO, name: str) -> PacketIndex | None:
    """A :class:`PacketIndex` over ``file`` for the container's first video stream, or None to seek instead.

    None when the index lists a frame that is not a keyframe (not a file memvid wrote: a frame may then
    need the ones before it), or when the stream has no decoder.

    Args:
        container: the open container (its index was read when it opened; no packet is read here).
        file: the same file, opened separately, binary, seekable.
        name: the file's name for error messages.
    """
    stream = container.streams.video[0]
    entries = [e for e in stream.index_entries if e.size > 0 and not e.is_discard]
    if not entries or not all(e.is_keyframe for e in entries):
        return None
    spans = sorted((int(e.timestamp), int(e.pos), int(e.size)) for e in entries)
    size = int(file.seek(0, os.SEEK_END))
    codec_name = stream.codec_context.name
    extradata = stream.codec_context.extradata
    dims = (int(stream.codec_context.width), int(stream.codec_context.height))
    time_base = stream.time_base
    return PacketIndex(spans, file, size, lambda: PyAVDecoder(codec_name, extradata, time_base, dims), name)
