"""Writing one immutable video segment from chunk records, and reading its groups back.

A segment is written to a temporary file, every frame is decoded back and compared byte for byte,
and only then is the file fsynced and renamed into place.  A codec setting that cannot round-trip
therefore fails the write instead of leaving a memory that looks fine but is not.
"""

from __future__ import annotations

import bisect
import os
import threading
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import VideoSettings
from ..decode_pool import HELPERS, share
from ..errors import CorruptMemoryError, FrameDecodeError
from ..format.container import append_box
from ..format.payload import (
    HEADER_SIZE,
    KIND_DICT,
    MAX_GROUP_BYTES,
    Group,
    Packer,
    Record,
    decode_dictionary,
    decode_group,
    dictionary_group,
    encode_record,
    find_record,
    frame_bytes,
    frame_intact,
    parse_frame,
    parse_records,
    records_text,
    split_frames,
    train_dictionary,
)
from ..format.qr import read_frame, render_frame
from ..format.video import VideoReader, write_video
from ..safe_files import fsync_dir
from .layout import resolve_inside
from .manifest import Segment

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

_SPLIT_MIN_FRAMES = 4  # a read of fewer frames decodes on the caller's thread alone
_GROUP_SLACK = 4096  # a group's header and a raw (incompressible) group's framing, beyond its records
_PARALLEL_MIN_FRAMES = 96  # below this, starting worker processes costs more than it saves
_PARALLEL_PACK_MIN = 5000  # records per packing thread, at least (about 250 frames)


@dataclass(frozen=True)
class Placement:
    """Where a chunk's group lives: the segment, its first frame and how many frames it spans."""

    segment: str
    frame: int
    frames: int


def _render_batch(args: tuple[list[bytes], VideoSettings]) -> list[np.ndarray]:
    payloads, settings = args
    return [render_frame(p, settings) for p in payloads]


def _process_pool(n_workers: int) -> Executor:
    # fork where available: spawn would re-run the user's __main__ script (seed-style scripts have no
    # main guard). The children only run zxing-cpp and numpy, never torch or Chroma. Imported here: readers
    # never need multiprocessing (8 ms of every `memvid search`).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    return ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("fork" if "fork" in methods else "spawn"))


def _render_all(payloads: list[bytes], settings: VideoSettings, n_workers: int) -> Iterator[np.ndarray]:
    """Render QR frames in order, in worker processes when there are enough of them.

    The vectorised encoder used for 1-px modules makes a frame in well under a millisecond, less than
    handing it to a process costs, so it always runs here.
    """
    fast = settings.qr_backend == "zxing" and settings.module_px == 1
    if fast or n_workers <= 1 or len(payloads) < _PARALLEL_MIN_FRAMES:
        for p in payloads:
            yield render_frame(p, settings)
        return
    step = 16
    batches = [(payloads[k : k + step], settings) for k in range(0, len(payloads), step)]
    with _process_pool(n_workers) as pool:
        for frames in pool.map(_render_batch, batches):
            yield from frames


@dataclass
class SegmentPlan:
    """A segment's frames, packed but not yet rendered: enough to know where every chunk will live."""

    uid: bytes
    payloads: list[bytes]
    placements: dict[str, Placement]
    group_starts: list[int]
    group_crcs: list[int]
    dict_frames: int
    raw_text_bytes: int
    chunks: int


