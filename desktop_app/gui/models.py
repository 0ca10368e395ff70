"""Qt item models over plain core results: articles, photos of one article, skipped files and the grouping
preview (the similar articles' model is in `results`).

The models only adapt data that workers have already produced; none of them touches the disk or the
database. Thumbnails come from a `ThumbnailLoader` and are repainted cell by cell when they arrive.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
)
from PySide6.QtGui import QGuiApplication

from desktop_app.core.filter_text import FilterTerm, label_filter, parse_filter
from desktop_app.core.overview import Articles
from desktop_app.core.wording import plural, skip_reason
from desktop_app.gui import theme
from desktop_app.gui.thumbs import ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex

ArticleRole = Qt.ItemDataRole.UserRole + 1
CountRole = Qt.ItemDataRole.UserRole + 2
LabelRole = Qt.ItemDataRole.UserRole + 3
FolderRole = Qt.ItemDataRole.UserRole + 4
CoverRole = Qt.ItemDataRole.UserRole + 5
AddedRole = Qt.ItemDataRole.UserRole + 6
ErrorsRole = Qt.ItemDataRole.UserRole + 7
ScoreRole = Qt.ItemDataRole.UserRole + 8
PairsRole = Qt.ItemDataRole.UserRole + 9
PathRole = Qt.ItemDataRole.UserRole + 10
PhotoIdRole = Qt.ItemDataRole.UserRole + 11

SIMILAR_SORT = "similar"  # the grid's order by similarity to the current query


def drag_mime(files: list[str | None], text: list[str]) -> QMimeData:
    """What a drag out of a view carries: files as URLs (for other apps), and text, one item per line."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in files if p])
    mime.setText("\n".join(text))
    return mime


class DragRows:
    """Mixin of an item model whose rows can be dragged out (as `drag_mime` in its `mimeData`)."""

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "text/plain"]


