"""Every path of a memory, and the rule that no path read from a file leaves the memory's folder.

A memory is shared as a folder, so every path stored inside it (a segment's ``file``, the store's
``path``) comes from a stranger.  Such a path is accepted only in one canonical form: relative,
POSIX separators, no ``..``, ``.`` or empty components, no drive letter, no backslash, no NUL and
a bounded length.  :func:`safe_relative_path` checks that form without touching the disk when the
manifest is parsed; :func:`resolve_inside` checks it again just before a file is opened, and also
follows symbolic links so that a link planted in the folder cannot lead outside it either.

A memory whose video is ``kb.mp4`` is, in its folder (the *root*):

* ``kb.mp4``: the base segment (after a build or a compaction);
* ``kb_segments/<version>-<uid>.mp4``: segments appended later (data, not cache; absent until an append);
* ``.kb.mp4.memvid-cache/``: the cache folder, everything rebuilt from the MP4 files when it is deleted:

  * ``index.json``: the manifest, the commit point;
  * ``chroma/`` and ``chroma_<uid>/``: vector stores (the manifest records which one, relative to the root);
  * ``keywords/``: the keyword index, built on the first keyword search;
  * ``lock`` and ``pending``: the writer's lock and its in-progress marker;
  * ``staging-<uid>.json`` (with its ``.lock``) while a build runs, and ``promote-<uid>.tmp``
    while a segment is given the name ``kb.mp4``: temporary files renamed into place from the
    same filesystem.

The manifest is found at ``kb_index.json`` beside the video instead when that file exists (the
layout of earlier versions, and of the seed API's ``build_video("kb.mp4", "kb_index.json")``),
or wherever an explicit index path says; every other cache still lives in the cache folder.  The
root is the folder that holds the manifest, or the cache folder's parent when the manifest is in
the cache folder.  The cache folder is never followed when it is a symbolic link: such a memory is
refused.  A read-only or remote memory keeps the same cache files in its private folder under the
user's cache directory instead (:mod:`~memvid_base.remote.cache_dirs`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorruptMemoryError

MAX_PATH_CHARS = 1024  # far longer than any name memvid writes; bounds what a stranger's file can make us handle
_DRIVE = re.compile(r"^[A-Za-z]:")
_FIX = "Restore the index from a backup or rebuild the memory."


_SEGMENT_NAME = re.compile(r"(\d{8,})-[0-9a-f]{16}\.mp4")


def _problem(value: str) -> str | None:
    """Why ``value`` is not a canonical relative path inside a folder, or None when it is one."""
    if len(value) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if "\x00" in value:
        return "contains a NUL character"
    if "\\" in value:
        return "contains a backslash (paths are stored with '/')"
    if value.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(value):
        return "starts with a drive letter"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    parts = value.split("/")
    if any(p == "" for p in parts):
        return "has an empty path component"
    if any(p in (".", "..") for p in parts):
        return "contains a '.' or '..' component"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def safe_relative_path(value: object, field: str, source: Path, *, allow_empty: bool = False) -> str:
    """Check a path read from ``source`` and return it unchanged.

    Args:
        value: The value read from the file.
        field: Where it was read, for the message, e.g. ``"segments[2].file"``.
        source: The file it was read from, for the message.
        allow_empty: Accept ``""`` (a segment with no file, such as an empty snapshot).

    Returns:
        ``value``, a relative POSIX path that cannot name anything outside the memory's folder
        lexically (symbolic links are checked later by :func:`resolve_inside`).

    Raises:
        CorruptMemoryError: ``value`` is not a string or not a canonical relative path.
    """
    if not isinstance(value, str):
        raise CorruptMemoryError(f"{source}: {field} must be a relative path string, got {_shown(value)}. {_FIX}")
    if value == "" and allow_empty:
        return value
    why = "is empty" if value == "" else _problem(value)
    if why is not None:
        raise CorruptMemoryError(
            f"{source}: {field} {why} ({_shown(value)}); every path in a memory must stay inside the memory's folder. "
            f"Refusing to open it. {_FIX}"
        )
    return value


def resolve_inside(root: Path, rel: str, field: str) -> Path:
    """Resolve ``rel`` under ``root``, following symbolic links, and refuse anything that ends up outside.

    Args:
        root: The memory's folder.
        rel: A path read from the memory's files (checked again here, so callers cannot skip the check).
        field: What the path is, for the message, e.g. ``"segment 0123abcd file"``.

    Returns:
        The resolved absolute path, inside ``root.resolve()``.

    Raises:
        CorruptMemoryError: ``rel`` is not a canonical relative path, or it resolves outside ``root``.
    """
    safe_relative_path(rel, field, root)
    base = root.resolve()
    try:
        target = (base / rel).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise CorruptMemoryError(f"{field} {_shown(rel)} under {base} cannot be resolved ({exc}). {_FIX}") from exc
    if target != base and base not in target.parents:
        raise CorruptMemoryError(
            f"{field} {_shown(rel)} leads to {target}, outside the memory's folder {base} (through a symbolic link). "
            "Refusing to open it: remove the link, or restore the memory from a backup."
        )
    return target


CACHE_SUFFIX = ".memvid-cache"
MANIFEST_NAME = "index.json"
_STAGING = "staging-"


def cache_name(video: str | os.PathLike[str]) -> str:
    """``kb.mp4`` -> ``.kb.mp4.memvid-cache``: the name of the memory's cache folder, beside the video."""
    return f".{Path(video).name}{CACHE_SUFFIX}"


