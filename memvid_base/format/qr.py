"""QR backends: payload bytes -> module matrix -> video frame, and frame -> payload bytes.

``zxing`` is the default: zxing-cpp reads the codes, and writes them for the lossy codecs; for 1-px
modules (AV1) memvid's vectorised encoder (:mod:`~memvid_base.format.qr_encode`) writes them, much faster.
Both are binary-safe.  ``qrcode`` writes with the ``qrcode`` package and reads with ``pyzbar``; zbar mangles
binary payloads, so that backend base64-encodes them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import numpy as np

from ..config import QUIET_MODULES, VideoSettings
from ..errors import InvalidInputError
from .qr_pure import read_pure

# zxing-cpp and the writer are imported where used: a reader that never meets a damaged frame needs neither,
# and a fresh process's first query should not load them.


def _zxing_matrix(data: bytes, fast: bool) -> np.ndarray:
    if fast:
        from .qr_encode import qr_matrix

        # memvid's own vectorised encoder: zxing-cpp's create_barcode took 14-19 ms per version-40 code, this
        # well under 1 ms.  Its fixed mask is safe where every module survives (AV1 screen content, 1 px).
        return qr_matrix(data)
    # Lossy codecs blur modules: zxing-cpp picks the mask by the standard's penalty rules, which avoid
    # patterns that read badly after blurring.
    import zxingcpp

    code = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="L")
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)


def _qrcode_matrix(data: bytes) -> np.ndarray:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=0, box_size=1)
    qr.add_data(base64.b64encode(data), optimize=0)
    qr.make(fit=True)
    return np.where(np.asarray(qr.get_matrix(), dtype=bool), 0, 255).astype(np.uint8)


def render_frame(data: bytes, settings: VideoSettings) -> np.ndarray:
    """Draw ``data`` as one QR code, centred on a white square frame of ``settings.frame_size``."""
    px = settings.module_px
    matrix = _qrcode_matrix(data) if settings.qr_backend == "qrcode" else _zxing_matrix(data, px == 1)
    if px > 1:
        matrix = np.repeat(np.repeat(matrix, px, axis=0), px, axis=1)
    size = settings.frame_size
    side = matrix.shape[0]
    if side + 2 * QUIET_MODULES * px > size:
        raise InvalidInputError(f"A {len(data)}-byte payload does not fit a {size}px frame; lower the chunk packing.")
    frame = np.full((size, size), 255, dtype=np.uint8)
    off = (size - side) // 2
    frame[off : off + side, off : off + side] = matrix
    return frame


def read_frame(gray: np.ndarray, backend: str, accept: Callable[[bytes], bool] | None = None) -> bytes | None:
    """Decode the single QR code in a grayscale frame; None if nothing decodes.

    Args:
        gray: the frame.
        backend: the memory's QR backend.
        accept: a check of the bytes (a memvid frame's header and CRC32). With it, the fast reader skips its own
            Reed-Solomon check and zxing-cpp reads any symbol whose fast read fails it; without it, the fast
            reader gives exact bytes or none.
    """
    if backend == "qrcode":
        from pyzbar import pyzbar

        found: list[Any] = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
        if not found:
            return None
        try:
            return base64.b64decode(found[0].data, validate=True)
        except binascii.Error:
            return None
    data = read_pure(gray, checked=accept is None)  # memvid's own symbols, in a tenth of zxing's time; None: "ask zxing"
    if data is not None and (accept is None or accept(data)):
        return data
    import zxingcpp

    codes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode), is_pure=True, try_rotate=False)
    if not codes:  # a lossy codec may have disturbed the pure-symbol fast path
        codes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return bytes(codes[0].bytes) if codes and codes[0].valid else None
