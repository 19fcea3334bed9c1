"""A fast reader for the one kind of QR code memvid draws: upright, centred, square modules, error level L.

zxing-cpp reads any QR code in any photo; memvid's frames hold one symbol at a known place, so
reading it is sampling a grid, undoing the mask and the block interleaving, and checking the
Reed-Solomon code.  :func:`read_pure` does that with numpy in a fraction of zxing's time.  It
corrects nothing: a symbol whose Reed-Solomon syndromes are not all zero (any module misread), whose
format information is not exact, or that holds anything but one byte-mode segment gives None, and
the caller falls back to zxing-cpp, which corrects errors.  Zero syndromes in every block is the
same test zxing-cpp's decoder passes a symbol with no errors, so both return the same bytes.
"""

from __future__ import annotations

import threading

import numpy as np

from .gf256 import gf_tables

# ISO/IEC 18004 Annex E: alignment pattern centres, versions 1..40.
_ALIGN = (
    (), (6, 18), (6, 22), (6, 26), (6, 30), (6, 34), (6, 22, 38), (6, 24, 42), (6, 26, 46), (6, 28, 50),
    (6, 30, 54), (6, 32, 58), (6, 34, 62), (6, 26, 46, 66), (6, 26, 48, 70), (6, 26, 50, 74), (6, 30, 54, 78),
    (6, 30, 56, 82), (6, 30, 58, 86), (6, 34, 62, 90), (6, 28, 50, 72, 94), (6, 26, 50, 74, 98),
    (6, 30, 54, 78, 102), (6, 28, 54, 80, 106), (6, 32, 58, 84, 110), (6, 30, 58, 86, 114), (6, 34, 62, 90, 118),
    (6, 26, 50, 74, 98, 122), (6, 30, 54, 78, 102, 126), (6, 26, 52, 78, 104, 130), (6, 30, 56, 82, 108, 134),
    (6, 34, 60, 86, 112, 138), (6, 30, 58, 86, 114, 142), (6, 34, 62, 90, 118, 146), (6, 30, 54, 78, 102, 126, 150),
    (6, 24, 50, 76, 102, 128, 154), (6, 28, 54, 80, 106, 132, 158), (6, 32, 58, 84, 110, 136, 162),
    (6, 26, 54, 82, 110, 138, 166), (6, 30, 58, 86, 114, 142, 170),
)  # fmt: skip
# ISO/IEC 18004 table 9, error level L: (EC codewords per block, ((data codewords, blocks), ...)).
_BLOCKS_L = (
    (7, ((19, 1),)), (10, ((34, 1),)), (15, ((55, 1),)), (20, ((80, 1),)), (26, ((108, 1),)), (18, ((68, 2),)),
    (20, ((78, 2),)), (24, ((97, 2),)), (30, ((116, 2),)), (18, ((68, 2), (69, 2))), (20, ((81, 4),)),
    (24, ((92, 2), (93, 2))), (26, ((107, 4),)), (30, ((115, 3), (116, 1))), (22, ((87, 5), (88, 1))),
    (24, ((98, 5), (99, 1))), (28, ((107, 1), (108, 5))), (30, ((120, 5), (121, 1))), (28, ((113, 3), (114, 4))),
    (28, ((107, 3), (108, 5))), (28, ((116, 4), (117, 4))), (28, ((111, 2), (112, 7))), (30, ((121, 4), (122, 5))),
    (30, ((117, 6), (118, 4))), (26, ((106, 8), (107, 4))), (28, ((114, 10), (115, 2))), (30, ((122, 8), (123, 4))),
    (30, ((117, 3), (118, 10))), (30, ((116, 7), (117, 7))), (30, ((115, 5), (116, 10))), (30, ((115, 13), (116, 3))),
    (30, ((115, 17),)), (30, ((115, 17), (116, 1))), (30, ((115, 13), (116, 6))), (30, ((121, 12), (122, 7))),
    (30, ((121, 6), (122, 14))), (30, ((122, 17), (123, 4))), (30, ((122, 4), (123, 18))), (30, ((117, 20), (118, 4))),
    (30, ((118, 19), (119, 6))),
)  # fmt: skip
_FINDER = np.array([[1, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 1], [1, 0, 1, 1, 1, 0, 1], [1, 0, 1, 1, 1, 0, 1],
                    [1, 0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1]], dtype=bool)


_EXP, _LOG = (table.astype(np.int64) for table in gf_tables())
_EXP2 = _EXP[np.arange(510) % 255].astype(np.uint8)  # a^(i mod 255) for i < 510: any sum of two logs


