"""The memvid metadata box inside an MP4: one top-level ISO-BMFF ``uuid`` box that players ignore.

An MP4 is a sequence of top-level boxes (``ftyp``, ``mdat``, ``moov``...), each starting with a
32-bit size and a four-character type.  A ``uuid`` box carries a 16-byte extended type after that
header; ISO/IEC 14496-12 says readers skip boxes they do not recognise, so players and ffmpeg ignore
ours.  memvid appends its box after the last box of a finished file, which changes no byte of the
video and no offset that ``moov`` refers to.

Reading walks the top-level box headers only (8 or 16 bytes each) and seeks past everything else,
so on a file-like object that fetches byte ranges (HTTP) it never downloads the ``mdat``.  Every
size is checked against the file's length, so a truncated or hostile file raises
:class:`~memvid_base.errors.CorruptMemoryError` instead of looping or allocating without bound.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..errors import CorruptMemoryError, InvalidInputError, MemoryNotFoundError

# Extended type of memvid's box. Generated once at random (uuid4); never change it.
MEMVID_BOX_UUID = bytes.fromhex("6e81901bedec4e31927b1eccaf1728bf")
MAX_BOX_BYTES = 1 << 30  # default bound on a memvid payload read from a file (1 GiB)
MAX_TOP_LEVEL_BOXES = 100_000  # a plain MP4 has about five; fragmented ones a few per second of video

_HEADER = struct.Struct(">I4s")
_LARGESIZE = struct.Struct(">Q")
_UUID_LEN = 16


class _Box(NamedTuple):
    type: bytes
    offset: int
    size: int
    header: int  # 8, or 16 when the box uses a 64-bit largesize
    to_eof: bool  # declared size 0: the box runs to the end of the file


def iter_top_level_boxes(f: BinaryIO) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, offset, size)`` for each top-level box of the file, reading only box headers.

    Handles 64-bit ``largesize`` (size field 1) and size 0 (the box runs to the end of the file).

    Args:
        f: A binary file or any object with ``seek``, ``read`` and ``tell``. Its position is moved.

    Raises:
        CorruptMemoryError: A box header is cut short, a size is impossible, a box runs past the end
            of the file, or there are more than ``MAX_TOP_LEVEL_BOXES`` boxes.
    """
    for box in _iter_boxes(f):
        yield box.type, box.offset, box.size


def _file_length(f: BinaryIO) -> int:
    try:
        return int(f.seek(0, os.SEEK_END))
    except (OSError, ValueError) as exc:
        raise CorruptMemoryError(f"Cannot find the length of the video file ({exc}).") from exc


