"""Painting for the match inspector: the cell delegate, the photo headers and the table.

Everything here only draws what `MatrixModel` says (colour, pair state, greyed, highlighted); none of it
decides which pairs exist. The pair marks are drawn by one function, `paint_mark`, that the legend
(`inspector_legend`) reuses, so the legend can never disagree with the matrix.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from desktop_app.gui.inspector_model import (
    BELOW,
    BEYOND,
    HIGHLIGHT_COL,
    HIGHLIGHT_ROW,
    USED,
    GreyRole,
    HighlightRole,
    MatrixModel,
)

# One colour per method, so two panes side by side are told apart at a glance; all are warm or dark so
# they stand out on the blue-green heatmap, and every mark also gets a white halo for the darkest cells.
METHOD_COLOURS = {
    "greedy": QColor("#e8590c"),
    "hungarian": QColor("#d6336c"),
    "ordered": QColor("#9c36b5"),
    "max": QColor("#212529"),
    "centroid": QColor("#495057"),
}
STRIKE = QColor("#e03131")
LEFT_OUT = QColor("#868e96")
HIGHLIGHT = QColor("#ffd43b")
HIGHLIGHT_EDGE = QColor("#343a40")
HEADER_BG = QColor("#f8f9fa")
HEADER_GREY = QColor("#e2e4e7")
HEADER_HIGHLIGHT = QColor("#ffe8a3")

MIN_TEXT_CELL = 24  # below this many pixels a cell shows colour only; the hover panel gives the number
MIN_LABEL_CELL = 34  # pair labels ("(2)", "back") need a bit more room than the value


def method_colour(method: str) -> QColor:
    return METHOD_COLOURS.get(method, QColor("#212529"))


def _halo_pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> tuple[QPen, QPen]:
    halo = QPen(QColor(255, 255, 255, 230), width + 2.0)
    halo.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen = QPen(colour, width, style)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return halo, pen


def paint_mark(painter: QPainter, rect: QRect, state: int, colour: QColor, label: str = "") -> None:
    """Draw one chosen pair's mark in a cell: solid frame (counts), struck through (below s), m badge."""
    cell = min(rect.width(), rect.height())
    width = max(2.0, cell / 20.0)
    inset = width / 2 + 2
    frame = QRectF(rect).adjusted(inset, inset, -inset - 1, -inset - 1)
    radius = max(2.0, cell / 10.0)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    style = Qt.PenStyle.SolidLine if state == USED else Qt.PenStyle.DashLine
    halo, pen = _halo_pen(colour if state != BELOW else LEFT_OUT, width, style)
    for p in (halo, pen):
        painter.setPen(p)
        painter.drawRoundedRect(frame, radius, radius)
    if state == BELOW:
        # The strike goes through the middle of the number, like crossed-out text.
        y = rect.center().y() + 0.5
        halo, pen = _halo_pen(STRIKE, max(2.0, cell / 22.0))
        for p in (halo, pen):
            painter.setPen(p)
            painter.drawLine(QRectF(rect).left() + cell * 0.14, y, QRectF(rect).right() - cell * 0.14, y)
    if state == BEYOND and cell >= 18:
        _badge(painter, rect, "m", QColor("#212529"), QColor("white"), corner="right")
    if label and cell >= MIN_LABEL_CELL:
        _badge(
            painter,
            rect,
            label,
            QColor(255, 255, 255, 225),
            colour if state == USED else LEFT_OUT,
            corner="left",
        )
    painter.restore()


