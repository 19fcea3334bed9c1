"""Rebuilding a lost manifest and vector store from the MP4 files alone.

The manifest and the store are caches of what the segments' boxes and frames hold
(:mod:`~memvid_base.files.self_describe`).  When the manifest is missing but ``kb.mp4`` is there (the
cache folder ``.kb.mp4.memvid-cache`` was deleted, say), opening the memory rebuilds both, history
included: each box names its version and operation, the tombstones are in the frames and the
boxes, and the vectors are in the boxes, so no embedding model is called.  The store is rebuilt
from the boxes alone; the frames are read once, later, when a search first needs user metadata or a
writer is about to change the memory (:mod:`~memvid_base.storage.lazy_metadata`).

A segment file in the memory's folder is taken as committed: a writer that crashed after moving
its segment into place but before committing the manifest therefore has its change kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from ..config import VideoSettings
from ..errors import CorruptMemoryError, MemoryLockedError, MemoryNotFoundError
from ..files.layout import MANIFEST_NAME, Layout
from ..files.manifest import Manifest, Segment, VersionEntry, WriterLock, read_manifest
from ..files.segments import SegmentCache
from ..files.self_describe import read_segment_meta
from ..format.container import box_head, read_box
from ..format.opening import open_remote
from ..format.segment_meta import HEADER_SIZE, SegmentMeta, check_versions
from ..index.chroma_io import open_client
from ..index.vectors import VectorStore
from ..remote.range_http import is_remote
from ..safe_files import is_plain_file, read_text_nofollow, unlink_file, write_text_atomic
from .transaction import WriteTransaction, new_uid

_SNAPSHOT_OPS = ("compact",)
_IDENTITY = "source-identity"
_MAX_IDENTITY_BYTES = 4096  # "<size>:<88 hex digits>" is about 110 bytes


def segment_files(layout: Layout) -> list[tuple[Path | str, str]]:
    """The MP4 files that make up a memory, as ``(where to read it, name in the manifest)``.

    A memory read from a URL is its one MP4 (a folder cannot be listed over HTTP: compact or export
    a memory before serving it).
    """
    if layout.source is not None and is_remote(layout.source):
        return [(layout.source_video, layout.video.name)]
    base = Path(layout.source) if layout.source is not None else layout.root
    video = base / layout.video.name if layout.source is not None else layout.video
    files = [video] if video.is_file() else []
    folder = video.with_name(f"{video.stem}_segments")
    if folder.is_dir() and not folder.is_symlink():
        files.extend(sorted(p for p in folder.glob("*.mp4") if p.is_file() and not p.is_symlink()))
    return [(p, os.path.relpath(p, base)) for p in files]


def _described(source: Path | str) -> tuple[SegmentMeta | None, int, bytes]:
    """A segment's self-description, its size and the head of its box (its fingerprint), in one opening."""
    if isinstance(source, Path):
        data, size = read_box(source), source.stat().st_size
    else:
        with open_remote(source) as remote:  # one connection: size, box headers and the box
            data, size = read_box(cast(BinaryIO, remote)), int(remote.size)
    if data is None:
        return None, size, b""
    return SegmentMeta.decode(data), size, data[:HEADER_SIZE]


def _identity(size: int, head: bytes | None) -> str:
    # The box starts with a digest of itself (segment_meta), and the box lists every group's CRC.
    return f"{size}:{'none' if not head else head.hex()}"


def source_identity(layout: Layout) -> str:
    """A fingerprint of a mirrored memory's video (its size and the head of its box), to tell when the cache is stale.

    Reads box headers and a few dozen bytes, never the box's vectors: a reopened remote memory
    costs a few small range requests.
    """
    src = layout.source_video
    if isinstance(src, Path):
        return _identity(src.stat().st_size, box_head(src, HEADER_SIZE))
    with open_remote(src) as remote:
        return _identity(int(remote.size), box_head(cast(BinaryIO, remote), HEADER_SIZE))


def read_metas(layout: Layout) -> list[tuple[tuple[str, int], SegmentMeta, str]]:
    """Every segment's self-description, as ``((name, size), meta, fingerprint)``; refuses a segment without one."""
    out = []
    for source, name in segment_files(layout):
        meta, size, head = _described(source)
        if meta is None:
            raise CorruptMemoryError(
                f"{source} does not describe itself (it was written by an older memvid), so its index cannot be "
                f"rebuilt from the video. Restore {layout.index.name} from a backup."
            )
        out.append(((name, size), meta, _identity(size, head)))
    return out


