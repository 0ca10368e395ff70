"""Getting what can be read out of a damaged catalog into a new one, never touching the damaged file.

Each table is read in rowid order, a chunk at a time. When a chunk hits a damaged page, the reader probes
forward with growing steps until rows can be read again; the rows in between are counted as lost. Rows
whose article or photo did not survive are dropped so that the new catalog is consistent.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.core.errors import CatalogError, InputError

# Parents before children; the new catalog's own meta rows stay.
TABLES = ("settings", "articles", "photos", "vectors", "labels", "label_events", "index_runs")
CHUNK = 500


@dataclass
class RecoverReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost_ranges: dict[str, int] = field(default_factory=dict)  # table -> damaged stretches skipped
    dropped: dict[str, int] = field(default_factory=dict)  # rows without their article or photo
    unreadable: list[str] = field(default_factory=list)  # tables that could not be read at all
    integrity: str = ""

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str, report: RecoverReport) -> None:
    try:
        cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
        top = src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        report.unreadable.append(table)
        return
    if not cols or top is None:
        report.rows[table] = 0
        return
    names = ", ".join(cols)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
    after, copied, lost = -(1 << 62), 0, 0
    while after < top:
        try:
            rows = src.execute(
                f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT {CHUNK}", (after,)
            ).fetchall()
        except sqlite3.DatabaseError:
            lost += 1
            after = _skip_damage(src, table, after, top)
            continue
        if not rows:
            break
        dst.executemany(insert, [r[1:] for r in rows])
        copied += len(rows)
        after = rows[-1][0]
    report.rows[table] = copied
    if lost:
        report.lost_ranges[table] = lost


def _skip_damage(src: sqlite3.Connection, table: str, after: int, top: int) -> int:
    """The first rowid past a damaged stretch after `after` from which reading works again."""
    step = 1
    probe = max(after, 0)
    while probe < top:
        probe = min(probe + step, top)
        try:
            src.execute(
                f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT {CHUNK}", (probe,)
            ).fetchall()
            return probe - 1
        except sqlite3.DatabaseError:
            step *= 2
    return top


def recover(source: Path, target: Path) -> RecoverReport:
    """Copy every readable row of `source` into a new catalog at `target` (which must not exist)."""
    from desktop_app.core.storage.catalog import Catalog

    source, target = Path(source), Path(target)
    if not source.is_file():
        raise InputError(f"There is no catalog file at {source}.")
    if target.exists():
        raise InputError(
            f"{target} already exists; recover into a new file (nothing is ever written in place)."
        )
    if target.resolve() == source.resolve():
        raise InputError("Recover into a new file, not into the damaged catalog itself.")
    Catalog(target, create=True).close()
    report = RecoverReport(str(source), str(target))
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CatalogError(f"{source} cannot be opened at all ({exc}); nothing could be recovered.") from exc
    dst = sqlite3.connect(target)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        with dst:
            for table in TABLES:
                _copy_table(src, dst, table, report)
            _drop_orphans(dst, report)
        report.integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        src.close()
        dst.close()
    return report


def _drop_orphans(dst: sqlite3.Connection, report: RecoverReport) -> None:
    for table, sql in (
        ("photos", "DELETE FROM photos WHERE article_id NOT IN (SELECT id FROM articles)"),
        ("vectors", "DELETE FROM vectors WHERE photo_id NOT IN (SELECT id FROM photos)"),
        ("articles", "DELETE FROM articles WHERE id NOT IN (SELECT article_id FROM photos)"),
    ):
        n = dst.execute(sql).rowcount
        if n:
            report.dropped[table] = n
