"""Every path of a memory, and the rule that no path read from a file leaves the memory's folder.

A memory named ``kb`` is, in its folder:

* ``kb.mp4``: the base segment (after a build or a compaction);
* ``kb_segments/<version>-<uid>.mp4``: segments appended later;
* ``kb_index.json``: the manifest, the commit point;
* ``kb_index_chroma/``: the vector store (its folder name is recorded in the manifest);
* ``kb_index.json.lock`` and ``kb_index.json.pending``: the writer's lock and its in-progress marker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_index_path(video_file: str | os.PathLike[str]) -> Path:
    """``kb.mp4`` -> ``kb_index.json`` beside it (the naming the original memvid used)."""
    video = Path(video_file)
    return video.with_name(f"{video.stem}_index.json")


def resolve_paths(path: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Accept either the video or the index path and return ``(video, index)``."""
    p = Path(path)
    if index_file is not None:
        return p, Path(index_file)
    if p.suffix == ".json":
        stem = p.stem[: -len("_index")] if p.stem.endswith("_index") else p.stem
        return p.with_name(f"{stem}.mp4"), p
    return p, default_index_path(p)


@dataclass(frozen=True)
class Layout:
    """Where each file of one memory lives."""

    video: Path
    index: Path

    @classmethod
    def of(cls, video_file: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> Layout:
        video, index = resolve_paths(video_file, index_file)
        return cls(video, index)

    @property
    def root(self) -> Path:
        """The folder every relative path in the manifest is relative to."""
        return self.index.parent

    @property
    def segments_dir(self) -> Path:
        return self.video.with_name(f"{self.video.stem}_segments")

    @property
    def lock(self) -> Path:
        return self.index.with_name(self.index.name + ".lock")

    @property
    def pending_marker(self) -> Path:
        """Present while a writer may have touched the store without committing."""
        return self.index.with_name(self.index.name + ".pending")

    @property
    def default_store_dir(self) -> str:
        return f"{self.index.stem}_chroma"

    @property
    def video_name(self) -> str:
        """The base video's path relative to :attr:`root`, as the manifest records it."""
        return os.path.relpath(self.video, self.root)

    def segment_path(self, version: int, uid: str) -> Path:
        return self.segments_dir / f"{version:08d}-{uid}.mp4"

    def promote_temp(self, uid: str) -> Path:
        return self.video.with_name(f".{self.video.name}.{uid}.tmp")

    def stale_promote_temps(self) -> list[Path]:
        return list(self.video.parent.glob(f".{self.video.name}.*.tmp"))

    def staging_index(self, uid: str) -> Path:
        return self.index.with_name(f".{self.index.name}.{uid}.building")

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def resolve(self, relative: str, field: str = "path") -> Path:
        """A manifest path, checked to stay inside the memory's folder."""
        return resolve_inside(self.root, relative, field)


def resolve_inside(root: Path, relative: str, field: str) -> Path:
    """``root / relative``, refusing any path that leaves ``root`` (absolute, ``..``, or through a symlink)."""
    from .errors import CorruptMemoryError

    if not isinstance(relative, str) or not relative or "\x00" in relative or os.path.isabs(relative):
        raise CorruptMemoryError(f"{field} {relative!r} is not a relative path inside the memory's folder {root}.")
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise CorruptMemoryError(
            f"{field} {relative!r} points outside the memory's folder {root}: refusing to touch it. "
            "The index was crafted or damaged; restore it from a trusted copy."
        )
    return target
