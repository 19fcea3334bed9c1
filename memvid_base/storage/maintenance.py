"""Keeping a memory healthy: ``verify``, ``compact``, rebuilding the vector store, and cleaning up after a rebuild.

These run apart from everyday reading and writing, and receive their collaborators explicitly.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import VideoSettings
from ..errors import CorruptMemoryError, MemoryNotFoundError
from ..files.layout import Layout
from ..files.manifest import Manifest, Segment
from ..files.segments import SegmentCache
from ..files.self_describe import quantized, read_segment_meta
from ..format.container import box_size
from ..format.payload import Record
from ..format.segment_meta import ChunkEntry, SegmentMeta
from ..index.reader import fetch_record
from ..index.vectors import VectorStore, make_row
from .ingest import SegmentSink, empty_segment, rows_for
from .lazy_metadata import PENDING_KEY
from .replay import box_of, group_spans, replay
from .transaction import WriteTransaction


@dataclass
class VerifyReport:
    """What :meth:`Memory.verify` found. ``ok`` is True only when every frame, chunk and row checked out."""

    frames_total: int = 0
    frames_ok: int = 0
    chunks_checked: int = 0
    live_chunks: int = 0
    bad_segments: list[str] = field(default_factory=list)
    bad_chunks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.bad_segments or self.bad_chunks or self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "ok": self.ok}


def verify(
    manifest: Manifest,
    segments: SegmentCache,
    store: VectorStore,
    version: int,
    writer_pending: bool,
    show_progress: bool = False,
) -> VerifyReport:
    """Decode every frame of every segment, and check every visible row against what the frames hold.

    A row must point at the group (first frame) that really holds its chunk, with the same checksum;
    the number of live rows must equal the manifest's count; and the manifest's versions must be sane.
    """
    report = VerifyReport()
    report.errors.extend(_version_errors(manifest))
    found: dict[tuple[str, str], tuple[str, int]] = {}  # (segment uid, chunk id) -> (checksum, first frame)
    segs = [s for s in manifest.segments if s.file]
    from tqdm.auto import tqdm  # imported when used: ~0.1-0.5 s of every start-up otherwise

    bar = tqdm(total=sum(s.frames for s in segs), desc="Verifying", unit="frame", disable=not show_progress)
    for seg in segs:
        try:
            meta = _check_box(segments.locate(seg), seg)
            in_frames: dict[str, ChunkEntry] = {}  # what the frames hold, as the box should describe it
            for first, records in segments.iter_groups(seg):
                bar.update(1)
                for rec in records:
                    report.chunks_checked += 1
                    try:
                        rec.verify()
                        found[(seg.uid, rec.id)] = (rec.checksum, first)
                        text_bytes = 0 if rec.text is None else len(rec.text.encode("utf-8", "surrogatepass"))
                        in_frames[rec.id] = ChunkEntry(rec.id, first, 0, rec.checksum, text_bytes, rec.deleted)
                    except CorruptMemoryError as exc:
                        report.bad_chunks.append(rec.id)
                        report.errors.append(f"{seg.file}: {exc}")
            if meta is not None:
                for chunk_id, problem in _table_errors(meta, in_frames):
                    report.bad_chunks.append(chunk_id)
                    report.errors.append(f"{seg.file}: {problem}")
            report.frames_ok += seg.frames
        except (CorruptMemoryError, MemoryNotFoundError) as exc:
            report.bad_segments.append(seg.file)
            report.errors.append(f"{seg.file}: {exc}")
        report.frames_total += seg.frames
    bar.close()
    hits = store.lookup(version)
    for hit in hits:
        row = hit.row
        if found.get((row.segment, row.chunk_id)) != (row.checksum, row.frame):
            report.bad_chunks.append(row.chunk_id)
            report.errors.append(
                f"chunk {row.chunk_id!r}: not found intact at frame {row.frame} of segment {row.segment}"
            )
    report.live_chunks = len(hits)
    if version == manifest.version and len(hits) != manifest.live_chunks:
        report.errors.append(
            f"the vector store has {len(hits)} live rows but the manifest counts {manifest.live_chunks} chunks: "
            "run `memvid verify --repair` to rebuild the store from the video"
        )
    # Rows newer than the manifest are normal while a writer works (or after it crashed: the next writer
    # undoes them); without a pending writer they mean the manifest was rolled back under the store.
    ahead = [] if writer_pending else store.rows_after(manifest.version)
    if ahead:
        report.errors.append(
            f"the vector store holds {len(ahead)} rows newer than the manifest's version {manifest.version}: the manifest "
            "was restored from an older copy, or a writer crashed; run `memvid verify --repair`"
        )
    report.bad_chunks = sorted(set(report.bad_chunks))
    return report


def _check_box(source: Path | str, seg: Segment) -> SegmentMeta | None:
    """A segment's self-description must be intact and agree with the manifest (older segments have none)."""
    meta = read_segment_meta(source)
    if meta is not None and (meta.segment_uid != seg.uid or meta.frames != seg.frames
                             or list(meta.group_starts) != seg.group_starts or list(meta.group_crcs) != seg.group_crcs):
        raise CorruptMemoryError(f"{seg.file}'s self-description does not match the index (another file was put there?).")
    return meta


