"""Help ▸ About Lookalike: the version, the model in use and what it is (never passed off as CLIP), the device
the engine really got, the open catalog, where this machine keeps the curator's files (settings, thumbnails,
the log a bug report wants), the licences of what ships with the app, and the versions of the libraries
underneath. "Copy details" puts it all on the clipboard as plain text for a bug report.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from desktop_app import __version__
from desktop_app.core.engine_process import EngineInfo
from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel, resolve_model
from desktop_app.core.overview import Snapshot, model_title
from desktop_app.core.paths import thumbnail_dir, user_data_dir
from desktop_app.gui.detail import open_external
from desktop_app.gui.errors import log_file

BUNDLED = Path(__file__).resolve().parent.parent / "bundled"
LIBRARIES = ("onnxruntime", "onnxruntime-gpu", "numpy", "scipy", "pillow", "sqlalchemy")


def about_sections(
    snap: Snapshot | None, engine: EngineInfo | None, new_model: str = ""
) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the About box, in order. Without a catalog open, the model new catalogs get
    (`new_model`, the settings' choice; "" the default)."""
    if snap is not None:
        heading, what = "Model", _model_lines(snap.model, snap.model_error or "No model is installed.")
    else:
        try:
            model, error = resolve_model(new_model or None), ""
        except ModelError as exc:
            model, error = None, str(exc)
        heading, what = "Model for new catalogs", _model_lines(model, error)
    if engine is not None and engine.device:
        what.append(
            f"Runs on the {engine.device}." + (f" {engine.device_note}" if engine.device_note else "")
        )
    sections = [(heading, what)]
    if snap is not None:
        lines = [f"{snap.title}: {snap.location}", f"Photos: {snap.photo_root or 'no folder yet'}"]
        if snap.candidate_stage:
            lines.append(f"Search's nearest-photo stage: {snap.candidate_stage}.")
        sections.append(("Catalog", lines))
    sections += [
        (
            "Your files on this machine",
            [
                f"Catalogs, models and settings: {user_data_dir()}",
                f"Cached thumbnails: {thumbnail_dir()}",
                f"Log (attach it to a bug report): {log_file()}",
            ],
        ),
        (
            "Licences",
            [
                "Lookalike: Apache-2.0.",
                "The bundled EfficientNet-Lite0 ImageNet model: Apache-2.0.",
                "The bundled sample photos: Magento 2 sample data, OSL-3.0 / AFL-3.0 "
                f"({BUNDLED / 'sample'}).",
            ],
        ),
        ("Software", [" · ".join(_versions())]),
    ]
    return sections


def _model_lines(model: InstalledModel | None, error: str) -> list[str]:
    if model is None:
        return [error]
    m = model.manifest
    lines = [model_title(model), f"{m.description.rstrip('.')}."]
    if m.family != "clip":
        lines.append("Searching by words needs a CLIP model.")
    lines.append(f"Licence {m.licence or 'not stated'}.")
    return lines + ([f"Source: {m.source.rstrip('.')}."] if m.source else [])


def _versions() -> list[str]:
    out = [f"Python {platform.python_version()}", f"Qt {qVersion()} (PySide6 {pyside_version})"]
    for name in LIBRARIES:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out + [f"{platform.system()} {platform.machine()}"]


def as_text(sections: list[tuple[str, list[str]]]) -> str:
    head = f"Lookalike {__version__}"
    return "\n\n".join(
        [head] + [f"{title}\n" + "\n".join(f"  {line}" for line in lines) for title, lines in sections]
    )


def as_html(sections: list[tuple[str, list[str]]]) -> str:
    parts = [
        f"<h2>Lookalike {__version__}</h2>",
        "<p>Finds look-alike articles in product photo catalogues, on this machine, offline.</p>",
    ]
    for title, lines in sections:
        parts.append(f"<h4>{_html(title)}</h4><p>" + "<br>".join(_html(x) for x in lines) + "</p>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(
        self,
        snap: Snapshot | None,
        engine: EngineInfo | None,
        new_model: str = "",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("About Lookalike")
        self.sections = about_sections(snap, engine, new_model)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setHtml(as_html(self.sections))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Everything above as plain text, for a bug report")
        self.copy_button.clicked.connect(self.copy)
        self.log_button = QPushButton("Open log folder")
        self.log_button.clicked.connect(lambda: open_external(log_file().parent))
        for b in (self.copy_button, self.log_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)
        self.resize(640, 560)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(as_text(self.sections))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def show_about(
    parent: QWidget, snap: Snapshot | None, engine: EngineInfo | None, new_model: str = ""
) -> AboutDialog:
    box = AboutDialog(snap, engine, new_model, parent)
    box.show()
    return box


__all__ = ["AboutDialog", "about_sections", "as_text", "show_about"]
