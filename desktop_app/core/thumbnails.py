"""Small preview images of catalogue photos, made on demand and cached on disk.

Front ends ask for `thumbnail(path, size)` from a worker thread and get back the path of a JPEG no larger
than size x size. The cache key covers the photo's absolute path, size on disk and modification time, so an
edited photo gets a fresh thumbnail while a moved catalog keeps reusing the old ones. Each photo's newest
thumbnail is also linked under a key of its path alone, so when the photo folder is offline (a drive
unmounted, a share down) the thumbnails made before still show. A photo this machine cannot read can get
the one its catalog keeps (`core.catalog_thumbnails`): `from_stored` caches it under a key of the photo's
content hash as the catalog knows it, so it is read from the catalog once per machine, size and content, and
a photo changed on the server since shows as it is now, not as this machine last saw it. Plain Python and
Pillow only: the GUI loads the file into a QImage itself.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image

from desktop_app.core.files import replacing
from desktop_app.core.images import PhotoError, fit_within, load_photo, read_bytes
from desktop_app.core.paths import thumbnail_dir

SIZES = (96, 128, 160, 192, 256)
DEFAULT_SIZE = 160
# Thumbnails are looked at, not analysed: a modest quality keeps the cache small and fast to read.
JPEG_QUALITY = 85
# Why `thumbnail` fails when the photo's file cannot be read here (its folder offline, not mounted on this
# machine, the photo gone), as opposed to a file that cannot be decoded: only then may the catalog's own
# thumbnail stand in.
UNREADABLE = frozenset({"vanished", "unreadable"})


def cache_key(path: Path, size: int, stat: os.stat_result | None = None) -> str:
    """A stable name for one photo at one size; changes when the file is replaced or edited."""
    st = stat or os.stat(path)
    raw = os.fsencode(os.path.abspath(path)) + f"|{st.st_size}|{st.st_mtime_ns}|{size}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def cached_path(key: str, size: int, root: Path | None = None) -> Path:
    base = root or thumbnail_dir()
    # Two-level fan-out keeps any one directory well below the size where file managers and NTFS slow down.
    return base / str(size) / key[:2] / f"{key}.jpg"


def last_known_path(path: Path, size: int, root: Path | None = None) -> Path:
    """Where the newest thumbnail of a photo is linked, found by its path alone (no stat of the photo)."""
    raw = os.fsencode(os.path.abspath(path)) + f"|{size}|last".encode()
    key = hashlib.blake2b(raw, digest_size=16).hexdigest()
    return cached_path(key, size, root)


def stored_copy_path(path: Path, version: str, size: int, root: Path | None = None) -> Path:
    """Where the catalog's thumbnail of the photo at `path`, with content hash `version`, is cached."""
    raw = os.fsencode(os.path.abspath(path)) + f"|{version}|{size}|catalog".encode()
    return cached_path(hashlib.blake2b(raw, digest_size=16).hexdigest(), size, root)


def last_known(path: Path, size: int, root: Path | None = None) -> Path | None:
    """The newest thumbnail of the photo made or cached on this machine, if any (no stat of the photo)."""
    alias = last_known_path(Path(path), size, root)
    return alias if alias.exists() else None


def _remember(target: Path, path: Path, size: int, root: Path | None) -> None:
    """Link the thumbnail as the photo's last known one (a copy where links are not possible)."""
    alias = last_known_path(path, size, root)
    tmp = alias.with_name(f".tmp-{os.getpid()}-{alias.name}")
    try:
        alias.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(target, tmp)
        except OSError:
            import shutil

            shutil.copyfile(target, tmp)
        os.replace(tmp, alias)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # a cache that cannot be written only means no offline thumbnail for this photo


def lookup(path: Path, size: int, root: Path | None = None) -> Path | None:
    """The cached thumbnail if it is already on disk, without decoding anything."""
    try:
        target = cached_path(cache_key(Path(path), size), size, root)
    except OSError:
        return None
    return target if target.exists() else None


def thumbnail(
    path: Path, size: int = DEFAULT_SIZE, root: Path | None = None, offline_copy: bool = True
) -> Path:
    """The path of a cached JPEG thumbnail of `path`, making it first when needed.

    Raises PhotoError when the photo cannot be read or decoded (the caller shows a placeholder). A photo
    that cannot be read gets the thumbnail made of it before, unless `offline_copy` is False (a caller that
    asks the photo's catalog first, which knows whether the photo changed since).
    When the cache folder cannot be written (read-only home, disk full) the thumbnail is still made, in a
    temporary file, so browsing keeps working.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        offline = last_known(path, size, root) if offline_copy else None
        if offline is not None:
            return offline  # the folder is offline (or the photo gone): the thumbnail made before
        if isinstance(exc, FileNotFoundError):
            raise PhotoError("vanished", "the photo is no longer on disk") from exc
        raise PhotoError("unreadable", f"cannot be read: {exc.strerror or exc}") from exc
    target = cached_path(cache_key(path, size, st), size, root)
    if target.exists():
        if not last_known_path(path, size, root).exists():
            _remember(target, path, size, root)  # made by a version that kept no offline link
        return target
    made = _kept(render(read_bytes(path), size), target)
    if made == target:
        _remember(target, path, size, root)
    return made


def from_stored(path: Path, size: int, data: bytes, version: str, root: Path | None = None) -> Path:
    """Cache a thumbnail the catalog keeps (JPEG `data`) of the photo at `path` with content hash `version`,
    fitted into size x size (never enlarged), and return its file (`stored_copy_path`); it is also the last
    known one of the photo from now on. Raises PhotoError when `data` is not a picture."""
    target = stored_copy_path(Path(path), version, size, root)
    made = _kept(render(data, size), target)
    if made == target:
        _remember(target, Path(path), size, root)
    return made


def render(data: bytes, size: int) -> Image.Image:
    """Decode photo bytes into an RGB image that fits in size x size, keeping the aspect ratio."""
    # Asking the JPEG decoder for at least the target size lets it skip most of the pixels (draft mode).
    return load_photo(data, min_size=(size, size), shrink=fit_within(size, Image.Resampling.BILINEAR)).image


def _kept(image: Image.Image, target: Path) -> Path:
    """Save a thumbnail at `target`; when the cache folder cannot be written (read-only home, disk full), in
    a temporary file instead, so browsing keeps working. Returns where it went."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _save_atomically(image, target)
        return target
    except OSError:
        fd, tmp = tempfile.mkstemp(prefix="lookalike-thumb-", suffix=".jpg")
        os.close(fd)
        image.save(tmp, "JPEG", quality=JPEG_QUALITY)
        return Path(tmp)


def _save_atomically(image: Image.Image, target: Path) -> None:
    # Two workers may make the same thumbnail at once; writing to a temporary name and renaming means a
    # reader never sees half a file.
    with replacing(target, ".tmp-", ".jpg") as tmp:
        image.save(tmp, "JPEG", quality=JPEG_QUALITY)


def cache_size_bytes(root: Path | None = None) -> int:
    """Disk space the thumbnail cache uses (for the settings dialog)."""
    base = root or thumbnail_dir()
    total = 0
    for folder, _dirs, files in os.walk(base):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


__all__ = [
    "DEFAULT_SIZE",
    "SIZES",
    "PhotoError",
    "cache_key",
    "cache_size_bytes",
    "UNREADABLE",
    "cached_path",
    "from_stored",
    "last_known",
    "last_known_path",
    "lookup",
    "stored_copy_path",
    "render",
    "thumbnail",
]
