"""The vector rows a memory's segments make, replayed in version order.

Two readers need the same answer: rebuilding the vector store from the video, and the exact in-memory index
a small or medium memory's first vector query reads straight from the segments' boxes (so that it never
imports or opens Chroma). Both replay the segments the same way: a snapshot (build, compact, clear) ends every row live
before it, a later row of a chunk ends the earlier one, and rows that ended at or before the history floor
are gone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

import numpy as np

from ..errors import CorruptMemoryError
from ..files.layout import Layout
from ..files.manifest import Manifest, Segment
from ..files.self_describe import read_segment_meta
from ..format.segment_meta import ChunkTable, SegmentMeta
from ..index import vectors
from ..index.flat import FlatIndex
from ..index.int8_scan import MAX_SCAN_DIM, ScanIndex
from ..index.row_table import RowTable
from ..index.vectors import LIVE, ExactIndex, make_row
from ..types import Row

SNAPSHOT_OPS = ("compact", "build", "clear")
P = TypeVar("P")


def replay(m: Manifest, chunks_of: Callable[[Segment], Iterable[tuple[str, bool, P]]]) -> tuple[list[tuple[P, Segment, int]], int]:
    """Every row the store holds at ``m``'s version, as ``(payload, segment, v1)``, and how many are live.

    ``chunks_of(segment)`` yields the segment's ``(chunk id, deleted, payload)`` in table order. A row is
    visible from its segment's version up to ``v1`` (:data:`LIVE` while it is current).
    """
    live: dict[str, tuple[P, Segment]] = {}
    history: list[tuple[P, Segment, int]] = []
    for seg in sorted(m.segments, key=lambda s: s.version):
        if seg.file == "" or is_snapshot(m, seg):
            history.extend((payload, owner, seg.version) for payload, owner in live.values())
            live = {}
        if not seg.file:
            continue
        for chunk_id, deleted, payload in chunks_of(seg):
            if previous := live.pop(chunk_id, None):
                history.append((*previous, seg.version))
            if not deleted:
                live[chunk_id] = (payload, seg)
    rows = history + [(payload, seg, LIVE) for payload, seg in live.values()]
    return [r for r in rows if r[2] > m.history_floor], len(live)


def is_snapshot(m: Manifest, seg: Segment) -> bool:
    """Whether ``seg`` was written by an operation that replaced every row before it."""
    return any(v.version == seg.version and v.op in SNAPSHOT_OPS for v in m.versions)


def _box_rows(seg: Segment, meta: SegmentMeta | None, dim: int) -> tuple[ChunkTable, list[int]]:
    """A segment's chunk table (as columns), and each chunk's vector number in the box (-1 for a tombstone).

    Raises:
        CorruptMemoryError: The box is missing, names another segment, or places a chunk where no group starts.
    """
    if meta is None or meta.segment_uid != seg.uid or (meta.live_count and meta.embedding_dim != dim):
        raise CorruptMemoryError(f"{seg.file}'s box does not match the index rebuilt from it; the file changed.")
    table = ChunkTable.of(meta.chunks)
    spans, dead = group_spans(seg), table.deleted
    numbers: list[int] = []
    row = 0  # the box holds one vector per chunk that is not a tombstone, in table order
    for k, (frame, frames) in enumerate(zip(table.frame, table.frames)):
        if k in dead:
            numbers.append(-1)
        elif spans.get(frame) != frames:
            raise CorruptMemoryError(
                f"{seg.file}'s box places chunk {table.ids[k]!r} in a group of {frames} frames at frame "
                f"{frame}, which the segment does not list."
            )
        else:
            numbers.append(row)
            row += 1
    return table, numbers


def _replayed(m: Manifest, metas: Mapping[str, SegmentMeta]) -> tuple[RowTable, list[tuple[str, int]], int]:
    """The store's rows at ``m``'s version from the segments' boxes: ``(rows, places, live)``, where
    ``places[i]`` is row ``i``'s ``(segment uid, vector number in that segment's box)``.

    Read from the boxes' columns: no object per chunk (the first query of a 100,000-chunk memory does this).

    Raises:
        CorruptMemoryError: As :func:`_box_rows`.
    """
    dim = int(m.embedding.get("dimension") or 0)

    def chunks_of(seg: Segment) -> Iterator[tuple[str, bool, tuple[ChunkTable, int, int]]]:
        table, numbers = _box_rows(seg, metas.get(seg.uid), dim)
        for k, (chunk_id, number) in enumerate(zip(table.ids, numbers)):
            yield chunk_id, number < 0, (table, k, number)

    entries, live = replay(m, chunks_of)
    n = len(entries)
    # As columns (index/row_table.py): the same rows make_row makes, without one object each.
    ids = [t.ids[k] for (t, k, _), _, _ in entries]
    v0 = np.fromiter((seg.version for _, seg, _ in entries), dtype=np.int64, count=n)
    rows = RowTable(
        [f"{cid}@{v}" for cid, v in zip(ids, v0.tolist())], ids, [seg.uid for _, seg, _ in entries],
        np.fromiter((t.frame[k] for (t, k, _), _, _ in entries), dtype=np.int64, count=n),
        np.fromiter((t.frames[k] for (t, k, _), _, _ in entries), dtype=np.int64, count=n),
        [t.checksum[k] for (t, k, _), _, _ in entries], v0,
        np.fromiter((v1 for _, _, v1 in entries), dtype=np.int64, count=n),
        np.fromiter((t.text_bytes[k] for (t, k, _), _, _ in entries), dtype=np.int64, count=n),
    )
    return rows, [(seg.uid, number) for (_, _, number), seg, _ in entries], live


def _gather(places: list[tuple[str, int]], parts: Mapping[str, np.ndarray], out: np.ndarray) -> np.ndarray:
    """``out[i] = parts[uid][row]`` for each ``places[i] = (uid, row)``, one fancy index per segment."""
    by_segment: dict[str, tuple[list[int], list[int]]] = {}
    for k, (uid, row) in enumerate(places):
        ks, rows = by_segment.setdefault(uid, ([], []))
        ks.append(k)
        rows.append(row)
    for uid, (ks, rows) in by_segment.items():
        out[ks] = parts[uid][rows]
    return out


def rows_from_metas(
    m: Manifest, metas: Mapping[str, SegmentMeta], decoded: dict[str, np.ndarray] | None = None
) -> tuple[RowTable, np.ndarray, int]:
    """The store's rows at ``m``'s version from the segments' boxes (by segment uid): ``(rows, vectors, live)``.

    The rows and their order are those the store holds, and the vectors those it was given: the int8 values of
    the boxes, decoded the same way (Chroma normalizes them again, which moves some by one float32 step).
    ``decoded`` keeps each segment's decoded vectors between calls (segments never change).

    Raises:
        CorruptMemoryError: A box is missing, names another segment, or places a chunk where no group starts.
    """
    dim = int(m.embedding.get("dimension") or 0)
    rows, places, live = _replayed(m, metas)
    vectors_of: dict[str, np.ndarray] = {} if decoded is None else decoded
    for uid in {uid for uid, _ in places} - vectors_of.keys():
        vectors_of[uid] = metas[uid].decode_vectors()
    if not rows:
        return rows, np.zeros((0, 1), np.float32), live
    return rows, _gather(places, vectors_of, np.empty((len(rows), dim), dtype=np.float32)), live


def int8_rows_from_metas(
    m: Manifest, metas: Mapping[str, SegmentMeta], cache: BoxCache | None = None
) -> tuple[RowTable, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`rows_from_metas` as the int8 codes and scales the boxes hold: ``(rows, codes, scales, exact)``.

    ``exact`` holds the float32 vectors when some box stored another encoding (None when the codes are the
    vectors); ``cache`` keeps each segment's parts between calls.

    Raises:
        CorruptMemoryError: As :func:`rows_from_metas`.
    """
    dim = int(m.embedding.get("dimension") or 0)
    rows, places, _ = _replayed(m, metas)
    parts = (cache if cache is not None else BoxCache()).int8
    for uid in {uid for uid, _ in places} - parts.keys():
        parts[uid] = metas[uid].int8_vectors()
    used = {uid for uid, _ in places}
    n = len(rows)
    if len(used) == 1 and parts[next(iter(used))][0].shape[0] == n and all(r == k for k, (_, r) in enumerate(places)):
        only = parts[next(iter(used))]  # one segment, every row in box order (a compacted memory): no copy
        return rows, only[0], only[1], only[2]
    codes = _gather(places, {u: parts[u][0] for u in used}, np.empty((n, max(dim, 1)), dtype=np.int8))
    scales = _gather(places, {u: parts[u][1] for u in used}, np.empty(n, dtype=np.float32))
    exact = None
    if any(parts[u][2] is not None for u in used):
        floats: dict[str, np.ndarray] = {}
        for u in used:
            exact_u = parts[u][2]
            floats[u] = exact_u if exact_u is not None else metas[u].decode_vectors()
        exact = _gather(places, floats, np.empty((n, max(dim, 1)), dtype=np.float32))
    return rows, codes, scales, exact


