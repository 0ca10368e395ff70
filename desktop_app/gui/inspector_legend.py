"""The match inspector's colour legend: the similarity scale, the threshold s on it, and the pair marks.

The sample marks are drawn by `inspector_paint.paint_mark`, the function that draws them on the matrix.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QLinearGradient, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from desktop_app.gui.inspector_model import BELOW, BEYOND, USED, format_sim, ramp_rgb
from desktop_app.gui.inspector_paint import STRIKE, method_colour, paint_mark


class ColourLegend(QWidget):
    """The colour scale with its values, the threshold s on it, and what each pair mark means."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lo, self.hi = 0.0, 1.0
        self.flat: float | None = None  # every cell holds this value: no range to show
        self.threshold: float | None = None
        self.methods: list[str] = ["greedy"]
        self.setMinimumSize(280, 118)

    def set_scale(self, lo: float, hi: float, flat: float | None = None) -> None:
        """The colour range; `flat` when every cell holds one value (then the bar is that one colour and
        says the value: a range around it would be made up)."""
        self.lo, self.hi, self.flat = lo, hi, flat
        self.update()

    def set_threshold(self, threshold: float | None) -> None:
        self.threshold = threshold
        self.update()

    def set_methods(self, methods: list[str]) -> None:
        self.methods = methods
        self.update()

    def scale_labels(self) -> list[tuple[float, str]]:
        """The values written under the bar, each with where it sits on it (0 left, 1 right)."""
        if self.flat is not None:
            return [(0.0, f"every pair: {format_sim(self.flat)}")]
        return [(f, format_sim(self.lo + (self.hi - self.lo) * f)) for f in (0.0, 0.5, 1.0)]

    def sizeHint(self) -> QSize:
        return QSize(320, 118)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        ink = self.palette().color(QPalette.ColorRole.WindowText)  # readable on the window, light or dark
        fm = QFontMetrics(self.font())
        bar = QRect(8, 6, self.width() - 16, 14)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        steps = 16
        values = (
            np.linspace(self.lo, self.hi, steps + 1) if self.flat is None else np.full(steps + 1, self.flat)
        )
        for k, rgb in enumerate(ramp_rgb(values, self.lo, self.hi)):
            grad.setColorAt(k / steps, QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
        p.fillRect(bar, QBrush(grad))
        p.setPen(self.palette().color(QPalette.ColorRole.Mid))
        p.drawRect(bar)
        p.setPen(ink)
        ty = bar.bottom() + 2 + fm.ascent()
        for frac, text in self.scale_labels():
            x = bar.left() + frac * bar.width() - fm.horizontalAdvance(text) * frac
            p.drawText(QPoint(int(x), ty), text)
        if self.threshold is not None and self.hi > self.lo and self.flat is None:
            # s outside the colour range still gets a mark, pinned to the end it lies beyond.
            frac = min(max((self.threshold - self.lo) / (self.hi - self.lo), 0.0), 1.0)
            x = bar.left() + frac * bar.width()
            p.setPen(QPen(STRIKE, 2))
            p.drawLine(int(x), bar.top() - 3, int(x), bar.bottom() + 3)
            label = f"s {format_sim(self.threshold)}"
            lx = min(
                max(x - fm.horizontalAdvance(label) / 2, bar.left()),
                bar.right() - fm.horizontalAdvance(label),
            )
            p.drawText(QPoint(int(lx), ty + fm.height()), label)
        # Key: one sample cell per mark, drawn by the same code as the matrix.
        y0 = ty + fm.height() + 8
        size = 30
        colour = method_colour(self.methods[0] if self.methods else "greedy")
        samples = [(USED, "counts"), (BELOW, "below s"), (BEYOND, "beyond m"), (None, "unpaired")]
        x = 8
        base = ramp_rgb(np.array([self.lo + 0.7 * (self.hi - self.lo)]), self.lo, self.hi)[0]
        for state, text in samples:
            cell = QRect(x, y0, size, size)
            fill = QColor(int(base[0]), int(base[1]), int(base[2]))
            if state is None:
                fill = QColor(
                    int(base[0] * 0.28 + 226 * 0.72),
                    int(base[1] * 0.28 + 226 * 0.72),
                    int(base[2] * 0.28 + 226 * 0.72),
                )
            p.fillRect(cell, fill)
            if state is not None:
                paint_mark(p, cell, state, colour)
            p.setPen(ink)
            p.drawText(QPoint(x + size + 4, y0 + size // 2 + fm.ascent() // 2 - 1), text)
            x += size + 8 + fm.horizontalAdvance(text) + 10
        if len(self.methods) > 1:
            x = 8
            y = y0 + size + 6
            for m in self.methods:
                p.setPen(QPen(method_colour(m), 3))
                p.drawLine(x, y + fm.ascent() // 2 + 1, x + 18, y + fm.ascent() // 2 + 1)
                p.setPen(ink)
                p.drawText(QPoint(x + 24, y + fm.ascent()), m)
                x += 24 + fm.horizontalAdvance(m) + 16
        p.end()

    def minimumSizeHint(self) -> QSize:
        return QSize(280, 118)


__all__ = ["ColourLegend"]
