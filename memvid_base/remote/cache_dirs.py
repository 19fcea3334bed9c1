"""Where memvid keeps its per-memory caches: one private folder per memory, named by its URL or path.

The root is ``$MEMVID_CACHE_DIR``, else ``$XDG_CACHE_HOME/memvid`` or ``~/.cache/memvid``; each
memory's folder under it is created mode 0700 and refused when it is a symlink or another user's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import MemvidError
from .range_http import check_url, is_remote


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
    import hashlib  # imported here: it loads OpenSSL (3-5 ms of a start), and most readers never need a key

    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def cache_dir_for(url_or_path: str | os.PathLike[str]) -> Path:
    """Create (mode 0700) and return the private cache folder of one memory: ``cache_root()/<cache_key>``.

    Raises:
        InvalidInputError: a malformed URL (nothing is created for it).
        MemvidError: the folder exists but is a symlink, not a folder, or belongs to another user.
    """
    if is_remote(url_or_path):
        check_url(str(url_or_path))
    root = cache_root()
    folder = root / cache_key(url_or_path)
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        _check_owner(root, os.stat(root), "cache folder")  # followed if a link: ~/.cache often is one
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        info = os.lstat(folder)
    except OSError as exc:
        raise MemvidError(
            f"The memvid cache folder {root} cannot be used ({exc.strerror or exc}). Set MEMVID_CACHE_DIR to a folder you can write."
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise MemvidError(f"The memvid cache {folder} is not a folder (a symlink or a file). Delete it; it will be rebuilt.")
    _check_owner(folder, info, "cache")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    return folder


def _check_owner(path: Path, info: os.stat_result, what: str) -> None:
    """Refuse a folder another user owns: they could swap or read the caches inside it."""
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise MemvidError(
            f"The memvid {what} {path} belongs to another user (uid {info.st_uid}), who could change the caches in it. "
            "Set MEMVID_CACHE_DIR to a folder of your own."
        )
