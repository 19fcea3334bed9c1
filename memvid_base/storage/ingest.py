"""Turning new chunks into a committed version: validation, ids, segment writing and vector rows.

Each function runs inside a :class:`~memvid_base.storage.transaction.WriteTransaction` and receives its
collaborators explicitly (settings, embedder, segment sink), never the whole ``Memory``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import VideoSettings
from ..embeddings import Embedder
from ..errors import CorruptMemoryError, DimensionMismatchError, InvalidInputError
from ..files.layout import Layout
from ..files.manifest import Manifest, Segment
from ..files.segments import Placement, SegmentPlan, commit_segment, plan_segment, render_plan
from ..files.self_describe import quantized, segment_box
from ..format.payload import Record, encode_record
from ..index.query import check_ids
from ..index.vectors import LIVE, filterable_metadata, make_row
from ..types import Hit, Row
from .transaction import WriteTransaction, fault, new_uid, now

_MAX_METADATA_DEPTH = 32


@dataclass(frozen=True)
class SegmentSink:
    """Writes planned segments into a memory's segments folder."""

    layout: Layout
    settings: VideoSettings
    n_workers: int = 1

    def plan(self, records: Sequence[Record]) -> SegmentPlan:
        return plan_segment(records, self.settings, self.n_workers)

    def path(self, plan: SegmentPlan, version: int) -> Path:
        folder = self.layout.segments_dir
        if folder.is_symlink():
            raise CorruptMemoryError(f"{folder} is a symbolic link; a memory's segments folder must be a real folder.")
        folder.mkdir(parents=True, exist_ok=True)
        return self.layout.segment_path(version, plan.uid.hex())

    def render(self, plan: SegmentPlan, version: int, show_progress: bool = False) -> Path:
        """Render and verify the video into a temporary file (the slow part; runs beside embedding)."""
        return render_plan(plan, self.settings, self.path(plan, version), self.n_workers, show_progress)

    def commit(self, tmp: Path, plan: SegmentPlan, version: int, box: bytes) -> Segment:
        """Append the segment's box and move it into place."""
        return commit_segment(tmp, plan, self.path(plan, version), version, self.layout.root, box)

    def write(self, plan: SegmentPlan, records: Sequence[Record], version: int, op: str, model: str,
              dimension: int | None, vectors: bytes = b"", show_progress: bool = False) -> Segment:
        """Render, describe and commit a segment in one go."""
        tmp = self.render(plan, version, show_progress)
        box = segment_box(plan, records, self.settings, version, op, now(), model, dimension, vectors)
        return self.commit(tmp, plan, version, box)


def _plan_and_render(sink: SegmentSink, records: Sequence[Record], planned: Future[SegmentPlan], version: int,
                     show_progress: bool) -> Path:
    """Pack ``records`` (unless already planned), publish the plan, then render the video to a temporary file."""
    if not planned.done():
        try:
            planned.set_result(sink.plan(records))
        except BaseException as exc:
            planned.set_exception(exc)
            raise
    return sink.render(planned.result(), version, show_progress)


def _discard_rendered(future: Future[Path]) -> None:
    """After a failed add, wait for the render thread and delete the temporary video it wrote."""
    try:
        tmp = future.result()
    except BaseException:
        return  # it failed or was cancelled: render_plan removes its own temporary file
    tmp.unlink(missing_ok=True)


def empty_segment(version: int) -> Segment:
    """A segment with no file: a snapshot that starts the memory over (after ``clear`` or an empty compaction)."""
    return Segment(new_uid(), "", 0, 0, version, 0, 0, 0)


def rows_for(records: Sequence[Record], placements: Mapping[str, Placement], version: int) -> list[Row]:
    return [
        make_row(r.id, placements[r.id].segment, placements[r.id].frame, placements[r.id].frames, r.checksum, version,
                 len((r.text or "").encode("utf-8", "surrogatepass")))
        for r in records
    ]


# ---------------------------------------------------------------------- validation


