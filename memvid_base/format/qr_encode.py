"""A vectorised QR encoder for binary payloads (byte mode, error level L, one fixed mask).

zxing-cpp took 14-19 ms to make one version-40 code on the build machine, which made QR rendering
the slowest step of a build.  Everything here that depends only on the version (function patterns,
the zig-zag module order, the mask, the Reed-Solomon tables) is computed once and cached, so one
code costs a few numpy operations (well under a millisecond).  The output is a standard QR code:
any reader decodes it, and every frame a build writes is decoded back and compared byte for byte
anyway (:mod:`~memvid_base.files.segments`).

The layout follows ISO/IEC 18004 (as in Nayuki's reference QR generator).  A fixed mask skips the
penalty search: memvid's payloads are compressed, hence random-looking, so every mask gives about
the same picture, and the pure-symbol reader does not depend on it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .gf256 import gf_tables

# Level L, versions 1..40 (ISO/IEC 18004 table 9): EC codewords per block and number of blocks.
_ECC_PER_BLOCK = (
    7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
    28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
)  # fmt: skip
_BLOCKS = (
    1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
    8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25,
)  # fmt: skip
_MASK = 0
_LEVEL_L_BITS = 1  # format-information bits of error level L


_EXP, _LOG = gf_tables()


def _gf_mul_table() -> np.ndarray:
    a = np.arange(256)
    table = _EXP[(_LOG[a][:, None] + _LOG[a][None, :]) % 255].astype(np.uint8)
    table[0, :] = 0
    table[:, 0] = 0
    return table


_MUL = _gf_mul_table()


def raw_codewords(version: int) -> int:
    """Codewords (data and error correction) a symbol of ``version`` holds."""
    modules = (16 * version + 128) * version + 64
    if version >= 2:
        n = version // 7 + 2
        modules -= (25 * n - 10) * n - 55
        if version >= 7:
            modules -= 36
    return modules // 8


def data_codewords(version: int) -> int:
    """Data codewords of a level-L symbol of ``version``."""
    return raw_codewords(version) - _BLOCKS[version - 1] * _ECC_PER_BLOCK[version - 1]


def byte_capacity(version: int) -> int:
    """Payload bytes a level-L, byte-mode symbol of ``version`` holds."""
    header_bits = 4 + (8 if version <= 9 else 16)
    return (data_codewords(version) * 8 - header_bits) // 8


def alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    n = version // 7 + 2
    step = (version * 8 + n * 3 + 5) // (n * 4 - 4) * 2
    size = 17 + 4 * version
    return sorted([size - 7 - i * step for i in range(n - 1)] + [6])


@dataclass(frozen=True)
class _Template:
    """What every symbol of one version shares."""

    base: np.ndarray  # uint8 0/1 (1 = dark) with function patterns drawn, data modules 0
    rows: np.ndarray  # data module coordinates in placement order
    cols: np.ndarray
    mask: np.ndarray  # mask bit of every data module, in placement order
    rs: np.ndarray  # rs[j, b] = EC contribution of byte b at distance j from a block's end


def _bits(value: int, i: int) -> int:
    return (value >> i) & 1


@functools.lru_cache(maxsize=40)
def _template(version: int) -> _Template:
    size = 17 + 4 * version
    dark = np.zeros((size, size), dtype=np.uint8)
    func = np.zeros((size, size), dtype=bool)

    def put(x: int, y: int, on: int | bool) -> None:  # x is the column, y the row
        dark[y, x] = 1 if on else 0
        func[y, x] = True

    for i in range(size):  # timing patterns
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):  # finders with separators
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < size and 0 <= y < size:
                    put(x, y, max(abs(dx), abs(dy)) not in (2, 4))
    pos = alignment_positions(version)
    last = len(pos) - 1
    for i, ay in enumerate(pos):
        for j, ax in enumerate(pos):
            if (i, j) in ((0, 0), (0, last), (last, 0)):
                continue  # these places hold finders
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    put(ax + dx, ay + dy, max(abs(dx), abs(dy)) != 1)
    data = _LEVEL_L_BITS << 3 | _MASK
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    fmt = (data << 10 | rem) ^ 0x5412
    for i in range(6):
        put(8, i, _bits(fmt, i))
    put(8, 7, _bits(fmt, 6))
    put(8, 8, _bits(fmt, 7))
    put(7, 8, _bits(fmt, 8))
    for i in range(9, 15):
        put(14 - i, 8, _bits(fmt, i))
    for i in range(8):
        put(size - 1 - i, 8, _bits(fmt, i))
    for i in range(8, 15):
        put(8, size - 15 + i, _bits(fmt, i))
    put(8, size - 8, True)  # the dark module
    if version >= 7:
        rem = version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        vbits = version << 12 | rem
        for i in range(18):
            a, b = size - 11 + i % 3, i // 3
            put(a, b, _bits(vbits, i))
            put(b, a, _bits(vbits, i))

    rows: list[int] = []
    cols: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = (right + 1) & 2 == 0
        for vert in range(size):
            y = size - 1 - vert if upward else vert
            for x in (right, right - 1):
                if not func[y, x]:
                    rows.append(y)
                    cols.append(x)
        right -= 2
    r, c = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
    mask = ((r + c) % 2 == 0).astype(np.uint8)  # mask pattern 0
    return _Template(dark, r, c, mask, _rs_table(_ECC_PER_BLOCK[version - 1], raw_codewords(version) // _BLOCKS[version - 1]))


def _generator(degree: int) -> list[int]:
    """Coefficients of the Reed-Solomon generator below its leading 1, highest degree first."""
    poly = [1]
    root = 1
    for _ in range(degree):
        out = [0] * (len(poly) + 1)
        for i, coef in enumerate(poly):
            out[i] ^= coef
            out[i + 1] ^= int(_MUL[coef, root])
        poly = out
        root = int(_MUL[root, 2])
    return poly[1:]


def _rs_table(ecc: int, max_len: int) -> np.ndarray:
    """``table[j, b]``: the remainder of ``b * x^(j + ecc)`` by the generator (EC is linear in the data)."""
    gen = np.asarray(_generator(ecc), dtype=np.uint8)
    unit = np.zeros((max_len, ecc), dtype=np.uint8)
    state = gen.copy()  # x^ecc mod g
    for j in range(max_len):
        unit[j] = state
        lead = state[0]
        state = np.append(state[1:], np.uint8(0)) ^ _MUL[lead, gen]
    return _MUL[np.arange(256)[None, :, None], unit[:, None, :]]  # (max_len, 256, ecc)


def _codewords(data: bytes, version: int) -> np.ndarray:
    """The data codewords: mode, length, payload, terminator, then pad bytes."""
    cap = data_codewords(version)
    count_bits = 8 if version <= 9 else 16
    n = len(data)
    if n > byte_capacity(version):
        raise InvalidInputError(f"{n} bytes do not fit a version-{version} QR code ({byte_capacity(version)} at most).")
    header = np.unpackbits(np.frombuffer((0b0100 << count_bits | n).to_bytes(3, "big"), dtype=np.uint8))
    # Header bits are 4 mod 8, so the 4-bit terminator ends on a byte boundary (and always fits: see byte_capacity).
    bits = np.concatenate([header[-(4 + count_bits):], np.unpackbits(np.frombuffer(data, dtype=np.uint8)),
                           np.zeros(4, dtype=np.uint8)])
    out = np.packbits(bits)
    return np.concatenate([out, np.resize(np.asarray([0xEC, 0x11], dtype=np.uint8), cap - len(out))])


def _interleaved(data: np.ndarray, version: int, rs: np.ndarray) -> np.ndarray:
    """Split into blocks, append each block's EC codewords, and interleave (ISO/IEC 18004 8.6)."""
    blocks, ecc = _BLOCKS[version - 1], _ECC_PER_BLOCK[version - 1]
    raw = raw_codewords(version)
    short = blocks - raw % blocks  # blocks with one data codeword less
    k = raw // blocks - ecc  # data codewords of a short block
    grid = np.zeros((blocks, k + 1), dtype=np.uint8)  # a short block is left-padded with a zero (same remainder)
    grid[:short, 1:] = data[: short * k].reshape(short, k)
    grid[short:, :] = data[short * k :].reshape(blocks - short, k + 1)
    dist = np.arange(k, -1, -1)  # distance of each column from the block's end
    parity = np.bitwise_xor.reduce(rs[dist[None, :], grid], axis=1)  # (blocks, ecc)
    return np.concatenate([_column_order(grid, short, k), parity.T.reshape(-1)])


