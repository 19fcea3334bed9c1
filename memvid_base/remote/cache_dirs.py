"""Where memvid keeps its per-memory caches: one private folder per memory, named by its URL or path.

The root is ``$MEMVID_CACHE_DIR``, else ``$XDG_CACHE_HOME/memvid`` or ``~/.cache/memvid``; each
memory's folder under it is created mode 0700 and refused when it is a symlink or another user's.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from ..errors import MemvidError
from .range_http import is_remote


def cache_root() -> Path:
    """The folder holding every memvid cache: ``$MEMVID_CACHE_DIR``, else ``$XDG_CACHE_HOME/memvid`` or ``~/.cache/memvid``."""
    override = os.environ.get("MEMVID_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"  # the XDG spec ignores relative paths
    return base / "memvid"


def cache_key(url_or_path: str | os.PathLike[str]) -> str:
    """16 hex digits naming one memory's cache: the SHA-256 of its URL, or of its absolute local path."""
    key = url_or_path if is_remote(url_or_path) else str(Path(url_or_path).expanduser().resolve())
    assert isinstance(key, str)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def cache_dir_for(url_or_path: str | os.PathLike[str]) -> Path:
    """Create (mode 0700) and return the private cache folder of one memory: ``cache_root()/<cache_key>``.

    Raises:
        MemvidError: the folder exists but is a symlink, not a folder, or belongs to another user.
    """
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = root / cache_key(url_or_path)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise MemvidError(f"The memvid cache {folder} is not a folder (a symlink or a file). Delete it; it will be rebuilt.")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise MemvidError(f"The memvid cache {folder} belongs to another user. Delete it or set MEMVID_CACHE_DIR.")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    return folder
