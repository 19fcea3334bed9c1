"""Where each frame of a memvid segment lies in its MP4, read from the sample table without ffmpeg.

A memvid segment has one video track of all-intra frames in presentation order.  For such a file,
:func:`read_sample_table` turns the track's ``stsz``/``stco``/``stsc``/``stts`` tables into one
``(pts, offset, size)`` span per frame, plus the sample entry's codec and frame size, so a frame can be
read and decoded without opening the file in ffmpeg at all.

It answers None for anything else, and the file is then read through ffmpeg as before: several
tracks, any table twice, reordered or non-key frames, an edit list that shifts or cuts the timeline,
more samples than the file or the segment can hold, tables that disagree.  Only the boxes ffmpeg reads
are read, at the exact places it reads them (a copy of a table elsewhere, say inside ``udta``, is
ignored as ffmpeg ignores it), and every count is bounded by the bytes behind it before anything is
allocated.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

import numpy as np

from .container import _Box, _iter_boxes
from .mp4_tables import MAX_TABLE_READ, box_payload, walk_boxes

_VISUAL_ENTRY_HEAD = 78  # bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12)
_MOOV = (b"moov",)
_TRAK = (*_MOOV, b"trak")
_MDIA = (*_TRAK, b"mdia")
_STBL = (*_MDIA, b"minf", b"stbl")
# Each box read here, at the one place ffmpeg reads it from.
_WANTED = {
    (_MOOV, b"mvhd"), (_TRAK, b"edts"), ((*_TRAK, b"edts"), b"elst"), (_MDIA, b"mdhd"), (_MDIA, b"hdlr"),
    (_STBL, b"stsd"), (_STBL, b"stsz"), (_STBL, b"stz2"), (_STBL, b"stco"), (_STBL, b"co64"), (_STBL, b"stsc"),
    (_STBL, b"stts"), (_STBL, b"ctts"), (_STBL, b"stss"),
}  # fmt: skip


class SampleTable(NamedTuple):
    """A segment's one video track, as the decoder needs it."""

    codec: bytes  # the sample entry's type, e.g. b"av01"
    width: int
    height: int
    spans: list[tuple[int, int, int]]  # (pts, offset, size) of each frame, in order


def read_sample_table(f: BinaryIO, frames: int | None = None, codec: bytes | None = None) -> SampleTable | None:
    """The frame spans of a simple one-track, all-intra MP4, or None to read the file through ffmpeg.

    Call it after :func:`~memvid_base.format.mp4_tables.check_sample_tables` has accepted the file: that
    check bounds how many boxes the walk here can meet.

    Args:
        f: the file, binary and seekable; its position is moved.
        frames: the frames the segment holds, when known: a table declaring more gives None.
        codec: the only sample entry type wanted (e.g. ``b"av01"``): any other gives None before a table is read.

    Raises:
        CorruptMemoryError: a box header is cut short or runs past the end of the file.
    """
    size = int(f.seek(0, 2))
    moov = next((box for box in _iter_boxes(f) if box.type == b"moov"), None)
    if moov is None:
        return None
    boxes: dict[bytes, _Box] = {}
    tracks = 0
    for path, box in walk_boxes(f, moov):
        tracks += path == _MOOV and box.type == b"trak"
        if (path, box.type) in _WANTED:
            if box.type in boxes:
                return None  # two of a table: which one a reader takes is a guess
            boxes[box.type] = box
    if tracks != 1 or b"ctts" in boxes or b"stz2" in boxes:
        return None
    need = (b"mvhd", b"mdhd", b"hdlr", b"stsd", b"stsz", b"stsc", b"stts")
    chunk_box = boxes.get(b"stco") or boxes.get(b"co64")
    if chunk_box is None or any(kind not in boxes for kind in need) or box_payload(f, boxes[b"hdlr"], 8, 4) != b"vide":
        return None
    if (b"stco" in boxes and b"co64" in boxes) or (b"edts" in boxes) != (b"elst" in boxes):
        return None
    entry = _sample_entry(f, boxes[b"stsd"])
    if entry is None or (codec is not None and entry[0] != codec):
        return None
    sizes = _sample_sizes(f, boxes[b"stsz"], size, frames)
    if sizes is None:
        return None
    samples = len(sizes)
    if b"stss" in boxes and not _all_sync(f, boxes[b"stss"], samples):
        return None
    offsets = _sample_offsets(f, chunk_box, boxes[b"stsc"], sizes)
    timing = _sample_times(f, boxes[b"stts"], samples)
    if offsets is None or timing is None:
        return None
    pts, duration = timing
    if b"elst" in boxes and not _shows_every_frame(f, boxes[b"elst"], boxes[b"mvhd"], boxes[b"mdhd"], duration):
        return None
    codec, width, height = entry
    return SampleTable(codec, width, height, list(zip(pts.tolist(), offsets.tolist(), sizes.tolist())))


def _table(f: BinaryIO, box: _Box, skip: int, per_entry: int) -> tuple[int, bytes] | None:
    """A full box's entry count and entries (after ``skip`` bytes), or None when they do not fit."""
    body = box.size - box.header
    if body < skip + 4:
        return None
    (count,) = struct.unpack(">I", box_payload(f, box, skip, 4))
    n = count * per_entry
    if n > body - skip - 4 or n > MAX_TABLE_READ:
        return None
    return count, box_payload(f, box, skip + 4, n)


