"""Reading one frame without seeking: its packet's bytes straight from the file, decoded on its own.

Every frame of a memvid segment is a keyframe, so each packet decodes without any other.  The
container's index (the MP4 sample table, which ffmpeg parsed when it opened the file) gives every
packet's offset and size; :class:`PacketIndex` reads those bytes with one ``seek`` + ``read`` on the
file (a local file or a :class:`~memvid_base.remote.range_file.RangeFile`) and hands them to a long-lived
decoder.  That skips the demuxer's seek and its read-ahead, which cost about as much as the decode.

Nothing read from the file is trusted: a packet's size is capped and must lie inside the file, the
decoded frame must carry the packet's timestamp and the segment's frame size, and a file whose index
lists any frame that is not a keyframe is not read this way at all (:func:`packet_index` returns
None and the reader seeks instead).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import BinaryIO

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter

from ..errors import FrameDecodeError

MAX_PACKET_BYTES = 16 * 1024 * 1024  # one compressed frame; ours are a few KiB (a raw 2048 px gray frame is 4 MiB)
_CONVERT_LOCK = threading.Lock()
_KEEP_DECODERS = 4  # idle decoders kept per segment: one per thread decoding a query's frames at once


def gray_pixels(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """``frame.to_ndarray(format="gray")``, pixel for pixel, through a kept converter.

    ``to_ndarray`` builds a new swscale context for every frame, which costs more than decoding a
    small frame; a ``VideoReformatter`` keeps its context while the frame format stays the same.
    Conversions are serialised (they take ~0.1 ms): with one reformatter per decoder, two threads
    converting at once crashed PyAV 18 (segfault) in a stress test.
    """
    with _CONVERT_LOCK:
        return reformatter.reformat(frame, format="gray", threads=1).to_ndarray()  # type: ignore[no-any-return]


class PacketIndex:
    """Byte ranges of a segment's frames, in frame order, and the decoders that turn them into pixels.

    Thread-safe: reads of the file are serialised; decodes run in parallel, each on its own decoder.
    """

    def __init__(
        self,
        spans: list[tuple[int, int, int]],
        file: BinaryIO,
        file_size: int,
        make_decoder: Callable[[], VideoCodecContext],
        time_base: object,
        dims: tuple[int, int],
        name: str,
    ) -> None:
        self.spans = spans  # (pts, offset, size) of each frame
        self._file = file
        self._file_size = file_size
        self._make_decoder = make_decoder
        self._time_base = time_base
        self._dims = dims  # the stream's width and height, as its header declares them
        self._name = name
        self._io_lock = threading.Lock()
        self._idle: list[tuple[VideoCodecContext, VideoReformatter]] = []
        self._idle_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.spans)

    def packet(self, index: int) -> bytes:
        """The compressed bytes of frame ``index``, read with bounded allocation."""
        _, offset, size = self.spans[index]
        if not 0 < size <= MAX_PACKET_BYTES or offset < 0 or offset + size > self._file_size:
            raise FrameDecodeError(
                f"Frame {index} of {self._name} claims {size} bytes at offset {offset}, outside the file's "
                f"{self._file_size} bytes or over the {MAX_PACKET_BYTES}-byte limit: the file is damaged."
            )
        parts: list[bytes] = []
        got = 0
        try:
            with self._io_lock:
                self._file.seek(offset)
                while got < size:  # a raw or remote file may return short reads
                    piece = self._file.read(size - got)
                    if not piece:
                        break
                    parts.append(piece)
                    got += len(piece)
        except (OSError, ValueError) as exc:
            raise FrameDecodeError(f"Frame {index} of {self._name} could not be read: {exc}") from exc
        if got != size:
            raise FrameDecodeError(f"Frame {index} of {self._name} is cut short: the file is truncated.")
        return b"".join(parts)

    def read(self, index: int) -> np.ndarray:
        """Decode frame ``index`` on its own and return it as grayscale (as ``VideoFrame.to_ndarray(format="gray")``)."""
        pts = self.spans[index][0]
        packet = av.Packet(self.packet(index))
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base  # type: ignore[assignment]
        decoder, reformatter = self._take()
        try:
            frames = decoder.decode(packet)
            if not frames:  # a decoder that holds a frame back gives it up when drained
                frames = decoder.decode(None)
                decoder.flush_buffers()
        except av.error.FFmpegError as exc:
            raise FrameDecodeError(f"Frame {index} of {self._name} could not be decoded: {exc}") from exc
        if len(frames) != 1:
            raise FrameDecodeError(f"Frame {index} of {self._name} decoded to {len(frames)} frames, not one: the file is damaged.")
        self._give_back((decoder, reformatter))  # only a decoder that gave exactly one frame is known to hold nothing back
        frame = frames[0]
        if not isinstance(frame, av.VideoFrame) or frame.pts != pts or (frame.width, frame.height) != self._dims:
            raise FrameDecodeError(
                f"Frame {index} of {self._name} decoded to something other than itself (pts {frame.pts}, "
                f"{getattr(frame, 'width', '?')}x{getattr(frame, 'height', '?')}): the file is damaged."
            )
        return gray_pixels(frame, reformatter)

    def _take(self) -> tuple[VideoCodecContext, VideoReformatter]:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._make_decoder(), VideoReformatter()

    def _give_back(self, decoder: tuple[VideoCodecContext, VideoReformatter]) -> None:
        with self._idle_lock:
            if len(self._idle) < _KEEP_DECODERS:
                self._idle.append(decoder)

    def close(self) -> None:
        with self._idle_lock:
            self._idle.clear()


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

    def make_decoder() -> VideoCodecContext:
        decoder = av.CodecContext.create(codec_name, "r")
        assert isinstance(decoder, VideoCodecContext)
        if extradata:
            decoder.extradata = extradata
        decoder.thread_count = 1  # frames are small: worker threads cost more than they give, and we decode in parallel
        decoder.flags |= av.codec.context.Flags.low_delay
        return decoder

    dims = (int(stream.codec_context.width), int(stream.codec_context.height))
    return PacketIndex(spans, file, size, make_decoder, stream.time_base, dims, name)
