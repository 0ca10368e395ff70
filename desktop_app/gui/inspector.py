"""The match inspector: why two articles score what they score, photo pair by photo pair.

Curators do not trust a score they cannot see into. This window lays out, for two articles, every
photo-to-photo similarity as a heatmap (query photos as rows, candidate photos as columns, thumbnails as
headers) and draws on it the pairs each set-matching method chose: greedy with its pick order, Hungarian,
same-view ("ordered") when view tags exist. Two methods can sit side by side. The threshold s and the
cap m are live: every change re-runs the core's matching (`desktop_app.core.inspect.rescore`, which calls
`desktop_app.core.matching`) and only the decorations repaint. Nothing here scores anything itself.

Entry points:

- `open_inspector(parent, catalog, a, b, ...)`: a non-modal window for two catalog articles; the comparison
  is read off the UI thread, and an article without embedded photos gets a clear message instead.
- `InspectorWidget(inspection, photo_root=None)`: the inspector for an `Inspection` already made, for
  embedding and tests; `inspection_from_matrix` makes one from a bare matrix (headers then show names).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import matching
from desktop_app.core.catalog import Catalog
from desktop_app.core.inspect import INSPECT_METHODS, Inspection, compare_line, rescore
from desktop_app.gui.inspector_load import HEADER_SIZE, LARGE_SIZE, Loaded, load_inspection
from desktop_app.gui.inspector_model import MatrixModel, format_sim, photo_name
from desktop_app.gui.inspector_paint import ColourLegend, MatrixView, method_colour
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Failure, Runner

METHOD_TITLES = {
    "greedy": "Greedy pairs",
    "hungarian": "Best assignment (Hungarian)",
    "ordered": "Same view only (ordered)",
    "centroid": "Average photo (centroid)",
    "max": "Best single pair",
}
MIN_CELL, MAX_CELL = 16, 160
PREVIEW_SIZE = 210  # each of the two hovered photos in the side panel


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
    score = "n/a" if not np.isfinite(res.score) else f"{res.score:.3f}"
    lines = [f"{title} &nbsp; score <b>{score}</b>"]
    if method == "centroid":
        lines.append(
            "Cosine of the two articles' mean photo vectors: it pairs no photos, so s and m do not apply."
        )
        return "<br>".join(lines)
    if method == "max":
        if res.pairs:
            p = res.pairs[0]
            lines.append(f"The single most similar pair {_rc(p)} {format_sim(p.sim)}; s and m do not apply.")
        return "<br>".join(lines)
    chosen, used = res.pairs, res.used_pairs
    below = sum(p.reason == matching.BELOW_THRESHOLD for p in chosen)
    beyond = sum(p.reason == matching.BEYOND_M for p in chosen)
    count = f"{len(used)} of {len(chosen)} chosen pair{'s' if len(chosen) != 1 else ''} count"
    if below:
        count += f" · {below} below s"
    if beyond:
        count += f" · {beyond} beyond m"
    lines.append(count)
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
    return "<br>".join(lines)


def _available_methods(ins: Inspection, wanted: Sequence[str | None]) -> list[str]:
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
            img.setStyleSheet("background: #f1f3f5; color: #495057;")
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


class InspectorWidget(QWidget):
    """The match inspector for one `Inspection` (see the module docstring)."""

    updated = Signal()  # decorations and panels show the current method, s and m
    thumbnails_ready = Signal()  # every requested thumbnail has arrived (or is known to be missing)

    def __init__(
        self,
        inspection: Inspection,
        photo_root: Path | str | None = None,
        parent: QWidget | None = None,
        *,
        method: str | None = None,
        compare: str | None = None,
        side_by_side: bool = False,
        failed: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.inspection = inspection
        self.photo_root = Path(photo_root) if photo_root else None
        self.failed = dict(failed or {})
        self.thumbs: dict[str, QPixmap] = {}  # header thumbnails, shared by both panes' models
        # One size for everything: the hover panel shows it, the headers show it scaled down, so hovering a
        # cell never waits for a second decode of a photo whose header is already on screen.
        self.loader = ThumbnailLoader(LARGE_SIZE, threads=2, parent=self, photo_root=self.photo_root)
        self.loader.ready.connect(self._thumbnail_loaded)
        self._waiting: set[str] = set()  # asked for and not arrived yet; thumbnails_ready fires when empty
        self.methods = _available_methods(inspection, (method, compare))
        first = (
            method if method in self.methods else ("greedy" if "greedy" in self.methods else self.methods[0])
        )
        second = (
            compare
            if compare in self.methods and compare != first
            else (
                "hungarian"
                if first != "hungarian" and "hungarian" in self.methods
                else next((m for m in self.methods if m != first), first)
            )
        )
        n_a, n_b = inspection.matrix.shape
        self.cell = _auto_cell(n_a, n_b)
        self.highlight: tuple[int | None, int | None] = (None, None)
        self._build(first, second)
        self.set_side_by_side(side_by_side)
        self._apply_zoom()
        self._request_header_thumbnails()

    # ------------------------------------------------------------------ layout

    def _build(self, first: str, second: str) -> None:
        ins = self.inspection
        n_a, n_b = ins.matrix.shape
        # Article ids and paths are curators' file names: escaped, so "&" or "<" in one cannot garble a label.
        self.title = QLabel(
            f"<b>{escape(ins.article_a)}</b> ({n_a} photo{'s' if n_a != 1 else ''}, rows) vs "
            f"<b>{escape(ins.article_b)}</b> ({n_b} photo{'s' if n_b != 1 else ''}, columns)"
        )
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background: #fff3bf; border: 1px solid #fcc419; padding: 6px;")
        self._fill_banner()

        # Controls: methods, s, m, zoom, export.
        self.method_box = QComboBox()
        self.compare_box = QComboBox()
        for box in (self.method_box, self.compare_box):
            for m in self.methods:
                box.addItem(METHOD_TITLES.get(m, m), m)
        self.method_box.setCurrentIndex(self.methods.index(first))
        self.compare_box.setCurrentIndex(self.methods.index(second))
        self.side_check = QCheckBox("Side by side with")
        self.s_spin = QDoubleSpinBox()
        self.s_spin.setRange(0.0, 1.0)
        self.s_spin.setDecimals(3)
        self.s_spin.setSingleStep(0.01)
        self.s_spin.setSpecialValueText("off")  # 0 = no threshold, like the search settings
        self.s_spin.setToolTip("Threshold s: chosen pairs less similar than s do not count in the score.")
        self.s_slider = QSlider(Qt.Orientation.Horizontal)
        self.s_slider.setRange(0, 1000)
        self.s_slider.setMinimumWidth(140)
        self.s_slider.setToolTip(self.s_spin.toolTip())
        self.m_spin = QSpinBox()
        self.m_spin.setRange(0, max(1, min(ins.matrix.shape) if ins.matrix.size else 1))
        self.m_spin.setSpecialValueText("all")
        self.m_spin.setToolTip("m: of the pairs that reach s, only the m most similar count.")
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(MIN_CELL, MAX_CELL)
        self.zoom_slider.setValue(self.cell)
        self.zoom_slider.setMinimumWidth(90)
        self.zoom_slider.setMaximumWidth(140)
        self.zoom_slider.setToolTip("Cell size (Ctrl + mouse wheel, Ctrl++ / Ctrl+-)")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the whole matrix in the window (Ctrl+0)")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        if ins.threshold is not None:
            self.s_spin.setValue(float(ins.threshold))
            self.s_slider.setValue(int(round(float(ins.threshold) * 1000)))
        if ins.max_matches is not None:
            self.m_spin.setValue(int(ins.max_matches))

        controls = QHBoxLayout()
        controls.setSpacing(6)
        controls.addWidget(QLabel("Method"))
        controls.addWidget(self.method_box)
        controls.addWidget(self.side_check)
        controls.addWidget(self.compare_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("s"))
        controls.addWidget(self.s_slider)
        controls.addWidget(self.s_spin)
        controls.addSpacing(8)
        controls.addWidget(QLabel("m"))
        controls.addWidget(self.m_spin)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Zoom"))
        controls.addWidget(self.zoom_slider)
        controls.addWidget(self.fit_button)
        controls.addStretch(1)
        controls.addWidget(self.csv_button)
        controls.addWidget(self.png_button)

        self.compare_label = QLabel()
        self.compare_label.setWordWrap(True)
        self.compare_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f = self.compare_label.font()
        f.setBold(True)
        self.compare_label.setFont(f)

        self.panes = [MethodPane(ins, first, self.thumbs), MethodPane(ins, second, self.thumbs)]
        pane_row = QWidget()
        prow = QHBoxLayout(pane_row)
        prow.setContentsMargins(0, 0, 0, 0)
        prow.setSpacing(12)
        for pane in self.panes:
            prow.addWidget(pane, 1)
        prow.addStretch(0)
        for pane in self.panes:
            pane.view.hovered.connect(self._on_hover)
            pane.view.zoom_requested.connect(lambda step: self.zoom_by(step))
            pane.view.horizontalHeader().sectionClicked.connect(lambda c: self._on_header(None, c))
            pane.view.verticalHeader().sectionClicked.connect(lambda r: self._on_header(r, None))
        # Two panes scroll together, so the same cell is always in the same place in both.
        a, b = self.panes[0].view, self.panes[1].view
        for get in (lambda v: v.horizontalScrollBar(), lambda v: v.verticalScrollBar()):
            get(a).valueChanged.connect(get(b).setValue)
            get(b).valueChanged.connect(get(a).setValue)

        self.hover = HoverPanel()
        self.selected = QLabel("Click a photo (row or column header) to highlight it and show its path.")
        self.selected.setWordWrap(True)
        self.selected.setTextFormat(Qt.TextFormat.RichText)
        self.selected.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = ColourLegend()
        self.legend.set_scale(self.panes[0].model.lo, self.panes[0].model.hi)
        self.legend.set_threshold(ins.threshold)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.hover)
        sl.addWidget(self.selected)
        sl.addWidget(self.legend)
        sl.addStretch(1)
        side_scroll = QScrollArea()
        side_scroll.setWidget(side)
        side_scroll.setWidgetResizable(True)
        side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        side_scroll.setMinimumWidth(2 * PREVIEW_SIZE + 40)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(pane_row)
        self.splitter.addWidget(side_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addLayout(controls)
        layout.addWidget(self.compare_label)
        layout.addWidget(self.splitter, 1)

        self.method_box.currentIndexChanged.connect(lambda _i: self.set_method(self.method_box.currentData()))
        self.compare_box.currentIndexChanged.connect(
            lambda _i: self.set_compare_method(self.compare_box.currentData())
        )
        self.side_check.toggled.connect(self.set_side_by_side)
        self.s_slider.valueChanged.connect(lambda v: self.s_spin.setValue(v / 1000.0))
        self.s_spin.valueChanged.connect(self._s_changed)
        self.m_spin.valueChanged.connect(lambda v: self.set_max_matches(v or None))
        self.zoom_slider.valueChanged.connect(self._zoom_changed)
        self.fit_button.clicked.connect(self.fit)
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)
        for keys, slot in (
            (QKeySequence.StandardKey.ZoomIn, lambda: self.zoom_by(1)),
            (QKeySequence.StandardKey.ZoomOut, lambda: self.zoom_by(-1)),
            (QKeySequence("Ctrl+0"), self.fit),
        ):
            QShortcut(QKeySequence(keys), self, slot)
        self.compare_label.setText(compare_line(ins))

    def _fill_banner(self) -> None:
        ins = self.inspection
        missing = [(ins.article_a, p) for p in ins.missing_a] + [(ins.article_b, p) for p in ins.missing_b]
        if not missing:
            self.banner.hide()
            return
        items = "".join(
            f"<li>{escape(art)}: {escape(p)}"
            + (f" — {escape(self.failed[p])}" if self.failed.get(p) else "")
            + "</li>"
            for art, p in missing[:12]
        )
        more = f"<li>… and {len(missing) - 12} more</li>" if len(missing) > 12 else ""
        self.banner.setText(
            f"<b>{len(missing)} photo{'s' if len(missing) != 1 else ''} failed to embed and "
            f"take no part in this comparison or in search:</b><ul style='margin:0'>{items}{more}"
            "</ul>Fix or replace the files, then update the index."
        )

    # ------------------------------------------------------------------ live controls

    @property
    def methods_shown(self) -> list[str]:
        return [p.method for p in self.panes[: 2 if self.side_check.isChecked() else 1]]

    def set_method(self, method: str) -> None:
        if method not in self.methods:
            raise ValueError(
                f"Unknown or unavailable method {method!r}; choose one of {', '.join(self.methods)}."
            )
        if self.method_box.currentData() != method:
            self.method_box.setCurrentIndex(self.methods.index(method))  # re-enters through the signal
            return
        self.panes[0].set_method(method)
        self.legend.set_methods(self.methods_shown)
        self.updated.emit()

    def set_compare_method(self, method: str) -> None:
        if method not in self.methods:
            raise ValueError(f"Unknown or unavailable method {method!r}.")
        if self.compare_box.currentData() != method:
            self.compare_box.setCurrentIndex(self.methods.index(method))
            return
        self.panes[1].set_method(method)
        self.legend.set_methods(self.methods_shown)
        self.updated.emit()

    def set_side_by_side(self, on: bool) -> None:
        if self.side_check.isChecked() != on:
            self.side_check.setChecked(on)  # re-enters through the signal
            return
        self.panes[1].setVisible(on)
        self.compare_box.setEnabled(on)
        self.legend.set_methods(self.methods_shown)
        self.updated.emit()

    def _s_changed(self, value: float) -> None:
        slider = int(round(value * 1000))
        if self.s_slider.value() != slider:
            self.s_slider.blockSignals(True)
            self.s_slider.setValue(slider)
            self.s_slider.blockSignals(False)
        self.set_threshold(value if value > 0 else None)

    def set_threshold(self, threshold: float | None) -> None:
        """Move s: the core re-scores every method, the panes repaint their marks."""
        if threshold != self.inspection.threshold:
            self.inspection.threshold = threshold
            self._rescore()
        shown = float(threshold or 0.0)
        if abs(self.s_spin.value() - shown) > 1e-9:
            self.s_spin.blockSignals(True)
            self.s_spin.setValue(shown)
            self.s_spin.blockSignals(False)
            self.s_slider.blockSignals(True)
            self.s_slider.setValue(int(round(shown * 1000)))
            self.s_slider.blockSignals(False)

    def set_max_matches(self, m: int | None) -> None:
        """Move m: the core re-scores every method, the panes repaint their marks."""
        m = m if m else None
        if m != self.inspection.max_matches:
            self.inspection.max_matches = m
            self._rescore()
        if self.m_spin.value() != (m or 0):
            self.m_spin.blockSignals(True)
            self.m_spin.setValue(min(m or 0, self.m_spin.maximum()))
            self.m_spin.blockSignals(False)

    def _rescore(self) -> None:
        # The scoring is the core's; centroid ignores s and m, so rescore keeps its earlier result.
        rescore(self.inspection)
        for pane in self.panes:
            pane.refresh()
        self.compare_label.setText(compare_line(self.inspection))
        self.legend.set_threshold(self.inspection.threshold)
        self.updated.emit()

    # ------------------------------------------------------------------ zoom

    def _header_depths(self) -> tuple[int, int]:
        """(row header width, column header height) for the current cell size."""
        if self.photo_root is not None:
            depth = max(56, min(HEADER_SIZE, self.cell))
            return depth, depth
        fm = self.fontMetrics()
        ins = self.inspection
        widest = max(
            (fm.horizontalAdvance(f"{i + 1}  {photo_name(p)}") for i, p in enumerate(ins.paths_a)), default=40
        )
        return max(48, min(220, widest + 16)), 3 * fm.height() + 10

    def _apply_zoom(self) -> None:
        rows_w, cols_h = self._header_depths()
        for pane in self.panes:
            pane.view.set_cell_size(self.cell, rows_w, cols_h)
            # Small matrices should not sit in a sea of white: the view asks for what it needs, up to a point.
            full = pane.view.full_size()
            pane.view.setMinimumSize(min(full.width(), 360), min(full.height(), 260))
            # ... and no more than it needs, so the method's panel sits right under the last row and two
            # small matrices sit next to each other instead of at the two ends of the window.
            pane.view.setMaximumSize(full)
            pane.setMaximumWidth(max(full.width(), 320))
        if self.zoom_slider.value() != self.cell:
            self.zoom_slider.blockSignals(True)
            self.zoom_slider.setValue(self.cell)
            self.zoom_slider.blockSignals(False)

    def _zoom_changed(self, cell: int) -> None:
        self.set_cell_size(cell)

    def set_cell_size(self, cell: int) -> None:
        self.cell = max(MIN_CELL, min(MAX_CELL, int(cell)))
        self._apply_zoom()

    def zoom_by(self, step: int) -> None:
        # Multiplicative steps feel even from 16 to 160 pixels.
        factor = 1.15 if step > 0 else 1 / 1.15
        new = int(round(self.cell * factor))
        if new == self.cell:
            new += 1 if step > 0 else -1
        self.set_cell_size(new)

    def fit(self) -> None:
        """Choose the cell size that shows the whole matrix in the pane (never below the minimum)."""
        view = self.panes[0].view
        n_a, n_b = self.inspection.matrix.shape
        rows_w, cols_h = self._header_depths()
        avail_w = view.width() - rows_w - 2 * view.frameWidth() - 2
        avail_h = view.height() - cols_h - 2 * view.frameWidth() - 2
        if n_a and n_b and avail_w > 0 and avail_h > 0:
            self.set_cell_size(min(avail_w // n_b, avail_h // n_a, 96))

    # ------------------------------------------------------------------ hover, headers, thumbnails

    def _on_hover(self, row: int, col: int) -> None:
        if row < 0 or col < 0:
            return  # leaving the matrix keeps the last pair on show: the curator may want to read it
        self.show_cell(row, col)

    def show_cell(self, row: int, col: int) -> None:
        """Fill the hover panel with photo `row` of A and photo `col` of B, their score and the verdicts."""
        ins = self.inspection
        self.hover.cell = (row, col)
        for k, (art, path, idx) in enumerate(
            ((ins.article_a, ins.paths_a[row], row), (ins.article_b, ins.paths_b[col], col))
        ):
            views = ins.views_a if k == 0 else ins.views_b
            view = f" · {views[idx]}" if views[idx] else ""
            self.hover.captions[k].setText(f"{art} {'row' if k == 0 else 'column'} {idx + 1}{view}\n{path}")
            self._show_large(k, path)
        verdicts = []
        for pane in self.panes[: 2 if self.side_check.isChecked() else 1]:
            pair = pane.model.pair_at(row, col)
            name = METHOD_TITLES.get(pane.method, pane.method)
            colour = method_colour(pane.method).name()
            if pair is None:
                verdicts.append(f"<span style='color:{colour}'>{name}</span>: not paired")
            else:
                rank, state, _ = pair
                what = {1: "counts in the score", 2: "below s, left out", 3: "beyond m, left out"}[state]
                verdicts.append(f"<span style='color:{colour}'>{name}</span>: pair {rank}, {what}")
        self.hover.score.setText(
            f"<span style='font-size:18pt'><b>{format_sim(float(ins.matrix[row, col]))}"
            f"</b></span><br>{'<br>'.join(verdicts)}"
        )

    def _show_large(self, k: int, path: str) -> None:
        label = self.hover.images[k]
        broken = self.loader.is_broken(path)
        pix = None if broken else self._thumbnail(path, PREVIEW_SIZE)
        if pix is not None:
            label.setPixmap(pix)
        else:
            label.setPixmap(QPixmap())
            label.setText(
                photo_name(path) if self.photo_root is None else "cannot show photo" if broken else "loading…"
            )

    def _on_header(self, row: int | None, col: int | None) -> None:
        cur_row, cur_col = self.highlight
        # A second click on the same photo clears its highlight; a click on a row keeps a highlighted column.
        if row is not None:
            cur_row = None if cur_row == row else row
        if col is not None:
            cur_col = None if cur_col == col else col
        self.set_highlight(cur_row, cur_col)

    def set_highlight(self, row: int | None, col: int | None) -> None:
        self.highlight = (row, col)
        for pane in self.panes:
            pane.model.set_highlight(row, col)
        ins = self.inspection
        lines = []
        for idx, art, paths, views, what in (
            (row, ins.article_a, ins.paths_a, ins.views_a, "row"),
            (col, ins.article_b, ins.paths_b, ins.views_b, "column"),
        ):
            if idx is None:
                continue
            full = str(self.photo_root / paths[idx]) if self.photo_root else paths[idx]
            view = f" (view {views[idx]})" if views[idx] else ""
            lines.append(
                f"<b>{escape(art)}</b> {what} {idx + 1}{escape(view)}:<br><code>{escape(full)}</code>"
            )
        self.selected.setText(
            "<br>".join(lines)
            if lines
            else "Click a photo (row or column header) to highlight it and show its path."
        )

    def _request_header_thumbnails(self) -> None:
        for path in dict.fromkeys(self.inspection.paths_a + self.inspection.paths_b):
            self._thumbnail(path, HEADER_SIZE)

    def _thumbnail(self, path: str, box: int) -> QPixmap | None:
        """The photo fitted into box x box when it is in memory; otherwise None, and it is on its way."""
        if self.photo_root is None:
            return None  # a bare matrix has photo names, not photos
        pix = self.loader.scaled(path, box)
        if pix is None:
            self._waiting.add(path)
        return pix

    def _thumbnail_loaded(self, path: str) -> None:
        self._waiting.discard(path)
        # A photo that cannot be shown keeps just its name in the header, as a photo without a root does.
        if not self.loader.is_broken(path):
            self.thumbs[path] = self.loader.scaled(path, HEADER_SIZE)
            for pane in self.panes:
                pane.model.thumbnail_changed(path)
        cell = self.hover.cell
        if cell is not None:
            ins = self.inspection
            for k, p in enumerate((ins.paths_a[cell[0]], ins.paths_b[cell[1]])):
                if p == path:
                    self._show_large(k, path)
        if not self._waiting:
            self.thumbnails_ready.emit()

    @property
    def thumbnails_pending(self) -> int:
        return len(self._waiting)

    # ------------------------------------------------------------------ export

    def export_csv(self, path: Path | str) -> Path:
        """The matrix as CSV (the core's format, the same as `lookalike inspect --csv`)."""
        out = Path(path)
        self.inspection.write_csv(out)
        return out

    def render_image(self) -> QImage:
        """The whole view as an image: every cell (no scrolling), the shown methods' panels, the legend."""
        sheet = QWidget()
        sheet.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        sheet.setStyleSheet("background: white;")
        layout = QVBoxLayout(sheet)
        layout.setContentsMargins(12, 12, 12, 12)
        title = QLabel(self.title.text())
        layout.addWidget(title)
        settings = QLabel(
            f"s = {format_sim(self.inspection.threshold) if self.inspection.threshold else 'off'}, "
            f"m = {self.inspection.max_matches or 'all'}"
        )
        layout.addWidget(settings)
        compare = QLabel(self.compare_label.text())
        compare.setFont(self.compare_label.font())
        layout.addWidget(compare)
        row = QHBoxLayout()
        row.setSpacing(16)
        rows_w, cols_h = self._header_depths()
        for pane in self.panes[: 2 if self.side_check.isChecked() else 1]:
            col = QVBoxLayout()
            view = MatrixView()
            view.setModel(pane.model)
            view.set_cell_size(self.cell, rows_w, cols_h)
            view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setFixedSize(view.full_size())
            col.addWidget(view)
            text = QLabel(summary_html(self.inspection, pane.method))
            text.setWordWrap(True)
            text.setFixedWidth(max(view.full_size().width(), 260))
            col.addWidget(text)
            col.addStretch(1)
            row.addLayout(col)
        row.addStretch(1)
        layout.addLayout(row)
        legend = ColourLegend()
        legend.set_scale(self.legend.lo, self.legend.hi)
        legend.set_threshold(self.legend.threshold)
        legend.set_methods(self.legend.methods)
        legend.setFixedSize(legend.sizeHint().width() + 120, legend.sizeHint().height())
        layout.addWidget(legend)
        sheet.show()
        sheet.adjustSize()
        image = sheet.grab().toImage()
        sheet.close()
        sheet.deleteLater()
        return image

    def export_png(self, path: Path | str) -> Path:
        out = Path(path)
        if not self.render_image().save(str(out), "PNG"):
            raise OSError(f"Could not write {out}.")
        return out

    def _ask_csv(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export the matrix as CSV", self._default_name("csv"), "CSV files (*.csv)"
        )
        if name:
            self._export(self.export_csv, name)

    def _ask_png(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export the view as PNG", self._default_name("png"), "PNG images (*.png)"
        )
        if name:
            self._export(self.export_png, name)

    def _export(self, fn, name: str) -> None:
        try:
            fn(name)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {name}:\n{exc}")

    def _default_name(self, ext: str) -> str:
        safe = "".join(
            c if c.isalnum() or c in "-_" else "_"
            for c in f"{self.inspection.article_a}_vs_{self.inspection.article_b}"
        )
        return f"{safe}.{ext}"

    # ------------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        """Stop and wait for thumbnail work; called when the window closes (tests call it too)."""
        self.loader.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def _auto_cell(n_a: int, n_b: int) -> int:
    # Big enough to read values and thumbnails for small articles, small enough that 40 x 40 needs only a
    # little scrolling; Fit and zoom take it from there.
    n = max(n_a, n_b, 1)
    for limit, cell in ((6, 72), (10, 60), (16, 46), (24, 36)):
        if n <= limit:
            return cell
    return 28


class InspectorWindow(QWidget):
    """A non-modal top-level window holding the inspector (or the message that replaces it)."""

    ready = Signal()  # the inspection (or the message) is on show

    def __init__(self, article_a: str, article_b: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowTitle(f"Match inspector — {article_a} vs {article_b}")
        self.article_a, self.article_b = article_a, article_b
        self.inspector: InspectorWidget | None = None
        self.message: str | None = None
        self.worker = Runner(1, "inspector", self)
        self.stack = QStackedWidget()
        self.status = QLabel(f"Comparing {article_a} and {article_b}…")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.status.setMargin(24)
        self.stack.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)
        self.resize(1100, 720)
        self._options: dict = {}

    def load(
        self,
        catalog: Catalog,
        method: str | None,
        threshold: float | None,
        max_matches: int | None,
        compare: str | None = None,
        side_by_side: bool = False,
    ) -> None:
        self._options = {"compare": compare, "side_by_side": side_by_side}
        self.worker.call(
            load_inspection,
            catalog,
            self.article_a,
            self.article_b,
            method,
            threshold,
            max_matches,
            on_done=self._loaded,
            on_failed=self._failed,
        )

    def _failed(self, failure: Failure) -> None:
        self.show_message(f"The comparison failed: {failure.error}")

    def _loaded(self, loaded: Loaded) -> None:
        if loaded.inspection is None:
            self.show_message(loaded.message or "Nothing to compare.", loaded.failed)
            return
        self.show_inspection(loaded.inspection, loaded.photo_root, loaded.method, loaded.failed)

    def show_inspection(
        self,
        inspection: Inspection,
        photo_root: Path | None,
        method: str | None = None,
        failed: dict[str, str] | None = None,
    ) -> InspectorWidget:
        self.inspector = InspectorWidget(
            inspection,
            photo_root,
            method=method,
            failed=failed,
            compare=self._options.get("compare"),
            side_by_side=bool(self._options.get("side_by_side")),
        )
        self.stack.addWidget(self.inspector)
        self.stack.setCurrentWidget(self.inspector)
        self.ready.emit()
        return self.inspector

    def show_message(self, message: str, failed: dict[str, str] | None = None) -> None:
        """The clear message shown in place of the matrix (no embedded photo, unknown article, ...)."""
        self.message = message
        items = "".join(
            f"<li>{escape(p)}: {escape(str(why))}</li>" for p, why in list((failed or {}).items())[:20]
        )
        listing = f"<p>Photos that failed to embed:</p><ul>{items}</ul>" if items else ""
        self.status.setText(
            f"<h3>Nothing to compare</h3><p>{escape(message)}</p>{listing}"
            "<p>Photos get a vector when the index is updated; files that cannot be read or "
            "decoded are listed under the catalog's skipped photos.</p>"
        )
        self.stack.setCurrentWidget(self.status)
        self.ready.emit()

    def closeEvent(self, event) -> None:
        # Nothing may outlive the window: wait for the comparison and the thumbnails still in flight.
        self.worker.shutdown()
        if self.inspector is not None:
            self.inspector.shutdown()
        super().closeEvent(event)


def open_inspector(
    parent: QWidget | None,
    catalog: Catalog,
    article_a: str,
    article_b: str,
    *,
    method: str | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
) -> QWidget:
    """Open the match inspector for article_a (the query, rows) and article_b (the candidate, columns).

    Returns the window at once; the comparison is read on a worker thread and the window's `ready` signal
    fires when the matrix (or the message explaining why there is none) is on show. method, threshold and
    max_matches default to the catalog's search settings.
    """
    window = InspectorWindow(article_a, article_b, parent)
    window.load(catalog, method, threshold, max_matches)
    window.show()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m desktop_app.gui.inspector A B [--db FILE] ...`: the inspector window from a terminal.

    `lookalike inspect` writes the same matrix as text, CSV, JSON or PNG; this opens it interactively.
    """
    import argparse
    import sys

    from PySide6.QtWidgets import QApplication

    from desktop_app.core.errors import UserError
    from desktop_app.core.state import last_catalog

    parser = argparse.ArgumentParser(prog="python -m desktop_app.gui.inspector", description=main.__doc__)
    parser.add_argument("article_a", help="the query article (rows)")
    parser.add_argument("article_b", help="the candidate article (columns)")
    parser.add_argument("--db", type=Path, help="catalog file (default: the last one used)")
    parser.add_argument("--method", choices=INSPECT_METHODS)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--max-matches", type=int)
    args = parser.parse_args(argv)
    db = args.db or last_catalog()
    if db is None:
        print("No catalog given and none used before; pass --db.", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    try:
        catalog = Catalog(db, create=False)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    window = open_inspector(
        None,
        catalog,
        args.article_a,
        args.article_b,
        method=args.method,
        threshold=args.threshold,
        max_matches=args.max_matches,
    )
    window.destroyed.connect(app.quit)
    code = app.exec()
    catalog.close()
    return int(code)


__all__ = [
    "InspectorWidget",
    "InspectorWindow",
    "METHOD_TITLES",
    "MethodPane",
    "inspection_from_matrix",
    "main",
    "open_inspector",
    "summary_html",
]


if __name__ == "__main__":
    raise SystemExit(main())
