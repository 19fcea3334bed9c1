"""``Memory``: a versioned, appendable video memory. Every other API in memvid is built on it.

On disk a memory is:

* ``kb.mp4``: the base segment (after ``build_video`` or ``compact``), an ordinary MP4;
* ``kb_segments/*.mp4``: segments appended later, also ordinary MP4s;
* ``kb_index.json``: the manifest (settings, segments, versions; never text);
* ``kb_index_chroma/``: the Chroma store (one vector per chunk version; never text).

Every change writes one new immutable segment, then the vector rows tagged with the next version,
then atomically replaces the manifest.  Until that last step no reader can see the change, and a
crash at any point leaves the memory at its last committed version.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from . import store as st
from .config import VideoSettings
from .embeddings import Embedder
from .errors import (
    CorruptMemoryError,
    DimensionMismatchError,
    InvalidInputError,
    MemoryNotFoundError,
    VersionNotAvailableError,
)
from .manifest import Manifest, Segment, VersionEntry, WriterLock, read_manifest, write_manifest
from .mmr import maximal_marginal_relevance
from .payload import Record
from .segments import Placement, SegmentCache, SegmentPlan, plan_segment, write_plan

_EMBED_BATCH = 256
_LAST_WRITTEN: dict[Path, int] = {}  # manifest mtimes this process committed, so readers here need no store reload


@dataclass
class Chunk:
    """One chunk as returned by a search or lookup. ``text`` was decoded from the video."""

    id: str
    text: str
    metadata: dict[str, Any]
    frame: int
    segment: str
    score: float | None = None  # relevance in [0, 1], higher is more similar (1 - cosine_distance / 2)
    distance: float | None = None  # cosine distance in [0, 2]
    embedding: list[float] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "chunk_id": self.id,
            "text": self.text,
            "score": self.score,
            "distance": self.distance,
            "frame": self.frame,
            "segment": self.segment,
            "metadata": self.metadata,
        }
        return out


def default_index_path(video_file: str | os.PathLike[str]) -> Path:
    """``kb.mp4`` -> ``kb_index.json`` beside it (the naming the original memvid used)."""
    video = Path(video_file)
    return video.with_name(f"{video.stem}_index.json")


def resolve_paths(path: str | os.PathLike[str], index_file: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Accept either the video or the index path and return ``(video, index)``."""
    p = Path(path)
    if index_file is not None:
        return p, Path(index_file)
    if p.suffix == ".json":
        stem = p.stem[: -len("_index")] if p.stem.endswith("_index") else p.stem
        return p.with_name(f"{stem}.mp4"), p
    return p, default_index_path(p)


def _relevance(distance: float) -> float:
    return float(min(1.0, max(0.0, 1.0 - distance / 2.0)))


def _clean_for_embedding(text: str) -> str:
    # Lone surrogates are stored exactly in the video but tokenizers reject them.
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _check_metadata(meta: Any, position: int) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise InvalidInputError(f"Metadata for chunk {position} must be a dict, got {type(meta).__name__}.")
    out = dict(meta)
    for key in out:
        if not isinstance(key, str):
            raise InvalidInputError(f"Metadata keys must be strings; chunk {position} has key {key!r}.")
    try:
        json.dumps(out, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Metadata for chunk {position} cannot be stored ({exc}). Use str, int, float, bool, None, lists or dicts."
        ) from exc
    st.scalar_metadata(out)  # rejects reserved keys
    return out


