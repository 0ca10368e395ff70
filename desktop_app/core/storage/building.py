"""A new catalog file is built under a temporary name beside its destination and renamed at the end.

`catalog copy` and `catalog recover` make a new SQLite file. Built in place, a full disk or a kill half-way
left an empty or partial catalog at the destination, which the next attempt then refused ("already
exists"), and a reader could open a copy that was never finished. Here the file is built as
`.NAME.partial` in the destination's folder (the same disk, so the rename is atomic) and only a finished,
checkpointed, flushed file is renamed to NAME. A lock file beside it lets one command at a time build NAME;
whoever holds it may remove what a killed run left.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from desktop_app.core.errors import CatalogBusy, DiskFull, InputError
from desktop_app.core.files import DISK_FULL, sync_folder, write_error
from desktop_app.core.storage.locks import FileLock

SQLITE_FILES = ("", "-wal", "-shm", "-journal")  # a database and what SQLite keeps beside it


def partial_path(target: Path) -> Path:
    return target.parent / f".{target.name}.partial"


@contextmanager
def building_catalog_file(target: Path, what: str) -> Iterator[Path]:
    """The temporary path to build the new SQLite file `target` at, for the block to fill and close. When
    the block succeeds the file becomes `target`; when it fails, is interrupted or the disk fills, nothing
    is left behind and `target` does not exist. `what` names the work in messages ("copy", "recovery")."""
    target = Path(target).expanduser()
    lock = FileLock(target.parent / f".{target.name}.lock")
    try:
        got = lock.acquire()
    except OSError as exc:
        raise write_error(exc, target) from exc
    if not got:
        raise CatalogBusy(f"Another command is making {target} right now; wait for it to finish.")
    tmp = partial_path(target)
    try:
        _refuse_existing(target)
        _remove(tmp)  # what a killed run left: nobody else builds this file while we hold the lock
        try:
            yield tmp
            _finish(tmp, target)
        except BaseException as exc:
            _remove(tmp)
            if _disk_full(exc):
                raise DiskFull(
                    f"The disk holding {target} is full, so the {what} was not finished; {target.name} was "
                    "not created and what had been written was removed. Free some space and try again."
                ) from exc
            raise
    finally:
        with contextlib.suppress(OSError):
            lock.path.unlink()
        lock.release()


def _refuse_existing(target: Path) -> None:
    if os.path.lexists(target):
        raise _exists(target)


def _exists(target: Path) -> InputError:
    return InputError(f"{target} already exists; name a new file (nothing is ever replaced).")


def _finish(tmp: Path, target: Path) -> None:
    """Fold the write-ahead log into the file (so the file alone is the whole catalog), flush it to disk
    and give it its name, never over a file that appeared there meanwhile."""
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()  # the last connection: SQLite removes the empty log
    for suffix in SQLITE_FILES[1:]:
        side = Path(f"{tmp}{suffix}")
        if side.exists() and side.stat().st_size:
            raise RuntimeError(f"{side.name} still holds data after the last connection closed")
    with open(tmp, "r+b") as fh:
        os.fsync(fh.fileno())
    _refuse_existing(target)
    try:
        os.link(tmp, target)  # fails, never replaces, when target exists
    except FileExistsError as exc:
        raise _exists(target) from exc
    except OSError:  # a file system without hard links: the check just above stands in for it
        os.replace(tmp, target)
    _remove(tmp)
    sync_folder(target.parent)


def _remove(tmp: Path) -> None:
    for suffix in SQLITE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{tmp}{suffix}")


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    return "database or disk is full" in str(getattr(exc, "orig", exc)).lower()  # SQLite's own words
