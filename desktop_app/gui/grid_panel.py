"""The article grid with its filter box, sort order and article count, and the selection in it.

`GridPanel` only shows the catalog's articles (an `ArticleGridModel` over the snapshot's columns) and
says what the curator did: selected articles, asked to open one, pressed Delete. Filtering and sorting
keep the selection; a filter that hides an article the window wants to show is cleared.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.overview import SORT_KEYS, SORT_LABELS, Snapshot
from desktop_app.gui.delegates import ArticleDelegate
from desktop_app.gui.models import ArticleGridModel, ArticleRole
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.thumbs import ThumbnailLoader

FILTER_DEBOUNCE_MS = 120


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


class GridPanel(QWidget):
    """Filter box, sort order, count and the grid (or a note when there is nothing to show)."""

    selection_changed = Signal()
    open_requested = Signal(str)  # article
    delete_pressed = Signal()

    def __init__(self, thumbs: ThumbnailLoader, thumb_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(
            "Filter by article id, label or folder   (Ctrl+F;  id:  label:  folder:)"
        )
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_timer = QTimer(self)
        self.filter_timer.setSingleShot(True)
        self.filter_timer.setInterval(FILTER_DEBOUNCE_MS)
        self.filter_timer.timeout.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(lambda _t: self.filter_timer.start())
        self.filter_edit.returnPressed.connect(self._filter_return)
        self.sort_combo = QComboBox()
        for key in SORT_KEYS:
            self.sort_combo.addItem(f"Sort: {SORT_LABELS[key]}", key)
        self.sort_combo.currentIndexChanged.connect(self.apply_sort)
        self.count_label = QLabel()
        self.count_label.setMinimumWidth(150)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.count_label)

        self.model = ArticleGridModel(thumbs, self)
        self.view = GridView()
        self.view.setModel(self.model)
        self.delegate = ArticleDelegate(thumb_size, self.view)
        self.view.setItemDelegate(self.delegate)
        self.set_thumb_size(thumb_size)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.view.open_requested.connect(lambda idx: self.open_requested.emit(model_data(idx, ArticleRole)))
        self.view.doubleClicked.connect(lambda idx: self.open_requested.emit(model_data(idx, ArticleRole)))
        self.view.delete_pressed.connect(self.delete_pressed)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); font-size: 14px;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 0)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)

    def set_thumb_size(self, size: int) -> None:
        self.delegate.set_thumb_size(size)
        self.view.setGridSize(self.delegate.cell_size(self.view.font()))
        self.view.setIconSize(QSize(size, size))
        self.view.viewport().update()

    # ------------------------------------------------------------ articles and selection

    def show_snapshot(self, snap: Snapshot, keep: list[str]) -> None:
        self.model.set_articles(snap.articles, snap.photo_root)
        self.update_count()
        if keep:
            self.select_articles(keep)
        elif self.model.rowCount() > 0 and not self.view.selectionModel().hasSelection():
            self.view.setCurrentIndex(self.model.index(0, 0))

    def selected_articles(self) -> list[str]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [self.model.article_at(r) for r in rows]

    def current_article(self) -> str | None:
        idx = self.view.currentIndex()
        return model_data(idx, ArticleRole) if idx.isValid() else None

    def select_article(self, article: str) -> bool:
        """Make one article the selection (clearing a filter that hides it); False when it is not there."""
        if self.model.row_of(article) < 0 and self.filter_edit.text():
            self.filter_edit.blockSignals(True)
            self.filter_edit.clear()
            self.filter_edit.blockSignals(False)
            self.apply_filter()
        row = self.model.row_of(article)
        if row < 0:
            return False
        idx = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def select_articles(self, articles: list[str]) -> None:
        """Make these articles (those the filter shows) the selection, in one change: a lasso on the map may
        select thousands, and one selection signal per article would re-run the search thousands of times."""
        rows = [r for r in (self.model.row_of(a) for a in articles) if r >= 0]
        sm = self.view.selectionModel()
        if not rows:
            sm.clearSelection()
            return
        selection = QItemSelection()
        for lo, hi in _runs(sorted(set(rows))):
            selection.select(self.model.index(lo, 0), self.model.index(hi, 0))
        first = self.model.index(rows[0], 0)
        sm.setCurrentIndex(
            first, QItemSelectionModel.SelectionFlag.NoUpdate
        )  # moves the cursor, selects nothing
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(first)

    # ------------------------------------------------------------ filter and sort

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _filter_return(self) -> None:
        self.filter_timer.stop()
        self.apply_filter()
        self.view.setFocus()
        if self.model.rowCount() and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.model.index(0, 0))

    def apply_filter(self) -> None:
        keep = self.selected_articles()
        self.model.set_filter(self.filter_edit.text())
        self._after_reset(keep)

    def apply_sort(self) -> None:
        keep = self.selected_articles()
        self.model.set_sort(self.sort_combo.currentData())
        self._after_reset(keep)

    def _after_reset(self, keep: list[str]) -> None:
        self.view.selectionModel().blockSignals(True)
        try:
            self.select_articles(keep)
        finally:
            self.view.selectionModel().blockSignals(False)
        self.view.viewport().update()
        self.update_count()
        self.show_empty_state(None, False)

    def update_count(self) -> None:
        total = len(self.model.data_)
        shown = self.model.rowCount()
        self.count_label.setText(
            f"{total:,} articles" if shown == total else f"{shown:,} of {total:,} articles"
        )

    def show_empty_state(self, snap: Snapshot | None, indexing: bool) -> None:
        """The grid, or a note saying why it is empty (indexing, no photos yet, a filter matching nothing)."""
        total = len(self.model.data_)
        if total == 0 and indexing:
            self._note(
                "Indexing the photos…\nThe articles appear here as they are indexed. "
                "You can cancel at any time: what is indexed so far is kept."
            )
        elif total == 0 and snap is not None:
            folder = f" {snap.photo_root}" if snap.photo_root else ""
            self._note(
                f"This catalog has no photos yet.\nUse Update index (Ctrl+U) to index its photo folder{folder}."
            )
        elif total > 0 and self.model.rowCount() == 0:
            self._note(
                f"No article matches “{self.filter_edit.text()}”.\n"
                "Try part of an article id, a label or a folder name, or clear the filter."
            )
        elif total > 0:
            self.stack.setCurrentWidget(self.view)

    def _note(self, text: str) -> None:
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


__all__ = ["GridPanel", "GridView"]
