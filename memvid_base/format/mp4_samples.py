"""Where each frame of a memvid segment lies in its MP4, read from the sample table without ffmpeg.

A memvid segment has one video track of all-intra frames in presentation order.  For such a file,
:func:`read_sample_table` turns the track's ``stsz``/``stco``/``stsc``/``stts`` tables into one
``(pts, offset, size)`` span per frame, plus the sample entry's codec, frame size and decoder
configuration, so a frame can be read and decoded without opening the file in ffmpeg at all.

It answers None for anything else (several tracks, reordered or non-key frames, an edit list that
shifts or cuts the timeline, a sample entry it does not know): such a file is read through ffmpeg
as before.  Call it only after :func:`~memvid_base.format.mp4_tables.check_sample_tables` has
accepted the file: every count read here has then been checked against the bytes behind it.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, NamedTuple

import numpy as np

from .container import _Box, _iter_boxes
from .mp4_tables import MAX_TABLE_READ, box_payload, walk_boxes

_VISUAL_ENTRY_HEAD = 78  # bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12)
_MAX_CONFIG = 1 << 16
_PARENTS = {
    b"mdia",
    b"stbl",
    b"edts",
}  # where the boxes read here live in a track (a udta's hdlr is not the track's)  # an av1C box holds a sequence header of a few dozen bytes


class SampleTable(NamedTuple):
    """A segment's one video track, as the decoder needs it."""

    codec: bytes  # the sample entry's type, e.g. b"av01"
    width: int
    height: int
    config: bytes  # av1C's configOBUs (the sequence header); empty for other codecs
    spans: list[tuple[int, int, int]]  # (pts, offset, size) of each frame, in order


def read_sample_table(f: BinaryIO) -> SampleTable | None:
    """The frame spans of a simple one-track, all-intra MP4, or None to read the file through ffmpeg.

    Args:
        f: the file, binary and seekable, already accepted by ``check_sample_tables``; its position
            is moved.
    """
    moov = next((box for box in _iter_boxes(f) if box.type == b"moov"), None)
    if moov is None:
        return None
    boxes: dict[bytes, _Box] = {}
    tracks = 0
    for path, box in walk_boxes(f, moov):
        if box.type == b"trak":
            tracks += 1
        elif path[-1] in _PARENTS and box.type not in boxes:
            boxes[box.type] = box
    if (
        tracks != 1
        or b"ctts" in boxes
        or b"stz2" in boxes
        or not {b"hdlr", b"stsd", b"stsz", b"stsc", b"stts"} <= boxes.keys()
    ):
        return None
    chunk_box = boxes.get(b"stco") or boxes.get(b"co64")
    if (
        chunk_box is None
        or box_payload(f, boxes[b"hdlr"], 8, 4) != b"vide"
        or not _plain_edit_list(f, boxes.get(b"elst"))
    ):
        return None
    entry = _sample_entry(f, boxes[b"stsd"])
    if entry is None:
        return None
    sizes = _sample_sizes(f, boxes[b"stsz"])
    if sizes is None or not len(sizes):
        return None
    samples = len(sizes)
    if b"stss" in boxes and not _all_sync(f, boxes[b"stss"], samples):
        return None
    offsets = _sample_offsets(f, chunk_box, boxes[b"stsc"], sizes)
    pts = _sample_times(f, boxes[b"stts"], samples)
    if offsets is None or pts is None:
        return None
    codec, width, height, config = entry
    return SampleTable(codec, width, height, config, list(zip(pts.tolist(), offsets.tolist(), sizes.tolist())))


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


def _plain_edit_list(f: BinaryIO, elst: _Box | None) -> bool:
    """No edit list, or one entry that shows the media from its start at normal rate (what ffmpeg writes)."""
    if elst is None:
        return True
    if elst.size - elst.header < 8:
        return False
    version = box_payload(f, elst, 0, 1)[0]
    per_entry = 20 if version == 1 else 12
    table = _table(f, elst, 4, per_entry)
    if table is None or table[0] != 1:
        return False
    raw = table[1]
    media_time = struct.unpack(">q" if version == 1 else ">i", raw[8:16] if version == 1 else raw[4:8])[0]
    rate = raw[per_entry - 4 : per_entry]
    return media_time == 0 and rate == b"\0\x01\0\0"