def _column_order(grid: np.ndarray, short: int, k: int) -> np.ndarray:
    """Data codewords in interleaved order: codeword i of every block, then i + 1; short blocks end one early."""
    # Long blocks' codewords are grid[b, 0..k]; short blocks' are grid[b, 1..k].
    long_cols = grid[short:, :]  # (long, k + 1)
    short_cols = grid[:short, 1:]  # (short, k)
    head = np.concatenate([short_cols[:, :k], long_cols[:, :k]], axis=0)  # first k codewords of every block
    return np.concatenate([head.T.reshape(-1), long_cols[:, k]])


def smallest_version(n: int, largest: int = 40) -> int:
    """The smallest version, up to ``largest``, whose level-L code holds ``n`` bytes (as other encoders choose)."""
    for version in range(1, largest + 1):
        if byte_capacity(version) >= n:
            return version
    raise InvalidInputError(f"{n} bytes do not fit a version-{largest} QR code ({byte_capacity(largest)} at most).")


def qr_matrix(data: bytes, version: int | None = None) -> np.ndarray:
    """``data`` as a level-L QR code: a square uint8 image, 0 dark and 255 light, no quiet zone.

    Args:
        data: The payload (1 byte or more).
        version: The symbol version; by default the smallest that holds ``data``.
    """
    if not data:
        raise InvalidInputError("A QR payload must hold at least one byte.")
    version = smallest_version(len(data)) if version is None else version
    t = _template(version)
    words = _interleaved(_codewords(data, version), version, t.rs)
    bits = np.zeros(len(t.rows), dtype=np.uint8)  # remainder bits after the last codeword stay light
    bits[: len(words) * 8] = np.unpackbits(words)
    matrix = t.base.copy()
    matrix[t.rows, t.cols] = bits ^ t.mask
    return (1 - matrix) * np.uint8(255)