class BoxCache:
    """Segments' boxes and the vectors already decoded from them, by segment uid and file (a segment never changes)."""

    def __init__(self) -> None:
        self.metas: dict[tuple[str, str], SegmentMeta] = {}
        self.vectors: dict[str, np.ndarray] = {}  # float32, for the flat index
        self.int8: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}  # for the int8 scan

    def keep_only(self, m: Manifest) -> None:
        """Forget segments ``m`` no longer lists (compacted or promoted away)."""
        current = {(s.uid, s.file) for s in m.segments if s.file}
        self.metas = {k: v for k, v in self.metas.items() if k in current}
        uids = {uid for uid, _ in current}
        self.vectors = {k: v for k, v in self.vectors.items() if k in uids}
        self.int8 = {k: v for k, v in self.int8.items() if k in uids}


def box_of(layout: Layout, seg: Segment) -> SegmentMeta | None:
    """The segment's box, or None when it has none (an older writer's) or it describes another segment."""
    meta = read_segment_meta(layout.segment_source(seg.file))
    return meta if meta is not None and meta.segment_uid == seg.uid else None


def _box_metas(layout: Layout, m: Manifest, max_rows: int, cache: BoxCache) -> dict[str, SegmentMeta] | None:
    """Every segment's box by uid, or None when one has no box or the memory holds more than ``max_rows`` rows.

    Only segments not in ``cache`` are read, so the first query after an append reads one box, not all of them.
    """
    if m.live_chunks + m.dead_rows > max_rows:
        return None
    cache.keep_only(m)
    metas: dict[str, SegmentMeta] = {}
    entries = 0
    for seg in m.segments:
        if not seg.file:
            continue
        meta = cache.metas.get((seg.uid, seg.file))
        if meta is None:
            meta = box_of(layout, seg)
            if meta is None:
                return None  # checked before reading the next box: a manifest cannot make us read one file many times
            cache.metas[(seg.uid, seg.file)] = meta
        entries += len(meta.chunks)
        if entries > 2 * max_rows:  # rows plus tombstones: bounded however many segments the manifest lists
            return None
        metas[seg.uid] = meta
    return metas