def _format_codes() -> dict[int, int]:
    """Valid 15-bit format words (mask applied) for error level L -> mask pattern."""
    out = {}
    for mask in range(8):
        data = (0b01 << 3) | mask  # 01 is level L
        rem = data << 10
        for shift in range(4, -1, -1):
            if rem & (1 << (shift + 10)):
                rem ^= 0b10100110111 << shift
        out[((data << 10) | rem) ^ 0b101010000010010] = mask
    return out


_FORMAT_L = _format_codes()
# Mode 0111 (ECI), then 899 as a two-byte designator (10 + 14 bits): "binary data".
_ECI_BINARY = [0, 1, 1, 1] + [int(b) for b in f"{0b10 << 14 | 899:016b}"]


class _Layout:
    """Everything about one version that does not depend on the symbol: where each data bit sits.

    Built once per version, on the first frame a process reads, so every step is vectorised: the
    first keyword query of a fresh process waits for it.
    """

    def __init__(self, version: int) -> None:
        n = 17 + 4 * version
        self.n = n
        fixed = np.zeros((n, n), dtype=bool)
        fixed[:9, :9] = fixed[:9, n - 8 :] = fixed[n - 8 :, :9] = True  # finders, separators, format info
        fixed[6, :] = fixed[:, 6] = True  # timing patterns
        centres = _ALIGN[version - 1]
        for r in centres:
            for c in centres:
                if not ((r < 9 and (c < 9 or c > n - 9)) or (r > n - 9 and c < 9)):  # none where a finder is
                    fixed[r - 2 : r + 3, c - 2 : c + 3] = True
        if version >= 7:
            fixed[: 6, n - 11 : n - 8] = fixed[n - 11 : n - 8, : 6] = True  # version information
        # Data bits fill two-column strips from the right, up then down, skipping the vertical timing column.
        rights = np.array([c for c in range(n - 1, 0, -2) if c > 6] + list(range(5, 0, -2)))
        down = np.arange(n)
        upward = (np.arange(len(rights)) % 2 == 0)[:, None]
        rows_all = np.repeat(np.where(upward, down[::-1], down), 2, axis=1).ravel()  # (strip, row, 2 columns)
        cols_all = (rights[:, None, None] - np.array([0, 1])[None, None, :]).repeat(n, axis=1).ravel()
        free = ~fixed[rows_all, cols_all]
        rows, cols = rows_all[free], cols_all[free]
        ec, groups = _BLOCKS_L[version - 1]
        sizes = np.array([d for d, count in groups for _ in range(count)])
        blocks, data = len(sizes), int(sizes.sum())
        total = data + ec * blocks
        assert len(rows) // 8 == total, "QR tables disagree"
        self._mr, self._mc = rows[: total * 8], cols[: total * 8]
        self.flat = self._mr * n + self._mc
        self._masks: dict[int, np.ndarray] = {}
        # Codeword k of the stream belongs to block b at position i: data interleaved, then EC interleaved.
        longest = int(sizes.max()) + ec
        where = np.full((blocks, longest), total, dtype=np.int64)  # `total` points at a zero byte: front padding
        pos, blk = np.meshgrid(np.arange(int(sizes.max())), np.arange(blocks), indexing="ij")  # stream order
        held = pos < sizes[blk]
        where[blk[held], longest - ec - sizes[blk[held]] + pos[held]] = np.arange(data)
        where[:, longest - ec :] = data + np.arange(ec)[None, :] * blocks + np.arange(blocks)[:, None]
        self.blocks = where
        column = np.arange(longest)[None, :]
        self.data_index = where[(column >= longest - ec - sizes[:, None]) & (column < longest - ec)]  # block by block
        self.data_bits = (self.data_index[:, None] * 8 + np.arange(8)).ravel()  # their bits' places in `flat`
        self._longest, self._ec = longest, ec
        self._syndromes: np.ndarray | None = None
        self.rows_of = (np.arange(longest) * 256)[:, None]  # row of (position k, byte 0) in that table
        self.count_bits = 8 if version < 10 else 16
        self._data_masks: dict[int, np.ndarray] = {}

    @property
    def syndromes(self) -> np.ndarray:
        """The syndrome table of this version's longest block; built when a checked read first needs it."""
        if self._syndromes is None:
            with _LAYOUT_LOCK:
                if self._syndromes is None:
                    self._syndromes = _syndromes(self._longest, self._ec).reshape(self._longest * 256, -1)
        return self._syndromes

    def mask(self, pattern: int) -> np.ndarray:
        """Mask ``pattern`` over the data modules; made when a symbol first uses it (memvid's writer uses one)."""
        found = self._masks.get(pattern)
        if found is None:
            found = self._masks[pattern] = _MASKS[pattern](self._mr, self._mc)  # only this one: each costs ~0.5 ms
        return found

    def data_mask(self, pattern: int) -> np.ndarray:
        """:meth:`mask` over the data codewords' bits only, in stream order (what an unchecked read needs)."""
        found = self._data_masks.get(pattern)
        if found is None:
            found = self._data_masks[pattern] = self.mask(pattern)[self.data_bits]
        return found


