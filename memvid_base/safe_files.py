"""Reading and writing memvid's own cache files without ever following a symbolic link.

A cache folder (``.kb.mp4.memvid-cache/`` or a private folder under the user's cache) may be shared
or planted, so no file memvid opens there is trusted to be what its name says: a link planted under
a cache file's name could make a read report another memory, or a write overwrite any file the user
can write.  Every cache file goes through this module:

* reads open the last path component with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a FIFO cannot hang
  them), check that it is a regular file and bound how much is read;
* writes go to a new temporary file (``O_EXCL``: never an existing name) renamed over the target,
  which replaces a planted link instead of writing through it;
* markers are created with ``O_NOFOLLOW``, and removed only when they are plain files.

Anything that is not a plain file raises :class:`~memvid_base.errors.CorruptMemoryError` naming the
file and the fix; a missing file raises ``FileNotFoundError`` as ``open`` does.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import CorruptMemoryError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def not_a_plain_file(path: Path, what: str = "a memvid cache file") -> CorruptMemoryError:
    """The error for ``path`` found as a link, folder, FIFO or device where memvid keeps a plain file."""
    try:
        mode = os.lstat(path).st_mode
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a plain file"
    except OSError:
        kind = "not a plain file"
    return CorruptMemoryError(
        f"{path} is {kind}, but {what} must be a plain file; memvid never follows or replaces it. "
        "Remove it (it is a cache, rebuilt from the video)."
    )


def open_nofollow(path: Path, flags: int, what: str = "a memvid cache file", mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link as the last component, and anything but a regular file.

    Raises:
        CorruptMemoryError: ``path`` is a link, a folder, a FIFO or a device.
        FileNotFoundError: ``path`` does not exist (and ``flags`` has no ``O_CREAT``).
    """
    try:
        fd = os.open(path, flags | NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP for a link; EISDIR for a folder opened for writing
        if (os.path.lexists(path) and not os.path.isfile(path)) or os.path.islink(path):
            raise not_a_plain_file(path, what) from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise not_a_plain_file(path, what)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes_nofollow(path: Path, max_bytes: int, what: str = "a memvid cache file") -> bytes:
    """The bytes of the plain file at ``path``, refusing a link, a non-file or more than ``max_bytes``.

    Raises:
        CorruptMemoryError: not a plain file, or larger than ``max_bytes``.
        FileNotFoundError: missing.
    """
    fd = open_nofollow(path, os.O_RDONLY, what)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise CorruptMemoryError(f"{path} is {size} bytes, more than the {max_bytes} {what} can hold; it is damaged.")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read it
        raise CorruptMemoryError(f"{path} is larger than {max_bytes} bytes; {what} that large is damaged.")
    return data


def read_text_nofollow(path: Path, max_bytes: int, what: str = "a memvid cache file") -> str:
    """:func:`read_bytes_nofollow` decoded as UTF-8; text that is not UTF-8 is damage (CorruptMemoryError)."""
    data = read_bytes_nofollow(path, max_bytes, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptMemoryError(f"{path} is not UTF-8 text, so it is damaged. Remove it; it is rebuilt.") from exc


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file, never a mix.

    The bytes go to a new temporary file beside ``path`` (created with ``O_EXCL``, so never through
    a link), which is renamed over ``path``: a link planted at ``path`` is replaced, not followed.
    A folder at ``path`` is refused.  ``durable`` fsyncs the file and its folder first (a commit
    point); a cache file that is rebuilt when lost need not wait for the disk.
    """
    if os.path.isdir(path) and not os.path.islink(path):
        raise not_a_plain_file(path)
    import tempfile  # writers only

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)  # mkstemp creates 0600; a memory's files are ordinary shareable files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str, durable: bool = False) -> None:
    """:func:`write_bytes_atomic` of ``text`` as UTF-8; not fsynced unless ``durable`` (cache files are rebuilt)."""
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def touch_nofollow(path: Path, what: str = "a memvid cache file") -> None:
    """Create ``path`` as an empty plain file if missing; refuse a link or anything but a plain file there."""
    os.close(open_nofollow(path, os.O_WRONLY | os.O_CREAT, what))


def unlink_file(path: Path, what: str = "a memvid cache file", missing_ok: bool = True) -> None:
    """Remove the plain file (or planted link) at ``path``; refuse a folder, which memvid never made there.

    A link is removed, never followed: unlinking acts on the link itself.

    Raises:
        CorruptMemoryError: ``path`` is a folder.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    if stat.S_ISDIR(mode):
        raise not_a_plain_file(path, what)
    try:
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise


def is_plain_file(path: Path) -> bool:
    """Whether ``path`` itself (not what a link points at) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
