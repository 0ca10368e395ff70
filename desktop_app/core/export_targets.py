"""What an export must never replace: a file of another kind than its own, and the files of an open catalog.

A curator who types the catalog, a photo or a workbook where the CSV to write goes loses it: every export is
replaced atomically and completely. `check_replaceable` (called by `files.check_output_path`, which every
write for the user goes through) refuses, in one line, a target that is

- a file of another kind than the export's (a SQLite database, a JPEG, a workbook given as the CSV to
  write; a CSV given as the PNG), told by its first bytes; an earlier export of the same kind is replaced as
  before;
- a file an open catalog is made of (the file, SQLite's -wal/-shm/-journal, the index lock, the vector
  stores), or a photo under its photo folder: each open `Engine` registers them (`protect_catalog`), so the
  check reaches every export whichever front end or room writes it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import InputError

TEXT = "a text file"  # what a CSV or JSON export (or a settings file) may replace
PNG = "a PNG image"  # what a picture export may replace

# File signatures of what a mistyped export target most likely is (the first bytes of the file).
SIGNATURES = (
    (b"SQLite format 3\x00", "a SQLite database (a catalog?)"),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive (a spreadsheet workbook?)"),
    (b"%PDF-", "a PDF document"),
)


def file_kind(path: Path) -> str | None:
    """What an existing file holds, by its first bytes (see `data_kind`); None when it does not exist or
    cannot be read (the write then says why)."""
    try:
        with open(path, "rb") as fh:
            return data_kind(fh.read(4096))
    except OSError:
        return None


def data_kind(head: bytes) -> str:
    """What bytes are, by the first of them: "empty", one of SIGNATURES' names, "binary data" (a NUL byte
    early on), or TEXT."""
    if not head:
        return "empty"
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        return "an HEIF/AVIF image or a video"
    return "binary data" if b"\x00" in head[:4096] else TEXT


@dataclass(frozen=True)
class _Protected:
    catalog: str  # as messages name it
    files: tuple[Path, ...]  # absolute; a folder stands for everything in it
    photo_root: weakref.WeakMethod  # () -> Path | None, asked only for a target that is an existing image


# Keyed by the owner's id (an Engine is a dataclass, so not hashable); an owner collected without being
# closed drops out by its finalizer, before its id can be reused.
_protected: dict[int, _Protected] = {}
_protected_lock = threading.Lock()


def protect_catalog(
    owner: object, catalog: str, files: Sequence[Path], photo_root: Callable[[], Path | None]
) -> None:
    """While `owner` (an open Engine) lives or until `unprotect_catalog(owner)`, no export replaces one of
    `files` (the catalog's own files and folders) or a photo under `photo_root()` (a bound method, asked when
    needed: the root can be remapped while the catalog is open)."""
    entry = _Protected(
        catalog, tuple(Path(os.path.abspath(f)) for f in files), weakref.WeakMethod(photo_root)
    )
    with _protected_lock:
        _protected[id(owner)] = entry
    weakref.finalize(owner, _forget, id(owner), entry)


def unprotect_catalog(owner: object) -> None:
    _forget(id(owner), None)


def _forget(key: int, entry: _Protected | None) -> None:
    with _protected_lock:
        if entry is None or _protected.get(key) is entry:
            _protected.pop(key, None)


def _check_protected(target: Path, what: str) -> None:
    with _protected_lock:
        guards = list(_protected.values())
    real = Path(os.path.realpath(target))
    for guard in guards:
        if any(_same_or_inside(real, part) for part in guard.files):
            raise InputError(
                f"{target} is part of the open catalog {guard.catalog}; writing the {what} there would "
                "destroy it. Name another file."
            )
        if _in_photo_folder(target, guard):
            raise InputError(
                f"{target} is a picture in the catalog's photo folder, where every picture is a photo (the "
                f"next index run would take the {what} for one); Lookalike never writes there. Write it "
                "outside the photo folder."
            )


def _same_or_inside(real: Path, part: Path) -> bool:
    """`real` (a resolved path) is `part`, or inside it, by any name: a symlink, a hard link, another case."""
    resolved = Path(os.path.realpath(part))
    if real == resolved or resolved in real.parents:
        return True
    with contextlib.suppress(OSError):
        return real.is_file() and os.path.samefile(real, part)
    return False


def _in_photo_folder(target: Path, guard: _Protected) -> bool:
    """A picture's name (new or existing) inside the photo folder, by the path as written or where it leads:
    a photo linked into the folder resolves elsewhere, and writing through the link replaced it; and any
    picture written there, even an earlier export, is a photo to the next index run."""
    from desktop_app.core.scan import HEIF_SUFFIXES, IMAGE_SUFFIXES

    if target.suffix.lower() not in IMAGE_SUFFIXES | HEIF_SUFFIXES:
        return False
    photo_root = guard.photo_root()
    root = photo_root() if photo_root is not None else None
    if root is None:
        return False
    roots = {Path(os.path.abspath(root)), Path(os.path.realpath(root))}
    names = {Path(os.path.abspath(target)), Path(os.path.realpath(target))}
    return any(r in name.parents for r in roots for name in names)


def check_replaceable(target: Path, what: str, kind: str | None) -> None:
    """Refuse, as one InputError, writing the `what` of `kind` (TEXT, PNG; None: any) to `target` when the
    file there is of another kind, or belongs to an open catalog (see the module's docstring)."""
    _check_protected(target, what)
    found = file_kind(target) if kind is not None else None
    if found is not None and found not in ("empty", kind):
        raise InputError(
            f"{target} is {found}, not {kind}; the {what} does not replace it. Name another file "
            "(or move that one away first)."
        )
