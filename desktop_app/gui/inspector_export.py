"""Exporting the match inspector: the matrix as CSV (the core's format) and the whole view as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QVBoxLayout, QWidget

from desktop_app.core.errors import UserError
from desktop_app.gui.export_dialog import ask_export_path
from desktop_app.gui.inspector_legend import ColourLegend
from desktop_app.gui.inspector_model import format_sim
from desktop_app.gui.inspector_paint import MatrixView
from desktop_app.gui.inspector_panes import summary_html


def render_image(w: Any) -> QImage:
    """An `InspectorWidget`'s whole view: every cell (no scrolling), the shown methods' panels, the legend."""
    ins = w.inspection
    sheet = QWidget()
    sheet.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    sheet.setStyleSheet("background: white;")
    layout = QVBoxLayout(sheet)
    layout.setContentsMargins(12, 12, 12, 12)
    layout.addWidget(QLabel(w.title.text()))
    s = format_sim(ins.threshold) if ins.threshold else "off"
    layout.addWidget(QLabel(f"s = {s}, m = {ins.max_matches or 'all'}"))
    compare = QLabel(w.compare_label.text())
    compare.setFont(w.compare_label.font())
    layout.addWidget(compare)
    row = QHBoxLayout()
    row.setSpacing(16)
    rows_w, cols_h = w.header_depths()
    for pane in w.panes[: len(w.methods_shown)]:
        col = QVBoxLayout()
        view = MatrixView()
        view.setModel(pane.model)
        view.set_cell_size(w.cell, rows_w, cols_h)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setFixedSize(view.full_size())
        col.addWidget(view)
        text = QLabel(summary_html(ins, pane.method))
        text.setWordWrap(True)
        text.setFixedWidth(max(view.full_size().width(), 260))
        col.addWidget(text)
        col.addStretch(1)
        row.addLayout(col)
    row.addStretch(1)
    layout.addLayout(row)
    legend = ColourLegend()
    legend.set_scale(w.legend.lo, w.legend.hi, w.legend.flat)
    legend.set_threshold(w.legend.threshold)
    legend.set_methods(w.legend.methods)
    legend.setFixedSize(legend.sizeHint().width() + 120, legend.sizeHint().height())
    layout.addWidget(legend)
    sheet.show()
    sheet.adjustSize()
    image = sheet.grab().toImage()
    sheet.close()
    sheet.deleteLater()
    return image


def export_png(w: Any, path: Path | str) -> Path:
    out = Path(path)
    if not render_image(w).save(str(out), "PNG"):
        raise OSError(f"Could not write {out}.")
    return out


def default_name(w: Any, ext: str) -> str:
    text = f"{w.inspection.article_a}_vs_{w.inspection.article_b}"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text) + f".{ext}"


def ask_and_export(w: Any, kind: str) -> None:
    """Ask where to write (kind "csv" or "png") and write it; a failure is shown, not raised."""
    title, filters = {
        "csv": ("Export the matrix as CSV", "CSV files (*.csv)"),
        "png": ("Export the view as PNG", "PNG images (*.png)"),
    }[kind]
    name = ask_export_path(w, title, default_name(w, kind), filters)
    if name is None:
        return
    try:
        w.export_csv(name) if kind == "csv" else w.export_png(name)
    except (OSError, UserError) as exc:
        QMessageBox.warning(w, "Export failed", f"Could not write {name}:\n{exc}")


__all__ = ["ask_and_export", "default_name", "export_png", "render_image"]
