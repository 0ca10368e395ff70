"""`catalog recover` on a table page whose cells are damaged in ways SQLite's reads do not always report:
rowids that go back (the rows may be whole), and a cell whose size points past its page. Every readable row
is kept, each is read once, and what is lost is reported, never lost silently. The page is edited in the
file itself, as damage on disk would leave it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from desktop_app.core.engine import index_photos
from desktop_app.core.storage.recover import recover

TABLE_LEAF = 13  # the page type of a table b-tree's leaf


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model) -> Path:
    """Seven photos: the vectors table is one leaf page, one small cell per row in rowid order."""
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def vector_cells(db: Path) -> tuple[bytearray, list[int]]:
    """The file's bytes and the offset of each cell of the vectors table's (only) page, in order."""
    with closing(sqlite3.connect(db)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    content = bytearray(db.read_bytes())
    page = (root - 1) * page_size
    assert content[page] == TABLE_LEAF
    count = int.from_bytes(content[page + 3 : page + 5], "big")
    pointers = [page + 8 + 2 * i for i in range(count)]
    cells = [page + int.from_bytes(content[p : p + 2], "big") for p in pointers]
    # Each cell starts with its payload size and its rowid, one byte each here (both under 128).
    assert [content[c + 1] for c in cells] == list(range(1, count + 1)) and all(
        content[c] < 128 for c in cells
    )
    return content, cells


def damage(db: Path, rowid_of: dict[int, int] | None = None, sizes_broken: tuple[int, ...] = ()) -> None:
    content, cells = vector_cells(db)
    for i, rowid in (rowid_of or {}).items():
        content[cells[i] + 1] = rowid
    for i in sizes_broken:
        content[cells[i]] = 127  # a payload larger than what the page holds after it
    db.write_bytes(bytes(content))


def test_rowids_that_go_back_are_read_through_once(indexed, tmp_path):
    damage(indexed, rowid_of={2: 120})  # rows 1, 2, 120, 4, 5, 6, 7: each whole
    report = recover(indexed, tmp_path / "fixed.sqlite")
    assert report.rows["vectors"] == 7 and report.lost == {} and report.rejected == {}


def test_rows_past_a_broken_cell_are_reported_lost_not_dropped_silently(indexed, tmp_path):
    damage(indexed, rowid_of={2: 120}, sizes_broken=(4,))
    report = recover(indexed, tmp_path / "fixed.sqlite")
    kept = report.rows["vectors"]
    assert kept < 7 and report.lost["vectors"][-1][1] is None  # lost to the end of the table, and said so
    assert report.rejected == {}


def test_a_broken_cell_costs_its_own_row(indexed, tmp_path):
    damage(indexed, sizes_broken=(4,))
    report = recover(indexed, tmp_path / "fixed.sqlite")
    assert report.rows["vectors"] == 6 and report.lost == {"vectors": [[4, 6]]}
