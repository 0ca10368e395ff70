"""The catalog map view: every article as a point, similar articles together, drawn at the level of detail
the zoom allows.

Zoomed out, the articles are coloured dots: all points are drawn by NumPy into one image per frame (a
QPainter call per point would cost 100,000 calls), so a frame costs about the same with 100,000 articles as
with 1,000. Zoomed in far enough that a cover is legible and few enough are on screen, the cover thumbnails
are drawn instead, framed in their colour. The wheel zooms smoothly around the cursor, dragging pans,
Shift+drag draws a lasso, a click selects one article, hovering shows its id and label. The keys zoom (+, -),
fit the whole map (0, Home), pan (arrows) and open the selected article (Enter). The legend is a widget over
the map's corner (`map_legend`); fitting the map leaves it room, so no article starts under it.

The view knows nothing about catalogs: it gets positions, colours, covers and tooltips (`MapPoints`) and
says what the curator selected (`selection_changed`, `lasso_selected`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtCore import (
    QAbstractAnimation,
    QEvent,
    QPoint,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QToolTip,
    QWidget,
)

from desktop_app.core.layout import points_in_polygon
from desktop_app.gui.map_keys import MAP_KEYS, MapKeys
from desktop_app.gui.map_legend import MapLegend, shown_colours
from desktop_app.gui.map_points import THUMB_UNITS, MapPoints, PointsItem, argb, scene_positions

HOVER_PX = 6  # how near the cursor must be to a dot for its tooltip
TIP_ARTICLES = 8  # articles listed in one tooltip (more at one place are counted)
ZOOM_STEP = 1.0018  # per wheel-delta unit: one notch (120) zooms by about a quarter
ZOOM_MS = 110  # a wheel notch's zoom is spread over this long
DRAG_PX = 4  # a press that moves less than this is a click
LEGEND_GAP = 8  # pixels between the legend and the nearest article when the map is fitted


# ============================================================================ the view


class MapView(MapKeys, QGraphicsView):
    """Zoom, pan, click, lasso and hover over a `PointsItem`."""

    selection_changed = Signal(list)  # articles the curator selected on the map (click or lasso)
    lasso_selected = Signal(list)  # the articles inside a lasso that just closed
    activated = Signal(str)  # an article double-clicked
    zoomed = Signal(float)  # the scale (pixels per scene unit) after a zoom step

    def __init__(self, thumb: Callable[[str], QPixmap | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.points = PointsItem(thumb)
        self.scene().addItem(self.points)
        self.lasso_item = QGraphicsPathItem()
        self.lasso_item.setZValue(10)
        self.scene().addItem(self.lasso_item)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setMouseTracking(True)
        # The map's keys (0, +, arrows) are for whoever works on it: a click or the wheel there takes the
        # focus, else a key meant for the map went to the results beside it (0 took back a decision).
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.keys: list[str] = []
        self.tips: list[str] = []
        self._row: dict[str, int] = {}
        self._tree = None
        self._fan_tree = None
        self._press: QPointF | None = None
        self._panning = False
        self._lasso: list[QPointF] | None = None
        self._lasso_adds = False
        self._zoom_anim = QVariantAnimation(self)
        self._zoom_anim.setDuration(ZOOM_MS)
        self._zoom_anim.valueChanged.connect(self._zoom_tick)
        self._zoom_anim.finished.connect(self._zoom_done)
        self._zoom_from = 1.0
        self._zoom_to = 1.0
        self._zoom_anchor = (QPointF(), QPointF())
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(40)
        self._repaint.timeout.connect(self.viewport().update)
        self.legend: list[tuple[str, str, int]] = []
        self.caption = ""
        self.legend_box = MapLegend(self)  # a child of the view, not of the viewport, which scrolls
        self.legend_box.folded_changed.connect(lambda _f: self._legend_changed())
        self._colours = np.zeros(0, dtype=np.uint32)  # the groups' colours as given (shown adapted)
        self._current: str | None = None  # the article last clicked: what Enter opens
        self.at_fit = True  # the view shows the fitted map (not zoomed or panned since): keep it fitted
        self._apply_palette()

    # ------------------------------------------------------------ data

    def set_points(self, data: MapPoints, keep_view: bool = False) -> None:
        before = self.selected_keys()
        pos = scene_positions(data.xy)
        self.keys, self.tips = list(data.keys), list(data.tips)
        self._row = {k: i for i, k in enumerate(self.keys)}
        self._colours = np.asarray(data.colours, dtype=np.uint32)
        self.points.set_points(pos, shown_colours(self._colours, self._background()), data.covers)
        self._tree, self._fan_tree = _trees(pos, self.points.fan) if len(self.keys) else (None, None)
        b = self.points.boundingRect()
        span = max(b.width(), b.height(), 1.0)
        # Room to pan well past the edges in every direction, whatever the zoom.
        self.setSceneRect(b.adjusted(-4 * span, -4 * span, 4 * span, 4 * span))
        self.set_selection(before)
        if not keep_view:
            self.fit()

    def set_colours(self, colours: np.ndarray) -> None:
        self._colours = np.asarray(colours, dtype=np.uint32)
        self.points.set_colours(shown_colours(self._colours, self._background()))

    # ------------------------------------------------------------ palette

    def _background(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Base)

    def _apply_palette(self) -> None:
        """Background, marks, lasso and dots in the palette on show (the dark one included)."""
        pal, bg = self.palette(), self._background()
        self.setBackgroundBrush(bg)
        self.points.background = 0xFF000000 | (bg.rgb() & 0xFFFFFF)
        self.points.selected_ring = pal.color(QPalette.ColorRole.Text)
        accent = pal.color(QPalette.ColorRole.Highlight)
        self.lasso_item.setPen(QPen(accent, 0, Qt.PenStyle.DashLine))
        self.lasso_item.setBrush(QColor(accent.red(), accent.green(), accent.blue(), 40))
        if self._colours.size:
            self.points.set_colours(shown_colours(self._colours, bg))
        else:
            self.points.changed()
        self.legend_box.update()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()

    def set_selection(self, keys: Iterable[str]) -> None:
        """Show these articles as selected (no signal: the caller knows)."""
        sel = np.zeros(len(self.keys), dtype=bool)
        rows = [self._row[k] for k in keys if k in self._row]
        sel[rows] = True
        if not np.array_equal(sel, self.points.selected):
            self.points.set_marks(selected=sel)

    def selected_keys(self) -> list[str]:
        return [self.keys[i] for i in np.flatnonzero(self.points.selected)] if self.keys else []

    def set_highlight(self, query: Iterable[str], results: Iterable[str]) -> None:
        """Mark a search: its query articles and its results."""
        mark = np.zeros(len(self.keys), dtype=np.int8)
        mark[[self._row[k] for k in results if k in self._row]] = 1
        mark[[self._row[k] for k in query if k in self._row]] = 2
        self.points.set_marks(highlight=mark)

    def highlighted_keys(self) -> list[str]:
        return [self.keys[i] for i in np.flatnonzero(self.points.highlight)] if self.keys else []

    # ------------------------------------------------------------ zoom

    @property
    def scale_(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        """The whole map in the view, clear of the legend: over the full view where no article would fall
        under the legend, else beside it or below it, whichever shows the map larger."""
        b = self.points.boundingRect()
        if b.isEmpty():
            return
        self._zoom_anim.stop()
        self.points.zooming = False
        vp = QRectF(self.viewport().rect())
        best = None
        for area in self._fit_areas(vp):
            s = min(area.width() / b.width(), area.height() / b.height())
            if s > 0 and (best is None or s > best[0]):
                if area == vp and self._legend_covers_points(s, vp):
                    continue
                best = (s, area)
        if best is None:
            best = (min(vp.width() / b.width(), vp.height() / b.height()), vp)
        s, area = best
        self.setTransform(QTransform.fromScale(s, s))
        # Put the map's centre at the area's centre (centerOn puts a scene point at the view's centre).
        shift = (vp.center() - area.center()) / s
        self.centerOn(b.center() + shift)
        self.at_fit = True

    def _fit_areas(self, vp: QRectF) -> list[QRectF]:
        """Where the map may go: the whole view, the part right of the legend, the part below it."""
        if not self.legend_box.isVisible():
            return [vp]
        g = QRectF(self.legend_box.geometry().translated(-self.viewport().pos()))
        return [
            vp,
            QRectF(g.right() + LEGEND_GAP, vp.top(), vp.right() - g.right() - LEGEND_GAP, vp.height()),
            QRectF(vp.left(), g.bottom() + LEGEND_GAP, vp.width(), vp.bottom() - g.bottom() - LEGEND_GAP),
        ]

    def _legend_covers_points(self, s: float, vp: QRectF) -> bool:
        """Whether, fitted at scale s over the whole view, any article would lie under the legend."""
        b = self.points.boundingRect()
        g = QRectF(self.legend_box.geometry().translated(-self.viewport().pos()))
        g = g.adjusted(-LEGEND_GAP, -LEGEND_GAP, LEGEND_GAP, LEGEND_GAP)
        px = (self.points.pos_ - (b.center().x(), b.center().y())) * s + (vp.center().x(), vp.center().y())
        inside = (
            (px[:, 0] >= g.left())
            & (px[:, 0] <= g.right())
            & (px[:, 1] >= g.top())
            & (px[:, 1] <= g.bottom())
        )
        return bool(inside.any())

    def centre_on(self, key: str) -> None:
        i = self._row.get(key)
        if i is not None:
            self.centerOn(QPointF(*self.points.pos_[i]))

    def zoom_by(self, factor: float, at: QPointF | None = None, animate: bool = True) -> None:
        """Zoom by a factor around a viewport point (default: the centre), smoothly unless `animate` is off."""
        at = QPointF(self.viewport().rect().center()) if at is None else QPointF(at)
        self.at_fit = False
        running = self._zoom_anim.state() == QAbstractAnimation.State.Running
        target = self._clamp_scale((self._zoom_to if running else self.scale_) * factor)
        self._zoom_anchor = (at, self.mapToScene(at.toPoint()))
        if not animate:
            self._zoom_anim.stop()
            self.points.zooming = False
            self._apply_scale(target)
            return
        self._zoom_anim.stop()
        self.points.zooming = True
        self._zoom_from, self._zoom_to = self.scale_, target
        self._zoom_anim.setStartValue(0.0)
        self._zoom_anim.setEndValue(1.0)
        self._zoom_anim.start()

    def _zoom_tick(self, value: float) -> None:
        # Interpolate in log-scale, so every tick of the animation zooms by the same factor.
        s = self._zoom_from * (self._zoom_to / self._zoom_from) ** float(value)
        self._apply_scale(s)

    def _zoom_done(self) -> None:
        self.points.zooming = False
        self.viewport().update()  # the crisp picture at the final scale

    def _apply_scale(self, s: float) -> None:
        at, anchor = self._zoom_anchor
        self.setTransform(QTransform.fromScale(s, s))
        # Keep the scene point that was under the cursor under it.
        drift = self.mapToScene(at.toPoint()) - anchor
        self._pan_scene(-drift)
        self.zoomed.emit(s)

    def _clamp_scale(self, s: float) -> float:
        b = self.points.boundingRect()
        vp = self.viewport().rect()
        fit = (
            min(vp.width() / max(b.width(), 1e-9), vp.height() / max(b.height(), 1e-9))
            if not b.isEmpty()
            else 1
        )
        return float(np.clip(s, fit * 0.5, max(fit * 2, 400.0 / THUMB_UNITS)))

    def _pan_scene(self, d: QPointF) -> None:
        """Move the view by a distance in scene units."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(d.x() * self.scale_))
        v.setValue(v.value() + round(d.y() * self.scale_))

    def pan_pixels(self, dx: int, dy: int) -> None:
        self.at_fit = False
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + dx)
        v.setValue(v.value() + dy)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)  # also for wheel events Qt delivers without focusing
        self.at_fit = False
        delta = event.angleDelta().y() or event.pixelDelta().y()
        if delta:
            # Trackpads send many small deltas: those zoom at once; a mouse notch is animated.
            self.zoom_by(ZOOM_STEP**delta, event.position(), animate=abs(delta) >= 60)
        event.accept()

    # ------------------------------------------------------------ mouse

    def _hit(self, viewport_pos: QPointF):
        """The tree to ask (covers are where they are drawn, fanned out), the scene point and the reach."""
        p = self.mapToScene(viewport_pos.toPoint())
        covers = self.points.last_mode == "covers"
        reach = max(HOVER_PX / self.scale_, THUMB_UNITS / 2 if covers else 0)
        return (self._fan_tree if covers else self._tree), (p.x(), p.y()), reach

    def row_at(self, viewport_pos: QPointF) -> int | None:
        """The article under a viewport point (a cover, or a dot within a few pixels), or None."""
        if self._tree is None:
            return None
        tree, p, reach = self._hit(viewport_pos)
        d, i = tree.query(p, 1)
        return int(i) if d <= reach else None

    def rows_at(self, viewport_pos: QPointF) -> list[int]:
        """Every article under a viewport point, nearest first: articles at the same place all count."""
        if self._tree is None:
            return []
        tree, p, reach = self._hit(viewport_pos)
        rows = tree.query_ball_point(p, reach)
        return sorted(rows, key=lambda i: (float(np.hypot(*(tree.data[i] - p))), i))

    def tooltip_at(self, viewport_pos: QPointF) -> str:
        """What the tooltip says at a viewport point: each article there, empty when there is none."""
        rows = self.rows_at(viewport_pos)
        text = "\n\n".join(self.tips[i] for i in rows[:TIP_ARTICLES])
        if len(rows) > TIP_ARTICLES:
            text += f"\n\n… and {len(rows) - TIP_ARTICLES} more here"
        return text

    def viewportEvent(self, event: QEvent) -> bool:
        # The scene answers a tooltip event itself, and with no item tooltip it hides whatever is shown:
        # that took every hover tooltip away as soon as the cursor rested. The map answers it instead.
        if event.type() == QEvent.Type.ToolTip:
            event.setAccepted(self._show_tip(event.pos(), event.globalPos()))
            return True
        return super().viewportEvent(event)

    def _show_tip(self, pos: QPoint, global_pos: QPoint) -> bool:
        """Show the tooltip for a viewport point (or hide it where there is no article); whether shown."""
        text = self.tooltip_at(QPointF(pos))
        if text:
            QToolTip.showText(global_pos, text, self.viewport())
        else:
            QToolTip.hideText()
        return bool(text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self._press = event.position()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._lasso = [self.mapToScene(event.position().toPoint())]
            self._lasso_adds = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._lasso is not None:
            p = self.mapToScene(event.position().toPoint())
            if (self.mapFromScene(self._lasso[-1]) - event.position().toPoint()).manhattanLength() >= 3:
                self._lasso.append(p)
                path = QPainterPath(self._lasso[0])
                for q in self._lasso[1:]:
                    path.lineTo(q)
                path.closeSubpath()
                self.lasso_item.setPath(path)
        elif self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            moved = event.position() - self._press
            if self._panning or moved.manhattanLength() >= DRAG_PX:
                self._panning = True
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
                self.pan_pixels(-round(moved.x()), -round(moved.y()))
                self._press = event.position()
        else:
            self._hover(event)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        if self._lasso is not None:
            self._close_lasso()
        elif not self._panning and self._press is not None:
            self._click(event)
        self._press, self._panning, self._lasso = None, False, None
        self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position())
        if row is not None:
            self.activated.emit(self.keys[row])
        event.accept()

    def _click(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position())
        keys = self.selected_keys()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if row is None:
                return
            key = self.keys[row]
            keys = [k for k in keys if k != key] if key in keys else [*keys, key]
            self._current = key
        else:
            keys = [self.keys[row]] if row is not None else []
            self._current = keys[0] if keys else None
        self.set_selection(keys)
        self.selection_changed.emit(keys)

    def _close_lasso(self) -> None:
        polygon = np.array([(p.x(), p.y()) for p in self._lasso])
        self.lasso_item.setPath(QPainterPath())
        if polygon.shape[0] < 3:
            return
        inside = np.flatnonzero(points_in_polygon(self.points.pos_, polygon))
        keys = [self.keys[i] for i in inside]
        if self._lasso_adds:
            keys = list(dict.fromkeys(self.selected_keys() + keys))
        self.set_selection(keys)
        self.selection_changed.emit(keys)
        self.lasso_selected.emit(keys)

    def _hover(self, event: QMouseEvent) -> None:
        # Qt sends the tooltip event once the cursor rests; while a tooltip is up it follows the cursor.
        if QToolTip.isVisible():
            self._show_tip(event.position().toPoint(), event.globalPosition().toPoint())

    def thumbnail_ready(self) -> None:
        """A cover arrived: repaint soon (many arrive together; one repaint serves them all)."""
        if self.points.last_mode == "covers" and not self._repaint.isActive():
            self._repaint.start()

    # ------------------------------------------------------------ legend

    def set_legend(self, legend: list[tuple[str, str, int]], caption: str) -> None:
        self.legend, self.caption = legend, caption
        self.legend_box.set_rows(legend, caption)
        self._legend_changed()

    def _legend_changed(self) -> None:
        """The legend's size changed: place it in the corner, and fit again if the map was fitted."""
        box = self.legend_box
        box.adjustSize()
        box.move(self.viewport().pos() + QPoint(box.MARGIN, box.MARGIN))
        box.raise_()
        if self.at_fit:
            self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._legend_changed()


__all__ = ["MAP_KEYS", "MapPoints", "MapView", "PointsItem", "argb", "scene_positions"]


def _trees(pos: np.ndarray, fan: np.ndarray) -> tuple:
    """Nearest-point lookups for the dots and for the fanned-out thumbnails. SciPy is imported here, when
    there are points, not at start-up: an empty map (every catalog open clears it first) then costs the
    window process nothing (its import alone is about 40 MB resident)."""
    from scipy.spatial import cKDTree

    return cKDTree(pos), cKDTree(pos + fan)
