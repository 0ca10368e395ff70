"""The catalog: what Lookalike learned about a photo folder and what the curator did, in one database.

This package is the only place that speaks SQL. A catalog lives in an SQLite file (the default) or a
PostgreSQL database (shared by a team); `backend.py` holds what differs. `Catalog` identifies the location
read-only first, so anything that is not a Lookalike catalog, or one from a newer version, is left
untouched; migrates older schemas in one write transaction; and offers reads and writes as methods. Every
read-then-write runs in one write transaction that holds the catalog's write lock from its first statement
(`Catalog.write()`), so two processes can never both act on the same state. SQLAlchemy Core is used
throughout: the hot paths are bulk inserts and bulk reads of vector blobs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from desktop_app import __version__
from desktop_app.core.caches import not_stored_on_full_disk
from desktop_app.core.errors import CatalogError, DiskFull
from desktop_app.core.storage.backend import Backend, Identity, backend_for, is_url
from desktop_app.core.storage.building import sweep_stale_builds
from desktop_app.core.storage.decisions import DecisionStore
from desktop_app.core.storage.fingerprints import FingerprintStore
from desktop_app.core.storage.labels import LabelStore
from desktop_app.core.storage.learned import LearnedStore
from desktop_app.core.storage.photos import PhotoStore
from desktop_app.core.storage.schema import (
    MIGRATIONS,
    SCAN_SKIPPED,
    SCHEMA_VERSION,
    meta_table,
    metadata,
    runs_table,
    settings_table,
)
from desktop_app.core.storage.sql import upsert
from desktop_app.core.storage.thumbnails import ThumbnailStore
from desktop_app.core.storage.vectors import StoredVectors


def identify(location: str | Path) -> Identity:
    """What a location holds (a file path or a database URL), found without writing to it."""
    return backend_for(location).identify()


def check_catalog_target(location: str | Path) -> Identity:
    """What a location holds, checked before a command that makes a catalog there (when there is none yet)
    does any work: an empty file is refused as it is when opening (a file the user made is theirs, not a
    catalog to fill), and a new catalog file's folder must exist (see `Backend.check_creatable`)."""
    backend = backend_for(location if is_url(location) else Path(location).expanduser())
    ident = backend.identify()
    if ident.kind == "empty" and backend.path is not None:
        raise CatalogError(_not_a_catalog(backend))
    if ident.kind == "missing":
        backend.check_creatable()
    return ident


def _not_a_catalog(backend: Backend) -> str:
    what = "an empty file" if backend.path is not None else "an empty database"
    return f"{backend.location} is {what}, not a Lookalike catalog; it was left untouched."


CHECK_STOPS_AT = 100  # SQLite's integrity and quick checks stop listing problems after this many


def damage_summary(problems: list[str], shown: int = 2) -> str:
    """What a check found, short enough for one line: the first problems and how many there are in all (a
    damaged page can give thousands, which `catalog check --json` lists)."""
    first = "; ".join(p if len(p) <= 160 else p[:157] + "..." for p in problems[:shown])
    if len(problems) <= shown:
        return first
    more = "+" if len(problems) >= CHECK_STOPS_AT else ""
    return f"{len(problems):,}{more} problems, the first: {first}"


