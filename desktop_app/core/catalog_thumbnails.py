"""Thumbnails kept in the catalog itself, so that a machine without the photos still shows them.

A shared catalog's curators do not all have the photo share mounted: a laptop on the road, a machine whose
share is down. Each photo of a catalog that keeps thumbnails therefore gets one small JPEG in the catalog
(STORED_SIDE px on its long side): the indexer makes it from the picture it decoded for the model
(`stored_thumbnail`, through `images.preprocess`'s `on_decoded`: no second decode), and the next index run
fills in the photos indexed before catalogs kept them (`fill_missing`, in batches of one transaction each).
A machine that cannot read a photo and has no thumbnail of it cached gets the catalog's, scaled to the size
it shows and cached on that machine (`core.thumbnails.from_stored`, `Engine.catalog_thumbnails`).

Which catalogs keep them (`keeps_thumbnails`): every PostgreSQL catalog, since that is the shared one; an
SQLite catalog only once it holds some (a copy of a shared catalog), so that it stays complete. A single
curator's SQLite catalog does not: its thumbnails would triple the file (6.0 KB a photo against 2.5 KB of
vectors; the 725 Magento photos' catalog goes from 2.7 to 8.5 MB, `benchmarks/catalog_thumbnails.py`) to
hold what the thumbnail cache on the same machine already holds for every photo browsed there.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from desktop_app.core.images import PhotoError, load_photo, read_bytes
from desktop_app.core.paths import photo_file
from desktop_app.core.storage import Catalog
from desktop_app.core.storage.thumbnails import StoredThumbnail

# 256 px is the largest size the views ask for (the grid's largest zoom, the inspector's hover photos);
# quality 80 keeps a Magento photo's thumbnail near 6 KB (85: 7 KB, 75: 5.5 KB; see the benchmark).
STORED_SIDE = 256
STORED_QUALITY = 80
FILL_BATCH = 64  # photos per transaction when filling in: a kill loses at most this many thumbnails' work
FILLING = "storing thumbnails"  # the progress note of the fill-in stage


def keeps_thumbnails(catalog: Catalog) -> bool:
    """Whether index runs store thumbnails in this catalog (see the module's docstring)."""
    return catalog.kind == "postgresql" or catalog.holds_thumbnails()


def stored_thumbnail(image: Image.Image) -> StoredThumbnail:
    """The catalog's thumbnail of an RGB picture: fitted into STORED_SIDE (never enlarged), as JPEG. The
    picture itself is left as it is."""
    w, h = image.size
    scale = min(1.0, STORED_SIDE / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = image if size == (w, h) else image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=STORED_QUALITY)
    return StoredThumbnail(size[0], size[1], buf.getvalue())


def thumbnail_of_file(path: Path) -> StoredThumbnail:
    """The catalog's thumbnail of a photo file (PhotoError when it cannot be read or decoded)."""
    side = (STORED_SIDE, STORED_SIDE)  # a JPEG is decoded reduced, but never below the thumbnail's size
    loaded = load_photo(read_bytes(path), min_size=side)
    return stored_thumbnail(loaded.image)


@dataclass
class FillResult:
    """What filling in the missing thumbnails did."""

    stored: int = 0
    unreadable: int = 0  # photos whose file could not be read or decoded now (asked for again next run)
    cancelled: bool = False


def _made(path: Path) -> StoredThumbnail | None:
    try:
        return thumbnail_of_file(path)
    except PhotoError:
        return None


def fill_missing(
    catalog: Catalog,
    root: Path,
    *,
    workers: int = 2,
    progress: Callable[[int, int, str], None] | None = None,
    should_cancel: Callable[[], bool] = lambda: False,
) -> FillResult:
    """Store a thumbnail for every usable photo of the catalog that has none (photos indexed before the
    catalog kept thumbnails), reading the photos under `root`: FILL_BATCH photos a transaction, so a cancel
    or a kill keeps every batch written; `progress(done, total, FILLING)` after each batch."""
    result = FillResult()
    total = catalog.count_without_thumbnails()
    if not total:
        return result
    done, after = 0, 0
    if progress:
        progress(0, total, FILLING)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="thumbnails") as pool:
        while not result.cancelled:
            rows = catalog.photos_without_thumbnails(after, FILL_BATCH)
            if not rows:
                break
            after = rows[-1][0]
            made = list(pool.map(_made, [photo_file(root, path) for _pid, path in rows]))
            thumbs = {pid: thumb for (pid, _path), thumb in zip(rows, made) if thumb is not None}
            result.stored += catalog.store_thumbnails(thumbs)
            result.unreadable += len(rows) - len(thumbs)
            done += len(rows)
            if progress:
                progress(min(done, total), total, FILLING)
            result.cancelled = done < total and should_cancel()
    return result
