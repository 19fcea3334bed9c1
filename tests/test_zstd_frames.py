"""The zstd frames stay what zstandard wrote: same bytes, same header fields, read back exactly, bounded."""

from __future__ import annotations

import struct

import pytest
from core_fixtures import pydoc_chunks

from memvid_base.config import VideoSettings
from memvid_base.errors import FrameDecodeError
from memvid_base.files.segments import plan_segment
from memvid_base.format import zstd
from memvid_base.format.payload import (
    KIND_DICT,
    KIND_RECORDS,
    Packer,
    Record,
    decode_dictionary,
    decode_group,
    decode_records,
    dictionary_group,
    encode_record,
    parse_frame,
    train_dictionary,
)

# Written by zstandard 0.25 (the library memvid used before backports.zstd), level 19, content size, no checksum,
# no dictionary id: the records group [GOLDEN] alone, and with the raw-content dictionary RAW_DICT.
GOLDEN = Record.make(
    "golden", "Written by zstandard 0.25 at level 19: memvid frames stay plain zstd frames. " * 3, {"k": 1}
)
RAW_DICT = b"memvid frames stay plain zstd frames. Written by zstandard at level 19: "
PLAIN = bytes.fromhex(
    "28b52ffd6011005d0300b206171970ad0e80e20d1f5cc31f36b874fd6f5e70338e5e64d5ff7d0149b2adb9a219d1ee3de6dac2bb2a"
    "c1d866a9b50726e4f85ce20a1d6ac974f983916c79c3098f1d757ce50f0c08fe28bfc9159a2e299f5d2ba4c7ae9dfda2c32c82040300"
    "172850d449b1e0409901"
)
WITH_RAW_DICT = bytes.fromhex(
    "28b52ffd601100fd0100f4025b5b22676f6c64656e222c22302e32356d222c7b226b223a317d2c2261663439326464396537326538"
    "393434225d5d0400172828e087e75a2593f8a924"
)
ZSTD_DICT_MAGIC = bytes.fromhex("37a430ec")


def header(frame: bytes) -> dict[str, int]:
    """The fields of a zstd frame header that the format fixes (RFC 8878, 3.1.1.1)."""
    magic, fhd = struct.unpack_from("<IB", frame)
    assert magic == 0xFD2FB528
    return {"content_size": int(fhd >> 6 > 0 or fhd >> 5 & 1), "checksum": fhd >> 2 & 1, "dict_id": fhd & 3}


MEMVID_HEADER = {"content_size": 1, "checksum": 0, "dict_id": 0}


def test_frames_zstandard_wrote_read_back_and_are_written_byte_for_byte_the_same() -> None:
    raw = b"[" + encode_record(GOLDEN) + b"]"
    assert decode_records([bytes((KIND_RECORDS, 1)) + PLAIN], None) == [GOLDEN]
    assert decode_records([bytes((KIND_RECORDS, 2)) + WITH_RAW_DICT], RAW_DICT) == [GOLDEN]  # raw content, as zstd's auto
    assert zstd.compressor(19)(raw) == PLAIN
    assert zstd.compressor(19, zstd.load_dictionary(RAW_DICT))(raw) == WITH_RAW_DICT
    assert header(PLAIN) == header(WITH_RAW_DICT) == MEMVID_HEADER
    with pytest.raises(FrameDecodeError):  # another dictionary: wrong bytes, caught by the JSON or the checksum
        decode_records([bytes((KIND_RECORDS, 2)) + WITH_RAW_DICT], RAW_DICT[::-1])


def test_new_frames_with_a_trained_dictionary_keep_the_header_and_round_trip() -> None:
    records = [Record.make(str(k), text, {"k": k}) for k, text in enumerate(pydoc_chunks(400))]
    encoded = [(r.id, encode_record(r)) for r in records]
    dictionary = train_dictionary([e[1] for e in encoded])
    assert dictionary is not None and dictionary[:4] == ZSTD_DICT_MAGIC  # a trained dictionary, not raw content
    dict_group = dictionary_group(dictionary)
    assert header(dict_group.blob[2:]) == MEMVID_HEADER
    assert decode_dictionary([dict_group.blob]) == dictionary
    groups = Packer(4000, dictionary).pack(encoded)
    assert len(groups) > 10
    back = []
    for group in groups:
        assert group.blob[:2] == bytes((KIND_RECORDS, 2)) and header(group.blob[2:]) == MEMVID_HEADER
        assert zstd.declared_size(group.blob[2:]) is not None
        back += decode_records([group.blob], dictionary)
    assert back == records


def test_a_planned_segment_decodes_exactly() -> None:
    records = [Record.make(str(k), text, {}) for k, text in enumerate(pydoc_chunks(300))]
    plan = plan_segment(records, VideoSettings.create("h264", frame_size=None))
    assert plan.dict_frames > 0
    bodies = [parse_frame(p, plan.uid, k)[2] for k, p in enumerate(plan.payloads)]
    dictionary = decode_group(bodies[: plan.dict_frames], None)
    assert dictionary[0] == KIND_DICT
    back = []
    for start, end in zip(plan.group_starts[1:], [*plan.group_starts[2:], len(bodies)]):
        back += decode_records(bodies[start:end], dictionary[1])
    assert back == records


def test_a_dictionary_too_short_for_zstd_is_refused() -> None:
    with pytest.raises(FrameDecodeError, match="dictionary is unusable"):
        decode_records([bytes((KIND_RECORDS, 2)) + WITH_RAW_DICT], b"1234567")


def test_decompress_frame_is_exact_and_bounded() -> None:
    data = b"memvid " * 1000
    frame = zstd.compressor(19)(data)
    assert zstd.decompress_frame(frame, len(data)) == data
    with pytest.raises(zstd.ZstdError, match=r"to 7000\+ bytes, not the declared 6999"):
        zstd.decompress_frame(frame, len(data) - 1)
    with pytest.raises(zstd.ZstdError, match="to 7000 bytes, not the declared 7001"):
        zstd.decompress_frame(frame, len(data) + 1)
    with pytest.raises(zstd.ZstdError, match="cut short"):
        zstd.decompress_frame(frame[:-3], len(data))
    with pytest.raises(zstd.ZstdError, match="3 bytes of unused data"):
        zstd.decompress_frame(frame + b"abc", len(data))
    with pytest.raises(zstd.ZstdError):
        zstd.declared_size(b"not a frame")


def test_a_frame_asking_for_a_window_over_128_mib_is_refused() -> None:
    options = {zstd.CompressionParameter.window_log: zstd.WINDOW_LOG_MAX + 1, zstd.CompressionParameter.content_size_flag: 0}
    cctx = zstd.ZstdCompressor(options=options)
    frame = cctx.compress(b"x" * 1000, zstd.ZstdCompressor.CONTINUE) + cctx.flush()
    assert zstd.declared_size(frame) is None  # so the window stays as asked (a known size would shrink it)
    with pytest.raises(zstd.ZstdError):
        zstd.decompress_frame(frame, 1000)
