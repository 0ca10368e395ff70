"""The embedded backend: one SQLite file per catalog (the default; nothing to set up).

WAL journal, a busy timeout and 16 KB pages. Write transactions begin with `BEGIN IMMEDIATE`, which takes
the write lock before the first read, so a read-then-write decision can never race another process. A file
is identified read-only before anything is written to it; one indexer at a time holds an OS file lock.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from desktop_app.core.errors import CatalogBusy, CatalogError, DiskFull
from desktop_app.core.files import check_output_path
from desktop_app.core.paths import user_data_dir
from desktop_app.core.storage.backend import Backend, Identity
from desktop_app.core.storage.locks import IndexLock, index_lock_held
from desktop_app.core.storage.schema import APPLICATION_ID, PAGE_SIZE

BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"
LOOKALIKE_TABLES = {"meta", "settings", "articles", "photos", "vectors"}  # in every schema version


# WORKAROUND: POSIX advisory locks belong to the process and are all released when *any* descriptor of the
# file is closed. Reading the header with open() while this process has SQLite connections on the file drops
# their locks; another process that then closes its last connection believes it is the last user, checkpoints
# and deletes the WAL and its index under them, and their reads go stale or fail ("malformed"). Files this
# process has open are therefore identified through SQLite only (which shares one descriptor per file).
_open_here: dict[str, int] = {}


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


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


class SqliteBackend(Backend):
    kind = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)

    # ------------------------------------------------------------ read-only places

    def _folder_writable(self) -> bool:
        return os.access(self.path.parent, os.W_OK | os.X_OK)

    def _file_writable(self) -> bool:
        return not self.path.exists() or os.access(self.path, os.W_OK)

    def _frozen(self) -> bool:
        """True when the catalog can only be read here and SQLite's shared-memory file for the write-ahead log
        is not there to use. Read as usual, SQLite would make that file and the log beside the catalog: in a
        read-only folder it cannot (a copy on a write-protected share, a mounted archive, a read-only medium),
        and beside a read-only file it could but would never remove them, and would give them the file's
        read-only mode, so that writing failed even after the file was made writable again. The file is
        read as immutable instead: as it is, with nothing of SQLite's own beside it. (A change that someone
        allowed to write it makes meanwhile is not seen; this user cannot make one.)"""
        writable = self._folder_writable() and self._file_writable()
        return not writable and not os.path.exists(f"{self.path}-shm")

    def _unsaved_log(self) -> bool:
        """A write-ahead log with changes not yet in the file: an immutable read would not see them."""
        try:
            return os.path.getsize(f"{self.path}-wal") > 0
        except OSError:
            return False

    def _read_uri(self, immutable: bool = False) -> str:
        """The file as SQLite reads it when it may not write it (or, immutable, must not make files beside it)."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        return uri + "&immutable=1" if immutable or self._frozen() else uri

    def _read_only_side_file(self) -> str | None:
        """The name of SQLite's write-ahead log or shared-memory file beside the catalog when it is there and
        cannot be written (so that no write can succeed), else None."""
        for suffix in ("-shm", "-wal"):
            side = f"{self.path}{suffix}"
            if os.path.exists(side) and not os.access(side, os.W_OK):
                return Path(side).name
        return None

    def _make_side_files_writable(self) -> None:
        """SQLite gives its -wal and -shm the catalog's mode when it makes them. A read of a read-only catalog by
        an earlier version (or another program) left them read-only; once the catalog is writable again, so
        are they, when they are this user's (changing a mode disturbs no one who has them open)."""
        try:
            mode = os.stat(self.path).st_mode & 0o777
        except OSError:
            return
        for suffix in ("-shm", "-wal"):
            side = f"{self.path}{suffix}"
            try:
                if (
                    os.path.exists(side)
                    and not os.access(side, os.W_OK)
                    and os.stat(side).st_uid == os.geteuid()
                ):
                    os.chmod(side, mode)
            except OSError:
                pass  # read_only_reason names the file

    @property
    def read_only_reason(self) -> str | None:  # type: ignore[override]
        if not self._folder_writable() and self._frozen():
            return f"its folder {self.path.parent} is read-only"
        if not self._file_writable():
            return "the file is read-only"
        side = self._read_only_side_file()
        if side is not None:
            return f"SQLite's {side} beside it is read-only (another program or user left it so)"
        return None

    # ------------------------------------------------------------ identity

    def identify(self) -> Identity:
        path = self.path
        not_a_file = self._not_a_regular_file()
        if not_a_file is not None:
            return not_a_file
        app_id, wal = APPLICATION_ID, False  # a file this process has open as a catalog is one
        if not _open_here.get(_key(path)):
            header = self._header()
            if isinstance(header, Identity):
                return header
            app_id, wal = header
        if self._frozen() and self._unsaved_log():
            return Identity(
                "unreadable",
                detail=f"{self.read_only_reason} and its latest changes are still in {path.name}-wal, which "
                "SQLite reads only where it may write; make it writable, or copy both files somewhere writable",
                explained=True,
            )
        meta = self._tables_and_meta(immutable=wal and not self._side_files())
        if isinstance(meta, Identity):
            return meta
        tables, rows = meta
        created_by = rows.get("created_by") or ""
        ours = app_id == APPLICATION_ID or created_by.startswith("lookalike") or LOOKALIKE_TABLES <= tables
        if not ours:
            return Identity("foreign", detail="its meta table was not written by Lookalike")
        return Identity.of_version(rows.get("schema_version"), created_by)

    def _not_a_regular_file(self) -> Identity | None:
        """What the path is when it is no file to read (missing, a folder, a special file), else None."""
        if not self.path.exists():
            return Identity("missing")
        if self.path.is_dir():
            return Identity("foreign", detail="it is a folder")
        if not self.path.is_file():  # a FIFO would block the read below; a device is no catalog either
            return Identity("foreign", detail="it is not a regular file")
        return None

    def untouched_read_uri(self) -> str:
        """The URI that reads the file with nothing written to it or beside it (see `_tables_and_meta`): as it is
        when it is in WAL mode with nothing beside it, else read-only, through the log and shared memory that
        are there."""
        if _open_here.get(_key(self.path)):  # (its header is not read while this process has it open)
            return self._read_uri()
        header = self._header()
        wal = not isinstance(header, Identity) and header[1]
        return self._read_uri(immutable=wal and not self._side_files())

    def _side_files(self) -> bool:
        """Whether SQLite's write-ahead log, shared memory or rollback journal is beside the file: with none,
        no program has it open to write (a program writing a WAL database keeps its -shm), and the file
        alone holds all of it."""
        return any(os.path.exists(f"{self.path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))

    def _header(self) -> tuple[int, bool] | Identity:
        """The application id in the SQLite header (0 when the header is short) and whether the file is in WAL
        mode, or what the file is when it is no SQLite database (empty, unreadable, foreign)."""
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            return Identity("unreadable", detail=exc.strerror or str(exc))
        if not head:
            return Identity("empty")
        if not head.startswith(SQLITE_HEADER):
            return Identity("foreign", detail="it is not an SQLite database")
        app_id = int.from_bytes(head[68:72], "big") if len(head) >= 72 else 0
        return app_id, head[18:20] == b"\x02\x02"  # the file format versions of WAL mode

    def _tables_and_meta(self, immutable: bool) -> tuple[set[str], dict[str, str]] | Identity:
        """The database's tables and its meta rows (schema_version, created_by), read only; or what it is
        when they cannot be read (foreign without a meta table, busy, unreadable).

        immutable: a WAL file with nothing beside it is read as it is. A read-only connection would make a
        -wal and -shm beside it that it cannot remove when it closes, and a file that is refused (not ours,
        a newer version's) must be left as it was found."""
        try:
            conn = sqlite3.connect(self._read_uri(immutable), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            return Identity("unreadable", detail=str(exc))
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables:
                return Identity("foreign", detail="it has no Lookalike tables")
            rows = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN ('schema_version', 'created_by')")
            )
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                return Identity(
                    "catalog", detail="busy"
                )  # a writer holds it: only a catalog would be opened so
            return Identity("unreadable", detail=text)
        finally:
            conn.close()
        return tables, rows

    def check_creatable(self) -> None:
        """A new catalog file needs its folder to exist, as any file Lookalike writes does; only the app's own
        data folder (where catalogs go by default) is created here."""
        parent = self.path.parent
        if not parent.exists() and _inside(parent, user_data_dir()):
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(
                    f"Cannot create the catalog folder {parent}: {exc.strerror}. Choose another place with --db."
                ) from exc
        check_output_path(self.path, "catalog", kind=None)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CatalogError(
                f"Cannot create a catalog in {parent}: the folder is read-only. Choose another place with --db."
            )

    # ------------------------------------------------------------ connections

    def make_engine(self) -> sa.Engine:
        if self._folder_writable() and self._file_writable():
            self._make_side_files_writable()
        if self._frozen() or not self._file_writable():  # opened read-only (immutable when frozen)
            uri = self._read_uri()
            engine = sa.create_engine(
                f"sqlite:///{self.path}",
                creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            )
        else:
            engine = sa.create_engine(f"sqlite:///{self.path}")
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        key = _key(self.path)
        _open_here[key] = _open_here.get(key, 0) + 1
        self._registered = key
        return engine

    def release(self) -> None:
        key = getattr(self, "_registered", None)
        if key is not None:
            self._registered = None
            _open_here[key] -= 1
            if not _open_here[key]:
                del _open_here[key]

    def discard_new(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass

    def before_create(self, conn: sa.Connection) -> None:
        raw = conn.connection.driver_connection  # autocommit: these pragmas must run outside a transaction
        raw.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only before the first table exists, outside WAL
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def on_open(self, conn: sa.Connection) -> None:
        raw = conn.connection.driver_connection
        if self.read_only_reason is None and raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            raw.execute("PRAGMA journal_mode = WAL")

    def index_lock(self) -> AbstractContextManager:
        return IndexLock(self.path)

    def index_lock_held(self) -> bool:
        return index_lock_held(self.path)

    # ------------------------------------------------------------ health

    def size_bytes(self, engine: sa.Engine) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                pass
        return total

    def health(self, engine: sa.Engine, quick: bool = False) -> list[str]:
        pragma = "quick_check" if quick else "integrity_check"
        try:
            with engine.connect() as conn:
                rows = [str(r[0]) for r in conn.connection.driver_connection.execute(f"PRAGMA {pragma}")]
        except sa.exc.DBAPIError as exc:
            return [str(getattr(exc, "orig", exc))]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        # One row may hold many problems, a line each, under a "*** in database main ***" heading.
        return [
            line.strip()
            for row in rows
            for line in row.splitlines()
            if line.strip() and not line.startswith("*** in database")
        ] or ["ok"]

    def damaged_advice(self) -> str:
        from desktop_app.core.storage.recover import recover_command

        return f"Recover what can be read into a new file: {recover_command(self.path)}"

    def explain(self, exc: BaseException, doing: str) -> Exception | None:
        text = str(getattr(exc, "orig", exc))
        low = text.lower()
        where = self.location
        if (
            "database or disk is full" in low
            or ("disk" in low and "full" in low)
            or ("disk i/o error" in low and self._disk_nearly_full())
        ):
            return _disk_full(where, doing)
        if "readonly" in low or "read-only" in low:
            return CatalogError(
                f"The catalog {where} is read-only, so Lookalike cannot {doing} it. Make the file "
                "writable or copy it somewhere writable."
            )
        if "locked" in low or "busy" in low:
            return CatalogBusy(
                f"The catalog {where} is busy: another program is writing to it. Try again when it "
                "has finished."
            )
        if "malformed" in low or "not a database" in low or "corrupt" in low:
            return CatalogError(f"The catalog {where} is damaged ({text}). {self.damaged_advice()}")
        if "disk i/o error" in low or "unable to open" in low:
            return CatalogError(
                f"The catalog {where} cannot be read or written ({text}): check the disk and "
                "the file's folder."
            )
        return None

    def _disk_nearly_full(self) -> bool:
        try:
            return shutil.disk_usage(self.path.parent).free < 1 << 20
        except OSError:
            return False


# What could not be done when the disk is full, by what was being done (SQLite needs room beside the file,
# for its shared-memory index, even to read).
_CANNOT = {"open": "opened", "read": "read", "create": "made there"}


def _disk_full(where: str, doing: str) -> DiskFull:
    if doing in _CANNOT:
        return DiskFull(
            f"The disk holding the catalog {where} is full, so the catalog cannot be {_CANNOT[doing]}; nothing "
            "was changed. Free some space and try again."
        )
    return DiskFull(
        f"The disk holding the catalog {where} is full; nothing was lost, but the last change was not saved. "
        "Free some space and try again."
    )
