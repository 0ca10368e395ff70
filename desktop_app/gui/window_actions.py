"""The main window's actions with their shortcuts, its menus and its toolbar, and when each is enabled.

The shortcut sheet (Help ▸ Keyboard shortcuts) is made from these menus, so every key listed here is
listed there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from desktop_app.core.overview import catalog_title
from desktop_app.core.settings import THEMES
from desktop_app.gui.history import HistoryState
from desktop_app.gui.settings_dialog import THEME_TITLES


class WindowActions:
    """Every QAction of the main window; `sync` enables them for the window's state."""

    def __init__(self, w: Any) -> None:
        self.window: QMainWindow = w
        act = self._act
        # ---- File
        self.open_folder = act(
            "Open photo folder…",
            w.catalogs.choose_folder,
            "Ctrl+O",
            "Open a folder of photos; a catalog is made for it if it has none",
        )
        self.open_catalog = act(
            "Open catalog file…", w.catalogs.choose_catalog, "Ctrl+Shift+O", "Open a catalog file"
        )
        self.open_shared = act(
            "Open shared catalog…",
            w.catalogs.choose_shared,
            "Ctrl+Alt+O",
            "Open a catalog your team shares on a PostgreSQL server",
        )
        self.close_catalog = act("Close catalog", w.close_catalog, "Ctrl+W")
        self.search_photo = act(
            "Search by photo file…",
            w.choose_query_files,
            "Ctrl+Shift+F",
            "Find the articles most similar to photo files from anywhere",
        )
        self.update = act(
            "Update index", w.update_index, "Ctrl+U", "Index new and changed photos; resumes a cancelled run"
        )
        self.cancel = act("Cancel indexing", w.cancel_index, None, "Stop indexing after the current batch")
        self.summary = act("Last index summary…", w.show_summary)
        self.locate = act(
            "Locate photo folder…",
            w.catalogs.locate_photos,
            None,
            "Tell Lookalike where this catalog's photos are on this computer",
        )
        self.settings = act(
            "Settings…",
            w.open_settings,
            QKeySequence.StandardKey.Preferences,
            "Model, device, grouping, photo fit, thumbnails, colours",
        )
        if self.settings.shortcut().isEmpty():
            self.settings.setShortcut(QKeySequence("Ctrl+,"))
        self.quit = act("Quit", w.close, QKeySequence.StandardKey.Quit)
        # ---- Edit
        self.undo = act(
            "Undo",
            w.history.undo,
            QKeySequence.StandardKey.Undo,
            "Take back your latest label edit or match decision",
        )
        self.redo = act("Redo", w.history.redo, QKeySequence.StandardKey.Redo, "Do again what Undo took back")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.copy_results = act(
            "Copy results",
            w.copy_results,
            "Ctrl+Shift+C",
            "Copy the similar articles (article, score, pairs) for a spreadsheet",
        )
        self.export_results = act(
            "Export results…", w.export_results, None, "Save the similar articles as a CSV file"
        )
        # ---- View
        self.filter = act(
            "Filter articles",
            w.focus_filter,
            QKeySequence.StandardKey.Find,
            "Filter the grid by article id, label or folder",
        )
        self.detail = act("Article detail", w.open_current_detail, None, "Show all photos of the article")
        self.back = act("Back to catalog", w.close_detail, "Esc")
        # Esc belongs to the detail page only: elsewhere it must reach dialogs and the filter box.
        self.back.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.detail.addAction(self.back)
        w.removeAction(self.back)
        self.view_photos = act(
            "View photos",
            w.view_current_photos,
            None,
            "The selected article's photos large, one by one (Space in the grid)",
        )
        self.open_photo = act("Open photo in system viewer", w.open_current_photo, "Ctrl+Return")
        self.zoom_in = act("Larger thumbnails", lambda: w.zoom_by(1), QKeySequence.StandardKey.ZoomIn)
        self.zoom_out = act("Smaller thumbnails", lambda: w.zoom_by(-1), QKeySequence.StandardKey.ZoomOut)
        self.inspect = act(
            "Inspect match",
            w.inspect_current,
            "Ctrl+I",
            "Open the match inspector for the query and the selected result",
        )
        self.compare = act(
            "Compare photos",
            w.compare_current,
            "Ctrl+Shift+I",
            "The query's and the selected result's best photos side by side",
        )
        self.show_hit = act(
            "Show result in catalog", w.show_current_hit, "Ctrl+G", "Select the selected result in the grid"
        )
        self.duplicates = act(
            "Find duplicates…",
            w.open_duplicates,
            "Ctrl+Shift+D",
            "Duplicate photos and products listed twice, judged side by side",
        )
        self.themes = QActionGroup(w)
        for theme in THEMES:
            a = QAction(THEME_TITLES[theme], w)
            a.setCheckable(True)
            a.setData(theme)
            a.setChecked(theme == w.user.theme)
            a.triggered.connect(lambda _c=False, t=theme: w.set_theme(t))
            self.themes.addAction(a)
        # ---- Match
        self.show_rejected = act(
            "Show “not a match” results",
            w.similar.rejected_check.toggle,
            None,
            "List results you decided are not a match with the query too",
        )
        self.show_rejected.setCheckable(True)
        w.similar.rejected_check.toggled.connect(self.show_rejected.setChecked)
        self.learn = act(
            "Learn from my decisions…",
            w.decisions.open_adapter_dialog,
            None,
            "Teach search which differences matter in this catalog",
        )
        self.use_adapter = act(
            "Use learned similarity",
            lambda: w.decisions.use_adapter(self.use_adapter.isChecked()),
            None,
            "Search with what Lookalike learned from your decisions (off: the model's own)",
        )
        self.use_adapter.setCheckable(True)
        self.import_decisions = act(
            "Import decisions…",
            w.decisions.import_decisions,
            None,
            "Match decisions from a CSV file (article_a, article_b, decision), as one undoable step",
        )
        self.export_decisions = act(
            "Export decisions…", w.decisions.export_decisions, None, "Every match decision as a CSV file"
        )
        # ---- Labels
        labels = w.labels
        self.review = act(
            "Review label suggestions…",
            labels.open_review,
            "Ctrl+L",
            "Suggested labels for unlabelled articles, from their most similar labelled ones",
        )
        self.set_label = act(
            "Set label…", labels.set_label, "Ctrl+E", "Set or clear a label on the selected articles"
        )
        self.import_labels = act(
            "Import labels…", labels.import_labels, None, "Labels from a CSV file or from folder names"
        )
        self.export_labels = act(
            "Export labels…", labels.export_labels, None, "Write all labels as CSV or JSON"
        )
        self.inbox = act(
            "Add photos from another folder…",
            labels.add_inbox,
            None,
            "Copy new photos into the catalog's inbox folder and index them",
        )
        # ---- Help
        self.shortcuts = act("Keyboard shortcuts", w.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        if self.shortcuts.shortcut().isEmpty():
            self.shortcuts.setShortcut(QKeySequence("F1"))
        self.about = act(
            "About Lookalike", w.show_about, None, "Version, the model in use, where your files are, licences"
        )
        self.map = w.map.toggle_action  # the catalog map tab
        self._menus()
        self.toolbar = self._toolbar()

    def _act(self, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self.window)
        a.setProperty("sheet_name", text)  # Undo and Redo change their text ("Undo set label"); not this
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(
            lambda _checked=False, fn=slot: fn()
        )  # slots take their own defaults, not `checked`
        self.window.addAction(a)
        return a

    def _menus(self) -> None:
        bar = self.window.menuBar()
        w = self.window
        self.recent_menu = QMenu("Recent catalogs", w)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.theme_menu = QMenu("Colours", w)
        self.theme_menu.addActions(self.themes.actions())
        decisions = list(w.similar.decision_actions.values())
        layout = {
            "&File": (
                self.open_folder,
                self.open_catalog,
                self.open_shared,
                self.recent_menu,
                self.close_catalog,
                None,
                self.search_photo,
                None,
                self.update,
                self.cancel,
                self.summary,
                None,
                self.locate,
                self.settings,
                None,
                self.quit,
            ),
            "&Edit": (self.undo, self.redo, None, self.copy_results, self.export_results),
            "&View": (
                self.filter,
                self.detail,
                self.back,
                self.view_photos,
                self.open_photo,
                None,
                self.zoom_in,
                self.zoom_out,
                None,
                self.inspect,
                self.compare,
                self.show_hit,
                None,
                self.duplicates,
                self.map,
                None,
                self.theme_menu,
            ),
            "&Match": (
                *decisions,
                None,
                self.show_rejected,
                None,
                self.learn,
                self.use_adapter,
                None,
                self.import_decisions,
                self.export_decisions,
            ),
            "&Labels": (
                self.review,
                self.set_label,
                None,
                self.import_labels,
                self.export_labels,
                None,
                self.inbox,
            ),
            "&Help": (self.shortcuts, None, self.about),
        }
        self.menus: dict[str, QMenu] = {}
        for title, actions in layout.items():
            menu = bar.addMenu(title)
            self.menus[title.replace("&", "")] = menu
            for a in actions:
                if a is None:
                    menu.addSeparator()
                elif isinstance(a, QMenu):
                    menu.addMenu(a)
                else:
                    menu.addAction(a)

    def _fill_recent(self) -> None:
        from desktop_app.gui.catalog_controller import recent_catalogs

        self.recent_menu.clear()
        current = self.window.snapshot.location if self.window.snapshot is not None else None
        for where in recent_catalogs():
            a = self.recent_menu.addAction(f"{catalog_title(where)}  —  {where}")
            a.setEnabled(where != current)
            a.triggered.connect(lambda _c=False, x=where: self.window.open_catalog(x))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("No recent catalogs").setEnabled(False)

    def _toolbar(self) -> QToolBar:
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (
            self.open_folder,
            self.update,
            self.cancel,
            None,
            self.review,
            self.learn,
            None,
            self.settings,
        ):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.window.addToolBar(tb)
        return tb

    def sync(self, has_catalog: bool, indexing: bool, has_summary: bool, root_missing: bool = False) -> None:
        self.update.setEnabled(has_catalog and not indexing)
        self.cancel.setEnabled(indexing)
        self.summary.setEnabled(has_summary)
        for a in (
            self.filter,
            self.detail,
            self.review,
            self.set_label,
            self.import_labels,
            self.export_labels,
            self.close_catalog,
            self.search_photo,
            self.locate,
            self.view_photos,
            self.open_photo,
            self.learn,
            self.show_rejected,
            self.import_decisions,
            self.export_decisions,
            self.duplicates,
            self.map,
            self.back,
            self.zoom_in,
            self.zoom_out,
        ):
            a.setEnabled(has_catalog)
        self.inbox.setEnabled(has_catalog and not indexing and not root_missing)
        self.sync_results(has_catalog)
        if not has_catalog:
            self.use_adapter.setEnabled(False)
            self.use_adapter.setChecked(False)

    def sync_results(self, has_catalog: bool = True) -> None:
        """Actions on the similar panel's results: enabled when there are results (and one is selected)."""
        panel = self.window.similar
        has_hit = has_catalog and panel.selected_hit() is not None
        for a in (self.inspect, self.compare, self.show_hit):
            a.setEnabled(has_hit)
        has_hits = has_catalog and panel.model.rowCount() > 0
        self.copy_results.setEnabled(has_hits)
        self.export_results.setEnabled(has_hits)

    def show_history(self, state: HistoryState) -> None:
        """Edit ▸ Undo and Redo say what they would take back or do again (history.EditHistory)."""
        self.undo.setText(state.undo_text)
        self.undo.setEnabled(state.can_undo)
        self.redo.setText(state.redo_text)
        self.redo.setEnabled(state.can_redo)

    def sync_adapter(self, status: dict | None) -> None:
        stored = bool(status and status.get("stored"))
        self.use_adapter.setEnabled(stored)
        self.use_adapter.setChecked(bool(status and status.get("active")))


__all__ = ["WindowActions"]
