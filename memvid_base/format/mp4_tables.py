"""The MP4 sample tables, checked against what the file can hold before ffmpeg sees them.

ffmpeg builds its index of a file when it opens it, sized by counts the file declares: a 9 KB file
whose ``stsz`` declares 30 million samples costs over a gigabyte and seconds before any check of
ours could run.  So before a segment goes to ffmpeg, :func:`check_sample_tables` walks the box
headers down to each track's sample table (``moov/trak/mdia/minf/stbl``), reading only headers and
the few small tables that hold counts, and applies one rule: **every count is bounded by the bytes
that back it**.

* a table's entry count times its entry size fits in its box;
* samples: each takes at least one byte of the file (``count * size`` for a fixed size), and no
  more than the segment's frames when its frame count is known;
* the per-run counts of ``stts``, ``ctts`` and ``stsc`` (which expand per sample inside ffmpeg) add
  up to no more than the samples; ``stss`` and chunk offsets to no more than the samples either;
* a ``keys`` table holds at least 8 bytes per key (ffmpeg zero-fills a pointer per declared key);
* fragmented files (``moof``, ``mvex``), several ``moov`` boxes and many tracks are not memvid
  segments.

Anything else is a :class:`~memvid_base.errors.FrameDecodeError` that names the file and the count.
Only the boxes before and in ``moov`` are read (ffmpeg reads them anyway), so a remote file costs no
extra request beyond what opening it costs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import CorruptMemoryError, FrameDecodeError
from .container import _Box, _iter_boxes, _read_exact

MAX_TRACKS = 16  # a memvid segment has one
MAX_BOXES = 10_000  # boxes walked inside moov; a memvid segment has about 20
MAX_TABLE_READ = 64 * 1024 * 1024  # bytes of stts/ctts/stsc read to add their runs (8-12 bytes a run)
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"meta"}
_FRAGMENTED = {b"moof", b"mfra", b"sidx", b"mvex"}
# box type -> (bytes before the entry count, bytes per entry): full boxes whose count sizes an allocation
_COUNTED = {b"stts": (4, 8), b"ctts": (4, 8), b"stsc": (4, 12), b"stco": (4, 4), b"co64": (4, 8), b"stss": (4, 4),
            b"stps": (4, 4), b"elst": (4, 12), b"keys": (4, 8), b"dref": (4, 8), b"stsd": (4, 8)}  # fmt: skip
_U32 = struct.Struct(">I")


class _Track:
    def __init__(self) -> None:
        self.handler = b""
        self.samples: int | None = None
        self.counts: dict[bytes, int] = {}  # table -> entries
        self.runs: dict[bytes, int] = {}  # stts/ctts -> samples their runs add up to
        self.stsc: list[tuple[int, int]] | None = None  # (first chunk, samples per chunk) runs


def check_sample_tables(f: BinaryIO, name: str, frames: int | None = None) -> None:
    """Refuse a file whose sample tables declare more than its size (or ``frames``) allows.

    Args:
        f: the file, binary and seekable (a local file or a ``RangeFile``); its position is moved.
        name: the file's name for messages.
        frames: the frames the segment holds, when known (from its box or the manifest).

    Raises:
        FrameDecodeError: a count is out of bounds, the box structure is damaged, or the file is fragmented.
    """
    try:
        _check(f, name, frames)
    except FrameDecodeError:
        raise
    except CorruptMemoryError as exc:  # the box walk's own errors: truncated or impossible sizes
        raise FrameDecodeError(f"{name} is not a readable video: {exc}") from exc
    except (OSError, ValueError, struct.error) as exc:  # a file that cannot be read or sought as its boxes say
        raise FrameDecodeError(f"{name} is not a readable video ({type(exc).__name__}: {exc}).") from exc


def _fail(name: str, what: str) -> FrameDecodeError:
    return FrameDecodeError(f"{name}: {what}. The file is damaged or was not written by memvid; refusing to open it.")


def _check(f: BinaryIO, name: str, frames: int | None) -> None:
    moov: _Box | None = None
    for box in _iter_boxes(f):
        if box.type in _FRAGMENTED:
            raise _fail(name, f"it is a fragmented MP4 (a {box.type.decode('latin-1')!r} box), which memvid never writes")
        if box.type == b"moov":
            moov = box
            break  # what follows moov (memvid's box) is not read by ffmpeg when it opens the file
    if moov is None:
        raise _fail(name, "it has no moov box (the index of its frames)")
    size = f.seek(0, 2)
    tracks: list[_Track] = []
    walked = 0
    for path, box in walk_boxes(f, moov):
        walked += 1
        if walked > MAX_BOXES:
            raise _fail(name, f"its moov box holds more than {MAX_BOXES} boxes")
        kind = box.type
        if kind in _FRAGMENTED:
            raise _fail(name, f"it is a fragmented MP4 (a {kind.decode('latin-1')!r} box), which memvid never writes")
        if kind == b"moov" and path:
            raise _fail(name, "it nests a moov box inside another")
        if kind == b"trak":
            tracks.append(_Track())
            if len(tracks) > MAX_TRACKS:
                raise _fail(name, f"it has more than {MAX_TRACKS} tracks")
            continue
        track = tracks[-1] if tracks and b"trak" in path else None
        body = box.size - box.header
        if kind == b"hdlr" and track is not None and body >= 12:
            track.handler = box_payload(f, box, 8, 4)
        elif kind in (b"stsz", b"stz2") and track is not None:
            track.samples = _sample_count(f, box, name, size)
        elif kind in _COUNTED:
            skip, per_entry = _COUNTED[kind]
            if body < skip + 4:
                raise _fail(name, f"its {kind.decode()} box is {box.size} bytes, too short for its entry count")
            entries = _U32.unpack(box_payload(f, box, skip, 4))[0]
            if entries * per_entry > body - skip - 4:
                raise _fail(name, f"its {kind.decode()} box declares {entries} entries of {per_entry} bytes in {body} bytes")
            if track is not None and kind in (b"stts", b"ctts", b"stsc", b"stco", b"co64", b"stss"):
                track.counts[kind] = entries
                raw = _table(f, box, kind, entries * per_entry, name) if kind in (b"stts", b"ctts", b"stsc") else b""
                if kind == b"stsc":
                    track.stsc = [(int(a), int(b)) for a, b, _ in struct.iter_unpack(">III", raw)]
                elif kind in (b"stts", b"ctts"):
                    track.runs[kind] = sum(struct.unpack_from(">I", raw, k * 8)[0] for k in range(entries))
    if not tracks:
        raise _fail(name, "its moov box has no track")
    for k, track in enumerate(tracks):
        _check_track(track, k, name, frames)


def _check_track(track: _Track, k: int, name: str, frames: int | None) -> None:
    samples = track.samples or 0
    if frames is not None and samples > frames:
        raise _fail(name, f"track {k} declares {samples} samples, more than the {frames} frames the segment holds")
    for kind, total in track.runs.items():
        if total > samples:
            raise _fail(name, f"track {k}'s {kind.decode()} runs cover {total} samples, more than its {samples}")
    chunks = track.counts.get(b"stco", track.counts.get(b"co64", 0))
    if chunks > max(samples, 0) or track.counts.get(b"stss", 0) > samples:
        raise _fail(name, f"track {k} declares {chunks} chunks or {track.counts.get(b'stss', 0)} key frames for {samples} samples")
    if track.stsc is not None and _stsc_total(track.stsc, chunks) > samples:
        raise _fail(name, f"track {k}'s chunks hold more samples than the {samples} it declares")


def walk_boxes(f: BinaryIO, box: _Box, path: tuple[bytes, ...] = ()) -> Iterator[tuple[tuple[bytes, ...], _Box]]:
    """Every box inside ``box``, depth first, with the types of the boxes around it."""
    start = box.offset + box.header
    if box.type == b"meta" and box.size - box.header >= 4 and box_payload(f, box, 0, 4) == b"\0\0\0\0":
        start += 4  # the ISO meta box is a full box; QuickTime's is not
    if len(path) > 8:
        return
    for child in list(_iter_boxes(f, start, box.offset + box.size)):
        yield (*path, box.type), child
        if child.type in _CONTAINERS:
            yield from walk_boxes(f, child, (*path, box.type))


def box_payload(f: BinaryIO, box: _Box, at: int, n: int) -> bytes:
    f.seek(box.offset + box.header + at)
    return _read_exact(f, n, f"{box.type.decode('latin-1')} box")


def _sample_count(f: BinaryIO, box: _Box, name: str, file_size: int) -> int:
    """The samples ``stsz``/``stz2`` declare, checked against the bytes that back them."""
    body = box.size - box.header
    if body < 12:
        raise _fail(name, f"its {box.type.decode()} box is {box.size} bytes, too short for its sample count")
    head = box_payload(f, box, 4, 8)
    if box.type == b"stsz":
        fixed, count = struct.unpack(">II", head)
        bits = 0 if fixed else 32
    else:
        fixed, bits, count = 0, head[3], _U32.unpack(head[4:])[0]
        if bits not in (4, 8, 16):
            raise _fail(name, f"its stz2 box uses {bits}-bit sample sizes")
    if fixed and count * fixed > file_size:
        raise _fail(name, f"its sample table declares {count} samples of {fixed} bytes, more than the file's {file_size} bytes")
    if not fixed and (count * bits + 7) // 8 > body - 12:
        raise _fail(name, f"its sample table declares {count} samples but its box holds sizes for fewer")
    if count > file_size:
        raise _fail(name, f"its sample table declares {count} samples, more than the file's {file_size} bytes")
    return int(count)


def _table(f: BinaryIO, box: _Box, kind: bytes, n: int, name: str) -> bytes:
    """The ``n`` bytes of a run table after its entry count (bounded: the box holds them, checked before)."""
    if n > MAX_TABLE_READ:
        raise _fail(name, f"its {kind.decode()} table is {n} bytes, larger than memvid reads")
    return box_payload(f, box, 8, n)


def _stsc_total(runs: list[tuple[int, int]], chunks: int) -> int:
    """The samples a chunk-to-sample table assigns to ``chunks`` chunks (runs apply until the next one starts)."""
    total = 0
    for k, (first, per_chunk) in enumerate(runs):
        end = runs[k + 1][0] if k + 1 < len(runs) else chunks + 1
        if first < 1 or end < first:
            return 1 << 62  # out of order: not a table ffmpeg can index sensibly
        total += (min(end, chunks + 1) - first) * per_chunk if first <= chunks else 0
    return total
