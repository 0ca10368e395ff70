"""Indexing a photo folder into a catalog, and finding the catalog a command means."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import InputError
from desktop_app.core.indexer import (
    IndexOptions,
    IndexSummary,
    Progress,
    check_photo_folder,
    index_folder,
    scan_for_index,
)
from desktop_app.core.models import InstalledModel, resolve_model
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings import UserSettings, catalog_settings
from desktop_app.core.storage import Catalog, check_catalog_target, is_url

log = logging.getLogger(__name__)


def index_photos(
    db: Path | str,
    photo_dir: Path | str,
    *,
    rule: GroupingRule | None = None,
    model: str | InstalledModel | None = None,
    options: IndexOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    new_root: bool = False,
) -> IndexSummary:
    """Index a photo folder into a catalog, creating it only once the folder and the model are known good.

    A missing or empty folder, a file instead of a folder, or an unknown model or one that cannot load
    raises before any catalog file exists, so a failed first run leaves nothing behind and changes no
    catalog. So do a catalog path in a folder that does not exist and an empty file that is not a catalog
    (left as it is). An existing catalog keeps its settings when the model cannot load. A folder other
    than the one the catalog's photos are in, holding few of them, is refused unless `new_root` says the
    catalog should follow it (an index run removes the photos it does not find). A machine that maps the
    catalog's photos to its own folder leaves the folder the catalog keeps as it is (unless `new_root`).
    """
    root = check_photo_folder(photo_dir)
    new = check_catalog_target(db).kind in ("missing", "empty")
    installed = model if isinstance(model, InstalledModel) else None
    if installed is None and (model is not None or new):
        installed = resolve_model(model)
    scan = scan_for_index(root, should_cancel)
    encoder = None
    if new and not scan.cancelled:
        # A new catalog embeds every photo: load the model now, so one that cannot load creates no catalog.
        opts = options or IndexOptions()
        encoder = Encoder(installed, device=opts.device, threads=opts.threads)
    with Catalog(db, create=True) as catalog:
        if not new and not new_root:
            _check_same_photos(catalog, root, scan)
        mapped_here = not new and not new_root and _mapped_elsewhere(catalog)
        summary = index_folder(
            catalog,
            root,
            rule=rule,
            model=installed,
            options=options,
            progress=progress,
            should_cancel=should_cancel,
            encoder=encoder,
            scan=scan,
            keep_stored_root=mapped_here,
        )
        location = catalog.location
        if not summary.cancelled:
            _update_vector_store(catalog, progress)
    user = UserSettings.load()
    user.remember(location)
    user.set_photo_root(location, root)  # this machine indexed from here: its photos are here
    user.save()
    return summary


def _mapped_elsewhere(catalog: Catalog) -> bool:
    """Whether this machine maps the catalog's photos to a folder of its own (`catalog root`): its index runs
    then leave the folder the catalog keeps for other machines as it is."""
    mapped = UserSettings.load().photo_root(catalog.location)
    stored = catalog_settings(catalog).photo_root
    return bool(mapped and stored and Path(mapped) != Path(stored))


def _check_same_photos(catalog: Catalog, root: Path, scan) -> None:
    """Refuse a folder that is not this catalog's: a typo, a subfolder, or another folder given with --db
    would otherwise remove most of the catalog's photos and vectors (the labels stay, on no photos)."""
    known = UserSettings.load().photo_root(catalog.location) or catalog_settings(catalog).photo_root
    if not known or Path(known) == root:
        return
    stored = catalog.photo_paths()
    kept = len(stored & {f.text for f in scan.files})
    if not stored or kept * 2 >= len(stored):  # the same photos: the folder was moved, copied or remounted
        return
    raise InputError(
        f"This catalog holds the photos of {known}, and {root} has only {kept} of its {len(stored)} photos: "
        f"indexing it would remove {len(stored) - kept} of them. Index {known}, or add --new-root if the "
        "catalog should hold this folder's photos from now on."
    )


def resolve_db(db: Path | str | None, photo_dir: Path | None = None) -> Path | str:
    """The catalog to use: the one given (a file or a database URL), the photo folder's own, or the one
    used last."""
    from desktop_app.core.paths import default_catalog_path
    from desktop_app.core.settings import last_catalog

    if db is not None:
        return str(db) if is_url(db) else Path(os.fspath(db)).expanduser()
    if photo_dir is not None:
        return default_catalog_path(photo_dir)
    last = last_catalog()
    if last is None:
        raise InputError("No catalog yet. Index a folder first: lookalike index PHOTOS_DIR")
    return last if is_url(last) else Path(last)


def _update_vector_store(catalog: Catalog, progress: Callable[[Progress], None] | None) -> None:
    """Bring the local vector stores (and their candidate indexes) up to date now, while indexing, so that
    the next search opens them at once instead of reading the catalog."""
    from desktop_app.core.engine import Engine

    def report(done: int, total: int, note: str) -> None:
        if progress:
            progress(Progress(done, total, 0.0, None, f"updating the search index: {note}"))

    Engine(catalog).sync_vectors(progress=report)