class Memory:
    """A searchable text memory stored as QR frames in MP4 files, with vectors in Chroma.

    Args:
        video_file: The memory's video (``kb.mp4``) or its index (``kb_index.json``).
        index_file: The manifest path; defaults to ``<video stem>_index.json`` beside the video.
        embedding_model: See :class:`memvid_base.embeddings.Embedder`. Its dimension must match the memory's.
        client: Any ``chromadb`` client (e.g. ``chromadb.HttpClient``); default: a ``PersistentClient`` beside the index.
        as_of: Open the memory read-only as it was at this version.
        cache_size: How many decoded groups (frames) to keep in memory.

    Example:
        >>> mem = Memory.create("kb.mp4")                               # doctest: +SKIP
        >>> mem.add(["Apollo 11 landed on the Moon in 1969."], metadatas=[{"file": "space.md"}])  # doctest: +SKIP
        >>> mem.search("When did humans land on the Moon?", top_k=1)[0].text  # doctest: +SKIP
        'Apollo 11 landed on the Moon in 1969.'
    """

    def __init__(
        self,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        *,
        embedding_model: Any = None,
        client: Any = None,
        as_of: int | None = None,
        cache_size: int = 512,
        n_workers: int | None = None,
    ) -> None:
        self.video_path, self.index_path = resolve_paths(video_file, index_file)
        self.root = self.index_path.parent
        self.embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        self.as_of = as_of
        self.n_workers = max(1, n_workers if n_workers is not None else min(2, os.cpu_count() or 1))
        self._client = client
        self._owns_client = client is None
        self._cache_size = cache_size
        self._lock = threading.RLock()
        self._mtime: float | None = None
        self._promote = True
        self._chroma: st.ChromaStore | None = None
        self.manifest = self._load()

    # ------------------------------------------------------------------ opening and creating

    @classmethod
    def create(
        cls,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        *,
        embedding_model: Any = None,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
        client: Any = None,
        exist_ok: bool = False,
        n_workers: int | None = None,
        _store_dir: str | None = None,
    ) -> Memory:
        """Create an empty memory (or open it if ``exist_ok`` and it exists)."""
        video, index = resolve_paths(video_file, index_file)
        if index.exists():
            if not exist_ok:
                raise InvalidInputError(f"{index} already exists. Open it with Memory({str(video)!r}) or delete it first.")
            return cls(video, index, embedding_model=embedding_model, client=client, n_workers=n_workers)
        settings = VideoSettings.create(codec, fps, frame_size, crf, qr_backend)
        embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        index.parent.mkdir(parents=True, exist_ok=True)
        manifest = _new_manifest(video, index, settings, embedder, client, _store_dir)
        manifest.versions.append(VersionEntry(0, _now(), "create", 0))
        write_manifest(index, manifest)
        mem = cls(video, index, embedding_model=embedder, client=client, n_workers=n_workers)
        mem._store(create=True)
        return mem

    @classmethod
    def build(
        cls,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        *,
        embedding_model: Any = None,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
        client: Any = None,
        n_workers: int | None = None,
        show_progress: bool = False,
    ) -> Memory:
        """Build a new memory from scratch, replacing any memory at the same paths only once the new one is complete.

        The new memory is written under temporary names and committed by one atomic rename of its
        index; if anything fails or the process dies first, the old memory is untouched.
        """
        video, index = resolve_paths(video_file, index_file)
        index.parent.mkdir(parents=True, exist_ok=True)
        staging = index.with_name(f".{index.name}.{_uid()}.building")
        embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        with WriterLock(index):
            try:
                mem = cls.create(video, staging, embedding_model=embedder, codec=codec, fps=fps, frame_size=frame_size,
                                 crf=crf, qr_backend=qr_backend, client=client, n_workers=n_workers,
                                 _store_dir=f"{index.stem}_chroma")
                mem._promote = False  # kb.mp4 may still belong to the memory being replaced
                mem.add(texts, metadatas, ids, show_progress=show_progress)
                mem.manifest.versions[-1].op = "build"
                old = _read_replaced(index)
                write_manifest(staging, mem.manifest)
                mem.close()
                os.replace(staging, index)  # the commit point
            finally:
                for leftover in (staging, staging.with_name(staging.name + ".lock")):
                    if leftover.exists():
                        leftover.unlink()
        final = cls(video, index, embedding_model=embedder, client=client, n_workers=n_workers)
        with WriterLock(index):
            final._promote_base()
            if old is not None:
                final._forget(old)
        return final

    def _forget(self, old: Manifest) -> None:
        """After a rebuild committed, delete what only the replaced memory used."""
        mine = {s.file for s in self.manifest.segments}
        for seg in old.segments:
            if seg.file and seg.file not in mine and (self.root / seg.file).exists():
                (self.root / seg.file).unlink()
        old_store = self.root / old.store["path"]
        if old.store["path"] != self.manifest.store["path"] and old_store.is_dir():
            shutil.rmtree(old_store, ignore_errors=True)
        elif old.store["collection"] != self.manifest.store["collection"]:
            try:
                self._store().client.delete_collection(old.store["collection"])
            except Exception:
                pass  # already gone

    def _load(self) -> Manifest:
        if not self.index_path.is_file():
            hint = "" if not self.video_path.exists() else " The video exists but its index is missing: restore the index."
            raise MemoryNotFoundError(f"No memory index at {self.index_path}.{hint} Build one with MemvidEncoder or Memory.create().")
        manifest = read_manifest(self.index_path)
        self._mtime = self.index_path.stat().st_mtime_ns
        dim = manifest.embedding.get("dimension")
        if dim and self.embedder._dimension is None and self.embedder._kind == "default":
            self.embedder._dimension = 384
        if self.as_of is not None and not manifest.history_floor <= self.as_of <= manifest.version:
            raise VersionNotAvailableError(
                f"Version {self.as_of} is not available: this memory has versions {manifest.history_floor}..{manifest.version}"
                " (older ones were compacted away)."
            )
        self.settings = VideoSettings.from_dict(manifest.video)
        self._segments = SegmentCache(self.root, self.settings, self._cache_size)
        self._seg_by_uid = {s.uid: s for s in manifest.segments}
        return manifest

    def refresh(self) -> bool:
        """Reload the manifest if another process committed a change. Returns True if it did."""
        if self.as_of is not None:
            return False
        try:
            mtime = self.index_path.stat().st_mtime_ns
        except FileNotFoundError as exc:
            raise MemoryNotFoundError(f"The index {self.index_path} was removed while the memory was open.") from exc
        if mtime == self._mtime:
            return False
        with self._lock:
            old = self._segments
            self.manifest = self._load()
            old.close()
            if self._owns_client and _LAST_WRITTEN.get(self.index_path.resolve()) != mtime:
                # Another process committed: our cached Chroma view is stale, so open the store afresh.
                self._client = st.open_client(self.root / self.manifest.store["path"], fresh=True)
                self._chroma = None
        return True

    def _store(self, create: bool = False) -> st.ChromaStore:
        if self._chroma is None or self._chroma.name != self.manifest.store["collection"]:
            if self._client is None:
                # A store last written by another process must be read afresh, not from Chroma's per-process cache.
                fresh = _LAST_WRITTEN.get(self.index_path.resolve()) != self._mtime
                self._client = st.open_client(self.root / self.manifest.store["path"], fresh=fresh)
            self._chroma = st.ChromaStore(
                self._client, self.manifest.store["collection"], self.manifest.embedding.get("dimension"), create=create
            )
        return self._chroma

    @property
    def version(self) -> int:
        """The version this memory object reads: ``as_of`` if given, else the latest committed one."""
        return self.manifest.version if self.as_of is None else self.as_of

    def __len__(self) -> int:
        return self.manifest.live_chunks if self.as_of is None else len(self._visible_rows(None))

    # ------------------------------------------------------------------ writing

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: Sequence[Sequence[float]] | np.ndarray | None = None,
        *,
        show_progress: bool = False,
    ) -> list[str]:
        """Append chunks as one new version; an id that already exists is replaced (upsert).

        Returns the chunk ids, generated where none were given.  Nothing already written is re-encoded.
        """
        texts = list(texts)
        if not texts:
            return []
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"Chunk {k} must be a str, got {type(text).__name__}.")
        metas = [_check_metadata(m, k) for k, m in enumerate(metadatas or [None] * len(texts))]
        id_list = list(ids) if ids is not None else [None] * len(texts)
        if len(metas) != len(texts) or len(id_list) != len(texts):
            raise InvalidInputError(f"Got {len(texts)} texts, {len(metas)} metadatas and {len(id_list)} ids; they must match.")
        given = [str(i) for i in id_list if i is not None]
        if len(set(given)) != len(given):
            dup = next(i for i in given if given.count(i) > 1)
            raise InvalidInputError(f"Chunk id {dup!r} appears twice in one call; ids must be unique.")
        vectors = None if embeddings is None else self._check_vectors(embeddings, len(texts))

        with self._lock, WriterLock(self.index_path):
            self._reload_for_write()
            if vectors is not None:  # the reload may have reset a dimension _check_vectors recorded on a new memory
                self._check_dimension(vectors.shape[1])
            final_ids = self._assign_ids(id_list)
            records = [Record.make(i, t, m) for i, t, m in zip(final_ids, texts, metas)]
            version = self.manifest.version + 1
            plan = plan_segment(records, self.settings)
            # The QR/video work runs in a thread (and worker processes) while torch embeds and Chroma indexes;
            # the rows it adds carry the next version, so no reader sees them before the commit.
            with ThreadPoolExecutor(1) as pool:
                future = pool.submit(self._write_plan, plan, version, show_progress)
                if vectors is None:
                    vectors = self._embed_documents(texts, show_progress)
                replaced = self._live_rows_for_ids(final_ids)
                rows = [self._row(rec, plan.placements[rec.id], version, plan.uid.hex()) for rec in records]
                try:
                    self._store().add([r[0] for r in rows], vectors, [r[1] for r in rows])
                    _fault("rows-added")
                    self._store().set_removed(list(replaced), version)
                except Exception as exc:
                    future.cancel()
                    raise CorruptMemoryError(f"The vector store rejected the new chunks: {exc}") from exc
                _fault("rows-updated")
                segment = future.result()
            _fault("segment-written")
            m = self.manifest
            m.segments.append(segment)
            m.live_chunks += len(records) - len(replaced)
            m.live_text_bytes += segment.raw_text_bytes - sum(r["_mv_bytes"] for r in replaced.values())
            m.dead_rows += len(replaced)
            self._commit(version, "add", f"{len(records)} chunks ({len(replaced)} replaced)")
            self._promote_base()
        return final_ids

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete chunks by id and/or metadata filter as one new version. Returns how many were deleted.

        ``delete()`` with neither argument raises; use :meth:`clear` to empty the memory.
        """
        if ids is None and where is None:
            raise InvalidInputError("delete() needs ids or a where filter; call clear() to delete everything.")
        with self._lock, WriterLock(self.index_path):
            self._reload_for_write()
            rows: dict[str, dict[str, Any]] = {}
            if ids is not None:
                rows.update(self._live_rows_for_ids([str(i) for i in ids]))
            if where is not None:
                found = self._store().get(st.and_where(dict(where), st.visible(self.manifest.version)))
                rows.update({rid: meta for rid, meta in zip(found["ids"], found["metadatas"]) if meta["_mv_v1"] == st.LIVE})
            if not rows:
                return 0
            version = self.manifest.version + 1
            tombstones = [Record.make(str(meta["_mv_id"]), None, {}) for meta in rows.values()]
            segment, _ = self._write_new_segment(tombstones, version, False)
            self._store().set_removed(list(rows), version)
            m = self.manifest
            m.segments.append(segment)
            m.live_chunks -= len(rows)
            m.live_text_bytes -= sum(meta["_mv_bytes"] for meta in rows.values())
            m.dead_rows += len(rows)
            self._commit(version, "delete", f"{len(rows)} chunks")
        return len(rows)

    def clear(self) -> None:
        """Delete every chunk as one new version (earlier versions stay readable until compaction)."""
        with self._lock, WriterLock(self.index_path):
            self._reload_for_write()
            version = self.manifest.version + 1
            live = self._store().get({"_mv_v1": st.LIVE})
            self._store().set_removed(live["ids"], version)
            m = self.manifest
            m.segments.append(Segment(_uid(), "", 0, 0, version, 0, 0, 0))  # an empty snapshot
            m.dead_rows += len(live["ids"])
            m.live_chunks = m.live_text_bytes = 0
            self._commit(version, "clear", f"{len(live['ids'])} chunks")

    def compact(self, keep_history: bool = False, show_progress: bool = False) -> dict[str, int]:
        """Rewrite the live chunks into one fresh segment, keeping ids, metadata and vectors.

        Without ``keep_history`` the old segments and dead vector rows are deleted afterwards, and
        versions before the compaction can no longer be opened with ``as_of``.
        """
        with self._lock, WriterLock(self.index_path):
            self._reload_for_write()
            before = sum(s.bytes for s in self.manifest.segments)
            live = self._store().get({"_mv_v1": st.LIVE}, include_embeddings=True)
            order = np.argsort([(m["_mv_v0"], m["_mv_seg"], m["_mv_frame"]) for m in live["metadatas"]], axis=0)[:, 0] if live["ids"] else []
            records: list[Record] = []
            vectors: list[Any] = []
            old_rows = []
            for k in order:
                meta = live["metadatas"][k]
                records.append(self._fetch_record(meta))
                vectors.append(live["embeddings"][k])
                old_rows.append(live["ids"][k])
            version = self.manifest.version + 1
            m = self.manifest
            if records:
                segment, placements = self._write_new_segment(records, version, show_progress)
                rows = [self._row(r, placements[r.id], version, segment.uid) for r in records]
                self._store().add([r[0] for r in rows], np.asarray(vectors, dtype=np.float32), [r[1] for r in rows])
            else:
                segment = Segment(_uid(), "", 0, 0, version, 0, 0, 0)
            self._store().set_removed(old_rows, version)
            old_segments = list(m.segments)
            m.segments.append(segment)
            m.dead_rows += len(old_rows)
            if not keep_history:
                m.history_floor = version
            self._commit(version, "compact", f"{len(records)} live chunks")
            if not keep_history:
                self._drop_history(old_segments)
            self._promote_base()
            after = sum(s.bytes for s in self.manifest.segments)
        return {"live_chunks": len(records), "bytes_before": before, "bytes_after": after, "version": version}

    def _drop_history(self, old_segments: list[Segment]) -> None:
        """Delete segments and vector rows that no version at or after history_floor can see."""
        m = self.manifest
        dead = self._store().get({"_mv_v1": {"$lte": m.history_floor}})
        self._store().delete_rows(dead["ids"])
        keep = {s.uid for s in m.segments if s.version >= m.history_floor}
        m.segments = [s for s in m.segments if s.uid in keep]
        m.dead_rows = 0
        write_manifest(self.index_path, m)
        self._after_commit()
        for seg in old_segments:
            if seg.uid not in keep and seg.file and (self.root / seg.file).exists():
                (self.root / seg.file).unlink()

    def _write_new_segment(
        self, records: list[Record], version: int, show_progress: bool
    ) -> tuple[Segment, dict[str, Placement]]:
        plan = plan_segment(records, self.settings)
        return self._write_plan(plan, version, show_progress), plan.placements

    def _write_plan(self, plan: SegmentPlan, version: int, show_progress: bool) -> Segment:
        folder = self._segments_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{version:08d}-{plan.uid.hex()}.mp4"
        return write_plan(plan, self.settings, path, version, self.root, n_workers=self.n_workers, show_progress=show_progress)

    def _segments_dir(self) -> Path:
        return self.video_path.with_name(f"{self.video_path.stem}_segments")

    def _promote_base(self) -> None:
        """Give the oldest retained segment the memory's own name (``kb.mp4``) once nothing else uses that name.

        The new name is linked in and committed before the old name is unlinked, so at every moment the
        manifest points at a complete file with the right contents.
        """
        m = self.manifest
        if not self._promote:
            return
        target = os.path.relpath(self.video_path, self.root)
        if any(s.file == target for s in m.segments):
            return
        candidates = [s for s in m.segments if s.file and s.version >= m.history_floor]
        if not candidates:
            return
        seg = candidates[0]
        src = self.root / seg.file
        tmp = self.video_path.with_name(f".{self.video_path.name}.{seg.uid}.tmp")
        if tmp.exists():
            tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, self.video_path)
        seg.file = target
        write_manifest(self.index_path, m)
        self._after_commit()
        src.unlink()

    def _commit(self, version: int, op: str, note: str) -> None:
        m = self.manifest
        m.version = version
        m.versions.append(VersionEntry(version, _now(), op, m.live_chunks, note))
        write_manifest(self.index_path, m)  # the atomic commit point
        _fault("committed")
        self._after_commit()
        if self._promote:
            self._pending_marker().unlink(missing_ok=True)

    def _after_commit(self) -> None:
        self._mtime = self.index_path.stat().st_mtime_ns
        _LAST_WRITTEN[self.index_path.resolve()] = self._mtime
        self._seg_by_uid = {s.uid: s for s in self.manifest.segments}

    def _reload_for_write(self) -> None:
        if self.as_of is not None:
            raise InvalidInputError(f"This memory was opened as_of={self.as_of} and is read-only; open the latest version to write.")
        old = self._segments
        self.manifest = self._load()
        if old is not self._segments:
            old.close()
        self._check_dimension()
        self._had_pending = self._pending_marker().exists() or not self._promote
        self._repair()

    def _pending_marker(self) -> Path:
        return self.index_path.with_name(self.index_path.name + ".pending")

    def _repair(self) -> None:
        """Undo what an interrupted writer left behind: rows and files that no committed version references.

        Writers drop a marker before touching the store and remove it after committing, so the store
        scans (which cost time proportional to the memory) only run after a crash.
        """
        marker = self._pending_marker()
        if self._promote:
            marker.touch()
        v = self.manifest.version
        chroma = self._store()
        if not getattr(self, "_had_pending", True):
            self._repair_files()
            return
        orphans = chroma.get({"_mv_v0": {"$gt": v}})
        chroma.delete_rows(orphans["ids"])
        reopened = chroma.get({"$and": [{"_mv_v1": {"$gt": v}}, {"_mv_v1": {"$lt": st.LIVE}}]})
        for rid in reopened["ids"]:
            chroma.collection.update(ids=[rid], metadatas=[{"_mv_v1": st.LIVE}])
        self._repair_files()

    def _repair_files(self) -> None:
        if not self._promote:
            return  # a staging build shares the segments folder with the live memory; never clean it from here
        known = {(self.root / s.file).resolve() for s in self.manifest.segments if s.file}
        folder = self._segments_dir()
        if folder.is_dir():
            for path in folder.iterdir():
                if path.resolve() not in known and (path.suffix in (".mp4", ".tmp")):
                    path.unlink()
        for path in self.video_path.parent.glob(f".{self.video_path.name}.*.tmp"):
            path.unlink()

    def _assign_ids(self, ids: list[str | None]) -> list[str]:
        out = [str(i) if i is not None else None for i in ids]
        missing = [k for k, i in enumerate(out) if i is None]
        if missing:
            counter = self.manifest.store.get("next_id", 0)
            taken = set(i for i in out if i is not None)
            fresh: list[str] = []
            while len(fresh) < len(missing):
                need = len(missing) - len(fresh)
                cands = [str(counter + j) for j in range(need)]
                counter += need
                exists = set(self._live_rows_for_ids(cands, ids_only=True)) if self.manifest.live_chunks else set()
                fresh.extend(c for c in cands if c not in exists and c not in taken)
            for k, new in zip(missing, fresh):
                out[k] = new
            self.manifest.store["next_id"] = counter
        return [i for i in out if i is not None]

    def _live_rows_for_ids(self, ids: Sequence[str], ids_only: bool = False) -> dict[str, dict[str, Any]]:
        """Vector rows currently live for the given chunk ids: ``{row_id: metadata}`` (or chunk ids)."""
        if not ids or not self.manifest.live_chunks:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for k in range(0, len(ids), 1000):
            found = self._store().get({"$and": [{"_mv_id": {"$in": list(ids[k : k + 1000])}}, {"_mv_v1": st.LIVE}]})
            for rid, meta in zip(found["ids"], found["metadatas"]):
                if meta["_mv_v0"] <= self.manifest.version:
                    out[meta["_mv_id"] if ids_only else rid] = meta
        return out

    def _row(self, rec: Record, place: Placement, version: int, seg_uid: str) -> tuple[str, dict[str, Any]]:
        meta = st.scalar_metadata(rec.metadata)
        meta.update(
            _mv_id=rec.id,
            _mv_seg=seg_uid,
            _mv_frame=place.frame,
            _mv_frames=place.frames,
            _mv_sum=rec.checksum,
            _mv_v0=version,
            _mv_v1=st.LIVE,
            _mv_bytes=len((rec.text or "").encode("utf-8", "surrogatepass")),
        )
        return f"{rec.id}@{version}", meta

    def _check_vectors(self, embeddings: Any, n: int) -> np.ndarray:
        arr = np.asarray(embeddings, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise InvalidInputError(f"Expected {n} embeddings, got an array of shape {arr.shape}.")
        self._check_dimension(arr.shape[1])
        return st_normalize(arr)

    def _check_dimension(self, dim: int | None = None) -> None:
        want = self.manifest.embedding.get("dimension")
        have = dim if dim is not None else self.embedder.dimension
        if want and have != want:
            raise DimensionMismatchError(
                f"This memory was built with {self.manifest.embedding.get('model')} ({want}-d vectors) but the "
                f"embedding model gives {have}-d vectors. Open it with the same model it was built with."
            )
        if not want:
            self.manifest.embedding.update(dimension=have, model=self.embedder.name)

    def _embed_documents(self, texts: list[str], show_progress: bool) -> np.ndarray:
        self._check_dimension()
        clean = [_clean_for_embedding(t) for t in texts]
        batches = range(0, len(clean), _EMBED_BATCH)
        if show_progress and len(clean) > _EMBED_BATCH:
            batches = tqdm(batches, desc="Embedding", unit="batch")
        parts = [self.embedder.embed_documents(clean[k : k + _EMBED_BATCH]) for k in batches]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), np.float32)

    # ------------------------------------------------------------------ reading

    def embed_query(self, query: str) -> np.ndarray:
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a str, got {type(query).__name__}.")
        self._check_dimension()
        return self.embedder.embed_query(_clean_for_embedding(query))

    def search(self, query: str, top_k: int = 5, where: Mapping[str, Any] | None = None) -> list[Chunk]:
        """Semantic search; returns up to ``top_k`` chunks, best first, with text decoded from the video."""
        return self.search_by_vector(self.embed_query(query), top_k, where)

    def search_by_vector(
        self,
        vector: Sequence[float] | np.ndarray,
        top_k: int = 5,
        where: Mapping[str, Any] | None = None,
        include_embeddings: bool = False,
    ) -> list[Chunk]:
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}.")
        self.refresh()
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        want = self.manifest.embedding.get("dimension")
        if want and vec.shape[0] != want:
            raise DimensionMismatchError(f"Query vector has {vec.shape[0]} dimensions; this memory uses {want}.")
        rows = self._query_rows(vec, top_k, where, include_embeddings)
        return self._materialize(rows)

    def _query_rows(self, vec: np.ndarray, top_k: int, where: Mapping[str, Any] | None, emb: bool) -> list[tuple[str, float, dict[str, Any], Any]]:
        m = self.manifest
        v = self.version
        if m.live_chunks == 0 and self.as_of is None:
            return []
        chroma = self._store()
        total = m.live_chunks + m.dead_rows  # committed rows; cheaper than asking Chroma on every query
        if total == 0:
            return []

        def is_visible(meta: dict[str, Any]) -> bool:
            return meta["_mv_v0"] <= v < meta["_mv_v1"]

        user = dict(where) if where else None
        # Fast path: most rows are live, so ask for a few extra unfiltered neighbours and drop the invisible
        # ones (rows of older versions, or of a writer that has not committed yet).
        if user is None and self.as_of is None and m.dead_rows <= 256:
            n = top_k + m.dead_rows + 8
            found = chroma.query(vec, n, None, emb)
            rows = [r for r in found if is_visible(r[2])]
            if len(rows) >= top_k or len(found) < n:
                return rows[:top_k]
        rows = chroma.query(vec, top_k, st.and_where(user, st.visible(v)), emb)
        return [r for r in rows if is_visible(r[2])][:top_k]

    def _fetch_record(self, meta: Mapping[str, Any]) -> Record:
        seg = self._seg_by_uid.get(meta["_mv_seg"])
        if seg is None:
            raise CorruptMemoryError(
                f"Chunk {meta['_mv_id']!r} points at segment {meta['_mv_seg']}, which this version does not list. "
                "Another process may have compacted the memory: reopen it."
            )
        place = Placement(seg.uid, int(meta["_mv_frame"]), int(meta["_mv_frames"]))
        return self._segments.record(place, seg, str(meta["_mv_id"]), str(meta["_mv_sum"]))

    def _materialize(self, rows: Sequence[tuple[str, float | None, dict[str, Any], Any]]) -> list[Chunk]:
        # Decode each distinct group once, in parallel: zxing-cpp and the video decoder release the GIL.
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for k, row in enumerate(rows):
            groups[(row[2]["_mv_seg"], row[2]["_mv_frame"])].append(k)
        records: list[Record | None] = [None] * len(rows)

        def load(key: tuple[str, int]) -> None:
            for k in groups[key]:
                records[k] = self._fetch_record(rows[k][2])

        if len(groups) > 1:
            with ThreadPoolExecutor(min(4, len(groups))) as pool:
                list(pool.map(load, groups))
        else:
            for key in groups:
                load(key)
        out = []
        for (rid, dist, meta, emb), rec in zip(rows, records):
            assert rec is not None and rec.text is not None
            out.append(
                Chunk(
                    id=rec.id,
                    text=rec.text,
                    metadata=copy.deepcopy(rec.metadata),  # callers may edit it; the decoded-group cache must not change
                    frame=int(meta["_mv_frame"]),
                    segment=self._seg_by_uid[meta["_mv_seg"]].file,
                    score=None if dist is None else _relevance(dist),
                    distance=dist,
                    embedding=None if emb is None else [float(x) for x in emb],
                )
            )
        return out

    def mmr_search(
        self,
        query: str | None = None,
        top_k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        where: Mapping[str, Any] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
    ) -> list[Chunk]:
        """Maximal marginal relevance: relevant to the query and diverse among themselves."""
        if not 0.0 <= lambda_mult <= 1.0:
            raise InvalidInputError(f"lambda_mult must be in [0, 1], got {lambda_mult}.")
        if vector is None:
            if query is None:
                raise InvalidInputError("mmr_search needs a query or a vector.")
            vector = self.embed_query(query)
        vec = np.asarray(vector, dtype=np.float32)
        self.refresh()
        rows = self._query_rows(vec, max(fetch_k, top_k), where, True)
        if not rows:
            return []
        picked = maximal_marginal_relevance(vec, np.asarray([r[3] for r in rows], dtype=np.float32), lambda_mult, top_k)
        return self._materialize([rows[k] for k in picked])

    def get_by_ids(self, ids: Sequence[str], include_embeddings: bool = False) -> list[Chunk]:
        """The current version of each id that exists, in the order asked; unknown ids are skipped."""
        self.refresh()
        ids = [str(i) for i in ids]
        found: dict[str, tuple[str, None, dict[str, Any], Any]] = {}
        for k in range(0, len(ids), 1000):
            res = self._store().get(
                st.and_where({"_mv_id": {"$in": ids[k : k + 1000]}}, st.visible(self.version)), include_embeddings
            )
            for j, (rid, meta) in enumerate(zip(res["ids"], res["metadatas"])):
                found[meta["_mv_id"]] = (rid, None, meta, res["embeddings"][j] if include_embeddings else None)
        rows = [found[i] for i in dict.fromkeys(ids) if i in found]
        return self._materialize(rows)

    def get(self, where: Mapping[str, Any] | None = None, limit: int | None = None) -> list[Chunk]:
        """Chunks matching a metadata filter (all live chunks if None), in insertion order."""
        self.refresh()
        res = self._store().get(st.and_where(dict(where) if where else None, st.visible(self.version)), limit=limit)
        rows = sorted(
            ((rid, None, meta, None) for rid, meta in zip(res["ids"], res["metadatas"])),
            key=lambda r: (r[2]["_mv_v0"], r[2]["_mv_frame"]),
        )
        return self._materialize(rows[:limit] if limit else rows)

    def _visible_rows(self, where: Mapping[str, Any] | None) -> list[str]:
        return list(self._store().get(st.and_where(dict(where) if where else None, st.visible(self.version)))["ids"])

    # ------------------------------------------------------------------ integrity and maintenance

    def verify(self, show_progress: bool = False) -> VerifyReport:
        """Decode every frame of every segment and check every checksum against the manifest and the store."""
        self.refresh()
        report = VerifyReport()
        seen: dict[tuple[str, str], str] = {}
        segs = [s for s in self.manifest.segments if s.file]
        bar = tqdm(total=sum(s.frames for s in segs), desc="Verifying", unit="frame", disable=not show_progress)
        for seg in segs:
            try:
                for first, records in self._segments.iter_groups(seg):
                    bar.update(1)
                    for rec in records:
                        report.chunks_checked += 1
                        try:
                            rec.verify()
                            seen[(seg.uid, rec.id)] = rec.checksum
                        except CorruptMemoryError as exc:
                            report.bad_chunks.append(rec.id)
                            report.errors.append(f"{seg.file}: {exc}")
                report.frames_ok += seg.frames
            except (CorruptMemoryError, MemoryNotFoundError) as exc:
                report.bad_segments.append(seg.file)
                report.errors.append(f"{seg.file}: {exc}")
            report.frames_total += seg.frames
        bar.close()
        rows = self._store().get(st.visible(self.version))
        for meta in rows["metadatas"]:
            if seen.get((meta["_mv_seg"], meta["_mv_id"])) != meta["_mv_sum"]:
                report.bad_chunks.append(meta["_mv_id"])
                report.errors.append(f"chunk {meta['_mv_id']!r}: not found intact in segment {meta['_mv_seg']}")
        report.live_chunks = len(rows["ids"])
        report.bad_chunks = sorted(set(report.bad_chunks))
        return report

    def rebuild_index(self, show_progress: bool = False) -> int:
        """Recreate the vector store from the video alone: decode every segment, replay versions, re-embed.

        Returns the number of live chunks. With the same embedding model, searches return the same results.
        """
        with self._lock, WriterLock(self.index_path):
            m = read_manifest(self.index_path)
            self.manifest = m
            self._seg_by_uid = {s.uid: s for s in m.segments}
            live: dict[str, tuple[Record, Segment, int, int]] = {}
            rows: list[tuple[Record, Segment, int, int, int]] = []  # record, segment, frame, frames, v1
            history: list[tuple[Record, Segment, int, int, int]] = []
            for seg in sorted(m.segments, key=lambda s: s.version):
                if seg.file == "" or _is_snapshot(m, seg):
                    for rid, (rec, s, f, nf) in live.items():
                        history.append((rec, s, f, nf, seg.version))
                    live = {}
                if not seg.file:
                    continue
                for first, records in self._segments.iter_groups(seg):
                    span = _group_span(seg, first)
                    for rec in records:
                        if rid_prev := live.pop(rec.id, None):
                            history.append((*rid_prev, seg.version))
                        if not rec.deleted:
                            live[rec.id] = (rec, seg, first, span)
            rows = history + [(*v, st.LIVE) for v in live.values()]
            rows = [r for r in rows if r[4] > m.history_floor]
            new_name = f"mv_{_uid()}"
            old_name = m.store["collection"]
            m.store["collection"] = new_name
            self._chroma = None  # type: ignore[assignment]
            chroma = self._store(create=True)
            texts = [_clean_for_embedding(r[0].text or "") for r in rows]
            vectors = self._embed_documents(texts, show_progress) if rows else np.zeros((0, 1))
            metas = []
            for rec, seg, frame, frames, v1 in rows:
                rid, meta = self._row(rec, Placement(seg.uid, frame, frames), seg.version, seg.uid)
                meta["_mv_v1"] = v1
                metas.append((rid, meta))
            chroma.add([r[0] for r in metas], vectors, [r[1] for r in metas])
            m.live_chunks = len(live)
            m.dead_rows = len(rows) - len(live)
            write_manifest(self.index_path, m)
            self._after_commit()
            try:
                self._client.delete_collection(old_name)
            except Exception:
                pass  # the old collection was already gone, which is why we are rebuilding
        return len(live)

    def info(self) -> dict[str, Any]:
        """Figures about the memory: chunks, frames, versions, codec, sizes, ratio to raw text, model."""
        self.refresh()
        m = self.manifest
        video_bytes = sum(s.bytes for s in m.segments)
        frames = sum(s.frames for s in m.segments)
        return {
            "video_file": str(self.video_path),
            "index_file": str(self.index_path),
            "version": m.version,
            "history_floor": m.history_floor,
            "versions": len(m.versions),
            "chunks": m.live_chunks,
            "dead_rows": m.dead_rows,
            "frames": frames,
            "segments": len([s for s in m.segments if s.file]),
            "codec": self.settings.codec,
            "fps": self.settings.fps,
            "frame_size": self.settings.frame_size,
            "crf": self.settings.crf,
            "qr_backend": self.settings.qr_backend,
            "qr_version": self.settings.qr_version,
            "video_bytes": video_bytes,
            "raw_text_bytes": m.live_text_bytes,
            "ratio_to_raw_text": round(video_bytes / m.live_text_bytes, 4) if m.live_text_bytes else None,
            "duration_seconds": round(frames / self.settings.fps, 2),
            "embedding_model": m.embedding.get("model"),
            "embedding_dimension": m.embedding.get("dimension"),
        }

    def history(self) -> list[dict[str, Any]]:
        return [vars(v).copy() for v in self.manifest.versions]

    def clear_cache(self) -> None:
        self._segments.clear()

    def close(self) -> None:
        self._segments.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self.video_path)!r}, version={self.version}, chunks={self.manifest.live_chunks})"

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every live chunk, decoded from the video, in insertion order."""
        yield from self.get()


