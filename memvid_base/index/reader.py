"""Decoding chunks for vector hits: the only way text leaves a memory, and always from the video."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..decode_pool import HELPERS, share
from ..errors import CorruptMemoryError
from ..files.manifest import Segment
from ..files.segments import Placement, SegmentCache
from ..format.payload import Record
from ..types import Chunk, Hit, Row, relevance


def fetch_record(segments: SegmentCache, seg_by_uid: Mapping[str, Segment], row: Row) -> Record:
    """The record a row points at, decoded from its frames and checked against the row's checksum."""
    seg = seg_by_uid.get(row.segment)
    if seg is None:
        raise _unlisted(row)
    return segments.record(Placement(seg.uid, row.frame, row.frames), seg, row.chunk_id, row.checksum)


def _unlisted(row: Row) -> CorruptMemoryError:
    return CorruptMemoryError(
        f"Chunk {row.chunk_id!r} points at segment {row.segment}, which this version does not list. "
        "Another process may have compacted the memory: reopen it."
    )


def _copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists and scalars): 1.8 us for a four-key metadata dict where
    ``copy.deepcopy`` took 7, five times per query. Depth is bounded when a group is decoded (payload.py)."""
    if type(value) is dict:
        return {k: _copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy_json(v) for v in value]
    return value  # str, int, float, bool, None: immutable


def materialize(segments: SegmentCache, seg_by_uid: Mapping[str, Segment], hits: Sequence[Hit]) -> list[Chunk]:
    """Chunks for ``hits``, in order, with text decoded from the video; any failed decode raises."""
    # Decode each distinct group once, in parallel: zxing-cpp and the video decoder release the GIL.
    records: list[Record | None] = [None] * len(hits)
    pending: dict[tuple[str, int], list[int]] = {}
    for k, hit in enumerate(hits):
        row = hit.row
        key = (row.segment, row.frame)
        if key in pending:
            pending[key].append(k)
        elif (rec := segments.cached_record(row.segment, row.frame, row.chunk_id, row.checksum)) is not None:
            records[k] = rec  # read before, and checked then: a repeated hit costs one lookup
        elif segments.has_group(*key):  # cached: read here, as a hand-off costs more than a cache hit
            records[k] = fetch_record(segments, seg_by_uid, row)
        else:
            pending[key] = [k]

    def load(key: tuple[str, int]) -> None:
        for k in pending[key]:
            records[k] = fetch_record(segments, seg_by_uid, hits[k].row)

    # Groups not decoded yet are shared with the pool (the caller decodes some itself instead of waiting idle).
    if pending:
        share(list(pending), load, helpers=HELPERS)
    out = []
    for hit, rec in zip(hits, records):
        seg = seg_by_uid.get(hit.row.segment)
        if seg is None:
            raise _unlisted(hit.row)
        if rec is None or rec.text is None:
            raise CorruptMemoryError(f"Chunk {hit.row.chunk_id!r} decoded as deleted, but its row says it is live.")
        out.append(
            Chunk(
                id=rec.id,
                text=rec.text,
                metadata=_copy_json(rec.metadata),  # callers may edit it; the decoded-group cache must not change
                frame=hit.row.frame,
                segment=seg.file,
                score=None if hit.distance is None else relevance(hit.distance),
                distance=hit.distance,
                embedding=None if hit.embedding is None else [float(x) for x in hit.embedding],
            )
        )
    return out