def _iter_boxes(f: BinaryIO, start: int = 0, stop: int | None = None) -> Iterator[_Box]:
    """The boxes from ``start`` to ``stop`` (default: the whole file), each checked to fit inside that span."""
    end = _file_length(f) if stop is None else stop
    offset = start
    count = 0
    while offset < end:
        count += 1
        if count > MAX_TOP_LEVEL_BOXES:
            raise CorruptMemoryError(f"The file has more than {MAX_TOP_LEVEL_BOXES} top-level boxes; it is not a memvid MP4.")
        remaining = end - offset
        if remaining < _HEADER.size:
            raise CorruptMemoryError(
                f"The MP4 ends with {remaining} stray bytes at offset {offset}; the file is truncated or damaged."
            )
        f.seek(offset)
        size, kind = _HEADER.unpack(_read_exact(f, _HEADER.size, "box header"))
        header = _HEADER.size
        to_eof = False
        if size == 1:
            if remaining < header + _LARGESIZE.size:
                raise CorruptMemoryError(f"The 64-bit box header at offset {offset} is cut short; the file is truncated.")
            (size,) = _LARGESIZE.unpack(_read_exact(f, _LARGESIZE.size, "box largesize"))
            header += _LARGESIZE.size
        elif size == 0:
            size, to_eof = remaining, True
        if size < header:
            raise CorruptMemoryError(f"Box {kind!r} at offset {offset} declares an impossible size {size}; the file is damaged.")
        if size > remaining:
            raise CorruptMemoryError(
                f"Box {kind!r} at offset {offset} declares {size} bytes but only {remaining} remain: "
                "the MP4 is truncated or damaged."
            )
        yield _Box(kind, offset, size, header, to_eof)
        offset += size


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    """Read exactly ``n`` bytes (file-likes may return short reads); a short file is corruption."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        piece = f.read(n - got)
        if not piece:
            raise CorruptMemoryError(f"The MP4 ended while reading the {what} ({got} of {n} bytes); the file is truncated.")
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def _is_memvid_box(f: BinaryIO, box: _Box) -> bool:
    if box.type != b"uuid":
        return False
    if box.size < box.header + _UUID_LEN:
        raise CorruptMemoryError(f"The uuid box at offset {box.offset} is too small to hold its extended type.")
    f.seek(box.offset + box.header)
    return _read_exact(f, _UUID_LEN, "uuid box type") == MEMVID_BOX_UUID


def _find_memvid_box(f: BinaryIO) -> tuple[_Box | None, list[_Box]]:
    """The memvid box (if any) and every top-level box; two memvid boxes are corruption."""
    found: _Box | None = None
    boxes: list[_Box] = []
    for box in _iter_boxes(f):
        boxes.append(box)
        if _is_memvid_box(f, box):
            if found is not None:
                raise CorruptMemoryError(
                    f"The MP4 holds two memvid boxes (offsets {found.offset} and {box.offset}); it is ambiguous."
                )
            found = box
    return found, boxes


def read_box(path_or_file: Path | str | BinaryIO, max_bytes: int = MAX_BOX_BYTES) -> bytes | None:
    """Return the payload of the file's memvid box, or None when it has none.

    Only box headers and the memvid box itself are read, never the video data.

    Args:
        path_or_file: A path, or a binary file-like object with ``seek``, ``read`` and ``tell``.
        max_bytes: Refuse a payload larger than this (a bound on what a hostile file can make us allocate).

    Raises:
        CorruptMemoryError: The file's box structure is damaged, it holds two memvid boxes, or the
            payload exceeds ``max_bytes``.
    """
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "rb") as fh:
            return read_box(fh, max_bytes)
    span = _payload_span(path_or_file)
    if span is None:
        return None
    start, length = span
    if length > max_bytes:
        raise CorruptMemoryError(f"The memvid box holds {length} bytes, more than the allowed {max_bytes}; refusing to read it.")
    path_or_file.seek(start)
    return _read_exact(path_or_file, length, "memvid box")


def box_head(path_or_file: Path | str | BinaryIO, n: int) -> bytes | None:
    """The first ``n`` bytes of the file's memvid box payload (fewer if it is shorter), or None without a box.

    Reads box headers and those bytes only: enough to fingerprint a file whose payload starts with a
    digest of itself (:mod:`memvid_base.format.segment_meta`).
    """
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "rb") as fh:
            return box_head(fh, n)
    span = _payload_span(path_or_file)
    if span is None:
        return None
    start, length = span
    path_or_file.seek(start)
    return _read_exact(path_or_file, min(n, length), "memvid box")


def _payload_span(f: BinaryIO) -> tuple[int, int] | None:
    """Where the memvid box's payload starts in ``f``, and its length; None without a box."""
    box, _ = _find_memvid_box(f)
    if box is None:
        return None
    return box.offset + box.header + _UUID_LEN, box.size - box.header - _UUID_LEN


def append_box(path: Path | str, payload: bytes) -> None:
    """Append one memvid box after the last top-level box of the MP4 at ``path``, then fsync it.

    Args:
        path: A finished MP4 file (it must have ``ftyp`` and ``moov`` boxes).
        payload: The bytes to store, at most ``MAX_BOX_BYTES``.

    Raises:
        InvalidInputError: The file already has a memvid box, is not a finished MP4, its last box
            runs to end of file (size 0), or the payload is too large.
        CorruptMemoryError: The file's box structure is damaged.
    """
    payload = bytes(payload)
    if len(payload) > MAX_BOX_BYTES:
        raise InvalidInputError(f"A memvid box payload is limited to {MAX_BOX_BYTES} bytes, got {len(payload)}.")
    with open(path, "r+b") as fh:
        box, boxes = _find_memvid_box(fh)
        if box is not None:
            raise InvalidInputError(f"{path} already has a memvid box (at offset {box.offset}); a file holds at most one.")
        types = {b.type for b in boxes}
        if b"ftyp" not in types or b"moov" not in types:
            raise InvalidInputError(f"{path} is not a finished MP4 (it lacks an ftyp or moov box).")
        if boxes[-1].to_eof:
            raise InvalidInputError(f"The last box of {path} runs to end of file (size 0); appending would hide inside it.")
        end = boxes[-1].offset + boxes[-1].size
        total = _HEADER.size + _UUID_LEN + len(payload)
        if total <= 0xFFFFFFFF:
            header = _HEADER.pack(total, b"uuid")
        else:
            header = _HEADER.pack(1, b"uuid") + _LARGESIZE.pack(total + _LARGESIZE.size)
        try:
            fh.seek(end)
            fh.write(header + MEMVID_BOX_UUID)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            # A torn box would make the file unreadable to us; put it back as it was.
            fh.truncate(end)
            fh.flush()
            raise


def box_size(path: Path | str) -> int:
    """Bytes the memvid box takes in the file (0 when there is none); reads only box headers.

    Raises:
        MemoryNotFoundError: the file is missing.
        CorruptMemoryError: it cannot be read, or its box structure is damaged.
    """
    try:
        with open(path, "rb") as fh:
            box, _ = _find_memvid_box(fh)
    except FileNotFoundError as exc:
        raise MemoryNotFoundError(f"Video segment {path} is missing. Restore it from a backup or rebuild.") from exc
    except OSError as exc:
        raise CorruptMemoryError(f"{path} cannot be read ({exc.strerror or exc}).") from exc
    return 0 if box is None else box.size
