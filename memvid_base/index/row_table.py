"""Many vector rows held as columns, made into :class:`~memvid_base.types.Row` objects only when one is asked for.

A medium memory's exact index holds every row of the store (up to 200,000).  Making a frozen ``Row`` for each
was the largest single cost of reading that index in a profile at 100,000 rows, while a query returns five of
them: the index keeps the columns, and a ``Row`` is made for each hit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from ..types import Row


class RowTable(Sequence[Row]):
    """Rows as parallel columns; ``table[k]`` is the ``Row`` the store holds at position ``k``.

    The five integer fields are held side by side in one ``(n, 5)`` array, so making the ``Row`` of a hit reads
    one cache line instead of five arrays: right after a scan of 100,000 rows has emptied the caches, five rows
    took 35 us instead of 53 (timed ad hoc). ``frame``, ``frames``, ``v0``, ``v1`` and ``text_bytes`` are views of
    its columns.

    Example:
        >>> import numpy as np
        >>> t = RowTable(["a@1"], ["a"], ["seg"], np.array([0]), np.array([2]), ["ff"], np.array([1]),
        ...              np.array([2**62]), np.array([7]))
        >>> t[0].chunk_id, t[0].frames, len(t)
        ('a', 2, 1)
    """

    def __init__(self, row_ids: list[str], chunk_ids: list[str], segments: list[str], frame: np.ndarray,
                 frames: np.ndarray, checksums: list[str], v0: np.ndarray, v1: np.ndarray, text_bytes: np.ndarray) -> None:
        n = len(row_ids)
        if not (len(chunk_ids) == len(segments) == len(checksums) == n
                and frame.shape == frames.shape == v0.shape == v1.shape == text_bytes.shape == (n,)):
            raise ValueError("RowTable columns differ in length")
        self._hold(row_ids, chunk_ids, segments, checksums,
                   np.stack((frame, frames, v0, v1, text_bytes), axis=1).astype(np.int64, copy=False))

    def _hold(self, row_ids: list[str], chunk_ids: list[str], segments: list[str], checksums: list[str],
              ints: np.ndarray) -> None:
        self.row_ids, self.chunk_ids, self.segments, self.checksums = row_ids, chunk_ids, segments, checksums
        self._ints = ints  # frame, frames, v0, v1, text_bytes: one row per Row
        self.frame, self.frames, self.v0, self.v1, self.text_bytes = (ints[:, j] for j in range(5))

    @classmethod
    def of(cls, rows: Sequence[Row]) -> RowTable:
        """The table of ``rows`` (itself when it is one already)."""
        if isinstance(rows, RowTable):
            return rows

        def ints(field: str) -> np.ndarray:
            return np.fromiter((getattr(r, field) for r in rows), dtype=np.int64, count=len(rows))

        return cls([r.row_id for r in rows], [r.chunk_id for r in rows], [r.segment for r in rows], ints("frame"),
                   ints("frames"), [r.checksum for r in rows], ints("v0"), ints("v1"), ints("text_bytes"))

    def __len__(self) -> int:
        return len(self.row_ids)

    @overload
    def __getitem__(self, k: int) -> Row: ...

    @overload
    def __getitem__(self, k: slice) -> list[Row]: ...

    def __getitem__(self, k: int | slice) -> Row | list[Row]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        frame, frames, v0, v1, text_bytes = self._ints[k].tolist()
        return Row(self.row_ids[k], self.chunk_ids[k], self.segments[k], frame, frames, self.checksums[k], v0, v1,
                   text_bytes)

    def take(self, positions: list[int]) -> list[Row]:
        """The rows at ``positions``, in that order: one read of the integer columns for all of them."""
        ints = self._ints.take(positions, axis=0).tolist() if positions else []
        row_ids, chunk_ids, segments, checksums = self.row_ids, self.chunk_ids, self.segments, self.checksums
        return [Row(row_ids[k], chunk_ids[k], segments[k], f, fs, checksums[k], v0, v1, tb)
                for k, (f, fs, v0, v1, tb) in zip(positions, ints)]

    def __iter__(self) -> Iterator[Row]:
        return (self[k] for k in range(len(self)))

    def _with(self, row_ids: list[str], chunk_ids: list[str], segments: list[str], checksums: list[str],
              ints: np.ndarray) -> RowTable:
        out = RowTable.__new__(RowTable)
        out._hold(row_ids, chunk_ids, segments, checksums, ints)
        return out

    def ended(self, ends: dict[int, int]) -> RowTable:
        """This table with row ``k``'s ``v1`` set to ``ends[k]`` (a new table; this one is shared by readers)."""
        ints = self._ints.copy()
        for k, end in ends.items():
            ints[k, 3] = end
        return self._with(self.row_ids, self.chunk_ids, self.segments, self.checksums, ints)

    def __add__(self, other: Sequence[Row]) -> RowTable:
        b = RowTable.of(other)
        return self._with(self.row_ids + b.row_ids, self.chunk_ids + b.chunk_ids, self.segments + b.segments,
                          self.checksums + b.checksums, np.concatenate((self._ints, b._ints)))


__all__ = ["RowTable"]
