"""The match inspector's pieces that show one thing each: a method's pane, the hover panel, the summaries.

`summary_html` words what one method did with the two articles' photos (score, pairs used, best and worst
pair, unpaired photos); `inspection_from_matrix` makes an `Inspection` of a bare similarity matrix, scored
by the core, for embedding and tests. Sizes of the inspector's thumbnails are defined here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import matching
from desktop_app.core.inspect import INSPECT_METHODS, Inspection, rescore
from desktop_app.core.wording import plural
from desktop_app.gui.inspector_model import MatrixModel, format_sim
from desktop_app.gui.inspector_paint import MatrixView, method_colour

LARGE_SIZE = 256  # the two photos of the hovered cell; made once at this size, headers are scaled down
HEADER_SIZE = LARGE_SIZE  # the deepest row and column headers: they grow with the cells

METHOD_TITLES = {
    "greedy": "Greedy pairs",
    "hungarian": "Best assignment (Hungarian)",
    "ordered": "Same view only (ordered)",
    "centroid": "Average photo (centroid)",
    "max": "Best single pair",
}
PREVIEW_SIZE = 210  # each of the two hovered photos in the side panel
# Fit fills a large window with a small matrix (1 x 2 photos at 160 px sat in a corner of 1300 x 840).
MIN_CELL, MAX_CELL = 16, LARGE_SIZE


def inspection_from_matrix(
    matrix: np.ndarray | Sequence[Sequence[float]],
    article_a: str = "query",
    article_b: str = "candidate",
    names_a: Sequence[str] | None = None,
    names_b: Sequence[str] | None = None,
    views_a: Sequence[str | None] | None = None,
    views_b: Sequence[str | None] | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
) -> Inspection:
    """An `Inspection` of a bare similarity matrix, scored by the core (no photos, so no centroid)."""
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError("The matrix must be two-dimensional: query photos x candidate photos.")
    n_a, n_b = m.shape
    ins = Inspection(
        article_a,
        article_b,
        m,
        list(names_a) if names_a is not None else [f"A{i + 1}" for i in range(n_a)],
        list(names_b) if names_b is not None else [f"B{j + 1}" for j in range(n_b)],
        list(views_a) if views_a is not None else [None] * n_a,
        list(views_b) if views_b is not None else [None] * n_b,
        threshold,
        max_matches,
    )
    rescore(ins)
    return ins


def _rc(p: matching.Pair) -> str:
    return f"({p.row + 1}, {p.col + 1})"


def _numbers(word: str, items: list[int]) -> str:
    return f"{word}{'s' if len(items) > 1 else ''} {', '.join(str(k + 1) for k in items)}"


def summary_html(ins: Inspection, method: str) -> str:
    """The per-method panel: score, pairs used, best and worst pair, unpaired photos, fallbacks."""
    res = ins.results.get(method)
    colour = method_colour(method).name()
    title = f"<b style='color:{colour}'>{METHOD_TITLES.get(method, method)}</b>"
    if res is None:
        return f"{title}<br>Not available here (the centroid needs the photo vectors)."
    score = format_sim(res.score)
    lines = [f"{title} &nbsp; score <b>{score}</b>"]
    if method == "centroid":
        lines.append(
            "Cosine of the two articles' mean photo vectors: it pairs no photos, so s and m do not apply."
        )
    elif method == "max":
        if res.pairs:
            p = res.pairs[0]
            lines.append(f"The single most similar pair {_rc(p)} {format_sim(p.sim)}; s and m do not apply.")
    else:
        lines += _pair_lines(ins, res)
    return "<br>".join(lines)


def _pair_lines(ins: Inspection, res: matching.MatchResult) -> list[str]:
    """What a set-matching method (greedy, Hungarian, ordered) did: pairs counted, left out, unpaired."""
    chosen, used = res.pairs, res.used_pairs
    below = sum(p.reason == matching.BELOW_THRESHOLD for p in chosen)
    beyond = sum(p.reason == matching.BEYOND_M for p in chosen)
    count = f"{len(used)} of {plural(len(chosen), 'chosen pair')} count"
    count += f" · {below} below s" if below else ""
    count += f" · {beyond} beyond m" if beyond else ""
    lines = [count]
    if used:
        best = max(used, key=lambda p: p.sim)
        worst = min(used, key=lambda p: p.sim)
        lines.append(f"best {_rc(best)} {format_sim(best.sim)} · worst {_rc(worst)} {format_sim(worst.sim)}")
    elif chosen:
        lines.append(
            f"No chosen pair reaches s = {format_sim(ins.threshold or 0.0)}: the score is 0, so this "
            "candidate sorts below every one that has a pair."
        )
    n_a, n_b = ins.matrix.shape
    rows = sorted(set(range(n_a)) - {p.row for p in chosen})
    cols = sorted(set(range(n_b)) - {p.col for p in chosen})
    if chosen and (rows or cols):
        parts = ([_numbers("row", rows)] if rows else []) + ([_numbers("column", cols)] if cols else [])
        lines.append("unpaired: " + "; ".join(parts))
    if res.fallback:
        lines.append("No view tag in common, so it matched like greedy.")
    return lines


def available_methods(ins: Inspection, wanted: Sequence[str | None]) -> list[str]:
    has_views = any(ins.views_a) or any(ins.views_b)
    out = []
    for m in INSPECT_METHODS:
        if m not in ins.results:
            continue
        # "Ordered" only means something with view tags; without them it is greedy under another name.
        if m == "ordered" and not has_views and m not in wanted:
            continue
        out.append(m)
    return out


class MethodPane(QWidget):
    """One method's view of the matrix: title, the heatmap, and the summary panel under it."""

    def __init__(
        self, inspection: Inspection, method: str, thumbs: dict[str, QPixmap], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.inspection = inspection
        self.model = MatrixModel(inspection, method, self)
        self.model.thumbs = thumbs
        self.view = MatrixView(self)
        self.view.setModel(self.model)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.summary.setMinimumHeight(self.summary.fontMetrics().height() * 4 + 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        layout.addStretch(0)
        self.update_summary()

    @property
    def method(self) -> str:
        return self.model.method

    def set_method(self, method: str) -> None:
        self.model.set_method(method)
        self.update_summary()

    def refresh(self) -> None:
        self.model.refresh()
        self.update_summary()

    def update_summary(self) -> None:
        self.summary.setText(summary_html(self.inspection, self.model.method))


class HoverPanel(QFrame):
    """The hovered cell's two photos, large and side by side, with the score and each method's verdict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.images = [QLabel(), QLabel()]
        self.captions = [QLabel(), QLabel()]
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 8, 8, 8)
        for k, (img, cap) in enumerate(zip(self.images, self.captions)):
            img.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
            img.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img.setStyleSheet("background: palette(alternate-base); color: palette(text);")
            img.setWordWrap(True)
            cap.setWordWrap(True)
            cap.setTextFormat(Qt.TextFormat.PlainText)
            cap.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            cap.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            cap.setMaximumWidth(PREVIEW_SIZE)
            grid.addWidget(img, 0, k)
            grid.addWidget(cap, 1, k)
        self.score = QLabel("Hover over a cell to compare its two photos.")
        self.score.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.score.setWordWrap(True)
        self.score.setTextFormat(Qt.TextFormat.RichText)
        grid.addWidget(self.score, 2, 0, 1, 2)
        self.cell: tuple[int, int] | None = None


def choose_methods(methods: list[str], method: str | None, compare: str | None) -> tuple[str, str]:
    """The two panes' methods: the ones asked for when available, else greedy and Hungarian."""
    first = method if method in methods else ("greedy" if "greedy" in methods else methods[0])
    if compare in methods and compare != first:
        return first, compare
    if first != "hungarian" and "hungarian" in methods:
        return first, "hungarian"
    return first, next((m for m in methods if m != first), first)


def missing_html(ins: Inspection, failed: dict[str, str]) -> str:
    """The banner over the matrix: photos of the two articles that have no vector, and why ("" if none)."""
    missing = [(ins.article_a, p) for p in ins.missing_a] + [(ins.article_b, p) for p in ins.missing_b]
    if not missing:
        return ""
    items = "".join(
        f"<li>{escape(art)}: {escape(p)}" + (f" — {escape(failed[p])}" if failed.get(p) else "") + "</li>"
        for art, p in missing[:12]
    )
    more = f"<li>… and {len(missing) - 12} more</li>" if len(missing) > 12 else ""
    return (
        f"<b>{plural(len(missing), 'photo')} failed to embed and "
        f"take no part in this comparison or in search:</b><ul style='margin:0'>{items}{more}"
        "</ul>Fix or replace the files, then update the index."
    )


class InspectorControls(QWidget):
    """The row of controls: the methods of the two panes, s (spin box and slider), m, zoom and export."""

    def __init__(self, methods: list[str], first: str, second: str, max_m: int, cell: int) -> None:
        super().__init__()
        self.method_box = QComboBox()
        self.compare_box = QComboBox()
        for box in (self.method_box, self.compare_box):
            for m in methods:
                box.addItem(METHOD_TITLES.get(m, m), m)
        self.method_box.setCurrentIndex(methods.index(first))
        self.compare_box.setCurrentIndex(methods.index(second))
        self.side_check = QCheckBox("Side by side with")
        self.s_spin = QDoubleSpinBox()
        self.s_spin.setRange(0.0, 1.0)
        self.s_spin.setDecimals(3)
        self.s_spin.setSingleStep(0.01)
        self.s_spin.setSpecialValueText("off")  # 0 = no threshold, like the search settings
        self.s_spin.setToolTip(
            "Threshold s: chosen pairs less similar than s do not count in the score. The method, s and m "
            "are the catalog's search settings: a change here applies to search too."
        )
        self.s_slider = QSlider(Qt.Orientation.Horizontal)
        self.s_slider.setRange(0, 1000)
        self.s_slider.setMinimumWidth(90)
        self.s_slider.setToolTip(self.s_spin.toolTip())
        self.m_spin = QSpinBox()
        self.m_spin.setRange(0, max(1, max_m))
        self.m_spin.setSpecialValueText("all")
        self.m_spin.setToolTip("m: of the pairs that reach s, only the m most similar count.")
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(MIN_CELL, MAX_CELL)
        self.zoom_slider.setValue(cell)
        self.zoom_slider.setMinimumWidth(70)
        self.zoom_slider.setMaximumWidth(120)
        self.zoom_slider.setToolTip("Cell size (Ctrl + mouse wheel, Ctrl++ / Ctrl+-)")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the whole matrix in the window (Ctrl+0)")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        items = [
            QLabel("Method"),
            self.method_box,
            self.side_check,
            self.compare_box,
            12,
            QLabel("s"),
            self.s_slider,
            self.s_spin,
            8,
            QLabel("m"),
            self.m_spin,
            12,
            QLabel("Zoom"),
            self.zoom_slider,
            self.fit_button,
            None,
            self.csv_button,
            self.png_button,
        ]
        for item in items:
            if item is None:
                row.addStretch(1)
            elif isinstance(item, int):
                row.addSpacing(item)
            else:
                row.addWidget(item)

    def show_threshold(self, threshold: float | None) -> None:
        """Show s without emitting a change."""
        shown = float(threshold or 0.0)
        for w, value in ((self.s_spin, shown), (self.s_slider, int(round(shown * 1000)))):
            if w.value() != value:
                w.blockSignals(True)
                w.setValue(value)
                w.blockSignals(False)

    def show_max_matches(self, m: int | None) -> None:
        if self.m_spin.value() != (m or 0):
            self.m_spin.blockSignals(True)
            self.m_spin.setValue(min(m or 0, self.m_spin.maximum()))
            self.m_spin.blockSignals(False)


def auto_cell(n_a: int, n_b: int) -> int:
    # Big enough to read values and thumbnails for small articles, small enough that 40 x 40 needs only a
    # little scrolling; Fit and zoom take it from there.
    n = max(n_a, n_b, 1)
    for limit, cell in ((6, 72), (10, 60), (16, 46), (24, 36)):
        if n <= limit:
            return cell
    return 28
