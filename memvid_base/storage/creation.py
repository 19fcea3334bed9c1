"""Creating an empty memory, and building one from scratch so that it replaces an old one atomically."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ..config import VideoOptions
from ..embeddings import Embedder
from ..errors import CorruptMemoryError, InvalidInputError
from ..files.layout import Layout
from ..files.locate import Location, locate
from ..files.manifest import Manifest, VersionEntry, WriterLock, read_manifest, write_manifest
from .transaction import new_uid, now


class _Opened(Protocol):
    """What creation needs of the memory class it opens (``Memory``, which sits above this layer)."""

    @property
    def manifest(self) -> Manifest: ...

    def open_store(self, create: bool = False) -> Any: ...

    def add(self, texts: Sequence[str], metadatas: Any = None, ids: Any = None, *, show_progress: bool = False) -> Any: ...

    def close(self) -> None: ...


M = TypeVar("M", bound=_Opened)
Opener = Callable[..., M]

_log = logging.getLogger("memvid_base")


def new_manifest(layout: Layout, options: VideoOptions, embedder: Embedder, client: Any, store_dir: str) -> Manifest:
    """The manifest of an empty memory at version 0."""
    store = {
        "kind": "chroma-persistent" if client is None else f"chroma-client:{type(client).__name__}",
        "path": store_dir,
        "collection": f"mv_{new_uid()}",
        "next_id": 0,
    }
    embedding = {"model": embedder.name, "dimension": embedder.known_dimension}
    manifest = Manifest(video=options.settings().to_dict(), embedding=embedding, store=store)
    manifest.versions.append(VersionEntry(0, now(), "create", 0))
    return manifest


def create(
    cls: Opener[M],
    layout: Layout,
    embedding_model: Any,
    options: VideoOptions,
    client: Any,
    exist_ok: bool,
    n_workers: int | None,
) -> M:
    """Create an empty memory and open it, or open the one already there if ``exist_ok``.

    A memory exists where its MP4 or its index does (:func:`memvid_base.files.locate.locate`), so a copied
    MP4 is opened, never created over; a file that is not a memory is never replaced here.

    Raises:
        MemoryExistsError: A memory is there and ``exist_ok`` is False.
        NotAMemoryError: Another file is at the video's path.
    """
    video, index = (layout.source_video, None) if layout.read_only else (layout.video, layout.index)
    found = locate(video, index)
    if found.exists:
        if not exist_ok:
            found.refuse_to_create()
        return cls(video, index, embedding_model=embedding_model, client=client, n_workers=n_workers)
    found.refuse_to_create()
    return write_empty(cls, layout, embedding_model, options, client, n_workers)


def write_empty(
    cls: Opener[M],
    layout: Layout,
    embedding_model: Any,
    options: VideoOptions,
    client: Any,
    n_workers: int | None,
    store_dir: str | None = None,
    owns_files: bool = True,
) -> M:
    """Write an empty memory's manifest and store at ``layout`` (checked by the caller) and open it."""
    embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
    manifest = new_manifest(layout, options, embedder, client, store_dir or layout.default_store_dir)
    layout.ensure_cache()
    layout.index.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(layout.index, manifest)
    mem = cls(layout.video, layout.index, embedding_model=embedder, client=client, n_workers=n_workers,
              owns_files=owns_files)
    mem.open_store(create=True)
    return mem


def build(
    cls: Opener[M],
    layout: Layout,
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    ids: Sequence[str | None] | None,
    embedding_model: Any,
    options: VideoOptions,
    client: Any,
    n_workers: int | None,
    show_progress: bool,
) -> tuple[Embedder, Manifest | None]:
    """Build a memory under a staging index, then commit it by one atomic rename over ``layout.index``.

    Returns the embedder used and the manifest that was replaced (None if there was none), whose
    files the caller deletes once the new memory owns the name.
    """
    options.settings()  # bad settings fail before anything touches the disk
    layout.ensure_cache()
    layout.index.parent.mkdir(parents=True, exist_ok=True)
    staging = Layout(layout.video, layout.staging_index(new_uid()))  # in the cache folder: same root, own lock
    embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
    with WriterLock(layout.lock):
        try:
            # A staging memory shares kb.mp4's name and segments folder with the memory it replaces: it owns no files.
            mem = write_empty(cls, staging, embedder, options, client, n_workers, layout.default_store_dir,
                              owns_files=False)
            mem.add(texts, metadatas, ids, show_progress=show_progress)
            mem.manifest.versions[-1].op = "build"
            old = _read_replaced(layout)
            write_manifest(staging.index, mem.manifest)
            mem.close()
            os.replace(staging.index, layout.index)  # the commit point
        finally:
            for leftover in (staging.index, staging.lock):
                leftover.unlink(missing_ok=True)
    return embedder, old


def _read_replaced(layout: Layout) -> Manifest | None:
    """The manifest a build is about to replace, if there is a readable one."""
    try:
        return read_manifest(layout.index) if layout.index.is_file() else None
    except CorruptMemoryError:
        return None  # a damaged memory is replaced wholesale; its files are left for the user


def prepare_replace(cls: Opener[M], layout: Layout, overwrite: bool) -> Location:
    """Check what a build is about to replace, and give a memory that has no cache its index first.

    A copied MP4 has no index yet; rebuilding it from the file lets the build forget every file the old
    memory used (its segments too), as for any other memory.

    Raises:
        NotAMemoryError: A file that is not a memory is at the video's path and ``overwrite`` is False.
        InvalidInputError: The memory is read-only (a URL, or a folder this process cannot write).
    """
    if layout.read_only:
        raise InvalidInputError(
            f"Cannot build at {layout.source_video}: it is read-only. Build into a folder you can write to."
        )
    found = locate(layout.video, layout.index)
    if found.state == "foreign" and not overwrite:
        found.refuse_to_create()
    if found.exists and not layout.index.exists():
        try:
            cls(layout.video, layout.index).close()
        except CorruptMemoryError as exc:  # a damaged memory is replaced wholesale; its other files stay
            _log.warning("The memory at %s could not be read before it was replaced (%s).", layout.video, exc)
    return found


def drop_foreign(layout: Layout, found: Location, m: Manifest) -> None:
    """Remove the non-memory file an ``overwrite`` replaced, when the new memory left it in place (it is empty)."""
    if found.state == "foreign" and layout.video.is_file() and not any(s.file == layout.video_name for s in m.segments):
        layout.video.unlink()


def announce_replaced(layout: Layout, old: Manifest | None) -> None:
    """Say in one line that a build replaced a memory that held chunks."""
    if old is not None and old.live_chunks:
        _log.warning("Replaced the memory at %s, which held %d chunks, with the new build.", layout.video,
                     old.live_chunks)
