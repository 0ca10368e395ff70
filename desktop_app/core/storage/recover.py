"""Getting what can be read out of a damaged catalog into a new one, never touching the damaged file.

Every table of the schema is copied (the list comes from `schema.metadata`, so a table added later is
recovered without anyone remembering to list it here); only the tables named in `NOT_COPIED` are left
out, each with the reason the report gives. Each table is read in rowid order, one row at a time, so the
rows before a damaged page are kept. When a read hits a damaged page, the reader looks for the first
rowid past it that can be read again (probing forward with growing steps, then narrowing back to the
page's edge), and the rowids in between are reported as lost. Rows whose article or photo did not
survive are dropped so that the new catalog is consistent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.core.errors import CatalogError, InputError
from desktop_app.core.storage.building import building_catalog_file
from desktop_app.core.storage.schema import metadata
from desktop_app.core.storage.vectors import sound_blobs

# Tables of the schema that recover does not copy, with the reason the report gives.
NOT_COPIED = {"meta": "the new catalog writes its own (schema version, creator)"}
# What lives outside the catalog's tables and is built again when needed, with what builds it.
REBUILT_ON_DEMAND = {
    "vector store": "the search files beside the catalog are made again by the first search",
}
CHUNK = 500
MAX_ROWID = (1 << 63) - 1


def recovered_tables() -> list[str]:
    """The schema's tables that recover copies, parents before children."""
    return [t.name for t in metadata.sorted_tables if t.name not in NOT_COPIED]


