"""One indexer at a time per catalog: an OS file lock beside the catalog, released when its holder dies.

A lock row in the database would outlive a killed indexer; an advisory lock on a file (flock on POSIX,
msvcrt on Windows) is dropped by the operating system with the process, so a SIGKILL never leaves the
catalog locked.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import IO

from desktop_app.core.errors import CatalogBusy, DiskFull

DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def lock_path(catalog_path: Path) -> Path:
    return Path(f"{catalog_path}.index-lock")


def _try_lock(fh: IO, wait: bool = False) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _unlock(fh: IO) -> None:
    if sys.platform == "win32":
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class _HeldFile:
    """A lock file this process may hold open and locked; `release` unlocks and closes it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh: IO | None = None

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            _unlock(self._fh)
        finally:
            self._fh.close()
            self._fh = None


class FileLock(_HeldFile):
    """An OS lock on a file, dropped by the operating system when its holder dies."""

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock (waiting for it, or not); False when another process holds it.

        A holder may remove the lock file before it lets go (see `building`): whoever opened that file
        meanwhile then locks a file no one else will ever open. So the lock counts only when the file
        locked is still the one at the path; if not, the one there now is locked instead."""
        while True:
            fh = open(self.path, "a+b")
            if not _try_lock(fh, wait):
                fh.close()
                return False
            if _is_at(fh, self.path):
                self._fh = fh
                return True
            _unlock(fh)
            fh.close()

    def write_note(self, text: str) -> None:
        """Say in the held lock file who holds it (for whoever finds the file later); best effort: on a
        full disk the note is left out, and the work the lock is for reports the full disk itself."""
        if self._fh is None:
            return
        try:  # past the file object's buffer: a write that fails leaves nothing for close() to fail on
            os.ftruncate(self._fh.fileno(), 0)
            os.write(self._fh.fileno(), text.encode())
        except OSError:
            pass

    def note(self) -> str:
        """What the lock file says (`write_note`), "" when nothing or it cannot be read."""
        try:
            return self.path.read_bytes()[:200].decode(errors="replace")
        except OSError:
            return ""


def _is_at(fh: IO, path: Path) -> bool:
    """Whether the open file `fh` is the file at `path` now (not one removed since it was opened)."""
    try:
        here, there = os.fstat(fh.fileno()), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class IndexLock(_HeldFile):
    """Held for the duration of an index run: `with IndexLock(catalog_path): ...`."""

    def __init__(self, catalog_path: Path) -> None:
        super().__init__(lock_path(Path(catalog_path)))
        self.catalog_path = Path(catalog_path)

    def acquire(self) -> None:
        try:
            # unbuffered: a write that fails leaves nothing behind for close() to fail on again
            fh = open(self.path, "a+b", buffering=0)
        except OSError:
            # A read-only folder: the catalog itself cannot be written either, which its own check reports.
            return
        if not _try_lock(fh):
            fh.close()
            raise CatalogBusy(
                f"Another index run is updating {self.catalog_path.name} right now. Wait for it "
                "to finish (or cancel it), then run the index again."
            )
        self._fh = fh
        try:
            fh.truncate(0)
            fh.write(str(os.getpid()).encode())
        except OSError as exc:
            self.release()
            if exc.errno not in DISK_FULL:
                raise
            # The lock's note of who holds it is the first byte an index run writes: the catalog beside it
            # has no room either, so the run stops here, before any photo is read.
            raise DiskFull(
                f"The disk holding the catalog {self.catalog_path} is full, so the index run did not start; "
                "nothing was changed. Free some space and try again."
            ) from exc

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def index_lock_held(catalog_path: Path) -> bool:
    """Whether some process is indexing this catalog now."""
    path = lock_path(Path(catalog_path))
    if not path.exists():
        return False
    try:
        fh = open(path, "a+b")
    except OSError:
        return False
    try:
        if _try_lock(fh):
            _unlock(fh)
            return False
        return True
    finally:
        fh.close()