def manifest_from_video(
    layout: Layout, client: Any = None, described: list[tuple[tuple[str, int], SegmentMeta, str]] | None = None
) -> Manifest:
    """A manifest rebuilt from the segments' boxes (``described`` if already read); its store fields name a new, empty store."""
    metas = [(ns, meta) for ns, meta, _ in (read_metas(layout) if described is None else described)]
    if not metas:
        raise MemoryNotFoundError(f"No memory at {layout.video}: neither its index nor its video exists.")
    metas.sort(key=lambda pm: pm[1].version)
    if len({m.segment_uid for _, m in metas}) != len(metas):
        raise CorruptMemoryError(f"Two segment files of {layout.video} have the same id; remove the copy.")
    settings = metas[0][1].settings
    if any(m.settings != settings for _, m in metas):
        raise CorruptMemoryError(f"The segments of {layout.video} were written with different video settings.")
    with_vectors = [m for _, m in metas if m.live_count]
    model = with_vectors[-1].embedding_model if with_vectors else ""
    dimension = with_vectors[-1].embedding_dim if with_vectors else None
    if any(m.embedding_dim != dimension for m in with_vectors):
        raise CorruptMemoryError(f"The segments of {layout.video} hold vectors of different dimensions.")
    segments, versions = [], [VersionEntry(0, metas[0][1].created, "create", 0, "rebuilt from the video")]
    live: dict[str, int] = {}  # chunk id -> text bytes
    for (name, size), meta in metas:
        if meta.op in _SNAPSHOT_OPS:
            live = {}
        for c in meta.chunks:
            if c.deleted:
                live.pop(c.id, None)
            else:
                live[c.id] = c.text_bytes
        segments.append(Segment(meta.segment_uid, name, meta.frames, meta.dict_frames, meta.version, size,
                                sum(c.text_bytes for c in meta.chunks), len(meta.chunks),
                                list(meta.group_crcs), list(meta.group_starts)))
        versions.append(VersionEntry(meta.version, meta.created, meta.op, len(live), "rebuilt from the video"))
    numeric = [int(k) for k in live if k.isdigit() and len(k) < 18]
    first = metas[0][1]
    store = {
        "kind": "chroma-persistent" if client is None else f"chroma-client:{type(client).__name__}",
        "path": layout.new_store_dir(new_uid()),
        "collection": f"mv_{new_uid()}",
        "next_id": max(numeric, default=-1) + 1,
    }
    return Manifest(
        video=settings.to_dict(), embedding={"model": model, "dimension": dimension}, store=store,
        version=metas[-1][1].version, history_floor=first.version if first.op in _SNAPSHOT_OPS else 0,
        segments=segments, versions=versions, live_chunks=len(live), live_text_bytes=sum(live.values()),
    )


def recover(layout: Layout, client: Any = None, cache_size: int = 64, from_frames: bool = False) -> bool:
    """Rebuild a missing manifest and its store from the MP4 files; False if the manifest exists after all.

    The store is rebuilt from the segments' boxes alone, without decoding a frame: its rows wait for
    their user metadata until a search filters on it, or a writer needs it, and then one pass over the
    frames fills it in (:mod:`~memvid_base.storage.lazy_metadata`).  ``from_frames`` rebuilds the store from
    every frame at once instead (rows and metadata from the frames, vectors from the boxes): the
    reference the box-only path is tested against.
    """
    from .lazy_metadata import store_from_boxes

    layout.ensure_cache()
    layout.index.parent.mkdir(parents=True, exist_ok=True)
    with WriterLock(layout.lock):
        if layout.index.exists():
            return False  # another process recovered it first
        described = read_metas(layout)
        check_versions([(name, meta) for (name, _), meta, _ in described], layout.video.name)  # before any write
        m = manifest_from_video(layout, client, described)

        def fresh_store() -> tuple[VectorStore, dict[str, str]]:
            own = client is None
            folder = layout.root / m.store["path"]
            if own:
                folder.mkdir(exist_ok=True)
            store = VectorStore(open_client(layout.resolve(m.store["path"], "store.path"), fresh=True) if own else client,
                                m.store["collection"], m.embedding.get("dimension"), create=True)
            return store, {}

        tx = WriteTransaction(layout, lambda _m: fresh_store()[0])
        tx.manifest = m
        if from_frames:
            _store_from_frames(layout, tx, fresh_store, cache_size)
        else:
            store_from_boxes(tx, {meta.segment_uid: meta for _, meta, _ in described}, fresh_store)  # commits last
        if layout.source is not None:
            identity = next((ident for (name, _), _, ident in described if name == layout.video.name), None)
            write_text_atomic(layout.cache / _IDENTITY, identity or source_identity(layout))  # replaces a link, never follows it
    return True


