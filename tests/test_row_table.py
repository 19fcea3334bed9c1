"""Rows held as columns (index.row_table.RowTable): the same Row objects, made only when asked for."""

from __future__ import annotations

import numpy as np

from memvid_base.index.row_table import RowTable
from memvid_base.index.vectors import LIVE, make_row
from memvid_base.types import Row


def _rows() -> list[Row]:
    return [make_row(f"c{i}", "0123456789abcdef", i * 2, 1 + i % 3, f"{i:08x}", 1 + i % 4, 100 + i,
                     LIVE if i % 5 else 7) for i in range(12)]


def test_a_table_gives_back_the_rows_it_was_made_of() -> None:
    rows = _rows()
    table = RowTable.of(rows)
    assert len(table) == 12 and list(table) == rows and table[3] == rows[3] and table[-1] == rows[-1]
    assert table[2:5] == rows[2:5]
    assert RowTable.of(table) is table
    assert table.row_ids == [r.row_id for r in rows] and np.array_equal(table.v1, [r.v1 for r in rows])


def test_taking_rows_gives_them_in_the_order_asked() -> None:
    rows = _rows()
    table = RowTable.of(rows)
    assert table.take([7, 0, 11, 7]) == [rows[7], rows[0], rows[11], rows[7]]
    assert table.take([]) == []


def test_ending_rows_and_appending_make_new_tables() -> None:
    rows = _rows()
    table = RowTable.of(rows[:8])
    grown = table.ended({1: 9, 4: 10}) + rows[8:]
    assert len(grown) == 12 and grown[1].v1 == 9 and grown[4].v1 == 10 and grown[9] == rows[9]
    assert table[1].v1 == rows[1].v1  # the table readers hold is unchanged
    assert [r.row_id for r in grown] == [r.row_id for r in rows]
