"""Moving a catalog between backends (SQLite file <-> PostgreSQL database), verified row by row.

Every table is copied in primary-key order with its ids, so references between tables stay as they were;
afterwards both sides are read again and compared by row counts and a checksum of every row's values. A copy
that fails or is killed leaves no destination to clean up: a new file is built under a temporary name
(`building.py`), a database gets back the emptiness it had.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from desktop_app.core.errors import CatalogError, InputError
from desktop_app.core.storage.backend import is_url
from desktop_app.core.storage.building import building_catalog_file
from desktop_app.core.storage.catalog import Catalog, check_catalog_target
from desktop_app.core.storage.schema import metadata
from desktop_app.core.storage.sqlite import SqliteBackend

BATCH = 2000
Progress = Callable[[str, int, int], None]


@dataclass
class CopyReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    verified: bool = False
    curator_as: str | None = None  # the name the source's curators were credited as in the copy
    recredited: dict[str, int] = field(default_factory=dict)  # per table, rows whose curator was changed

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _tables() -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if t.name != "meta"]


def _ordered(table: sa.Table) -> sa.Select:
    return sa.select(table).order_by(*table.primary_key.columns)


def _credited(table: sa.Table, curator_as: str | None) -> Callable[[dict], dict]:
    """What a row of `table` becomes in the copy: the same, or with a recorded curator's name replaced by
    `curator_as` (rows with no name recorded, from before names were kept, stay so: anyone's to undo)."""
    if curator_as is None or "curator" not in table.c:
        return lambda row: row
    return lambda row: {**row, "curator": curator_as} if row["curator"] is not None else row


def _digest(
    conn: sa.Connection, table: sa.Table, credit: Callable[[dict], dict] = lambda row: row
) -> tuple[int, str]:
    """Row count and a checksum of every value, the same whichever backend holds the rows (the source's
    rows as `credit` makes them, so a copy that renamed curators is compared with what it should hold)."""
    h = hashlib.sha256()
    n = 0
    for row in conn.execution_options(yield_per=BATCH).execute(_ordered(table)):
        values = []
        for v in credit(dict(row._mapping)).values():
            if isinstance(v, (bytes, memoryview)):
                values.append(hashlib.sha256(bytes(v)).hexdigest())
            elif isinstance(v, float):
                values.append(repr(round(v, 6)))
            else:
                values.append(v)
        h.update(json.dumps(values, default=str).encode())
        n += 1
    return n, h.hexdigest()


def copy_catalog(
    source: str | Path, target: str | Path, progress: Progress | None = None, curator_as: str | None = None
) -> CopyReport:
    """Copy every table of `source` into `target`: a new SQLite file (built beside it under a temporary name
    and renamed when verified, so a failure or a kill leaves no file there) or an empty PostgreSQL database
    (what a failed copy created there is dropped again; one a kill left behind is taken as empty).

    `curator_as`: credit every decision, label event, cover and verdict that names a curator to this name in
    the copy (a laptop's catalog names its login, e.g. root; on the server the curator is someone else)."""
    if is_url(target):
        return _copy_into_database(source, str(target), progress, curator_as)
    target = Path(target).expanduser()
    if target.is_dir():
        raise InputError(f"{target} is a folder; name a new catalog file (e.g. {target / 'catalog.sqlite'}).")
    if check_catalog_target(target).kind != "missing":
        raise InputError(f"{target} already holds data; copy into a new file (nothing is ever replaced).")
    with Catalog(source, create=False) as src, building_catalog_file(target, "copy") as tmp:
        backend = SqliteBackend(tmp)
        backend.location = str(target)  # messages name the file the user asked for
        return _copy_into(src, Catalog(tmp, create=True, backend=backend), progress, curator_as)


def _copy_into_database(
    source: str | Path, target: str, progress: Progress | None, curator_as: str | None
) -> CopyReport:
    made = check_catalog_target(target).kind in ("missing", "empty")
    if not made and not _unused_catalog(target):
        raise CatalogError(
            f"{target} already holds data; copy into an empty database (or a catalog nothing was put in yet)."
        )
    with Catalog(source, create=False) as src:
        dst = Catalog(target, create=True)
        try:
            return _copy_into(src, dst, progress, curator_as)
        except BaseException:
            if made:
                _drop_tables(target)
            raise


def _copy_into(src: Catalog, dst: Catalog, progress: Progress | None, curator_as: str | None) -> CopyReport:
    """Copy every table in one write transaction, then compare both sides; closes `dst`."""
    with dst:
        if (
            src.schema_version() != dst.schema_version()
        ):  # opening the source migrated it; a guard all the same
            raise CatalogError("The source catalog could not be brought to this version's schema.")
        report = CopyReport(src.location, dst.location, curator_as=curator_as)
        with src.read() as rconn, dst.write("copy into") as wconn:
            for table in _tables():
                changed = _copy_table(rconn, wconn, table, progress, _credited(table, curator_as))
                if changed:
                    report.recredited[table.name] = changed
        with src.read() as a, dst.read() as b:
            ok = True
            for table in _tables():
                count_a, sum_a = _digest(a, table, _credited(table, curator_as))
                count_b, sum_b = _digest(b, table)
                report.rows[table.name] = count_b
                report.checksums[table.name] = sum_b
                ok = ok and (count_a, sum_a) == (count_b, sum_b)
        report.verified = ok
    if not report.verified:
        raise CatalogError(
            f"The copy of {report.source} did not match it when read back; {report.target} was not kept."
        )
    return report


def _copy_table(
    rconn: sa.Connection,
    wconn: sa.Connection,
    table: sa.Table,
    progress: Progress | None,
    credit: Callable[[dict], dict],
) -> int:
    """Copy one table's rows (as `credit` makes them); how many rows `credit` changed."""
    wconn.execute(table.delete())  # a new catalog has no rows but its own settings
    total = rconn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    done = changed = 0
    batch: list[dict] = []
    for row in rconn.execution_options(yield_per=BATCH).execute(_ordered(table)):
        original = dict(row._mapping)
        copied = credit(original)
        changed += copied != original
        batch.append(copied)
        if len(batch) >= BATCH:
            wconn.execute(table.insert(), batch)
            done += len(batch)
            batch = []
            if progress:
                progress(table.name, done, total)
    if batch:
        wconn.execute(table.insert(), batch)
        done += len(batch)
    if progress:
        progress(table.name, done, total)
    _reset_sequence(wconn, table)
    return changed


def _unused_catalog(target: str) -> bool:
    """A catalog in which nothing was put yet (its own settings aside): what a copy stopped half-way leaves."""
    with Catalog(target, create=False) as catalog, catalog.read() as conn:
        return not any(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in _tables()
            if t.name != "settings"
        )


def _drop_tables(target: str) -> None:
    """Take back the tables a failed copy made in a database that was empty (best effort: a server that went
    away keeps them, and a catalog nothing was put in is taken as empty by the next copy)."""
    try:
        with Catalog(target, create=False) as catalog, catalog.engine.begin() as conn:
            metadata.drop_all(conn)
    except Exception:  # noqa: BLE001 - already failing: the first error is the one to report
        pass


def _reset_sequence(conn: sa.Connection, table: sa.Table) -> None:
    """PostgreSQL: rows inserted with their ids leave the id sequence behind; move it past them."""
    if conn.dialect.name != "postgresql" or "id" not in table.c:
        return
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
    )
