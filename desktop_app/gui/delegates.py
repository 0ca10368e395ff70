"""Painting of grid cells (the result cards are in `results`), and the drawing helpers both use.

Delegates draw from model roles only and never block: a missing thumbnail is a soft placeholder that the
model repaints when the thumbnail arrives. Cell sizes are fixed per thumbnail size, which lets the views
use uniform item sizes and lay out 100,000 cells without measuring each one.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPainterPath, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop_app.gui import theme
from desktop_app.gui.models import ArticleRole, CountRole, ErrorsRole, LabelRole
from desktop_app.gui.qtcompat import model_data

PAD = 8


def draw_pixmap_fit(p: QPainter, rect: QRect, pix: QPixmap | None, fill: QColor | None = None) -> None:
    """Centre a thumbnail in rect, keeping its aspect ratio; a placeholder tile (fill) while it loads."""
    if pix is None or pix.isNull():
        path = QPainterPath()
        path.addRoundedRect(QRectF(rect), 6, 6)
        p.fillPath(path, fill if fill is not None else QColor("#e9ebef"))
        return
    size = pix.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
    x = rect.x() + (rect.width() - size.width()) // 2
    y = rect.y() + (rect.height() - size.height()) // 2
    p.drawPixmap(QRect(x, y, size.width(), size.height()), pix)


def article_name(fm: QFontMetrics, article: str, width: int) -> str:
    """An article id cut to `width` so that both parts that tell articles apart stay: its start (the style
    code, "mh01-") and its end after the last '-' (the colour, "orange"); the middle goes first ("mh01-…
    orange"), then the style code shrinks ("mh0…orange"). Cut at the end, "mh01-ora…" and "mh01-gra…" read
    alike. A folder id keeps its last folder ("…/wt09-yellow")."""
    if fm.horizontalAdvance(article) <= width:
        return article
    prefix = ""
    if "/" in article.rstrip("/"):
        prefix, article = "…/", article.rstrip("/").rsplit("/", 1)[1]
    return prefix + ends_kept(fm, article, width - fm.horizontalAdvance(prefix))


def ends_kept(fm: QFontMetrics, text: str, width: int) -> str:
    """Text cut in the middle to `width`, keeping whole what follows its last '-' (a colour, the last word
    of a label) and as much of its start as fits; text without a '-' is cut at its end."""
    if fm.horizontalAdvance(text) <= width:
        return text
    if "-" not in text.strip("-"):
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, width)
    start, tail = text.rsplit("-", 1)
    # Cutting the start from its right drops the middle first ("mh01-…orange"), then the style code's end.
    for keep in range(len(start), 0, -1):
        shown = start[:keep] + "…" + tail
        if fm.horizontalAdvance(shown) <= width:
            return shown
    if fm.horizontalAdvance("…" + tail) <= width:
        return "…" + tail
    return fm.elidedText(text, Qt.TextElideMode.ElideMiddle, width)


class UntintedPhotoDelegate(QStyledItemDelegate):
    """Table cells whose decoration is a photo: a selected row shows the photo as it is.

    The style paints a selected cell's icon in QIcon's Selected mode, which blends the highlight colour into
    the pixmap: a black backpack turned blue, and colour is what a curator judges. The selected mode gets
    the very same pixmap here, so the selection shows as the row's background and highlighted text only.
    """

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        if option.icon.isNull():
            return
        pix = model_data(index, Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            icon = QIcon(pix)
            icon.addPixmap(pix, QIcon.Mode.Selected)
            option.icon = icon


def _selected(option: QStyleOptionViewItem) -> bool:
    return bool(option.state & QStyle.StateFlag.State_Selected)


class CachedDelegate(QStyledItemDelegate):
    """Renders each cell once into a pixmap and afterwards paints that pixmap with a single call.

    Every Qt call from Python re-acquires the GIL, and a worker thread (indexing, loading vectors, making
    thumbnails) can hold it for a while each time; painting a cell from a cache instead of ~40 calls keeps
    scrolling and selection changes smooth while workers are busy. The key holds everything the picture
    depends on, so a changed label, score or newly arrived thumbnail simply misses the cache.
    """

    CACHE_ITEMS = 800

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cache: OrderedDict[tuple, QPixmap] = OrderedDict()

    def clear_cache(self) -> None:
        self._cache.clear()

    def cache_key(self, option: QStyleOptionViewItem, index) -> tuple:
        raise NotImplementedError

    def render(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        raise NotImplementedError

    def paint(
        self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect = option.rect
        state = option.state & (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_MouseOver)
        key = (
            self.cache_key(option, index),
            int(state.value if hasattr(state, "value") else state),
            rect.width(),
            rect.height(),
            option.palette.cacheKey(),
            option.font.key(),
        )
        pix = self._cache.get(key)
        if pix is None:
            dpr = p.device().devicePixelRatioF() if p.device() is not None else 1.0
            pix = QPixmap(int(rect.width() * dpr), int(rect.height() * dpr))
            pix.setDevicePixelRatio(dpr)
            pix.fill(Qt.GlobalColor.transparent)
            local = QStyleOptionViewItem(option)
            local.rect = QRect(0, 0, rect.width(), rect.height())
            painter = QPainter(pix)
            try:
                self.render(painter, local, index)
            finally:
                painter.end()
            self._cache[key] = pix
            while len(self._cache) > self.CACHE_ITEMS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        p.drawPixmap(rect.topLeft(), pix)


def pix_key(pix: QPixmap | None) -> int:
    return pix.cacheKey() if pix is not None and not pix.isNull() else 0


class ArticleDelegate(CachedDelegate):
    """A grid cell: cover photo, photo-count badge, article id and its label."""

    def __init__(self, thumb_size: int, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self.clear_cache()

    def cache_key(self, option: QStyleOptionViewItem, index) -> tuple:
        model = index.model()
        return (
            model.data(index, ArticleRole),
            pix_key(model.data(index, Qt.ItemDataRole.DecorationRole)),
            model.data(index, CountRole),
            model.data(index, ErrorsRole),
            model.data(index, LabelRole),
            self.thumb_size,
        )

    def cell_size(self, font: QFont) -> QSize:
        fm = QFontMetrics(font)
        return QSize(self.thumb_size + 2 * PAD, self.thumb_size + 2 * PAD + 2 * fm.height() + 4)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.cell_size(option.font)

    def render(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        r = option.rect.adjusted(2, 2, -2, -2)
        pal = option.palette
        selected = _selected(option)
        bg = QPainterPath()
        bg.addRoundedRect(QRectF(r), 8, 8)
        fill = pal.color(QPalette.ColorRole.Base)
        if selected:
            fill = theme.selection_fill(pal)
            p.fillPath(bg, fill)
            p.setPen(pal.color(QPalette.ColorRole.Highlight))
            p.drawPath(bg)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            fill = pal.color(QPalette.ColorRole.AlternateBase)
            p.fillPath(bg, fill)
        ts = self.thumb_size
        thumb = QRect(r.x() + (r.width() - ts) // 2, r.y() + PAD - 2, ts, ts)
        draw_pixmap_fit(
            p, thumb, model_data(index, Qt.ItemDataRole.DecorationRole), theme.placeholder_fill(pal)
        )

        count = model_data(index, CountRole) or 0
        errors = model_data(index, ErrorsRole) or 0
        badge_text = str(count)
        f = QFont(option.font)
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        f.setBold(True)
        fm = QFontMetrics(f)
        bw = max(fm.horizontalAdvance(badge_text) + 10, fm.height() + 2)
        badge = QRect(thumb.right() - bw - 3, thumb.top() + 4, bw, fm.height() + 2)
        path = QPainterPath()
        path.addRoundedRect(QRectF(badge), badge.height() / 2, badge.height() / 2)
        p.fillPath(path, QColor(160, 40, 40, 230) if errors else QColor(30, 30, 30, 200))
        # A light rim keeps the badge readable on dark photos.
        p.setPen(QColor(255, 255, 255, 200))
        p.drawPath(path)
        p.setFont(f)
        p.setPen(QColor("white"))
        p.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), badge_text)

        text_rect = QRect(
            r.x() + PAD, thumb.bottom() + 4, r.width() - 2 * PAD, QFontMetrics(option.font).height()
        )
        title = QFont(option.font)
        title.setBold(True)
        p.setFont(title)
        p.setPen(theme.selection_text(pal) if selected else pal.color(QPalette.ColorRole.Text))
        name = article_name(QFontMetrics(title), model_data(index, ArticleRole) or "", text_rect.width())
        p.drawText(text_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), name)
        label = model_data(index, LabelRole) or ""
        p.setFont(option.font)
        p.setPen(theme.secondary_text(pal, fill))
        lab_rect = text_rect.translated(0, text_rect.height())
        lab = ends_kept(QFontMetrics(option.font), label or "no label", lab_rect.width())
        p.drawText(lab_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), lab)
        p.restore()


def short(path: str) -> str:
    return Path(path).name