@dataclass
class RecoverReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    # table -> damaged stretches skipped: [last rowid read before, first rowid read after] (None: the end)
    lost: dict[str, list[list[int | None]]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # rows read but with values the schema refuses
    # vectors read whose bytes are damaged (not finite numbers of unit length): left out, embedded again
    damaged_vectors: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # rows without their article or photo
    unreadable: list[str] = field(default_factory=list)  # tables that could not be read at all
    absent: list[str] = field(default_factory=list)  # tables the source (an older version) does not have
    schema_whole: bool = True  # False: the list of tables (sqlite_master) is damaged
    not_copied: dict[str, str] = field(default_factory=lambda: dict(NOT_COPIED))
    rebuilt_on_demand: dict[str, str] = field(default_factory=lambda: dict(REBUILT_ON_DEMAND))
    integrity: str = ""

    def to_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


@dataclass
class _TableRead:
    """Where reading one table stands: the last rowid read, the rows read so far, the stretches lost."""

    src: sqlite3.Connection
    table: str
    names: str
    after: int | None = None  # the last rowid read (or skipped); None: nothing yet
    rows: list[tuple] = field(default_factory=list)
    read: int = 0
    lost: list[list[int | None]] = field(default_factory=list)
    skipped: bool = False  # nothing was read since the last damaged stretch (`after` was not read)
    furthest: int | None = None  # the highest rowid read or skipped to (see `in_order`)

    def in_order(self, row: tuple) -> bool:
        """Whether a row comes after every one read, as rowid order promises. A damaged page can hold cells
        whose rowids go back: a scan reads on through them (their rows may be whole), but a search from one
        of them finds the same rows again and again."""
        return self.furthest is None or row[0] > self.furthest

    def move_to(self, rowid: int) -> None:
        self.after = rowid
        self.furthest = rowid if self.furthest is None else max(self.furthest, rowid)

    def take(self, row: tuple) -> None:
        self.rows.append(row[1:])
        if self.skipped:
            self.lost[-1][1] = row[0]  # the stretch lost ends at the first row read again
        self.move_to(row[0])
        self.read += 1
        self.skipped = False

    def scan(self) -> Iterator[None]:
        """Rows in rowid order after `after`; raises at a damaged page. Yields after every CHUNK rows."""
        where, params = ("WHERE rowid > ?", (self.after,)) if self.after is not None else ("", ())
        query = f"SELECT rowid, {self.names} FROM {self.table} {where} ORDER BY rowid"
        for row in self.src.execute(query, params):
            self.take(row)
            if len(self.rows) >= CHUNK:
                yield

    def step_past_damage(self) -> bool:
        """Row by row (a scan drops the row it stood on when the next step fails) up to and past the damaged
        stretch, then up to CHUNK more rows. False when the table has no more rows."""
        where = "WHERE rowid > ?" if self.after is not None else "WHERE 1"
        one = f"SELECT rowid, {self.names} FROM {self.table} {where} ORDER BY rowid LIMIT 1"
        for attempt in range(CHUNK):
            try:
                row = self.src.execute(one, () if self.after is None else (self.after,)).fetchone()
                if row is not None and not self.in_order(row):  # read already, or a damaged cell's
                    raise sqlite3.DatabaseError("rowids out of order: a damaged page")
            except sqlite3.DatabaseError:
                if not self.skip_damage():
                    return False
                continue
            if row is None:
                if attempt == 0 and not self.skipped:
                    self.lose(None)  # the scan failed past `after`, and no row after it can be found
                return False
            self.take(row)
        return True

    def skip_damage(self) -> bool:
        """Move `after` past the damaged stretch that follows it; False when nothing readable follows."""
        resume = _next_readable(self.src, self.table, self.after)
        if resume is not None and self.furthest is not None and resume <= self.furthest:
            resume = None  # a damaged page pointing back: nothing further can be found in order
        if resume is not None and _seek(self.src, self.table, _plus_one(self.after)) == (True, resume):
            # Reaching this row works, reading it does not (its overflow pages are damaged): lose just it.
            self.lose(None)
            self.move_to(resume)
        else:
            self.lose(resume)
            if resume is None:
                return False
            self.move_to(resume - 1)
        self.skipped = True
        return True

    def lose(self, resume: int | None) -> None:
        if self.skipped:
            self.lost[-1][1] = resume  # nothing was read since the last stretch: they are one
        else:
            self.lost.append([self.after, resume])


def _plus_one(after: int | None) -> int:
    return -MAX_ROWID - 1 if after is None else after + 1


def _schema_whole(src: sqlite3.Connection) -> bool:
    """Whether the source's list of tables (sqlite_master) reads to the end. When it does not, the tables
    listed past the damage are unknown to SQLite: unreadable, not absent."""
    try:
        src.execute("SELECT name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError:
        return False
    return True


def _source_columns(
    src: sqlite3.Connection, table: str, report: RecoverReport, schema_whole: bool
) -> list[str] | None:
    """The table's columns in the source, or None (reported) when it cannot be read or is not there."""
    try:
        cols = _columns(src, table)
    except sqlite3.DatabaseError:
        report.unreadable.append(table)
        return None
    if cols:
        return cols
    if schema_whole:  # an older version's catalog, made before the table existed
        report.absent.append(table)
        report.rows[table] = 0
    else:
        report.unreadable.append(table)
    return None


@dataclass
class _TableWrite:
    """Rows read, written into the new catalog; the vectors table's rows are judged first."""

    dst: sqlite3.Connection
    insert: str
    sound: Callable[[list[tuple]], list[bool]] | None
    left_out: int = 0  # rows judged unsound and not written

    def put(self, reading: _TableRead) -> None:
        rows = reading.rows
        if self.sound is not None:
            rows = [row for row, good in zip(rows, self.sound(rows)) if good]
            self.left_out += len(reading.rows) - len(rows)
        self.dst.executemany(self.insert, rows)
        reading.rows.clear()


def _copy_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, report: RecoverReport, schema_whole: bool
) -> None:
    src_cols = _source_columns(src, table, report, schema_whole)
    if src_cols is None:
        return
    cols = [c for c in src_cols if c in set(_columns(dst, table))]
    insert = f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    reading = _TableRead(src, table, ", ".join(cols))
    writing = _TableWrite(dst, insert, _sound_vector_rows(cols) if table == "vectors" else None)
    before = dst.total_changes
    more = True
    while more:
        try:
            for _ in reading.scan():
                writing.put(reading)
            more = False
        except sqlite3.DatabaseError:
            more = reading.step_past_damage()
        writing.put(reading)
    copied = dst.total_changes - before
    report.rows[table] = copied
    if table == "vectors":
        report.damaged_vectors = writing.left_out
    if reading.read - writing.left_out > copied:
        report.rejected[table] = reading.read - writing.left_out - copied
    if reading.lost == [[None, None]]:
        report.unreadable.append(table)  # not one row of it could be read
    elif reading.lost:
        report.lost[table] = reading.lost


def _sound_vector_rows(cols: list[str]) -> Callable[[list[tuple]], list[bool]]:
    """Which rows of the vectors table (columns `cols`) hold sound vectors: damaged bytes inside a blob pass
    SQLite's checks and every read, so they are judged by value (`vectors.sound_blobs`), the rule that
    keeps such vectors from being stored in the first place."""
    if "data" not in cols or "dim" not in cols:  # (a table this damaged has no vector to keep)
        return lambda rows: [False] * len(rows)
    data, dim = cols.index("data"), cols.index("dim")
    return lambda rows: sound_blobs([r[data] for r in rows], [r[dim] for r in rows]).tolist()


def _seek(src: sqlite3.Connection, table: str, rowid: int) -> tuple[bool, int | None]:
    """(whether seeking to `rowid` works, the first rowid at or after it)."""
    try:
        row = src.execute(
            f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (rowid,)
        ).fetchone()
    except sqlite3.DatabaseError:
        return False, None
    return True, None if row is None else row[0]


def _next_readable(src: sqlite3.Connection, table: str, after: int | None) -> int | None:
    """The first rowid past the damaged stretch that follows `after` from which reading works again.

    Seeking into a damaged page fails and seeking past it works, so a search with growing steps finds a
    rowid past the damage, and halving the interval finds the damaged page's edge: only the rows on damaged
    pages are lost, not the readable ones behind them.
    """
    bad = -MAX_ROWID - 1 if after is None else after  # the last position known to fail (or the start)
    step = 1
    while True:
        probe = min(bad + step, MAX_ROWID)
        ok, _ = _seek(src, table, probe)
        if ok:
            break
        if probe == MAX_ROWID:
            return None
        bad, step = probe, step * 2
    good = probe
    while good - bad > 1:
        mid = (bad + good) // 2
        if _seek(src, table, mid)[0]:
            good = mid
        else:
            bad = mid
    return _seek(src, table, good)[1]


def recover_command(damaged: Path | str) -> str:
    """The command that recovers a damaged catalog file, as every message spells it: the catalog with --db
    first, as in every other command, then the new file."""
    return f"lookalike catalog recover --db {damaged} NEW.sqlite"


def recover(source: Path | str, target: Path) -> RecoverReport:
    """Copy every readable row of `source` into a new catalog at `target` (which must not exist)."""
    from desktop_app.core.storage.backend import is_url
    from desktop_app.core.storage.catalog import Catalog, check_catalog_target
    from desktop_app.core.storage.sqlite import SqliteBackend

    if is_url(source):  # (as a Path, a URL would even lose one of its slashes)
        raise InputError(
            "catalog recover reads a damaged SQLite catalog file; a PostgreSQL catalog is repaired "
            "by the server (pg_dump/pg_restore from a backup)."
        )
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise InputError(f"There is no catalog file at {source}.")
    if target.is_dir():
        raise InputError(f"{target} is a folder; name a new catalog file to recover into.")
    if target.exists():
        raise InputError(
            f"{target} already exists; recover into a new file (nothing is ever written in place)."
        )
    if target.resolve() == source.resolve():
        raise InputError("Recover into a new file, not into the damaged catalog itself.")
    check_catalog_target(target)  # its folder exists
    try:
        src = sqlite3.connect(SqliteBackend(source).untouched_read_uri(), uri=True)
    except sqlite3.Error as exc:
        raise CatalogError(f"{source} cannot be opened at all ({exc}); nothing could be recovered.") from exc
    # A file cut short (a copy stopped half-way) claims more pages than it has, and SQLite then refuses every
    # read; with writable_schema it takes the file's own length and reads the pages that are there. The
    # connection is read-only, so nothing can be written through it.
    src.execute("PRAGMA writable_schema = ON")
    try:
        with building_catalog_file(target, "recovery") as tmp:
            backend = SqliteBackend(tmp)
            backend.location = str(target)  # messages name the file the user asked for
            Catalog(tmp, create=True, backend=backend).close()
            report = RecoverReport(str(source), str(target))
            _recover_into(src, tmp, report)
            if not any(report.rows.values()) and (report.unreadable or report.lost):
                raise CatalogError(_nothing_read(source, target, report))
    finally:
        src.close()
    return report


def _recover_into(src: sqlite3.Connection, tmp: Path, report: RecoverReport) -> None:
    dst = sqlite3.connect(tmp)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        report.schema_whole = _schema_whole(src)
        with dst:
            for table in recovered_tables():
                _copy_table(src, dst, table, report, report.schema_whole)
            _drop_orphans(dst, report)
        report.integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dst.close()


def _nothing_read(source: Path, target: Path, report: RecoverReport) -> str:
    tables = len(report.unreadable) + len(report.lost)
    why = (
        "the file is damaged throughout, or cut short"
        if report.schema_whole
        else "its list of tables, on the first page, is damaged, so SQLite cannot find them"
    )
    return (
        f"Nothing could be read from {source}: not one row of its {tables} tables ({why}); {target.name} was "
        "not created. Restore the catalog from a backup, or index the photo folder again into a new catalog."
    )


def _drop_orphans(dst: sqlite3.Connection, report: RecoverReport) -> None:
    for table, sql in (
        ("photos", "DELETE FROM photos WHERE article_id NOT IN (SELECT id FROM articles)"),
        ("vectors", "DELETE FROM vectors WHERE photo_id NOT IN (SELECT id FROM photos)"),
        ("photo_thumbnails", "DELETE FROM photo_thumbnails WHERE photo_id NOT IN (SELECT id FROM photos)"),
        ("articles", "DELETE FROM articles WHERE id NOT IN (SELECT article_id FROM photos)"),
    ):
        n = dst.execute(sql).rowcount
        if n:
            report.dropped[table] = n
