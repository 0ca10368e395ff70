"""The article grid with its filter box, sort order, zoom and article count, and the selection in it.

`GridPanel` only shows the catalog's articles (an `ArticleGridModel` over the snapshot's columns) and
says what the curator did: selected articles, asked to open one (Enter, double-click) or view its photos
(Space), asked for its menu, zoomed (slider, Ctrl+wheel), pressed Delete. Filtering and sorting keep the
selection; a filter that hides the selection says so (`selection_changed`), and a filter that hides an
article the window wants to show is cleared. Articles can be dragged out: their covers as files, their ids
as text.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
)
from PySide6.QtGui import QKeyEvent, QPaintEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QSlider,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails
from desktop_app.core.overview import SORT_KEYS, SORT_LABELS, Snapshot
from desktop_app.core.wording import plural
from desktop_app.gui.delegates import ArticleDelegate
from desktop_app.gui.item_menus import item_menus
from desktop_app.gui.models import SIMILAR_SORT, ArticleGridModel, ArticleRole
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.thumbs import ThumbnailLoader

ZOOM_SIZES = thumbnails.SIZES
# The grid's own keys (the view handles them), for the shortcut sheet.
GRID_KEYS = (
    (("Return", "double-click"), "Open the article's detail"),
    (("Space",), "View the article's photos large"),
    (("Ctrl + wheel",), "Larger or smaller thumbnails"),
    (("right click",), "Open, view, copy, label, inspect, compare"),
)


def articles_text(shown: int, total: int, found: int, indexing: bool) -> str:
    """The article count, the same in the grid and the status bar: articles with photos in the catalog (of
    those found, while an index run is still adding photos), and how many a filter shows."""
    of = f" of {found:,} found" if indexing and found > total else ""
    if shown != total:
        return f"{shown:,} of {total:,} articles{of}"
    return f"{plural(total, 'article')}{of}"


FILTER_DEBOUNCE_MS = 120


BATCHED_LAYOUT_ABOVE = 20_000  # articles


def wheel_zooms(event: QWheelEvent, zoom_requested: SignalInstance) -> bool:
    """Ctrl+wheel in a thumbnail view: one zoom step (+1 larger, -1 smaller) and the event is taken; a plain
    wheel is left to scroll (False)."""
    if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
        return False
    dy = event.angleDelta().y()
    if dy:
        zoom_requested.emit(1 if dy > 0 else -1)
    event.accept()
    return True


SPREAD_SLACK_PX = 6


class GridView(QListView):
    """The article grid: a wrapping, uniform-size list view, so 100,000 cells cost what one screen costs."""

    open_requested = Signal(QModelIndex)
    view_requested = Signal(QModelIndex)  # Space: the article's photos in the lightbox
    delete_pressed = Signal()
    zoom_requested = Signal(int)  # Ctrl + wheel: +1 larger, -1 smaller
    first_paint = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Icon mode, not list mode: in list mode every dataChanged (one per arriving thumbnail) re-lays out
        # all rows, which costs ~25 ms on 25,000 articles; icon mode with static items repaints one cell.
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)  # covers and ids out to other programs
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setAcceptDrops(False)  # photo files dropped on the grid go to the window: search by them
        self.viewport().setAcceptDrops(False)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setBatchSize(2000)  # rows laid out per event-loop turn in batched mode (large grids)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setSpacing(0)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.painted = False
        self.cell = QSize()  # one article's cell; the grid's columns share the width left over

    def set_cell(self, cell: QSize) -> None:
        self.cell = cell
        self._spread()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._spread()

    def _spread(self) -> None:
        """As many columns as fit, sharing the width evenly: no wide empty strip on the right. The width is
        taken as if the scroll bar were shown, so it appearing never changes the columns."""
        if not self.cell.isValid():
            return
        bar = max(
            self.verticalScrollBar().sizeHint().width(),
            self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self),
        )
        # a few pixels to spare: a window manager's style can draw the bar wider than its size hint, and a
        # grid one pixel too wide for the viewport loses a whole column
        width = self.maximumViewportSize().width() - bar - SPREAD_SLACK_PX
        columns = max(1, width // max(self.cell.width(), 1))
        grid = QSize(max(self.cell.width(), width // columns), self.cell.height())
        if grid != self.gridSize():
            self.setGridSize(grid)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.currentIndex().isValid():
                self.open_requested.emit(self.currentIndex())
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            if self.currentIndex().isValid():
                self.view_requested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not wheel_zooms(event, self.zoom_requested):
            super().wheelEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.painted and self.model() is not None and self.model().rowCount() > 0:
            self.painted = True
            self.first_paint.emit()


class GridPanel(QWidget):
    """Filter box, sort order, count and the grid (or a note when there is nothing to show)."""

    selection_changed = Signal()
    open_requested = Signal(str)  # article
    view_requested = Signal(str)  # article: its photos large
    menu_requested = Signal(list, QPoint)  # the selected articles, global position
    delete_pressed = Signal()
    zoom_requested = Signal(int)  # one step larger (+1) or smaller (-1)
    zoom_changed = Signal(int)  # the slider was moved to this thumbnail size
    similarity_wanted = Signal()  # "Similarity to the query" was chosen as the order
    filter_applied = Signal(str)  # the grid now shows the articles of this filter text (typed by the curator)

    def __init__(self, thumbs: ThumbnailLoader, thumb_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        # Short enough to show whole beside the sort and zoom controls at 1366 px; the syntax is in the tip.
        self.filter_edit.setPlaceholderText("Filter: id, label, folder (Ctrl+F)")
        self.filter_edit.setToolTip(
            "Filter the articles (Ctrl+F): words match the id, label or folder;\n"
            "id:, label: or folder: limits a word to one of them (label:colour=red to one field),\n"
            "and several combine: label:bags folder:w/b. Search by words keeps to label: and folder:"
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
        self.sort_combo.addItem("Sort: Similarity to the query", SIMILAR_SORT)
        self.sort_combo.setAccessibleName("Sort order")
        self.sort_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.sort_combo.setMinimumContentsLength(16)
        self.sort_combo.currentIndexChanged.connect(self.apply_sort)
        self.order_btn = QToolButton()
        self.order_btn.setCheckable(True)
        self.order_btn.setAccessibleName("Reverse order")
        self.order_btn.toggled.connect(self._order_toggled)
        self._order_toggled(False)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(0, len(ZOOM_SIZES) - 1)
        self.zoom.setPageStep(1)
        self.zoom.setFixedWidth(90)
        self.zoom.setAccessibleName("Thumbnail size")
        self.zoom.setToolTip("Thumbnail size of the grid and the results (Ctrl + wheel, Ctrl++ / Ctrl+-)")
        self.zoom.valueChanged.connect(lambda i: self.zoom_changed.emit(ZOOM_SIZES[i]))
        self.count_label = QLabel()
        self.count_label.setMinimumWidth(110)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.sort_combo)
        bar.addWidget(self.order_btn)
        bar.addWidget(self.zoom)
        bar.addWidget(self.count_label)
        self._found = 0  # articles the catalog knows, with or without photos yet
        self._indexing = False

        self.model = ArticleGridModel(thumbs, self)
        self.view = GridView()
        self.view.setModel(self.model)
        self.delegate = ArticleDelegate(thumb_size, self.view)
        self.view.setItemDelegate(self.delegate)
        self.set_thumb_size(thumb_size)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.view.open_requested.connect(lambda idx: self.open_requested.emit(model_data(idx, ArticleRole)))
        self.view.doubleClicked.connect(lambda idx: self.open_requested.emit(model_data(idx, ArticleRole)))
        self.view.view_requested.connect(lambda idx: self.view_requested.emit(model_data(idx, ArticleRole)))
        self.view.delete_pressed.connect(self.delete_pressed)
        self.view.zoom_requested.connect(self.zoom_requested)
        item_menus(self.view, self._menu)

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
        self.view.set_cell(self.delegate.cell_size(self.view.font()))
        self.view.setIconSize(QSize(size, size))
        self.view.viewport().update()
        i = min(range(len(ZOOM_SIZES)), key=lambda k: abs(ZOOM_SIZES[k] - size))
        if self.zoom.value() != i:
            self.zoom.blockSignals(True)
            self.zoom.setValue(i)
            self.zoom.blockSignals(False)

    def _menu(self, pos: QPoint) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        if not self.view.selectionModel().isSelected(idx):
            self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.menu_requested.emit(self.selected_articles(), self.view.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------ articles and selection

    def show_snapshot(self, snap: Snapshot, keep: list[str]) -> None:
        # Qt lays out every row of the list (asking the model about each): a quarter of a million articles
        # would freeze the window for a second, so large grids are laid out in batches between events.
        large = len(snap.articles) > BATCHED_LAYOUT_ABOVE
        self.view.setLayoutMode(QListView.LayoutMode.Batched if large else QListView.LayoutMode.SinglePass)
        self.model.set_articles(snap.articles, snap.photo_root)
        self._found = int(snap.counts.get("articles", len(snap.articles)))
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

    def reveal(self, articles: list[str]) -> None:
        """Clear the filter when it hides any of these articles (at once, not again after the typing delay)."""
        if self.filter_edit.text() and any(self.model.row_of(a) < 0 for a in articles):
            self.filter_edit.blockSignals(True)
            self.filter_edit.clear()
            self.filter_edit.blockSignals(False)
            self.apply_filter()

    def select_article(self, article: str) -> bool:
        """Make one article the selection (clearing a filter that hides it); False when it is not there."""
        self.reveal([article])
        row = self.model.row_of(article)
        if row < 0:
            return False
        idx = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def select_articles(self, articles: list[str], reveal: bool = False) -> None:
        """Make these articles (those the filter shows; with `reveal` the filter goes when it hides some) the
        selection, in one change: a lasso on the map may select thousands, and one selection signal per
        article would re-run the search thousands of times."""
        if reveal:
            self.reveal(articles)
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

    def set_filter_text(self, text: str) -> None:
        """Put this text in the filter box and filter by it now (not after the typing delay), keeping no
        selection: for a catalog being opened, before its articles are shown."""
        self.filter_timer.stop()
        self.filter_edit.blockSignals(True)
        self.filter_edit.setText(text)
        self.filter_edit.blockSignals(False)
        self.model.set_filter(text)

    def apply_filter(self) -> None:
        keep = self.selected_articles()
        changed = self.filter_edit.text() != self.model.filter_text
        self.model.set_filter(self.filter_edit.text())
        self._after_reset(keep)
        if changed:
            self.filter_applied.emit(self.model.filter_text)

    def apply_sort(self) -> None:
        key = self.sort_combo.currentData()
        if key == SIMILAR_SORT:
            self.similarity_wanted.emit()  # the window ranks every article by the query, then shows it
            return
        keep = self.selected_articles()
        self.model.set_sort(key, self.order_btn.isChecked())
        self._after_reset(keep)

    def _order_toggled(self, descending: bool) -> None:
        self.order_btn.setText("↓" if descending else "↑")
        self.order_btn.setToolTip(
            "Reversed order (click for the usual order)"
            if descending
            else "Usual order (click to reverse it)"
        )
        if hasattr(self, "model"):
            keep = self.selected_articles()
            self.model.set_sort(self.model.sort_key, descending)
            self._after_reset(keep)

    def similarity_pending(self, query: str) -> None:
        self.sort_combo.setItemText(self.sort_combo.findData(SIMILAR_SORT), f"Sort: Similarity to {query}")

    def similarity_unavailable(self) -> None:
        """No query to rank by: go back to the previous order."""
        self.sort_combo.blockSignals(True)
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(self.model.sort_key)))
        self.sort_combo.blockSignals(False)
        self.count_label.setToolTip("Select an article first: the grid is then ordered by similarity to it.")

    def show_similarity(self, ranked: list[str]) -> None:
        keep = self.selected_articles()
        self.model.set_similarity(ranked)
        self.model.set_sort(SIMILAR_SORT, self.order_btn.isChecked())
        self._after_reset(keep)
        self.view.scrollToTop()

    def _after_reset(self, keep: list[str]) -> None:
        self.view.selectionModel().blockSignals(True)
        try:
            self.select_articles(keep)
        finally:
            self.view.selectionModel().blockSignals(False)
        self.view.viewport().update()
        self.update_count()
        self.show_empty_state(None, False)
        if self.selected_articles() != keep:
            self.selection_changed.emit()  # a filter hid (part of) the selection

    def show_counts(self, snap: Snapshot | None, indexing: bool) -> None:
        self._found = int(snap.counts.get("articles", 0)) if snap is not None else 0
        self._indexing = indexing
        self.update_count()

    def update_count(self) -> None:
        total = len(self.model.data_)
        self.count_label.setText(articles_text(self.model.rowCount(), total, self._found, self._indexing))

    def clear(self) -> None:
        """No catalog: nothing to show."""
        from desktop_app.core.overview import Articles

        self.model.set_articles(Articles.from_overview([]), None)
        self._found = 0
        self.update_count()

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
