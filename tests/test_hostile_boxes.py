"""memvid boxes that disagree with their frames or with each other (issue 22, the suspected cases).

A bare copy of a memory is rebuilt from its boxes, so a box that lies changes what the copy serves:
``verify`` must see every disagreement, and boxes whose versions cannot be ordered are refused at open.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import CorruptMemoryError, Memory
from memvid_base.format.container import append_box, iter_top_level_boxes, read_box
from memvid_base.format.segment_meta import SegmentMeta
from memvid_base.format.vector_codec import bytes_per_vector

CHUNKS = pydoc_chunks(limit=10)
IDS = [f"c{k}" for k in range(len(CHUNKS))]


def rewrite_box(path: Path, change: Callable[[SegmentMeta], SegmentMeta]) -> None:
    """Replace the file's memvid box (its last box) by ``change`` of it, as a forger would."""
    data = read_box(path)
    assert data is not None
    meta = SegmentMeta.decode(data)
    with open(path, "rb") as fh:
        kind, offset, _ = list(iter_top_level_boxes(fh))[-1]
    assert kind == b"uuid"
    with open(path, "r+b") as fh:
        fh.truncate(offset)
    append_box(path, change(meta).encode())


def tombstone(meta: SegmentMeta, chunk_id: str) -> SegmentMeta:
    """The same table with ``chunk_id`` marked deleted (and its vector row dropped, as a real tombstone has none)."""
    live = [c for c in meta.chunks if not c.deleted]
    k = [c.id for c in live].index(chunk_id)
    width = bytes_per_vector(meta.vector_encoding, meta.embedding_dim)
    chunks = tuple(dataclasses.replace(c, deleted=True) if c.id == chunk_id else c for c in meta.chunks)
    return dataclasses.replace(meta, chunks=chunks, vectors=meta.vectors[: k * width] + meta.vectors[(k + 1) * width :])


def test_a_box_that_tombstones_a_live_chunk_is_caught_by_verify(tmp_path: Path) -> None:
    mem = Memory.build(tmp_path / "kb.mp4", None, CHUNKS, None, IDS, embedding_model=hash_embed)
    mem.close()
    rewrite_box(mem.video_path, lambda meta: tombstone(meta, "c3"))
    shutil.rmtree(mem.layout.cache)  # a bare copy: rebuilt from the forged box
    copy = Memory(mem.video_path, embedding_model=hash_embed)
    assert "c3" not in {c.id for c in copy.get()}  # proved: the copy drops the chunk its frame still holds
    report = copy.verify()
    assert not report.ok and "c3" in report.bad_chunks
    assert any("box says chunk 'c3' is deleted but the frames hold it live" in e for e in report.errors)


def test_an_untouched_memory_still_verifies_after_appends_and_deletes(tmp_path: Path) -> None:
    mem = Memory.build(tmp_path / "kb.mp4", None, CHUNKS, None, IDS, embedding_model=hash_embed)
    mem.add(["an appended chunk"], ids=["new"])
    mem.delete(["c1"])
    assert mem.verify().ok


def test_an_appended_segment_that_claims_the_base_version_is_refused_at_open(tmp_path: Path) -> None:
    mem = Memory.build(tmp_path / "kb.mp4", None, CHUNKS, None, IDS, embedding_model=hash_embed)
    mem.add(["an appended chunk"], ids=["new"])
    mem.close()
    appended = mem.root / next(s.file for s in mem.manifest.segments if s.file != "kb.mp4")
    base_version = mem.manifest.segments[0].version
    rewrite_box(appended, lambda meta: dataclasses.replace(meta, version=base_version))
    shutil.rmtree(mem.layout.cache)
    with pytest.raises(CorruptMemoryError, match=r"both say they are version .*Remove that file"):
        Memory(mem.video_path, embedding_model=hash_embed)
