"""Arithmetic tables of GF(256) with the QR code's polynomial, shared by the QR writer and reader."""

from __future__ import annotations

import numpy as np


def gf_tables() -> tuple[np.ndarray, np.ndarray]:
    """Exponent and logarithm tables of GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1."""
    exp = np.zeros(512, dtype=np.int32)
    log = np.zeros(256, dtype=np.int32)
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    exp[255:510] = exp[:255]
    return exp, log
