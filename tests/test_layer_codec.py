"""The storage layers below ``Memory``: payload, QR, video and segments, each tested on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvid_base import FrameDecodeError
from memvid_base.config import VideoSettings
from memvid_base.files.segments import SegmentCache, plan_segment, write_plan
from memvid_base.format.payload import (
    HEADER_SIZE,
    Packer,
    Record,
    decode_records,
    encode_record,
    frame_bytes,
    parse_frame,
)
from memvid_base.format.qr import read_frame, render_frame
from memvid_base.format.video import VideoReader, write_video

SETTINGS = VideoSettings.create("h264", frame_size=None)


def records(n: int) -> list[Record]:
    return [Record.make(f"id{k}", f"Chunk {k}: ünïcödé, emoji 🎞️ and a NUL \x00 byte.", {"k": k}) for k in range(n)]


def test_payload_packs_records_into_groups_that_decode_exactly() -> None:
    recs = records(40)
    capacity = SETTINGS.frame_capacity - HEADER_SIZE
    groups = Packer(capacity).pack([(r.id, encode_record(r)) for r in recs])
    assert sum(len(g.record_ids) for g in groups) == 40
    decoded = [r for g in groups for r in decode_records([g.blob], None)]
    assert decoded == recs


def test_frame_header_rejects_a_frame_from_elsewhere() -> None:
    uid = bytes(range(8))
    data = frame_bytes(uid, 3, 0, 1, b"body")
    assert parse_frame(data, uid, 3) == (0, 1, b"body")
    with pytest.raises(FrameDecodeError, match="expected"):
        parse_frame(data, uid, 4)
    with pytest.raises(FrameDecodeError):
        parse_frame(data[:-1] + b"X", uid, 3)


@pytest.mark.parametrize("backend", ["zxing", "qrcode"])
def test_qr_round_trips_binary_payloads(backend: str) -> None:
    settings = VideoSettings.create("av1", qr_backend=backend)
    payload = bytes(range(256)) * 3
    assert read_frame(render_frame(payload, settings), backend) == payload


def test_video_frames_come_back_in_order_and_seekable(tmp_path: Path) -> None:
    payloads = [f"frame {k}".encode() * 20 for k in range(6)]
    path = tmp_path / "v.mp4"
    assert write_video(path, (render_frame(p, SETTINGS) for p in payloads), SETTINGS) == 6
    reader = VideoReader(path)
    try:
        assert [read_frame(g, "zxing") for g in reader.iter_frames()] == payloads
        assert read_frame(reader.read(4), "zxing") == payloads[4]  # random access lands on the exact frame
        assert read_frame(reader.read(1), "zxing") == payloads[1]
    finally:
        reader.close()


def test_segment_written_and_read_back_through_the_cache(tmp_path: Path) -> None:
    recs = records(30)
    plan = plan_segment(recs, SETTINGS)
    seg = write_plan(plan, SETTINGS, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    assert (seg.file, seg.chunks, seg.frames) == ("seg.mp4", 30, len(plan.payloads))
    cache = SegmentCache(tmp_path, SETTINGS)
    try:
        for rec in recs:
            place = plan.placements[rec.id]
            assert cache.record(place, seg, rec.id, rec.checksum) == rec
        assert [r for _, group in cache.iter_groups(seg) for r in group] == recs
    finally:
        cache.close()


def test_segment_cache_refuses_a_checksum_the_index_does_not_expect(tmp_path: Path) -> None:
    recs = records(3)
    plan = plan_segment(recs, SETTINGS)
    seg = write_plan(plan, SETTINGS, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    cache = SegmentCache(tmp_path, SETTINGS)
    try:
        with pytest.raises(FrameDecodeError, match="checksum"):
            cache.record(plan.placements["id1"], seg, "id1", "0" * 16)
    finally:
        cache.close()


def test_a_record_is_read_from_the_cache_only_after_it_was_checked(tmp_path: Path) -> None:
    """The hot path's shortcut (cached_record) hands out only a record that record() decoded and checked, and only
    for the checksum it was checked against: anything else goes back through record(), which decodes and raises."""
    recs = records(3)
    plan = plan_segment(recs, SETTINGS)
    seg = write_plan(plan, SETTINGS, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    place = plan.placements["id1"]
    cache = SegmentCache(tmp_path, SETTINGS)
    try:
        assert cache.cached_record(seg.uid, place.frame, "id1", recs[1].checksum) is None  # nothing decoded yet
        assert cache.record(place, seg, "id1", recs[1].checksum) == recs[1]
        assert cache.cached_record(seg.uid, place.frame, "id1", recs[1].checksum) == recs[1]
        assert cache.cached_record(seg.uid, place.frame, "id1", "0" * 16) is None  # another checksum: not handed out
        assert plan.placements["id2"].frame == place.frame  # the same group, decoded, but id2 never handed out:
        assert cache.cached_record(seg.uid, place.frame, "id2", recs[2].checksum) is None  # record() checks it first
        cache.clear()
        assert cache.cached_record(seg.uid, place.frame, "id1", recs[1].checksum) is None  # forgotten with the group
    finally:
        cache.close()


def test_packing_in_threads_keeps_every_record_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memvid_base import segments

    monkeypatch.setattr(segments, "_PARALLEL_PACK_MIN", 10)  # thread the packing of a small segment
    settings = VideoSettings.create("av1")
    recs = [Record.make(f"id{k}", f"Chunk {k}: " + "lorem ipsum dolor sit amet " * (k % 40 + 5), {}) for k in range(300)]
    plan = plan_segment(recs, settings, workers=2)
    seg = write_plan(plan, settings, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    assert len(seg.group_starts) > 2  # several groups, from both slices
    cache = SegmentCache(tmp_path, settings)
    try:
        assert [r for _, group in cache.iter_groups(seg) for r in group] == recs
        for rec in recs[::37]:
            assert cache.record(plan.placements[rec.id], seg, rec.id, rec.checksum) == rec
    finally:
        cache.close()
