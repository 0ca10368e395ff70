"""What differs between the catalog's database backends, behind one interface.

`Catalog` is written once against this interface; `backend_for` picks the backend from the location: a
file path is an embedded SQLite catalog, a SQLAlchemy URL (postgresql+psycopg://...) a shared one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from desktop_app.core.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


@dataclass(frozen=True)
class Identity:
    """What a location holds, found without writing to it."""

    kind: str  # "missing", "empty", "catalog", "foreign" (not a Lookalike catalog), "unreadable"
    schema_version: int | None = None
    written_by: str | None = None
    detail: str = ""
    explained: bool = False  # detail says what to do in our words (else it may be the driver's, to interpret)

    @classmethod
    def of_version(cls, raw_version: object, created_by: str) -> Identity:
        if raw_version is None:
            return cls("unreadable", detail="it has no schema version")
        try:
            version = int(str(raw_version))
        except ValueError:
            return cls("unreadable", detail=f"its schema version {raw_version!r} is not a number")
        return cls("catalog", version, created_by)


class Backend:
    """One kind of database. Subclasses: sqlite.SqliteBackend, postgres.PostgresBackend."""

    kind = ""
    location = ""  # what messages show: a file path, or a URL without its password
    path: Path | None = None  # the catalog file, for file-based backends

    @property
    def read_only_reason(self) -> str | None:
        """Why this catalog can only be read here ("its folder ... is read-only"), or None when it can be written."""
        return None

    def identify(self) -> Identity:
        raise NotImplementedError

    def check_creatable(self) -> None:
        """Raise CatalogError when a new catalog cannot be made here."""

    def make_engine(self) -> sa.Engine:
        raise NotImplementedError

    def release(self) -> None:
        """The catalog's engine was disposed (Catalog.close)."""

    def discard_new(self) -> None:
        """Making a new catalog here failed for want of room: remove what was made, so that the location is
        missing again, as it was."""

    def before_create(self, conn: sa.Connection) -> None:
        """Settings that must be made before the first table exists."""

    def as_owner(self, conn: sa.Connection) -> None:
        """Inside the transaction that creates or migrates tables: make them as the catalog's owner."""

    def on_open(self, conn: sa.Connection) -> None:
        """Settings made every time the catalog is opened."""

    def index_lock(self) -> AbstractContextManager:
        raise NotImplementedError

    def index_lock_held(self) -> bool:
        raise NotImplementedError

    def size_bytes(self, engine: sa.Engine) -> int:
        raise NotImplementedError

    def health(self, engine: sa.Engine, quick: bool = False) -> list[str]:
        return ["ok"]

    def damaged_advice(self) -> str:
        return "Restore it from a backup."

    def explain(self, exc: BaseException, doing: str) -> Exception | None:
        """The user-facing error a database error means, or None when it is a bug."""
        return None


def is_url(location: object) -> bool:
    return isinstance(location, str) and "://" in location


URL_EXAMPLE = "postgresql+psycopg://USER@HOST:PORT/DATABASE"


def parse_db_url(url: str, example: str = URL_EXAMPLE) -> URL:
    """The parsed database URL; InputError naming the expected form when it is not one.

    SQLAlchemy raises ArgumentError for text that is no URL at all and ValueError for a port that is not a
    number ("host:abc", "host:"); both are the user's typing, anything else is a bug."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InputError(f"{url!r} is not a database URL; use {example}.") from exc


def _without_password(parsed: URL) -> URL:
    # (URL.set(password=None) would keep it: None there means "unchanged")
    from sqlalchemy.engine import URL

    return URL.create(
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    )


def without_password(url: str) -> str:
    """A database URL as it may be remembered: without any password (nor an older version's *** for one),
    so a remembered catalog is one entry whatever the URL held, and opening it asks libpq for the password."""
    try:
        parsed = parse_db_url(url)
    except InputError:
        return url  # a malformed URL is kept as typed
    if parsed.password is not None:
        parsed = _without_password(parsed)
    return parsed.render_as_string(hide_password=False)


def split_password(url: str, example: str) -> tuple[str, str | None]:
    """(a PostgreSQL URL without its password, the password it held or None); InputError when it is not one."""
    parsed = parse_db_url(url.strip(), example)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise InputError(
            f"Shared catalogs live on PostgreSQL: the URL starts with postgresql+psycopg://, e.g. {example}."
        )
    password = parsed.password
    if password is not None:
        parsed = _without_password(parsed)
    return parsed.render_as_string(hide_password=False), password


def url_user(location: str) -> str | None:
    """The database user a catalog URL logs in as (None for a file, or a URL that names none)."""
    if not is_url(location):
        return None
    try:
        return parse_db_url(location).username or None
    except InputError:
        return None  # a malformed URL names nobody


def url_title(url: str) -> str:
    """A shared catalog's short name: its database on its server ("luma on catalog-server:5432")."""
    try:
        parsed = parse_db_url(url)
    except InputError:
        return url  # a malformed URL is shown as it is
    server = parsed.host or "local server"
    return f"{parsed.database or '?'} on {server}" + (f":{parsed.port}" if parsed.port else "")


def backend_for(location: str | Path) -> Backend:
    if is_url(location):
        from desktop_app.core.storage.postgres import PostgresBackend

        return PostgresBackend(str(location))
    from desktop_app.core.storage.sqlite import SqliteBackend

    return SqliteBackend(location)
