"""The main window's panes, laid out once (as Qt Designer's `setupUi` does): the welcome page, the articles'
grid and an article's detail page in a tab widget that the catalog map joins, the similar panel beside them,
the indexing banner and the photo-folder warning above, and the status bar.

`build_panes(window)` sets them as the window's attributes; what they do is wired in `mainwindow`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QStatusBar, QTabWidget, QVBoxLayout, QWidget

from desktop_app.gui.detail import DetailPage
from desktop_app.gui.grid_panel import GridPanel
from desktop_app.gui.root_warning import PhotoFolderWarning
from desktop_app.gui.similar_panel import SimilarPanel
from desktop_app.gui.status_panel import StatusPanel
from desktop_app.gui.welcome import WelcomePage


def build_panes(window: Any) -> None:
    """Make the window's panes (it already has its `thumbs`, `user` settings and `indexer`)."""
    window.welcome = WelcomePage()
    window.loading = QLabel("Opening the catalog…")
    window.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.grid_panel = GridPanel(window.thumbs, window.user.thumb_size)
    window.grid, window.grid_model = window.grid_panel.view, window.grid_panel.model
    window.filter_edit = window.grid_panel.filter_edit
    # The window's own signal, first of the grid's listeners: whoever follows the selection (the map) hears
    # of it before the window asks the similar panel the new question.
    window.grid_panel.selection_changed.connect(window.selection_changed)
    window.detail = DetailPage(window.thumbs)
    window.pages = QStackedWidget()
    window.pages.addWidget(window.grid_panel)
    window.pages.addWidget(window.detail)
    window.similar = SimilarPanel(window.thumbs, window.user.thumb_size)
    window.splitter = QSplitter(Qt.Orientation.Horizontal)
    window.splitter.addWidget(_left_side(window))
    window.splitter.addWidget(window.similar)
    window.splitter.setStretchFactor(0, 3)
    window.splitter.setStretchFactor(1, 2)
    window.splitter.setSizes([window.width() * 3 // 5, window.width() * 2 // 5])
    window.splitter.setChildrenCollapsible(False)
    window.stack = QStackedWidget()
    for page in (window.welcome, window.loading, window.splitter):
        window.stack.addWidget(page)
    window.setCentralWidget(window.stack)
    window.setStatusBar(QStatusBar())
    window.status = StatusPanel(window.statusBar())


def _left_side(window: Any) -> QWidget:
    """The banners over the articles' tabs."""
    window.banner = window.indexer.banner
    left = QWidget()
    column = QVBoxLayout(left)
    column.setContentsMargins(0, 0, 0, 0)
    # Shown while the photo folder cannot be found, with "Locate photo folder…".
    window.root_frame = PhotoFolderWarning()
    window.root_warning, window.locate_btn = window.root_frame.label, window.root_frame.locate_button
    for banner in (window.banner, window.root_frame):
        column.addWidget(banner)
    # The catalog map opens as a tab beside the articles (MapController adds it): as a dock under them it
    # left the grid one row and the results a strip at 1366x768.
    window.left_tabs = QTabWidget()
    window.left_tabs.setDocumentMode(True)
    window.left_tabs.setTabBarAutoHide(True)  # no tab bar while the articles are the only tab
    window.left_tabs.addTab(window.pages, "Articles")
    column.addWidget(window.left_tabs, 1)
    return left


__all__ = ["build_panes"]