def _sample_entry(f: BinaryIO, stsd: _Box) -> tuple[bytes, int, int, bytes] | None:
    """(codec, width, height, av1C configOBUs) of the one sample entry, or None."""
    if stsd.size - stsd.header < 8 or struct.unpack(">I", box_payload(f, stsd, 4, 4))[0] != 1:
        return None
    entries = list(_iter_boxes(f, stsd.offset + stsd.header + 8, stsd.offset + stsd.size))
    if len(entries) != 1 or entries[0].size - entries[0].header < _VISUAL_ENTRY_HEAD:
        return None
    entry = entries[0]
    width, height = struct.unpack(">HH", box_payload(f, entry, 24, 4))
    config = b""
    if entry.type == b"av01":
        start = entry.offset + entry.header + _VISUAL_ENTRY_HEAD
        av1c = next((b for b in _iter_boxes(f, start, entry.offset + entry.size) if b.type == b"av1C"), None)
        body = 0 if av1c is None else av1c.size - av1c.header
        if av1c is None or not 4 <= body <= _MAX_CONFIG:
            return None
        config = box_payload(f, av1c, 4, body - 4)
    return entry.type, int(width), int(height), config


def _sample_sizes(f: BinaryIO, stsz: _Box) -> np.ndarray | None:
    if stsz.size - stsz.header < 12:
        return None
    fixed, count = struct.unpack(">II", box_payload(f, stsz, 4, 8))
    if fixed:
        return np.full(count, fixed, dtype=np.int64)
    if count * 4 > min(stsz.size - stsz.header - 12, MAX_TABLE_READ):
        return None
    return np.frombuffer(box_payload(f, stsz, 12, count * 4), dtype=">u4").astype(np.int64)


def _all_sync(f: BinaryIO, stss: _Box, samples: int) -> bool:
    table = _table(f, stss, 4, 4)
    return (
        table is not None
        and table[0] == samples
        and bool(np.array_equal(np.frombuffer(table[1], dtype=">u4"), np.arange(1, samples + 1)))
    )


def _sample_offsets(f: BinaryIO, chunk_box: _Box, stsc: _Box, sizes: np.ndarray) -> np.ndarray | None:
    """Each sample's file offset: its chunk's offset plus the sizes of the samples before it in that chunk."""
    wide = chunk_box.type == b"co64"
    chunks_table = _table(f, chunk_box, 4, 8 if wide else 4)
    runs_table = _table(f, stsc, 4, 12)
    if chunks_table is None or runs_table is None or not chunks_table[0] or not runs_table[0]:
        return None
    chunk_offsets = np.frombuffer(chunks_table[1], dtype=">u8" if wide else ">u4").astype(np.int64)
    runs = np.frombuffer(runs_table[1], dtype=">u4").reshape(-1, 3).astype(np.int64)
    firsts = runs[:, 0]
    if firsts[0] != 1 or np.any(np.diff(firsts) <= 0) or firsts[-1] > len(chunk_offsets):
        return None
    ends = np.append(firsts[1:], len(chunk_offsets) + 1)
    per_chunk = np.repeat(runs[:, 1], ends - firsts)  # samples in each chunk
    if int(per_chunk.sum()) != len(sizes):
        return None
    chunk_of = np.repeat(np.arange(len(chunk_offsets)), per_chunk)
    before = np.cumsum(sizes) - sizes  # bytes of all samples before each one
    chunk_start = np.cumsum(per_chunk) - per_chunk  # the first sample of each chunk
    return chunk_offsets[chunk_of] + before - before[chunk_start][chunk_of]  # type: ignore[no-any-return]


def _sample_times(f: BinaryIO, stts: _Box, samples: int) -> np.ndarray | None:
    table = _table(f, stts, 4, 8)
    if table is None:
        return None
    runs = np.frombuffer(table[1], dtype=">u4").reshape(-1, 2).astype(np.int64)
    if int(runs[:, 0].sum()) != samples:
        return None
    durations = np.repeat(runs[:, 1], runs[:, 0])
    return np.cumsum(durations) - durations  # type: ignore[no-any-return]
