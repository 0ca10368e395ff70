"""The review queue's widgets around its list: the toolbar, and the right-hand side with the current
article's photos, its suggestion, the label entry and the labelled neighbours that voted.

`ReviewToolbar` and `ReviewDetail` only show and say what was pressed; the queue decides. Thumbnails come
from the queue's `ThumbnailLoader` and replace grey placeholders as they arrive.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import label_evidence as lab
from desktop_app.core.labels import Suggestion
from desktop_app.gui import theme
from desktop_app.gui.completion import EnterTakesCompletion
from desktop_app.gui.delegates import UntintedPhotoDelegate
from desktop_app.gui.review_model import QueueEntry, SuggestionModel, percent_text, shown_label
from desktop_app.gui.thumbs import ThumbnailLoader

CARD_THUMB = 120
PHOTO_THUMB = 150
REVIEW_KEYS = (  # what the review queue's keys do (handled in review.ReviewQueue), for the shortcut sheet
    (("Enter",), "Accept the suggested label"),
    (("1", "2", "3"), "Pick the first, second or third label"),
    (("any letter", "/", "F2"), "Type a label of one's own (Enter sets it)"),
    (("S",), "Skip: the article waits at the end of the queue"),
    (("Ctrl+Z",), "Undo the latest decision (a bulk accept as a whole)"),
    (("Ctrl+Shift+Z", "Ctrl+Y"), "Redo what Undo took back"),
    (("Up", "Down"), "Previous / next article"),
)
ROW_THUMB = 52
PHOTOS_SHOWN = 5
CARDS_PER_ROW = 5

# Colours that read on light and dark palettes alike.

_placeholders: dict[tuple[int, str], QPixmap] = {}


def placeholder(box: int, text: str = "") -> QPixmap:
    """A neutral tile for photos that are loading, missing or unreadable."""
    pix = _placeholders.get((box, text))
    if pix is None:
        pix = QPixmap(box, box)
        pix.fill(QColor("#ececec"))
        if text:
            p = QPainter(pix)
            p.setPen(QColor("#8a8a8a"))
            font = p.font()
            font.setPointSizeF(max(6.5, box / 14))
            p.setFont(font)
            p.drawText(pix.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
            p.end()
        _placeholders[(box, text)] = pix
    return pix


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def suggestion_html(s: Suggestion, min_confidence: float) -> str:
    """The suggestion, its confidence and the votes behind it: "Suggested: videos, confidence 99%, 2 of 10
    neighbours (the 2 closest)"."""
    label = shown_label(s, min_confidence)
    votes = html(s.evidence()[0].describe()) if s.alternatives else ""
    if label is not None:
        return (
            f"Suggested: <b>{html(label)}</b> &nbsp;<span style='color:{theme.muted()}'>confidence "
            f"{percent_text(s.confidence)} · {votes}</span>"
        )
    if s.label is not None:
        return (
            f"<span style='color:{theme.muted()}'>No suggestion — best guess {html(s.label)} at "
            f"{percent_text(s.confidence)} ({votes}) is below {percent_text(min_confidence)}</span>"
        )
    return f"<span style='color:{theme.muted()}'>No suggestion: no labelled neighbour</span>"


def percent_spin(value: float) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, 100)
    spin.setSingleStep(5)
    spin.setSuffix(" %")
    spin.setValue(round(value * 100))
    return spin


