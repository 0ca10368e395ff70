"""The main window: a thin shell that connects its panels to the controllers and holds the window's state.

- `window_panes.build_panes` lays the panels out; `window_surface.WindowSurface` (a mixin) is what the
  controllers that work beside the window may use of it (its signals, the selection, the question, the status
  bar, Undo, the catalog's threads), so that none of them reaches into its panels.
- `grid_panel.GridPanel` shows the articles (filter, sort, zoom, selection); `detail.DetailPage` one article.
- `catalog_controller.CatalogController` opens, creates, re-reads and closes the catalog (a file or a shared
  one on a server); the window holds its `Engine` for cheap reads and writes.
- `search_controller.SearchController` presents `similar_panel.SimilarPanel`: it asks the engine child the
  newest question and stores edits of the search settings in the catalog.
- `decisions_controller.DecisionsController` writes match decisions and runs the learned adapter;
  `history.EditHistory` is Edit ▸ Undo/Redo; `article_actions.ArticleActions` the right-click menus,
  covers, the lightbox and compare.
- `index_controller.IndexController` runs indexing and shows it in its banner over the grid.
- `inspect_launcher.InspectLauncher` opens the match inspector.
- `labels_controller.LabelsController` has the review queue and the label actions.
- `map_controller.MapController` has the catalog map tab, linked to the grid and the similar panel.
- `window_actions.WindowActions` holds actions, menus and toolbar; `status_panel.StatusPanel` the status bar;
  `root_warning.PhotoFolderWarning` the banner shown while the photo folder cannot be found.
- `window_work.WindowWork` (a mixin) holds the window's slots for indexing, the detail page, settings,
  zoom, results export and dropped files.

Nothing here waits on the disk, the database or the model: the controllers run that work on their own
threads and report back through queued signals, checked against the request they answer.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QWidget

from desktop_app.core.errors import UserError
from desktop_app.core.overview import Snapshot
from desktop_app.core.paths import folder_reachable
from desktop_app.core.settings import UserSettings
from desktop_app.core.similar import Query
from desktop_app.core.storage.photos import CoverChange
from desktop_app.gui.article_actions import ArticleActions
from desktop_app.gui.catalog_controller import CatalogController, recent_catalogs
from desktop_app.gui.catalog_views import CatalogViews
from desktop_app.gui.decisions_controller import DecisionsController
from desktop_app.gui.history import EditHistory
from desktop_app.gui.index_controller import IndexController
from desktop_app.gui.inspect_launcher import InspectLauncher
from desktop_app.gui.labels_controller import LabelsController
from desktop_app.gui.map_controller import MapController
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.search_controller import SearchController
from desktop_app.gui.similar_panel import HINT
from desktop_app.gui.thumbs import ThumbnailLoader, catalog_source
from desktop_app.gui.window_actions import WindowActions
from desktop_app.gui.window_panes import build_panes
from desktop_app.gui.window_surface import WindowSurface
from desktop_app.gui.window_work import WindowWork
from desktop_app.gui.words import WordsController
from desktop_app.gui.workers import Failure

MAX_QUERY_ARTICLES = 200  # "select all" on 100,000 articles is not a meaningful query
NOTHING_SELECTED = "No article is selected. " + HINT


class MainWindow(WindowSurface, WindowWork, QMainWindow):
    """Its signals and the methods its controllers use are `WindowSurface`'s; its slots `WindowWork`'s."""

    def __init__(self, user: UserSettings | None = None) -> None:
        super().__init__()
        self.user = user or UserSettings.load()
        self.setWindowTitle("Lookalike")
        fit_to_screen(self, 1360, 860)
        self.setAcceptDrops(True)
        self.thumbs = ThumbnailLoader(self.user.thumb_size, threads=2, parent=self)
        self.catalogs = CatalogController(self)
        self.catalogs.model_for_new = self.user.model
        self.indexer = IndexController(self)
        self._closing = False
        self._dialogs: list[QWidget] = []
        self._detail_gen = 0
        self.last_error = None
        build_panes(self)
        self.search = SearchController(self.similar, self.thumbs, self)
        self.search.device = self.user.device
        self.labels = LabelsController(self, self.catalogs, self.search, self.grid_panel.selected_articles)
        self.inspector = InspectLauncher(self)
        self.decisions = DecisionsController(self.catalogs, self.search, self)
        self.history = EditHistory(self.catalogs, self)
        self.history.shown.connect(self.history_shown)
        self.history.labels_redone.connect(self.labels_redone)
        self.articles = ArticleActions(self)
        self.map = MapController(self, self.left_tabs, self.thumbs)  # View > Catalog map
        self.views = CatalogViews(self)  # the selection, filter and tab each catalog was left with
        self.acts = WindowActions(self)
        self.words = WordsController(self)  # search by words and the words under the similar panel
        self._connect()
        self._restore_layout()
        self._show_welcome()
        self.catalogs.call(recent_catalogs, on_done=self.welcome.set_recent)

    # ================================================================== wiring

    def _connect(self) -> None:
        c = self.catalogs
        self.welcome.open_folder.connect(c.choose_folder)
        self.welcome.open_catalog.connect(c.choose_catalog)
        self.welcome.open_shared.connect(c.choose_shared)
        self.welcome.open_recent.connect(self.open_catalog)
        self.locate_btn.clicked.connect(c.locate_photos)
        self.root_frame.recheck.connect(self._recheck_root)
        g = self.grid_panel
        g.selection_changed.connect(self._selection_changed)
        g.open_requested.connect(self.open_detail)
        g.delete_pressed.connect(self._delete_pressed)
        g.view_requested.connect(self.articles.view_article)
        g.menu_requested.connect(self.articles.grid_menu)
        g.zoom_requested.connect(self.zoom_by)
        g.zoom_changed.connect(self.set_zoom)
        g.similarity_wanted.connect(self.sort_by_similarity)
        self.grid.first_paint.connect(self.search_grid_painted)
        d = self.detail
        d.back.connect(self.close_detail)
        d.photo_selected.connect(self._photo_selected)
        d.compare_requested.connect(self.compare_with)
        d.view_requested.connect(self.articles.view_article)
        d.menu_requested.connect(self.articles.photo_menu)
        d.open_requested.connect(self.articles.open_photo)
        d.reveal_requested.connect(self.articles.reveal)
        s = self.similar
        s.inspect_requested.connect(self.inspect)
        s.compare_requested.connect(self.articles.compare_hit)
        s.show_in_catalog.connect(self.select_article)
        s.decide_requested.connect(self.decisions.decide_result)
        s.show_rejected_changed.connect(lambda on: self.search.set_show_rejected(on))
        s.menu_requested.connect(self.articles.result_menu)
        s.zoom_requested.connect(self.zoom_by)
        s.copy_requested.connect(self.copy_results)
        s.export_requested.connect(self.export_results)
        s.view.selectionModel().currentChanged.connect(lambda *_: self.acts.sync_results())
        c.releasing.connect(lambda engine: self.views.leave(engine.location))  # the grid still shows it
        c.releasing.connect(lambda _engine: self.thumbs.use_catalog(None))
        c.loaded.connect(self.apply_snapshot)
        c.failed.connect(self._load_failed)
        c.opening.connect(self._show_loading)
        c.none_used.connect(self._show_welcome)
        c.closed.connect(self._catalog_closed)
        c.error.connect(self.report_error)
        self.search.ready.connect(self._search_ready)
        self.search.answered.connect(self._answered)
        self.search.error.connect(self.report_error)
        self.indexer.progress.connect(self._index_progress)
        self.indexer.finished.connect(self._index_done)
        self.indexer.failed.connect(self._index_failed)
        self.indexer.live_refresh.connect(self._live_refresh)
        for controller in (self.labels, self.decisions, self.history):
            controller.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            controller.error.connect(self.report_error)
        self.labels.changed.connect(self._labels_changed)
        self.labels.index_wanted.connect(self.update_index)
        self.decisions.decided.connect(self._decided)
        self.decisions.imported.connect(self._decisions_imported)
        self.decisions.adapter_read.connect(self.acts.sync_adapter)
        self.decisions.adapter_read.connect(self.status.show_adapter)
        self.history.changed.connect(self._undone_or_redone)
        self.history.pairs_undone.connect(self._pairs_undone)
        self.history.shown.connect(self.acts.show_history)

    def _restore_layout(self) -> None:
        geometry, splitter = self.user.main_window_layout()
        if geometry:
            self.restoreGeometry(geometry)
            fit_to_screen(self, self.width(), self.height())  # a layout saved on a larger screen
        if splitter:
            self.splitter.restoreState(splitter)

    # ================================================================== screens

    def _show_welcome(self, message: str = "") -> None:
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.show_message(message)
        self._sync()

    def _sync(self) -> None:
        snap = self.snapshot
        indexing = self.indexer.running
        missing = snap is not None and snap.photo_root is not None and not snap.root_ok
        self.acts.sync(snap is not None, indexing, self.indexer.last_summary is not None, missing)
        self.status.show_snapshot(snap, indexing)
        self.grid_panel.show_counts(snap, indexing)

    # ================================================================== opening and closing

    def open_folder(self, folder: Path) -> None:
        """The catalog of a photo folder: open it when it exists, else ask for the grouping and create it."""
        self.catalogs.open_folder(folder)

    def open_catalog(self, location: Path | str | None, create: bool = False) -> None:
        """Open a catalog file or a shared catalog's URL (or the last one used when None) and show it."""
        if location is None:
            self.catalogs.open_last()
        else:
            self.catalogs.open(location, create)

    def close_catalog(self) -> None:
        if self.snapshot is None:
            return
        if self.indexer.running:
            self.statusBar().showMessage(
                "Indexing is running: cancel it first, then close the catalog.", 6000
            )
            return
        self.labels.close_reviews()
        self.search.close_catalog()
        self.catalogs.close_catalog()

    def _catalog_closed(self) -> None:
        self.catalog_closed.emit()  # the map lets go of the catalog before the grid is emptied, as before
        self.close_detail()
        self.history.forget()
        self.grid_panel.clear()
        self.setWindowTitle("Lookalike")
        self.root_frame.hide_warning()
        self.banner.hide()
        self.status.show_engine(None)
        self._show_welcome()
        self.catalogs.call(recent_catalogs, on_done=self.welcome.set_recent)

    def _recheck_root(self, root: Path) -> None:
        """Is the offline photo folder back? A few stats off the UI thread; the catalog is not read."""
        sample = self.snapshot.root_sample if self.snapshot is not None else ()
        self.catalogs.call(folder_reachable, root, sample, on_done=self._root_back)

    def _root_back(self, back: bool) -> None:
        if back and self.root_frame.missing is not None and not self.indexer.running:
            self.reload()  # the banner, the status bar and Update index learn that the folder is back

    def _show_loading(self) -> None:
        if self.snapshot is None:
            self.stack.setCurrentWidget(self.loading)
        self.statusBar().showMessage("Opening the catalog…")

    def reload(self) -> None:
        """Re-read the open catalog (after indexing or a settings change), keeping the selection."""
        self.catalogs.reload()

    def _load_failed(self, failure: Failure, has_catalog: bool) -> None:
        self.statusBar().clearMessage()
        self.report_error("The catalog cannot be opened", failure)
        if has_catalog:
            self.stack.setCurrentWidget(self.splitter)
        else:
            self._show_welcome(str(failure.error) if isinstance(failure.error, UserError) else "")

    def apply_snapshot(self, snap: Snapshot, same: bool) -> None:
        # Photos this machine cannot read show the catalog's own thumbnails (a shared catalog keeps them).
        self.thumbs.use_catalog(catalog_source(snap.engine, snap.photo_root))
        # A catalog opened again shows the selection, filter and tab the curator left it with.
        keep = self.views.selection_for(snap, same, self.grid_panel.selected_articles() if same else [])
        if not same:
            self.labels.close_reviews()
            self.statusBar().clearMessage()  # "Opening the catalog…"; a re-read keeps what it says
            self.history.forget()
        reopen = self.search.show_catalog(snap, same)  # before the selection below asks its question
        if not same:
            self.close_detail()
        self.setWindowTitle(snap.title)  # Qt adds " — Lookalike", the application display name
        self.grid_panel.show_snapshot(snap, keep)
        self.stack.setCurrentWidget(self.splitter)
        if not same:
            self.views.show_tab()
        self.root_frame.show_for(snap)
        self._say_what_is_read(snap, same)
        self._sync()
        self.grid_panel.show_empty_state(snap, self.indexer.running)
        if same and self.pages.currentWidget() is self.detail:
            self.open_detail(self.detail.model.article)  # its labels may have changed
        if not same:
            self.history.refresh()
            self.decisions.read_adapter()
        self.catalog_loaded.emit()
        if reopen:
            self._load_engine()
        if self.catalogs.index_after_load:
            self.catalogs.index_after_load = False
            self.update_index()

    def _say_what_is_read(self, snap: Snapshot, same: bool) -> None:
        """The status bar on a snapshot: a model that cannot be used, or the articles still being read."""
        if snap.model_error and not same:
            self.statusBar().showMessage(snap.model_error, 15000)
        if snap.partial:
            self.statusBar().showMessage(
                f"Showing the first {len(snap.articles):,} articles; reading the other "
                f"{snap.more_articles:,}…"
            )
        elif same and self.statusBar().currentMessage().startswith("Showing the first"):
            self.statusBar().clearMessage()

    def _load_engine(self) -> None:
        # Let the grid paint first: loading vectors competes with the first paint for the CPU.
        painted = self.grid.painted or self.grid_model.rowCount() == 0
        if painted:
            self.search.load(self.indexer.running)
        else:
            self.search.load_after_paint(self.indexer.running)

    def search_grid_painted(self) -> None:
        self.search.grid_painted()

    def _search_ready(self, info) -> None:
        self.status.show_engine(info)
        self.search_ready.emit()
        if self.search.query is None:
            self._selection_changed()

    # ================================================================== selection and similar

    def _selection_changed(self) -> None:
        self.acts.sync_results()
        if self.pages.currentWidget() is self.detail or self.snapshot is None:
            return
        keys = self.selected_articles()
        if keys:
            self.search.ask(Query("articles", keys[:MAX_QUERY_ARTICLES]))
        elif self.search.query is not None and self.search.query.kind != "files":
            # A filter hid the selection: results for articles no longer selected would mislead.
            self.search.forget_query(NOTHING_SELECTED)

    def _answered(self, outcome) -> None:
        self.acts.sync_results()
        self.results_shown.emit(outcome)

    def _photo_selected(self, photo_id: int, rel_path: str) -> None:
        self.search.ask(Query("photo", [self.detail.model.article], photo_id=photo_id, photo_path=rel_path))

    def select_article(self, article: str) -> None:
        """Make one article the grid selection (clearing a filter that hides it) and show it."""
        if not self.grid_panel.select_article(article):
            self.statusBar().showMessage(f"{article} is not in this catalog any more.", 5000)
            return
        if self.pages.currentWidget() is self.detail:
            self.open_detail(article)

    def focus_filter(self) -> None:
        if self.pages.currentWidget() is self.detail:
            self.close_detail()
        self.grid_panel.focus_filter()

    def _labels_changed(self, _articles: list) -> None:
        self.history.edited()
        self._refresh_labels()

    def _refresh_labels(self) -> None:
        self.catalogs.reload()  # the grid's and the detail page's labels
        self.search.rerun()  # the labels of the similar articles

    def _decided(self, a: str, b: str, decision: str | None) -> None:
        self.history.edited()
        query = self.search.query_article()
        if query in (a, b):
            other = b if query == a else a
            self.similar.show_decision(other, decision)
            if decision == "not_match" and not self.search.show_rejected:
                self.search.rerun()  # set aside: it leaves the list
        self.inspector.show_decision(a, b, decision)

    def _decisions_imported(self) -> None:
        self.history.edited()
        self._undone_or_redone("match")

    def cover_chosen(self, change: CoverChange) -> None:
        """A cover was chosen here or in an inspector: Edit ▸ Undo can take it back; the views show it."""
        self.history.covered(change)
        self.reload()  # the grid, and the detail page when it is on show

    def _pairs_undone(self, pairs: list[tuple[str, str]]) -> None:
        """The result an undone decision was about is selected again when the answer brings it back (an
        undone "not a match" returns to the list): the curator's place is where that decision was."""
        query = self.search.query_article()
        others = [b if a == query else a for a, b in pairs if query in (a, b)]
        if others:
            self.similar.select_when_shown(others[0])

    def _undone_or_redone(self, kind: str) -> None:
        if kind == "labels":
            self._refresh_labels()
        elif kind == "cover":
            self.reload()
        else:
            self.search.rerun()
            self.inspector.refresh_decisions()

    # ================================================================== inspector, compare, delete

    def inspect_current(self) -> None:
        self.inspector.inspect_current()

    def inspect(self, article: str, query_article: str | None = None) -> None:
        """The match inspector on the query (or query_article) and an article, with the catalog's settings."""
        self.inspector.inspect(article, query_article)

    def compare_with(self, article: str) -> None:
        self.inspector.compare_with(article)

    def compare_current(self) -> None:
        hit = self.similar.selected_hit()
        if hit:
            self.articles.compare_hit(hit)

    def show_current_hit(self) -> None:
        hit = self.similar.selected_hit()
        if hit:
            self.select_article(hit)

    def open_duplicates(self) -> None:
        """The Duplicates window on the open catalog (issue 17)."""
        engine = self.catalogs.engine
        if engine is not None:
            from desktop_app.gui.duplicates_view import open_duplicates

            self.duplicates_window = open_duplicates(None, engine)
            self.duplicates_window.article_wanted.connect(lambda a, e=engine: self._show_from(e, a))
            self.keep(self.duplicates_window)

    def _show_from(self, engine, article: str) -> None:
        """An article another window asked to see, selected in the grid (when its catalog is still open)."""
        if self.catalogs.engine is engine:
            self.select_article(article)
            self.raise_()
            self.activateWindow()

    @property
    def inspector_window(self) -> QWidget | None:
        return self.inspector.last

    def _delete_pressed(self) -> None:
        # Deleting photos is the file manager's job; a stray key must never cost a curator a product shot.
        self.statusBar().showMessage(
            "Lookalike never deletes photos. Remove files in your file manager, then use Update index.", 6000
        )

    # ================================================================== errors, closing

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
        self.decisions.shutdown()
        self.map.shutdown()
        self.search.shutdown()
        self.thumbs.shutdown()
        self.catalogs.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.snapshot is not None and not self._closing:
            self.views.leave(self.snapshot.location)
        user = UserSettings.load()
        user.set_main_window_layout(self.saveGeometry().data(), self.splitter.saveState().data())
        user.save()  # never raises: an unwritable profile must not block closing
        self.shutdown()
        super().closeEvent(event)
