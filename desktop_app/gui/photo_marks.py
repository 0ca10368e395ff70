"""What differs between the two photos of a compare, drawn over them (the lightbox, the Duplicates window).

The duplicate finder compares two photos on a coarse grid of cells (`core.fingerprint_changes`); here the
cells that differ become outlined regions over each photo (not filled: a tint would change the very
colours a curator compares), and on the photo that shows more of the scene a dashed rectangle frames the
part the other one shows (a crop). In the lightbox the marks are children of the photo's pixmap item, so
they zoom and pan with it (`mark`); a still preview has them painted on (`paint`). They are drawn in fixed
colours, since they lie on a photo rather than on the palette.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap, QRegion, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from desktop_app.core.fingerprint_changes import Changes

CHANGED = QColor(255, 0, 170)  # magenta: rare in catalogue photos, seen on white and on dark garments
FRAME = QColor(0, 190, 255)


def changed_path(cells: np.ndarray, width: int, height: int) -> QPainterPath:
    """The outline of the changed cells [n, n] over a picture of width x height pixels: runs of cells along
    each row joined into one region, its outline simplified."""
    n_rows, n_cols = cells.shape
    region = QRegion()
    for r in range(n_rows):
        row = np.concatenate([[False], cells[r], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(row))
        for start, stop in zip(edges[0::2], edges[1::2]):
            region = region.united(QRegion(QRect(int(start), r, int(stop - start), 1)))
    path = QPainterPath()
    path.addRegion(region)
    return QTransform.fromScale(width / n_cols, height / n_rows).map(path.simplified())


def mark(parent: QGraphicsItem, changes: Changes, width: int, height: int) -> list[QGraphicsItem]:
    """The marks of one photo as children of its pixmap item (width x height pixels)."""
    items: list[QGraphicsItem] = []
    if changes.cells.any():
        shape = QGraphicsPathItem(changed_path(changes.cells, width, height), parent)
        shape.setPen(_pen(CHANGED, Qt.PenStyle.SolidLine))
        items.append(shape)
    if changes.frame is not None:
        box = QGraphicsRectItem(_frame_rect(changes.frame, width, height), parent)
        box.setPen(_pen(FRAME, Qt.PenStyle.DashLine))
        items.append(box)
    return items


def paint(pixmap: QPixmap, changes: Changes) -> QPixmap:
    """A copy of a photo's pixmap with its marks painted on."""
    out = QPixmap(pixmap)
    w, h = out.width(), out.height()
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if changes.cells.any():
        painter.setPen(_pen(CHANGED, Qt.PenStyle.SolidLine))
        painter.drawPath(changed_path(changes.cells, w, h))
    if changes.frame is not None:
        painter.setPen(_pen(FRAME, Qt.PenStyle.DashLine))
        painter.drawRect(_frame_rect(changes.frame, w, h))
    painter.end()
    return out


def legend(changed: bool, framed: bool) -> str:
    """What the marks on show mean ("" for none)."""
    parts = ["magenta: where the photos differ"] if changed else []
    return " · ".join(parts + (["dashed: the part the other photo shows"] if framed else []))


def _frame_rect(frame: tuple[float, float, float, float], width: int, height: int) -> QRectF:
    left, top, right, bottom = frame
    return QRectF(left * width, top * height, (right - left) * width, (bottom - top) * height)


def _pen(colour: QColor, style: Qt.PenStyle) -> QPen:
    pen = QPen(colour, 2, style)
    pen.setCosmetic(True)  # two screen pixels at any zoom
    return pen


__all__ = ["changed_path", "legend", "mark", "paint"]