class ArticleGridModel(DragRows, QAbstractListModel):
    """All articles of the catalog, filtered and sorted; one row per visible article."""

    def __init__(self, thumbs: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.data_: Articles = Articles.from_overview([])
        self.root: Path | None = None
        self.visible = np.zeros(0, dtype=np.int64)  # source index of each row
        self._row_of = np.zeros(0, dtype=np.int64)  # visible row of each source index, -1 when filtered out
        self._root_prefix: str | None = None  # photo folder with a trailing separator
        self.sort_key = "name"
        self.descending = False
        self.ranked: list[str] = []  # the "similar" order: articles by similarity to a query
        self._similarity: np.ndarray | None = None  # that order as source indexes (made when needed)
        self.filter_text = ""
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)

    # ------------------------------------------------------------ data in

    def set_articles(self, articles: Articles, root: Path | None) -> None:
        self.beginResetModel()
        self.data_ = articles
        self.root = root
        self._similarity = None
        # Absolute cover paths are made as cells are painted; the reverse map (built by the worker that
        # loaded the catalog) is keyed by the relative path, so nothing here walks all articles.
        self._root_prefix = os.path.join(str(root), "") if root is not None else None
        self._recompute()
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        if text == self.filter_text:
            return
        self.beginResetModel()
        self.filter_text = text
        self._recompute()
        self.endResetModel()

    def set_sort(self, key: str, descending: bool | None = None) -> None:
        """Order by a sort key of the overview, or "similar" (the order given to `set_similarity`)."""
        descending = self.descending if descending is None else descending
        if (key, descending) == (self.sort_key, self.descending):
            return
        if key not in self.data_.orders and key != SIMILAR_SORT:
            return
        self.beginResetModel()
        self.sort_key, self.descending = key, descending
        self._recompute()
        self.endResetModel()

    def set_similarity(self, ranked: list[str]) -> None:
        """The "similar" order: these articles first, in this order, then every other one by name."""
        self.ranked = list(ranked)
        self._similarity = None
        if self.sort_key == SIMILAR_SORT:
            self.beginResetModel()
            self._recompute()
            self.endResetModel()

    def _order(self) -> np.ndarray:
        n = len(self.data_)
        if self.sort_key == SIMILAR_SORT:
            if self._similarity is None:
                index = self._key_index()
                first = [index[a] for a in dict.fromkeys(self.ranked) if a in index]
                rest = np.ones(n, dtype=bool)
                rest[first] = False
                self._similarity = np.concatenate([np.asarray(first, dtype=np.int64), np.flatnonzero(rest)])
            order = self._similarity
        else:
            order = self.data_.orders.get(self.sort_key)
        order = order if order is not None else np.arange(n, dtype=np.int64)
        return order[::-1] if self.descending else order

    def _recompute(self) -> None:
        n = len(self.data_)
        order = self._order()
        for term in parse_filter(self.filter_text):  # every term must match
            order = order[self._matches(term)[order]]
        self.visible = np.asarray(order, dtype=np.int64)
        self._row_of = np.full(n, -1, dtype=np.int64)
        self._row_of[self.visible] = np.arange(len(self.visible), dtype=np.int64)

    def _matches(self, term: FilterTerm) -> np.ndarray:
        """Which articles hold a filter term (case aside). `label:FIELD=VALUE` looks in that field's value
        alone, as a search's label filter does; `label:VALUE` in every label."""
        d = self.data_
        needle = term.text.lower()
        hay: Sequence[str]
        if term.field == "label" and "=" in term.text:
            field_, value = label_filter(term.text)
            needle = value.lower()
            hay = [lab[field_].lower() if field_ in lab else None for lab in d.labels]
        elif term.field == "label":
            hay = [t.lower() for t in d.label_texts]
        elif term.field == "id":
            hay = [k.lower() for k in d.keys]
        elif term.field == "folder":
            hay = [f.lower() for f in d.folders]
        else:
            hay = d.haystack
        return np.fromiter((h is not None and needle in h for h in hay), dtype=bool, count=len(d))

    # ------------------------------------------------------------ lookups

    def article_at(self, row: int) -> str:
        return self.data_.keys[int(self.visible[row])]

    def row_of(self, article: str) -> int:
        i = self._key_index().get(article)
        return -1 if i is None else int(self._row_of[i])

    def _key_index(self) -> dict[str, int]:
        return self.data_.index_of

    def cover_path(self, source: int) -> str | None:
        cover = self.data_.covers[source]
        if self._root_prefix is None or not cover:
            return None
        return self._root_prefix + (cover if os.sep == "/" else cover.replace("/", os.sep))

    def _thumb_ready(self, path: str) -> None:
        if self._root_prefix is None or not path.startswith(self._root_prefix):
            return
        rel = path[len(self._root_prefix) :].replace(os.sep, "/")
        for i in self.data_.with_cover(rel):
            row = int(self._row_of[i])
            if row >= 0:
                idx = self.index(row, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # ------------------------------------------------------------ Qt model API

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else int(len(self.visible))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.visible) or index.column() != 0:
            return None
        i = int(self.visible[index.row()])
        d = self.data_
        if role in (Qt.ItemDataRole.DisplayRole, ArticleRole):
            return d.keys[i]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(self.cover_path(i)) if self.thumbs is not None else None
        getter = self._ROLE_GETTERS.get(role)
        return getter(self, i) if getter is not None else None

    def _tooltip(self, i: int) -> str:
        d = self.data_
        lines = [d.keys[i], plural(int(d.counts[i]), "photo")]
        if d.folders[i]:
            lines.append(f"folder: {d.folders[i]}")
        if d.label_texts[i]:
            lines.append(f"labels: {d.label_texts[i]}")
        if d.errors[i]:
            lines.append(f"{plural(int(d.errors[i]), 'photo')} could not be read")
        lines.append("added " + time.strftime("%Y-%m-%d %H:%M", time.localtime(float(d.added[i]))))
        return "\n".join(lines)

    _ROLE_GETTERS = {
        CountRole: lambda self, i: int(self.data_.counts[i]),
        LabelRole: lambda self, i: self.data_.label_texts[i],
        FolderRole: lambda self, i: self.data_.folders[i],
        CoverRole: lambda self, i: self.cover_path(i),
        AddedRole: lambda self, i: float(self.data_.added[i]),
        ErrorsRole: lambda self, i: int(self.data_.errors[i]),
        Qt.ItemDataRole.ToolTipRole: _tooltip,
        Qt.ItemDataRole.AccessibleTextRole: lambda self, i: (
            f"{self.data_.keys[i]}, {plural(int(self.data_.counts[i]), 'photo')}"
        ),
    }

    def mimeData(self, indexes) -> QMimeData:
        """A drag of articles: each one's cover photo as a file URL, the article ids as text."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        sources = [int(self.visible[r]) for r in rows]
        return drag_mime([self.cover_path(i) for i in sources], [self.data_.keys[i] for i in sources])


class ColumnsModel(QAbstractTableModel):
    """A flat table with fixed header `COLUMNS` over the list `rows`; subclasses say what a cell shows."""

    COLUMNS: tuple[str, ...] = ()
    rows: list

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None


def photo_cell(r: Any, col: int) -> str | None:
    """The text of one cell of the photo table (a core PhotoRow)."""
    if col == 0:
        return r.path.rsplit("/", 1)[-1]
    if col == 1:
        return r.view or "—"
    if col == 2:
        return f"{r.width} × {r.height}" if r.width and r.height else "—"
    if col == 3:
        return "ok" if r.status == "ok" else (r.error or "error").split(":", 1)[0].replace("_", " ")
    return r.path if col == 4 else None


class PhotoTableModel(DragRows, ColumnsModel):
    """The photos of one article: thumbnail, file name, view tag, pixel size, status and path."""

    COLUMNS = ("Photo", "View", "Size", "Status", "Path")

    def __init__(self, thumbs: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.rows: list[Any] = []  # core.catalog.PhotoRow
        self.root: Path | None = None
        self.article = ""
        self.cover: str | None = None
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)

    def set_photos(self, article: str, rows: list[Any], root: Path | None, cover: str | None = None) -> None:
        """The article's photos; `cover` is the photo shown for it in the grid (marked in the first column)."""
        self.beginResetModel()
        self.article = article
        self.rows = list(rows)
        self.root = root
        self.cover = cover
        self.endResetModel()

    def abs_path(self, row: int) -> Path | None:
        if not 0 <= row < len(self.rows) or self.root is None:
            return None
        return self.root / os.fsdecode(self.rows[row].raw_path)

    def _thumb_ready(self, path: str) -> None:
        for r in range(len(self.rows)):
            p = self.abs_path(r)
            if p is not None and str(p) == path:
                idx = self.index(r, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        r = self.rows[index.row()]
        col = index.column()
        if role == PathRole:
            p = self.abs_path(index.row())
            return str(p) if p else None
        if role == PhotoIdRole:
            return int(r.id)
        if role == Qt.ItemDataRole.DisplayRole:
            text = photo_cell(r, col)
            return f"{text}  · cover" if col == 0 and r.path == self.cover else text
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and self.thumbs is not None:
            p = self.abs_path(index.row())
            return self.thumbs.get(p) if p is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            p = self.abs_path(index.row())
            tip = str(p) if p else r.path
            return tip + (f"\nskipped: {r.error}" if r.status != "ok" else "")
        if role == Qt.ItemDataRole.ForegroundRole and col == 3 and r.status != "ok":
            return theme.error_text(QGuiApplication.palette())
        return None

    def mimeData(self, indexes) -> QMimeData:
        """A drag of photos: the files as URLs, their paths as text."""
        paths = [
            str(p) for p in (self.abs_path(r) for r in sorted({i.row() for i in indexes})) if p is not None
        ]
        return drag_mime(paths, paths)


class SkippedModel(ColumnsModel):
    """Files the indexer could not use, with the reason in words."""

    COLUMNS = ("File", "Reason", "Details")

    def __init__(self, items: list[dict] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.rows = list(items or [])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        item = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            col = index.column()
            if col == 0:
                return item.get("path", "")
            if col == 1:
                return skip_reason(item.get("reason", ""))
            if col == 2:
                return item.get("message", "")
        return None


@dataclass
class PreviewArticle:
    """One article of the grouping preview: its photos (relative paths) and their view tags."""

    article: str
    paths: list[str]
    views: list[str]
    matched: bool  # False: the file name did not match the pattern (a single-photo article)


class GroupingPreviewModel(ColumnsModel):
    """How the first files of a folder group into articles under the rule being edited: one row per
    article with its cover thumbnail, its photo count and view tags."""

    COLUMNS = ("Article", "Photos", "Views")

    def __init__(self, thumbs: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs  # reads relative paths under the folder being previewed
        self.rows: list[PreviewArticle] = []
        self.files = 0
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)

    def set_preview(self, items: list[tuple[str, Any]]) -> None:
        by_article: dict[str, PreviewArticle] = {}
        for path, g in items:
            row = by_article.setdefault(g.article, PreviewArticle(g.article, [], [], bool(g.matched)))
            row.paths.append(path)
            row.views.append(g.view or "")
            row.matched = row.matched and bool(g.matched)
        self.beginResetModel()
        self.rows = list(by_article.values())
        self.files = len(items)
        self.endResetModel()

    def cover(self, row: PreviewArticle) -> str:
        from desktop_app.core.scan import cover_position

        return row.paths[cover_position([v or None for v in row.views])]

    def summary(self, total: int | None = None) -> str:
        """ "The first 200 of 725 photos form 131 articles (40 with several photos)…" in words."""
        if not self.rows:
            return "No photos found in this folder."
        n = len(self.rows)
        several = sum(1 for r in self.rows if len(r.paths) > 1)
        of = f" of {total:,}" if total and total > self.files else ""
        first = (
            f"The first {self.files:,}{of} photos" if of or total is None else f"All {self.files:,} photos"
        )
        text = f"{first} form {plural(n, 'article')} ({several:,} with several photos)"
        unmatched = sum(len(r.paths) for r in self.rows if not r.matched)
        if unmatched:
            verb = (
                "does not match the pattern and becomes a single-photo article"
                if unmatched == 1
                else ("do not match the pattern and become single-photo articles")
            )
            text += f"; {unmatched} {verb}"
        return text + "."

    def _thumb_ready(self, path: str) -> None:
        for i, r in enumerate(self.rows):
            if self.cover(r) == path:
                idx = self.index(i, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            views = ", ".join(v for v in row.views if v) or "—"
            return (row.article, str(len(row.paths)), views)[col] if col < 3 else None
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and self.thumbs is not None:
            return self.thumbs.get(self.cover(row))
        if role == Qt.ItemDataRole.ForegroundRole and not row.matched:
            return theme.warn_text(QGuiApplication.palette())
        if role == Qt.ItemDataRole.ToolTipRole:
            files = "\n".join(row.paths[:12]) + (
                f"\n… and {len(row.paths) - 12} more" if len(row.paths) > 12 else ""
            )
            note = (
                "\nDoes not match the pattern: this photo becomes an article of its own."
                if not row.matched
                else ""
            )
            return files + note
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
