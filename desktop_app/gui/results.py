"""The similar panel's results: an item model over the engine's hits, result cards, and the view of them.

Results are cards in a grid like the catalog's, sized by the same zoom: each card shows the best photo pair
large (the query's photo next to the hit's, with their similarity), the next pairs small under it, the rank,
article, score, label and the curator's decision on the pair. One click selects a card (the query stays);
double-click or Enter asks to inspect the match, Space to compare the photos, a right click for the menu.
Cards can be dragged out: the hit's photo as a file and its article id as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyleOptionViewItem, QWidget

from desktop_app.core.overview import label_text
from desktop_app.core.paths import photo_file
from desktop_app.core.wording import RELATION_WORDS
from desktop_app.gui import theme
from desktop_app.gui.delegates import CachedDelegate, article_name, draw_pixmap_fit, ends_kept, pix_key
from desktop_app.gui.grid_panel import wheel_zooms
from desktop_app.gui.item_menus import item_menus
from desktop_app.gui.models import (
    ArticleRole,
    CountRole,
    CoverRole,
    DragRows,
    LabelRole,
    PairsRole,
    ScoreRole,
    drag_mime,
)
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.thumbs import ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex
DecisionRole = Qt.ItemDataRole.UserRole + 20
RelationRole = Qt.ItemDataRole.UserRole + 21  # how the best pair's photos are related as pictures
# The tooltip of a result whose best pair is one picture or one shot (its chip: wording.RELATION_WORDS).
RELATION_TIPS = {
    "exact": "the best pair is one file's content twice",
    "near": "the best pair is one photo (resized, recompressed, cropped or brightened)",
    "edit": "the best pair is one shot, edited (another colour of it, mirrored): Space shows what differs",
}
PAD = 8
SMALL_PAIRS = 2  # pairs after the best one, shown small under it
# The results' own keys (the view handles them), for the shortcut sheet; the decision keys are actions.
RESULT_KEYS = (
    (("Return", "double-click"), "Inspect the match"),
    (("Space",), "Compare the photos side by side"),
    (("Ctrl + wheel",), "Larger or smaller cards"),
    (("right click",), "Inspect, compare, decide, open, copy, label, use as cover"),
)


def pair_size(thumb_size: int) -> int:
    """The side of each photo of a card's best pair at this zoom."""
    return max(72, round(thumb_size * 0.8))


class SimilarModel(DragRows, QAbstractListModel):
    """Search hits (core.similar.Hit): article, score, label, decision, cover and the best photo pairs.

    The core gives photo paths relative to the photo folder (query files absolutely); the model joins them
    with the folder once, so the delegate and the thumbnail loader see absolute paths: PairsRole is a list
    of (query photo, hit photo, similarity).
    """

    def __init__(self, thumbs: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.hits: list[Any] = []
        self._covers: list[str | None] = []
        self._pairs: list[list[tuple[str, str, float]]] = []
        self._relations: dict[str, str | None] = {}  # article -> its best pair's relation, once known
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)

    def set_hits(self, hits: list[Any], root: Path | None = None) -> None:
        def full(rel: str | None) -> str | None:
            if not rel:
                return None
            return str(photo_file(root, rel)) if root is not None else rel  # an absolute path stays as it is

        self.beginResetModel()
        self.hits = list(hits)
        self._relations = {}
        self._covers = [full(h.cover) for h in self.hits]
        self._pairs = [
            [(full(p.query_path) or "", full(p.path) or "", float(p.sim)) for p in h.pairs] for h in self.hits
        ]
        self.endResetModel()

    def clear(self) -> None:
        self.set_hits([])

    def row_of(self, article: str) -> int:
        return next((r for r, h in enumerate(self.hits) if h.article == article), -1)

    def set_decision(self, article: str, decision: str | None) -> None:
        """Show a decision made (or taken back) on one hit without asking the engine again."""
        row = self.row_of(article)
        if row >= 0:
            self.hits[row].decision = decision
            idx = self.index(row, 0)
            self.dataChanged.emit(idx, idx, [DecisionRole])

    def set_relations(self, relations: dict[str, str | None]) -> None:
        """How each hit's best pair is related as pictures (Engine.photo_relations), when it has come."""
        self._relations.update(relations)
        if self.hits:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.hits) - 1, 0), [RelationRole])

    def photo_of(self, row: int) -> str | None:
        """The hit's photo that stands for it: its best pair's photo, else its cover (absolute path)."""
        if not 0 <= row < len(self.hits):
            return None
        pairs = self._pairs[row]
        return (pairs[0][1] if pairs and pairs[0][1] else None) or self._covers[row]

    def _thumb_ready(self, path: str) -> None:
        for r in range(len(self.hits)):
            if path == self._covers[r] or any(path in (q, h) for q, h, _ in self._pairs[r]):
                idx = self.index(r, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, PairsRole])

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.hits) or index.column() != 0:
            return None
        r = index.row()
        hit = self.hits[r]
        if role in (Qt.ItemDataRole.DisplayRole, ArticleRole):
            return hit.article
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(self._covers[r]) if self.thumbs is not None and self._covers[r] else None
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [
                f"{r + 1}. {hit.article}: score {hit.score:.3f}",
                f"label: {label_text(hit.labels) or 'none'}",
            ]
            if hit.decision:
                lines.append(f"decided: {theme.DECISION_WORDS.get(hit.decision, hit.decision)}")
            lines += [f"{s:.3f}  {Path(q).name} ↔ {Path(h).name}" for q, h, s in self._pairs[r]]
            relation = self._relations.get(hit.article)
            return "\n".join(lines + ([RELATION_TIPS[relation]] if relation else []))
        if role == Qt.ItemDataRole.AccessibleTextRole:
            decided = (
                f", {theme.DECISION_WORDS[hit.decision]}" if hit.decision in theme.DECISION_WORDS else ""
            )
            relation = self._relations.get(hit.article)
            related = f", {RELATION_WORDS[relation]}" if relation in RELATION_WORDS else ""
            return f"{r + 1}. {hit.article}, score {hit.score:.3f}{decided}{related}"
        values = {
            ScoreRole: float(hit.score),
            LabelRole: label_text(hit.labels),
            CountRole: int(hit.photos),
            CoverRole: self._covers[r],
            PairsRole: list(self._pairs[r]),
            DecisionRole: hit.decision,
            RelationRole: self._relations.get(hit.article),
        }
        return values.get(role)

    # ------------------------------------------------------------ drag out

    def mimeData(self, indexes) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return drag_mime([self.photo_of(r) for r in rows], [self.hits[r].article for r in rows])


