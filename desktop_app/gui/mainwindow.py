"""The main window: a thin shell that lays out the panels and connects them to the controllers.

- `grid_panel.GridPanel` shows the articles (filter, sort, selection); `detail.DetailPage` one article.
- `catalog_controller.CatalogController` opens, creates and re-reads the catalog; the window holds its
  `Engine` for cheap reads and writes.
- `search_controller.SearchController` presents `similar_panel.SimilarPanel`: it asks the engine child the
  newest question and stores edits of the search settings in the catalog.
- `index_controller.IndexController` runs indexing and shows it in its banner over the grid.
- `inspect_launcher.InspectLauncher` opens the match inspector.
- `labels_controller.LabelsController` has the review queue and the label actions.
- `map_controller.MapController` has the catalog map dock, linked to the grid and the similar panel.
- `window_actions.WindowActions` holds actions, menus and toolbar; `status_panel.StatusPanel` the status bar.

Nothing here waits on the disk, the database or the model: the controllers run that work on their own
threads and report back through queued signals, checked against the request they answer.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import InputError, UserError
from desktop_app.core.indexer import IndexOptions, IndexSummary, Progress
from desktop_app.core.overview import Snapshot
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings import UserSettings
from desktop_app.core.similar import Query
from desktop_app.gui.catalog_controller import CatalogController, recent_catalogs
from desktop_app.gui.detail import DetailPage
from desktop_app.gui.errors import show_error
from desktop_app.gui.grid_panel import GridPanel
from desktop_app.gui.index_controller import IndexController
from desktop_app.gui.inspect_launcher import InspectLauncher
from desktop_app.gui.labels_controller import LabelsController
from desktop_app.gui.map_controller import MapController
from desktop_app.gui.search_controller import SearchController
from desktop_app.gui.settings_dialog import (
    CatalogChoices,
    SettingsDialog,
    ask_update_index,
    catalog_choices,
    save_user_settings,
    write_catalog_choices,
)
from desktop_app.gui.similar_panel import SimilarPanel
from desktop_app.gui.status_panel import StatusPanel
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.welcome import WelcomePage
from desktop_app.gui.window_actions import WindowActions
from desktop_app.gui.words import WordsController
from desktop_app.gui.workers import Failure

MAX_QUERY_ARTICLES = 200  # "select all" on 100,000 articles is not a meaningful query
# While indexing, re-read the grid now and then so new articles appear, but only while that stays cheap.
LIVE_REFRESH_MAX_ARTICLES = 5000


class MainWindow(QMainWindow):
    # Signals that say "this is now on screen"; tests and the benchmark wait on them.
    catalog_loaded = Signal()
    search_ready = Signal()
    results_shown = Signal(object)  # core.similar.Outcome
    detail_loaded = Signal(str)
    index_progress = Signal(object)  # Progress
    index_finished = Signal(object)  # IndexSummary
    index_failed = Signal(object)  # Failure
    error_shown = Signal(str)

    def __init__(self, user: UserSettings | None = None) -> None:
        super().__init__()
        self.user = user or UserSettings.load()
        self.setWindowTitle("Lookalike")
        self.resize(1360, 860)
        self.setAcceptDrops(True)
        self.thumbs = ThumbnailLoader(self.user.thumb_size, threads=2, parent=self)
        self.catalogs = CatalogController(self)
        self.catalogs.model_for_new = self.user.model
        self.indexer = IndexController(self)
        self._closing = False
        self._dialogs: list[QWidget] = []
        self._detail_gen = 0
        self._build_ui()
        self.search = SearchController(self.similar, self.thumbs, self)
        self.search.device = self.user.device
        self.labels = LabelsController(self, self.catalogs, self.search, self.grid_panel.selected_articles)
        self.inspector = InspectLauncher(self)
        self.map = MapController(self)  # the catalog map dock (View > Catalog map)
        self.acts = WindowActions(self)
        self.words = WordsController(self)  # search by words and the words under the similar panel
        self._connect()
        self._restore_layout()
        self._show_welcome()
        self.catalogs.call(recent_catalogs, on_done=self.welcome.set_recent)

    # ================================================================== building

    def _build_ui(self) -> None:
        self.welcome = WelcomePage()
        self.loading = QLabel("Opening the catalog…")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_panel = GridPanel(self.thumbs, self.user.thumb_size)
        self.grid, self.grid_model = self.grid_panel.view, self.grid_panel.model
        self.filter_edit = self.grid_panel.filter_edit
        self.detail = DetailPage(self.thumbs)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.grid_panel)
        self.pages.addWidget(self.detail)
        self.banner = self.indexer.banner
        self.root_warning = QLabel()
        self.root_warning.setWordWrap(True)
        self.root_warning.setStyleSheet(
            "background: #fff4e0; color: #7a4b00; padding: 8px; border-radius: 6px;"
        )
        self.root_warning.hide()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        for w in (self.banner, self.root_warning):
            ll.addWidget(w)
        ll.addWidget(self.pages, 1)
        self.similar = SimilarPanel(self.thumbs)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.similar)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([920, 440])
        self.splitter.setChildrenCollapsible(False)
        self.stack = QStackedWidget()
        for w in (self.welcome, self.loading, self.splitter):
            self.stack.addWidget(w)
        self.setCentralWidget(self.stack)
        self.setStatusBar(QStatusBar())
        self.status = StatusPanel(self.statusBar())

    def _connect(self) -> None:
        self.welcome.open_folder.connect(self.catalogs.choose_folder)
        self.welcome.open_catalog.connect(self.catalogs.choose_catalog)
        self.welcome.open_recent.connect(self.open_catalog)
        g = self.grid_panel
        g.selection_changed.connect(self._selection_changed)
        g.open_requested.connect(self.open_detail)
        g.delete_pressed.connect(self._delete_pressed)
        self.grid.first_paint.connect(self.search.grid_painted)
        self.detail.back.connect(self.close_detail)
        self.detail.photo_selected.connect(self._photo_selected)
        self.detail.compare_requested.connect(self.compare_with)
        self.similar.hit_activated.connect(self.select_article)
        self.similar.inspect_requested.connect(self.inspect)
        self.catalogs.loaded.connect(self.apply_snapshot)
        self.catalogs.failed.connect(self._load_failed)
        self.catalogs.opening.connect(self._show_loading)
        self.catalogs.none_used.connect(self._show_welcome)
        self.catalogs.error.connect(self._error)
        self.search.ready.connect(self._search_ready)
        self.search.answered.connect(self.results_shown)
        self.search.error.connect(self._error)
        self.indexer.progress.connect(self._index_progress)
        self.indexer.finished.connect(self._index_done)
        self.indexer.failed.connect(self._index_failed)
        self.indexer.live_refresh.connect(self._live_refresh)
        self.labels.changed.connect(self._labels_changed)
        self.labels.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.labels.error.connect(self._error)
        self.labels.index_wanted.connect(self.update_index)

    def _restore_layout(self) -> None:
        geometry, splitter = self.user.window_blob("geometry"), self.user.window_blob("splitter")
        if geometry:
            self.restoreGeometry(geometry)
        if splitter:
            self.splitter.restoreState(splitter)

    @property
    def snapshot(self) -> Snapshot | None:
        return self.catalogs.snapshot

    @property
    def last_summary(self) -> IndexSummary | None:
        return self.indexer.last_summary

    # ================================================================== screens

    def _show_welcome(self, message: str = "") -> None:
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.show_message(message)
        self._sync()

    def _sync(self) -> None:
        indexing = self.indexer.running
        self.acts.sync(self.snapshot is not None, indexing, self.last_summary is not None)
        self.status.show_snapshot(self.snapshot, indexing)

    def _show_root_warning(self, snap: Snapshot) -> None:
        if snap.photo_root is not None and not snap.root_ok:
            self.root_warning.setText(
                f"The photo folder {snap.photo_root} cannot be found. Reconnect the drive it is on (or move the "
                "photos back), then use Update index. You can still browse and search; thumbnails and photos "
                "that are not cached cannot be shown."
            )
        self.root_warning.setVisible(snap.photo_root is not None and not snap.root_ok)

    # ================================================================== opening

    def open_folder(self, folder: Path) -> None:
        """The catalog of a photo folder: open it when it exists, else ask for the grouping and create it."""
        self.catalogs.open_folder(folder)

    def create_catalog(self, folder: Path, db: Path, rule: GroupingRule, index_now: bool = True) -> None:
        self.catalogs.create(folder, db, rule, index_now)

    def open_catalog(self, path: Path | None, create: bool = False) -> None:
        """Open a catalog file (or the last one used when path is None) and show it."""
        if path is None:
            self.catalogs.open_last()
        else:
            self.catalogs.open(Path(path), create)

    def _show_loading(self) -> None:
        if self.snapshot is None:
            self.stack.setCurrentWidget(self.loading)
        self.statusBar().showMessage("Opening the catalog…")

    def reload(self) -> None:
        """Re-read the open catalog (after indexing or a settings change), keeping the selection."""
        self.catalogs.reload()

    def _load_failed(self, failure: Failure, has_catalog: bool) -> None:
        self.statusBar().clearMessage()
        self._error("The catalog cannot be opened", failure)
        if has_catalog:
            self.stack.setCurrentWidget(self.splitter)
        else:
            self._show_welcome(str(failure.error) if isinstance(failure.error, UserError) else "")

    def apply_snapshot(self, snap: Snapshot, same: bool) -> None:
        keep = self.grid_panel.selected_articles() if same else []
        if not same:
            self.labels.close_reviews()
        reopen = self.search.show_catalog(snap, same)  # before the selection below asks its question
        if not same:
            self.close_detail()
        self.statusBar().clearMessage()
        self.setWindowTitle(f"Lookalike — {snap.path.stem}")
        self.grid_panel.show_snapshot(snap, keep)
        self.stack.setCurrentWidget(self.splitter)
        self._show_root_warning(snap)
        if snap.model_error:
            self.statusBar().showMessage(snap.model_error, 15000)
        self._sync()
        self.grid_panel.show_empty_state(snap, self.indexer.running)
        if same and self.pages.currentWidget() is self.detail:
            self.open_detail(self.detail.model.article)  # its labels may have changed
        self.catalog_loaded.emit()
        if reopen:
            self._load_engine()
        if self.catalogs.index_after_load:
            self.catalogs.index_after_load = False
            self.update_index()

    def _load_engine(self) -> None:
        # Let the grid paint first: loading vectors competes with the first paint for the CPU.
        painted = self.grid.painted or self.grid_model.rowCount() == 0
        if painted:
            self.search.load(self.indexer.running)
        else:
            self.search.load_after_paint(self.indexer.running)

    def _search_ready(self, info) -> None:
        self.status.show_engine(info)
        self.search_ready.emit()
        if self.search.query is None:
            self._selection_changed()

    # ================================================================== selection and similar

    def selected_articles(self) -> list[str]:
        return self.grid_panel.selected_articles()

    def _selection_changed(self) -> None:
        if self.pages.currentWidget() is self.detail:
            return
        keys = self.selected_articles()
        if keys:
            self.search.ask(Query("articles", keys[:MAX_QUERY_ARTICLES]))

    def _photo_selected(self, photo_id: int, rel_path: str) -> None:
        self.search.ask(Query("photo", [self.detail.model.article], photo_id=photo_id, photo_path=rel_path))

    def select_article(self, article: str) -> None:
        """Make one article the grid selection (clearing a filter that hides it) and show it."""
        if not self.grid_panel.select_article(article):
            self.statusBar().showMessage(f"{article} is not in this catalog any more.", 5000)
            return
        if self.pages.currentWidget() is self.detail:
            self.open_detail(article)

    def select_articles(self, articles: list[str]) -> None:
        self.grid_panel.select_articles(articles)

    def focus_filter(self) -> None:
        if self.pages.currentWidget() is self.detail:
            self.close_detail()
        self.grid_panel.focus_filter()

    def _labels_changed(self, _articles: list) -> None:
        self.catalogs.reload()  # the grid's labels
        self.search.rerun()  # the labels of the similar articles

    # ================================================================== detail

    def open_current_detail(self) -> None:
        self.open_detail(self.grid_panel.current_article())

    def open_detail(self, article: str | None) -> None:
        snap = self.snapshot
        if not article or snap is None:
            return
        self._detail_gen += 1
        gen = self._detail_gen
        self.pages.setCurrentWidget(self.detail)
        self.detail.show_loading(article)
        i = self.grid_model._key_index().get(article)
        labels = snap.articles.labels[i] if i is not None else {}
        folder = snap.articles.folders[i] if i is not None else ""

        def loaded(photos: list) -> None:
            if gen != self._detail_gen:
                return  # the curator moved on to another article
            self.detail.set_article(article, photos, snap.photo_root, labels, folder)
            self.detail.table.setFocus()
            self.detail_loaded.emit(article)

        self.catalogs.call(snap.engine.photos_of, article, on_done=loaded,
                           on_failed=lambda f: self._error("The photos cannot be read", f))  # fmt: skip

    def close_detail(self) -> None:
        if self.pages.currentWidget() is not self.detail:
            return
        self._detail_gen += 1
        self.pages.setCurrentIndex(0)
        self.grid.setFocus()
        self._selection_changed()

    # ================================================================== drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.search_files(files)

    def search_files(self, files: list[Path]) -> None:
        """Search by photo files that need not be in the catalog (dropped from the file manager)."""
        if self.snapshot is None:
            self._error("No catalog is open", InputError(
                "Open a photo folder first; dropped photos are compared with the articles of the open catalog."))  # fmt: skip
        else:
            self.search.ask_files(files, before=self.close_detail)

    # ================================================================== indexing

    def update_index(self) -> None:
        snap = self.snapshot
        if snap is None or self.indexer.running:
            return
        if snap.photo_root is None:
            self._error("No photo folder", InputError(
                "This catalog does not know its photo folder yet. Use Open photo folder… to choose it."))  # fmt: skip
            return
        self.start_index(snap.photo_root, None)

    def start_index(self, folder: Path, rule: GroupingRule | None) -> None:
        snap = self.snapshot
        options = IndexOptions(batch_size=self.user.batch_size, device=self.user.device)
        if snap is None or not self.indexer.start(snap.path, Path(folder), rule, options):
            return
        self._sync()
        self.status.show_indexing()
        self.grid_panel.show_empty_state(snap, True)
        if self.search.info is None and snap.embedded == 0:
            self.similar.show_message("Similar articles", "Search becomes available when indexing finishes.")

    def cancel_index(self) -> None:
        if self.indexer.running:
            self.indexer.cancel()
            self.acts.cancel.setEnabled(False)

    def show_summary(self) -> None:
        self.indexer.show_summary()

    def _index_progress(self, p: Progress) -> None:
        self.status.show_indexing(p)
        self.index_progress.emit(p)

    def _live_refresh(self) -> None:
        snap = self.snapshot
        if snap is not None and len(snap.articles) <= LIVE_REFRESH_MAX_ARTICLES and not self.catalogs.busy():
            self.catalogs.reload()

    def _index_done(self, summary: IndexSummary) -> None:
        self._sync()
        changed = summary.new + summary.changed + summary.moved + summary.removed + summary.reembedded
        # Reloading 100,000 vectors takes a while: keep the engine's when the run changed nothing.
        self.search.stale = self.search.stale or bool(changed)
        self.catalogs.reload()
        self.index_finished.emit(summary)

    def _index_failed(self, failure: Failure) -> None:
        self.search.stale = True
        self._sync()
        self._error("Indexing stopped", failure)
        self.catalogs.reload()  # whatever was committed before the failure is in the catalog: show it
        self.index_failed.emit(failure)

    # ================================================================== settings

    def open_settings(self) -> None:
        snap = self.snapshot
        choices = catalog_choices(snap.settings, snap.model) if snap is not None else None
        dialog = SettingsDialog(self.user, self.catalogs.runner, choices, self)
        dialog.applied.connect(lambda user, new: self.apply_settings(user, choices, new))
        self.keep(dialog)
        self.settings_dialog = dialog
        dialog.open()

    def apply_settings(
        self, user: UserSettings, old: CatalogChoices | None, new: CatalogChoices | None
    ) -> None:
        previous, self.user = self.user, save_user_settings(user)
        if self.user.thumb_size != previous.thumb_size:
            self.thumbs.set_size(self.user.thumb_size)
            self.grid_panel.set_thumb_size(self.user.thumb_size)
        if self.user.device != previous.device:
            self.search.device = self.user.device
            if self.snapshot is not None:
                self.search.load(self.indexer.running)  # the status bar shows the device the session got
        engine = self.snapshot.engine if self.snapshot is not None else None
        if engine is None or old is None or new is None or new == old:
            return
        self.catalogs.call(write_catalog_choices, engine, old, new, on_done=lambda _c: self._catalog_changed(),
                           on_failed=lambda f: self._error("Settings not saved", f))  # fmt: skip

    def _catalog_changed(self) -> None:
        self.catalogs.reload()
        self.keep(ask_update_index(self, self.update_index))

    # ================================================================== inspector, delete

    def inspect_current(self) -> None:
        self.inspector.inspect_current()

    def inspect(self, article: str, query_article: str | None = None) -> None:
        """The match inspector on the query (or query_article) and an article, with the catalog's settings."""
        self.inspector.inspect(article, query_article)

    def compare_with(self, article: str) -> None:
        self.inspector.compare_with(article)

    @property
    def inspector_window(self) -> QWidget | None:
        return self.inspector.last

    def _delete_pressed(self) -> None:
        # Deleting photos is the file manager's job; a stray key must never cost a curator a product shot.
        self.statusBar().showMessage(
            "Lookalike never deletes photos. Remove files in your file manager, then use Update index.", 6000
        )

    # ================================================================== errors, closing

    def _error(self, title: str, error) -> None:
        box = show_error(self, title, error)
        self.keep(box)
        self.last_error = box
        self.error_shown.emit(box.text())

    def keep(self, widget: QWidget) -> None:
        # Non-blocking dialogs need a Python reference until they close.
        self._dialogs = [d for d in self._dialogs if shiboken6.isValid(d) and d.isVisible()] + [widget]

    def shutdown(self) -> None:
        """Stop every worker, child process and timer; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self.grid_panel.filter_timer.stop()
        self.labels.close_reviews()
        for d in self._dialogs:
            if shiboken6.isValid(d):
                d.close()
        self._dialogs = []
        self.indexer.shutdown()
        self.map.shutdown()
        self.search.shutdown()
        self.thumbs.shutdown()
        self.catalogs.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        user = UserSettings.load()
        user.set_window_blob("geometry", self.saveGeometry().data())
        user.set_window_blob("splitter", self.splitter.saveState().data())
        user.save()  # never raises: an unwritable profile must not block closing
        self.shutdown()
        super().closeEvent(event)
