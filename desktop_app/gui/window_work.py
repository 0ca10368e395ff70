"""The main window's slots for indexing, the detail page, settings and colours, zoom, the results table
and photo files dropped or chosen as a query (a mixin of `MainWindow`, which holds the widgets and the
controllers these use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from desktop_app.core import thumbnails
from desktop_app.core.errors import InputError, UserError
from desktop_app.core.indexer import IndexOptions, IndexSummary, Progress
from desktop_app.core.overview import Snapshot
from desktop_app.core.paths import folder_reachable
from desktop_app.core.scan import GroupingRule, image_suffixes
from desktop_app.core.settings import UserSettings
from desktop_app.core.similar import Query, results_text, write_results_csv
from desktop_app.gui.export_dialog import ask_export_path, file_name
from desktop_app.gui.models import SIMILAR_SORT
from desktop_app.gui.settings_dialog import (
    CatalogChoices,
    SettingsDialog,
    ask_update_index,
    catalog_choices,
    save_user_settings,
    write_catalog_choices,
)
from desktop_app.gui.theme import apply_theme
from desktop_app.gui.workers import Failure

# While indexing, re-read the grid now and then so new articles appear, but only while that stays cheap.
LIVE_REFRESH_MAX_ARTICLES = 5000
ZOOM_SIZES = thumbnails.SIZES


class WindowWork:
    """Slots of the main window (see the module docstring); `self` is the MainWindow."""

    # ================================================================== detail

    def open_current_detail(self: Any) -> None:
        self.open_detail(self.grid_panel.current_article())

    def open_detail(self: Any, article: str | None) -> None:
        snap = self.snapshot
        if not article or snap is None:
            return
        self._detail_gen += 1
        gen = self._detail_gen
        self.left_tabs.setCurrentWidget(self.pages)  # from the map tab too (a double-click on a dot)
        self.pages.setCurrentWidget(self.detail)
        self.detail.show_loading(article)
        i = snap.articles.index_of.get(article)
        labels = snap.articles.labels[i] if i is not None else {}
        folder = snap.articles.folders[i] if i is not None else ""
        engine = snap.engine

        def read() -> tuple[list, str | None]:
            return engine.photos_of(article), engine.chosen_cover(article)

        def loaded(found: tuple[list, str | None]) -> None:
            if gen != self._detail_gen:
                return  # the curator moved on to another article
            photos, chosen = found
            self.detail.set_article(article, photos, snap.photo_root, labels, folder, chosen)
            self.detail.table.setFocus()
            if not self.detail.picked:
                self._ask_about(article)
            self.detail_loaded.emit(article)

        self.catalogs.call(
            read, on_done=loaded, on_failed=lambda f: self.report_error("The photos cannot be read", f)
        )

    def _ask_about(self: Any, article: str) -> None:
        """The page's article is the similar panel's question until the curator picks one of its photos
        (opened from the map, or from several selected articles, the question was another)."""
        q = self.search.query
        if q is None or q.kind != "articles" or list(q.articles) != [article]:
            self.search.ask(Query("articles", [article]))

    def close_detail(self: Any) -> None:
        if self.pages.currentWidget() is not self.detail:
            return
        self._detail_gen += 1
        self.pages.setCurrentIndex(0)
        self.grid.setFocus()
        self._selection_changed()

    def view_current_photos(self: Any) -> None:
        if self.pages.currentWidget() is self.detail:
            self.detail.view_current()
        else:
            article = self.grid_panel.current_article()
            if article:
                self.articles.view_article(article)

    def open_current_photo(self: Any) -> None:
        if self.pages.currentWidget() is self.detail:
            self.detail.open_current()
        elif self.similar.view.hasFocus() and self.similar.selected_hit():
            model = self.similar.model
            self.articles.open_photo(model.photo_of(model.row_of(self.similar.selected_hit())))
        else:
            article = self.grid_panel.current_article()
            self.articles.open_photo(self.articles.cover_of(article) if article else None)

    # ================================================================== photo files as a query

    def dragEnterEvent(self: Any, event: QDragEnterEvent) -> None:
        # Photos dragged out of this window (the grid, the results) are for other programs, not a query.
        mime = event.mimeData()
        if event.source() is None and mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self: Any, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self: Any, event: QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.search_files(files)

    def choose_query_files(self: Any) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(image_suffixes()))
        files, _ = QFileDialog.getOpenFileNames(self, "Search by photo files", "", f"Photos ({patterns})")
        if files:
            self.search_files([Path(f) for f in files])

    def search_files(self: Any, files: list[Path]) -> None:
        """Search by photo files that need not be in the catalog (dropped from the file manager)."""
        if self.snapshot is None:
            self.report_error(
                "No catalog is open",
                InputError(
                    "Open a photo folder first; dropped photos are compared with the articles of the open catalog."
                ),
            )
        else:
            self.search.ask_files(files, before=self.close_detail)

    # ================================================================== indexing

    @property
    def last_summary(self: Any) -> IndexSummary | None:
        return self.indexer.last_summary

    def update_index(self: Any) -> None:
        snap = self.snapshot
        if snap is None or self.indexer.running:
            return
        if snap.photo_root is not None and snap.root_ok:
            self.start_index(snap.photo_root, None)
            return
        # The folder was offline when the catalog was last read: look again now (a drive plugged back in),
        # off the UI thread, which a stat of an unmounted share can hold up.
        root = snap.photo_root
        self.catalogs.call(
            folder_reachable, root, snap.root_sample, on_done=lambda ok: self._index_if_back(snap, ok)
        )

    def _index_if_back(self: Any, snap: Snapshot, back: bool) -> None:
        if snap is not self.snapshot or self.indexer.running:
            return
        if back:
            self.reload()  # the banner and the status bar learn that the folder is back
            self.start_index(snap.photo_root, None)
            return
        if self.root_frame.point_out("Update index"):
            return  # the banner says the folder is offline: a dialog per try would only repeat it
        where = f" ({snap.photo_root})" if snap.photo_root else ""
        self.report_error(
            "No photo folder",
            InputError(
                f"The photos of this catalog{where} are not on this computer. Use File ▸ Locate photo folder… "
                "to show where they are, then Update index."
            ),
        )

    def start_index(self: Any, folder: Path, rule: GroupingRule | None) -> None:
        snap = self.snapshot
        options = IndexOptions(batch_size=self.user.batch_size, device=self.user.device)
        if snap is None or not self.indexer.start(snap.location, Path(folder), rule, options):
            return
        self.search.indexing = True
        self._sync()
        self.status.show_indexing()
        self.grid_panel.show_empty_state(snap, True)
        if self.search.info is None and snap.embedded == 0:
            self.similar.show_message("Similar articles", "Search becomes available when indexing finishes.")

    def cancel_index(self: Any) -> None:
        if self.indexer.running:
            self.indexer.cancel()
            self.acts.cancel.setEnabled(False)

    def show_summary(self: Any) -> None:
        self.indexer.show_summary()

    def _index_progress(self: Any, p: Progress) -> None:
        self.status.show_indexing(p)
        self.index_progress.emit(p)

    def _live_refresh(self: Any) -> None:
        snap = self.snapshot
        if snap is not None and len(snap.articles) <= LIVE_REFRESH_MAX_ARTICLES and not self.catalogs.busy():
            self.catalogs.reload()

    def _index_done(self: Any, summary: IndexSummary) -> None:
        self.search.indexing = False
        snap = self.snapshot
        if snap is not None and snap.last_run is not None:
            # The snapshot on show was read while the run worked ("running", which reads as interrupted):
            # until the re-read below lands, it says how the run ended.
            snap.last_run = {**snap.last_run, "status": "cancelled" if summary.cancelled else "done"}
        self._sync()
        changed = summary.new + summary.changed + summary.moved + summary.removed + summary.reembedded
        # Reloading 100,000 vectors takes a while: keep the engine's when the run changed nothing.
        self.search.stale = self.search.stale or bool(changed)
        self.catalogs.reload()
        self.index_finished.emit(summary)

    def _index_failed(self: Any, failure: Failure) -> None:
        self.search.indexing = False
        self.search.stale = True
        self._sync()
        self.report_error("Indexing stopped", failure)
        self.catalogs.reload()  # whatever was committed before the failure is in the catalog: show it
        self.index_failed.emit(failure)

    # ================================================================== settings, colours, zoom

    def open_settings(self: Any) -> None:
        snap = self.snapshot
        choices = catalog_choices(snap.settings, snap.model) if snap is not None else None
        dialog = SettingsDialog(self.user, self.catalogs.runner, choices, self)
        dialog.applied.connect(lambda user, new: self.apply_settings(user, choices, new))
        self.keep(dialog)
        self.settings_dialog = dialog
        dialog.open()

    def apply_settings(
        self: Any, user: UserSettings, old: CatalogChoices | None, new: CatalogChoices | None
    ) -> None:
        try:
            saved = save_user_settings(user, strict=True)
        except UserError as exc:  # the dialog's choices are the user's: say they were not kept
            self.report_error("Settings not saved", exc)
            return
        previous, self.user = self.user, saved
        if self.user.thumb_size != previous.thumb_size:
            self._show_zoom(self.user.thumb_size)
        if self.user.theme != previous.theme:
            self._show_theme(self.user.theme)
        if self.user.device != previous.device:
            self.search.device = self.user.device
            if self.snapshot is not None:
                self.search.load(self.indexer.running)  # the status bar shows the device the session got
        engine = self.snapshot.engine if self.snapshot is not None else None
        if engine is None or old is None or new is None or new == old:
            return
        self.catalogs.call(
            write_catalog_choices,
            engine,
            old,
            new,
            on_done=lambda _c: self._catalog_changed(),
            on_failed=lambda f: self.report_error("Settings not saved", f),
        )

    def _catalog_changed(self: Any) -> None:
        self.catalogs.reload()
        self.keep(ask_update_index(self, self.update_index))

    def set_theme(self: Any, theme: str) -> None:
        self.user.theme = theme
        self.user = save_user_settings(self.user)
        self._show_theme(theme)

    def _show_theme(self: Any, theme: str) -> None:
        apply_theme(QApplication.instance(), theme)
        for a in self.acts.themes.actions():
            a.setChecked(a.data() == theme)
        if self.snapshot is not None:
            self.root_frame.show_for(self.snapshot)
        self.grid_panel.delegate.clear_cache()
        self.similar.delegate.clear_cache()

    def zoom_by(self: Any, step: int) -> None:
        """One step larger (+1) or smaller (-1) thumbnails in the grid and the results together."""
        sizes = list(ZOOM_SIZES)
        now = self.user.thumb_size
        i = min(range(len(sizes)), key=lambda k: abs(sizes[k] - now))
        self.set_zoom(sizes[max(0, min(len(sizes) - 1, i + (1 if step > 0 else -1)))])

    def set_zoom(self: Any, size: int) -> None:
        if size == self.user.thumb_size:
            return
        self.user.thumb_size = size
        self.user = save_user_settings(self.user)
        self._show_zoom(size)

    def _show_zoom(self: Any, size: int) -> None:
        self.thumbs.set_size(size)
        self.grid_panel.set_thumb_size(size)
        self.similar.set_thumb_size(size)

    # ================================================================== results

    def copy_results(self: Any) -> None:
        outcome = self.search.last_outcome
        if outcome is not None and outcome.hits:
            QApplication.clipboard().setText(results_text(outcome))
            self.statusBar().showMessage(f"Copied {len(outcome.hits)} results as a table.", 5000)

    def export_results(self: Any, path: Path | None = None) -> None:
        outcome = self.search.last_outcome
        if outcome is None or not outcome.hits:
            return
        if path is None:
            name = file_name("similar to", *(outcome.query.articles[:1] or ["photos"]), ext="csv")
            path = ask_export_path(self, "Export results", name, "CSV (*.csv)")
            if path is None:
                return
        self.catalogs.call(
            write_results_csv,
            outcome,
            path,
            on_done=lambda n: self.statusBar().showMessage(f"Wrote {n} results to {path}.", 6000),
            on_failed=lambda f: self.report_error("Results not exported", f),
        )

    def sort_by_similarity(self: Any) -> None:
        """Order the grid by similarity to the current question (chosen from the sort box)."""
        query = self.search.query
        if not self.search.rank_all(self._ranked):
            self.grid_panel.similarity_unavailable()
            return
        self.grid_panel.similarity_pending(query.title().removeprefix("Similar to ") if query else "")

    def _ranked(self: Any, ranked: list[str]) -> None:
        self.grid_panel.show_similarity(ranked)
        self.grid_panel.model.set_sort(SIMILAR_SORT)

    def show_about(self: Any) -> None:
        from desktop_app.gui.about import show_about

        self.about_box = show_about(self, self.snapshot, self.status.engine_info, self.user.model)

    def show_shortcuts(self: Any) -> None:
        from desktop_app.gui.detail import DETAIL_KEYS
        from desktop_app.gui.grid_panel import GRID_KEYS
        from desktop_app.gui.results import RESULT_KEYS
        from desktop_app.gui.shortcuts import ShortcutSheet, action_rows, key_rows, menu_rows, window_rows

        rows = (
            menu_rows(self.menuBar())
            + key_rows("Article grid", GRID_KEYS)
            + key_rows("Similar articles", RESULT_KEYS)
            + action_rows("Similar articles", self.similar.view.actions())
            + key_rows("Article detail", DETAIL_KEYS)
            + window_rows()
        )
        sheet = ShortcutSheet(rows, self)
        self.keep(sheet)
        self.shortcut_sheet = sheet
        sheet.open()


__all__ = ["WindowWork"]
