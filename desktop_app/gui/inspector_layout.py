"""The match inspector's widgets, made and laid out once: the title, the banner naming missing photos, the
controls, the line comparing the methods, the two method panes side by side and the side panel (the pair
under the mouse, the highlighted photos, the colour legend).

`build_inspector(widget, first, second)` sets them as the `InspectorWidget`'s attributes (as Qt Designer's
`setupUi` does); the widget connects them and holds what they do.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from desktop_app.core.inspect import compare_line
from desktop_app.core.wording import plural
from desktop_app.gui.inspector_legend import ColourLegend
from desktop_app.gui.inspector_panes import (
    PREVIEW_SIZE,
    HoverPanel,
    InspectorControls,
    MethodPane,
    missing_html,
)

NO_HIGHLIGHT = "Click a photo (row or column header) to highlight it and show its path."


def build_inspector(w: Any, first: str, second: str) -> None:
    """Make and lay out the widgets of inspector `w` (its `inspection`, `methods`, `cell`, `failed` and
    `thumbs` are set), the first pane showing method `first`, the second `second`."""
    ins = w.inspection
    n_a, n_b = ins.matrix.shape
    # Article ids and paths are curators' file names: escaped, so "&" or "<" in one cannot garble a label.
    w.title = QLabel(
        f"<b>{escape(ins.article_a)}</b> ({plural(n_a, 'photo')}, rows) vs "
        f"<b>{escape(ins.article_b)}</b> ({plural(n_b, 'photo')}, columns)"
    )
    w.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    w.banner = QLabel(missing_html(ins, w.failed))
    w.banner.setWordWrap(True)
    w.banner.setTextFormat(Qt.TextFormat.RichText)
    w.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    w.banner.setStyleSheet("background: #fff3bf; color: #3d2f00; border: 1px solid #fcc419; padding: 6px;")
    w.banner.setVisible(bool(w.banner.text()))
    max_m = min(ins.matrix.shape) if ins.matrix.size else 1
    w.controls = c = InspectorControls(w.methods, first, second, max_m, w.cell)
    w.method_box, w.compare_box, w.side_check = c.method_box, c.compare_box, c.side_check
    w.s_spin, w.s_slider, w.m_spin, w.zoom_slider = c.s_spin, c.s_slider, c.m_spin, c.zoom_slider
    c.show_threshold(ins.threshold)
    c.show_max_matches(ins.max_matches)
    w.compare_label = QLabel(compare_line(ins))
    w.compare_label.setWordWrap(True)
    w.compare_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = w.compare_label.font()
    font.setBold(True)
    w.compare_label.setFont(font)
    w.panes = [MethodPane(ins, first, w.thumbs), MethodPane(ins, second, w.thumbs)]
    w.splitter = QSplitter(Qt.Orientation.Horizontal)
    w.splitter.addWidget(_pane_row(w.panes))
    w.splitter.addWidget(_side_panel(w))
    w.splitter.setStretchFactor(0, 1)
    w.splitter.setStretchFactor(1, 0)
    w.splitter.setChildrenCollapsible(False)
    layout = QVBoxLayout(w)
    for part in (w.title, w.banner, c, w.compare_label):
        layout.addWidget(part)
    layout.addWidget(w.splitter, 1)


def _pane_row(panes: list[MethodPane]) -> QWidget:
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(12)
    for pane in panes:
        lay.addWidget(pane, 1)
    lay.addStretch(0)
    return row


def _side_panel(w: Any) -> QWidget:
    w.hover = HoverPanel()
    w.selected = QLabel(NO_HIGHLIGHT)
    w.selected.setWordWrap(True)
    w.selected.setTextFormat(Qt.TextFormat.RichText)
    w.selected.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    w.legend = ColourLegend()
    w.legend.set_scale(w.panes[0].model.lo, w.panes[0].model.hi, w.panes[0].model.flat)
    w.legend.set_threshold(w.inspection.threshold)
    side = QWidget()
    column = QVBoxLayout(side)
    column.setContentsMargins(0, 0, 0, 0)
    for part in (w.hover, w.selected, w.legend):
        column.addWidget(part)
    column.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(side)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setMinimumWidth(2 * PREVIEW_SIZE + 40)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


__all__ = ["NO_HIGHLIGHT", "build_inspector"]