class ResultDelegate(CachedDelegate):
    """A result card: rank, article, score, label and decision over the best pair, then the next pairs."""

    def __init__(self, thumbs: ThumbnailLoader, thumb_size: int, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.thumb_size = thumb_size
        self.pair = pair_size(thumb_size)  # the best pair's photo side: the zoom's, grown to fill the row
        self.small_row = True  # a row of further pairs (only when some result has more than one pair)
        self.cell_width: int | None = None  # the width each card gets in the row (None: its own)

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self.pair = pair_size(size)
        self.clear_cache()

    def card_size(self, font: QFont, pair: int | None = None) -> QSize:
        p = pair or pair_size(self.thumb_size)
        fm = QFontMetrics(font)
        width = 2 * p + 4 + 2 * PAD
        height = PAD + 2 * fm.height() + 4 + p + PAD
        if self.small_row:
            height += p // 2 + PAD // 2
        return QSize(width + 6, height + 6)

    def fit_row(self, font: QFont, width: int) -> QSize:
        """The card size that fills a row of this width: as many cards as fit near the zoom's size (photos
        at 75% to 125% of it), so no strip of the row stays empty and a narrow panel still shows two."""
        base = pair_size(self.thumb_size)
        natural = self.card_size(font, base).width()

        def photo(columns: int) -> int:
            return (width // columns - 6 - 2 * PAD - 4) // 2

        columns = max(1, width // natural)
        if photo(columns + 1) >= 0.75 * base:
            columns += 1  # a little smaller, one more card per row
        cell = width // columns
        pair = max(48, min(photo(columns), round(base * 1.25)))
        if (pair, cell) != (self.pair, self.cell_width):
            self.pair, self.cell_width = pair, cell
            self.clear_cache()
        return QSize(cell, self.card_size(font, pair).height())

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = self.card_size(option.font, self.pair)
        return QSize(self.cell_width or size.width(), size.height())

    def cache_key(self, option: QStyleOptionViewItem, index) -> tuple:
        model = index.model()
        pairs = model.data(index, PairsRole) or []
        shown = pairs[: 1 + SMALL_PAIRS]
        thumbs = tuple(pix_key(self.thumbs.get(x)) for q, h, _ in shown for x in (q, h) if x)
        cover = pix_key(model.data(index, Qt.ItemDataRole.DecorationRole)) if not pairs else 0
        return (
            index.row(),
            model.data(index, ArticleRole),
            model.data(index, ScoreRole),
            model.data(index, LabelRole),
            model.data(index, DecisionRole),
            model.data(index, RelationRole),
            tuple(shown),
            thumbs,
            cover,
            self.pair,
            self.small_row,
        )

    def render(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        pal = option.palette
        r = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        decision = model_data(index, DecisionRole)
        bg = theme.selection_fill(pal) if selected else pal.color(QPalette.ColorRole.AlternateBase)
        card = QPainterPath()
        card.addRoundedRect(QRectF(r), 8, 8)
        p.fillPath(card, bg)
        if selected:
            p.setPen(pal.color(QPalette.ColorRole.Highlight))
            p.drawPath(card)
        if decision == "not_match":
            p.setOpacity(0.55)  # shown only on request: visibly set aside
        text = theme.selection_text(pal) if selected else pal.color(QPalette.ColorRole.Text)
        head = self._paint_header(p, option, index, r, bg, text)
        photo = self._paint_pairs(p, option, index, r, head.bottom() + 4)
        decided = decision in theme.DECISION_WORDS
        if decided:
            fill = theme.decision_fill(decision)
            self._paint_badge(p, option.font, photo, theme.DECISION_WORDS[decision], fill)
        relation = model_data(index, RelationRole)
        if relation in RELATION_WORDS:
            chip = QColor(0, 0, 0, 190)  # as the similarity tags: on the photo, not on the palette
            self._paint_badge(p, option.font, photo, RELATION_WORDS[relation], chip, row=int(decided))
        p.restore()

    def _paint_header(self, p: QPainter, option, index, r: QRect, bg, text) -> QRect:
        """Two lines over the photos: a small rank and the name, which gets the whole first line (cut in its
        middle, if it must be, so its colour stays); then the label, with the score at the right."""
        pal = option.palette
        fm = QFontMetrics(option.font)
        line = QRect(r.x() + PAD, r.y() + PAD // 2 + 2, r.width() - 2 * PAD, fm.height())
        small = QFont(option.font)
        small.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.8))
        rank = f"{index.row() + 1}"
        p.setFont(small)
        p.setPen(theme.secondary_text(pal, bg))
        p.drawText(line, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), rank)
        rank_w = QFontMetrics(small).horizontalAdvance(rank) + 4
        bold = QFont(option.font)
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(text)
        name_line = line.adjusted(rank_w, 0, 0, 0)
        name = article_name(QFontMetrics(bold), model_data(index, ArticleRole) or "", name_line.width())
        p.drawText(name_line, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), name)
        sub = line.translated(0, fm.height())
        score = model_data(index, ScoreRole)
        score_text = f"{score:.3f}" if score is not None and score > float("-inf") else "—"
        p.setPen(theme.score_colour(pal, bg) if (score or 0) >= 0.8 else text)
        p.drawText(sub, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), score_text)
        label_w = sub.width() - QFontMetrics(bold).horizontalAdvance(score_text) - PAD
        p.setFont(option.font)
        p.setPen(theme.secondary_text(pal, bg))
        label = ends_kept(fm, model_data(index, LabelRole) or "no label", label_w)
        p.drawText(sub, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), label)
        return sub

    def _paint_badge(
        self, p: QPainter, font: QFont, photo: QRect, text: str, fill: QColor, row: int = 0
    ) -> None:
        """A badge at the top right of the hit's photo, where it hides no text: the decision in the first
        row, how its best pair is related as pictures under it (or in the first row when undecided)."""
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        small.setBold(True)
        sfm = QFontMetrics(small)
        w = min(sfm.horizontalAdvance(text) + 12, photo.width() - 6)
        box = QRect(photo.right() - w - 3, photo.top() + 3 + row * (sfm.height() + 4), w, sfm.height() + 2)
        path = QPainterPath()
        path.addRoundedRect(QRectF(box), box.height() / 2, box.height() / 2)
        p.fillPath(path, fill)
        p.setPen(QColor(255, 255, 255, 200))  # a light rim keeps it apart from a dark photo
        p.drawPath(path)
        p.setFont(small)
        p.setPen(Qt.GlobalColor.white)
        p.drawText(
            box, int(Qt.AlignmentFlag.AlignCenter), sfm.elidedText(text, Qt.TextElideMode.ElideRight, w)
        )

    def _paint_pairs(self, p: QPainter, option, index, r: QRect, y: int) -> QRect:
        """The best pair large, the next ones small under it; returns where the hit's big photo is."""
        big = self.pair
        small = big // 2
        x = r.x() + (r.width() - 2 * big - 4) // 2
        pairs = model_data(index, PairsRole) or []
        hit_photo = QRect(x + big + 4, y, big, big)
        if not pairs:  # a method without photo pairs (centroid): the hit's cover
            draw_pixmap_fit(
                p,
                hit_photo,
                model_data(index, Qt.ItemDataRole.DecorationRole),
                theme.placeholder_fill(option.palette),
            )
            return hit_photo
        q, h, sim = pairs[0]
        fill = theme.placeholder_fill(option.palette)
        if q:
            draw_pixmap_fit(p, QRect(x, y, big, big), self.thumbs.get(q), fill)
            draw_pixmap_fit(p, QRect(x + big + 4, y, big, big), self.thumbs.get(h) if h else None, fill)
            self._sim_tag(p, option.font, QPoint(x + big + 2, y + big - 2), sim, 0.9)
        else:  # words alone: there is no query photo, so the hit's photo stands alone in the middle
            mid = x + (big + 4) // 2
            hit_photo = QRect(mid, y, big, big)
            draw_pixmap_fit(p, hit_photo, self.thumbs.get(h) if h else None, fill)
            self._sim_tag(p, option.font, QPoint(mid + big // 2, y + big - 2), sim, 0.9)
        y += big + PAD // 2
        for q, h, sim in pairs[1 : 1 + SMALL_PAIRS] if self.small_row else ():
            if x + 2 * small + 2 > r.right():
                break
            if q:
                draw_pixmap_fit(p, QRect(x, y, small, small), self.thumbs.get(q), fill)
            draw_pixmap_fit(p, QRect(x + small + 2, y, small, small), self.thumbs.get(h) if h else None, fill)
            self._sim_tag(p, option.font, QPoint(x + small + 1, y + small - 1), sim, 0.78)
            x += 2 * small + 2 + PAD
        return hit_photo

    def _sim_tag(self, p: QPainter, font: QFont, bottom_centre: QPoint, sim: float, scale: float) -> None:
        small = QFont(font)
        small.setPointSizeF(max(6.5, font.pointSizeF() * scale))
        sfm = QFontMetrics(small)
        text = f"{sim:.2f}"
        w, h = sfm.horizontalAdvance(text) + 8, sfm.height()
        tag = QRect(bottom_centre.x() - w // 2, bottom_centre.y() - h, w, h)
        path = QPainterPath()
        path.addRoundedRect(QRectF(tag), 3, 3)
        p.fillPath(path, Qt.GlobalColor.black)
        p.setFont(small)
        p.setPen(Qt.GlobalColor.white)
        p.drawText(tag, int(Qt.AlignmentFlag.AlignCenter), text)


class ResultsView(QListView):
    """The results grid; says what the curator asked for with the mouse and the keys."""

    open_requested = Signal(QModelIndex)  # double-click or Enter: inspect the match
    compare_requested = Signal(QModelIndex)  # Space: the photos side by side
    menu_requested = Signal(QModelIndex, QPoint)  # right click (global position)
    zoom_requested = Signal(int)  # Ctrl + wheel: +1 larger, -1 smaller

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setAcceptDrops(False)  # photo files dropped here go to the window: search by them
        self.viewport().setAcceptDrops(False)
        item_menus(self, self._menu)
        self.doubleClicked.connect(self.open_requested)

    def fit_cards(self) -> None:
        """Cards fill the width: re-done when the panel is resized, zoomed or gets new results."""
        delegate = self.itemDelegate()
        if isinstance(delegate, ResultDelegate):
            width = self.layout_width() - 2
            size = delegate.fit_row(self.font(), max(width, 1))
            if size != self.gridSize():
                self.setGridSize(size)

    def layout_width(self) -> int:
        """The width the list lays its cards out in. Wrapping left to right, QListView keeps room for the
        vertical scroll bar whether it shows or not (QListViewPrivate::prepareItemsLayout); cards sized to
        the viewport without the bar did not fit that width, and the grid fell to one column with room for
        two. The same width whether the bar shows or not also keeps the column count from flipping."""
        style, bar = self.style(), self.verticalScrollBar()
        width = self.maximumViewportSize().width()
        if self.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAsNeeded and not style.pixelMetric(
            QStyle.PixelMetric.PM_ScrollView_ScrollBarOverlap, None, bar
        ):
            width -= style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, bar)
            if style.styleHint(QStyle.StyleHint.SH_ScrollView_FrameOnlyAroundContents, None, self):
                width -= 2 * style.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, self)
        return width

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit_cards()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        idx = self.currentIndex()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            if idx.isValid():
                self.open_requested.emit(idx)
            return
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            if idx.isValid():
                self.compare_requested.emit(idx)
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not wheel_zooms(event, self.zoom_requested):
            super().wheelEvent(event)

    def _menu(self, pos: QPoint) -> None:
        idx = self.indexAt(pos)
        if idx.isValid():
            self.setCurrentIndex(idx)
            self.menu_requested.emit(idx, self.viewport().mapToGlobal(pos))


__all__ = [
    "RESULT_KEYS",
    "DecisionRole",
    "ResultDelegate",
    "ResultsView",
    "SimilarModel",
    "pair_size",
]
