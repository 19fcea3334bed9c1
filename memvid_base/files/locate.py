"""Whether a memory exists at a path: the one rule every surface asks, never the file system directly.

A memory is its MP4 (every other file is a cache), so a memory exists where

* its index exists (the cache folder's ``index.json``, an explicit index, or the earlier layout's
  ``kb_index.json`` beside the video), or
* its MP4 exists and carries memvid's box (a copied or downloaded ``kb.mp4`` with no cache), or
* its segments folder holds segment files (a memory whose base file was lost mid-write), or
* it is an ``http(s)://`` URL (only a request can tell; opening it says).

Anything else at the video's path is *foreign*: an ordinary video, or a file that is no MP4 at all.
Nothing creates over a memory or a foreign file without being told to (``overwrite=True``,
``--overwrite``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import CorruptMemoryError, InvalidInputError, MemoryExistsError, MemoryNotFoundError, NotAMemoryError
from ..format.container import box_head
from .layout import resolve_paths

State = Literal["memory", "absent", "foreign"]


@dataclass(frozen=True)
class Location:
    """What is at a memory's paths.

    Attributes:
        video: The memory's MP4 (or its URL, as given).
        index: Its manifest path (explicit, earlier layout, or in the cache folder).
        state: ``"memory"``, ``"absent"`` (nothing there) or ``"foreign"`` (a file that is not a memory).
        why: For a foreign file, what it is, in words fit for an error message.
    """

    video: Path
    index: Path
    state: State
    why: str = ""

    @property
    def exists(self) -> bool:
        return self.state == "memory"

    def require(self) -> Location:
        """This location if a memory is there, else the error that says what is there and what to do.

        Raises:
            MemoryNotFoundError: Nothing is at the paths.
            NotAMemoryError: A file that is not a memvid memory is at the video's path.
        """
        if self.state == "absent":
            raise MemoryNotFoundError(
                f"No memory at {self.video}: neither the video nor its index ({self.index}) exists. Build one with "
                f"`memvid encode FILES -o {self.video}`, MemvidEncoder.build_video or Memory.create."
            )
        if self.state == "foreign":
            raise NotAMemoryError(f"{self.video} is not a memvid memory: {self.why}")
        return self

    def refuse_to_create(self, overwrite: bool = False) -> None:
        """Raise unless a new memory may be written at these paths (nothing there, or ``overwrite``).

        Raises:
            MemoryExistsError: A memory is there (open it instead, or overwrite it on purpose).
            NotAMemoryError: Another file is there (it is never replaced without ``overwrite``).
        """
        if overwrite or self.state == "absent":
            return
        if self.state == "memory":
            raise MemoryExistsError(
                f"A memory already exists at {self.video}. Open it with Memory({str(self.video)!r}) (or `--append` on "
                "the command line), or replace it on purpose with overwrite=True (`--overwrite`)."
            )
        raise NotAMemoryError(
            f"{self.video} exists and is not a memvid memory ({self.why}); refusing to write over it. Choose another "
            "name, or replace the file on purpose with overwrite=True (`--overwrite`)."
        )


def _describe_foreign(video: Path, damage: CorruptMemoryError | None) -> str:
    """What a file without a readable memvid box is, for the error message."""
    try:
        with open(video, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if head[4:8] != b"ftyp":
        return "it is not an MP4 file at all"
    if damage is not None:
        return f"it is an MP4 whose box structure is damaged ({damage}); if it was a memory, restore it from a copy"
    return ("it is an MP4 video without memvid's data box (an ordinary video, or one written by memvid before 0.2 "
            "whose index file is missing: restore that index beside it)")


def _has_segments(video: Path) -> bool:
    folder = video.with_name(f"{video.stem}_segments")
    return folder.is_dir() and not folder.is_symlink() and any(folder.glob("*.mp4"))


def locate(video_file: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> Location:
    """What is at a memory's paths: a memory, nothing, or a foreign file (see the module docstring).

    Args:
        video_file: The memory's MP4, its index, or an ``http(s)://`` URL.
        index_file: The manifest path, when not the default.

    Returns:
        The :class:`Location`; reads at most a few box headers of the video.

    Example:
        >>> locate("/no/such/kb.mp4").state
        'absent'
    """
    from ..remote.range_http import is_remote

    if is_remote(video_file):
        return Location(Path(str(video_file)), Path(), "memory")
    video, index = resolve_paths(video_file, index_file)
    if index.is_file() and not index.is_symlink():
        return Location(video, index, "memory")
    if not video.exists():
        return Location(video, index, "memory" if _has_segments(video) else "absent")
    if not video.is_file():
        return Location(video, index, "foreign", "it is a folder, not an MP4 file")
    damage: CorruptMemoryError | None = None
    try:
        boxed = box_head(video, 1) is not None
    except CorruptMemoryError as exc:
        boxed, damage = False, exc
    except OSError as exc:
        raise InvalidInputError(f"{video} cannot be read ({exc.strerror or exc}).") from exc
    if boxed or _has_segments(video):
        return Location(video, index, "memory")
    return Location(video, index, "foreign", _describe_foreign(video, damage))


def memory_exists(video_file: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> bool:
    """Whether a memory is at these paths (its MP4 or its index): the question every surface asks.

    Example:
        >>> memory_exists("/no/such/kb.mp4")
        False
    """
    return locate(video_file, index_file).exists