@dataclass
class VerifyReport:
    """What :meth:`Memory.verify` found. ``ok`` is True only when every frame and chunk checked out."""

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


def _read_replaced(index: Path) -> Manifest | None:
    """The manifest a build is about to replace, if there is a readable one."""
    try:
        return read_manifest(index) if index.is_file() else None
    except CorruptMemoryError:
        return None  # a damaged memory is replaced wholesale; its files are left for the user


def _group_span(seg: Segment, first: int) -> int:
    k = seg.group_starts.index(first)
    end = seg.group_starts[k + 1] if k + 1 < len(seg.group_starts) else seg.frames
    return end - first


def _is_snapshot(m: Manifest, seg: Segment) -> bool:
    return any(v.version == seg.version and v.op in ("compact", "build", "clear") for v in m.versions)


def _new_manifest(
    video: Path, index: Path, settings: VideoSettings, embedder: Embedder, client: Any, store_dir: str | None = None
) -> Manifest:
    store = {
        "kind": "chroma-persistent" if client is None else f"chroma-client:{type(client).__name__}",
        "path": store_dir or f"{index.stem}_chroma",
        "collection": f"mv_{_uid()}",
        "next_id": 0,
    }
    emb = {"model": embedder.name, "dimension": embedder._dimension}
    return Manifest(video=settings.to_dict(), embedding=emb, store=store)


def _fault(point: str) -> None:
    """Crash-test hook: ``MEMVID_FAULT=<point>`` kills the process right here, as ``kill -9`` would."""
    if os.environ.get("MEMVID_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _uid() -> str:
    return os.urandom(8).hex()


def _now() -> float:
    import time

    return round(time.time(), 3)


def st_normalize(arr: np.ndarray) -> np.ndarray:
    from .embeddings import normalize

    return normalize(arr)