def rows_from_boxes(
    layout: Layout, m: Manifest, max_rows: int, cache: BoxCache | None = None
) -> tuple[RowTable, np.ndarray] | None:
    """:func:`rows_from_metas` read from the segment files, or None where the boxes cannot answer.

    None when a segment has no box (written before boxes existed), a box disagrees with the manifest, or
    the memory holds more than ``max_rows`` rows. With ``cache``, only segments not seen before are read.
    """
    cache = cache if cache is not None else BoxCache()
    metas = _box_metas(layout, m, max_rows, cache)
    if metas is None:
        return None
    try:
        rows, vectors, _ = rows_from_metas(m, metas, cache.vectors)
    except CorruptMemoryError:
        return None
    return (rows, vectors) if len(rows) <= max_rows else None


def exact_index_from_boxes(
    layout: Layout, m: Manifest, cache: BoxCache | None = None, base: ExactIndex | None = None
) -> ExactIndex | None:
    """The exact in-memory index of the store at ``m``'s version, read from the segments' boxes.

    A :class:`FlatIndex` up to :data:`~memvid_base.index.vectors.SCAN_FROM_ROWS` rows (or ``FLAT_MAX_ROWS``
    if fewer), then a :class:`ScanIndex` up to :data:`~memvid_base.index.vectors.SCAN_MAX_ROWS`; where the
    scan is off or the vectors are too wide for it, a :class:`FlatIndex` up to ``FLAT_MAX_ROWS``. None above,
    or where the boxes cannot answer.
    ``base``, a scan index of an earlier version, is extended with the rows of the segments written since
    when that is all that changed (adds, upserts, deletes), instead of replaying every box.
    """
    cache = cache if cache is not None else BoxCache()
    total = m.live_chunks + m.dead_rows
    scanned = (min(vectors.SCAN_FROM_ROWS, vectors.FLAT_MAX_ROWS) < total <= vectors.SCAN_MAX_ROWS
               and int(m.embedding.get("dimension") or 0) <= MAX_SCAN_DIM)
    if total <= vectors.FLAT_MAX_ROWS and not scanned:
        found = rows_from_boxes(layout, m, vectors.FLAT_MAX_ROWS, cache)
        return None if found is None else FlatIndex(m.version, *found)
    if not scanned:
        return None
    limit = vectors.SCAN_MAX_ROWS
    metas = _box_metas(layout, m, limit, cache)
    if metas is None:
        return None
    segments = frozenset((s.uid, s.file) for s in m.segments if s.file)
    try:
        if isinstance(base, ScanIndex) and base.head < m.version:
            grown = _extended(base, m, metas, cache, segments)
            if grown is not None:
                return grown if len(grown.rows) <= limit else None
        rows, codes, scales, exact = int8_rows_from_metas(m, metas, cache)
    except CorruptMemoryError:
        return None
    if len(rows) > limit:
        return None
    return ScanIndex(m.version, rows, codes, scales, exact, segments=segments, floor=m.history_floor)


