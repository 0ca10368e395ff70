"""The open catalog of the window: choosing, opening, creating and re-reading it, off the UI thread.

Opening a photo folder opens its catalog when it has one, and otherwise asks how its photos group into
articles (`grouping.GroupingDialog`) and creates it. The window holds one `core.engine.Engine` for the open
catalog, for cheap reads and writes (the grid's overview, an article's photos, labels, settings); search
and the review queue's suggestions go to the engine child instead (`search_controller.EngineClient`).
Every load is numbered: an answer about a catalog the curator has already left is dropped (and its engine
closed) instead of shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.engine import Engine
from desktop_app.core.errors import CatalogError, InputError
from desktop_app.core.models import resolve_model
from desktop_app.core.overview import Snapshot, load_snapshot
from desktop_app.core.paths import default_catalog_path
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings import UserSettings, last_catalog
from desktop_app.core.storage.backend import is_url
from desktop_app.gui.grouping import GroupingDialog
from desktop_app.gui.workers import Failure, Runner

RECENT_SHOWN = 6
# Articles read before the first paint of a large catalog; the rest follow at once (a million photos take
# seconds to summarise, the first page a fraction of one).
FIRST_PAGE = 2000


def open_snapshot(location: Path | str, create: bool = False) -> Snapshot:
    """Open a catalog (a file, or a shared one's database URL) and read what the window shows first: the first
    page of articles of a large catalog (worker thread)."""
    engine = Engine.open(location, create=create)
    try:
        return load_snapshot(engine, first=FIRST_PAGE)
    except BaseException:
        engine.close()
        raise


def create_snapshot(folder: Path, db: Path, rule: GroupingRule, model: str) -> Snapshot:
    """Create the catalog of a photo folder with its grouping rule and model (worker thread).

    The model is resolved first, so a model that is not installed is reported before any file exists.
    """
    installed = resolve_model(model or None)
    engine = Engine.open(db, create=True)
    try:
        engine.update_settings(
            photo_root=str(folder),
            grouping=rule,
            model=installed.manifest.name,
            model_manifest=str(installed.manifest_path),
        )
        return load_snapshot(engine)
    except BaseException:
        engine.close()
        raise


def probe_folder(folder: Path) -> tuple[bool, Path, bool]:
    """(the folder exists, its catalog's path, that catalog exists) (worker thread)."""
    exists = folder.is_dir()
    db = default_catalog_path(folder) if exists else Path()
    return exists, db, exists and db.exists()


def recent_catalogs() -> list[str]:
    """Catalogs used lately, newest first: files that still exist and shared catalogs' URLs (no password)."""
    return [p for p in UserSettings.load().recent if is_url(p) or Path(p).exists()][:RECENT_SHOWN]


def as_location(location: Path | str) -> Path | str:
    """A database URL stays text (a path would fold its //); anything else is a file path."""
    return location if is_url(location) else Path(location).expanduser()


class CatalogController(QObject):
    """Loads snapshots of the open catalog; `loaded` carries the newest, `failed` its failure."""

    loaded = Signal(object, bool)  # Snapshot, whether it is the catalog already on show (a re-read)
    failed = Signal(object, bool)  # Failure, whether a catalog is still on show
    opening = Signal()  # a catalog is being opened
    none_used = Signal()  # asked for the catalog used last, and there is none
    closed = Signal()  # the curator closed the catalog
    releasing = Signal(object)  # an Engine about to be closed: what waits to be written to it goes now
    error = Signal(str, object)  # title, error of something the curator asked for

    def __init__(self, window: QWidget | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.runner = Runner(2, "catalog", self)
        self.snapshot: Snapshot | None = None
        self.model_for_new = ""  # the user's model for new catalogs ("" = the default)
        self.index_after_load = False  # a new catalog whose photos the curator wants indexed at once
        self.grouping_dialog: GroupingDialog | None = None
        self.shared_dialog = None
        self.password_dialog = None
        self._opening: Path | str = ""  # the catalog being opened
        self._asked_password = False
        self._gen = 0
        self.closing = False

    @property
    def engine(self) -> Engine | None:
        return self.snapshot.engine if self.snapshot is not None else None

    # ------------------------------------------------------------ choosing what to open

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open photo folder")
        if folder:
            self.open_folder(Path(folder))

    def choose_shared(self) -> None:
        from desktop_app.gui.shared_catalog import SharedCatalogDialog

        dialog = SharedCatalogDialog(self.window)
        dialog.chosen.connect(self.open)
        self.shared_dialog = dialog
        dialog.open()

    def locate_photos(self) -> None:
        """Tell Lookalike where this catalog's photos are on this machine (a moved drive, a mounted share)."""
        engine = self.engine
        if engine is None:
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Where are the photos of this catalog?")
        if folder:
            self.runner.call(
                engine.map_photo_root,
                Path(folder),
                on_done=lambda _r: self.reload(),
                on_failed=lambda f: self.error.emit("Photo folder not set", f),
            )

    def choose_catalog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open catalog", "", "Lookalike catalogs (*.sqlite *.db);;All files (*)"
        )
        if path:
            self.open(Path(path))

    def open_folder(self, folder: Path) -> None:
        """The catalog of a photo folder: open it when it exists, else ask for the grouping and create it."""
        folder = Path(folder).expanduser()
        self.runner.call(
            probe_folder,
            folder,
            on_done=lambda value: self._folder_probed(folder, *value),
            on_failed=lambda f: self.error.emit("Cannot open the folder", f),
        )

    def _folder_probed(self, folder: Path, exists: bool, db: Path, has_db: bool) -> None:
        if not exists:
            self.error.emit(
                "Photo folder not found",
                InputError(
                    f"The folder {folder} does not exist or cannot be read. Check the path, or reconnect the drive "
                    "it is on, and open it again."
                ),
            )
        elif has_db:
            self.open(db)
        else:
            self._ask_grouping(folder.resolve(), db)

    def _ask_grouping(self, folder: Path, db: Path) -> None:
        dialog = GroupingDialog(folder, self.runner, parent=self.window)
        self.grouping_dialog = dialog
        dialog.accepted.connect(
            lambda: self.create(folder, db, dialog.chosen_rule(), index_now=dialog.index_now.isChecked())
        )
        dialog.open()

    def open_last(self) -> None:
        """Open the catalog used last, if any (`none_used` otherwise)."""
        self.runner.call(
            last_catalog,
            on_done=lambda p: self.open(p) if p else self.none_used.emit(),
            on_failed=lambda _f: self.none_used.emit(),
        )

    # ------------------------------------------------------------ loading

    def open(self, location: Path | str, create: bool = False) -> None:
        """Open a catalog file or a shared catalog's URL (asking for its password if the server wants one)."""
        where = as_location(location)
        self.opening.emit()
        self._opening = where
        self._load(lambda: open_snapshot(where, create))

    def close_catalog(self) -> None:
        """Close the open catalog; `closed` tells the window to show the welcome screen."""
        self._gen += 1  # a load still running is for a catalog the curator has left
        current, self.snapshot = self.snapshot, None
        if current is not None:
            self.releasing.emit(current.engine)
            current.engine.close()
        self.closed.emit()

    def create(self, folder: Path, db: Path, rule: GroupingRule, index_now: bool = True) -> None:
        self.index_after_load = index_now
        self.opening.emit()
        model = self.model_for_new
        self._load(lambda: create_snapshot(folder, db, rule, model))

    def reload(self) -> None:
        """Re-read the open catalog (after indexing, a label or a settings change)."""
        if self.snapshot is None:
            return
        engine = self.snapshot.engine
        self._load(lambda: load_snapshot(engine))

    def busy(self) -> bool:
        return self.runner.busy()

    def call(self, fn: Callable, *args, on_done=None, on_failed=None, **kwargs) -> None:
        """Run a small catalog job (a read or a write) on the catalog's threads."""
        self.runner.call(fn, *args, on_done=on_done, on_failed=on_failed, **kwargs)

    def _load(self, fn: Callable[[], Snapshot]) -> None:
        self._gen += 1
        gen = self._gen
        self.runner.call(
            fn, on_done=lambda snap: self._loaded(gen, snap), on_failed=lambda f: self._failed(gen, f)
        )

    def _loaded(self, gen: int, snap: Snapshot) -> None:
        self._asked_password = False
        current = self.snapshot
        if gen != self._gen or self.closing:
            if current is None or snap.engine is not current.engine:
                snap.engine.close()
            return
        same = current is not None and current.engine is snap.engine
        if current is not None and not same:
            self.releasing.emit(current.engine)
        self.snapshot = snap
        self.loaded.emit(snap, same)
        if current is not None and not same:
            current.engine.close()
        if snap.partial:  # the first page is on show: now every article
            self.reload()

    def _failed(self, gen: int, failure: Failure) -> None:
        if gen != self._gen or self.closing:
            return
        from desktop_app.core.storage.postgres import PasswordNeeded

        where = self._opening
        if isinstance(failure.error, PasswordNeeded) and is_url(where) and not self._asked_password:
            self._ask_password(where)
            return
        self._asked_password = False
        self.index_after_load = False
        self.failed.emit(failure, self.snapshot is not None)

    def _ask_password(self, url: str) -> None:
        from desktop_app.core.storage.passwords import remember_password
        from desktop_app.gui.shared_catalog import ask_password

        def typed(password: str) -> None:
            remember_password(url, password)  # for this catalog's login only, in memory
            self._asked_password = True  # once: a wrong password is then reported, not asked again forever
            self.open(url)

        def cancelled() -> None:
            if self.password_dialog is not None and not self.password_dialog.result():
                self.failed.emit(
                    Failure(CatalogError(f"No password given for {url}; the catalog was not opened."), ""),
                    self.snapshot is not None,
                )

        self.password_dialog = ask_password(self.window, url, typed)
        self.password_dialog.rejected.connect(cancelled)

    def shutdown(self) -> None:
        self.closing = True
        for dialog in (self.grouping_dialog, self.shared_dialog, self.password_dialog):
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.close()
        self.runner.shutdown()
        if self.snapshot is not None:
            self.snapshot.engine.close()


__all__ = [
    "CatalogController",
    "as_location",
    "create_snapshot",
    "open_snapshot",
    "probe_folder",
    "recent_catalogs",
]