# ISO/IEC 18004 table 10: the eight mask conditions on (row, column).
_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
)


def _syndrome_table(length: int, ec: int) -> np.ndarray:
    """``table[k, v]``: the ``ec`` syndromes c(a^j), as uint64 words, of a block whose only nonzero byte is ``v`` at ``k``.

    Evaluating a polynomial over GF(256) at a fixed point is linear over GF(2) in its bytes, so a
    block's syndromes are the XOR of ``table[k, block[k]]`` over its bytes, and ``table[k, v]`` is the
    XOR of the rows of ``v``'s bits: eight doublings from the single bits, not 256 products per position.
    """
    power = (length - 1 - np.arange(length))[:, None] * np.arange(ec)[None, :] % 255  # x^p at a^j
    log_point = _LOG[_EXP[power]]  # (length, ec)
    words = -(-ec // 8)
    bits = np.zeros((length, 8, words * 8), dtype=np.uint8)
    bits[:, :, :ec] = _EXP2[np.arange(8)[None, :, None] + log_point[:, None, :]]  # log(1 << b) is b
    basis = bits.view(np.uint64)  # (length, 8, words)
    table = np.zeros((length, 256, words), dtype=np.uint64)
    for b in range(8):
        table[:, 1 << b : 2 << b] = table[:, : 1 << b] ^ basis[:, b : b + 1]
    return table


_LAYOUTS: dict[int, _Layout] = {}
_LAYOUT_LOCK = threading.Lock()
_SYNDROME_TABLES: dict[int, np.ndarray] = {}  # EC codewords -> table for the longest block; built under _LAYOUT_LOCK


def _syndromes(length: int, ec: int) -> np.ndarray:
    """The syndrome table of a ``length``-codeword block: the last rows of one table shared by every version.

    Row ``k`` of a block's table depends only on ``length - k`` (the power of its position), so one
    table per EC count, built for the longest block, serves them all.  A segment's frames use
    several versions (each group's last frame is a smaller symbol), and this table is most of the
    cost of a version's first frame.
    """
    table = _SYNDROME_TABLES.get(ec)
    if table is None:
        longest = max(max(d for d, _ in groups) + e for e, groups in _BLOCKS_L if e == ec)
        table = _SYNDROME_TABLES[ec] = _syndrome_table(longest, ec)
    return table[len(table) - length :]


def _layout(version: int) -> _Layout:
    with _LAYOUT_LOCK:
        if version not in _LAYOUTS:
            _LAYOUTS[version] = _Layout(version)
        return _LAYOUTS[version]


class _Geometry:
    """Where one version's modules sit in a frame of one size, offset and module size: pixel indices for gathering.

    Reading a symbol is then a few gathers from the frame's pixels instead of sampling a module grid first: the
    unchecked read gathers only the data codewords' bits, already in stream order, and packs them into bytes.
    """

    def __init__(self, lay: _Layout, size: int, off: int, px: int) -> None:
        first = off + px // 2
        n = lay.n

        def at(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return ((first + rows * px) * size + first + cols * px).astype(np.intp)

        r, c = np.divmod(lay.flat, n)
        self.flat = at(r, c)  # every codeword bit, in the layout's order
        self.data = self.flat[lay.data_bits]  # the data codewords' bits, in stream order
        # The three finders, then the format information's two copies (vertical, then horizontal), bit 0 first.
        fr, fc = np.divmod(np.arange(49), 7)
        self.finders = np.concatenate([at(fr, fc), at(fr, fc + n - 7), at(fr + n - 7, fc)])
        v_rows = np.r_[0:6, 7:9, n - 7 : n]
        h_cols = np.r_[n - 1 : n - 9 : -1, 7, 5:-1:-1]
        self.format = np.concatenate([at(v_rows, np.full(15, 8)), at(np.full(15, 8), h_cols)])


_FINDERS = np.tile(_FINDER.ravel(), 3)
_FORMAT_WEIGHTS = 1 << np.arange(15)
_GEOMETRIES: dict[tuple[int, int, int], _Geometry] = {}
_GEOMETRIES_KEEP = 32  # a memory's frames use one size and a few versions (each group's last symbol is smaller)


def _geometry(size: int, off: int, px: int, version: int) -> _Geometry:
    key = (size, off, px)
    geo = _GEOMETRIES.get(key)
    if geo is None:
        geo = _Geometry(_layout(version), size, off, px)
        with _LAYOUT_LOCK:
            if len(_GEOMETRIES) >= _GEOMETRIES_KEEP:
                _GEOMETRIES.pop(next(iter(_GEOMETRIES)))
            _GEOMETRIES[key] = geo
    return geo


def read_pure(gray: np.ndarray, checked: bool = True) -> bytes | None:
    """The payload of the centred, upright QR code in ``gray``, or None when this fast path cannot be sure.

    Args:
        gray: a square grayscale frame as memvid renders it (any whole number of pixels per module).
        checked: check the Reed-Solomon syndromes, so that the bytes are exact or None. Unchecked, the bytes
            are what the modules say, and the caller checks them (memvid frames carry a CRC32) and asks
            zxing-cpp when they fail: the syndrome table (1.2 MB at version 40) is out of the CPU cache after
            a vector scan, and skipping it made a cold query's frame decoding about 0.2 ms faster. Only the
            data codewords' modules are read then.
    """
    if gray.ndim != 2 or gray.shape[0] != gray.shape[1] or gray.shape[0] < 21:
        return None
    size = gray.shape[0]
    diagonal = np.diagonal(gray) < 128
    dark = np.flatnonzero(diagonal)
    if not len(dark):
        return None
    off = int(dark[0])
    px = int(np.argmin(diagonal[off:])) if not diagonal[off:].all() else 0  # the finder's outer ring is one module
    if px < 1:
        return None
    side, rest = divmod(size - 2 * off, px)
    version, extra = divmod(side - 17, 4)
    if rest not in (0, 1) or extra not in (0, 1) or not 1 <= version <= 40 or (size - (17 + 4 * version) * px) // 2 != off:
        return None
    if off + px // 2 + px * (16 + 4 * version) >= size:
        return None  # the last module's centre would lie outside the frame
    lay = _layout(version)
    geo = _geometry(size, off, px, version)
    pixels = np.ascontiguousarray(gray).reshape(-1)
    if not np.array_equal(pixels[geo.finders] < 128, _FINDERS):
        return None
    fmt = (pixels[geo.format] < 128).reshape(2, 15) @ _FORMAT_WEIGHTS
    mask = _FORMAT_L.get(int(fmt[0]))
    if mask is None or _FORMAT_L.get(int(fmt[1])) != mask:
        return None  # another error level, or a misread: zxing decides
    if not checked:
        return _byte_segment(np.packbits((pixels[geo.data] < 128) ^ lay.data_mask(mask)), lay.count_bits)
    codewords = np.append(np.packbits((pixels[geo.flat] < 128) ^ lay.mask(mask)), np.uint8(0))
    blocks = codewords[lay.blocks]
    # (position, block, word), reduced over positions: contiguous, so numpy's XOR reduce is fast.
    if np.bitwise_xor.reduce(np.take(lay.syndromes, lay.rows_of + blocks.T, axis=0), axis=0).any():
        return None  # a module is wrong somewhere: zxing can correct it
    return _byte_segment(codewords[lay.data_index], lay.count_bits)


_ECI_PREFIX = int("".join(map(str, _ECI_BINARY)), 2)  # the 20 bits of ECI 899


def _byte_segment(data: np.ndarray, count_bits: int) -> bytes | None:
    """The bytes of the one byte-mode segment that the data codewords ``data`` hold (after an optional ECI 899),
    or None when they hold anything else."""
    total = 8 * len(data)
    if len(data) < 8:
        return None
    head = int.from_bytes(data[:8].tobytes(), "big")  # the first 64 bits: ECI, mode and count all lie inside

    def bits(at: int, width: int) -> int:
        return (head >> (64 - at - width)) & ((1 << width) - 1)

    start = 20 if bits(0, 20) == _ECI_PREFIX else 0  # zxing-cpp marks binary payloads with ECI 899
    if bits(start, 4) != 0b0100:
        return None  # not one byte-mode segment (another ECI, or another mode)
    count = bits(start + 4, count_bits)
    begin = start + 4 + count_bits  # 12 or 20 bits in (memvid's writer), 32 or 40 (after an ECI): 4 or 0 mod 8
    end = begin + 8 * count
    if end > total:
        return None  # longer than the symbol
    if total - end >= 4 and (int(data[end // 8]) >> (4 - end % 8)) & 0xF:
        return None  # a second segment follows: leave it to zxing
    first = begin // 8
    if begin % 8 == 0:
        return data[first : first + count].tobytes()
    # Nibble-aligned: each byte is the low half of one codeword and the high half of the next.
    return ((data[first : first + count] << 4) | (data[first + 1 : first + 1 + count] >> 4)).tobytes()