def _pack(encoded: list[tuple[str, bytes]], capacity: int, dictionary: bytes | None, workers: int) -> list[Group]:
    """Pack in ``workers`` threads, each over one contiguous slice (zstd releases the GIL while it compresses).

    Each slice ends with one partly filled frame at most, a fraction of a percent of a large segment.
    """
    if workers <= 1 or len(encoded) < workers * _PARALLEL_PACK_MIN:
        return Packer(capacity, dictionary).pack(encoded)
    from concurrent.futures import ThreadPoolExecutor  # writers only: readers never import concurrent.futures

    step = -(-len(encoded) // workers)
    slices = [encoded[k : k + step] for k in range(0, len(encoded), step)]
    with ThreadPoolExecutor(len(slices)) as pool:
        return [g for part in pool.map(lambda sl: Packer(capacity, dictionary).pack(sl), slices) for g in part]


def plan_segment(records: Sequence[Record], settings: VideoSettings, workers: int = 1) -> SegmentPlan:
    """Compress and pack ``records`` into frame payloads (no video work yet), in ``workers`` threads."""
    uid = os.urandom(8)  # what secrets.token_bytes does, without importing hmac and OpenSSL for readers
    encoded = [(r.id, encode_record(r)) for r in records]
    capacity = settings.frame_capacity - HEADER_SIZE
    dictionary = train_dictionary([e[1] for e in encoded])
    groups = ([dictionary_group(dictionary)] if dictionary else []) + _pack(encoded, capacity, dictionary, workers)
    plan = SegmentPlan(uid, [], {}, [], [], 0, 0, len(records))
    for group in groups:
        parts = split_frames(group.blob, capacity)
        first = len(plan.payloads)
        plan.group_starts.append(first)
        plan.group_crcs.append(zlib.crc32(group.blob))
        if group.kind == KIND_DICT:
            plan.dict_frames = len(parts)
        for rid in group.record_ids:
            plan.placements[rid] = Placement(uid.hex(), first, len(parts))
        for k, body in enumerate(parts):
            plan.payloads.append(frame_bytes(uid, first + k, k, len(parts), body))
    plan.raw_text_bytes = sum(len(r.text.encode("utf-8", "surrogatepass")) for r in records if r.text is not None)
    return plan


def write_plan(
    plan: SegmentPlan,
    settings: VideoSettings,
    path: Path,
    version: int,
    relative_to: Path,
    n_workers: int = 1,
    show_progress: bool = False,
    box: bytes | None = None,
) -> Segment:
    """Render, encode and verify a planned segment, then atomically move it to ``path``."""
    tmp = render_plan(plan, settings, path, n_workers, show_progress)
    return commit_segment(tmp, plan, path, version, relative_to, box)


def render_plan(plan: SegmentPlan, settings: VideoSettings, path: Path, n_workers: int = 1,
                show_progress: bool = False) -> Path:
    """Render, encode and verify a planned segment into a temporary file beside ``path``; returns it."""
    tmp = path.with_name(f".{path.name}.{plan.uid.hex()}.tmp")
    try:
        frames = _render_all(plan.payloads, settings, n_workers)
        if show_progress:
            from tqdm.auto import tqdm  # imported when a bar is shown: it costs ~0.2-0.5 s of start-up

            frames = tqdm(frames, total=len(plan.payloads), desc="Encoding frames", unit="frame")
        write_video(tmp, frames, settings)
        _verify_written(tmp, plan.payloads, settings, show_progress)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def commit_segment(tmp: Path, plan: SegmentPlan, path: Path, version: int, relative_to: Path,
                   box: bytes | None = None) -> Segment:
    """Append the segment's self-description (``box``), fsync, and move the rendered file to ``path``."""
    try:
        if box is not None:
            append_box(tmp, box)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return Segment(
        uid=plan.uid.hex(),
        file=os.path.relpath(path, relative_to),
        frames=len(plan.payloads),
        dict_frames=plan.dict_frames,
        version=version,
        bytes=path.stat().st_size,
        raw_text_bytes=plan.raw_text_bytes,
        chunks=plan.chunks,
        group_crcs=plan.group_crcs,
        group_starts=plan.group_starts,
    )


def _verify_written(path: Path, payloads: list[bytes], settings: VideoSettings, show_progress: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm  # only writers get here: start-up does not pay for it

    reader = VideoReader(path, len(payloads))
    bad: list[int] = []
    count = 0
    window: deque[Future[bytes | None]] = deque()
    # The bar counts checked frames and closes when the check ends, whatever happens (it never lingers at 0 %).
    with tqdm(total=len(payloads), desc="Verifying frames", unit="frame", disable=not show_progress) as bar, \
            ThreadPoolExecutor(2) as pool:  # zxing-cpp releases the GIL while reading

        def settle() -> None:
            nonlocal count
            data = window.popleft().result()
            if count >= len(payloads) or data != payloads[count]:
                bad.append(count)
            count += 1
            bar.update(1)

        for frame in reader.iter_frames():
            window.append(pool.submit(read_frame, frame, settings.qr_backend))
            if len(window) >= 8:  # a few frames in flight: decoded frames are not all held at once
                settle()
        while window:
            settle()
    if count != len(payloads):
        bad.append(count)
    if bad:
        raise CorruptMemoryError(
            f"{len(bad)} of {len(payloads)} frames did not decode back exactly with codec={settings.codec}, "
            f"crf={settings.crf}, frame_size={settings.frame_size} (first bad frame: {bad[0]}). Nothing was saved. "
            "Use a lower crf, a larger frame_size, or video_codec='av1'."
        )


@dataclass
class _CachedGroup:
    """A decoded group as the cache holds it: its records' JSON, parsed as little as the reads need."""

    text: str
    found: dict[str, Record] = field(default_factory=dict)  # records handed out (checked), by chunk id
    records: list[Record] | None = None  # every record, once something needed all of them


class SegmentCache:
    """Opens segments on demand and keeps an LRU of decoded groups. Thread-safe."""

    def __init__(
        self,
        root: Path,
        settings: VideoSettings,
        max_groups: int = 512,
        locate: Callable[[Segment], Path | str] | None = None,
    ) -> None:
        self.root = root
        self._locate = locate
        self.settings = settings
        self.max_groups = max_groups
        self._readers: dict[str, VideoReader] = {}
        self._dicts: dict[str, bytes | None] = {}
        self._dict_locks: dict[str, threading.Lock] = {}
        self._groups: OrderedDict[tuple[str, int], _CachedGroup] = OrderedDict()
        self._where: dict[tuple[str, str], Path | str] = {}
        self._lock = threading.Lock()

    def reader(self, seg: Segment) -> VideoReader:
        with self._lock:
            # The file name comes from the manifest: never follow it (or a symlink) outside the memory's folder.
            where = self.locate(seg)
            reader = self._readers.get(seg.uid)
            if reader is None or str(reader.path) != str(where):
                # A compaction's segment moves onto kb.mp4 in a later commit: a reader made before the move
                # would keep pointing at the old name, so the segment is reopened at its new place.
                reader = self._readers[seg.uid] = VideoReader(where, seg.frames or None)
            return reader

    def locate(self, seg: Segment) -> Path | str:
        """Where a segment's file is read from (checked to stay inside the memory's folder or source).

        Checked once per segment file name: a cache serves one manifest, and a moved segment has a new name.
        """
        key = (seg.uid, seg.file)
        where = self._where.get(key)
        if where is None:
            if self._locate is not None:
                where = self._locate(seg)
            else:
                where = resolve_inside(self.root, seg.file, f"Segment {seg.uid} file")
            self._where[key] = where
        return where

    def _read_blobs(self, seg: Segment, firsts: Sequence[int]) -> list[list[bytes]]:
        """The frame bodies of the groups starting at ``firsts``, each checked whole; frames decode in parallel."""
        # The most frames one group can span: its compressed bytes never exceed MAX_GROUP_BYTES, and a frame
        # header counts at most 65,535 parts.
        most = min(0xFFFF, -(-(MAX_GROUP_BYTES + _GROUP_SLACK) // max(1, self.settings.frame_capacity - HEADER_SIZE)))
        spans = []
        for first in firsts:
            k = bisect.bisect_left(seg.group_starts, first)
            if k >= len(seg.group_starts) or seg.group_starts[k] != first:
                raise FrameDecodeError(f"Frame {first} of {seg.file} does not start a group listed in the index.")
            # The manifest, not the frame header, says how many frames to read, so a damaged header cannot make us loop;
            # and no more than a group can span, so a damaged manifest cannot make us plan millions of reads.
            span = (seg.group_starts[k + 1] if k + 1 < len(seg.group_starts) else seg.frames) - first
            if span > most:
                raise FrameDecodeError(
                    f"The index says the group at frame {first} of {seg.file} spans {span} frames; a group spans at most "
                    f"{most} at this frame size. The index is damaged: run `memvid verify`."
                )
            spans.append(span)
        reader = self.reader(seg)
        uid = bytes.fromhex(seg.uid)

        def body(job: tuple[int, int, int]) -> bytes:
            first, j, span = job
            frame = first + j
            # The frame's header and CRC32 check the fast QR read; a symbol that fails them is read again by zxing-cpp.
            data = read_frame(reader.read(frame), self.settings.qr_backend,
                              lambda d: frame_intact(d, uid, frame, j, span))
            if data is None:
                raise FrameDecodeError(
                    f"Frame {frame} of {reader.path} holds no readable QR code: the video is damaged. Run `memvid verify`."
                )
            part, parts, payload = parse_frame(data, uid, frame)
            if part != j or parts != span:
                raise FrameDecodeError(
                    f"Frame {frame} of {reader.path} is part {part} of {parts}, expected part {j} of {span}: "
                    "the video does not match its index."
                )
            return payload

        jobs = [(first, j, span) for first, span in zip(firsts, spans) for j in range(span)]
        # Only a long read is split (a segment's first, with its dictionary): a query already decodes its groups in
        # parallel (index/reader.py), so splitting a group's one or two frames as well would only add hand-offs.
        bodies = iter(share(jobs, body, helpers=HELPERS if len(jobs) >= _SPLIT_MIN_FRAMES else 0))
        out = []
        for first, span in zip(firsts, spans):
            blob = [next(bodies) for _ in range(span)]
            _check_group_crc(seg, first, b"".join(blob), reader.path)
            out.append(blob)
        return out

    def _dict_lock(self, uid: str) -> threading.Lock:
        with self._lock:
            return self._dict_locks.setdefault(uid, threading.Lock())

    def dictionary(self, seg: Segment) -> bytes | None:
        if seg.uid not in self._dicts:
            with self._dict_lock(seg.uid):
                if seg.uid not in self._dicts:
                    self._dicts[seg.uid] = decode_dictionary(self._read_blobs(seg, [0])[0]) if seg.dict_frames else None
        return self._dicts[seg.uid]

    def cached_record(self, segment_uid: str, first: int, chunk_id: str, checksum: str | None) -> Record | None:
        """The record of ``chunk_id`` if its group is cached and :meth:`record` has handed it out (checked) before,
        with this checksum; else None, and :meth:`record` reads it. A search's hot path: one lock, no decode."""
        key = (segment_uid, first)
        with self._lock:
            cached = self._groups.get(key)
            if cached is None:
                return None
            self._groups.move_to_end(key)
        rec = cached.found.get(chunk_id)
        return rec if rec is not None and rec.checksum == checksum else None

    def has_group(self, segment_uid: str, first: int) -> bool:
        """Whether the group starting at frame ``first`` of that segment is decoded and cached now."""
        with self._lock:
            return (segment_uid, first) in self._groups

    def group(self, seg: Segment, first: int) -> list[Record]:
        """The records of the group starting at frame ``first``, decoded once and cached.

        Their checksums are not checked here: :meth:`record` checks the one it hands out.
        """
        cached = self._cached(seg, first)
        records = cached.records
        if records is None:
            records = cached.records = parse_records(cached.text, verify=False)
        return records

    def _cached(self, seg: Segment, first: int) -> _CachedGroup:
        """The group starting at frame ``first``, decoded from its frames once and cached (its JSON not parsed)."""
        key = (seg.uid, first)
        with self._lock:
            if key in self._groups:
                self._groups.move_to_end(key)
                return self._groups[key]
        bodies = None
        if seg.dict_frames and seg.uid not in self._dicts and first != 0:
            with self._dict_lock(seg.uid):  # one thread decodes a dictionary; the others wait for it
                if seg.uid not in self._dicts:
                    # A segment's first read needs its dictionary too: its frames and the group's decode together.
                    dict_bodies, bodies = self._read_blobs(seg, [0, first])
                    self._dicts[seg.uid] = decode_dictionary(dict_bodies)
        if bodies is None:
            (bodies,) = self._read_blobs(seg, [first])
        cached = _CachedGroup(records_text(bodies, self.dictionary(seg)))
        with self._lock:
            self._groups[key] = cached
            while len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
        return cached

    def record(self, place: Placement, seg: Segment, chunk_id: str, checksum: str | None) -> Record:
        cached = self._cached(seg, place.frame)
        rec = cached.found.get(chunk_id)  # a cached record cannot change: checked the first time only
        if rec is None:
            # Parsed alone when the index gives its checksum (a search), else from the whole group.
            rec = find_record(cached.text, chunk_id, checksum) if checksum is not None else None
            if rec is None:
                rec = next((r for r in self.group(seg, place.frame) if r.id == chunk_id), None)
                if rec is None:
                    raise FrameDecodeError(
                        f"Chunk {chunk_id!r} is not in frame {place.frame} of {seg.file}, where the index says it is."
                    )
                rec.verify()
            cached.found[chunk_id] = rec
        if checksum is not None and rec.checksum != checksum:
            raise FrameDecodeError(
                f"Chunk {chunk_id!r} in frame {place.frame} of {seg.file} does not match the index checksum."
            )
        return rec

    def iter_groups(self, seg: Segment) -> Iterator[tuple[int, list[Record]]]:
        """Decode a whole segment in order, checking every frame; yields ``(first_frame, records)``."""
        uid = bytes.fromhex(seg.uid)
        reader = self.reader(seg)
        dictionary: bytes | None = None
        bodies: list[bytes] = []
        first, frame, expected = 0, -1, 0
        for frame, gray in enumerate(reader.iter_frames()):
            if seg.frames and frame >= seg.frames:
                raise FrameDecodeError(f"{reader.path} has more frames than the {seg.frames} the index lists.")
            data = read_frame(gray, self.settings.qr_backend)
            if data is None:
                raise FrameDecodeError(f"Frame {frame} of {reader.path} holds no readable QR code.")
            part, parts, body = parse_frame(data, uid, frame)
            if part == 0 and not bodies:
                first, expected = frame, parts
            if part != len(bodies) or parts != expected or (seg.frames and first + parts > seg.frames):
                raise FrameDecodeError(
                    f"Frame {frame} of {reader.path} is part {part} of {parts}, which does not continue the group "
                    f"at frame {first}: the video is damaged."
                )
            bodies.append(body)
            if len(bodies) == parts:
                _check_group_crc(seg, first, b"".join(bodies), reader.path)
                kind, payload = decode_group(bodies, dictionary)
                if kind == KIND_DICT:
                    if first != 0 or not seg.dict_frames:
                        raise FrameDecodeError(f"Frame {first} of {reader.path} holds a dictionary, not chunks.")
                    dictionary = payload
                    self._dicts[seg.uid] = payload
                else:
                    yield first, payload
                bodies = []
        if bodies:
            raise FrameDecodeError(f"{reader.path} ends inside the group at frame {first}: it is truncated.")
        if seg.frames and frame + 1 != seg.frames:
            raise FrameDecodeError(f"{reader.path} has {frame + 1} frames, the index lists {seg.frames}: it is truncated.")

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            self._groups.clear()
            self._dicts.clear()


def _check_group_crc(seg: Segment, first: int, blob: bytes, path: Path | str) -> None:
    k = bisect.bisect_left(seg.group_starts, first)
    if k >= len(seg.group_starts) or seg.group_starts[k] != first:
        raise FrameDecodeError(f"Frame {first} of {path} does not start a group listed in the index.")
    if zlib.crc32(blob) != seg.group_crcs[k]:
        raise FrameDecodeError(f"The group at frame {first} of {path} does not match the index checksum.")
