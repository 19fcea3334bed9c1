"""Chroma's HNSW files reserve room for future rows and write it from uninitialized memory, which can
hold text the process handled moments before.  Every commit zeroes that room, so the text lives in
the video only."""

from __future__ import annotations

import struct
from pathlib import Path

from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import Memory
from memvid_base.index.chroma_io import scrub_unused_hnsw_space

_GARBAGE = b"stale heap: chunk text! "


def _fake_hnsw(folder: Path, capacity: int, count: int, per_row: int, version: int = 1) -> Path:
    seg = folder / "segment"
    seg.mkdir(parents=True)
    (seg / "header.bin").write_bytes(struct.pack("<I4Q", version, 0, capacity, count, per_row) + bytes(64))
    (seg / "data_level0.bin").write_bytes((_GARBAGE * capacity * per_row)[: capacity * per_row])
    (seg / "length.bin").write_bytes((_GARBAGE * capacity)[: capacity * 4])
    return seg


def _unused_bytes(seg: Path) -> tuple[bytes, bytes]:
    _v, _o, _cap, count, per_row = struct.unpack("<I4Q", (seg / "header.bin").read_bytes()[:36])
    return (seg / "data_level0.bin").read_bytes()[count * per_row :], (seg / "length.bin").read_bytes()[count * 4 :]


def test_the_room_past_the_held_rows_is_zeroed_and_the_rows_are_kept(tmp_path: Path) -> None:
    seg = _fake_hnsw(tmp_path, capacity=10, count=3, per_row=8)
    rows_before = (seg / "data_level0.bin").read_bytes()[:24]
    levels_before = (seg / "length.bin").read_bytes()[:12]

    assert scrub_unused_hnsw_space(tmp_path) == 7 * 8 + 7 * 4
    assert _unused_bytes(seg) == (bytes(56), bytes(28))
    assert (seg / "data_level0.bin").read_bytes()[:24] == rows_before
    assert (seg / "length.bin").read_bytes()[:12] == levels_before
    assert scrub_unused_hnsw_space(tmp_path) == 0  # nothing left to do: a second pass writes nothing


def test_a_header_it_does_not_understand_changes_nothing(tmp_path: Path) -> None:
    for name, kwargs in {
        "other-version": {"version": 2},
        "more-rows-than-room": {"count": 11},
        "zero-row-size": {"per_row": 0},
    }.items():
        args = {"capacity": 10, "count": 3, "per_row": 8} | kwargs
        seg = _fake_hnsw(tmp_path / name, **args)
        before = (seg / "data_level0.bin").read_bytes()
        assert scrub_unused_hnsw_space(tmp_path / name) == 0
        assert (seg / "data_level0.bin").read_bytes() == before


def test_a_linked_segment_folder_is_never_written_through(tmp_path: Path) -> None:
    outside = _fake_hnsw(tmp_path / "outside", capacity=4, count=1, per_row=8)
    store = tmp_path / "store"
    store.mkdir()
    (store / "segment").symlink_to(outside)
    before = (outside / "data_level0.bin").read_bytes()
    assert scrub_unused_hnsw_space(store) == 0
    assert (outside / "data_level0.bin").read_bytes() == before


def test_after_every_kind_of_write_no_hnsw_file_holds_unused_bytes(tmp_path: Path) -> None:
    corpus = pydoc_chunks(limit=90)
    mem = Memory.build(tmp_path / "kb.mp4", None, corpus[:40], embedding_model=hash_embed)
    mem.add(corpus[40:], ids=[f"late-{k}" for k in range(50)])
    mem.delete(ids=["late-0", "late-1"])
    mem.compact()
    segments = sorted({p.parent for p in (tmp_path / ".kb.mp4.memvid-cache").rglob("header.bin")})
    assert segments, "the store should hold at least one HNSW segment"
    for seg in segments:
        assert _unused_bytes(seg) == (bytes(len(_unused_bytes(seg)[0])), bytes(len(_unused_bytes(seg)[1])))