def _store_from_frames(
    layout: Layout, tx: WriteTransaction, fresh_store: Callable[[], tuple[VectorStore, dict[str, str]]], cache_size: int
) -> None:
    from .maintenance import rebuild_store  # maintenance imports the layers this module sits beside

    def refuse(texts: list[str], show_progress: bool) -> Any:
        raise CorruptMemoryError("A segment's box has no vector for one of its chunks; restore the index from a backup.")

    segments = SegmentCache(layout.root, VideoSettings.from_dict(tx.m.video), cache_size,
                            locate=lambda seg: layout.segment_source(seg.file))
    try:
        rebuild_store(tx, segments, refuse, fresh_store)  # writes the manifest last: the commit point
    finally:
        segments.close()


def refresh_mirror(layout: Layout) -> None:
    """Drop a mirrored memory's caches when its video changed since they were built.

    A damaged cache (a ``source-identity`` that is not the plain UTF-8 file memvid wrote, an index
    that is not a plain file) is stale too: it is rebuilt, never a reason to fail.
    """
    if not os.path.lexists(layout.index):
        return
    if is_plain_file(layout.index) and _read_identity(layout.cache / _IDENTITY) == source_identity(layout):
        return
    import shutil  # imported here: it loads bz2 and lzma, which readers never need

    with WriterLock(layout.lock):
        for entry in layout.cache.iterdir():
            if entry == layout.lock or entry.name.endswith(".lock"):
                continue
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else unlink_file(entry)


def _read_identity(marker: Path) -> str | None:
    """The fingerprint the cache was built for, or None when it is missing or damaged."""
    try:
        return read_text_nofollow(marker, _MAX_IDENTITY_BYTES, "a mirrored memory's source-identity")
    except (OSError, CorruptMemoryError):
        return None




def drop_stale_index(layout: Layout) -> bool:
    """Drop a cached index that describes another MP4 than the one at the video's path; True if it did.

    The cache folder's ``index.json`` is a cache of the MP4 beside it, so when that MP4 was replaced
    (a copy of another memory put in its place, or an empty cache written beside a copied MP4 by an
    earlier version) the MP4 wins and the index is rebuilt from it on open. An explicit or earlier-layout
    index is left alone, and nothing is judged while a writer is at work or left its marker (its own
    repair handles that), or when the MP4 has no memvid box to compare with.
    """
    if layout.read_only or layout.index != layout.cache / MANIFEST_NAME or not layout.video.is_file():
        return False  # a staging build's index, an explicit one or the earlier layout's is never judged
    if not _describes_other_video(layout):
        return False
    try:
        with WriterLock(layout.lock):
            if layout.writer_pending() or not _describes_other_video(layout):
                return False
            layout.index.unlink()
    except MemoryLockedError:
        return False  # a writer is committing; what it commits is current
    return True


def _describes_other_video(layout: Layout) -> bool:
    """Whether the cached index describes another memory than the MP4's box does (a damaged MP4 is not judged).

    Two cases only, both impossible while a writer follows its protocol: the index names the MP4 as its
    base but the box says another segment is there (the file was replaced), or the index is of a memory
    created empty and never written while the MP4 holds one (the empty cache an adapter of memvid 0.2 wrote
    beside a copied MP4). An index naming no base file otherwise is a writer between commit and promote.
    """
    if not layout.index.is_file():
        return False
    m = read_manifest(layout.index)
    base = next((s for s in m.segments if s.file == layout.video_name), None)
    if base is None and (m.segments or m.version != 0 or m.versions[-1].op != "create"):
        return False
    if base is not None and base.bytes == layout.video.stat().st_size:
        return False  # the file the index describes (the common case costs one stat)
    try:
        meta = read_segment_meta(layout.video)
    except CorruptMemoryError:
        return False  # damaged: `verify` reports it against the index, which stays
    if meta is None:
        return False  # no box (an earlier memvid's file): nothing to compare with
    return base is None or meta.segment_uid != base.uid
