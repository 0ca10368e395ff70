"""The shared backend: a catalog in a PostgreSQL database that several curators use at once.

The location is a SQLAlchemy URL (postgresql+psycopg://user@host:5432/lookalike); the password comes from
libpq's usual places (PGPASSWORD, ~/.pgpass) or, on a terminal, a prompt, and is never stored by Lookalike.
Every write transaction first takes a transaction-level advisory lock, so writes are serialised exactly as
SQLite's BEGIN IMMEDIATE serialises them: a read-then-write decision never races another curator's. One
indexer at a time holds a session-level advisory lock, which the server drops if the client dies.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import event

from desktop_app.core.errors import CatalogBusy, CatalogError, DiskFull, InputError
from desktop_app.core.storage.backend import URL_EXAMPLE, Backend, Identity, parse_db_url
from desktop_app.core.storage.passwords import forget_password, typed_password

# Advisory lock keys (64-bit): one for writers, one for the indexer. Advisory locks are per database.
WRITE_LOCK = 0x4C6B4C6B_57524954  # "LkLk" "WRIT"
INDEX_LOCK = 0x4C6B4C6B_494E4458  # "LkLk" "INDX"


class PasswordNeeded(CatalogError):
    """The server wants a password that libpq could not find (PGPASSWORD, ~/.pgpass), or refused the one it
    got; `url` is the catalog's URL without a password, for the prompt that asks for it; `in_url`, whether
    the password refused was written in the URL (a typed one would not be used: asking is pointless)."""

    def __init__(self, message: str, url: str = "", in_url: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.in_url = in_url


class ConnectionLost(CatalogError):
    """The server went away (stopped, restarted, network cut) while a command was using it."""


def _on_begin(conn) -> None:
    if conn.get_execution_options().get("immediate"):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


def _not_postgres(url: str, scheme: str) -> str:
    """What to give instead of a database URL that is not PostgreSQL's. A SQLite catalog is named by its file,
    never by a URL: which file "sqlite:///x" means (relative for SQLAlchemy, absolute for a file URL) is the
    kind of guess a catalog must not rest on, so the path to type is shown instead."""
    if scheme not in ("sqlite", "file"):
        return f"Lookalike catalogs live in SQLite files (--db FILE) or PostgreSQL (--db {URL_EXAMPLE}), not {scheme}."
    path = urlsplit(url).path
    example = "/" + path.lstrip("/") if path.strip("/") else "FILE"
    return f"Give a SQLite catalog as a file path, not a URL: --db {example}"


class PostgresBackend(Backend):
    kind = "postgresql"

    def __init__(self, url: str, password: str | None = None) -> None:
        parsed = parse_db_url(url)
        if parsed.get_backend_name() not in ("postgresql", "postgres"):
            raise InputError(_not_postgres(url, parsed.get_backend_name()))
        _check_url_parts(parsed)
        self.url = parsed.set(drivername="postgresql+psycopg")
        # A password typed for this login (never one typed for another catalog) goes to the driver beside
        # the URL, so no URL that is shown, logged or remembered carries it; one written in the URL wins.
        self._password = password if password is not None else typed_password(parsed)
        self.location = self.url.render_as_string(hide_password=True)
        self.path = None
        self._engine: sa.Engine | None = None
        self._reached = False  # a session was made once: a refused connection after that is a lost server

    # ------------------------------------------------------------ connections

    def make_engine(self) -> sa.Engine:
        if self._engine is None:
            try:
                import psycopg  # noqa: F401 - only to say how to get it
            except ImportError as exc:
                raise CatalogError(
                    "Shared catalogs on PostgreSQL need the psycopg driver: pip install 'lookalike[postgres]'."
                ) from exc
            connect_args: dict = {"connect_timeout": 10}
            if self._password is not None and self.url.password is None:
                connect_args["password"] = self._password
            self._engine = sa.create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
            event.listen(self._engine, "begin", _on_begin)
            event.listen(self._engine, "connect", self._on_connect)
            event.listen(self._engine, "handle_error", self._on_error)
        return self._engine

    def _on_connect(self, dbapi_conn, record) -> None:
        self._reached = True

    def _on_error(self, context) -> None:
        """The one place a lost server becomes the user's error: a statement on a connection the server
        closed (the driver marks it broken). Statement errors on a live connection stay what they are."""
        if context.is_disconnect and not context.is_pre_ping:
            raise self.lost(context.original_exception) from context.original_exception

    def lost(self, exc: BaseException) -> ConnectionLost:
        text = " ".join(str(getattr(exc, "orig", exc)).split())
        return ConnectionLost(
            f"Lost the connection to the PostgreSQL server at {self.where()} ({text}); what was "
            "committed is kept: run the command again when the server is back."
        )

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
        return CatalogError(
            f"Cannot reach the PostgreSQL server at {self.where()} ({text}); check the address "
            "and that it is running."
        )

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
        password = self.password_error(low)
        if password is not None:
            return password
        if "does not exist" in low and "database" in low:
            return CatalogError(
                f"The database {url.database} does not exist on {where}; create it first "
                f"({self.client_command('createdb')} {url.database})."
            )
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
            if self._reached:  # this command was using the server a moment ago
                return self.lost(exc)
            return CatalogError(
                f"Cannot reach the PostgreSQL server at {where} ({text}); check the address and that "
                "it is running."
            )
        if "permission denied" in low:
            return CatalogError(self.permission_advice(doing, text))
        if "could not extend" in low or "no space left" in low:
            return DiskFull(f"The database server {where} is out of disk space ({text}); nothing was lost.")
        if "lock timeout" in low or "deadlock" in low:
            return CatalogBusy(f"The catalog on {where} is busy ({text}); try again.")
        return None

    def password_error(self, low: str) -> PasswordNeeded | None:
        """The server asked a password and got none (libpq found none), or refused the one it got; None when
        the driver's message (`low`, lower case) is about something else."""
        user, where = self.url.username, self.where()
        places = (
            f"put it in ~/.pgpass ({self.url.host or 'localhost'}:{self.url.port or 5432}:"
            f"{self.url.database}:{user}:PASSWORD) or in PGPASSWORD, or type it when asked (Lookalike never "
            "stores it)"
        )
        if "no password supplied" in low:
            return PasswordNeeded(f"The server {where} needs a password for {user}: {places}.", self.location)
        if "password authentication failed" in low:
            forget_password(self.location)  # a typed one the server refused is not handed on to children
            return PasswordNeeded(
                f"The server {where} refused the password of {user}; check it where it came from: {places}.",
                self.location,
                in_url=self.url.password is not None,
            )
        return None

    def client_command(self, tool: str) -> str:
        """A PostgreSQL client tool's command line for this server and user (createdb, psql)."""
        url = self.url
        parts = [tool, "-h", url.host or "localhost"]
        if url.port:
            parts += ["-p", str(url.port)]
        if url.username:
            parts += ["-U", url.username]
        return " ".join(parts)

    def permission_advice(self, doing: str, text: str) -> str:
        """Who may not do what, and the command that gives them the right, from what the server says about
        this user: a catalog whose tables exist is the team's (README's set-up: every curator is a member of
        the role that owns them); before they exist, what is missing is the right to create them."""
        user = self.url.username or "(this login)"
        head = f"The database user {user} may not {doing} this catalog ({text})"
        rights = self._rights()
        psql = self.client_command("psql").rsplit(" -U ", 1)[0]  # run by an administrator, not by this user
        if rights is not None and rights.table_owner:
            return (
                f"{head}; its tables belong to the role {rights.table_owner}: an administrator makes {user} a "
                f"curator with {psql} -d {self.url.database} -c '{_grant(rights.table_owner, user)}' (README: "
                "A shared catalog for a team)."
            )
        if rights is None or rights.can_create is not False:
            return f"{head}; ask the administrator of the server {self.where()} for that right."
        missing = (
            f"{head}: {user} has no right to create tables in the schema {rights.schema} of the database "
            f"{self.url.database}, and the catalog's tables do not exist yet"
        )
        if not rights.owner_logs_in:  # a team role (README's set-up): its members create as the team
            return (
                f"{missing}. The database belongs to the team role {rights.owner}: an administrator makes "
                f"{user} a member with {psql} -d {self.url.database} -c '{_grant(rights.owner, user)}' "
                "(README: A shared catalog for a team)."
            )
        return (
            f"{missing}. The database's owner {rights.owner} (or a superuser) can give that right with {psql} "
            f"-U {rights.owner} -d {self.url.database} -c 'GRANT CREATE ON SCHEMA {_name(rights.schema)} TO "
            f"{_name(user)}'."
        )

    def _rights(self) -> _Rights | None:
        """What the server says about this user's rights in the catalog's database, looked up for an error
        message (None when it cannot be asked)."""
        try:
            with self.make_engine().connect() as conn:
                row = conn.execute(sa.text(_RIGHTS_SQL)).one_or_none()
        except sa.exc.DBAPIError:
            return None
        if row is None:
            return None
        schema_owner = row.schema_owner
        owner = row.db_owner if schema_owner in (None, "pg_database_owner") else schema_owner
        return _Rights(
            row.table_owner, row.schema or "public", row.can_create, owner, bool(row.owner_logs_in)
        )

    def as_owner(self, conn: sa.Connection) -> None:
        """Make tables (creating or migrating the catalog) as the role that owns the database when this user
        is a member of it, for this transaction only: tables then belong to the team's role, and every
        curator may use every table, including tables later versions add."""
        owner = conn.execute(
            sa.text(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database() "
                "AND pg_get_userbyid(datdba) <> current_user "
                "AND pg_has_role(current_user, datdba, 'MEMBER')"
            )
        ).scalar()
        if owner:
            quoted = conn.dialect.identifier_preparer.quote(owner)
            conn.exec_driver_sql(f"SET LOCAL ROLE {quoted}")