class ReviewToolbar(QToolBar):
    """Order, the "no suggestion below" threshold, bulk accept, undo, redo, how reliable, refresh, and the
    counts."""

    def __init__(self, min_confidence: float, bulk_threshold: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMovable(False)
        self.addWidget(QLabel("Order "))
        self.order_box = QComboBox()
        self.order_box.addItem("Most certain first", "certain")
        self.order_box.addItem("Least certain first (hard cases)", "uncertain")
        self.addWidget(self.order_box)
        self.addSeparator()
        self.addWidget(QLabel(" No suggestion below "))
        self.min_conf_spin = percent_spin(min_confidence)
        self.min_conf_spin.setToolTip('Suggestions less certain than this are shown as "no suggestion"')
        self.addWidget(self.min_conf_spin)
        self.addSeparator()
        self.bulk_button = QPushButton("Accept all with confidence ≥")
        self.addWidget(self.bulk_button)
        self.bulk_spin = percent_spin(bulk_threshold)
        self.addWidget(self.bulk_spin)
        self.addSeparator()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last decision (Ctrl+Z); a bulk accept is undone as a whole")
        self.addWidget(self.undo_button)
        self.redo_button = QPushButton("Redo")
        self.redo_button.setToolTip("Write again the decision Undo took back (Ctrl+Shift+Z or Ctrl+Y)")
        self.addWidget(self.redo_button)
        self.quality_button = QPushButton("How reliable?")
        self.quality_button.setToolTip(
            "Check every labelled article's suggestion against its own label: accuracy at each minimum "
            "confidence, and whether confidences mean what they say"
        )
        self.addWidget(self.quality_button)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip(
            "Recompute the suggestions with every label given so far (and pick up newly indexed photos)"
        )
        self.addWidget(self.refresh_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.count_label = QLabel()
        self.addWidget(self.count_label)
        for w in (
            self.bulk_button,
            self.undo_button,
            self.redo_button,
            self.quality_button,
            self.refresh_button,
        ):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the queue, not to a stray button


def queue_view(model: SuggestionModel) -> QTableView:
    """The queue's list: one row per article, keyboard-driven (the queue filters its keys)."""
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setTabKeyNavigation(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_THUMB + 6)
    view.setIconSize(QSize(ROW_THUMB, ROW_THUMB))
    view.setItemDelegate(UntintedPhotoDelegate(view))
    view.setAlternatingRowColors(True)
    # Long ids and several alternatives wrap onto a second line (at hyphens and spaces) instead of being cut.
    view.setWordWrap(True)
    view.setTextElideMode(Qt.TextElideMode.ElideNone)
    header = view.horizontalHeader()
    header.setSectionResizeMode(SuggestionModel.ARTICLE, QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(SuggestionModel.ALTERNATIVES, QHeaderView.ResizeMode.Stretch)
    header.resizeSection(SuggestionModel.ARTICLE, 210)
    header.resizeSection(SuggestionModel.LABEL, 140)
    header.resizeSection(SuggestionModel.CONFIDENCE, 84)
    return view


def breakable(name: str) -> str:
    """A name that may wrap after "_" and "/" too (lines already break after hyphens and spaces)."""
    return name.replace("_", "_\u200b").replace("/", "/\u200b")


class NeighbourCard(QFrame):
    """One labelled neighbour that voted: its cover, id, label and similarity score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFixedWidth(CARD_THUMB + 18)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(2)
        self.photo = QLabel()
        self.photo.setFixedSize(CARD_THUMB, CARD_THUMB)
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.article = QLabel()
        self.label = QLabel()
        self.score = QLabel()
        for w in (self.article, self.label):  # whole names on two lines rather than cut ones
            w.setWordWrap(True)
            w.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        small = self.article.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        for w in (self.article, self.score):
            w.setFont(small)
        bold = QFont(self.label.font())
        bold.setBold(True)
        self.label.setFont(bold)
        # Fixed two-line boxes: a grid of word-wrapped labels otherwise squeezes them under the photo.
        for w in (self.article, self.label):
            w.setFixedSize(CARD_THUMB, 2 * w.fontMetrics().lineSpacing() + 2)
        for w in (self.photo, self.article, self.label, self.score):
            lay.addWidget(w)
        self.path: str | None = None

    def show_neighbour(self, article: str, label: str, score: float, agrees: bool, path: Path | None) -> None:
        self.article.setText(breakable(article))
        self.label.setText(breakable(label))
        pal = self.palette()
        self.label.setStyleSheet(
            f"color: {(theme.good_text(pal) if agrees else theme.warn_text(pal)).name()};"
        )
        self.score.setText(f"similarity {score:.2f}")
        self.setToolTip(f"{article}\n{label}\nsimilarity {score:.3f}")
        self.path = str(path) if path else None


class ReviewDetail(QWidget):
    """The current article: photos, suggestion, runner-up buttons, label entry, neighbours that voted."""

    pick = Signal(int)  # n-th best label (1-based)
    accept = Signal()
    skip = Signal()
    label_entered = Signal()
    import_requested = Signal()

    def __init__(self, thumbs: ThumbnailLoader, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._shown_paths: dict[str, list[QLabel]] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 0, 0, 0)
        lay.setSpacing(6)
        self.title = QLabel()
        big = QFont(self.title.font())
        big.setPointSizeF(big.pointSizeF() * 1.35)
        big.setBold(True)
        self.title.setFont(big)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.title)
        lay.addLayout(self._photo_row())
        self.suggestion_label = QLabel()
        sfont = QFont(self.suggestion_label.font())
        sfont.setPointSizeF(sfont.pointSizeF() * 1.25)
        self.suggestion_label.setFont(sfont)
        self.suggestion_label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.suggestion_label)
        lay.addLayout(self._alternatives_row())
        lay.addLayout(self._entry_row(field))
        self.neigh_title = QLabel()
        self.neigh_title.setStyleSheet("color: palette(placeholder-text);")
        lay.addWidget(self.neigh_title)
        lay.addWidget(self._neighbour_grid(), 1)
        self.empty_note = QLabel()
        self.empty_note.setWordWrap(True)
        self.empty_note.setVisible(False)
        lay.addWidget(self.empty_note)
        self.import_button = QPushButton("Import labels…")
        self.import_button.setVisible(False)
        self.import_button.clicked.connect(self.import_requested)
        lay.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.thumbs.ready.connect(self._on_thumb)

    def _photo_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        self.photo_labels: list[QLabel] = []
        for _ in range(PHOTOS_SHOWN):
            lbl = QLabel()
            lbl.setFixedSize(PHOTO_THUMB, PHOTO_THUMB)
            lbl.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lbl.setVisible(False)
            self.photo_labels.append(lbl)
            row.addWidget(lbl)
        self.more_photos = QLabel()
        self.more_photos.setStyleSheet("color: palette(placeholder-text);")
        row.addWidget(self.more_photos)
        row.addStretch(1)
        return row

    def _alternatives_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.alt_buttons: list[QPushButton] = []
        for i in range(3):
            b = QPushButton()
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _c=False, n=i + 1: self.pick.emit(n))
            self.alt_buttons.append(b)
            row.addWidget(b)
        row.addStretch(1)
        return row

    def _entry_row(self, field: str) -> QHBoxLayout:
        row = QHBoxLayout()
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText(f"Type a {field} label and press Enter…")
        self.label_edit.setClearButtonEnabled(True)
        self.completion = QStringListModel(self)
        completer = QCompleter(self.completion, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.label_edit.setCompleter(completer)
        self.label_edit.returnPressed.connect(self.label_entered)
        # one Enter on an offered label picks it and sets it (the popup's Enter never reaches the field)
        EnterTakesCompletion(completer).chosen.connect(self.label_entered)
        row.addWidget(self.label_edit, 1)
        self.accept_button = QPushButton("Accept  ⏎")
        self.skip_button = QPushButton("Skip  S")
        for b in (self.accept_button, self.skip_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(b)
        self.accept_button.clicked.connect(self.accept)
        self.skip_button.clicked.connect(self.skip)
        return row

    def _neighbour_grid(self) -> QScrollArea:
        host = QWidget()
        self.neigh_grid = QGridLayout(host)
        self.neigh_grid.setContentsMargins(0, 0, 0, 0)
        self.neigh_grid.setSpacing(6)
        self.cards: list[NeighbourCard] = []
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(host)
        self.neigh_scroll = scroll
        self._shown_cards = 0
        return scroll

    # ------------------------------------------------------------ showing an entry

    def show_entry(
        self, entry: QueueEntry | None, photos: dict[str, list[Path]], min_confidence: float
    ) -> None:
        self._shown_paths = {}
        if entry is None:
            self.title.setText("")
            self.suggestion_label.setText("")
            self._show_photos([])
            self._show_alternatives(None)
            self._show_cards([], None, photos)
            self.neigh_title.setText("")
            return
        s = entry.suggestion
        self.title.setText(s.article + ("   (skipped)" if entry.skipped else ""))
        self._show_photos(photos.get(s.article, []))
        self.suggestion_label.setText(suggestion_html(s, min_confidence))
        self._show_alternatives(s)
        label = shown_label(s, min_confidence)
        self.neigh_title.setText(
            f"Labelled neighbours that voted ({len(s.neighbours)}, most similar first; "
            f"green agrees with the {'suggestion' if label else 'best guess'})"
            if s.neighbours
            else ""
        )
        self._show_cards(s.neighbours, label or s.label, photos)

    def _show_photos(self, paths: list[Path]) -> None:
        for i, lbl in enumerate(self.photo_labels):
            lbl.setVisible(i < len(paths))
            if i < len(paths):
                self.put_thumb(lbl, paths[i], PHOTO_THUMB)
        extra = len(paths) - len(self.photo_labels)
        self.more_photos.setText(f"+{extra} more" if extra > 0 else "")

    def _show_alternatives(self, s: Suggestion | None) -> None:
        """A button per top label with its confidence and votes; runners-up below lab.PICK_FLOOR are shown
        greyed, not offered: such a runner-up has hardly ever been the right label."""
        labels = s.evidence() if s is not None else []
        for i, b in enumerate(self.alt_buttons):
            b.setVisible(i < len(labels))
            if i >= len(labels):
                continue
            e = labels[i]
            b.setText(f"{i + 1}  {e.label}  {percent_text(e.confidence)} · {e.short()}")
            offered = i == 0 or e.offered
            b.setEnabled(offered)
            b.setToolTip(
                f"Press {i + 1} to label {s.article} as {e.label} ({e.describe()})"
                if offered
                else f"{e.label}: {e.describe()}, further than the suggestion's; below "
                f"{percent_text(lab.PICK_FLOOR)} such a label has hardly ever been right, so it is not "
                "offered here (type it to set it)"
            )

    def _show_cards(self, neighbours: list, winner: str | None, photos: dict[str, list[Path]]) -> None:
        while len(self.cards) < len(neighbours):
            self.cards.append(NeighbourCard())
        for i, card in enumerate(self.cards):
            card.setVisible(i < len(neighbours))
            if i >= len(neighbours):
                continue
            n = neighbours[i]
            paths = photos.get(n.article, [])
            path = paths[0] if paths else None
            card.show_neighbour(n.article, n.label, n.score, n.label == winner, path)
            self.put_thumb(card.photo, path, CARD_THUMB)
        self._shown_cards = len(neighbours)
        self._layout_cards()

    def _layout_cards(self) -> None:
        """As many cards per row as the panel's width holds (no sideways scrolling on a small screen)."""
        width = self.neigh_scroll.viewport().width()
        per_row = max(1, min(CARDS_PER_ROW, (width + 6) // (CARD_THUMB + 18 + 6)))
        grid = self.neigh_grid
        for card in self.cards:
            grid.removeWidget(card)
        for c in range(CARDS_PER_ROW + 1):
            grid.setColumnStretch(c, 0)
        for i, card in enumerate(self.cards[: self._shown_cards]):
            grid.addWidget(card, i // per_row, i % per_row)
        grid.setColumnStretch(per_row, 1)
        grid.setRowStretch(max(1, (self._shown_cards + per_row - 1) // per_row), 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._shown_cards:
            self._layout_cards()

    def show_empty(self, text: str, importing: bool = False) -> None:
        self.empty_note.setText(text)
        self.empty_note.setVisible(True)
        self.import_button.setVisible(importing)
        self.show_entry(None, {}, 0.0)

    def hide_empty(self) -> None:
        self.empty_note.setVisible(False)
        self.import_button.setVisible(False)

    def set_known(self, labels: list[str]) -> None:
        self.completion.setStringList(labels)

    # ------------------------------------------------------------ thumbnails

    def thumb(self, path: Path | str | None, box: int) -> QPixmap | None:
        """A box x box (at most) pixmap, or None while it is being made (this call queues it)."""
        if not path:
            return placeholder(box, "no photo")
        if self.thumbs.is_broken(path):
            # The window's own grey tile rather than the loader's, so every stand-in here looks alike.
            return placeholder(box, "cannot show\nphoto")
        return self.thumbs.scaled(path, box)

    def put_thumb(self, target: QLabel, path: Path | None, box: int) -> None:
        pix = self.thumb(path, box)
        target.setPixmap(pix if pix is not None else placeholder(box))
        if path is not None and pix is None:
            self._shown_paths.setdefault(str(path), []).append(target)
        target.setProperty("thumb_box", box)

    def _on_thumb(self, path: str) -> None:
        for target in self._shown_paths.pop(path, []):
            pix = self.thumb(path, int(target.property("thumb_box") or PHOTO_THUMB))
            if pix is not None:
                target.setPixmap(pix)


__all__ = [
    "REVIEW_KEYS",
    "ROW_THUMB",
    "NeighbourCard",
    "ReviewDetail",
    "ReviewToolbar",
    "placeholder",
    "queue_view",
]