def _table_errors(meta: SegmentMeta, in_frames: dict[str, ChunkEntry]) -> list[tuple[str, str]]:
    """Where the box's chunk table disagrees with the frames: a bare copy is rebuilt from the table, so it must match.

    A table that calls a chunk deleted while its frame holds it live would make a rebuilt memory drop it.
    """
    problems = []
    for entry in meta.chunks:
        held = in_frames.pop(entry.id, None)
        if held is None:
            problems.append((entry.id, f"the box lists chunk {entry.id[:80]!r}, which no frame holds"))
        elif (entry.deleted, entry.checksum, entry.frame, entry.text_bytes) != (held.deleted, held.checksum, held.frame, held.text_bytes):
            said, holds = ("deleted" if e.deleted else f"live at frame {e.frame}" for e in (entry, held))
            problems.append((entry.id, f"the box says chunk {entry.id[:80]!r} is {said} but the frames hold it {holds}"
                                       f"{'' if entry.checksum == held.checksum else ' with another checksum'}"))
    problems.extend((cid, f"the frames hold chunk {cid[:80]!r}, which the box does not list") for cid in in_frames)
    return problems


def _version_errors(m: Manifest) -> list[str]:
    errors = []
    numbers = [v.version for v in m.versions]
    if numbers and numbers[-1] != m.version:
        errors.append(f"the manifest's version {m.version} is not its last recorded version {numbers[-1]}")
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        errors.append("the manifest's version history is not increasing")
    if not 0 <= m.history_floor <= m.version:
        errors.append(f"history_floor {m.history_floor} is outside 0..{m.version}")
    if any(s.version > m.version for s in m.segments):
        errors.append("a segment is newer than the manifest's version")
    return errors


FreshStore = Callable[[], tuple[VectorStore, dict[str, str]]]
"""Makes an empty store for a new version and returns it with the manifest's new ``store`` fields."""


def compact(
    tx: WriteTransaction,
    segments: SegmentCache,
    sink: SegmentSink,
    fresh_store: FreshStore,
    keep_history: bool,
    show_progress: bool,
) -> dict[str, int]:
    """Rewrite the live chunks into one fresh segment and a fresh vector store, keeping ids, metadata and vectors.

    The new rows go to a new store that the manifest names only at the commit, so readers of the
    old version keep a store nobody writes to; the old one is removed once no reader holds it.
    Without ``keep_history`` the old segments are deleted afterwards, and versions before the
    compaction can no longer be opened with ``as_of``.
    """
    m = tx.m
    before = sum(s.bytes for s in m.segments)
    seg_by_uid = {s.uid: s for s in m.segments}
    old_store, old_fields = tx.store, dict(m.store)
    live = sorted(old_store.live_rows(include_embeddings=True), key=lambda h: (h.row.v0, h.row.segment, h.row.frame))
    records = [fetch_record(segments, seg_by_uid, h.row) for h in live]
    version = tx.next_version
    store, fields = fresh_store()
    if keep_history:
        old_store.copy_to(store)
        store.set_removed([h.row.row_id for h in live], version)
    elif tx.keywords is not None:
        tx.keywords.stage(removed=[h.row.row_id for h in old_store.all_rows()])
    if records:
        plan = sink.plan(records)
        encoded, vectors = quantized(np.asarray([h.embedding for h in live], dtype=np.float32))
        segment = sink.write(plan, records, version, "compact", m.embedding.get("model") or "",
                             m.embedding.get("dimension"), encoded, show_progress)
        rows = rows_for(records, plan.placements, version)
        store.add(rows, vectors, [r.metadata for r in records])
        if tx.keywords is not None:
            tx.keywords.stage(added=[(row, r.text or "") for row, r in zip(rows, records)])
    else:
        segment = empty_segment(version)
    old_segments = list(m.segments)
    m.store.update(fields)
    m.segments.append(segment)
    if keep_history:
        m.dead_rows += len(live)
    else:
        m.history_floor = version
        m.segments = [segment]
        m.dead_rows = 0
    tx.commit("compact", f"{len(records)} live chunks")
    tx.retire_store(old_fields)
    if not keep_history:
        for seg in old_segments:
            if seg.file:
                tx.layout.resolve(seg.file, "segment file").unlink(missing_ok=True)
    tx.promote_base()
    after = sum(s.bytes for s in tx.m.segments)
    return {"live_chunks": len(records), "bytes_before": before, "bytes_after": after, "version": version}