def legacy_index_path(video_file: str | os.PathLike[str]) -> Path:
    """``kb.mp4`` -> ``kb_index.json`` beside it (the naming the original memvid and earlier versions used)."""
    video = Path(video_file)
    return video.with_name(f"{video.stem}_index.json")


def default_index_path(video_file: str | os.PathLike[str]) -> Path:
    """The manifest of the memory at ``video_file`` when no index is named.

    ``kb_index.json`` beside the video when it exists (a memory made by an earlier version or with
    an explicit index of that name), else ``.kb.mp4.memvid-cache/index.json``.
    """
    video = Path(video_file)
    legacy = legacy_index_path(video)
    return legacy if os.path.lexists(legacy) else video.with_name(cache_name(video)) / MANIFEST_NAME


def resolve_paths(path: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Accept either the video or the index path and return ``(video, index)``."""
    p = Path(path)
    if index_file is not None:
        return p, Path(index_file)
    if p.suffix == ".json":
        folder = p.parent.name
        if p.name == MANIFEST_NAME and folder.startswith(".") and folder.endswith(CACHE_SUFFIX) and len(folder) > 14:
            return p.parent.with_name(folder[1 : -len(CACHE_SUFFIX)]), p  # .kb.mp4.memvid-cache/index.json
        stem = p.stem[: -len("_index")] if p.stem.endswith("_index") else p.stem
        return p.with_name(f"{stem}.mp4"), p
    return p, default_index_path(p)


def _writable(*folders: Path) -> bool:
    """Whether this process may create files in each folder (the nearest existing parent of a missing one)."""
    for folder in folders:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            return False
    return True


def _refuse_link(path: Path, what: str) -> None:
    """Refuse ``path`` when it exists as anything but a real folder (a planted symlink above all)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise CorruptMemoryError(
            f"{path} is a symbolic link or not a folder; {what} must be a real folder. Remove it (it is a cache, "
            "rebuilt from the video)."
        )


@dataclass(frozen=True)
class Layout:
    """Where each file of one memory lives.

    A *mirrored* layout reads its segment files from ``source`` (an ``http(s)://`` folder URL, or a
    folder it may not write to) and keeps the index, the store and the keyword index, all caches
    rebuilt from the video, in the user's cache directory.
    """

    video: Path
    index: Path
    source: str | None = None  # where segment files are read from, when not the memory's own folder

    @classmethod
    def of(cls, video_file: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> Layout:
        """The layout of the memory at ``video_file`` (or its index), refusing a cache folder that is a symlink."""
        from ..remote.range_http import is_remote

        if is_remote(video_file):
            return cls.mirrored(str(video_file))
        video, index = resolve_paths(video_file, index_file)
        if not index.exists() and video.is_file() and not _writable(video.parent, index.parent):
            return cls.mirrored(str(video.resolve()))  # a bare MP4 whose caches cannot go beside it
        layout = cls(video, index)
        layout.check_cache()
        return layout

    @classmethod
    def mirrored(cls, video: str) -> Layout:
        """A read-only memory whose video is ``video`` (a URL or a path) and whose caches live in the user's cache."""
        from ..remote.cache_dirs import cache_dir_for
        from ..remote.range_http import is_remote

        cache = cache_dir_for(video)
        if is_remote(video):
            base, _, name = video.partition("?")[0].rpartition("/")
            source = base + "/"
        else:
            name, source = Path(video).name, str(Path(video).parent)
        name = name or "memory.mp4"
        return cls(cache / name, cache / MANIFEST_NAME, source)

    @property
    def read_only(self) -> bool:
        return self.source is not None

    @property
    def remote(self) -> bool:
        """Whether the segments are read over HTTP."""
        from ..remote.range_http import is_remote

        return self.source is not None and is_remote(self.source)

    def segment_source(self, relative: str, field: str = "segment file") -> Path | str:
        """Where to read a segment file the manifest names: a path inside the memory, or a URL under its source."""
        from ..remote.range_http import is_remote

        if self.source is None:
            return self.resolve(relative, field)
        if is_remote(self.source):
            from urllib.parse import quote

            return self.source + quote(safe_relative_path(relative, field, self.index))
        return resolve_inside(Path(self.source), relative, field)

    @property
    def source_video(self) -> Path | str:
        """The base video as the memory's source holds it."""
        return self.segment_source(self.video.name, "video") if self.source is not None else self.video

    @property
    def root(self) -> Path:
        """The folder every relative path in the manifest is relative to.

        The manifest's folder, or the folder holding the cache folder when the manifest is inside it.
        """
        folder = self.index.parent
        if self.source is None and folder.name == cache_name(self.video):
            return folder.parent
        return folder

    @property
    def cache(self) -> Path:
        """The folder of every cache file: ``.kb.mp4.memvid-cache`` in the root (a mirrored memory's private folder)."""
        if self.source is not None:
            return self.index.parent
        return self.root / cache_name(self.video)

    def check_cache(self) -> None:
        """Refuse a cache folder that is a symbolic link (it could lead anywhere) or not a folder.

        Raises:
            CorruptMemoryError: The cache folder exists and is not a real folder.
        """
        if self.source is None:
            _refuse_link(self.cache, "a memory's cache folder")

    def ensure_cache(self) -> Path:
        """The cache folder, created if missing (after :meth:`check_cache`)."""
        self.check_cache()
        self.cache.mkdir(parents=True, exist_ok=True)
        return self.cache

    @property
    def _own(self) -> str:
        """The prefix of this manifest's lock, marker and keyword index: none, or a staging manifest's name."""
        staging = self.index.parent == self.cache and self.index.name.startswith(_STAGING)
        return f"{self.index.stem}." if staging else ""

    @property
    def segments_dir(self) -> Path:
        return self.video.with_name(f"{self.video.stem}_segments")

    @property
    def lock(self) -> Path:
        return self.cache / f"{self._own}lock"

    @property
    def pending_marker(self) -> Path:
        """Present while a writer may have touched the store without committing."""
        return self.cache / f"{self._own}pending"

    @property
    def legacy_pending_marker(self) -> Path | None:
        """The marker an earlier version's writer left beside a manifest outside the cache folder, if any could be."""
        return None if self.index.parent == self.cache else self.index.with_name(self.index.name + ".pending")

    def writer_pending(self) -> bool:
        """Whether a writer may have touched the store without committing (either marker is there)."""
        legacy = self.legacy_pending_marker
        return self.pending_marker.exists() or (legacy is not None and os.path.lexists(legacy))

    def stale_staging(self) -> list[Path]:
        """Staging manifests and their locks that a build killed mid-way left (look only under the writer lock)."""
        self.check_cache()
        found = self.cache.glob(f"{_STAGING}*") if self.cache.is_dir() else []
        return [p for p in found if p.is_file() or p.is_symlink()]

    @property
    def keyword_dir(self) -> Path:
        """The keyword index (a cache, rebuilt from the video when missing or stale)."""
        return self.cache / f"{self._own}keywords"

    def store_dirs(self) -> list[Path]:
        """Every vector-store folder of this memory: the current one and any an earlier version left.

        Those in the cache folder, and ``kb_index_chroma*`` beside a manifest of the earlier layout.
        Symbolic links are never listed (the caller removes what it is given).
        """
        self.check_cache()
        legacy = self.index if self.index.parent != self.cache else legacy_index_path(self.video)
        found = list(self.root.glob(f"{legacy.stem}_chroma*"))
        if self.cache.is_dir():
            found += self.cache.glob("chroma*")
        return [p for p in found if p.is_dir() and not p.is_symlink()]

    def new_store_dir(self, uid: str) -> str:
        return self.relative(self.cache / f"chroma_{uid}")

    @property
    def default_store_dir(self) -> str:
        return self.relative(self.cache / "chroma")

    @property
    def video_name(self) -> str:
        """The base video's path relative to :attr:`root`, as the manifest records it."""
        return os.path.relpath(self.video, self.root)

    def segment_path(self, version: int, uid: str) -> Path:
        return self.segments_dir / f"{version:08d}-{uid}.mp4"

    def segments_newer_than(self, version: int) -> bool:
        """Whether the segments folder holds a segment file a version after ``version`` wrote (names only)."""
        if self.read_only or not self.segments_dir.is_dir():
            return False
        for path in self.segments_dir.iterdir():
            found = _SEGMENT_NAME.fullmatch(path.name)
            if found and int(found[1]) > version:
                return True
        return False

    def promote_temp(self, uid: str) -> Path:
        """A copy of a segment, renamed over the video from the cache folder (the same filesystem)."""
        return self.cache / f"promote-{uid}.tmp"

    def stale_promote_temps(self) -> list[Path]:
        """Promote temps a crashed writer left: in the cache folder, and beside the video (earlier versions)."""
        self.check_cache()
        found = list(self.video.parent.glob(f".{self.video.name}.*.tmp"))
        if self.cache.is_dir():
            found += self.cache.glob("promote-*.tmp")
        return [p for p in found if p.is_file() or p.is_symlink()]

    def staging_index(self, uid: str) -> Path:
        return self.cache / f"{_STAGING}{uid}.json"

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def resolve(self, relative: str, field: str = "path") -> Path:
        """A manifest path, checked to stay inside the memory's folder."""
        return resolve_inside(self.root, relative, field)
