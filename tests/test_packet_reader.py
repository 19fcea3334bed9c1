"""Frames read as packets (no seek): frame-exact for every codec, bounded, and a damaged packet is an error."""

from __future__ import annotations

import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from core_fixtures import encode_gray_frames

from memvid_base.config import CODECS, VideoSettings
from memvid_base.errors import FrameDecodeError
from memvid_base.files.segments import SegmentCache, plan_segment, write_plan
from memvid_base.format.packets import MAX_PACKET_BYTES
from memvid_base.format.payload import Record
from memvid_base.format.qr import read_frame, render_frame
from memvid_base.format.video import VideoReader, write_video

N_FRAMES = 7


def _records() -> list[Record]:
    rng = random.Random(9)  # random hex text: it does not compress away, so the records fill several groups
    return [Record.make(f"r{k}", "".join(rng.choice("0123456789abcdef ") for _ in range(500)), {"k": k}) for k in range(40)]


def _payloads() -> list[bytes]:
    rng = random.Random(5)
    return [bytes(rng.randrange(256) for _ in range(300 + 150 * k)) for k in range(N_FRAMES)]


def _write(tmp_path: Path, codec: str) -> tuple[Path, list[bytes], VideoSettings]:
    settings = VideoSettings.create(codec)
    payloads = _payloads()
    path = tmp_path / f"{codec}.mp4"
    assert write_video(path, (render_frame(p, settings) for p in payloads), settings) == N_FRAMES
    return path, payloads, settings


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_every_codec_reads_the_same_pixels_as_a_seek_in_any_order(tmp_path: Path, codec: str) -> None:
    path, payloads, settings = _write(tmp_path, codec)
    with av.open(str(path)) as plain:  # PyAV's own conversion, frame by frame, is the reference
        reference = [f.to_ndarray(format="gray") for f in plain.decode(video=0)]
    assert len(reference) == N_FRAMES
    direct, seek = VideoReader(path), VideoReader(path)
    seek.direct = False
    try:
        assert all(np.array_equal(a, b) for a, b in zip(direct.iter_frames(), reference, strict=True))
        order = list(range(N_FRAMES)) * 2
        random.Random(1).shuffle(order)
        for k in order:
            got = direct.read(k)
            assert np.array_equal(got, reference[k]), f"{codec} frame {k} differs from PyAV's own decode"
            assert np.array_equal(seek.read(k), reference[k]), f"{codec} frame {k} differs on the seek path"
            assert read_frame(got, settings.qr_backend) == payloads[k]
        assert direct._packets is not None and len(direct._packets) == N_FRAMES  # the packet path was taken
        assert seek._packets is None
    finally:
        direct.close()
        seek.close()


def test_a_file_with_inter_frames_is_read_by_seeking(tmp_path: Path) -> None:
    settings = VideoSettings.create("h264")
    payloads = _payloads()
    path = tmp_path / "gop.mp4"
    # Not a memvid file: a GOP of 4 with P-frames.
    encode_gray_frames(path, "libx264", {"g": "4", "bf": "0", "crf": "18",
                                         "x264-params": "scenecut=0:deblock=-6,-6:psy-rd=0,0:aq-mode=0"},
                       [render_frame(p, settings) for p in payloads])
    with av.open(str(path)) as check:
        assert [e.is_keyframe for e in check.streams.video[0].index_entries] == [k % 4 == 0 for k in range(N_FRAMES)]
    reader = VideoReader(path)
    try:
        assert read_frame(reader.read(5), "zxing") == payloads[5]  # 5 is a P-frame: it needs frame 4
        assert reader._packets is None
    finally:
        reader.close()


def test_packet_spans_outside_the_file_or_over_the_cap_are_refused(tmp_path: Path) -> None:
    path, _, _ = _write(tmp_path, "av1")
    reader = VideoReader(path)
    try:
        reader.read(0)
        packets = reader._packets
        assert packets is not None
        size = path.stat().st_size
        pts = packets.spans[1][0]
        for bad in [(pts, size - 10, 100), (pts, 0, MAX_PACKET_BYTES + 1), (pts, -5, 100), (pts, 0, 0)]:
            packets.spans[1] = bad
            with pytest.raises(FrameDecodeError):
                packets.read(1)
    finally:
        reader.close()


def test_an_index_that_points_at_another_frames_packet_is_refused(tmp_path: Path) -> None:
    settings = VideoSettings.create("av1")
    recs = _records()
    plan = plan_segment(recs, settings)
    seg = write_plan(plan, settings, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    starts = seg.group_starts
    assert len(starts) >= 3
    cache = SegmentCache(tmp_path, settings)
    try:
        reader = cache.reader(seg)
        reader.read(0)
        packets = reader._packets
        assert packets is not None
        a, b = starts[-1], starts[-2]
        packets.spans[a] = (packets.spans[a][0], *packets.spans[b][1:])  # frame a's index entry holds frame b's bytes
        victim = next(r for r in recs if plan.placements[r.id].frame == a)
        with pytest.raises(FrameDecodeError, match="expected"):  # the frame header names the frame it really is
            cache.record(plan.placements[victim.id], seg, victim.id, victim.checksum)
    finally:
        cache.close()


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_a_damaged_packet_is_a_frame_decode_error_not_text(tmp_path: Path, codec: str) -> None:
    settings = VideoSettings.create(codec)
    recs = _records()
    plan = plan_segment(recs, settings)
    seg = write_plan(plan, settings, tmp_path / "seg.mp4", version=1, relative_to=tmp_path)
    reader = VideoReader(tmp_path / "seg.mp4")
    reader.read(0)
    assert reader._packets is not None
    victim = recs[-1]
    place = plan.placements[victim.id]
    _, offset, size = reader._packets.spans[place.frame]
    reader.close()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(tmp_path / "seg.mp4", damaged / "seg.mp4")
    with open(damaged / "seg.mp4", "r+b") as fh:  # scramble the middle of the packet, keep its size
        fh.seek(offset + size // 4)
        fh.write(bytes(random.Random(3).randrange(256) for _ in range(size // 2)))
    cache = SegmentCache(damaged, settings)
    try:
        with pytest.raises(FrameDecodeError):
            cache.record(place, seg, victim.id, victim.checksum)
        first = plan.placements[recs[0].id]
        assert first.frame != place.frame  # another group of the same file still reads exactly
        assert cache.record(first, seg, recs[0].id, recs[0].checksum) == recs[0]
    finally:
        cache.close()


def test_threads_reading_one_segment_at_once_get_exact_frames(tmp_path: Path) -> None:
    path, _, _ = _write(tmp_path, "av1")
    with av.open(str(path)) as plain:
        reference = [f.to_ndarray(format="gray") for f in plain.decode(video=0)]
    reader = VideoReader(path)

    def reads(seed: int) -> int:
        rng = random.Random(seed)
        wrong = 0
        for _ in range(60):
            k = rng.randrange(N_FRAMES)
            wrong += not np.array_equal(reader.read(k), reference[k])
        return wrong

    try:
        with ThreadPoolExecutor(4) as pool:
            assert sum(pool.map(reads, range(8))) == 0
        assert reader._packets is not None
    finally:
        reader.close()
