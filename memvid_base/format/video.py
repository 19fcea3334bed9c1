"""Frames to video and back, with PyAV (which bundles ffmpeg with libsvtav1, libdav1d, x264 and x265).

Every frame is a keyframe (GOP 1): QR frames share almost nothing, so inter prediction saves little,
and all-intra makes a seek land exactly on the requested frame.  The reader still checks the
timestamp of every decoded frame and the header inside its payload.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..config import VideoSettings
from ..errors import FrameDecodeError, MemoryNotFoundError
from .opening import frame_timestamps, is_remote, open_video, range_file_of
from .packets import PacketIndex, gray_pixels, packet_index

SEQUENTIAL_FETCH_SIZE = 1 << 20  # a remote file decoded from start to end (verify, metadata backfill)

av.logging.set_level(av.logging.ERROR)
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise


def _encoder_options(settings: VideoSettings) -> dict[str, str]:
    preset = settings.preset
    opts = dict(preset.options)
    opts["g"] = "1"
    if preset.encoder == "mpeg4":  # MPEG-4 part 2 has no CRF: crf is its fixed quantiser (2 best .. 31)
        q = str(min(31, max(2, settings.crf)))
        opts.update(qmin=q, qmax=q)
    else:
        opts["crf"] = str(settings.crf)
    return opts


def write_video(path: Path, frames: Iterable[np.ndarray], settings: VideoSettings) -> int:
    """Encode grayscale frames into an MP4 at ``path``; returns the number of frames written."""
    size = settings.frame_size
    count = 0
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(settings.preset.encoder, rate=Fraction(settings.fps))
        assert isinstance(stream, av.VideoStream)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(_encoder_options(settings))
        chroma = np.full((size // 2, size), 128, dtype=np.uint8)  # U and V planes, neutral grey
        for gray in frames:
            frame = av.VideoFrame.from_ndarray(np.concatenate([gray, chroma]), format="yuv420p")
            frame.pts = count
            frame.time_base = Fraction(1, settings.fps)
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


# What PyAV may raise on a hostile file besides FFmpegError (a missing codec context, an odd index entry...):
# reported as a damaged file, never as a traceback.
_HOSTILE = (av.error.FFmpegError, IndexError, AttributeError, TypeError, ValueError, OverflowError, MemoryError)


class VideoReader:
    """Random and sequential access to the frames of one MP4 segment. Thread-safe.

    Args:
        path: a local path or an http(s) URL.
        frames: the frames the segment holds, when known (its box or manifest says): a file whose
            sample table declares more is refused before ffmpeg indexes it.
    """

    def __init__(self, path: Path | str, frames: int | None = None) -> None:
        self.path: Path | str = path if is_remote(path) else Path(path)
        self.frames = frames
        if isinstance(self.path, Path) and not self.path.is_file():
            raise MemoryNotFoundError(f"Video segment {self.path} is missing. Restore it from a backup or rebuild.")
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = None
        self._pts: list[int] = []
        self._packets: PacketIndex | None = None
        self._file: BinaryIO | None = None
        self._reformatter = VideoReformatter()  # used under self._lock only
        self.direct = True  # read frames as packets (see packets.py) when the file allows; False always seeks

    def _open(self) -> av.container.InputContainer:
        if self._container is None:
            try:
                container = open_video(self.path, self.frames)
            except FileNotFoundError as exc:  # removed since it was checked (a compaction): readers retry on this
                raise MemoryNotFoundError(f"Video segment {self.path} is missing. Restore it from a backup or rebuild.") from exc
            except _HOSTILE as exc:
                raise FrameDecodeError(f"{self.path} is not a readable video ({exc}). It may be truncated or corrupt.") from exc
            try:
                self._pts = frame_timestamps(container)  # from the index: demuxing would read every packet
            except _HOSTILE as exc:
                container.close()
                raise FrameDecodeError(f"{self.path} is not a readable video ({exc}). It may be truncated or corrupt.") from exc
            if self.direct:
                try:
                    self._open_packets(container)
                except FileNotFoundError as exc:
                    container.close()
                    raise MemoryNotFoundError(f"Video segment {self.path} is missing. Restore it from a backup or rebuild.") from exc
            self._container = container
        return self._container

    def _open_packets(self, container: av.container.InputContainer) -> None:
        # A remote container's RangeFile serves the packets too: once they are read directly, the
        # container never reads again, so the two never move its position under each other.
        remote = range_file_of(container)
        file: BinaryIO = remote if remote is not None else open(self.path, "rb")  # type: ignore[assignment]
        try:
            self._packets = packet_index(container, file, str(self.path))
        except (OSError, *_HOSTILE):
            self._packets = None
        if self._packets is None and remote is None:
            file.close()
        elif remote is None:
            self._file = file

    def read(self, index: int) -> np.ndarray:
        """Return frame ``index`` as a grayscale array: its packet decoded alone, or a seek when the file needs one."""
        with self._lock:
            self._open()
            packets = self._packets
            if not 0 <= index < len(self._pts):
                raise FrameDecodeError(
                    f"Frame {index} is missing from {self.path} ({len(self._pts)} frames): the file is truncated."
                )
        if packets is not None:
            return packets.read(index)  # outside the lock: a query's frames decode in parallel
        return self._seek_read(index)

    def _seek_read(self, index: int) -> np.ndarray:
        with self._lock:
            container = self._open()
            if not 0 <= index < len(self._pts):
                raise FrameDecodeError(
                    f"Frame {index} is missing from {self.path} ({len(self._pts)} frames): the file is truncated."
                )
            target = self._pts[index]
            stream = container.streams.video[0]
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.pts is not None and frame.pts >= target:
                        if frame.pts != target:
                            break
                        return gray_pixels(frame, self._reformatter)
            except _HOSTILE as exc:
                raise FrameDecodeError(f"Frame {index} of {self.path} could not be decoded: {exc}") from exc
            raise FrameDecodeError(f"Seeking to frame {index} of {self.path} did not land on it; the file is damaged.")

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Decode every frame in order (used by verification)."""
        try:
            # Read ahead in large requests over HTTP: every byte is wanted, and one request per 8 KiB is slow.
            options = {"fetch_size": SEQUENTIAL_FETCH_SIZE} if is_remote(self.path) else {}
            container = open_video(self.path, self.frames, **options)
            reformatter = VideoReformatter()
            try:
                for frame in container.decode(video=0):
                    yield gray_pixels(frame, reformatter)
            finally:
                remote = range_file_of(container)
                container.close()
                if remote is not None:
                    remote.close()
        except FileNotFoundError as exc:
            raise MemoryNotFoundError(f"Video segment {self.path} is missing. Restore it from a backup or rebuild.") from exc
        except _HOSTILE as exc:
            raise FrameDecodeError(f"{self.path} could not be decoded to the end: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._packets is not None:
                self._packets.close()
                self._packets = None
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._container is not None:
                remote = range_file_of(self._container)
                self._container.close()
                self._container = None
                if remote is not None:
                    remote.close()
