"""The match inspector's table model: one `Inspection` matrix, its colours, and one method's pairs.

`MatrixModel` is a read-only QAbstractTableModel over the [n_a, n_b] similarity matrix. Cell colours are
computed once per matrix (numpy, then a grid of QColor) because painting 1,600 cells must not redo the
colour scale; what changes when the curator moves s or m is only the decoration layer (which pair sits
where, used or not, which rows and columns are unpaired), rebuilt from a `matching.MatchResult` into small
numpy arrays. The model never scores anything: the pairs come from `desktop_app.core.matching` through
`desktop_app.core.inspect.rescore`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap

from desktop_app.core import matching
from desktop_app.core.inspect import Inspection

# Custom roles the delegate and the headers read; tests use them too.
ValueRole = Qt.ItemDataRole.UserRole + 1  # float similarity
PairRole = Qt.ItemDataRole.UserRole + 2  # (rank, state, label) of the chosen pair in this cell, or None
GreyRole = Qt.ItemDataRole.UserRole + 3  # bool: the cell's row or column (or the header) is unpaired
HighlightRole = Qt.ItemDataRole.UserRole + 4  # int flags: HIGHLIGHT_ROW | HIGHLIGHT_COL
PathRole = Qt.ItemDataRole.UserRole + 5  # headers: the photo path relative to the photo folder

# Pair states, small ints so the decoration layer is one int8 array.
NONE, USED, BELOW, BEYOND = 0, 1, 2, 3
STATE_OF_REASON = {"": USED, matching.BELOW_THRESHOLD: BELOW, matching.BEYOND_M: BEYOND}

HIGHLIGHT_ROW, HIGHLIGHT_COL = 1, 2

# A sequential scale from pale to deep blue-green: dark means similar, and the pair marks (warm colours)
# stay visible on every step. Anchors are (position, r, g, b).
_RAMP = np.array(
    [
        (0.00, 250, 250, 235),
        (0.25, 208, 236, 196),
        (0.50, 128, 203, 190),
        (0.75, 50, 142, 185),
        (1.00, 22, 62, 122),
    ],
    dtype=np.float64,
)
_GREY = np.array([226.0, 226.0, 226.0])
_GREY_MIX = (
    0.72  # how much of a greyed cell is grey: enough to read as "out", little enough to keep its value
)


def colour_range(matrix: np.ndarray) -> tuple[float, float]:
    """The values the scale's ends stand for: the matrix's own range, at least 0.05 wide.

    Image-embedding cosines of one product pair sit in a narrow band (often .70-.90), so a fixed 0..1 scale
    would paint every cell the same; a floor on the width keeps near-identical values from looking extreme.
    """
    finite = matrix[np.isfinite(matrix)] if matrix.size else matrix
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 0.05:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.025, mid + 0.025
    return lo, hi


def ramp_rgb(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values to uint8 RGB on the scale (vectorised: one call for the whole matrix)."""
    t = np.clip((np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    t = np.nan_to_num(t, nan=0.0)
    out = np.empty(t.shape + (3,), dtype=np.float64)
    for k in range(3):
        out[..., k] = np.interp(t, _RAMP[:, 0], _RAMP[:, k + 1])
    return np.rint(out).astype(np.uint8)


def greyed_rgb(rgb: np.ndarray) -> np.ndarray:
    return np.rint(rgb.astype(np.float64) * (1 - _GREY_MIX) + _GREY * _GREY_MIX).astype(np.uint8)


def ink_for(rgb: np.ndarray) -> np.ndarray:
    """True where white text reads better than black (relative luminance below about 0.45)."""
    lum = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) / 255.0
    return lum < 0.45


def format_sim(v: float) -> str:
    """A similarity the one way the inspector writes it outside the matrix cells: three decimals with the
    leading zero ("0.837", "-0.120"), as the results, the summary and the s box show it."""
    return f"{v:.3f}" if np.isfinite(v) else "n/a"


def cell_sim(v: float) -> str:
    """A similarity in a matrix cell, where room is short: three decimals, every cell without the leading
    zero (".837", "-.120"), so a column of them reads as one format."""
    text = format_sim(v)
    return text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text


def flat_value(matrix: np.ndarray) -> float | None:
    """The one value of a matrix whose finite cells all hold the same (a 1x1 matrix): it has no colour
    range, so the legend shows the value instead of a scale made up around it."""
    finite = matrix[np.isfinite(matrix)] if matrix.size else matrix
    if finite.size == 0 or float(finite.min()) != float(finite.max()):
        return None
    return float(finite[0])


def photo_name(path: str) -> str:
    """A short header label: the file name without its folders or its image extension."""
    name = Path(path).name or path
    stem, dot, ext = name.rpartition(".")
    # Only a real extension goes ("a.jpg" -> "a"); a name such as "cand. photo 5" keeps its dot.
    if dot and stem and 1 <= len(ext) <= 5 and ext.isalnum():
        return stem
    return name


class MatrixModel(QAbstractTableModel):
    """Rows: the query article's photos; columns: the candidate's; decorations: one method's pairs."""

    def __init__(self, inspection: Inspection, method: str, parent=None) -> None:
        super().__init__(parent)
        self.inspection = inspection
        self.method = method
        self.thumbs: dict[str, QPixmap] = {}  # photo path -> header thumbnail, shared by the inspector
        self._highlight_row: int | None = None
        self._highlight_col: int | None = None
        self.base_version = 0
        self._precompute_colours()
        self._decorate(inspection.results.get(method))

    # ------------------------------------------------------------------ colours (once per matrix)

    def _precompute_colours(self) -> None:
        m = np.asarray(self.inspection.matrix, dtype=np.float64)
        self.lo, self.hi = colour_range(m)
        self.flat = flat_value(m)  # all cells alike: the legend says the value, not a range
        rgb = ramp_rgb(m, self.lo, self.hi)
        grey = greyed_rgb(rgb)
        white = ink_for(rgb)
        # Python lists of QColor: data() then costs one list lookup per cell, which matters while painting.
        self._bg = [[QColor(*map(int, rgb[i, j])) for j in range(m.shape[1])] for i in range(m.shape[0])]
        self._bg_grey = [
            [QColor(*map(int, grey[i, j])) for j in range(m.shape[1])] for i in range(m.shape[0])
        ]
        self._ink = [
            [QColor(255, 255, 255) if white[i, j] else QColor(20, 20, 20) for j in range(m.shape[1])]
            for i in range(m.shape[0])
        ]
        self._ink_grey = QColor(110, 110, 110)
        self._text = [[cell_sim(float(m[i, j])) for j in range(m.shape[1])] for i in range(m.shape[0])]

    # ------------------------------------------------------------------ decorations (per method, s, m)

    def _decorate(self, result: matching.MatchResult | None) -> bool:
        """Rebuild the decoration arrays; True when the greyed rows/columns changed (the base layer did)."""
        n_a, n_b = self.inspection.matrix.shape
        self.result = result
        self._rank = np.zeros((n_a, n_b), dtype=np.int32)
        self._state = np.zeros((n_a, n_b), dtype=np.int8)
        self._label: dict[tuple[int, int], str] = {}
        pairs = result.pairs if result is not None else []
        for p in pairs:
            self._rank[p.row, p.col] = p.rank
            self._state[p.row, p.col] = STATE_OF_REASON.get(p.reason, USED if p.used else BELOW)
            self._label[(p.row, p.col)] = self._pair_label(p)
        self.pair_cells: list[tuple[int, int]] = [(p.row, p.col) for p in pairs]
        # "Unpaired" means the method chose no pair for that photo at all; a chosen pair that s or m left out
        # keeps its row lit and says why through its own mark (struck through, or the m badge).
        row_grey = np.zeros(n_a, dtype=bool)
        col_grey = np.zeros(n_b, dtype=bool)
        if pairs:
            row_grey[:] = True
            col_grey[:] = True
            for p in pairs:
                row_grey[p.row] = False
                col_grey[p.col] = False
        changed = not (
            np.array_equal(row_grey, getattr(self, "_row_grey", None))
            and np.array_equal(col_grey, getattr(self, "_col_grey", None))
        )
        self._row_grey, self._col_grey = row_grey, col_grey
        if changed:
            # The view caches the painted cells (colour and value) per base version: moving s or m keeps the
            # same chosen pairs, so only the pair marks repaint; a new method may grey other rows.
            self.base_version += 1
        return changed

    def _pair_label(self, p: matching.Pair) -> str:
        # Only greedy's rank is a pick order; Hungarian's pairs are one simultaneous choice, so numbering
        # them would suggest a sequence that never happened. Ordered names the view that paired them.
        if self.method == "greedy":
            return f"({p.rank})"
        if self.method == "ordered":
            views = self.inspection.views_a
            if self.result is not None and self.result.fallback is None and views[p.row]:
                return str(views[p.row])
            return f"({p.rank})"
        if self.method == "max":
            return "max"
        return ""

    def set_method(self, method: str) -> None:
        self.method = method
        self.refresh()

    def refresh(self) -> None:
        """Re-read this method's result from the inspection (after `rescore`) and repaint decorations."""
        grey_changed = self._decorate(self.inspection.results.get(self.method))
        rows, cols = self.rowCount(), self.columnCount()
        if rows and cols:
            # One signal for the whole grid: the view repaints what is visible, in the next frame.
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(rows - 1, cols - 1),
                [
                    PairRole,
                    GreyRole,
                    Qt.ItemDataRole.BackgroundRole,
                    Qt.ItemDataRole.ForegroundRole,
                    Qt.ItemDataRole.ToolTipRole,
                ],
            )
        if grey_changed:
            # Headers only show greying and highlight: no need to repaint them for a move of s or m.
            if cols:
                self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, cols - 1)
            if rows:
                self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, rows - 1)

    def set_highlight(self, row: int | None, col: int | None) -> None:
        """Mark one photo's row and/or column (a clicked header); None clears."""
        self._highlight_row, self._highlight_col = row, col
        rows, cols = self.rowCount(), self.columnCount()
        if rows and cols:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, cols - 1), [HighlightRole])
        if cols:
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, cols - 1)
        if rows:
            self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, rows - 1)

    @property
    def highlight(self) -> tuple[int | None, int | None]:
        return self._highlight_row, self._highlight_col

    def thumbnail_changed(self, path: str) -> None:
        """A header thumbnail arrived: repaint just the headers showing that photo."""
        for orientation, paths in (
            (Qt.Orientation.Vertical, self.inspection.paths_a),
            (Qt.Orientation.Horizontal, self.inspection.paths_b),
        ):
            for k, p in enumerate(paths):
                if p == path:
                    self.headerDataChanged.emit(orientation, k, k)

    def row_greyed(self, row: int) -> bool:
        return bool(self._row_grey[row])

    def pair_at(self, row: int, col: int) -> tuple[int, int, str] | None:
        rank = int(self._rank[row, col])
        if not rank:
            return None
        return rank, int(self._state[row, col]), self._label.get((row, col), "")

    def base_paint(self, i: int, j: int) -> tuple[QColor, QColor, str]:
        """The part of a cell that s and m never change: background, ink, value text."""
        if self._row_grey[i] or self._col_grey[j]:
            return self._bg_grey[i][j], self._ink_grey, self._text[i][j]
        return self._bg[i][j], self._ink[i][j], self._text[i][j]

    def cell_paint(self, i: int, j: int) -> tuple[QColor, QColor, str, tuple[int, int, str] | None, int]:
        """Everything the delegate draws for one cell: background, ink, text, pair, highlight flags."""
        grey = self._row_grey[i] or self._col_grey[j]
        flags = (HIGHLIGHT_ROW if i == self._highlight_row else 0) | (
            HIGHLIGHT_COL if j == self._highlight_col else 0
        )
        return (
            (self._bg_grey if grey else self._bg)[i][j],
            self._ink_grey if grey else self._ink[i][j],
            self._text[i][j],
            self.pair_at(i, j),
            flags,
        )

    # ------------------------------------------------------------------ QAbstractTableModel

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else int(self.inspection.matrix.shape[0])

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else int(self.inspection.matrix.shape[1])

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # Enabled but not selectable: clicking a cell must not paint a selection over the heatmap.
        return Qt.ItemFlag.ItemIsEnabled

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        i, j = index.row(), index.column()
        if not (0 <= i < self.rowCount() and 0 <= j < self.columnCount()):
            return None
        getter = self._CELL_ROLES.get(role)
        return getter(self, i, j) if getter is not None else None

    def _grey(self, i: int, j: int) -> bool:
        return bool(self._row_grey[i] or self._col_grey[j])

    def _highlight_flags(self, i: int, j: int) -> int:
        return (HIGHLIGHT_ROW if i == self._highlight_row else 0) | (
            HIGHLIGHT_COL if j == self._highlight_col else 0
        )

    def _tooltip(self, i: int, j: int) -> str:
        ins = self.inspection
        text = (
            f"{ins.article_a} photo {i + 1} ({photo_name(ins.paths_a[i])}) vs {ins.article_b} photo {j + 1} "
            f"({photo_name(ins.paths_b[j])}): {format_sim(float(ins.matrix[i, j]))}"
        )
        pair = self.pair_at(i, j)
        if pair is not None:
            rank, state, _label = pair
            why = {
                USED: "counts in the score",
                BELOW: "below the threshold s, left out",
                BEYOND: "beyond the m most similar pairs, left out",
            }.get(state, "")
            text += f"\n{self.method}: pair {rank}, {why}"
        return text

    _CELL_ROLES = {
        Qt.ItemDataRole.DisplayRole: lambda self, i, j: self._text[i][j],
        Qt.ItemDataRole.BackgroundRole: lambda self, i, j: (
            self._bg_grey[i][j] if self._grey(i, j) else self._bg[i][j]
        ),
        Qt.ItemDataRole.ForegroundRole: lambda self, i, j: (
            self._ink_grey if self._grey(i, j) else self._ink[i][j]
        ),
        Qt.ItemDataRole.TextAlignmentRole: lambda self, i, j: int(Qt.AlignmentFlag.AlignCenter.value),
        ValueRole: lambda self, i, j: float(self.inspection.matrix[i, j]),
        PairRole: lambda self, i, j: self.pair_at(i, j),
        GreyRole: _grey,
        HighlightRole: _highlight_flags,
        Qt.ItemDataRole.ToolTipRole: _tooltip,
    }

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        ins = self.inspection
        paths = ins.paths_a if orientation == Qt.Orientation.Vertical else ins.paths_b
        views = ins.views_a if orientation == Qt.Orientation.Vertical else ins.views_b
        if not 0 <= section < len(paths):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return photo_name(paths[section])
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(paths[section])
        if role in (Qt.ItemDataRole.ToolTipRole, PathRole):
            view = views[section] if section < len(views) else None
            if role == PathRole:
                return paths[section]
            return paths[section] + (f"  [view: {view}]" if view else "")
        if role == GreyRole:
            greys = self._row_grey if orientation == Qt.Orientation.Vertical else self._col_grey
            return bool(greys[section])
        if role == HighlightRole:
            hit = self._highlight_row if orientation == Qt.Orientation.Vertical else self._highlight_col
            return section == hit
        return None


__all__ = [
    "BELOW",
    "BEYOND",
    "GreyRole",
    "HIGHLIGHT_COL",
    "HIGHLIGHT_ROW",
    "HighlightRole",
    "MatrixModel",
    "NONE",
    "PairRole",
    "PathRole",
    "USED",
    "ValueRole",
    "colour_range",
    "cell_sim",
    "flat_value",
    "format_sim",
    "greyed_rgb",
    "ink_for",
    "photo_name",
    "ramp_rgb",
]
