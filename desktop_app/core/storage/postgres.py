"""The shared backend: a catalog in a PostgreSQL database that several curators use at once.

The location is a SQLAlchemy URL (postgresql+psycopg://user@host:5432/lookalike); the password comes from
libpq's usual places (PGPASSWORD, ~/.pgpass) or, on a terminal, a prompt, and is never stored by Lookalike.
Every write transaction first takes a transaction-level advisory lock, so writes are serialised exactly as
SQLite's BEGIN IMMEDIATE serialises them: a read-then-write decision never races another curator's. One
indexer at a time holds a session-level advisory lock, which the server drops if the client dies.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from desktop_app.core.errors import CatalogBusy, CatalogError, DiskFull, InputError
from desktop_app.core.storage.backend import Backend, Identity

# Advisory lock keys (64-bit): one for writers, one for the indexer. Advisory locks are per database.
WRITE_LOCK = 0x4C6B4C6B_57524954  # "LkLk" "WRIT"
INDEX_LOCK = 0x4C6B4C6B_494E4458  # "LkLk" "INDX"


class PasswordNeeded(CatalogError):
    """The server wants a password that libpq could not find (PGPASSWORD, ~/.pgpass)."""


def _on_begin(conn) -> None:
    if conn.get_execution_options().get("immediate"):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


class PostgresBackend(Backend):
    kind = "postgresql"

    def __init__(self, url: str, password: str | None = None) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises its own ArgumentError
            raise InputError(
                f"{url!r} is not a database URL; use postgresql+psycopg://USER@HOST:PORT/DATABASE."
            ) from exc
        if parsed.get_backend_name() not in ("postgresql", "postgres"):
            raise InputError(
                f"Lookalike catalogs live in SQLite files or PostgreSQL, not {parsed.get_backend_name()}."
            )
        self.url = parsed.set(drivername="postgresql+psycopg")
        if password is not None:
            self.url = self.url.set(password=password)
        self.location = self.url.render_as_string(hide_password=True)
        self.path = None
        self._engine: sa.Engine | None = None

    # ------------------------------------------------------------ connections

    def make_engine(self) -> sa.Engine:
        if self._engine is None:
            try:
                import psycopg  # noqa: F401 - only to say how to get it
            except ImportError as exc:
                raise CatalogError(
                    "Shared catalogs on PostgreSQL need the psycopg driver: pip install 'lookalike[postgres]'."
                ) from exc
            self._engine = sa.create_engine(
                self.url, pool_pre_ping=True, connect_args={"connect_timeout": 10}
            )
            event.listen(self._engine, "begin", _on_begin)
        return self._engine

    def connect(self) -> sa.Connection:
        """A connection to the server; any failure to get one is the user's to fix (address, server, login).

        Only connecting is caught here: the driver's OperationalError at this point means no session was
        made (no server on the host or on the local socket, a refused login), never a bug in a statement.
        """
        try:
            return self.make_engine().connect()
        except sa.exc.OperationalError as exc:
            raise self.explain(exc, "open") or self.unreachable(exc) from exc

    def unreachable(self, exc: BaseException) -> CatalogError:
        text = " ".join(str(getattr(exc, "orig", exc)).split())
        return CatalogError(f"Cannot reach the PostgreSQL server at {self.where()} ({text}); check the address "
                            "and that it is running.")  # fmt: skip

    def where(self) -> str:
        """The server as messages name it: host:port, or the local socket for a URL without a host."""
        url = self.url
        host = url.host or url.query.get("host")
        if not host or str(host).startswith("/"):
            return f"the local socket {host or '(default folder)'}, port {url.port or 5432}"
        return f"{host}:{url.port or 5432}"

    def identify(self) -> Identity:
        try:
            with self.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                if not tables:
                    return Identity("empty")
                if "meta" not in tables:
                    return Identity(
                        "foreign", detail="the database holds other tables and no Lookalike catalog"
                    )
                rows = dict(
                    conn.execute(
                        sa.text("SELECT key, value FROM meta WHERE key IN ('schema_version', 'created_by')")
                    ).all()
                )
        except sa.exc.DBAPIError as exc:
            raise self.explain(exc, "open") or exc from exc
        created_by = rows.get("created_by") or ""
        if not created_by.startswith("lookalike"):
            return Identity("foreign", detail="its meta table was not written by Lookalike")
        return Identity.of_version(rows.get("schema_version"), created_by)

    def index_lock(self) -> AbstractContextManager:
        return _AdvisoryIndexLock(self)

    def index_lock_held(self) -> bool:
        with self.connect() as conn:
            got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({INDEX_LOCK})").scalar()
            if got:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({INDEX_LOCK})")
            conn.rollback()
        return not got

    def size_bytes(self, engine: sa.Engine) -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0)

    def damaged_advice(self) -> str:
        return "Ask the server's administrator to restore it from a backup."

    def explain(self, exc: BaseException, doing: str) -> Exception | None:
        text = (
            str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if str(getattr(exc, "orig", exc)).strip()
            else ""
        )
        low = text.lower()
        url = self.url
        where = self.where()
        if "password authentication failed" in low or "no password supplied" in low:
            return PasswordNeeded(f"The server {where} refused the password of {url.username}; set PGPASSWORD or "
                                  "add the password to ~/.pgpass (Lookalike never stores it).")  # fmt: skip
        if "does not exist" in low and "database" in low:
            return CatalogError(f"The database {url.database} does not exist on {where}; create it first "
                                f"(createdb -h {url.host or 'localhost'} -U {url.username} {url.database}).")  # fmt: skip
        if "role" in low and "does not exist" in low:
            return CatalogError(
                f"The server {where} has no user {url.username}; ask its administrator to create it."
            )
        if (
            "connection refused" in low
            or "could not connect" in low
            or "timeout" in low
            or "translate host" in low
        ):
            return CatalogError(f"Cannot reach the PostgreSQL server at {where} ({text}); check the address and that "
                                "it is running.")  # fmt: skip
        if "permission denied" in low:
            return CatalogError(f"The database user {url.username} may not {doing} this catalog ({text}).")
        if "could not extend" in low or "no space left" in low:
            return DiskFull(f"The database server {where} is out of disk space ({text}); nothing was lost.")
        if "lock timeout" in low or "deadlock" in low:
            return CatalogBusy(f"The catalog on {where} is busy ({text}); try again.")
        return None


class _AdvisoryIndexLock:
    """A session-level advisory lock held on its own connection for the whole index run."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self.conn: sa.Connection | None = None

    def __enter__(self) -> _AdvisoryIndexLock:
        conn = self.backend.connect()
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({INDEX_LOCK})").scalar()
        conn.commit()
        if not got:
            conn.close()
            raise CatalogBusy(f"Another index run is updating the catalog {self.backend.location} right now. Wait "
                              "for it to finish (or cancel it), then run the index again.")  # fmt: skip
        self.conn = conn
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            try:
                self.conn.exec_driver_sql(f"SELECT pg_advisory_unlock({INDEX_LOCK})")
                self.conn.commit()
            finally:
                self.conn.close()
                self.conn = None
