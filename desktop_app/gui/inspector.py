"""The match inspector: why two articles score what they score, photo pair by photo pair.

Curators do not trust a score they cannot see into. This widget lays out, for two articles, every
photo-to-photo similarity as a heatmap (query photos as rows, candidate photos as columns, thumbnails as
headers) and draws on it the pairs each set-matching method chose: greedy with its pick order, Hungarian,
same-view ("ordered") when view tags exist. Two methods can sit side by side. The threshold s and the
cap m are live: every change re-runs the core's matching (`desktop_app.core.inspect.rescore`, which calls
`desktop_app.core.matching`) and only the decorations repaint. Nothing here scores anything itself.

`InspectorWidget(inspection, photo_root=None)` shows an `Inspection` already made (for embedding and
tests; `inspector_panes.inspection_from_matrix` makes one from a bare matrix, whose headers then show
names). Its widgets are made and laid out by `inspector_layout.build_inspector`; what they do is here. `edited` fires when its method, s or m change, so the window that owns it can store them as the
catalog's search settings. The window with its loading and its catalog is `inspector_window`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QPoint, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QWidget

from desktop_app.core.inspect import Inspection, compare_line, rescore
from desktop_app.gui import inspector_export
from desktop_app.gui.inspector_layout import NO_HIGHLIGHT, build_inspector
from desktop_app.gui.inspector_model import format_sim, photo_name
from desktop_app.gui.inspector_paint import method_colour
from desktop_app.gui.inspector_panes import (
    HEADER_SIZE,
    LARGE_SIZE,
    MAX_CELL,
    METHOD_TITLES,
    MIN_CELL,
    PREVIEW_SIZE,
    auto_cell,
    available_methods,
    choose_methods,
    inspection_from_matrix,
    summary_html,
)
from desktop_app.gui.thumbs import CatalogThumbnails, ThumbnailLoader


class InspectorWidget(QWidget):
    """The match inspector for one `Inspection` (see the module docstring)."""

    updated = Signal()  # decorations and panels show the current method, s and m
    edited = Signal()  # the first pane's method, s or m changed
    thumbnails_ready = Signal()  # every requested thumbnail has arrived (or is known to be missing)
    compare_requested = Signal(int, int)  # row, column: their two photos side by side (double-click)
    cell_menu_requested = Signal(int, int, QPoint)  # row, column, global position (right click)

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
        catalog: CatalogThumbnails | None = None,
    ) -> None:
        super().__init__(parent)
        self.inspection = inspection
        self.photo_root = Path(photo_root) if photo_root else None
        self.failed = dict(failed or {})
        self.thumbs: dict[str, QPixmap] = {}  # header thumbnails, shared by both panes' models
        # One size for everything: the hover panel shows it, the headers show it scaled down, so hovering a
        # cell never waits for a second decode of a photo whose header is already on screen.
        self.loader = ThumbnailLoader(LARGE_SIZE, threads=2, parent=self, photo_root=self.photo_root)
        self.loader.use_catalog(catalog)  # the catalog's thumbnails of photos this machine cannot read
        self.loader.ready.connect(self._thumbnail_loaded)
        self._waiting: set[str] = set()  # asked for and not arrived yet; thumbnails_ready fires when empty
        self.methods = available_methods(inspection, (method, compare))
        first, second = choose_methods(self.methods, method, compare)
        self.cell = auto_cell(*inspection.matrix.shape)
        self.auto_fit = (
            False  # follow the window's size (after fit_to_window) until the curator zooms by hand
        )
        self.highlight: tuple[int | None, int | None] = (None, None)
        build_inspector(self, first, second)
        self._connect()
        self.set_side_by_side(side_by_side)
        self._apply_zoom()
        self._request_header_thumbnails()
        if inspection.matrix.size:  # the most similar pair on show from the start, not an empty panel
            self.show_cell(*divmod(int(inspection.matrix.argmax()), inspection.matrix.shape[1]))

    # ------------------------------------------------------------------ wiring

    def _connect(self) -> None:
        for pane in self.panes:
            pane.view.hovered.connect(self._on_hover)
            pane.view.zoom_requested.connect(lambda step: self.zoom_by(step))
            pane.view.cell_activated.connect(self.compare_requested)
            pane.view.cell_menu.connect(self.cell_menu_requested)
            pane.view.horizontalHeader().sectionClicked.connect(lambda col: self._on_header(None, col))
            pane.view.verticalHeader().sectionClicked.connect(lambda row_: self._on_header(row_, None))
        # Two panes scroll together, so the same cell is always in the same place in both.
        a, b = self.panes[0].view, self.panes[1].view
        for get in (lambda v: v.horizontalScrollBar(), lambda v: v.verticalScrollBar()):
            get(a).valueChanged.connect(get(b).setValue)
            get(b).valueChanged.connect(get(a).setValue)
        c = self.controls
        c.method_box.currentIndexChanged.connect(lambda _i: self.set_method(c.method_box.currentData()))
        c.compare_box.currentIndexChanged.connect(
            lambda _i: self.set_compare_method(c.compare_box.currentData())
        )
        c.side_check.toggled.connect(self.set_side_by_side)
        c.s_slider.valueChanged.connect(lambda v: c.s_spin.setValue(v / 1000.0))
        c.s_spin.valueChanged.connect(lambda v: self.set_threshold(v if v > 0 else None))
        c.m_spin.valueChanged.connect(lambda v: self.set_max_matches(v or None))
        c.zoom_slider.valueChanged.connect(self._zoomed_by_hand)
        c.fit_button.clicked.connect(self.fit_to_window)
        c.csv_button.clicked.connect(lambda: inspector_export.ask_and_export(self, "csv"))
        c.png_button.clicked.connect(lambda: inspector_export.ask_and_export(self, "png"))
        for keys, slot in (
            (QKeySequence.StandardKey.ZoomIn, lambda: self.zoom_by(1)),
            (QKeySequence.StandardKey.ZoomOut, lambda: self.zoom_by(-1)),
            (QKeySequence("Ctrl+0"), self.fit_to_window),
        ):
            QShortcut(QKeySequence(keys), self, slot)

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
        if self.panes[0].method == method:
            return
        self.panes[0].set_method(method)
        self.legend.set_methods(self.methods_shown)
        self.updated.emit()
        self.edited.emit()

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

    def set_threshold(self, threshold: float | None) -> None:
        """Move s: the core re-scores every method, the panes repaint their marks."""
        self.controls.show_threshold(threshold)
        if threshold != self.inspection.threshold:
            self.inspection.threshold = threshold
            self._rescore()

    def set_max_matches(self, m: int | None) -> None:
        """Move m: the core re-scores every method, the panes repaint their marks."""
        m = m if m else None
        self.controls.show_max_matches(m)
        if m != self.inspection.max_matches:
            self.inspection.max_matches = m
            self._rescore()

    def _rescore(self) -> None:
        # The scoring is the core's; centroid ignores s and m, so rescore keeps its earlier result.
        rescore(self.inspection)
        for pane in self.panes:
            pane.refresh()
        self.compare_label.setText(compare_line(self.inspection))
        self.legend.set_threshold(self.inspection.threshold)
        self.updated.emit()
        self.edited.emit()

    # ------------------------------------------------------------------ zoom

    def header_depths(self) -> tuple[int, int]:
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
        rows_w, cols_h = self.header_depths()
        for pane in self.panes:
            pane.view.set_cell_size(self.cell, rows_w, cols_h)
            # Small matrices should not sit in a sea of white: the view asks for what it needs, up to a point.
            full = pane.view.full_size()
            pane.view.setMinimumSize(min(full.width(), 360), min(full.height(), 260))
            # ... and no more than it needs, so the method's panel sits right under the last row and two
            # small matrices sit next to each other instead of at the two ends of the window.
            pane.view.setMaximumSize(full)
            pane.setMaximumWidth(max(full.width(), 320))
        if self.zoom_slider.value() != self.cell:  # the slider follows wheel and keyboard zoom
            self.zoom_slider.blockSignals(True)
            self.zoom_slider.setValue(self.cell)
            self.zoom_slider.blockSignals(False)

    def set_cell_size(self, cell: int) -> None:
        self.cell = max(MIN_CELL, min(MAX_CELL, int(cell)))
        self._apply_zoom()

    def _zoomed_by_hand(self, cell: int) -> None:
        self.auto_fit = False
        self.set_cell_size(cell)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            QTimer.singleShot(0, self, self._auto_fit)

    def _auto_fit(self) -> None:
        if self.auto_fit:
            self.fit()

    def fit_to_window(self) -> None:
        """Fit now and keep fitting as the window is resized (until the next zoom by hand)."""
        self.auto_fit = True
        self.fit()

    def zoom_by(self, step: int) -> None:
        self.auto_fit = False
        # Multiplicative steps feel even from 16 to 160 pixels.
        factor = 1.15 if step > 0 else 1 / 1.15
        new = int(round(self.cell * factor))
        if new == self.cell:
            new += 1 if step > 0 else -1
        self.set_cell_size(new)

    def fit(self) -> None:
        """Choose the cell size that fills the room the panes have with the whole matrix: small matrices
        grow (up to the largest cell), large ones shrink (down to the smallest)."""
        n_a, n_b = self.inspection.matrix.shape
        if not n_a or not n_b:
            return
        row = self.splitter.widget(0)
        shown = len(self.methods_shown)
        pane = self.panes[0]
        frame = 2 * pane.view.frameWidth() + 4
        summary = max(
            pane.summary.height(), pane.summary.heightForWidth(pane.width()), pane.summary.minimumHeight()
        )
        room_w = (row.width() - 12 * (shown - 1)) // shown - frame
        room_h = row.height() - summary - 2 * pane.layout().spacing() - frame
        cell = self.cell
        for _ in range(3):  # the headers' depth follows the cell size: settle both
            self.cell = cell
            rows_w, cols_h = self.header_depths()
            cell = max(MIN_CELL, min((room_w - rows_w) // n_b, (room_h - cols_h) // n_a, MAX_CELL))
        self.set_cell_size(cell)

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
        self.hover.score.setText(
            f"<span style='font-size:18pt'><b>{format_sim(float(ins.matrix[row, col]))}"
            f"</b></span><br>{'<br>'.join(self._verdicts(row, col))}"
        )

    def _verdicts(self, row: int, col: int) -> list[str]:
        """What each shown method did with the pair (row, col), in its colour."""
        out = []
        for pane in self.panes[: len(self.methods_shown)]:
            pair = pane.model.pair_at(row, col)
            name = f"<span style='color:{method_colour(pane.method).name()}'>{METHOD_TITLES.get(pane.method, pane.method)}</span>"
            if pair is None:
                out.append(f"{name}: not paired")
            else:
                rank, state, _ = pair
                what = {1: "counts in the score", 2: "below s, left out", 3: "beyond m, left out"}[state]
                out.append(f"{name}: pair {rank}, {what}")
        return out

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
        self.selected.setText("<br>".join(lines) if lines else NO_HIGHLIGHT)

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
        return inspector_export.render_image(self)

    def export_png(self, path: Path | str) -> Path:
        return inspector_export.export_png(self, path)

    # ------------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        """Stop and wait for thumbnail work; called when the window closes (tests call it too)."""
        self.loader.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


__all__ = ["InspectorWidget", "inspection_from_matrix", "summary_html"]
