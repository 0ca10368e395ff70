"""The main window's actions with their shortcuts, its menus and its toolbar, and when each is enabled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar


class WindowActions:
    """Every QAction of the main window; `sync` enables them for the window's state."""

    def __init__(self, w: Any) -> None:
        self.window: QMainWindow = w
        act = self._act
        self.open_folder = act("Open photo folder…", w.catalogs.choose_folder, "Ctrl+Shift+O",
                               "Open a folder of photos; a catalog is made for it if it has none")  # fmt: skip
        self.open_catalog = act("Open catalog…", w.catalogs.choose_catalog, None, "Open a catalog file")
        self.update = act(
            "Update index", w.update_index, "Ctrl+U", "Index new and changed photos; resumes a cancelled run"
        )
        self.cancel = act("Cancel indexing", w.cancel_index, None, "Stop indexing after the current batch")
        self.settings = act("Settings…", w.open_settings, QKeySequence.StandardKey.Preferences,
                            "Model, device, grouping, photo fit, thumbnails")  # fmt: skip
        if self.settings.shortcut().isEmpty():
            self.settings.setShortcut(QKeySequence("Ctrl+,"))
        self.quit = act("Quit", w.close, QKeySequence.StandardKey.Quit)
        self.filter = act("Filter articles", w.focus_filter, QKeySequence.StandardKey.Find,
                          "Filter the grid by article id, label or folder")  # fmt: skip
        self.inspect = act("Inspect match", w.inspect_current, "Ctrl+I",
                           "Open the match inspector for the query and the selected result")  # fmt: skip
        self.detail = act("Article detail", w.open_current_detail, None, "Show all photos of the article")
        self.back = act("Back to catalog", w.close_detail, "Esc")
        # Esc belongs to the detail page only: elsewhere it must reach dialogs and the filter box.
        self.back.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.detail.addAction(self.back)
        w.removeAction(self.back)
        self.open_photo = act("Open photo", w.detail.open_current, "Ctrl+O")
        self.summary = act("Last index summary…", w.show_summary)
        labels = w.labels
        self.review = act("Review label suggestions…", labels.open_review, "Ctrl+L",
                          "Suggested labels for unlabelled articles, from their most similar labelled ones")  # fmt: skip
        self.set_label = act(
            "Set label…", labels.set_label, "Ctrl+E", "Set or clear a label on the selected articles"
        )
        self.import_labels = act(
            "Import labels…", labels.import_labels, None, "Labels from a CSV file or from folder names"
        )
        self.export_labels = act(
            "Export labels…", labels.export_labels, None, "Write all labels as CSV or JSON"
        )
        self.inbox = act("Add photos from another folder…", labels.add_inbox, None,
                         "Copy new photos into the catalog's inbox folder and index them")  # fmt: skip
        self.map = w.map.toggle_action  # the catalog map dock
        self._menus()
        self.toolbar = self._toolbar()

    def _act(self, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self.window)
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
        layout = {
            "&File": (self.open_folder, self.open_catalog, None, self.update, self.cancel, self.summary, None,
                      self.settings, None, self.quit),
            "&View": (self.filter, self.detail, self.back, self.open_photo, None, self.inspect, self.map),
            "&Labels": (self.review, self.set_label, None, self.import_labels, self.export_labels, None,
                        self.inbox),
        }  # fmt: skip
        for title, actions in layout.items():
            menu = bar.addMenu(title)
            for a in actions:
                menu.addSeparator() if a is None else menu.addAction(a)

    def _toolbar(self) -> QToolBar:
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (self.open_folder, self.update, self.cancel, None, self.settings):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.window.addToolBar(tb)
        return tb

    def sync(self, has_catalog: bool, indexing: bool, has_summary: bool) -> None:
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
            self.map,
        ):
            a.setEnabled(has_catalog)
        self.inbox.setEnabled(has_catalog and not indexing)


__all__ = ["WindowActions"]
