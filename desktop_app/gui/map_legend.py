"""The catalog map's legend, and the map's colours for the palette on show.

The legend is a widget of its own over the map's top-left corner, not paint in the view's foreground: a pan
scrolls the view's pixels, which dragged copies of a foreground legend across the map, and a click on the
legend must stay on it rather than select a dot hidden behind it. A click on its caption folds it to that
one line (and back), for a curator who wants the corner's articles.

The colour groups' colours read on the light and the dark background alike (core/map_picture.py). On a dark
background the view shows each colour as it reads there (`shown_colour`): a colour too dark to see (one a
caller brings) is lightened to the contrast graphics need, and the greys of "other" and "unlabelled", meant
to recede, keep the contrast with the dark background they have with white (3:1 or more), instead of
becoming the brightest dots of the map.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QWidget

from desktop_app.gui import theme

GRAPHICS_CONTRAST = 3.0  # WCAG's contrast for graphics that must be seen: a dot against the background
DARK_BACKGROUND = 0.2  # a background darker than this luminance gets its colours adapted
GREY_SPREAD = 12  # channels this close together make a grey


def shown_colour(colour: QColor, background: QColor) -> QColor:
    """How a group's colour is drawn on this background: itself on a light one; on a dark one, a grey with
    the contrast it has on white, any other colour lightened until it reads (>= 3:1)."""
    if theme.luminance(background) >= DARK_BACKGROUND:
        return QColor(colour)
    rgb = (colour.red(), colour.green(), colour.blue())
    if max(rgb) - min(rgb) <= GREY_SPREAD:
        on_white = theme.contrast(colour, QColor("white"))
        target = (theme.luminance(background) + 0.05) * on_white - 0.05
        level = _grey_level(max(0.0, target))
        return QColor(level, level, level)
    shown = QColor(colour)
    for t in np.linspace(0.1, 1.0, 10):
        if theme.contrast(shown, background) >= GRAPHICS_CONTRAST:
            break
        shown = theme.blend(colour, QColor("white"), float(t))
    return shown


def shown_colours(colours: np.ndarray, background: QColor) -> np.ndarray:
    """`shown_colour` over an array of 0xAARRGGBB values (each distinct colour worked out once)."""
    values, where = np.unique(np.asarray(colours, dtype=np.uint32), return_inverse=True)
    mapped = np.array(
        [0xFF000000 | (shown_colour(QColor(int(v) & 0xFFFFFF), background).rgb() & 0xFFFFFF) for v in values],
        dtype=np.uint32,
    )
    return mapped[where].reshape(np.shape(colours)) if values.size else np.asarray(colours, dtype=np.uint32)


def _grey_level(lum: float) -> int:
    """The sRGB grey (0-255) with this relative luminance."""
    v = lum * 12.92 if lum <= 0.0031308 else 1.055 * lum ** (1 / 2.4) - 0.055
    return int(round(255 * min(1.0, v)))


class MapLegend(QWidget):
    """The colour groups with their counts under a caption; a click on the caption folds it."""

    folded_changed = Signal(bool)

    MARGIN = 8  # from the map's corner

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, str, int]] = []
        self.caption = ""
        self.folded = False
        # Clicks, drags and the wheel over the legend stay here: they never reach the map behind it.
        self.setAttribute(Qt.WidgetAttribute.WA_NoMousePropagation, True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click the legend to fold it to one line, or to unfold it")
        self.hide()

    def set_rows(self, rows: list[tuple[str, str, int]], caption: str) -> None:
        self.rows, self.caption = list(rows), caption
        self.setVisible(bool(rows or caption))
        self.adjustSize()
        self.update()

    def set_folded(self, folded: bool) -> None:
        if folded != self.folded:
            self.folded = folded
            self.adjustSize()
            self.update()
            self.folded_changed.emit(folded)

    def _line(self) -> int:
        return self.fontMetrics().height() + 3

    def _texts(self) -> list[str]:
        return [f"{v}  ({n:,})" for v, _c, n in self.rows]

    def _head(self) -> str:
        return ("▸ " if self.folded else "▾ ") + self.caption

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        texts = [] if self.folded else self._texts()
        width = max([fm.horizontalAdvance(t) + 24 for t in texts] + [fm.horizontalAdvance(self._head())]) + 18
        height = self._line() * (1 + len(texts)) + 8
        limit = self.parentWidget().height() - 2 * self.MARGIN if self.parentWidget() else height
        return QSize(width, max(self._line() + 8, min(height, limit)))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.set_folded(not self.folded)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def paintEvent(self, event: QPaintEvent) -> None:
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        fill = QColor(base)
        fill.setAlpha(235)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(theme.blend(text, base, 0.7))
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        fm, line = self.fontMetrics(), self._line()
        y = 4.0
        p.setPen(text)
        p.drawText(QPointF(8, y + fm.ascent()), self._head())
        y += line
        if self.folded:
            return
        for (_v, colour, _n), label in zip(self.rows, self._texts()):
            if y + line > self.height():
                break  # taller than the map: the rest is cut (fold it, or enlarge the window)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(shown_colour(QColor(colour), base))
            p.drawEllipse(QRectF(10, y + (fm.height() - 10) / 2, 10, 10))
            p.setPen(text)
            p.drawText(QPointF(28, y + fm.ascent()), label)
            y += line


__all__ = ["MapLegend", "shown_colour", "shown_colours"]
