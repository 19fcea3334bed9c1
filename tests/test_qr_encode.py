"""memvid's vectorised QR encoder: standard tables, and every version read back by zxing-cpp."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from memvid_base import InvalidInputError
from memvid_base.config import VideoSettings, qr_capacity
from memvid_base.format.qr import read_frame, render_frame
from memvid_base.format.qr_encode import (
    alignment_positions,
    byte_capacity,
    data_codewords,
    qr_matrix,
    smallest_version,
)


def _read(matrix: np.ndarray) -> bytes | None:
    img = np.pad(matrix, 4, constant_values=255)
    codes = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode), is_pure=True)
    return bytes(codes[0].bytes) if codes and codes[0].valid else None


def test_tables_match_the_qrcode_package() -> None:
    qrcode = pytest.importorskip("qrcode")
    from qrcode import base, util

    for version in range(1, 41):
        assert alignment_positions(version) == list(util.pattern_position(version)), version
        blocks = base.rs_blocks(version, qrcode.constants.ERROR_CORRECT_L)
        assert sum(b.data_count for b in blocks) == data_codewords(version), version
        assert byte_capacity(version) == qr_capacity(version) + 3, version


@pytest.mark.parametrize("version", range(1, 41))
def test_every_version_reads_back_exactly(version: int) -> None:
    rng = np.random.default_rng(version)
    for n in (1, byte_capacity(version) // 2, byte_capacity(version)):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        matrix = qr_matrix(data, version)
        assert matrix.shape == (17 + 4 * version,) * 2 and set(np.unique(matrix)) <= {0, 255}
        assert _read(matrix) == data


def test_default_version_is_the_smallest_that_fits() -> None:
    assert smallest_version(byte_capacity(7)) == 7 and smallest_version(byte_capacity(7) + 1) == 8
    assert qr_matrix(b"x" * byte_capacity(12)).shape == (17 + 4 * 12,) * 2


def test_refuses_what_does_not_fit() -> None:
    with pytest.raises(InvalidInputError):
        qr_matrix(b"")
    with pytest.raises(InvalidInputError):
        qr_matrix(b"x" * (byte_capacity(10) + 1), 10)
    with pytest.raises(InvalidInputError):
        smallest_version(byte_capacity(40) + 1)


def test_av1_frames_use_it_and_read_back() -> None:
    settings = VideoSettings.create("av1")
    data = bytes(range(256)) * (settings.frame_capacity // 256)
    frame = render_frame(data, settings)
    assert frame.shape == (settings.frame_size, settings.frame_size)
    assert read_frame(frame, "zxing") == data
