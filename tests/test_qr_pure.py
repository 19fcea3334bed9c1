"""The fast QR reader gives exactly zxing-cpp's bytes for memvid's symbols, or None; never other bytes unless its
caller checks them (a frame's CRC32), and then zxing-cpp reads what fails the check."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import zxingcpp

from memvid_base.config import VideoSettings, qr_capacity
from memvid_base.errors import FrameDecodeError
from memvid_base.format.payload import HEADER_SIZE, frame_bytes, frame_intact, parse_frame
from memvid_base.format.qr import read_frame, render_frame
from memvid_base.format.qr_pure import _BLOCKS_L, _MASKS, _layout, _syndrome_table, _syndromes, read_pure


def _zxing(gray: np.ndarray) -> bytes | None:
    codes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return bytes(codes[0].bytes) if codes and codes[0].valid else None


def _lengths(settings: VideoSettings) -> list[int]:
    # The longest payload of every version that fits the frame, and one byte more (the next version).
    fits = [qr_capacity(v) - 2 for v in range(1, settings.qr_version + 1)]  # ECI 899 takes room too
    return sorted({1, settings.frame_capacity, *[n for f in fits for n in (f, f + 1) if 0 < n <= settings.frame_capacity]})


def test_one_shared_syndrome_table_per_ec_count_equals_each_versions_own() -> None:
    for version, (ec, groups) in enumerate(_BLOCKS_L, start=1):
        longest = max(d for d, _ in groups) + ec
        assert np.array_equal(_syndromes(longest, ec), _syndrome_table(longest, ec)), f"version {version}"


def test_each_mask_is_the_standards_condition() -> None:
    r, c = np.divmod(np.arange(36 * 36), 36)
    conditions = [(r + c) % 2 == 0, r % 2 == 0, c % 3 == 0, (r + c) % 3 == 0, (r // 2 + c // 3) % 2 == 0,
                  (r * c) % 2 + (r * c) % 3 == 0, ((r * c) % 2 + (r * c) % 3) % 2 == 0, ((r + c) % 2 + (r * c) % 3) % 2 == 0]
    for pattern, expected in enumerate(conditions):
        assert np.array_equal(_MASKS[pattern](r, c), expected), f"mask {pattern}"


@pytest.mark.parametrize(("codec", "frame_size"), [("av1", None), ("av1", 184), ("h264", None)])  # 1 and 3 px per module
def test_every_version_reads_back_the_same_bytes_as_zxing(codec: str, frame_size: int | None) -> None:
    settings = VideoSettings.create(codec, frame_size=frame_size)  # AV1's default is version 38; 184 px holds 40
    rng = random.Random(2)
    for n in _lengths(settings):
        payload = bytes(rng.randrange(256) for _ in range(n))
        gray = render_frame(payload, settings)
        assert read_pure(gray) == payload == _zxing(gray), f"{codec} at {settings.frame_size} px, {n} bytes"
        # The unchecked read gathers only the data codewords' modules: the same bytes from an intact symbol.
        assert read_pure(gray, checked=False) == payload, f"{codec} at {settings.frame_size} px, {n} bytes, unchecked"


def test_a_misread_data_module_gives_none_and_zxing_corrects_it() -> None:
    settings = VideoSettings.create("av1")
    rng = random.Random(4)
    payload = bytes(rng.randrange(256) for _ in range(settings.frame_capacity))
    gray = render_frame(payload, settings)
    layout = _layout(settings.qr_version)
    off = (settings.frame_size - layout.n) // 2
    picks = np.random.default_rng(0)
    for _ in range(25):
        damaged = gray.copy()
        for k in picks.choice(len(layout.flat), size=int(picks.integers(1, 6)), replace=False):
            r, c = divmod(int(layout.flat[k]), layout.n)
            damaged[off + r, off + c] = 255 - damaged[off + r, off + c]
        assert read_pure(damaged) is None
        assert read_frame(damaged, "zxing") == payload  # the fallback corrects a few modules


_UID, _FRAME = bytes(range(8)), 7


def _memvid_frame(seed: int, parts: int) -> tuple[bytes, np.ndarray, Any, int]:
    """A full AV1 frame of random body, part 0 of ``parts``: its bytes, its pixels, its QR layout and offset."""
    settings = VideoSettings.create("av1")
    rng = random.Random(seed)
    data = frame_bytes(_UID, _FRAME, 0, parts, bytes(rng.randrange(256) for _ in range(settings.frame_capacity - HEADER_SIZE)))
    layout = _layout(settings.qr_version)
    return data, render_frame(data, settings), layout, (settings.frame_size - layout.n) // 2


def _flipped(gray: np.ndarray, layout: Any, off: int, modules: Any) -> np.ndarray:
    """``gray`` with the data modules at positions ``modules`` of the layout's bit order turned over."""
    damaged = gray.copy()
    for k in modules:
        r, c = divmod(int(layout.flat[k]), layout.n)
        damaged[off + r, off + c] = 255 - damaged[off + r, off + c]
    return damaged