def check_metadata(meta: Any, position: int) -> dict[str, Any]:
    """A user's metadata for one chunk, checked: a dict with str keys whose values JSON can store."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise InvalidInputError(f"Metadata for chunk {position} must be a dict, got {type(meta).__name__}.")
    out = dict(meta)
    for key in out:
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise InvalidInputError(
                f"Metadata keys must be non-empty strings not starting with '$'; chunk {position} has key {key!r}."
            )
    if _depth(out) > _MAX_METADATA_DEPTH:
        raise InvalidInputError(f"Metadata for chunk {position} is nested more than {_MAX_METADATA_DEPTH} levels deep.")
    try:
        json.dumps(out, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Metadata for chunk {position} cannot be stored ({exc}). Use str, int, float, bool, None, lists or dicts."
        ) from exc
    filterable_metadata(out)  # rejects reserved keys
    return out


def _depth(value: Any) -> int:
    # Iterative, so a 5,000-deep structure is measured without hitting the recursion limit.
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > _MAX_METADATA_DEPTH:
            return deepest
        if isinstance(item, Mapping):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, d + 1) for v in item)
    return deepest


def check_batch(
    texts: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None] | None, ids: Sequence[str | None] | None
) -> tuple[list[str], list[dict[str, Any]], list[str | None]]:
    """Validate one ``add`` call's texts, metadata and ids; returns them as lists."""
    texts = list(texts)
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"Chunk {k} must be a str, got {type(text).__name__}.")
    metas = [check_metadata(m, k) for k, m in enumerate(metadatas if metadatas is not None else [None] * len(texts))]
    id_list: list[str | None] = list(ids) if ids is not None else [None] * len(texts)
    if len(metas) != len(texts) or len(id_list) != len(texts):
        raise InvalidInputError(f"Got {len(texts)} texts, {len(metas)} metadatas and {len(id_list)} ids; they must match.")
    given = check_ids([i for i in id_list if i is not None])
    if len(set(given)) != len(given):
        dup = next(i for i in given if given.count(i) > 1)
        raise InvalidInputError(f"Chunk id {dup!r} appears twice in one call; ids must be unique.")
    return texts, metas, id_list


def check_dimension(manifest: Manifest, embedder: Embedder, dim: int | None = None) -> None:
    """Refuse vectors of another dimension than the memory's; a new memory records the first dimension seen."""
    want = manifest.embedding.get("dimension")
    have = dim if dim is not None else embedder.dimension
    if want and have != want:
        raise DimensionMismatchError(
            f"This memory was built with {manifest.embedding.get('model')} ({want}-d vectors) but the "
            f"embedding model gives {have}-d vectors. Open it with the same model it was built with."
        )
    if not want:
        manifest.embedding.update(dimension=have, model=embedder.name)


def assign_ids(tx: WriteTransaction, ids: list[str | None]) -> list[str]:
    """Given ids as strings; fresh numeric ids, unused by any live chunk, where none was given."""
    out = [str(i) if i is not None else None for i in ids]
    missing = [k for k, i in enumerate(out) if i is None]
    m = tx.m
    if missing:
        counter = m.store.get("next_id", 0)
        taken = {i for i in out if i is not None}
        fresh: list[str] = []
        while len(fresh) < len(missing):
            need = len(missing) - len(fresh)
            cands = [str(counter + j) for j in range(need)]
            counter += need
            exists = {h.row.chunk_id for h in tx.store.live_rows_for(cands, m.version)} if m.live_chunks else set()
            fresh.extend(c for c in cands if c not in exists and c not in taken)
        for k, new in zip(missing, fresh):
            out[k] = new
        m.store["next_id"] = counter
    return [i for i in out if i is not None]


# ---------------------------------------------------------------------- operations


