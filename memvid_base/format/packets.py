"""Reading one frame without seeking: its packet's bytes straight from the file, decoded on its own.

Every frame of a memvid segment is a keyframe, so each packet decodes without any other.  The
file's sample table gives every packet's offset and size (read by
:mod:`~memvid_base.format.mp4_samples`, or by ffmpeg when it opened the file); :class:`PacketIndex`
reads those bytes with one ``seek`` + ``read`` on the file (a local file or a
:class:`~memvid_base.remote.range_file.RangeFile`) and hands them to a long-lived decoder: libdav1d
itself for AV1 (:mod:`~memvid_base.format.dav1d`), PyAV for every other codec
(:mod:`~memvid_base.format.pyav_frames`).  That skips the demuxer's seek and its read-ahead, which
cost about as much as the decode.

Nothing read from the file is trusted: a packet's size is capped and must lie inside the file, the
decoded frame must carry the packet's timestamp and the segment's frame size, and a file whose index
lists any frame that is not a keyframe is not read this way at all (the reader seeks instead).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import BinaryIO, Protocol

import numpy as np

from ..errors import FrameDecodeError

MAX_PACKET_BYTES = 16 * 1024 * 1024  # one compressed frame; ours are a few KiB (a raw 2048 px gray frame is 4 MiB)
_KEEP_DECODERS = 4  # idle decoders kept per segment: one per thread decoding a query's frames at once


class FrameDecoder(Protocol):
    """Turns one keyframe packet into its grayscale pixels; used by one thread at a time."""

    def decode(self, packet: bytes, pts: int) -> np.ndarray:
        """The packet's frame as ``VideoFrame.to_ndarray(format="gray")`` would give it.

        Raises:
            FrameDecodeError: it does not decode to exactly one frame with timestamp ``pts`` and
                the track's size (the message says what it decoded to).
        """
        ...

    def close(self) -> None:
        """Free the decoder."""
        ...


class PacketIndex:
    """Byte ranges of a segment's frames, in frame order, and the decoders that turn them into pixels.

    Thread-safe: reads of the file are serialised; decodes run in parallel, each on its own decoder.
    """

    def __init__(
        self,
        spans: list[tuple[int, int, int]],
        file: BinaryIO,
        file_size: int,
        make_decoder: Callable[[], FrameDecoder],
        name: str,
    ) -> None:
        self.spans = spans  # (pts, offset, size) of each frame
        self._file = file
        self._file_size = file_size
        self._make_decoder = make_decoder
        self._name = name
        self._io_lock = threading.Lock()
        self._idle: list[FrameDecoder] = []
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
        packet = self.packet(index)
        try:
            decoder = self._take()
        except FrameDecodeError as exc:
            raise FrameDecodeError(f"Frame {index} of {self._name} could not be decoded: {exc}.") from exc
        try:
            gray = decoder.decode(packet, pts)
        except FrameDecodeError as exc:
            decoder.close()  # only a decoder that gave exactly its one frame is known to hold nothing back
            raise FrameDecodeError(f"Frame {index} of {self._name} could not be decoded: {exc}. The file is damaged.") from exc
        self._give_back(decoder)
        return gray

    def _take(self) -> FrameDecoder:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._make_decoder()

    def _give_back(self, decoder: FrameDecoder) -> None:
        with self._idle_lock:
            if len(self._idle) < _KEEP_DECODERS:
                self._idle.append(decoder)
                return
        decoder.close()

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for decoder in idle:
            decoder.close()
