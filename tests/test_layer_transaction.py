"""The write transaction on its own: lock, repair, commit and promote, with no ``Memory`` in sight."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from memvid_base import Embedder, MemoryLockedError
from memvid_base.config import VideoOptions
from memvid_base.files.layout import Layout
from memvid_base.files.manifest import Segment, read_manifest, write_manifest
from memvid_base.index.vectors import VectorStore, make_row
from memvid_base.storage.creation import new_manifest
from memvid_base.storage.transaction import WriteTransaction, committed_here


@pytest.fixture
def memory_files(tmp_path: Path) -> tuple[Layout, VectorStore]:
    layout = Layout.of(tmp_path / "kb.mp4")
    layout.ensure_cache()
    embedder = Embedder(lambda texts: np.ones((len(texts), 4)), dimension=4)
    write_manifest(layout.index, new_manifest(layout, VideoOptions(), embedder, None, layout.default_store_dir))
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    return layout, VectorStore(client, f"mv_{uuid.uuid4().hex[:12]}", 4, create=True)


def _segment(layout: Layout, version: int, name: str) -> Segment:
    path = layout.segment_path(version, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"segment " + name.encode())
    return Segment(name, layout.relative(path), 1, 0, version, path.stat().st_size, 5, 1, [0], [0])


def test_commit_is_the_moment_a_version_appears(memory_files: tuple[Layout, VectorStore]) -> None:
    layout, store = memory_files
    with WriteTransaction(layout, lambda m: store) as tx:
        assert tx.next_version == 1
        tx.m.segments.append(_segment(layout, 1, "a" * 16))
        tx.m.live_chunks = 1
        assert read_manifest(layout.index).version == 0  # nothing visible before the commit
        assert tx.commit("add", "1 chunk") == 1
    m = read_manifest(layout.index)
    assert (m.version, m.versions[-1].op, m.live_chunks) == (1, "add", 1)
    assert committed_here(layout.index, layout.index.stat().st_mtime_ns)
    assert not layout.pending_marker.exists()


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(memory_files: tuple[Layout, VectorStore]) -> None:
    layout, store = memory_files
    with WriteTransaction(layout, lambda m: store):
        with pytest.raises(MemoryLockedError, match="locked by another writer"):
            WriteTransaction(layout, lambda m: store).__enter__()


def test_a_crashed_writer_is_undone_by_the_next_one(memory_files: tuple[Layout, VectorStore]) -> None:
    layout, store = memory_files
    # A writer staged a row for version 1 and a segment file, then died before committing.
    store.add([make_row("x", "b" * 16, 0, 1, "s", 1, 3)], np.ones((1, 4), np.float32), [{}])
    orphan = _segment(layout, 1, "b" * 16)
    layout.pending_marker.touch()
    with WriteTransaction(layout, lambda m: store) as tx:
        assert tx.m.version == 0
    assert store.rows_after(0) == []
    assert not layout.resolve(orphan.file).exists()
    assert not layout.pending_marker.exists()  # a clean exit leaves no marker


def test_promote_gives_the_oldest_segment_the_memorys_name(memory_files: tuple[Layout, VectorStore]) -> None:
    layout, store = memory_files
    with WriteTransaction(layout, lambda m: store) as tx:
        seg = _segment(layout, 1, "c" * 16)
        tx.m.segments.append(seg)
        tx.commit("add", "")
        tx.promote_base()
    m = read_manifest(layout.index)
    assert m.segments[0].file == "kb.mp4"
    assert layout.video.read_bytes() == b"segment " + b"c" * 16
    assert not list(layout.segments_dir.glob("*.mp4"))
    # the promote temp was renamed from the cache folder, and the emptied segments folder is gone
    assert sorted(p.name for p in layout.root.iterdir()) == [".kb.mp4.memvid-cache", "kb.mp4"]
    assert not list(layout.cache.glob("promote-*"))


def test_a_staging_transaction_never_touches_shared_files(memory_files: tuple[Layout, VectorStore]) -> None:
    layout, store = memory_files
    stray = _segment(layout, 7, "d" * 16)  # belongs to another memory sharing the folder
    with WriteTransaction(layout, lambda m: store, promote=False) as tx:
        tx.promote_base()
    assert layout.resolve(stray.file).exists() and not layout.video.exists()