def test_an_unchecked_fast_read_that_fails_the_frames_crc_is_read_again_by_zxing() -> None:
    # Random access skips the Reed-Solomon check and relies on the frame's CRC32 instead (segments.py).
    data, gray, layout, off = _memvid_frame(5, parts=1)
    intact = lambda d: frame_intact(d, _UID, _FRAME, 0, 1)  # noqa: E731
    picks = np.random.default_rng(3)
    wrong = 0
    for _ in range(25):
        damaged = _flipped(gray, layout, off, picks.choice(len(layout.flat), size=int(picks.integers(1, 6)), replace=False))
        fast = read_pure(damaged, checked=False)
        # Damage in the error-correction codewords leaves the data intact; anything else fails the CRC.
        assert fast in (None, data) or not intact(fast)
        wrong += fast not in (None, data)
        assert read_frame(damaged, "zxing", intact) == data
    assert wrong > 10  # the fast path did hand back other bytes, and zxing-cpp corrected them
    assert read_frame(gray, "zxing", intact) == read_pure(gray, checked=False) == data


def test_a_misread_part_count_in_the_header_is_read_again_by_zxing() -> None:
    # The CRC32 covers the body only: a frame whose header names another part or count than the index expects is
    # handed to zxing-cpp too, which corrects the module, instead of failing the group's read.
    data, gray, layout, off = _memvid_frame(8, parts=2)
    misread = 0
    for bit in range(8 * 32):  # the stream's first 32 codewords: mode, length and the 23-byte frame header
        damaged = _flipped(gray, layout, off, [8 * int(layout.data_index[bit // 8]) + bit % 8])
        fast = read_pure(damaged, checked=False)
        if fast is None or fast == data:
            continue  # the fast path gave up, or the module was not a data bit after all
        try:
            parse_frame(fast, _UID, _FRAME)
        except FrameDecodeError:
            continue  # the CRC32 or another header check caught it
        misread += 1  # a header that passes every check but the part and count the index expects
        assert not frame_intact(fast, _UID, _FRAME, 0, 2)
        assert read_frame(damaged, "zxing", lambda d: frame_intact(d, _UID, _FRAME, 0, 2)) == data
    assert misread >= 8, misread


def test_damage_anywhere_gives_the_payload_or_none() -> None:
    settings = VideoSettings.create("av1")
    rng = random.Random(6)
    payload = bytes(rng.randrange(256) for _ in range(1500))
    gray = render_frame(payload, settings)
    picks = np.random.default_rng(1)
    outcomes = set()
    for _ in range(60):
        damaged = gray.copy()
        for r, c in picks.integers(0, settings.frame_size, size=(int(picks.integers(1, 4)), 2)):
            damaged[r, c] = 255 - damaged[r, c]
        got = read_pure(damaged)
        assert got in (None, payload)  # a function module or the quiet zone may be hit: then the data is intact
        outcomes.add(got is None)
    assert outcomes == {True, False}


@pytest.mark.parametrize("size", [21, 64, 184, 200])
def test_frames_that_hold_no_memvid_symbol_give_none(size: int) -> None:
    rng = np.random.default_rng(size)
    for checked in (True, False):
        assert read_pure(np.full((size, size), 255, dtype=np.uint8), checked) is None
        assert read_pure(np.zeros((size, size), dtype=np.uint8), checked) is None
        assert read_pure(rng.integers(0, 256, size=(size, size), dtype=np.uint8), checked) is None
        assert read_pure(np.zeros((size, size + 1), dtype=np.uint8), checked) is None


def test_a_symbol_that_is_not_one_byte_segment_is_left_to_zxing() -> None:
    # zxing-cpp writes text as an alphanumeric segment: valid QR, not memvid's layout.
    code = zxingcpp.create_barcode("HELLO 123", zxingcpp.BarcodeFormat.QRCode, ec_level="L")
    matrix = np.asarray(code.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
    frame = np.full((matrix.shape[0] + 8, matrix.shape[0] + 8), 255, dtype=np.uint8)
    frame[4:-4, 4:-4] = matrix
    assert _zxing(frame) == b"HELLO 123"
    assert read_pure(frame) is None
    assert read_pure(frame, checked=False) is None


def test_a_frame_held_in_a_strided_array_reads_the_same() -> None:
    # Decoders may hand back a view into a wider plane (its stride): the reader must not assume contiguous pixels.
    settings = VideoSettings.create("av1")
    payload = bytes(random.Random(9).randrange(256) for _ in range(settings.frame_capacity))
    gray = render_frame(payload, settings)
    wide = np.full((gray.shape[0], gray.shape[1] + 32), 7, dtype=np.uint8)
    wide[:, : gray.shape[1]] = gray
    view = wide[:, : gray.shape[1]]
    assert not view.flags["C_CONTIGUOUS"]
    assert read_pure(view) == read_pure(view, checked=False) == payload
