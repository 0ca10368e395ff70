"""A new catalog file is built under a temporary name beside its destination and renamed at the end.

`catalog copy` and `catalog recover` make a new SQLite file. Built in place, a full disk or a kill half-way
left an empty or partial catalog at the destination, which the next attempt then refused ("already
exists"), and a reader could open a copy that was never finished. Here the file is built as
`.NAME.partial` in the destination's folder (the same disk, so the rename is atomic) and only a finished,
checkpointed, flushed file is renamed to NAME. A lock file beside it lets one command at a time build NAME;
whoever holds it may remove what a killed run left.

A run killed for good (SIGKILL, a crash, a power cut) leaves `.NAME.partial` and `.NAME.lock` behind. The
next open of a catalog in that folder, and the next copy or recovery into it, sweep them
(`sweep_stale_builds`): a leftover goes only once its lock is taken, so a run still building keeps its
file; and only files Lookalike makes are touched (an SQLite partial or an empty one, its journal files,
a lock file that says it is ours).
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
PARTIAL = ".partial"
LOCK = ".lock"
LOCK_NOTE = "lookalike: building a catalog file"  # what the lock file says, so a sweep knows it is ours
SQLITE_HEADER = b"SQLite format 3\x00"


def partial_path(target: Path) -> Path:
    return target.parent / f".{target.name}{PARTIAL}"


def build_lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}{LOCK}"


@contextmanager
def building_catalog_file(target: Path, what: str) -> Iterator[Path]:
    """The temporary path to build the new SQLite file `target` at, for the block to fill and close. When
    the block succeeds the file becomes `target`; when it fails, is interrupted or the disk fills, nothing
    is left behind and `target` does not exist. `what` names the work in messages ("copy", "recovery")."""
    target = Path(target).expanduser()
    lock = FileLock(build_lock_path(target))
    try:
        got = lock.acquire()
    except OSError as exc:
        raise write_error(exc, target) from exc
    if not got:
        raise CatalogBusy(f"Another command is making {target} right now; wait for it to finish.")
    lock.write_note(f"{LOCK_NOTE} (process {os.getpid()})\n")
    sweep_stale_builds(target.parent)  # what killed runs to other names left here
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


def sweep_stale_builds(folder: Path) -> list[Path]:
    """Remove what killed copies and recoveries left in `folder`: each `.NAME.partial` (with its journal
    files) and `.NAME.lock` whose lock no live process holds. Returns the files removed; a folder that
    cannot be listed or written is left as it is (it is only tidying)."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return []
    removed: list[Path] = []
    for name in sorted({n for entry in names if (n := _built_name(entry))}):
        target = Path(folder) / name
        if _ours(target, names):
            removed += _sweep(target)
    return removed


def _built_name(entry: str) -> str | None:
    """NAME, for an entry named like a leftover of building NAME (`.NAME.partial[-wal|-shm|-journal]` or
    `.NAME.lock`); else None."""
    if not entry.startswith("."):
        return None
    for suffix in SQLITE_FILES:
        if entry.endswith(PARTIAL + suffix) and len(entry) > len(PARTIAL + suffix) + 1:
            return entry[1 : -len(PARTIAL + suffix)]
    if entry.endswith(LOCK) and len(entry) > len(LOCK) + 1:
        return entry[1 : -len(LOCK)]
    return None


def _ours(target: Path, names: set[str]) -> bool:
    """Whether the leftovers named after `target` look like Lookalike's: a partial that is an SQLite file
    or still empty (or gone, its journal files left), or a lock file alone that says it is ours."""
    partial = partial_path(target)
    if partial.name in names:
        try:
            with open(partial, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError:
            return False
        return head in (b"", SQLITE_HEADER)
    if any(f"{partial.name}{suffix}" in names for suffix in SQLITE_FILES[1:]):
        return True
    return FileLock(build_lock_path(target)).note().startswith(LOCK_NOTE)


def _sweep(target: Path) -> list[Path]:
    """Remove the leftovers of building `target` once its lock is ours; none while a live run holds it."""
    lock = FileLock(build_lock_path(target))
    had_lock = lock.path.exists()  # else the lock file is the sweep's own, not a leftover
    try:
        if not lock.acquire():
            return []  # a run is building it now
    except OSError:
        return []  # a folder we cannot write in: nothing could be removed anyway
    removed = []
    try:
        tmp = partial_path(target)
        for path in [Path(f"{tmp}{suffix}") for suffix in SQLITE_FILES] + [lock.path]:
            with contextlib.suppress(OSError):
                path.unlink()  # the lock file while held: see FileLock.acquire for who opened it meanwhile
                if path != lock.path or had_lock:
                    removed.append(path)
    finally:
        lock.release()
    return removed
