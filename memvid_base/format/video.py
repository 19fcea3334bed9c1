"""Frames to video and back: PyAV (which bundles ffmpeg with libsvtav1, libdav1d, x264 and x265) writes,
and reads decode each frame's packet on its own.

Every frame is a keyframe (GOP 1): QR frames share almost nothing, so inter prediction saves little,
and all-intra makes a seek land exactly on the requested frame.  The reader still checks the
timestamp of every decoded frame and the header inside its payload.

A local AV1 segment is read without PyAV: its sample table comes from
:mod:`~memvid_base.format.mp4_samples` and its frames from libdav1d (:mod:`~memvid_base.format.dav1d`),
which saves a fresh process PyAV's import.  Everything else goes through PyAV
(:mod:`~memvid_base.format.pyav_frames`), imported when first needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..config import VideoSettings
from ..errors import CorruptMemoryError, FrameDecodeError, MemoryNotFoundError
from ..remote.range_http import is_remote
from . import dav1d
from .mp4_samples import read_sample_table
from .mp4_tables import check_sample_tables
from .packets import PacketIndex

if TYPE_CHECKING:
    import av
    from av.video.reformatter import VideoReformatter

SEQUENTIAL_FETCH_SIZE = 1 << 20  # a remote file decoded from start to end (verify, metadata backfill)


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
    from fractions import Fraction

    import av

    from . import pyav_frames  # noqa: F401  (quiet ffmpeg's and SVT-AV1's logs before the encoder starts)

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
            raise MemoryNotFoundError(_missing(self.path))
        self._lock = threading.Lock()
        self._container: av.container.InputContainer | None = None
        self._count: int | None = None  # frames in the file, once opened
        self._pts: list[int] = []
        self._packets: PacketIndex | None = None
        self._file: BinaryIO | None = None
        self._reformatter: VideoReformatter | None = None  # the seek path's, used under self._lock only
        self.direct = True  # read frames as packets (see packets.py) when the file allows; False always seeks

    def _open_frames(self) -> None:
        """Under ``self._lock``: index the file's frames, without ffmpeg when the file allows."""
        if self._count is None and not (self.direct and self._open_native()):
            self._open()

    def _open_native(self) -> bool:
        """A local AV1 segment: its packets from our own reading of the sample table, decoded by libdav1d."""
        if not isinstance(self.path, Path) or not dav1d.available():
            return False
        try:
            file = open(self.path, "rb")
        except FileNotFoundError as exc:  # removed since it was checked (a compaction): readers retry on this
            raise MemoryNotFoundError(_missing(self.path)) from exc
        try:
            name = str(self.path)
            check_sample_tables(file, name, self.frames)  # the same check ffmpeg's path makes first
            try:
                table = read_sample_table(file, self.frames, codec=b"av01")
            except (CorruptMemoryError, ValueError, IndexError, OverflowError):
                table = None  # ffmpeg's path decides what is wrong with it (the tables were checked for size first)
            if table is None:
                file.close()
                return False
            width, height = table.width, table.height
            self._packets = PacketIndex(table.spans, file, int(file.seek(0, 2)), lambda: dav1d.Dav1dDecoder(width, height), name)
        except BaseException:
            file.close()
            raise
        self._file = file
        self._count = len(table.spans)
        return True

    def _open(self) -> av.container.InputContainer:
        """The file opened in ffmpeg (the seek path, and the packet path for what libdav1d does not read)."""
        if self._container is None:
            from .opening import frame_timestamps, open_video
            from .pyav_frames import HOSTILE

            try:
                container = open_video(self.path, self.frames)
            except FileNotFoundError as exc:  # removed since it was checked (a compaction): readers retry on this
                raise MemoryNotFoundError(_missing(self.path)) from exc
            except HOSTILE as exc:
                raise FrameDecodeError(
                    f"{self.path} is not a readable video ({exc}). It may be truncated or corrupt."
                ) from exc
            try:
                self._pts = frame_timestamps(container)  # from the index: demuxing would read every packet
            except HOSTILE as exc:
                container.close()
                raise FrameDecodeError(
                    f"{self.path} is not a readable video ({exc}). It may be truncated or corrupt."
                ) from exc
            if self.direct and self._packets is None:
                try:
                    self._open_packets(container)
                except FileNotFoundError as exc:
                    container.close()
                    raise MemoryNotFoundError(_missing(self.path)) from exc
            self._container = container
            if self._count is None:
                self._count = len(self._pts)
        return self._container

    def _open_packets(self, container: av.container.InputContainer) -> None:
        from .opening import range_file_of
        from .pyav_frames import HOSTILE, packet_index

        # A remote container's RangeFile serves the packets too: once they are read directly, the
        # container never reads again, so the two never move its position under each other.
        remote = range_file_of(container)
        file: BinaryIO = remote if remote is not None else open(self.path, "rb")  # type: ignore[assignment]
        try:
            self._packets = packet_index(container, file, str(self.path))
        except (OSError, *HOSTILE):
            self._packets = None
        if self._packets is None and remote is None:
            file.close()
        elif remote is None:
            self._file = file

    def read(self, index: int) -> np.ndarray:
        """Return frame ``index`` as a grayscale array: its packet decoded alone, or a seek when the file needs one."""
        with self._lock:
            self._open_frames()
            packets, count = self._packets, self._count
        if count is None or not 0 <= index < count:
            raise FrameDecodeError(
                f"Frame {index} is missing from {self.path} ({count} frames): the file is truncated."
            )
        if packets is not None:
            return packets.read(index)  # outside the lock: a query's frames decode in parallel
        return self._seek_read(index)

    def _seek_read(self, index: int) -> np.ndarray:
        from .pyav_frames import HOSTILE, gray_pixels

        with self._lock:
            container = self._open()
            if not 0 <= index < len(self._pts):
                raise FrameDecodeError(
                    f"Frame {index} is missing from {self.path} ({len(self._pts)} frames): the file is truncated."
                )
            if self._reformatter is None:
                from av.video.reformatter import VideoReformatter

                self._reformatter = VideoReformatter()
            target = self._pts[index]
            stream = container.streams.video[0]
            try:
                container.seek(target, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.pts is not None and frame.pts >= target:
                        if frame.pts != target:
                            break
                        return gray_pixels(frame, self._reformatter)
            except HOSTILE as exc:
                raise FrameDecodeError(f"Frame {index} of {self.path} could not be decoded: {exc}") from exc
            raise FrameDecodeError(f"Seeking to frame {index} of {self.path} did not land on it; the file is damaged.")

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Decode every frame in order (verification, and the check after a write).

        A local file goes through the packet path, as searches read it, so what verification passes is what
        a search reads; a remote file, or one that needs seeking, is demuxed from start to end.
        """
        if not is_remote(self.path):
            with self._lock:
                self._open_frames()
                packets, count = self._packets, self._count
            if packets is not None and count is not None:
                for k in range(count):
                    yield packets.read(k)
                return
        yield from self._demuxed_frames()

    def _demuxed_frames(self) -> Iterator[np.ndarray]:
        from av.video.reformatter import VideoReformatter

        from .opening import open_video, range_file_of
        from .pyav_frames import HOSTILE, gray_pixels

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
            raise MemoryNotFoundError(_missing(self.path)) from exc
        except HOSTILE as exc:
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
                from .opening import range_file_of

                remote = range_file_of(self._container)
                self._container.close()
                self._container = None
                if remote is not None:
                    remote.close()
            self._count = None


def _missing(path: Path | str) -> str:
    return f"Video segment {path} is missing. Restore it from a backup or rebuild."