def _badge(painter: QPainter, rect: QRect, text: str, fill: QColor, ink: QColor, corner: str) -> None:
    cell = min(rect.width(), rect.height())
    font = QFont(painter.font())
    font.setPixelSize(max(8, min(12, int(cell * 0.19))))
    font.setBold(True)
    fm = QFontMetrics(font)
    text = fm.elidedText(text, Qt.TextElideMode.ElideRight, max(10, rect.width() - 14))
    w, h = fm.horizontalAdvance(text) + 6, fm.height() + 1
    x = rect.left() + 3 if corner == "left" else rect.right() - w - 3
    box = QRectF(x, rect.top() + 3, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(box, 3, 3)
    painter.setFont(font)
    painter.setPen(ink)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def paint_highlight(painter: QPainter, rect: QRect, flags: int) -> None:
    """The clicked photo's row gets lines along its top and bottom, a column along its sides."""
    painter.save()
    r = rect.adjusted(1, 1, -2, -2)
    # Yellow on a dark edge reads on the palest and the darkest cells alike, and no method uses yellow.
    for pen in (QPen(HIGHLIGHT_EDGE, 5), QPen(HIGHLIGHT, 3)):
        painter.setPen(pen)
        if flags & HIGHLIGHT_ROW:
            painter.drawLine(r.topLeft(), r.topRight())
            painter.drawLine(r.bottomLeft(), r.bottomRight())
        if flags & HIGHLIGHT_COL:
            painter.drawLine(r.topLeft(), r.bottomLeft())
            painter.drawLine(r.topRight(), r.bottomRight())
    painter.restore()


class CellDelegate(QStyledItemDelegate):
    """Paints heatmap cells: colour, value, the pair mark of the model's method, the highlight.

    Qt may call `paint` per cell like for any delegate. `MatrixView` instead calls `paint_base` for every
    cell once into a cached layer and `paint_cell` only for the cells that carry a pair mark: a Python call
    per cell costs about 14 microseconds of dispatch alone, too much for 900 cells in one frame.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cell = 64

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.cell, self.cell)

    def value_font(self, base: QFont, cell: int, bold: bool = False) -> QFont:
        font = QFont(base)
        font.setPixelSize(max(8, min(16, int(cell * 0.24))))
        font.setBold(bold)
        return font

    @staticmethod
    def paint_base(
        painter: QPainter, rect: QRect, bg: QColor, ink: QColor, text: str, show_text: bool
    ) -> None:
        """Colour and value of one cell; the caller has set the font (once for all cells)."""
        # A one-pixel gap on the right and bottom works as the grid: white lines that never cover a mark.
        painter.fillRect(rect.adjusted(0, 0, -1, -1), bg)
        if show_text:
            painter.setPen(ink)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def paint_cell(
        self,
        painter: QPainter,
        rect: QRect,
        font: QFont,
        method: str,
        cell: tuple[QColor, QColor, str, tuple[int, int, str] | None, int],
    ) -> None:
        """One whole cell: base, value in bold when its pair counts, the pair mark, the highlight."""
        bg, ink, text, pair, flags = cell
        size = min(rect.width(), rect.height())
        painter.save()
        painter.setFont(self.value_font(font, size, bold=pair is not None and pair[1] == USED))
        self.paint_base(painter, rect, bg, ink, text, size >= MIN_TEXT_CELL)
        if pair is not None:
            _rank, state, label = pair
            paint_mark(painter, rect, state, method_colour(method), label)
        if flags:
            paint_highlight(painter, rect, flags)
        painter.restore()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = index.model()
        if not isinstance(model, MatrixModel):
            super().paint(painter, option, index)
            return
        # Ask the Python model directly rather than through index.data(): no QVariant round trip per role,
        # and the pair tuple stays a Python object.
        self.paint_cell(
            painter, option.rect, option.font, model.method, model.cell_paint(index.row(), index.column())
        )


class PhotoHeader(QHeaderView):
    """Row or column header that shows each photo's thumbnail (or its name when there is no photo)."""

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self.setSectionsClickable(True)
        self.setHighlightSections(False)
        self.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setMinimumSectionSize(8)
        self._scaled: dict[tuple[int, int, int], QPixmap] = {}

    def paintSection(self, painter: QPainter, rect: QRect, logical: int) -> None:
        model = self.model()
        if model is None or not rect.isValid():
            return
        o = self.orientation()
        pix = model.headerData(logical, o, Qt.ItemDataRole.DecorationRole)
        name = model.headerData(logical, o, Qt.ItemDataRole.DisplayRole) or ""
        grey = bool(model.headerData(logical, o, GreyRole))
        lit = bool(model.headerData(logical, o, HighlightRole))
        painter.save()
        painter.fillRect(rect, HEADER_HIGHLIGHT if lit else HEADER_GREY if grey else HEADER_BG)
        painter.setPen(QColor("#ced4da"))
        painter.drawLine(rect.topRight(), rect.bottomRight())
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        inner = rect.adjusted(3, 3, -4, -4)
        number = str(logical + 1)
        font = QFont(self.font())
        font.setPixelSize(max(8, min(12, int(min(rect.width(), rect.height()) * 0.22))))
        fm = QFontMetrics(font)
        painter.setFont(font)
        if isinstance(pix, QPixmap) and not pix.isNull() and inner.width() > 4 and inner.height() > 4:
            scaled = self._fit(pix, inner.size())
            x = inner.left() + (inner.width() - scaled.width()) // 2
            y = inner.top() + (inner.height() - scaled.height()) // 2
            if grey:
                painter.setOpacity(0.4)  # an unpaired photo fades, like its row or column in the matrix
            painter.drawPixmap(x, y, scaled)
            painter.setOpacity(1.0)
            # The number keeps "row 2" and "(2, 3)" in the panels findable when photos look alike.
            box = QRect(inner.left(), inner.top(), fm.horizontalAdvance(number) + 6, fm.height())
            painter.fillRect(box, QColor(255, 255, 255, 210))
            painter.setPen(QColor("#343a40"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, number)
        else:
            painter.setPen(QColor("#868e96") if grey else QColor("#212529"))
            bold = QFont(font)
            bold.setBold(True)
            text = f"{number}  {name}" if o == Qt.Orientation.Vertical else name
            elided = fm.elidedText(text, Qt.TextElideMode.ElideMiddle, inner.width())
            if o == Qt.Orientation.Horizontal and inner.height() >= 2 * fm.height():
                painter.setFont(bold)
                painter.drawText(
                    QRect(inner.left(), inner.top(), inner.width(), fm.height()),
                    Qt.AlignmentFlag.AlignCenter,
                    number,
                )
                painter.setFont(font)
                # Column names wrap onto the lines below the number: a cell is narrower than most names.
                below = inner.adjusted(0, fm.height() + 1, 0, 0)
                flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
                needed = fm.boundingRect(below, flags, name)
                if needed.height() > below.height() or needed.width() > below.width():
                    name = fm.elidedText(name, Qt.TextElideMode.ElideMiddle, below.width())
                painter.drawText(below, flags, name)
            else:
                painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
        if lit:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for pen in (QPen(HIGHLIGHT_EDGE, 5), QPen(HIGHLIGHT, 3)):
                painter.setPen(pen)
                painter.drawRect(rect.adjusted(2, 2, -3, -3))
        painter.restore()

    def _fit(self, pix: QPixmap, size: QSize) -> QPixmap:
        # Headers repaint on every scroll step; scaling each thumbnail once per size keeps that cheap.
        key = (pix.cacheKey(), size.width(), size.height())
        hit = self._scaled.get(key)
        if hit is None:
            if len(self._scaled) > 400:
                self._scaled.clear()
            hit = pix.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self._scaled[key] = hit
        return hit


class MatrixView(QTableView):
    """The heatmap table: photo headers, the cell delegate, zoom by cell size, hover reports."""

    hovered = Signal(int, int)  # row, column under the mouse; -1, -1 when it leaves the matrix
    zoom_requested = Signal(int)  # +1 / -1 steps from Ctrl + mouse wheel
    cell_activated = Signal(int, int)  # double-click on a cell: its two photos side by side
    cell_menu = Signal(int, int, QPoint)  # right click on a cell: row, column, global position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeader(PhotoHeader(Qt.Orientation.Horizontal, self))
        self.setVerticalHeader(PhotoHeader(Qt.Orientation.Vertical, self))
        self.delegate = CellDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setShowGrid(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCornerButtonEnabled(False)
        self.setMouseTracking(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setStyleSheet("QTableView { background: white; border: none; }")
        self.viewport().installEventFilter(self)
        self.entered.connect(lambda ix: self.hovered.emit(ix.row(), ix.column()))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self._layer: QPixmap | None = None
        self._layer_key: tuple | None = None
        self._marks: dict[tuple, QPixmap] = {}
        self._warming = False

    def mouseDoubleClickEvent(self, event) -> None:
        # The cells are not selectable, so the view's own doubleClicked never fires: ask the position.
        ix = self.indexAt(event.position().toPoint())
        if ix.isValid() and event.button() == Qt.MouseButton.LeftButton:
            self.cell_activated.emit(ix.row(), ix.column())
            return
        super().mouseDoubleClickEvent(event)

    def _menu(self, pos: QPoint) -> None:
        ix = self.indexAt(pos)
        if ix.isValid():
            self.cell_menu.emit(ix.row(), ix.column(), self.viewport().mapToGlobal(pos))

    def set_cell_size(self, cell: int, row_header: int, col_header: int) -> None:
        """Zoom: cells are cell x cell pixels; the headers get the given depth for thumbnails or names."""
        self.delegate.cell = cell
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setDefaultSectionSize(cell)
            header.setMinimumSectionSize(min(cell, 8))
        self.horizontalHeader().setFixedHeight(col_header)
        self.verticalHeader().setFixedWidth(row_header)
        self.updateGeometries()
        self.viewport().update()

    def full_size(self) -> QSize:
        """The size that shows every cell without scrolling (for the PNG export)."""
        model = self.model()
        rows = model.rowCount() if model else 0
        cols = model.columnCount() if model else 0
        cell = self.delegate.cell
        frame = 2 * self.frameWidth()
        return QSize(
            self.verticalHeader().width() + cols * cell + frame + 1,
            self.horizontalHeader().height() + rows * cell + frame + 1,
        )

    def paintEvent(self, event) -> None:
        """All cells in one pass: a cached layer of colours and values, then pair marks and highlights.

        The layer only changes with the cell size, the scroll position (for large matrices) or the greyed
        rows and columns, so moving s or m repaints one pixmap plus at most min(n_a, n_b) marked cells.
        """
        model = self.model()
        if not isinstance(model, MatrixModel) or not model.rowCount() or not model.columnCount():
            super().paintEvent(event)
            return
        vp = self.viewport()
        cell = self.delegate.cell
        n_a, n_b = model.rowCount(), model.columnCount()
        hoff, voff = self.horizontalOffset(), self.verticalOffset()
        c0, c1 = max(0, hoff // cell), min(n_b - 1, (hoff + vp.width()) // cell)
        r0, r1 = max(0, voff // cell), min(n_a - 1, (voff + vp.height()) // cell)
        painter = QPainter(vp)
        painter.fillRect(event.rect(), QColor("white"))
        layer, (lr0, lc0) = self._base_layer(model, cell, r0, r1, c0, c1)
        painter.drawPixmap(lc0 * cell - hoff, lr0 * cell - voff, layer)
        for i, j in model.pair_cells:
            if r0 <= i <= r1 and c0 <= j <= c1:
                painter.drawPixmap(j * cell - hoff, i * cell - voff, self._marked_cell(model, i, j, cell))
        hl_row, hl_col = model.highlight
        if hl_row is not None and r0 <= hl_row <= r1:
            for j in range(c0, c1 + 1):
                paint_highlight(
                    painter, QRect(j * cell - hoff, hl_row * cell - voff, cell, cell), HIGHLIGHT_ROW
                )
        if hl_col is not None and c0 <= hl_col <= c1:
            for i in range(r0, r1 + 1):
                paint_highlight(
                    painter, QRect(hl_col * cell - hoff, i * cell - voff, cell, cell), HIGHLIGHT_COL
                )
        painter.end()

    def _marked_cell(
        self, model: MatrixModel, i: int, j: int, cell: int, pair: tuple[int, int, str] | None = None
    ) -> QPixmap:
        # Antialiased marks cost ~0.2 ms each in the software rasteriser; a move of s or m changes the state
        # of some pairs only, so every other marked cell comes from this cache.
        bg, ink, text, current, _flags = model.cell_paint(i, j)
        pair = pair or current
        dpr = self.viewport().devicePixelRatioF()
        key = (id(model), i, j, model.base_version, model.method, pair, cell, dpr)
        hit = self._marks.get(key)
        if hit is None:
            if len(self._marks) > 4000:
                self._marks.clear()
            hit = QPixmap(max(1, int(cell * dpr)), max(1, int(cell * dpr)))
            hit.setDevicePixelRatio(dpr)
            hit.fill(QColor("white"))
            p = QPainter(hit)
            self.delegate.paint_cell(
                p, QRect(0, 0, cell, cell), self.font(), model.method, (bg, ink, text, pair, 0)
            )
            p.end()
            self._marks[key] = hit
            if not self._warming:
                # Once the view is on screen, draw the other states of every pair while the curator looks,
                # so that the first drag of s or m finds them ready.
                self._warming = True
                QTimer.singleShot(0, self, self._warm_marks)
        return hit

    def _warm_marks(self) -> None:
        model = self.model()
        self._warming = False
        if not isinstance(model, MatrixModel):
            return
        cell = self.delegate.cell
        self._warming = True  # the renders below must not schedule another round
        try:
            for i, j in model.pair_cells:
                current = model.pair_at(i, j)
                if current is None:
                    continue
                for state in (USED, BELOW, BEYOND):
                    self._marked_cell(model, i, j, cell, (current[0], state, current[2]))
        finally:
            self._warming = False

    def _base_layer(
        self, model: MatrixModel, cell: int, r0: int, r1: int, c0: int, c1: int
    ) -> tuple[QPixmap, tuple[int, int]]:
        n_a, n_b = model.rowCount(), model.columnCount()
        dpr = self.viewport().devicePixelRatioF()
        # Small enough: one layer for the whole matrix, so scrolling is a plain blit. Otherwise only the
        # visible cells, re-made when the view scrolls (still one Python pass, not one call per cell).
        if n_a * n_b * cell * cell * dpr * dpr <= 2048 * 2048:
            r0, r1, c0, c1 = 0, n_a - 1, 0, n_b - 1
        key = (id(model), model.base_version, cell, dpr, r0, r1, c0, c1)
        if key != self._layer_key or self._layer is None:
            w, h = (c1 - c0 + 1) * cell, (r1 - r0 + 1) * cell
            layer = QPixmap(max(1, int(w * dpr)), max(1, int(h * dpr)))
            layer.setDevicePixelRatio(dpr)
            layer.fill(QColor("white"))
            p = QPainter(layer)
            p.setFont(self.delegate.value_font(self.font(), cell))
            show_text = cell >= MIN_TEXT_CELL
            paint_base = self.delegate.paint_base
            base_paint = model.base_paint
            for i in range(r0, r1 + 1):
                y = (i - r0) * cell
                for j in range(c0, c1 + 1):
                    bg, ink, text = base_paint(i, j)
                    paint_base(p, QRect((j - c0) * cell, y, cell, cell), bg, ink, text, show_text)
            p.end()
            self._layer, self._layer_key = layer, key
        return self._layer, (r0, c0)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.viewport():
            if event.type() == QEvent.Type.Leave:
                self.hovered.emit(-1, -1)
            elif (
                event.type() == QEvent.Type.Wheel and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            ):
                self.zoom_requested.emit(1 if event.angleDelta().y() > 0 else -1)
                return True
        return super().eventFilter(obj, event)


__all__ = [
    "BEYOND",
    "BELOW",
    "CellDelegate",
    "METHOD_COLOURS",
    "MatrixModel",
    "MatrixView",
    "PhotoHeader",
    "method_colour",
    "paint_highlight",
    "paint_mark",
]
