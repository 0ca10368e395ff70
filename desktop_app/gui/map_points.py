"""The catalog map's points: one QGraphicsItem that draws every article, as dots or as covers.

Zoomed out, all dots are stamped by NumPy into one image of the screen (a QPainter call per point would
cost 100,000 calls a frame); the image is kept, so a pan draws it shifted and a zoom animation draws it
scaled, and a new one is made once the zoom settles. Zoomed in far enough that a cover is legible and few
enough are on screen, the cover thumbnails are drawn instead, framed in their colour. Selected articles
and the similar panel's search are marked over the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop_app.core.map_picture import MARK_QUERY, MARK_RESULT

THUMB_UNITS = 1.15  # a cover's side in scene units (1 unit = the median distance between map neighbours)
MIN_THUMB_PX = 30  # covers are drawn from this size on...
COINCIDENT_UNITS = 0.05  # articles nearer than this (a twentieth of the usual spacing) share one place...
FAN_UNITS = 0.35  # ...and their covers are drawn this far apart, so each one shows
MAX_THUMBS = 500  # ...when at most this many are on screen (each is a drawPixmap call)
SELECTED = QColor("#111111")
HIGHLIGHT = QColor(MARK_RESULT)  # reserved: no colour group gets these (core/map_picture.py)
QUERY = QColor(MARK_QUERY)


@dataclass
class _DotCache:
    image: QImage
    rect: QRectF  # the scene rectangle the picture covers
    scale: float
    version: int


@dataclass
class MapPoints:
    """What the view shows: one row per article."""

    keys: list[str]
    xy: np.ndarray  # float [N, 2] layout positions (any units; the view rescales them)
    colours: np.ndarray  # uint32 [N] 0xAARRGGBB
    covers: list[str | None]  # thumbnail path per article (None: no cover)
    tips: list[str]  # tooltip text per article


def argb(hex_colours: Sequence[str]) -> np.ndarray:
    """'#rrggbb' strings as opaque 0xAARRGGBB values."""
    return np.array([0xFF000000 | int(h.lstrip("#")[:6], 16) for h in hex_colours], dtype=np.uint32)


def scene_positions(xy: np.ndarray) -> np.ndarray:
    """Layout positions in scene units: centred, and scaled so that the median distance from an article to
    its nearest neighbour on the map is 1 (sizes of dots and covers are then independent of the method)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if xy.shape[0] < 2:
        return xy - xy.mean(axis=0) if xy.shape[0] else xy
    from scipy.spatial import cKDTree  # here, not at start-up: an empty map needs none of SciPy

    d, _ = cKDTree(xy).query(xy, 2)
    step = float(np.median(d[:, 1]))
    if step <= 0:
        step = float(np.ptp(xy, axis=0).max()) / np.sqrt(xy.shape[0]) or 1.0
    return (xy - xy.mean(axis=0)) / step


def fan_offsets(pos: np.ndarray, reach: float | None = None) -> np.ndarray:
    """Offsets (scene units) that fan out articles at (nearly) the same place, like a spread hand of cards,
    so that each of their covers shows; zero for every other article. Two photos of one product in two
    colours can get the very same position, and one cover would hide the other at any zoom."""
    n = pos.shape[0]
    out = np.zeros((n, 2), dtype=np.float64)
    if n < 2:
        return out
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(pos).query_pairs(reach or COINCIDENT_UNITS, output_type="ndarray")
    if len(pairs) == 0:
        return out
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    for members in np.split(order, starts[1:]):
        m = len(members)
        if m < 2:
            continue
        step = min(FAN_UNITS, 2 * THUMB_UNITS / (m - 1))  # a big stack stays within two covers' width
        k = np.arange(m) - (m - 1) / 2
        out[members, 0] = k * step
        out[members, 1] = k * step / 2
    return out


