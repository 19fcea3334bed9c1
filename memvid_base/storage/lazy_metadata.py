"""Opening a read-only memory without decoding its frames, and filling in user metadata when a search needs it.

A mirrored memory (read over HTTP, or from a folder memvid may not write to) keeps its manifest and
vector store in the user's cache, rebuilt from the video.  Everything the vector store needs except
user metadata is in each segment's box (:mod:`~memvid_base.files.self_describe`): ids, placements,
checksums, tombstones, versions and vectors.  So the first open reads the boxes only and builds the
store from them (:func:`store_from_boxes`), with the rows' user metadata left out and the manifest
marked ``store.user_metadata = "pending"``.  Plain vector searches need nothing more.

User metadata lives only in the QR frames.  The first search that filters on it (``where``) or needs
the keyword index (keyword and hybrid modes, ``where_document``) calls :func:`backfill`: one pass
over every frame, under the writer lock, that writes each row's metadata into the store, fills the
keyword index from the same decoded text, and only then rewrites the manifest without the mark.  A
pass that dies half way leaves the mark in place, so the next search redoes it; a store never claims
metadata it lacks.  Text is never cached: searches decode it from the video as always.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import CorruptMemoryError, InvalidInputError
from ..files.manifest import Manifest, WriterLock, read_manifest
from ..format.segment_meta import SegmentMeta
from ..index.keyword_cache import stamp_for
from ..index.vectors import VectorStore, row_metadata, row_payload
from ..types import Row
from .replay import rows_from_metas
from .transaction import WriteTransaction

if TYPE_CHECKING:
    from ..files.layout import Layout
    from ..index.keyword_cache import KeywordCache
    from ..index.keywords import KeywordIndex
    from ..view import MemoryView

PENDING_KEY = "user_metadata"  # in the manifest's ``store`` object
PENDING = "pending"
_BATCH = 2000
_BAR_MIN_FRAMES = 200  # a shorter pass is over before a progress bar would help
_WAIT_FOR_OTHER_S = 3600.0  # another reader of the same cache may be filling it in


def is_pending(manifest: Manifest) -> bool:
    """Whether the store's rows still lack their user metadata (a value other than the mark is refused)."""
    value = manifest.store.get(PENDING_KEY)
    if value is None:
        return False
    if value != PENDING:
        raise CorruptMemoryError(
            f"The cached index says store.{PENDING_KEY} = {value!r}; only {PENDING!r} is valid. "
            "Delete the memory's cache folder to rebuild it."
        )
    return True


def store_from_boxes(
    tx: WriteTransaction,
    metas: Mapping[str, SegmentMeta],
    fresh_store: Callable[[], tuple[VectorStore, dict[str, str]]],
) -> int:
    """Fill a new store from the segments' boxes and commit the manifest marked pending; returns the live chunks.

    The rows, their order and their vectors are those :func:`memvid_base.storage.maintenance.rebuild_store`
    makes from the frames, so searches rank the same; only user metadata is missing.
    """
    m = tx.m
    rows, vectors, live = rows_from_metas(m, metas)
    old_fields = dict(m.store)
    store, fields = fresh_store()
    store.add(rows, vectors, [{}] * len(rows))
    m.store.update(fields)
    m.store[PENDING_KEY] = PENDING
    m.live_chunks = live
    m.dead_rows = len(rows) - live
    tx.write()  # the commit point
    tx.retire_store(old_fields)
    return live


def backfill(layout: Layout, view: MemoryView, keywords: KeywordCache, show_progress: bool | None = None) -> bool:
    """Read every frame once: write each row's user metadata into the store and fill the keyword index.

    Runs under the memory's writer lock (another reader of the same cache waits, then finds the work
    done).  The manifest loses its pending mark only after every row is written.

    Args:
        layout: The mirrored memory's files.
        view: The reader's view: its store and decoded-frame cache are used.
        keywords: The memory's keyword index, filled from the same pass when it is not up to date.
        show_progress: Show a progress bar; None shows one when the pass is long and stderr is a terminal.

    Returns:
        True if this call did the pass, False if the metadata was already there.
    """
    with WriterLock(layout.lock, timeout=_WAIT_FOR_OTHER_S):
        m = read_manifest(layout.index)
        if not is_pending(m):
            return False  # another reader of this cache filled it in meanwhile
        if view.manifest.store.get("collection") != m.store.get("collection"):
            raise CorruptMemoryError(f"{layout.index} changed while the memory was open; reopen it.")
        store = view.store()
        waiting: dict[tuple[str, str, int], list[Row]] = {}
        for hit in store.all_rows():
            waiting.setdefault((hit.row.segment, hit.row.chunk_id, hit.row.frame), []).append(hit.row)
        index = keywords.rebuilding(m)
        segs = [s for s in m.segments if s.file]
        total = sum(s.frames for s in segs)
        from tqdm.auto import tqdm  # imported when used: ~0.1-0.5 s of every start-up otherwise

        bar = tqdm(total=total, desc="Reading metadata from the video", unit="frame",
                   disable=(None if total >= _BAR_MIN_FRAMES else True) if show_progress is None else not show_progress)
        batch: list[tuple[Row, dict[str, object], str]] = []
        try:
            for seg in segs:
                done = 0
                for first, records in view.segments.iter_groups(seg):
                    for rec in records:
                        for row in waiting.pop((seg.uid, rec.id, first), ()):
                            batch.append(_filled(row, rec.text, rec.metadata, rec.checksum, rec.verify))
                    if len(batch) >= _BATCH:
                        _write(store, index, m, batch)
                    bar.update(first - done)
                    done = first
                bar.update(seg.frames - done)
            _write(store, index, m, batch)
        except BaseException:
            keywords.close()  # drop keyword rows staged for a pass that did not finish
            raise
        finally:
            bar.close()
        if waiting:
            (seg_uid, chunk_id, frame), _ = next(iter(waiting.items()))
            keywords.close()
            raise CorruptMemoryError(
                f"Chunk {chunk_id!r} is not at frame {frame} of segment {seg_uid}, where the cached index says it is: "
                "delete the memory's cache folder to rebuild it."
            )
        if index is not None:
            index.commit(stamp_for(m))
        m.store.pop(PENDING_KEY)
        tx = WriteTransaction(layout, lambda _m: store)
        tx.manifest = m
        tx.write()  # the commit point: from now on the store claims its metadata
    return True


def _filled(
    row: Row, text: str | None, metadata: Mapping[str, object], checksum: str, verify: Callable[[], None]
) -> tuple[Row, dict[str, object], str]:
    """A row with the metadata its frames hold, checked against the row as searches check it."""
    if text is None or checksum != row.checksum:
        raise CorruptMemoryError(f"Chunk {row.chunk_id!r} in the video does not match its row in the cached index.")
    verify()
    try:
        return row, row_metadata(row, metadata), text
    except InvalidInputError as exc:  # a reserved key in a frame: the file was not written by memvid
        raise CorruptMemoryError(f"Chunk {row.chunk_id!r} holds metadata memvid never writes: {exc}") from exc


def _write(store: VectorStore, index: KeywordIndex | None, m: Manifest, batch: list[tuple[Row, dict[str, object], str]]) -> None:
    if not batch:
        return
    store.set_metadata([r.row_id for r, _, _ in batch], [meta for _, meta, _ in batch])
    if index is not None:
        rows = [(r, t) for r, _, t in batch if r.v0 <= m.version]
        index.add([r.row_id for r, _ in rows], [t for _, t in rows], [row_payload(r) for r, _ in rows])
    batch.clear()