def add(
    tx: WriteTransaction,
    sink: SegmentSink,
    embedder: Embedder,
    texts: list[str],
    metas: list[dict[str, Any]],
    ids: list[str | None],
    vectors: np.ndarray | None,
    show_progress: bool,
) -> list[str]:
    """Append chunks as the next version (upsert by id); returns the chunk ids."""
    m = tx.m
    check_dimension(m, embedder, None if vectors is None else vectors.shape[1])
    final_ids = assign_ids(tx, ids)
    records = [Record.make(i, t, meta) for i, t, meta in zip(final_ids, texts, metas)]
    version = tx.next_version
    planned: Future[SegmentPlan] = Future()
    encoded: bytes | None = None
    if vectors is not None:  # the rows need the placements at once: plan here
        planned.set_result(sink.plan(records))
        # Before the render thread starts: beside it, this thread gets little of the CPU or the GIL.
        encoded, vectors = quantized(vectors)
    else:
        for rec in records:
            encode_record(rec)  # a chunk that cannot be stored fails now, not after the embedding
    # Packing, QR and video work run in a thread (zstd, numpy, zxing-cpp and the encoder release the GIL)
    # while torch embeds and Chroma indexes; the rows it adds carry the next version, so no reader sees
    # them before the commit.
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(_plan_and_render, sink, records, planned, version, show_progress)
        try:
            if vectors is None:
                vectors = embedder.embed_many(texts, show_progress)
            if encoded is None:
                # The store gets exactly the vectors the segment's box keeps, so a store rebuilt from the video matches.
                encoded, vectors = quantized(vectors)
            live = tx.store.live_rows_for(final_ids, m.version) if m.live_chunks else []  # nothing to replace
            replaced = {h.row.row_id: h.row for h in live}
            plan = planned.result()
            rows = rows_for(records, plan.placements, version)
            try:
                tx.store.add(rows, vectors, metas)
                fault("rows-added")
                tx.store.set_removed(list(replaced), version)
            except Exception as exc:
                raise CorruptMemoryError(f"The vector store rejected the new chunks: {exc}") from exc
            fault("rows-updated")
            if tx.keywords is not None:
                tx.keywords.stage(added=list(zip(rows, texts)))
            tmp = future.result()
            # After the render: beside it this loop over every record runs many times slower.
            box = segment_box(plan, records, sink.settings, version, "add", now(),
                              m.embedding.get("model") or embedder.name, m.embedding.get("dimension"), encoded)
        except BaseException:
            future.cancel()
            _discard_rendered(future)
            raise
        segment = sink.commit(tmp, plan, version, box)
    fault("segment-written")
    m.segments.append(segment)
    m.live_chunks += len(records) - len(replaced)
    m.live_text_bytes += segment.raw_text_bytes - sum(r.text_bytes for r in replaced.values())
    m.dead_rows += len(replaced)
    tx.commit("add", f"{len(records)} chunks ({len(replaced)} replaced)")
    tx.promote_base()
    return final_ids


def delete(tx: WriteTransaction, sink: SegmentSink, hits: Sequence[Hit], op: str = "delete") -> int:
    """Delete the chunks of ``hits`` (live rows) as the next version, writing tombstones to the video."""
    rows = {h.row.row_id: h.row for h in hits if h.row.v1 == LIVE}
    if not rows:
        return 0
    version = tx.next_version
    tombstones = [Record.make(r.chunk_id, None, {}) for r in rows.values()]
    m = tx.m
    segment = sink.write(sink.plan(tombstones), tombstones, version, op, m.embedding.get("model") or "",
                         m.embedding.get("dimension"))
    tx.store.set_removed(list(rows), version)
    m = tx.m
    m.segments.append(segment)
    m.live_chunks -= len(rows)
    m.live_text_bytes -= sum(r.text_bytes for r in rows.values())
    m.dead_rows += len(rows)
    tx.commit(op, f"{len(rows)} chunks")
    return len(rows)


def clear(tx: WriteTransaction, sink: SegmentSink) -> None:
    """Delete every chunk as the next version (earlier versions stay readable until compaction).

    The tombstones go to the video like any delete, so a memory rebuilt from its files stays cleared.
    """
    if not delete(tx, sink, tx.store.live_rows(), op="clear"):
        tx.m.segments.append(empty_segment(tx.next_version))  # nothing to tombstone: an empty snapshot
        tx.commit("clear", "0 chunks")