def _extended(
    base: ScanIndex, m: Manifest, metas: Mapping[str, SegmentMeta], cache: BoxCache, segments: frozenset[tuple[str, str]]
) -> ScanIndex | None:
    """``base`` with the rows of the segments ``m`` added after it, replayed as :func:`replay` would; None when
    more changed (a snapshot, a segment gone, a new history floor, a box of floats): then every box is read."""
    added = sorted((s for s in m.segments if s.file and (s.uid, s.file) not in base.segments), key=lambda s: s.version)
    dim = int(m.embedding.get("dimension") or 0)
    if (base.exact is not None or m.history_floor != base.floor or not base.segments <= segments or dim != base.dim
            or any(s.version <= base.head or is_snapshot(m, s) for s in added)
            or any(not s.file and s.version > base.head for s in m.segments)):  # a clear since: a snapshot
        return None
    live = dict(base.live_positions(LIVE))
    ended: dict[int, int] = {}
    rows: list[Row] = []
    places: list[tuple[str, int]] = []
    for seg in added:
        table, numbers = _box_rows(seg, metas.get(seg.uid), dim)
        for k, (chunk_id, row) in enumerate(zip(table.ids, numbers)):
            previous = live.pop(chunk_id, None)
            if previous is not None:
                if previous >= len(base.rows):  # a row this same update added, replaced again
                    j = previous - len(base.rows)
                    rows[j] = dataclasses.replace(rows[j], v1=seg.version)
                else:
                    ended[previous] = seg.version
            if row >= 0:
                live[chunk_id] = len(base.rows) + len(rows)
                rows.append(make_row(chunk_id, seg.uid, table.frame[k], table.frames[k], table.checksum[k], seg.version,
                                     table.text_bytes[k]))  # fmt: skip
                places.append((seg.uid, row))
    for uid in {uid for uid, _ in places} - cache.int8.keys():
        cache.int8[uid] = metas[uid].int8_vectors()
    if any(cache.int8[uid][2] is not None for uid, _ in places):
        return None
    codes = _gather(places, {u: cache.int8[u][0] for u, _ in places}, np.empty((len(rows), base.dim), dtype=np.int8))
    scales = _gather(places, {u: cache.int8[u][1] for u, _ in places}, np.empty(len(rows), dtype=np.float32))
    return base.extended(m.version, segments, ended, rows, codes, scales, live)


def group_spans(seg: Segment) -> dict[int, int]:
    """Each group's first frame and the frames it spans."""
    starts = seg.group_starts
    ends = (*starts[1:], seg.frames)
    return {first: end - first for first, end in zip(starts, ends)}


__all__ = ["SNAPSHOT_OPS", "BoxCache", "box_of", "exact_index_from_boxes", "group_spans", "int8_rows_from_metas",
           "is_snapshot", "replay", "rows_from_boxes", "rows_from_metas"]