class PointsItem(QGraphicsItem):
    """All the map's articles in one item: dots or covers, the selection and the highlighted search."""

    def __init__(self, thumb: Callable[[str], QPixmap | None]) -> None:
        super().__init__()
        self.thumb = thumb
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.pos_ = np.zeros((0, 2), dtype=np.float64)
        self.fan = np.zeros((0, 2), dtype=np.float64)
        self.colours = np.zeros(0, dtype=np.uint32)
        self.covers: list[str | None] = []
        self.selected = np.zeros(0, dtype=bool)
        self.highlight = np.zeros(0, dtype=np.int8)  # 1: a search result, 2: the query
        self._bounds = QRectF()
        self.background = 0xFFFFFFFF  # the view sets both from its palette
        self.selected_ring = SELECTED
        self.version = 0  # changes with anything drawn: positions, colours, selection, highlight
        self.zooming = False  # a zoom animation runs: scale the last picture instead of drawing anew
        self._cache: _DotCache | None = None
        self.last_mode = "dots"  # what the last frame drew, for tests and the benchmark
        self.last_drawn = 0
        self.paints = 0

    def set_points(self, pos: np.ndarray, colours: np.ndarray, covers: list[str | None]) -> None:
        self.prepareGeometryChange()
        self.pos_ = np.ascontiguousarray(pos, dtype=np.float64)
        self.fan = fan_offsets(self.pos_)  # where covers are drawn: pos_ + fan
        self.colours = np.ascontiguousarray(colours, dtype=np.uint32)
        self.covers = list(covers)
        self.selected = np.zeros(len(self.covers), dtype=bool)
        self.highlight = np.zeros(len(self.covers), dtype=np.int8)
        if self.pos_.shape[0]:
            lo, hi = self.pos_.min(axis=0), self.pos_.max(axis=0)
            pad = 2 * THUMB_UNITS
            self._bounds = QRectF(lo[0] - pad, lo[1] - pad, hi[0] - lo[0] + 2 * pad, hi[1] - lo[1] + 2 * pad)
        else:
            self._bounds = QRectF()
        self.changed()

    def changed(self) -> None:
        """Something drawn changed: the last picture is stale."""
        self.version += 1
        self._cache = None
        self.update()

    def set_colours(self, colours: np.ndarray) -> None:
        self.colours = np.ascontiguousarray(colours, dtype=np.uint32)
        self.changed()

    def set_marks(self, selected: np.ndarray | None = None, highlight: np.ndarray | None = None) -> None:
        if selected is not None:
            self.selected = selected
        if highlight is not None:
            self.highlight = highlight
        self.changed()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def visible_rows(self, rect: QRectF, pad: float = 0.0) -> np.ndarray:
        p = self.pos_
        m = (
            (p[:, 0] >= rect.left() - pad)
            & (p[:, 0] <= rect.right() + pad)
            & (p[:, 1] >= rect.top() - pad)
            & (p[:, 1] <= rect.bottom() + pad)
        )
        return np.flatnonzero(m)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        self.paints += 1
        if not self.pos_.shape[0]:
            return
        t = painter.worldTransform()
        scale = t.m11()
        view_rect = (
            t.inverted()[0].mapRect(QRectF(widget.rect())) if widget is not None else option.exposedRect
        )
        thumb_px = THUMB_UNITS * scale
        if thumb_px >= MIN_THUMB_PX:
            rows = self.visible_rows(view_rect, THUMB_UNITS)
            if rows.size <= MAX_THUMBS:
                self._paint_covers(painter, rows, t, thumb_px, option.exposedRect)
                return
        self._paint_dots(painter, t, view_rect, option.exposedRect.intersected(view_rect))

    # ------------------------------------------------------------ dots

    def _paint_dots(self, painter: QPainter, t: QTransform, view_rect: QRectF, exposed: QRectF) -> None:
        """The dots, from the picture of the last frame when the zoom is the same (a pan shows it shifted)
        or while a zoom animates (scaled); else drawn anew with a margin round the view for the pans to come."""
        cache = self._cache
        same = cache is not None and cache.version == self.version
        if same and abs(cache.scale - t.m11()) < 1e-9 and cache.rect.contains(exposed):
            part = t.mapRect(exposed).toAlignedRect()
            origin = t.map(cache.rect.topLeft())
            source = part.translated(-round(origin.x()), -round(origin.y()))
            painter.save()
            painter.resetTransform()
            painter.drawImage(part.topLeft(), cache.image, source)
            painter.restore()
            self.last_mode = "dots"
            return
        if same and self.zooming:
            painter.drawImage(cache.rect, cache.image)  # the world transform scales it
            self.last_mode = "dots"
            return
        margin = 0.25 * max(view_rect.width(), view_rect.height())
        region = view_rect.adjusted(-margin, -margin, margin, margin).intersected(
            self._bounds.adjusted(-margin, -margin, margin, margin)
        )
        device = t.mapRect(region).toAlignedRect()
        image = self.render_dots(t, device)
        if image is None:
            return
        self._cache = _DotCache(image, t.inverted()[0].mapRect(QRectF(device)), t.m11(), self.version)
        self._paint_dots(painter, t, view_rect, exposed)

    def render_dots(self, t: QTransform, device) -> QImage | None:
        """The dots in a device rectangle (on the background colour) for a scene-to-device transform."""
        w, h = device.width(), device.height()
        if w <= 0 or h <= 0:
            return None
        scale = t.m11()
        size = int(np.clip(round(0.9 * scale), 3, 11))  # dots grow as the map is zoomed in
        reach = (size + 4) // 2 + 1  # the widest stamp (a marked dot's ring) reaches this far from its centre
        px = (self.pos_[:, 0] * scale + (t.dx() - device.left())).astype(np.int32)
        py = (self.pos_[:, 1] * t.m22() + (t.dy() - device.top())).astype(np.int32)
        inside = np.flatnonzero((px >= -reach) & (px < w + reach) & (py >= -reach) & (py < h + reach))
        # A border twice the reach round the picture: every stamp of every dot kept lands in the buffer.
        r = 2 * reach
        stride = w + 2 * r
        buf = np.full((h + 2 * r) * stride, self.background, dtype=np.uint32)
        flat = (py[inside] + r) * stride + (px[inside] + r)
        colours = self.colours[inside]
        for off in _stamp(size, stride):
            buf[flat + off] = colours
        marked = np.flatnonzero(self.selected[inside] | (self.highlight[inside] > 0))
        if marked.size:
            self._stamp_marked(buf, flat[marked], inside[marked], size, stride)
        self.last_mode, self.last_drawn = "dots", int(inside.size)
        # The image starts at the first pixel inside the border and keeps the buffer's row length.
        start = r * stride + r
        image = QImage(buf[start:].data, w, h, 4 * stride, QImage.Format.Format_RGB32)
        image.buffer = buf  # the QImage does not own its memory: this keeps it alive as long as the image
        return image

    def _stamp_marked(
        self, out: np.ndarray, flat: np.ndarray, rows: np.ndarray, size: int, stride: int
    ) -> None:
        """Selected and highlighted dots: a dark (or orange) ring around their colour, drawn over the rest."""
        ring = np.where(
            self.highlight[rows] == 2,
            _rgb(QUERY),
            np.where(self.highlight[rows] == 1, _rgb(HIGHLIGHT), _rgb(self.selected_ring)),
        ).astype(np.uint32)
        for off in _stamp(size + 4, stride):
            out[flat + off] = ring
        for off in _stamp(size, stride):
            out[flat + off] = self.colours[rows]

    # ------------------------------------------------------------ covers

    def _paint_covers(
        self, painter: QPainter, rows: np.ndarray, t: QTransform, thumb_px: float, exposed: QRectF
    ) -> None:
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, rows.size < 200)
        order = rows[np.lexsort((self.selected[rows], self.highlight[rows], self.pos_[rows, 1]))]
        half = thumb_px / 2
        clip = t.mapRect(exposed).adjusted(-thumb_px, -thumb_px, thumb_px, thumb_px)
        drawn = 0
        for i in order.tolist():
            x, y = self.pos_[i] + self.fan[i]
            cx, cy = t.map(QPointF(x, y)).toTuple()
            if not clip.contains(cx, cy):
                continue
            box = QRectF(cx - half, cy - half, thumb_px, thumb_px)
            frame = self._frame_colour(i)
            pix = self.thumb(self.covers[i]) if self.covers[i] else None
            if pix is not None and not pix.isNull():
                fit = _fit(pix.width(), pix.height(), box)
                pen_w = 4.0 if frame is not None else 2.0
                painter.fillRect(fit.adjusted(-pen_w, -pen_w, pen_w, pen_w), frame or QColor(self.colours[i]))
                painter.drawPixmap(fit, pix, QRectF(pix.rect()))
            else:
                painter.fillRect(
                    box.adjusted(half * 0.35, half * 0.35, -half * 0.35, -half * 0.35),
                    QColor(self.colours[i]),
                )
                if frame is not None:
                    painter.setPen(QPen(frame, 3))
                    painter.drawRect(box.adjusted(half * 0.3, half * 0.3, -half * 0.3, -half * 0.3))
            drawn += 1
        painter.restore()
        self.last_mode, self.last_drawn = "covers", drawn

    def _frame_colour(self, i: int) -> QColor | None:
        if self.highlight[i] == 2:
            return QUERY
        if self.highlight[i] == 1:
            return HIGHLIGHT
        return self.selected_ring if self.selected[i] else None


_stamps: dict[tuple[int, int], np.ndarray] = {}


def _stamp(size: int, stride: int) -> np.ndarray:
    """Flat offsets of a round dot `size` pixels across in an image `stride` pixels wide."""
    key = (size, stride)
    if key not in _stamps:
        r = (size - 1) / 2
        ys, xs = np.mgrid[0:size, 0:size]
        inside = (xs - r) ** 2 + (ys - r) ** 2 <= (r + 0.5) ** 2 if size > 3 else np.ones((size, size), bool)
        _stamps[key] = ((ys[inside] - size // 2) * stride + (xs[inside] - size // 2)).astype(np.int64)
    return _stamps[key]


def _rgb(c: QColor) -> int:
    return 0xFF000000 | (c.red() << 16) | (c.green() << 8) | c.blue()


def _fit(w: int, h: int, box: QRectF) -> QRectF:
    s = min(box.width() / max(1, w), box.height() / max(1, h))
    fw, fh = w * s, h * s
    return QRectF(box.center().x() - fw / 2, box.center().y() - fh / 2, fw, fh)