def explain(exc: BaseException, backend: Backend, doing: str = "use") -> Exception:
    """A database error as the user-facing error it means, or the original when it is a bug."""
    known = backend.explain(exc, doing)
    if known is not None:
        return known
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class Catalog(
    PhotoStore, StoredVectors, LabelStore, DecisionStore, LearnedStore, FingerprintStore, ThumbnailStore
):
    """An open catalog. One writer at a time; reads from any thread via new connections."""

    def __init__(self, location: Path | str, create: bool = True, backend: Backend | None = None) -> None:
        self.backend = backend or backend_for(location if is_url(location) else Path(location).expanduser())
        self.path = self.backend.path  # the file, for SQLite catalogs (None for a database server)
        self.location = self.backend.location
        ident = self.backend.identify()
        where = self.location
        if ident.kind == "missing" and not create:
            raise CatalogError(f"No catalog at {where}. Index a photo folder first (lookalike index DIR).")
        if ident.kind == "empty" and not create:
            raise CatalogError(_not_a_catalog(self.backend))
        if ident.kind == "foreign":
            raise CatalogError(f"{where} is not a Lookalike catalog ({ident.detail}); it was left untouched.")
        if ident.kind == "unreadable":
            raise self._unreadable(ident)
        if ident.schema_version is not None and ident.schema_version > SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog {where} was written by a newer Lookalike (schema {ident.schema_version}, "
                f"{ident.written_by or 'unknown version'}); this is {__version__} (schema {SCHEMA_VERSION}). "
                "Update Lookalike to open it; it was left untouched."
            )
        if ident.kind in ("missing", "empty"):
            self.backend.check_creatable()
        self.engine = self.backend.make_engine()
        self._writer = self.engine.execution_options(immediate=True)
        self._checked = ident.kind in ("missing", "empty")  # a new catalog needs no check before writing
        self._prepare_or_close(ident)
        if self.path is not None and not self.read_only:
            # A killed `catalog copy` or `recover` into this folder left its hidden partial file and lock: the
            # next open tidies them (a copy still running keeps its own; see `building`). A catalog that can
            # only be read here leaves its folder as it is.
            sweep_stale_builds(self.path.parent)

    def _prepare_or_close(self, ident: Identity) -> None:
        """`_prepare`, or the connections closed again when it fails: a refusal leaves no connection open (nor,
        for SQLite, its files beside the catalog)."""
        try:
            self._prepare(ident)
        # The driver's own errors come unwrapped from the pragmas run on its raw connection.
        except (sa.exc.DBAPIError, self.engine.dialect.loaded_dbapi.Error) as exc:
            self.close()
            known = explain(exc, self.backend, "create" if ident.kind in ("missing", "empty") else "open")
            if ident.kind == "missing" and isinstance(known, DiskFull):
                # No room to make it: leave no empty file that the next try (with room) would refuse.
                self.backend.discard_new()
            raise known from exc
        except BaseException:
            self.close()  # a refusal (an older schema that cannot be migrated here)
            raise

    def _unreadable(self, ident: Identity) -> Exception:
        """Why the location could not even be identified: what the backend knows the driver's words to mean (a
        full disk, which stops SQLite from reading too; damage, with `catalog recover`), else those words."""
        if not ident.explained:
            known = self.backend.explain(CatalogError(ident.detail), "open")
            if isinstance(known, Exception):
                return known
        return CatalogError(
            f"The catalog {self.location} cannot be read ({ident.detail}); it was left untouched."
        )

    @property
    def kind(self) -> str:
        return self.backend.kind

    # ------------------------------------------------------------ opening

    def _prepare(self, ident: Identity) -> None:
        with self.engine.connect() as conn:
            if ident.kind in ("missing", "empty"):
                self.backend.before_create(conn)
                self._create(conn)
                return
            self.backend.on_open(conn)
            if self.read_only:
                self._check_readable_as_it_is(ident)
                return  # nothing is written to it: no migration, no marking of interrupted runs
            if (ident.schema_version or 0) < SCHEMA_VERSION:
                self._migrate(conn)
            self._mark_interrupted_runs(conn)

    @property
    def read_only(self) -> bool:
        """Whether this catalog can only be read here (a read-only file, folder or medium)."""
        return self.backend.read_only_reason is not None

    def _check_readable_as_it_is(self, ident: Identity) -> None:
        if (ident.schema_version or 0) < SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog {self.location} was written by an older Lookalike (schema {ident.schema_version}) "
                f"and {self.backend.read_only_reason}, so it cannot be brought up to date; copy it somewhere "
                "writable and open the copy."
            )

    def _create(self, conn: sa.Connection) -> None:
        with conn.execution_options(immediate=True).begin():
            if sa.inspect(conn).get_table_names():
                return  # another process created it first
            self.backend.as_owner(conn)
            metadata.create_all(conn)
            conn.execute(
                meta_table.insert(),
                [
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"key": "created_by", "value": f"lookalike {__version__}"},
                    {"key": "created_at", "value": str(time.time())},
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
            if version < SCHEMA_VERSION:
                self.backend.as_owner(conn)
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(version))
            )

    def _mark_interrupted_runs(self, conn: sa.Connection) -> None:
        """Runs still marked running while nobody indexes were killed: say so instead of "running" forever."""
        running = sa.select(sa.func.count()).where(runs_table.c.status == "running")
        with conn.begin():
            stale = conn.execute(running).scalar_one()
        if not stale or self.backend.index_lock_held():
            return
        with conn.execution_options(immediate=True).begin():
            conn.execute(
                runs_table.update().where(runs_table.c.status == "running").values(status="interrupted")
            )

    def close(self) -> None:
        self.engine.dispose()
        self.backend.release()

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
        reason = self.backend.read_only_reason
        if reason is not None:
            raise CatalogError(
                f"The catalog {self.location} can only be read here: {reason}, so Lookalike cannot {doing} it. "
                "Copy it somewhere writable (or make it writable) and try again."
            )
        if not self._checked:
            self.check_before_writing()
        try:
            with self._writer.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise explain(exc, self.backend, doing) from exc

    def store_cache(self, what: str, store: Callable[[], object]) -> bool:
        """Run `store`, which writes a cache a read computed (photo fingerprints, a map layout, a label
        calibration: see `core.caches`), where the catalog can hold it: not on a catalog that can only be read
        here, and not on a full disk, which is said once instead of failing the read. True when stored."""
        if self.read_only:
            return False
        try:
            store()
        except DiskFull:
            not_stored_on_full_disk(what, self.location)
            return False
        return True

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A consistent read (one snapshot for every statement inside)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise explain(exc, self.backend, "read") from exc

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

    def scan_skipped(self) -> list[dict]:
        """The files the latest index run's scan skipped, which have no photo row to say so (see
        `indexer._run_record`): {"path", "reason", "message"} each."""
        for run in self.recent_runs():
            summary = run["summary"] or {}
            if SCAN_SKIPPED in summary:
                return list(summary[SCAN_SKIPPED])
        return []

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

    # ------------------------------------------------------------ health and locks

    def index_lock(self) -> AbstractContextManager:
        """Held by an index run: a second one raises CatalogBusy."""
        return self.backend.index_lock()

    def indexing_now(self) -> bool:
        """Whether an index run (in any process) holds the catalog's index lock now."""
        return self.backend.index_lock_held()

    def check_before_writing(self) -> None:
        problems = self.health(quick=True)
        if problems != ["ok"]:
            raise CatalogError(
                f"The catalog {self.location} is damaged ({damage_summary(problems)}); Lookalike will not write "
                f"to it. {self.backend.damaged_advice()}"
            )
        self._checked = True

    def health(self, quick: bool = False) -> list[str]:
        """The database's own check: ["ok"], or what is wrong (SQLite's quick_check skips index contents)."""
        return self.backend.health(self.engine, quick)

    def integrity_check(self) -> str:
        """ "ok", or the problems of a full check in one line."""
        return "; ".join(self.health())

    def size_bytes(self) -> int:
        """The catalog's size on disk (for SQLite with its write-ahead log)."""
        return self.backend.size_bytes(self.engine)