# Who owns the catalog's meta table (None: the catalog's tables do not exist yet), whether this user may
# create tables in the schema they go to, and who can grant that: the schema's owner (PostgreSQL 15's public
# schema belongs to pg_database_owner, i.e. the database's owner) and whether that role can log in.
_RIGHTS_SQL = """
SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 'meta' AND schemaname = current_schema())
           AS table_owner,
       current_schema() AS schema,
       has_schema_privilege(current_schema(), 'CREATE') AS can_create,
       (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = current_schema()) AS schema_owner,
       pg_get_userbyid(d.datdba) AS db_owner,
       (SELECT rolcanlogin FROM pg_roles WHERE pg_roles.oid = d.datdba) AS owner_logs_in
FROM pg_database d WHERE d.datname = current_database()
"""


@dataclass(frozen=True)
class _Rights:
    table_owner: str | None
    schema: str
    can_create: bool | None
    owner: str  # the role that may grant CREATE on the schema
    owner_logs_in: bool


def _name(identifier: str) -> str:
    """A role or schema name as SQL reads it: plain when it is a plain lower-case name, else double-quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier):
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def _grant(role: str, user: str) -> str:
    return f"GRANT {_name(role)} TO {_name(user)}"


def _check_url_parts(url) -> None:
    """InputError for a URL without a database, or with an option libpq does not know (it would fail later
    with the driver's own words and no hint which part is wrong)."""
    example = URL_EXAMPLE
    if not url.database:
        raise InputError(
            f"The URL {url.render_as_string(hide_password=True)} names no database: add /NAME ({example})."
        )
    known = _libpq_options()
    unknown = sorted(k for k in url.query if known and k not in known)
    if unknown:
        raise InputError(
            f"The URL's option {', '.join(unknown)} is not a PostgreSQL connection option; remove "
            f"it (options are libpq's, e.g. ?sslmode=require)."
        )


def _libpq_options() -> set[str]:
    """The connection options the installed libpq knows (empty when the driver is not installed)."""
    try:
        from psycopg import pq
    except ImportError:
        return set()
    return {d.keyword.decode() for d in pq.Conninfo.get_defaults()}


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
            raise CatalogBusy(
                f"Another index run is updating the catalog {self.backend.location} right now. Wait "
                "for it to finish (or cancel it), then run the index again."
            )
        self.conn = conn
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            try:
                self.conn.exec_driver_sql(f"SELECT pg_advisory_unlock({INDEX_LOCK})")
                self.conn.commit()
            except ConnectionLost:
                pass  # the server ended the session, and a session's advisory locks end with it
            finally:
                self.conn.close()
                self.conn = None
