"""The catalog: one SQLite file per photo folder holding what Lookalike learned and what the curator did.

This package is the only place that speaks SQL. `Catalog` opens a file (identifying it read-only first, so
anything that is not a Lookalike catalog, or one from a newer version, is left byte-identical), migrates
older schemas in one transaction, and offers reads and writes as methods. Every read-then-write runs in
one `BEGIN IMMEDIATE` transaction (`Catalog.write()`), so two processes can never both act on the same
state. SQLAlchemy Core is used throughout: the hot paths are bulk inserts and bulk reads of vector blobs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from desktop_app import __version__
from desktop_app.core.errors import CatalogBusy, CatalogError, DiskFull
from desktop_app.core.storage.labels import LabelStore
from desktop_app.core.storage.photos import PhotoStore
from desktop_app.core.storage.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    PAGE_SIZE,
    SCHEMA_VERSION,
    meta_table,
    metadata,
    runs_table,
    settings_table,
)
from desktop_app.core.storage.sql import upsert

BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"
LOOKALIKE_TABLES = {"meta", "settings", "articles", "photos", "vectors"}  # in every schema version


@dataclass(frozen=True)
class Identity:
    """What a file is, found without writing to it."""

    kind: str  # "missing", "empty", "catalog", "foreign" (not a Lookalike catalog), "unreadable"
    schema_version: int | None = None
    written_by: str | None = None
    detail: str = ""


def identify(path: Path) -> Identity:
    """Look at a file read-only: a Lookalike catalog (and which schema), something else, or nothing."""
    path = Path(path)
    if not path.exists():
        return Identity("missing")
    if path.is_dir():
        return Identity("foreign", detail="it is a folder")
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        return Identity("unreadable", detail=exc.strerror or str(exc))
    if not head:
        return Identity("empty")
    if not head.startswith(SQLITE_HEADER):
        return Identity("foreign", detail="it is not an SQLite database")
    app_id = int.from_bytes(head[68:72], "big") if len(head) >= 72 else 0
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        return Identity("unreadable", detail=str(exc))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            return Identity("foreign", detail="it has no Lookalike tables")
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('schema_version', 'created_by')"))
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return Identity("catalog", detail="busy")  # a writer holds it: only a catalog would be opened so
        return Identity("unreadable", detail=text)
    finally:
        conn.close()
    created_by = rows.get("created_by") or ""
    ours = app_id == APPLICATION_ID or created_by.startswith("lookalike") or LOOKALIKE_TABLES <= tables
    if not ours:
        return Identity("foreign", detail="its meta table was not written by Lookalike")
    raw_version = rows.get("schema_version")
    try:
        version = int(str(raw_version))
    except ValueError:
        return Identity("unreadable", detail=f"its schema version {raw_version!r} is not a number")
    return Identity("catalog", version, created_by)


def _on_connect(dbapi_conn, _record) -> None:
    # Transactions are begun explicitly (see _on_begin): the sqlite3 module's own implicit BEGIN would
    # take the write lock only at the first write, too late for a read-then-write decision.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")  # with WAL: survives a process kill, cheap commits
    cur.close()


def _on_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")


def explain(exc: BaseException, path: Path | str, doing: str = "use") -> Exception:
    """A database error as the user-facing error it means, or the original when it is a bug."""
    orig = getattr(exc, "orig", exc)
    text = str(orig)
    low = text.lower()
    if "database or disk is full" in low or ("disk" in low and "full" in low):
        return DiskFull(
            f"The disk holding the catalog {path} is full; nothing was lost, but the last change was "
            "not saved. Free some space and try again."
        )
    if "readonly" in low or "read-only" in low:
        return CatalogError(
            f"The catalog {path} is read-only, so Lookalike cannot {doing} it. Make the file "
            "writable or copy it somewhere writable."
        )
    if "locked" in low or "busy" in low:
        return CatalogBusy(
            f"The catalog {path} is busy: another program is writing to it. Try again when it has finished."
        )
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return CatalogError(
            f"The catalog {path} is damaged ({text}). Run `lookalike catalog check --db {path}` "
            "to see what can be recovered."
        )
    if "disk i/o error" in low and _disk_nearly_full(Path(path)):
        return DiskFull(f"The disk holding the catalog {path} is full ({text}); nothing was lost, but the last "
                        "change was not saved. Free some space and try again.")  # fmt: skip
    if "disk i/o error" in low or "unable to open" in low:
        return CatalogError(
            f"The catalog {path} cannot be read or written ({text}): check the disk and the file's folder."
        )
    return exc if isinstance(exc, Exception) else RuntimeError(text)


def _disk_nearly_full(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent if not path.is_dir() else path).free < 1 << 20
    except OSError:
        return False


class Catalog(PhotoStore, LabelStore):
    """An open catalog file. One writer at a time (SQLite); reads from any thread via new connections."""

    def __init__(self, path: Path | str, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        ident = identify(self.path)
        if ident.kind == "missing" and not create:
            raise CatalogError(
                f"No catalog at {self.path}. Index a photo folder first (lookalike index DIR)."
            )
        if ident.kind == "empty" and not create:
            raise CatalogError(
                f"{self.path} is an empty file, not a Lookalike catalog; it was left untouched."
            )
        if ident.kind == "foreign":
            raise CatalogError(
                f"{self.path} is not a Lookalike catalog ({ident.detail}); it was left untouched."
            )
        if ident.kind == "unreadable":
            raise CatalogError(
                f"The catalog {self.path} cannot be read ({ident.detail}); it was left untouched."
            )
        if ident.schema_version is not None and ident.schema_version > SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog {self.path} was written by a newer Lookalike (schema {ident.schema_version}, "
                f"{ident.written_by or 'unknown version'}); this is {__version__} (schema {SCHEMA_VERSION}). "
                "Update Lookalike to open it; it was left untouched."
            )
        if ident.kind in ("missing", "empty"):
            self._check_creatable()
        self.engine = self._make_engine()
        self._writer = self.engine.execution_options(immediate=True)
        self._checked = ident.kind in ("missing", "empty")  # a new file needs no check before writing
        try:
            self._prepare()
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise explain(exc, self.path, "open") from exc

    # ------------------------------------------------------------ opening

    def _check_creatable(self) -> None:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(
                f"Cannot create the catalog folder {parent}: {exc.strerror}. Choose another place with --db."
            ) from exc
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CatalogError(
                f"Cannot create a catalog in {parent}: the folder is read-only. Choose another place with --db."
            )

    def _make_engine(self) -> Engine:
        engine = sa.create_engine(f"sqlite:///{self.path}")
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        return engine

    def _prepare(self) -> None:
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection  # autocommit: pragmas that must run outside a transaction
            tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                self._create(conn, raw)
                return
            version = int(raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            if raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                raw.execute("PRAGMA journal_mode = WAL")
            if version < SCHEMA_VERSION:
                self._migrate(conn)
            self._mark_interrupted_runs(conn)

    def _create(self, conn: sa.Connection, raw: sqlite3.Connection) -> None:
        # page_size only takes effect before the first table exists and outside WAL mode
        raw.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        with conn.execution_options(immediate=True).begin():
            if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type='table'").scalar():
                return  # another process created it first
            metadata.create_all(conn)
            now = time.time()
            conn.execute(
                meta_table.insert(),
                [
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"key": "created_by", "value": f"lookalike {__version__}"},
                    {"key": "created_at", "value": str(now)},
                ],
            )

    def _migrate(self, conn: sa.Connection) -> None:
        # The version is read again inside the write lock: a second process that opened the catalog at the
        # same time finds it migrated and does nothing.
        with conn.execution_options(immediate=True).begin():
            version = int(
                conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar_one()
            )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(version))
            )

    def _mark_interrupted_runs(self, conn: sa.Connection) -> None:
        """Runs still marked running while nobody indexes were killed: say so instead of "running" forever."""
        from desktop_app.core.storage.locks import index_lock_held

        running = sa.select(sa.func.count()).where(runs_table.c.status == "running")
        with conn.begin():
            stale = conn.execute(running).scalar_one()
        if not stale or index_lock_held(self.path):
            return
        with conn.execution_options(immediate=True).begin():
            conn.execute(
                runs_table.update().where(runs_table.c.status == "running").values(status="interrupted")
            )

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def write(self, doing: str = "write to") -> Iterator[sa.Connection]:
        """One write transaction that holds the write lock from its first statement (BEGIN IMMEDIATE).

        The first write of an open catalog runs SQLite's quick_check first: a damaged file is refused
        instead of being written into (and damaged further).
        """
        if not self._checked:
            self.check_before_writing()
        try:
            with self._writer.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise explain(exc, self.path, doing) from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A consistent read (one snapshot for every statement inside)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise explain(exc, self.path, "read") from exc

    # ------------------------------------------------------------ settings (raw; typed in core.settings)

    def raw_settings(self) -> dict[str, Any]:
        with self.read() as conn:
            return {k: json.loads(v) for k, v in conn.execute(sa.select(settings_table))}

    def write_raw_settings(self, values: dict[str, Any]) -> None:
        self.update_raw_settings(lambda raw: {**raw, **values})

    def update_raw_settings(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Read the settings, apply `change` and write the result, in one write transaction."""
        with self.write() as conn:
            raw = {k: json.loads(v) for k, v in conn.execute(sa.select(settings_table))}
            new = change(dict(raw))
            for key, value in new.items():
                if key in raw and raw[key] == value:
                    continue
                upsert(conn, settings_table, {"key": key, "value": json.dumps(value)}, ["key"])
            gone = [k for k in raw if k not in new]
            if gone:
                conn.execute(settings_table.delete().where(settings_table.c.key.in_(gone)))
        return new

    def schema_version(self) -> int:
        with self.read() as conn:
            return int(
                conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar_one()
            )

    # ------------------------------------------------------------ index runs

    def start_run(self, model_id: str) -> int:
        with self.write() as conn:
            return int(
                conn.execute(
                    runs_table.insert().values(started_at=time.time(), status="running", model_id=model_id)
                ).inserted_primary_key[0]
            )

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        with self.write() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(finished_at=time.time(), status=status, summary=json.dumps(summary))
            )

    def last_run(self) -> dict | None:
        runs = self.recent_runs(1)
        return runs[0] if runs else None

    def recent_runs(self, limit: int = 20) -> list[dict]:
        """The latest index runs, newest first, with their summaries."""
        with self.read() as conn:
            rows = conn.execute(sa.select(runs_table).order_by(runs_table.c.id.desc()).limit(limit)).all()
        out = []
        for row in rows:
            run = dict(row._mapping)
            run["summary"] = json.loads(run["summary"]) if run["summary"] else None
            out.append(run)
        return out

    # ------------------------------------------------------------ health

    def check_before_writing(self) -> None:
        problems = self.health(quick=True)
        if problems != ["ok"]:
            raise CatalogError(
                f"The catalog {self.path} is damaged ({'; '.join(problems[:2])}); Lookalike will not write to it. "
                f"Recover what can be read into a new file: lookalike catalog recover --db {self.path} NEW.sqlite"
            )
        self._checked = True

    def health(self, quick: bool = False) -> list[str]:
        """SQLite's own check of every page: ["ok"], or what is wrong (quick_check skips index contents)."""
        pragma = "quick_check" if quick else "integrity_check"
        try:
            with self.engine.connect() as conn:
                return [str(r[0]) for r in conn.connection.driver_connection.execute(f"PRAGMA {pragma}")]
        except sa.exc.DBAPIError as exc:
            return [str(getattr(exc, "orig", exc))]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]

    def integrity_check(self) -> str:
        with self.read() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()

    def size_bytes(self) -> int:
        """The catalog file with its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                pass
        return total