def rebuild_store(
    tx: WriteTransaction,
    segments: SegmentCache,
    embed: Callable[[list[str], bool], np.ndarray],
    fresh_store: FreshStore,
    show_progress: bool = False,
) -> int:
    """Recreate the vector store from the video alone: decode every segment, replay versions, re-embed.

    The rows go to a new store that the manifest names only once it is complete. Returns the
    number of live chunks.
    """
    m = tx.m

    def chunks_of(seg: Segment) -> Iterator[tuple[str, bool, tuple[Record, int, int]]]:
        spans = group_spans(seg)  # once per segment: a list lookup per group was quadratic in its groups
        for first, records in segments.iter_groups(seg):
            span = spans[first]
            yield from ((rec.id, rec.deleted, (rec, first, span)) for rec in records)

    replayed, live = replay(m, chunks_of)
    old_fields = dict(m.store)
    store, fields = fresh_store()
    vectors = vectors_from_boxes(tx.layout, m, [(rec.id, seg) for (rec, _, _), seg, _ in replayed])
    if vectors is None:  # a segment written before boxes existed: embed again
        texts = [rec.text or "" for (rec, _, _), _, _ in replayed]
        vectors = quantized(embed(texts, show_progress))[1] if replayed else np.zeros((0, 1), np.float32)
    rows = [make_row(rec.id, seg.uid, frame, frames, rec.checksum, seg.version,
                     len((rec.text or "").encode("utf-8", "surrogatepass")), v1)
            for (rec, frame, frames), seg, v1 in replayed]
    store.add(rows, vectors, [rec.metadata for (rec, _, _), _, _ in replayed])
    m.store.update(fields)
    m.store.pop(PENDING_KEY, None)  # every row has its user metadata now
    m.live_chunks = live
    m.dead_rows = len(replayed) - live
    tx.write()
    tx.retire_store(old_fields)
    return live


def vectors_from_boxes(layout: Layout, m: Manifest, chunks: list[tuple[str, Segment]]) -> np.ndarray | None:
    """The stored vectors of ``(chunk id, segment)`` pairs, read from the segments' boxes; None if any is missing."""
    tables: dict[str, dict[str, np.ndarray]] = {}
    for seg in {s.uid: s for _, s in chunks}.values():
        meta = box_of(layout, seg)
        if meta is None or meta.embedding_dim != m.embedding.get("dimension"):
            return None
        live_ids = [c.id for c in meta.chunks if not c.deleted]
        tables[seg.uid] = dict(zip(live_ids, meta.decode_vectors()))
    try:
        rows = [tables[seg.uid][cid] for cid, seg in chunks]
    except KeyError:
        return None
    return np.asarray(rows, dtype=np.float32) if rows else None


def forget_replaced(layout: Layout, old: Manifest, new: Manifest, client: Any) -> None:
    """After a rebuild committed, delete what only the replaced memory used."""
    mine = {s.file for s in new.segments}
    for seg in old.segments:
        if seg.file and seg.file not in mine:
            layout.resolve(seg.file, "segment file").unlink(missing_ok=True)
    if old.store["path"] != new.store["path"]:
        old_store = layout.resolve(old.store["path"], "store.path")
        if old_store.is_dir():
            shutil.rmtree(old_store, ignore_errors=True)
    elif old.store["collection"] != new.store["collection"]:
        try:
            client.delete_collection(old.store["collection"])
        except Exception:
            pass  # already gone


def info(layout: Layout, m: Manifest, settings: VideoSettings) -> dict[str, Any]:
    """Figures about a memory: chunks, frames, versions, codec, sizes, ratio to raw text, model."""
    video_bytes = sum(s.bytes for s in m.segments)
    frames = sum(s.frames for s in m.segments)
    box_bytes = 0 if layout.read_only else sum(box_size(layout.resolve(s.file, "segment file")) for s in m.segments if s.file)
    return {
        "video_file": str(layout.video),
        "index_file": str(layout.index),
        "cache_dir": str(layout.cache),  # every file in it is rebuilt from the MP4 files when it is deleted
        "version": m.version,
        "history_floor": m.history_floor,
        "versions": len(m.versions),
        "chunks": m.live_chunks,
        "dead_rows": m.dead_rows,
        "frames": frames,
        "segments": len([s for s in m.segments if s.file]),
        "codec": settings.codec,
        "fps": settings.fps,
        "frame_size": settings.frame_size,
        "crf": settings.crf,
        "qr_backend": settings.qr_backend,
        "qr_version": settings.qr_version,
        "video_bytes": video_bytes,
        "raw_text_bytes": m.live_text_bytes,
        "ratio_to_raw_text": round(video_bytes / m.live_text_bytes, 4) if m.live_text_bytes else None,
        "box_bytes": box_bytes,  # the segments' self-description: chunk tables and int8 vectors
        "frames_ratio_to_raw_text": round((video_bytes - box_bytes) / m.live_text_bytes, 4) if m.live_text_bytes else None,
        "duration_seconds": round(frames / settings.fps, 2),
        "embedding_model": m.embedding.get("model"),
        "embedding_dimension": m.embedding.get("dimension"),
    }
