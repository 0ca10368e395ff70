"""The main window: welcome screen, catalog browser, article detail, similar panel, indexing and settings.

Threading: three private pools. `runner` does catalog reads and small writes, `index_runner` runs the one
index job, `search_runner` answers similarity queries through a `Lane` so that only the newest selection's
query is ever computed or shown. Every result comes back as a queued signal and is checked against the
generation it was asked for (`_catalog_gen`, the lane's generation), so a late answer about a catalog or a
selection the curator has left is dropped instead of shown.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.catalog import Catalog
from desktop_app.core.encoder import device_of, provider_preference
from desktop_app.core.errors import UserError
from desktop_app.core.indexer import IndexOptions, IndexSummary, Progress
from desktop_app.core.models import resolve_model
from desktop_app.core.paths import default_catalog_path
from desktop_app.core.scan import GroupingRule
from desktop_app.core.state import last_catalog, load_state, remember_catalog
from desktop_app.gui.delegates import ArticleDelegate
from desktop_app.gui.detail import DetailPage
from desktop_app.gui.errors import show_error
from desktop_app.gui.grouping import GroupingDialog
from desktop_app.gui.index_process import IndexProcess
from desktop_app.gui.indexing import IndexBanner, IndexRequest, SummaryDialog, run_index
from desktop_app.gui.models import ArticleGridModel, ArticleRole
from desktop_app.gui.prefs import Prefs, save_window_state, search_params, window_state
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.search_process import EngineInfo, LocalSearch, SearchProcess
from desktop_app.gui.session import SORT_KEYS, SORT_LABELS, Snapshot, load_snapshot, model_title
from desktop_app.gui.settings_dialog import CatalogChoices, SettingsDialog
from desktop_app.gui.similar_panel import SimilarPanel
from desktop_app.gui.similarity import Outcome, Query, file_is_image
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.welcome import WelcomePage
from desktop_app.gui.workers import Failure, Lane, Runner, Task

log = logging.getLogger(__name__)

MAX_QUERY_ARTICLES = 200  # "select all" on 100,000 articles is not a meaningful query
FILTER_DEBOUNCE_MS = 120
SAVE_PARAMS_DELAY_MS = 600
# While indexing, re-read the grid every few seconds so new articles appear, but only while that re-read
# (and the search index it brings) stays cheap; bigger catalogs refresh when the run ends.
LIVE_REFRESH_S = 4.0
LIVE_REFRESH_MAX_ARTICLES = 5000


class GridView(QListView):
    """The article grid: a wrapping, uniform-size list view, so 100,000 cells cost what one screen costs."""

    open_requested = Signal(QModelIndex)
    delete_pressed = Signal()
    first_paint = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Icon mode, not list mode: in list mode every dataChanged (one per arriving thumbnail) re-lays out
        # all rows, which costs ~25 ms on 25,000 articles; icon mode with static items repaints one cell.
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setAcceptDrops(False)  # photo files dropped on the grid go to the window: search by them
        self.viewport().setAcceptDrops(False)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setSpacing(0)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.painted = False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.currentIndex().isValid():
                self.open_requested.emit(self.currentIndex())
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.painted and self.model() is not None and self.model().rowCount() > 0:
            self.painted = True
            self.first_paint.emit()


class MainWindow(QMainWindow):
    # Signals that say "this is now on screen"; tests and the benchmark wait on them.
    catalog_loaded = Signal()
    search_ready = Signal()
    results_shown = Signal(object)  # Outcome
    detail_loaded = Signal(str)
    index_progress = Signal(object)  # Progress
    index_finished = Signal(object)  # IndexSummary
    index_failed = Signal(object)  # Failure
    error_shown = Signal(str)

    def __init__(self, prefs: Prefs | None = None) -> None:
        super().__init__()
        self.prefs = prefs or Prefs.load()
        self.setWindowTitle("Lookalike")
        self.resize(1360, 860)
        self.setAcceptDrops(True)
        self.runner = Runner(2, "catalog", self)
        self.index_runner = Runner(1, "indexer", self)
        self.search_runner = Runner(1, "search", self)
        self.search_lane = Lane(self.search_runner, self)
        self.search_lane.result.connect(self._search_done)
        self.search_lane.failed.connect(self._search_failed)
        self.thumbs = ThumbnailLoader(self.prefs.thumb_size, threads=2, parent=self)
        self.search_lane.idle.connect(self.thumbs.resume)
        self.search: SearchProcess | LocalSearch | None = None  # made on first use
        self.snapshot: Snapshot | None = None
        self.engine: EngineInfo | None = None  # the loaded search index, when ready
        self.index_task: Task | None = None
        self.last_summary: IndexSummary | None = None
        self._last_live_refresh = 0.0
        self.last_outcome: Outcome | None = None
        self.last_latency_ms: float | None = None
        self.device_text = "…"
        self._catalog_gen = 0
        self._engine_gen = 0
        self._detail_gen = 0
        self._query: Query | None = None
        self._asked_at: dict[int, float] = {}
        self._closing = False
        self._dialogs: list[QWidget] = []
        self._engine_stale = False
        self._engine_pending = False
        # Index and search in child processes, so the window never competes with them for the GIL. Tests
        # that patch the core in this process switch these off before opening a catalog.
        self.index_in_subprocess = True
        self.search_in_subprocess = True

        self._build_ui()
        self._build_actions()
        self._restore_layout()
        self._show_welcome()
        self._refresh_recent()
        # The device probe imports onnxruntime: not while the first catalog is being shown.
        self.grid.first_paint.connect(self._after_first_paint)
        QTimer.singleShot(2500, self._after_first_paint)

    # ================================================================== building

    def _build_ui(self) -> None:
        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome.open_folder.connect(self.choose_folder)
        self.welcome.open_catalog.connect(self.choose_catalog)
        self.welcome.open_recent.connect(self.open_catalog)
        self.loading = QLabel("Opening the catalog…")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)

        # --- grid page
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(
            "Filter by article id, label or folder   (Ctrl+F;  id:  label:  folder:)"
        )
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_timer = QTimer(self)
        self.filter_timer.setSingleShot(True)
        self.filter_timer.setInterval(FILTER_DEBOUNCE_MS)
        self.filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self.filter_timer.start())
        self.filter_edit.returnPressed.connect(self._filter_return)
        self.sort_combo = QComboBox()
        for key in SORT_KEYS:
            self.sort_combo.addItem(f"Sort: {SORT_LABELS[key]}", key)
        self.sort_combo.currentIndexChanged.connect(self._apply_sort)
        self.count_label = QLabel()
        self.count_label.setMinimumWidth(150)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.count_label)

        self.grid_model = ArticleGridModel(self.thumbs, self)
        self.grid = GridView()
        self.grid.setModel(self.grid_model)
        self.delegate = ArticleDelegate(self.prefs.thumb_size, self.grid)
        self.grid.setItemDelegate(self.delegate)
        self._apply_cell_size()
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.grid.open_requested.connect(lambda idx: self.open_detail(model_data(idx, ArticleRole)))
        self.grid.doubleClicked.connect(lambda idx: self.open_detail(model_data(idx, ArticleRole)))
        self.grid.delete_pressed.connect(self._delete_pressed)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        self.grid_stack = QStackedWidget()
        self.grid_stack.addWidget(self.grid)
        self.grid_stack.addWidget(self.empty_label)
        grid_page = QWidget()
        gl = QVBoxLayout(grid_page)
        gl.setContentsMargins(6, 6, 6, 0)
        gl.addLayout(bar)
        gl.addWidget(self.grid_stack, 1)

        self.detail = DetailPage(self.thumbs)
        self.detail.back.connect(self.close_detail)
        self.detail.photo_selected.connect(self._photo_selected)
        self.detail.compare_requested.connect(self.compare_with)

        self.pages = QStackedWidget()
        self.pages.addWidget(grid_page)
        self.pages.addWidget(self.detail)

        self.banner = IndexBanner()
        self.banner.cancel_requested.connect(self.cancel_index)
        self.banner.details_requested.connect(self.show_summary)
        self.root_warning = QLabel()
        self.root_warning.setWordWrap(True)
        self.root_warning.setStyleSheet(
            "background: #fff4e0; color: #7a4b00; padding: 8px; border-radius: 6px;"
        )
        self.root_warning.hide()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.banner)
        ll.addWidget(self.root_warning)
        ll.addWidget(self.pages, 1)

        self.similar = SimilarPanel(self.thumbs)
        self.similar.params_changed.connect(self._params_changed)
        self.similar.hit_activated.connect(self.select_article)
        self.similar.inspect_requested.connect(self.inspect)
        self.similar.set_params(search_params(self.prefs, {}))

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.similar)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([920, 440])
        self.splitter.setChildrenCollapsible(False)

        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.loading)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

        sb = QStatusBar()
        self.setStatusBar(sb)
        self.catalog_label = QLabel()
        self.model_label = QLabel()
        self.device_label = QLabel()
        self.state_label = QLabel()
        for w in (self.catalog_label, self.model_label, self.device_label, self.state_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)
        self.save_params_timer = QTimer(self)
        self.save_params_timer.setSingleShot(True)
        self.save_params_timer.setInterval(SAVE_PARAMS_DELAY_MS)
        self.save_params_timer.timeout.connect(self._save_params)

    def _build_actions(self) -> None:
        def act(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.act_open_folder = act(
            "Open photo folder…",
            self.choose_folder,
            "Ctrl+Shift+O",
            "Open a folder of photos; a catalog is made for it if it has none",
        )
        self.act_open_catalog = act("Open catalog…", self.choose_catalog, None, "Open a catalog file")
        self.act_update = act(
            "Update index",
            self.update_index,
            "Ctrl+U",
            "Index new and changed photos; resumes a cancelled run",
        )
        self.act_cancel = act(
            "Cancel indexing", self.cancel_index, None, "Stop indexing after the current batch"
        )
        self.act_settings = act(
            "Settings…",
            self.open_settings,
            QKeySequence.StandardKey.Preferences,
            "Model, device, grouping, search defaults, thumbnails",
        )
        if self.act_settings.shortcut().isEmpty():
            self.act_settings.setShortcut(QKeySequence("Ctrl+,"))
        self.act_quit = act("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_filter = act(
            "Filter articles",
            self.focus_filter,
            QKeySequence.StandardKey.Find,
            "Filter the grid by article id, label or folder",
        )
        self.act_inspect = act(
            "Inspect match",
            self.inspect_current,
            "Ctrl+I",
            "Open the match inspector for the query and the selected result",
        )
        self.act_detail = act(
            "Article detail", self.open_current_detail, None, "Show all photos of the article"
        )
        self.act_back = act("Back to catalog", self.close_detail, "Esc")
        self.act_back.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.detail.addAction(self.act_back)
        self.removeAction(self.act_back)
        self.act_open_photo = act("Open photo", self.detail.open_current, "Ctrl+O")
        self.act_summary = act("Last index summary…", self.show_summary)
        self.act_review = act(
            "Review label suggestions…",
            self.open_review,
            "Ctrl+L",
            "Suggested labels for unlabelled articles, from their most similar labelled ones",
        )
        self.act_set_label = act(
            "Set label…", self.set_label, "Ctrl+E", "Set or clear a label on the selected articles"
        )
        self.act_import_labels = act(
            "Import labels…", self.import_labels, None, "Labels from a CSV file or from folder names"
        )
        self.act_export_labels = act(
            "Export labels…", self.export_labels, None, "Write all labels as CSV or JSON"
        )
        self.act_inbox = act(
            "Add photos from another folder…",
            self.add_inbox,
            None,
            "Copy new photos into the catalog's inbox folder and index them",
        )
        self.act_inspect.setEnabled(self.similar.inspector is not None)

        menu = self.menuBar()
        m = menu.addMenu("&File")
        for a in (
            self.act_open_folder,
            self.act_open_catalog,
            None,
            self.act_update,
            self.act_cancel,
            self.act_summary,
            None,
            self.act_settings,
            None,
            self.act_quit,
        ):
            m.addSeparator() if a is None else m.addAction(a)
        m = menu.addMenu("&View")
        for a in (
            self.act_filter,
            self.act_detail,
            self.act_back,
            self.act_open_photo,
            None,
            self.act_inspect,
        ):
            m.addSeparator() if a is None else m.addAction(a)
        m = menu.addMenu("&Labels")
        for a in (
            self.act_review,
            self.act_set_label,
            None,
            self.act_import_labels,
            self.act_export_labels,
            None,
            self.act_inbox,
        ):
            m.addSeparator() if a is None else m.addAction(a)

        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addAction(self.act_open_folder)
        tb.addAction(self.act_update)
        tb.addAction(self.act_cancel)
        tb.addSeparator()
        tb.addAction(self.act_settings)
        self.addToolBar(tb)
        self.toolbar = tb
        self._sync_actions()

    def _restore_layout(self) -> None:
        state = window_state()
        if state.get("geometry") is not None:
            self.restoreGeometry(state["geometry"])
        if state.get("splitter") is not None:
            self.splitter.restoreState(state["splitter"])

    def _apply_cell_size(self) -> None:
        self.delegate.set_thumb_size(self.prefs.thumb_size)
        self.grid.setGridSize(self.delegate.cell_size(self.grid.font()))
        self.grid.setIconSize(QSize(self.prefs.thumb_size, self.prefs.thumb_size))

    # ================================================================== screens

    def _show_welcome(self, message: str = "") -> None:
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.show_message(message)
        self._sync_actions()
        self._update_status()

    def _refresh_recent(self) -> None:
        def recent() -> list[Path]:
            return [Path(p) for p in load_state().get("recent", []) if Path(p).exists()][:6]

        self.runner.call(recent, on_done=self.welcome.set_recent)

    def _sync_actions(self) -> None:
        has = self.snapshot is not None
        indexing = self.index_task is not None
        self.act_update.setEnabled(has and not indexing)
        self.act_cancel.setEnabled(indexing)
        self.act_filter.setEnabled(has)
        self.act_detail.setEnabled(has)
        self.act_summary.setEnabled(self.last_summary is not None)
        for a in (self.act_review, self.act_set_label, self.act_import_labels, self.act_export_labels):
            a.setEnabled(has)
        self.act_inbox.setEnabled(has and not indexing)

    # ================================================================== opening

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open photo folder")
        if folder:
            self.open_folder(Path(folder))

    def choose_catalog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open catalog", "", "Lookalike catalogs (*.sqlite *.db);;All files (*)"
        )
        if path:
            self.open_catalog(Path(path))

    def open_folder(self, folder: Path) -> None:
        """The catalog of a photo folder: open it when it exists, else ask for the grouping and create it."""
        folder = Path(folder).expanduser()

        def probe() -> tuple[bool, Path, bool]:
            exists = folder.is_dir()
            db = default_catalog_path(folder) if exists else Path()
            return exists, db, exists and db.exists()

        def probed(value) -> None:
            exists, db, has_db = value
            if not exists:
                self._error(
                    "Photo folder not found",
                    UserError(
                        f"The folder {folder} does not exist or cannot be read. Check the path, or reconnect the "
                        "drive it is on, and open it again."
                    ),
                )
                return
            if has_db:
                self.open_catalog(db)
                return
            self._ask_grouping(folder.resolve(), db)

        self.runner.call(probe, on_done=probed, on_failed=lambda f: self._error("Cannot open the folder", f))

    def _ask_grouping(self, folder: Path, db: Path) -> None:
        dialog = GroupingDialog(folder, self.runner, parent=self)
        self._keep(dialog)
        self.grouping_dialog = dialog

        def accepted() -> None:
            rule = dialog.chosen_rule()
            self.create_catalog(folder, db, rule, index_now=dialog.index_now.isChecked())

        dialog.accepted.connect(accepted)
        dialog.open()

    def create_catalog(self, folder: Path, db: Path, rule: GroupingRule, index_now: bool = True) -> None:
        def create() -> Snapshot:
            catalog = Catalog(db, create=True)
            try:
                settings = {"photo_root": str(folder), "grouping": rule.to_dict()}
                if self.prefs.model:
                    settings["model"] = self.prefs.model
                catalog.set_settings(**settings)
                return load_snapshot(catalog)
            except BaseException:
                catalog.close()
                raise

        self._load(create, then_index=index_now)

    def open_catalog(self, path: Path | None, create: bool = False) -> None:
        """Open a catalog file (or the last one when path is None) and show it."""
        if path is None:

            def find_last() -> Path | None:
                return last_catalog()

            self.runner.call(
                find_last,
                on_done=lambda p: self.open_catalog(p) if p else self._show_welcome(),
                on_failed=lambda f: self._show_welcome(),
            )
            return
        path = Path(path)

        def load() -> Snapshot:
            catalog = Catalog(path, create=create)
            try:
                return load_snapshot(catalog)
            except BaseException:
                catalog.close()
                raise

        self._load(load)

    def _load(self, fn, then_index: bool = False) -> None:
        self._catalog_gen += 1
        gen = self._catalog_gen
        if self.snapshot is None:
            self.stack.setCurrentWidget(self.loading)
        self.statusBar().showMessage("Opening the catalog…")
        self.runner.call(
            fn,
            on_done=lambda snap: self._loaded(gen, snap, then_index),
            on_failed=lambda f: self._load_failed(gen, f),
        )

    def _load_failed(self, gen: int, failure: Failure) -> None:
        if gen != self._catalog_gen:
            return
        self.statusBar().clearMessage()
        self._error("The catalog cannot be opened", failure)
        if self.snapshot is None:
            self._show_welcome(str(failure.error) if isinstance(failure.error, UserError) else "")
        else:
            self.stack.setCurrentWidget(self.splitter)

    def _loaded(self, gen: int, snap: Snapshot, then_index: bool = False) -> None:
        if gen != self._catalog_gen or self._closing:
            if snap is not self.snapshot and (
                self.snapshot is None or snap.catalog is not self.snapshot.catalog
            ):
                snap.catalog.close()
            return
        old = self.snapshot
        self.apply_snapshot(snap)
        if old is not None and old.catalog is not snap.catalog:
            old.catalog.close()
        if then_index:
            self.update_index()

    def reload(self) -> None:
        """Re-read the open catalog (after indexing or a settings change), keeping the selection."""
        if self.snapshot is None:
            return
        catalog = self.snapshot.catalog
        self._load(lambda: load_snapshot(catalog))

    def apply_snapshot(self, snap: Snapshot) -> None:
        same_catalog = self.snapshot is not None and self.snapshot.catalog is snap.catalog
        keep = self.selected_articles() if same_catalog else []
        self.snapshot = snap
        self.statusBar().clearMessage()
        self.setWindowTitle(f"Lookalike — {snap.path.stem}")
        self.grid_model.set_articles(snap.articles, snap.photo_root)
        self._update_count()
        if not same_catalog:
            self.similar.set_params(search_params(self.prefs, snap.settings))
            self.close_detail()
        self.stack.setCurrentWidget(self.splitter)
        if snap.photo_root is not None and not snap.root_ok:
            self.root_warning.setText(
                f"The photo folder {snap.photo_root} cannot be found. Reconnect the drive it is on (or move the "
                "photos back), then use Update index. You can still browse and search; thumbnails and photos "
                "that are not cached cannot be shown."
            )
            self.root_warning.show()
        else:
            self.root_warning.hide()
        if snap.model_error:
            self.statusBar().showMessage(snap.model_error, 15000)
        self._update_status()
        self._sync_actions()
        self._empty_state()
        if keep:
            self.select_articles(keep)
        elif self.grid_model.rowCount() > 0 and not self.grid.selectionModel().hasSelection():
            self.grid.setCurrentIndex(self.grid_model.index(0, 0))
        self.runner.call(remember_catalog, snap.path)
        self.catalog_loaded.emit()
        if (
            same_catalog
            and self.engine is not None
            and not self._engine_stale
            and self.engine.model_id == snap.model_id
        ):
            return  # nothing the search depends on changed
        self._engine_stale = False
        if self.grid.painted or self.grid_model.rowCount() == 0:
            self._load_engine()
        else:
            # Let the grid paint first: loading vectors competes with the first paint for the CPU.
            self._engine_pending = True

    def _empty_state(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        if len(snap.articles) == 0 and self.index_task is not None:
            self.empty_label.setText(
                "Indexing the photos…\nThe articles appear here as they are indexed. "
                "You can cancel at any time: what is indexed so far is kept."
            )
            self.grid_stack.setCurrentWidget(self.empty_label)
        elif len(snap.articles) == 0:
            self.empty_label.setText(
                "This catalog has no photos yet.\nUse Update index (Ctrl+U) to index its "
                f"photo folder{f' {snap.photo_root}' if snap.photo_root else ''}."
            )
            self.grid_stack.setCurrentWidget(self.empty_label)
        elif self.grid_model.rowCount() == 0:
            self.empty_label.setText(
                f"No article matches “{self.filter_edit.text()}”.\n"
                "Try part of an article id, a label or a folder name, or clear the filter."
            )
            self.grid_stack.setCurrentWidget(self.empty_label)
        else:
            self.grid_stack.setCurrentWidget(self.grid)

    # ================================================================== search engine

    def _after_first_paint(self) -> None:
        if self._closing:
            return
        if self.device_text == "…" and not getattr(self, "_probing", False):
            self._probing = True
            self._probe_device()
        if self._engine_pending:
            self._engine_pending = False
            self._load_engine()

    def _load_engine(self) -> None:
        snap = self.snapshot
        self.engine = None
        self.search_lane.invalidate()
        self._engine_gen += 1
        gen = self._engine_gen
        if snap is None or snap.model is None or snap.model_id is None:
            self.similar.show_message(
                "Similar articles",
                snap.model_error if snap and snap.model_error else "No model is set for this catalog.",
            )
            return
        if snap.embedded == 0:
            if self.index_task is not None:
                self.similar.show_message(
                    "Similar articles", "Search becomes available when indexing finishes."
                )
            else:
                self.similar.show_message(
                    "Similar articles",
                    "No photo is embedded yet. Use Update index (Ctrl+U) "
                    "to index the photos; then select an article to see similar ones.",
                )
            return
        self.similar.show_message(self.similar.title.text(), "Preparing search…")
        catalog, model, model_id = snap.catalog, snap.model, snap.model_id
        if self.search is None:
            self.search = SearchProcess() if self.search_in_subprocess else LocalSearch()
        search = self.search
        self.runner.call(
            search.load,
            catalog.path,
            model,
            model_id,
            on_done=lambda engine: self._engine_loaded(gen, engine),
            on_failed=lambda f: self._engine_failed(gen, f),
        )

    def _engine_loaded(self, gen: int, engine: EngineInfo) -> None:
        if gen != self._engine_gen or self._closing:
            return
        self.engine = engine
        self.search_ready.emit()
        if self._query is not None:
            self.request_similar(self._query)
        else:
            self._selection_changed()

    def _engine_failed(self, gen: int, failure: Failure) -> None:
        if gen != self._engine_gen:
            return
        self.similar.show_message("Similar articles", f"Search is not available: {failure.error}")
        if not isinstance(failure.error, UserError):
            self._error("Search could not be prepared", failure)

    # ================================================================== selection and similar

    def selected_articles(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.grid_model.article_at(r) for r in rows]

    def _selection_changed(self, *_args) -> None:
        if self.pages.currentWidget() is self.detail:
            return
        keys = self.selected_articles()
        if not keys:
            return
        self.request_similar(Query("articles", keys[:MAX_QUERY_ARTICLES]))

    def _photo_selected(self, photo_id: int, rel_path: str) -> None:
        self.request_similar(
            Query("photo", photo_id=photo_id, photo_path=rel_path, articles=[self.detail.model.article])
        )

    def request_similar(self, query: Query) -> None:
        """Ask for the similar articles of a query; only the newest question is answered."""
        self._query = query
        if self.engine is None:
            if self.snapshot is not None and self.snapshot.embedded > 0:
                self.similar.show_message(query.title(), "Preparing search…")
            return
        search = self.search
        params = self.similar.params()
        device = self.prefs.device

        def run() -> Outcome:
            return search.run(query, params, device)

        self.similar.show_query(query.title())
        # Thumbnails wait while the search runs: on two cores they would take half of its CPU.
        self.thumbs.pause()
        gen = self.search_lane.submit(run)
        self._asked_at = {gen: time.perf_counter()}

    def _search_done(self, gen: int, outcome: Outcome) -> None:
        asked = self._asked_at.pop(gen, None)
        self.last_latency_ms = (time.perf_counter() - asked) * 1e3 if asked else None
        self.last_outcome = outcome
        self.similar.show_results(outcome.query.title(), outcome.hits, outcome.total_ms, outcome.note)
        self.results_shown.emit(outcome)

    def _search_failed(self, gen: int, failure: Failure) -> None:
        self._asked_at.pop(gen, None)
        title = self._query.title() if self._query else "Similar articles"
        if isinstance(failure.error, UserError):
            self.similar.show_message(title, str(failure.error))
        else:
            self.similar.show_message(title, "The search failed; see the error message.")
            self._error("The search failed", failure)

    def _params_changed(self) -> None:
        if self._query is not None:
            self.request_similar(self._query)
        self.save_params_timer.start()

    def _save_params(self) -> None:
        if self.snapshot is None:
            return
        catalog = self.snapshot.catalog
        params = self.similar.params().to_dict()
        self.runner.call(
            lambda: catalog.set_settings(search=params),
            on_failed=lambda f: self._error("Search settings not saved", f),
        )

    def select_article(self, article: str) -> None:
        """Make one article the grid selection (clearing a filter that hides it) and show it."""
        if self.grid_model.row_of(article) < 0 and self.filter_edit.text():
            self.filter_edit.blockSignals(True)
            self.filter_edit.clear()
            self.filter_edit.blockSignals(False)
            self._apply_filter()
        row = self.grid_model.row_of(article)
        if row < 0:
            self.statusBar().showMessage(f"{article} is not in this catalog any more.", 5000)
            return
        idx = self.grid_model.index(row, 0)
        self.grid.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        if self.pages.currentWidget() is self.detail:
            self.open_detail(article)

    def select_articles(self, articles: list[str]) -> None:
        sm = self.grid.selectionModel()
        first = True
        for a in articles:
            row = self.grid_model.row_of(a)
            if row < 0:
                continue
            idx = self.grid_model.index(row, 0)
            flag = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                if first
                else QItemSelectionModel.SelectionFlag.Select
            )
            if first:
                sm.setCurrentIndex(idx, flag)
                self.grid.scrollTo(idx)
            else:
                sm.select(idx, flag)
            first = False

    # ================================================================== filter and sort

    def focus_filter(self) -> None:
        if self.pages.currentWidget() is self.detail:
            self.close_detail()
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _filter_return(self) -> None:
        self.filter_timer.stop()
        self._apply_filter()
        self.grid.setFocus()
        if self.grid_model.rowCount() and not self.grid.currentIndex().isValid():
            self.grid.setCurrentIndex(self.grid_model.index(0, 0))

    def _apply_filter(self) -> None:
        keep = self.selected_articles()
        self.grid_model.set_filter(self.filter_edit.text())
        self._after_reset(keep)

    def _apply_sort(self) -> None:
        keep = self.selected_articles()
        self.grid_model.set_sort(self.sort_combo.currentData())
        self._after_reset(keep)

    def _after_reset(self, keep: list[str]) -> None:
        self.grid.selectionModel().blockSignals(True)
        try:
            self.select_articles(keep)
        finally:
            self.grid.selectionModel().blockSignals(False)
        self.grid.viewport().update()
        self._update_count()
        self._empty_state()

    def _update_count(self) -> None:
        total = len(self.grid_model.data_)
        shown = self.grid_model.rowCount()
        self.count_label.setText(
            f"{total:,} articles" if shown == total else f"{shown:,} of {total:,} articles"
        )

    # ================================================================== detail

    def open_current_detail(self) -> None:
        idx = self.grid.currentIndex()
        if idx.isValid():
            self.open_detail(model_data(idx, ArticleRole))

    def open_detail(self, article: str | None) -> None:
        if not article or self.snapshot is None:
            return
        snap = self.snapshot
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

        self.runner.call(
            snap.catalog.photos_of,
            article,
            on_done=loaded,
            on_failed=lambda f: self._error("The photos cannot be read", f),
        )

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
            self._error(
                "No catalog is open",
                UserError(
                    "Open a photo folder first; dropped photos are compared "
                    "with the articles of the open catalog."
                ),
            )
            return

        def check() -> list[Path]:
            return [p for p in files if file_is_image(p)]

        def checked(images: list[Path]) -> None:
            if not images:
                self._error(
                    "Not photos",
                    UserError(
                        "None of the dropped files is a photo Lookalike can read "
                        "(JPEG, PNG, WebP, TIFF, BMP or GIF)."
                    ),
                )
                return
            self.close_detail()
            self.request_similar(Query("files", files=images))

        self.runner.call(check, on_done=checked)

    # ================================================================== indexing

    def _index_model(self):
        snap = self.snapshot
        if snap is not None and snap.settings.get("model"):
            return snap.model or snap.settings.get("model")
        return self.prefs.model or None

    def update_index(self) -> None:
        snap = self.snapshot
        if snap is None or self.index_task is not None:
            return
        if snap.photo_root is None:
            self._error(
                "No photo folder",
                UserError(
                    "This catalog does not know its photo folder yet. Use Open photo folder… to choose it."
                ),
            )
            return
        self.start_index(snap.photo_root, None)

    def start_index(self, folder: Path, rule: GroupingRule | None) -> None:
        snap = self.snapshot
        if snap is None or self.index_task is not None:
            return
        options = IndexOptions(batch_size=self.prefs.batch_size, device=self.prefs.device)
        model = self._index_model()
        if self.index_in_subprocess:
            task = IndexProcess(snap.path, Path(folder), rule, model, options, self)
        else:
            task = Task(
                run_index,
                IndexRequest(snap.catalog, Path(folder), rule, model, options),
                with_progress=True,
                with_cancel=True,
            )
        self.index_task = task
        self._last_live_refresh = time.monotonic()
        self.banner.start(Path(folder))
        self.state_label.setText("Index: indexing…")
        self._sync_actions()
        self._empty_state()
        if self.engine is None and snap.embedded == 0:
            self.similar.show_message("Similar articles", "Search becomes available when indexing finishes.")
        if isinstance(task, IndexProcess):
            task.done.connect(self._index_done)
            task.failed.connect(self._index_failed)
            task.progress.connect(self._index_progress)
            task.start()
        else:
            self.index_runner.start(
                task, on_done=self._index_done, on_failed=self._index_failed, on_progress=self._index_progress
            )

    def cancel_index(self) -> None:
        if self.index_task is not None:
            self.index_task.cancel()
            self.act_cancel.setEnabled(False)
            if self.banner.cancel.isEnabled():
                self.banner._on_cancel()

    def _index_progress(self, p: Progress) -> None:
        self.banner.update_progress(p)
        if p.total:
            self.state_label.setText(f"Index: {p.done:,}/{p.total:,}")
        self._refresh_while_indexing(p)
        self.index_progress.emit(p)

    def _refresh_while_indexing(self, p: Progress) -> None:
        """Let articles appear while a long run goes on, as long as re-reading the grid stays cheap."""
        snap = self.snapshot
        now = time.monotonic()
        if (
            snap is None
            or p.done == 0
            or len(snap.articles) > LIVE_REFRESH_MAX_ARTICLES
            or now - self._last_live_refresh < LIVE_REFRESH_S
            or self.runner.busy()
        ):
            return
        self._last_live_refresh = now
        self.reload()

    def _index_done(self, summary: IndexSummary) -> None:
        self._drop_index_task()
        self.last_summary = summary
        self.banner.finish(summary)
        self._sync_actions()
        changed = summary.new + summary.changed + summary.moved + summary.removed + summary.reembedded
        # Reloading 100,000 vectors takes a while: keep the search index when the run changed nothing.
        self._engine_stale = self._engine_stale or bool(changed)
        self.reload()
        self.index_finished.emit(summary)

    def _drop_index_task(self) -> None:
        task, self.index_task = self.index_task, None
        if isinstance(task, IndexProcess):
            task.deleteLater()

    def _index_failed(self, failure: Failure) -> None:
        self._drop_index_task()
        self._engine_stale = True
        self._sync_actions()
        err = failure.error
        self.banner.fail(str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}")
        self._error("Indexing stopped", failure)
        self.reload()  # whatever was committed before the failure is in the catalog: show it
        self.index_failed.emit(failure)

    def show_summary(self) -> None:
        if self.last_summary is None:
            return
        dialog = SummaryDialog(self.last_summary, self)
        self._keep(dialog)
        self.summary_dialog = dialog
        dialog.open()

    # ================================================================== settings

    def open_settings(self) -> None:
        snap = self.snapshot
        choices = None
        if snap is not None:
            name = snap.model.manifest.name if snap.model else str(snap.settings.get("model") or "")
            choices = CatalogChoices(
                name,
                GroupingRule.from_dict(snap.settings.get("grouping")),
                snap.settings.get("resize") or None,
                bool(snap.settings.get("mirror")),
            )
        dialog = SettingsDialog(self.prefs, self.runner, choices, self)
        dialog.applied.connect(self.apply_settings)
        self._keep(dialog)
        self.settings_dialog = dialog
        dialog.open()

    def apply_settings(self, prefs: Prefs, choices: CatalogChoices | None) -> None:
        old = self.prefs
        self.prefs = prefs
        prefs.save()
        if prefs.thumb_size != old.thumb_size:
            self.thumbs.set_size(prefs.thumb_size)
            self._apply_cell_size()
            self.grid.viewport().update()
        if prefs.device != old.device:
            self._probe_device()
        defaults_changed = (prefs.method, prefs.threshold, prefs.max_matches, prefs.top_k) != (
            old.method,
            old.threshold,
            old.max_matches,
            old.top_k,
        )
        snap = self.snapshot
        if defaults_changed:
            self.similar.set_params(search_params(prefs, {}))
            self._params_changed()
        if snap is None or choices is None:
            return
        old_rule = GroupingRule.from_dict(snap.settings.get("grouping"))
        old_model = snap.model.manifest.name if snap.model else snap.settings.get("model")
        old_fit = (snap.settings.get("resize") or None, bool(snap.settings.get("mirror")))
        if (
            choices.rule == old_rule
            and choices.model == old_model
            and (choices.resize, choices.mirror) == old_fit
        ):
            return
        catalog = snap.catalog

        def write() -> None:
            values = {"grouping": choices.rule.to_dict(), "resize": choices.resize, "mirror": choices.mirror}
            if choices.model and choices.model != old_model:
                model = resolve_model(choices.model)  # raises ModelError with a clear message
                values["model"] = model.manifest.name
                values["model_manifest"] = str(model.manifest_path)
            catalog.set_settings(**values)

        def written(_none) -> None:
            self.reload()
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Update the index?",
                "The grouping rule, the model or the photo preprocessing of this catalog changed. "
                "Update the index now to apply it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                self,
            )
            box.button(QMessageBox.StandardButton.Yes).setText("Update index now")
            box.button(QMessageBox.StandardButton.No).setText("Later")
            box.finished.connect(lambda r: r == QMessageBox.StandardButton.Yes and self.update_index())
            self._keep(box)
            box.open()

        self.runner.call(write, on_done=written, on_failed=lambda f: self._error("Settings not saved", f))

    # ================================================================== inspector, delete

    def inspect_current(self) -> None:
        hit = self.similar.selected_hit()
        if hit:
            self.inspect(hit)
            return
        keys = self.selected_articles()
        if len(keys) == 2:
            self.inspect(keys[1], keys[0])
        else:
            self.statusBar().showMessage(
                "Select a similar article first (or two articles in the grid).", 4000
            )

    def inspect(self, article: str, query_article: str | None = None) -> None:
        fn = self.similar.inspector
        if fn is None or self.snapshot is None:
            self.statusBar().showMessage("The match inspector is not installed in this build.", 4000)
            return
        if query_article is None:
            q = self._query
            if q is None or q.kind == "files" or not q.articles:
                self.statusBar().showMessage(
                    "The inspector compares two catalog articles; dropped photos are not one.", 5000
                )
                return
            query_article = q.articles[0]
        params = self.similar.params()
        try:
            # A top-level window of its own (no parent): it may outlive a catalog switch, and it is
            # closed, which lets it stop its own workers, when this window closes.
            window = fn(
                None,
                self.snapshot.catalog,
                query_article,
                article,
                method=params.method,
                threshold=params.threshold,
                max_matches=params.max_matches,
            )
        except Exception as exc:  # noqa: BLE001 - an optional module's failure is reported, not fatal
            self._error("The match inspector failed", exc)
            return
        if isinstance(window, QWidget):
            self._keep(window)
            self.inspector_window = window

    # ================================================================== labels

    def open_review(self) -> None:
        if self.snapshot is None:
            return
        from desktop_app.gui.review import open_review

        window = open_review(None, self.snapshot.catalog)
        window.labels_changed.connect(lambda _articles: self.reload())
        self._keep(window)

    def set_label(self) -> None:
        keys = self.selected_articles()
        if self.snapshot is None or not keys:
            self.statusBar().showMessage("Select one or more articles in the grid first.", 4000)
            return
        from desktop_app.gui.labels_dialog import edit_labels

        if edit_labels(self, self.snapshot.catalog, keys):
            self.reload()

    def import_labels(self) -> None:
        if self.snapshot is None:
            return
        from desktop_app.gui.labels_dialog import import_labels

        report = import_labels(self, self.snapshot.catalog)
        if report is not None:
            self.statusBar().showMessage(f"Imported {report.applied} labels.", 5000)
            self.reload()

    def export_labels(self) -> None:
        if self.snapshot is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export labels", "labels.csv", "CSV (*.csv);;JSON (*.json)"
        )
        if not path:
            return
        from desktop_app.core.labels import export_labels

        catalog = self.snapshot.catalog
        self.runner.call(
            lambda: export_labels(catalog, Path(path)),
            on_done=lambda n: self.statusBar().showMessage(f"Wrote {n} labels to {path}", 6000),
            on_failed=lambda f: self._error("Labels not exported", f),
        )

    def add_inbox(self) -> None:
        if self.snapshot is None:
            return
        from desktop_app.gui.review_inbox import import_inbox

        if import_inbox(self, self.snapshot.catalog):
            self.update_index()

    def compare_with(self, article: str) -> None:
        """Article detail's "Compare with…": pick the other article, open the inspector on the pair."""
        if self.snapshot is None or not article:
            return
        from PySide6.QtWidgets import QInputDialog

        keys = [k for k in self.snapshot.articles.keys if k != article]
        hit = self.similar.selected_hit()
        start = keys.index(hit) if hit in keys else 0
        other, ok = QInputDialog.getItem(self, "Compare with", f"Compare {article} with:", keys, start, True)
        if ok and other in keys:
            self.inspect(other, article)

    def _delete_pressed(self) -> None:
        # Deleting photos is the file manager's job; a stray key must never cost a curator a product shot.
        self.statusBar().showMessage(
            "Lookalike never deletes photos. Remove files in your file manager, then use Update index.", 6000
        )

    # ================================================================== status bar

    def _probe_device(self) -> None:
        device = self.prefs.device

        def probe() -> str:
            import onnxruntime as ort

            from desktop_app.core.encoder import _cuda_usable

            wanted = provider_preference(device, list(ort.get_available_providers()))
            if "CUDAExecutionProvider" in wanted and not _cuda_usable():
                wanted = ["CPUExecutionProvider"]
            return device_of(wanted)

        def probed(text: str) -> None:
            self.device_text = text
            self._update_status()

        self.runner.call(probe, on_done=probed, on_failed=lambda f: probed("CPU"))

    def _update_status(self) -> None:
        snap = self.snapshot
        if snap is None:
            for w in (self.catalog_label, self.model_label, self.state_label):
                w.setText("")
            self.device_label.setText(f"Device: {self.device_text}")
            return
        c = snap.counts
        self.catalog_label.setText(f"{c.get('articles', 0):,} articles · {c.get('photos', 0):,} photos")
        self.catalog_label.setToolTip(f"Catalog: {snap.path}\nPhotos: {snap.photo_root or 'no folder yet'}")
        self.model_label.setText(f"Model: {model_title(snap.model)}" if snap.model else "Model: missing")
        self.model_label.setToolTip(
            snap.model.manifest.description if snap.model else (snap.model_error or "")
        )
        self.device_label.setText(f"Device: {self.device_text}")
        if self.index_task is None:
            state, tip = snap.index_state()
            self.state_label.setText(f"Index: {state}")
            self.state_label.setToolTip(tip)

    # ================================================================== errors, closing

    def _error(self, title: str, error) -> None:
        box = show_error(self, title, error)
        self._keep(box)
        self.last_error = box
        self.error_shown.emit(box.text())

    def _keep(self, widget: QWidget) -> None:
        # Non-blocking dialogs need a Python reference until they close.
        self._dialogs = [d for d in self._dialogs if _alive(d) and d.isVisible()] + [widget]

    def shutdown(self) -> None:
        """Stop every worker and timer; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        for t in (self.filter_timer, self.save_params_timer):
            t.stop()
        if self.index_task is not None:
            self.index_task.cancel()
            if isinstance(self.index_task, IndexProcess):
                self.index_task.shutdown()
        self.search_lane.invalidate()
        self.thumbs.shutdown()
        for r in (self.search_runner, self.index_runner, self.runner):
            r.shutdown()
        if self.search is not None:
            self.search.close()
        for d in self._dialogs:
            if _alive(d):
                d.close()
        self._dialogs = []
        if self.snapshot is not None:
            self.snapshot.catalog.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            save_window_state(geometry=self.saveGeometry(), splitter=self.splitter.saveState())
        except Exception:  # noqa: BLE001 - an unwritable settings file must not block closing
            log.warning("window layout not saved", exc_info=True)
        self.shutdown()
        super().closeEvent(event)


def _alive(widget: QWidget) -> bool:
    """False once Qt has deleted the C++ side (a dialog closed with WA_DeleteOnClose, say)."""
    return shiboken6.isValid(widget)
