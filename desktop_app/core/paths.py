"""Per-user locations: data (catalogs, models, thumbnails) and settings; where a photo sits in its catalog.

LOOKALIKE_HOME overrides the base directory, which keeps tests and portable installs self-contained.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import platformdirs

APP = "lookalike"


def user_data_dir() -> Path:
    override = os.environ.get("LOOKALIKE_HOME")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def default_catalog_path(photo_dir: Path) -> Path:
    """One catalog per photo folder, named after the folder and a hash of its absolute path."""
    resolved = Path(photo_dir).expanduser().resolve()
    digest = hashlib.sha1(os.fsencode(resolved)).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in resolved.name) or "root"
    return user_data_dir() / "catalogs" / f"{safe}-{digest}.sqlite"


_DEFAULT_NAME = re.compile(r"^(?P<folder>.+)-[0-9a-f]{10}$")


def catalog_title(location: str | Path, photo_root: str | Path | None = None) -> str:
    """How the app names a catalog, everywhere: a catalog made for a photo folder by the folder's name (not
    its file's, which carries a hash), another file by its name without suffix, a shared one as database
    on server."""
    text = str(location)
    if "://" in text:
        from desktop_app.core.storage.backend import url_title

        return url_title(text)
    path = Path(text)
    made_for_folder = _DEFAULT_NAME.match(path.stem) if path.parent == user_data_dir() / "catalogs" else None
    if made_for_folder is None:
        return path.stem
    return Path(photo_root).name if photo_root else made_for_folder["folder"]


def thumbnail_dir() -> Path:
    return user_data_dir() / "thumbnails"


# Photos of a catalog looked for to tell its photo folder from an empty mount point (`Engine.root_sample`):
# a stat each while the folder is offline, and mostly one (the first is there) while it is online.
ROOT_SAMPLE = 8


def folder_reachable(folder: Path | None, sample: Sequence[str] = ()) -> bool:
    """Whether a photo folder is there and readable now: an unplugged drive is not, nor an unmounted share,
    whose mount point is an empty folder (it holds none of `sample`, photos of the catalog by their stored
    paths, and nothing else that is not hidden). A folder that holds other files than the sampled photos is
    there: its photos were moved or renamed, which an index run finds out, and it must be able to run.
    Without a sample (a catalog with no photos yet) the folder alone counts. It touches the disk: front ends
    ask it off their UI thread."""
    if folder is None or not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        return False
    return not sample or any(_present(folder, sample)) or _holds_anything(folder)


def _holds_anything(folder: Path) -> bool:
    """Whether `folder` has an entry that is not hidden (an unmounted mount point is empty, or holds only
    the hidden leftovers of a file manager)."""
    try:
        with os.scandir(folder) as entries:
            return any(not e.name.startswith(".") for e in entries)
    except OSError:
        return False


def photos_found(folder: Path, sample: Sequence[str]) -> int:
    """How many photos of `sample` (stored paths) are in `folder`: the count `catalog root` reports."""
    return sum(_present(folder, sample))


def _present(folder: Path, sample: Sequence[str]) -> Iterator[bool]:
    return (photo_file(folder, rel).exists() for rel in sample)


def relative_to_root(path: str | Path, photo_root: str | Path) -> str | None:
    """`path` as the catalog names it: relative to the photo folder, with forward slashes; None when it lies
    outside the folder (or is the folder itself).

    The path as written is tried first, because the catalog names photos by the folder walk, not by where
    symlinks inside the folder lead; then against the folder resolved (a symlinked photo folder, the photo
    written by its real place); then both resolved. A written path that climbs with ".." is only judged
    resolved: lexically, root/../x would look like it was inside."""
    from desktop_app.core.scan import path_text

    given, root = Path(path), Path(photo_root)
    real_root = root.resolve()
    candidates = [] if ".." in given.parts else [(given, root), (given, real_root)]
    candidates.append((given.resolve(), real_root))
    for full, base in candidates:
        try:
            rel = full.relative_to(base)
        except ValueError:
            continue
        return path_text(rel.as_posix()) if rel.parts else None  # a name that is not UTF-8 as stored
    return None


# How `scan.path_text` writes a name that needs it: a backslash doubled, a byte that is not UTF-8 as backslash,
# x and two lower-case hex digits (80 to ff).
_ESCAPE = re.compile(r"\\\\|\\x([89a-f][0-9a-f])")


def photo_file(photo_root: Path, rel: str) -> Path:
    """The file of the photo the catalog names `rel` (relative to `photo_root`): the one place a stored path
    becomes a path to open.

    The catalog stores a name that is not UTF-8, or that holds text reading as an escape, with its escapes
    (`scan.path_text`); they are undone here, giving back the name's bytes. A catalog written by an earlier
    version stored a name that spells an escape as it is: such a path leads to that file when no file has
    the name its escapes stand for (its next index run stores it in the current form)."""
    root = Path(photo_root)
    if "\\" not in rel:
        return root / rel
    named = root / os.fsdecode(_unescaped(rel))
    literal = root / rel
    if not named.exists() and literal.exists():
        return literal
    return named


def _unescaped(rel: str) -> bytes:
    """The bytes a stored path stands for: each escape replaced by what it stands for, the rest as UTF-8."""
    out, at = [], 0
    for escape in _ESCAPE.finditer(rel):
        out.append(rel[at : escape.start()].encode("utf-8", "surrogateescape"))
        out.append(bytes([int(escape.group(1), 16)]) if escape.group(1) else b"\\")
        at = escape.end()
    out.append(rel[at:].encode("utf-8", "surrogateescape"))
    return b"".join(out)
