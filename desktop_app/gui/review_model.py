"""The review queue's item model: unlabelled articles with their label suggestion, one row each.

Rows are the articles still waiting for a decision. A decision removes its row; an undo puts it back at the
top; a skip moves it to the end and greys it. The model never talks to the catalog: the queue widget
commits first and only then edits the model, so what the list shows is never ahead of what is on disk.

"No suggestion" is a view of the data, not a recomputation: every suggestion is computed once with no
threshold and the model hides the label when its confidence is below `min_confidence`. That way the
curator can move the threshold and see the effect at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap

from desktop_app.core.labels import Suggestion

ORDERS = ("certain", "uncertain")  # most certain first, least certain first (the hard cases)

Index = QModelIndex | QPersistentModelIndex


@dataclass
class QueueEntry:
    suggestion: Suggestion
    skipped: bool = False

    @property
    def article(self) -> str:
        return self.suggestion.article


def shown_label(s: Suggestion, min_confidence: float) -> str | None:
    """The label the queue offers, or None for "no suggestion" (none at all, or below the threshold)."""
    if s.label is None or s.confidence < min_confidence:
        return None
    return s.label


def percent_text(value: float) -> str:
    """A confidence as a whole percent, rounded down: the threshold compares the exact figure, so 0.8996
    must read 89% (it is not accepted at 90%), never 90%. Below 1% it reads "<1%", zero included: a label
    on screen had at least one vote, so a 0 is a figure rounded away, and "0%" beside "<1%" reads as two
    different things."""
    if value < 0.01:
        return "<1%"
    return f"{math.floor(round(value * 100, 6))}%"  # round first: 0.29 * 100 is 28.999999999999996


def sort_key(entry: QueueEntry, order: str) -> tuple:
    # Skipped articles always wait at the end: skipping means "not now", whatever their confidence.
    conf = entry.suggestion.confidence
    return (entry.skipped, -conf if order == "certain" else conf, entry.article)


class SuggestionModel(QAbstractTableModel):
    """Table of QueueEntry rows: article, suggested label, confidence, runner-up labels."""

    COLUMNS = ("Article", "Suggestion", "Confidence", "Alternatives")
    ARTICLE, LABEL, CONFIDENCE, ALTERNATIVES = range(4)
    SuggestionRole = Qt.ItemDataRole.UserRole + 1  # the core Suggestion
    ArticleRole = Qt.ItemDataRole.UserRole + 2  # the article id (str)
    SkippedRole = Qt.ItemDataRole.UserRole + 3  # bool

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[QueueEntry] = []
        self._rows: dict[str, int] = {}
        self.min_confidence = 0.0
        self.order = "certain"
        # Cover thumbnails come from the widget's cache; the model only asks, and never waits.
        self.cover_lookup: Callable[[str], QPixmap | None] | None = None

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._entries)):
            return None
        getter = self._ROLES.get(role)
        return getter(self, self._entries[index.row()], index.column()) if getter is not None else None

    def _display(self, entry: QueueEntry, col: int) -> str | None:
        s = entry.suggestion
        if col == self.ARTICLE:
            return s.article
        if col == self.LABEL:
            label = shown_label(s, self.min_confidence)
            if label is not None:
                return label
            # the confidence beside it is this guess's: say which label it is for (greyed by _foreground)
            return f"(no suggestion; best guess {s.label})" if s.label is not None else "(no suggestion)"
        if col == self.CONFIDENCE:
            return percent_text(s.confidence) if s.alternatives else "–"
        if col == self.ALTERNATIVES:
            return ", ".join(
                f"{e.label} {percent_text(e.confidence)} ({e.short()})" for e in s.evidence()[1:]
            )
        return None

    def _tooltip(self, entry: QueueEntry, col: int) -> str:
        s = entry.suggestion
        if col == self.LABEL and s.label is not None and shown_label(s, self.min_confidence) is None:
            return (
                f"Best guess {s.label} at {percent_text(s.confidence)}, "
                f"below the {percent_text(self.min_confidence)} needed for a suggestion"
            )
        if col == self.ALTERNATIVES and s.similarities:
            return (
                "Zero-shot: each label's confidence, and its similarity (sim) to the photos: the cosine "
                "of the label's words with each photo, averaged (CLIP)"
            )
        return "Skipped: still unlabelled" if entry.skipped else s.article

    def _foreground(self, entry: QueueEntry, col: int) -> QBrush | None:
        hidden = col == self.LABEL and shown_label(entry.suggestion, self.min_confidence) is None
        return QBrush(QColor("#8a8a8a")) if entry.skipped or hidden else None

    def _decoration(self, entry: QueueEntry, col: int) -> QPixmap | None:
        if col == self.ARTICLE and self.cover_lookup is not None:
            return self.cover_lookup(entry.article)
        return None

    _ROLES = {
        Qt.ItemDataRole.DisplayRole: _display,
        Qt.ItemDataRole.ToolTipRole: _tooltip,
        Qt.ItemDataRole.ForegroundRole: _foreground,
        Qt.ItemDataRole.DecorationRole: _decoration,
        Qt.ItemDataRole.TextAlignmentRole: lambda self, entry, col: (
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if col == self.CONFIDENCE
            else None
        ),
        SuggestionRole: lambda self, entry, col: entry.suggestion,
        ArticleRole: lambda self, entry, col: entry.article,
        SkippedRole: lambda self, entry, col: entry.skipped,
    }

    # ------------------------------------------------------------------ queue operations

    def reset(self, suggestions: Iterable[Suggestion], skipped: Iterable[str] = ()) -> None:
        skipped = set(skipped)
        self.beginResetModel()
        self._entries = [QueueEntry(s, s.article in skipped) for s in suggestions]
        self._entries.sort(key=lambda e: sort_key(e, self.order))
        self._reindex()
        self.endResetModel()

    def set_order(self, order: str) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}")
        self.order = order
        # A layout change (not a reset) keeps the view's current row and selection on the same article.
        self.layoutAboutToBeChanged.emit()
        before = [e.article for e in self._entries]
        persistent = self.persistentIndexList()
        self._entries.sort(key=lambda e: sort_key(e, order))
        self._reindex()
        moved = [
            self.index(self._rows[before[p.row()]], p.column())
            if 0 <= p.row() < len(before)
            else QModelIndex()
            for p in persistent
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def set_min_confidence(self, value: float) -> None:
        self.min_confidence = float(value)
        if self._entries:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._entries) - 1, len(self.COLUMNS) - 1))

    def entry(self, row: int) -> QueueEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def entries(self) -> list[QueueEntry]:
        return list(self._entries)

    def row_of(self, article: str) -> int:
        return self._rows.get(article, -1)

    def remove(self, article: str) -> int:
        """Drop an article's row (it was decided); returns the row it had, or -1."""
        row = self.row_of(article)
        if row < 0:
            return -1
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._entries[row]
        self._reindex()
        self.endRemoveRows()
        return row

    def remove_many(self, articles: Iterable[str]) -> None:
        # Contiguous runs are removed together so that a bulk accept of hundreds of rows stays cheap.
        rows = sorted((self.row_of(a) for a in set(articles)), reverse=True)
        rows = [r for r in rows if r >= 0]
        i = 0
        while i < len(rows):
            hi = rows[i]
            lo = hi
            while i + 1 < len(rows) and rows[i + 1] == lo - 1:
                i += 1
                lo = rows[i]
            self.beginRemoveRows(QModelIndex(), lo, hi)
            del self._entries[lo : hi + 1]
            self.endRemoveRows()
            i += 1
        self._reindex()

    def insert(self, row: int, entry: QueueEntry) -> int:
        """Put an article back (an undo); returns its row. An article already queued is moved there."""
        if entry.article in self._rows:
            self.remove(entry.article)
        row = max(0, min(row, len(self._entries)))
        self.beginInsertRows(QModelIndex(), row, row)
        self._entries.insert(row, entry)
        self._reindex()
        self.endInsertRows()
        return row

    def mark_skipped(self, article: str) -> int:
        """Move a skipped article to the end, greyed; returns its new row."""
        row = self.row_of(article)
        if row < 0:
            return -1
        entry = self._entries[row]
        entry.skipped = True
        last = len(self._entries) - 1
        if row != last:
            # moveRows semantics: the destination is the row the item is inserted before (one past the end)
            self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), last + 1)
            del self._entries[row]
            self._entries.append(entry)
            self._reindex()
            self.endMoveRows()
        self.dataChanged.emit(self.index(last, 0), self.index(last, len(self.COLUMNS) - 1))
        return last

    def counts(self) -> tuple[int, int]:
        """(rows waiting, of which skipped)."""
        skipped = sum(e.skipped for e in self._entries)
        return len(self._entries), skipped

    def refresh_covers(self, article: str) -> None:
        row = self.row_of(article)
        if row >= 0:
            idx = self.index(row, self.ARTICLE)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def _reindex(self) -> None:
        self._rows = {e.article: i for i, e in enumerate(self._entries)}