def _timescale(f: BinaryIO, header: _Box) -> int | None:
    """The timescale of an ``mvhd`` or ``mdhd`` box (version 0 or 1)."""
    body = header.size - header.header
    if body < 4:
        return None
    at = 20 if box_payload(f, header, 0, 1)[0] == 1 else 12
    if body < at + 4:
        return None
    (scale,) = struct.unpack(">I", box_payload(f, header, at, 4))
    return int(scale) or None


def _shows_every_frame(f: BinaryIO, elst: _Box, mvhd: _Box, mdhd: _Box, media_duration: int) -> bool:
    """One edit that shows the media from its first frame to its last at normal rate (what ffmpeg writes).

    ffmpeg drops the frames an edit list leaves out; the spans here would still list them.
    """
    if elst.size - elst.header < 8:
        return False
    version = box_payload(f, elst, 0, 1)[0]
    per_entry = 20 if version == 1 else 12
    table = _table(f, elst, 4, per_entry)
    movie_scale, media_scale = _timescale(f, mvhd), _timescale(f, mdhd)
    if table is None or table[0] != 1 or movie_scale is None or media_scale is None:
        return False
    duration, media_time = struct.unpack(">Qq" if version == 1 else ">Ii", table[1][: per_entry - 4])
    rate = table[1][per_entry - 4 : per_entry]
    # The edit's duration is in the movie's timescale, the media's in the track's.
    return media_time == 0 and rate == b"\0\x01\0\0" and duration * media_scale >= media_duration * movie_scale


def _sample_entry(f: BinaryIO, stsd: _Box) -> tuple[bytes, int, int] | None:
    """(codec, width, height) of the one sample entry, or None."""
    if stsd.size - stsd.header < 8 or struct.unpack(">I", box_payload(f, stsd, 4, 4))[0] != 1:
        return None
    entries = list(_iter_boxes(f, stsd.offset + stsd.header + 8, stsd.offset + stsd.size))
    if len(entries) != 1 or entries[0].size - entries[0].header < _VISUAL_ENTRY_HEAD:
        return None
    width, height = struct.unpack(">HH", box_payload(f, entries[0], 24, 4))
    return entries[0].type, int(width), int(height)


def _sample_sizes(f: BinaryIO, stsz: _Box, file_size: int, frames: int | None) -> np.ndarray | None:
    """Each sample's size; None when there are more samples than the file (a byte each) or the segment holds."""
    if stsz.size - stsz.header < 12:
        return None
    fixed, count = struct.unpack(">II", box_payload(f, stsz, 4, 8))
    if count > file_size or (frames is not None and count > frames):
        return None
    if fixed:
        return None if count * fixed > file_size else np.full(count, fixed, dtype=np.int64)
    if count * 4 > min(stsz.size - stsz.header - 12, MAX_TABLE_READ):
        return None
    return np.frombuffer(box_payload(f, stsz, 12, count * 4), dtype=">u4").astype(np.int64)


def _all_sync(f: BinaryIO, stss: _Box, samples: int) -> bool:
    table = _table(f, stss, 4, 4)
    return table is not None and table[0] == samples and bool(
        np.array_equal(np.frombuffer(table[1], dtype=">u4"), np.arange(1, samples + 1))
    )


def _sample_offsets(f: BinaryIO, chunk_box: _Box, stsc: _Box, sizes: np.ndarray) -> np.ndarray | None:
    """Each sample's file offset: its chunk's offset plus the sizes of the samples before it in that chunk."""
    wide = chunk_box.type == b"co64"
    chunks_table = _table(f, chunk_box, 4, 8 if wide else 4)
    runs_table = _table(f, stsc, 4, 12)
    if chunks_table is None or runs_table is None or not chunks_table[0] or not runs_table[0]:
        return None
    chunk_offsets = np.frombuffer(chunks_table[1], dtype=">u8" if wide else ">u4").astype(np.int64)
    if len(chunk_offsets) > len(sizes) or chunk_offsets.min() < 0:
        return None
    runs = np.frombuffer(runs_table[1], dtype=">u4").reshape(-1, 3).astype(np.int64)
    firsts = runs[:, 0]
    if firsts[0] != 1 or np.any(np.diff(firsts) <= 0) or firsts[-1] > len(chunk_offsets):
        return None
    ends = np.append(firsts[1:], len(chunk_offsets) + 1)
    per_chunk = np.repeat(runs[:, 1], ends - firsts)  # samples in each chunk, zero for an empty one
    if int(per_chunk.sum()) != len(sizes):
        return None
    chunk_of = np.repeat(np.arange(len(chunk_offsets)), per_chunk)
    before = np.cumsum(sizes) - sizes  # bytes of all the samples before each one
    first = np.cumsum(per_chunk) - per_chunk  # each chunk's first sample
    held = per_chunk > 0  # an empty chunk has no first sample
    start = np.repeat(before[first[held]], per_chunk[held])  # bytes before each sample's chunk
    return chunk_offsets[chunk_of] + before - start  # type: ignore[no-any-return]


def _sample_times(f: BinaryIO, stts: _Box, samples: int) -> tuple[np.ndarray, int] | None:
    """Each sample's timestamp, and the media's whole duration (the track's timescale)."""
    table = _table(f, stts, 4, 8)
    if table is None:
        return None
    runs = np.frombuffer(table[1], dtype=">u4").reshape(-1, 2).astype(np.int64)
    if int(runs[:, 0].sum()) != samples:
        return None
    durations = np.repeat(runs[:, 1], runs[:, 0])
    ends = np.cumsum(durations)
    return ends - durations, int(ends[-1])
