"""The settings dialog: model, device, batch size, photo fit, grouping rule, thumbnail size, colours.

Per-user values are `core.settings.UserSettings` (the window saves them); the grouping rule, the model and
the photo fit belong to the open catalog (`CatalogChoices`, which the window writes through its engine).
The search settings (method, s, m, top-K) are the catalog's too and are changed in the similar panel,
where their effect shows at once. Listing, fetching and importing models (`core.zoo_list`, `core.zoo`) run
on workers, so a slow disk or network never freezes the dialog.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails, zoo, zoo_list
from desktop_app.core.engine import Engine
from desktop_app.core.errors import UserError
from desktop_app.core.models import InstalledModel, resolve_model
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings import DEVICES, THEMES, CatalogSettings, UserSettings
from desktop_app.gui import theme
from desktop_app.gui.errors import show_error
from desktop_app.gui.grouping import RuleEditor
from desktop_app.gui.workers import Failure, Runner, Task

THEME_TITLES = {"system": "As the desktop", "light": "Light", "dark": "Dark"}
DEVICE_LABELS = {
    "auto": "Automatic (GPU when usable)",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "tensorrt": "NVIDIA GPU (TensorRT)",
}


@dataclass
class CatalogChoices:
    """What the dialog may change in the open catalog; None when no catalog is open."""

    model: str  # model name the catalog uses
    rule: GroupingRule
    letterbox: bool = False  # False: the model's own resize and crop; True: whole photo, padded white
    mirror: bool = False  # each photo's vector averaged with its mirror image's


class SettingsDialog(QDialog):
    """Edits a copy of the user settings; `applied` carries (UserSettings, catalog choices or None) on OK."""

    applied = Signal(object, object)

    def __init__(
        self,
        user: UserSettings,
        runner: Runner,
        catalog: CatalogChoices | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(620)
        self.user = replace(user)
        self.runner = runner
        self.catalog = catalog
        self.rows: list[zoo_list.ModelRow] = []

        # --- model
        self.model_combo = QComboBox()
        self.model_combo.addItem("Loading the list of models…", "")
        self.model_combo.setEnabled(False)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setStyleSheet("color: palette(placeholder-text);")
        # The text arrives after the dialog is laid out; reserve room for it so it never overlaps.
        self.model_info.setMinimumHeight(3 * self.model_info.fontMetrics().lineSpacing())
        self.model_info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.fetch_btn = QPushButton("Fetch")
        self.fetch_btn.setToolTip("Download the selected model (needs internet access once)")
        self.fetch_btn.clicked.connect(self._fetch)
        self.import_btn = QPushButton("Import…")
        self.import_btn.setToolTip("Install a model from an ONNX file and its manifest (offline machines)")
        self.import_btn.clicked.connect(self._import)
        self.model_progress = QProgressBar()
        self.model_progress.hide()
        mrow = QHBoxLayout()
        mrow.addWidget(self.model_combo, 1)
        mrow.addWidget(self.fetch_btn)
        mrow.addWidget(self.import_btn)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(DEVICE_LABELS.get(d, d), d)
        self.device.setCurrentIndex(max(0, self.device.findData(user.device)))
        self.batch = QSpinBox()
        self.batch.setRange(1, 512)
        self.batch.setValue(user.batch_size)
        self.batch.setToolTip(
            "Photos per model call; smaller uses less memory, larger can be faster on a GPU"
        )
        model_box = QGroupBox("Model")
        mform = QFormLayout(model_box)
        mform.addRow("Model", mrow)
        mform.addRow("", self.model_info)
        mform.addRow("", self.model_progress)
        mform.addRow("Device", self.device)
        mform.addRow("Batch size", self.batch)
        # Per catalog: changing either embeds the photos again (as their own vector set; nothing is mixed).
        self.fit = QComboBox()
        self.fit.addItem("Crop to the model's input (model default)", False)
        self.fit.addItem("Whole photo, padded white (letterbox)", True)
        self.fit.setToolTip(
            "Letterbox keeps products that touch the photo's edge; the model's own crop may cut them"
        )
        self.mirror = QCheckBox("Average each photo with its mirror image (twice the indexing work)")
        if catalog is not None:
            self.fit.setCurrentIndex(1 if catalog.letterbox else 0)
            self.mirror.setChecked(catalog.mirror)
        else:
            self.fit.setEnabled(False)
            self.mirror.setEnabled(False)
        mform.addRow("Photo fit", self.fit)
        mform.addRow("", self.mirror)

        # --- grouping (this catalog)
        self.rule = RuleEditor()
        group_box = QGroupBox("Grouping of this catalog")
        glay = QVBoxLayout(group_box)
        if catalog is not None:
            self.rule.set_rule(catalog.rule)
            note = QLabel("A new rule takes effect with Update index; vectors and labels are kept.")
            note.setStyleSheet("color: palette(placeholder-text);")
            note.setWordWrap(True)
            glay.addWidget(self.rule)
            glay.addWidget(note)
        else:
            glay.addWidget(QLabel("Open a catalog to change its grouping rule."))
            self.rule.hide()

        # --- display
        self.thumb = QComboBox()
        for s in thumbnails.SIZES:
            self.thumb.addItem(f"{s} px", s)
        self.thumb.setCurrentIndex(max(0, self.thumb.findData(user.thumb_size)))
        self.theme = QComboBox()
        for theme_name in THEMES:
            self.theme.addItem(THEME_TITLES[theme_name], theme_name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(user.theme)))
        self.curator = QLineEdit(user.curator)
        self.curator.setPlaceholderText("your login name (on a shared catalog: your database user)")
        self.curator.setToolTip(
            "The name your labels and match decisions carry, which other curators see and undo respects"
        )
        display_box = QGroupBox("Display and you")
        dform = QFormLayout(display_box)
        dform.addRow("Thumbnail size", self.thumb)
        dform.addRow("Colours", self.theme)
        dform.addRow("Your name", self.curator)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {theme.error_text(self.palette()).name()};")
        self.error.setWordWrap(True)
        self.error.hide()

        lay = QVBoxLayout(self)
        lay.addWidget(model_box)
        lay.addWidget(group_box)
        lay.addWidget(display_box)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.reload_models()

    # ------------------------------------------------------------ models

    def reload_models(self, select: str | None = None) -> None:
        device = self.device.currentData()
        self.runner.call(
            zoo_list.list_models,
            device,
            on_done=lambda rows: self._models_listed(rows, select),
            on_failed=self._models_failed,
        )

    def _current_model_name(self) -> str:
        if self.catalog is not None:
            return self.catalog.model
        return self.user.model

    def _models_listed(self, rows: list, select: str | None) -> None:
        self.rows = [r for r in rows if r.status != "damaged"]
        want = select or self._current_model_name()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for r in self.rows:
            tag = {"bundled": "bundled", "installed": "installed", "available": "not installed"}.get(
                r.status, r.status
            )
            self.model_combo.addItem(f"{r.name}  ({r.precision}, {tag})", r.name)
        idx = self.model_combo.findData(want) if want else -1
        if idx < 0:
            idx = next((i for i, r in enumerate(self.rows) if r.default), 0)
        self.model_combo.setCurrentIndex(idx)
        self.model_combo.blockSignals(False)
        self.model_combo.setEnabled(bool(self.rows))
        self._model_changed()

    def _models_failed(self, failure: Failure) -> None:
        self.model_combo.clear()
        self.model_combo.addItem("The model list cannot be read", "")
        self.model_info.setText(str(failure.error))

    def selected_row(self) -> zoo_list.ModelRow | None:
        name = self.model_combo.currentData()
        return next((r for r in self.rows if r.name == name), None)

    def _model_changed(self, *_args) -> None:
        row = self.selected_row()
        if row is None:
            self.model_info.setText("")
            self.fetch_btn.setEnabled(False)
            return
        size = f", {row.size / 1e6:.0f} MB" if row.size else ""
        text = f"{row.description or row.name} ({row.licence}{size})."
        if row.status == "available":
            text += " Not installed yet: Fetch downloads it."
        if self.catalog is not None and row.name != self.catalog.model:
            text += " Changing the model of this catalog needs Update index to embed all photos again."
        self.model_info.setText(text)
        self.fetch_btn.setEnabled(row.status == "available")

    def _fetch(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        self.fetch_btn.setEnabled(False)
        self.model_progress.setRange(0, 0)
        self.model_progress.show()
        task = Task(_fetch_model, row.name, with_progress=True)
        self.runner.start(
            task,
            on_done=lambda result: self._installed(result.model.manifest.name),
            on_failed=self._install_failed,
            on_progress=self._fetch_progress,
        )

    def _fetch_progress(self, value) -> None:
        done, total = value
        if total:
            self.model_progress.setRange(0, 1000)
            self.model_progress.setValue(int(1000 * done / total))
            self.model_progress.setFormat(f"{done / 1e6:.0f} of {total / 1e6:.0f} MB")

    def _import(self) -> None:
        onnx, _ = QFileDialog.getOpenFileName(
            self, "Import model: choose the ONNX file", "", "ONNX models (*.onnx)"
        )
        if not onnx:
            return
        manifest, _ = QFileDialog.getOpenFileName(
            self, "Choose the model's manifest (JSON)", str(Path(onnx).parent), "Model manifest (*.json)"
        )
        self.import_files(Path(onnx), Path(manifest) if manifest else None)

    def import_files(self, onnx: Path, manifest: Path | None) -> None:
        self.model_progress.setRange(0, 0)
        self.model_progress.show()
        self.runner.call(
            zoo.import_model,
            onnx,
            manifest,
            on_done=lambda model: self._installed(model.manifest.name),
            on_failed=self._install_failed,
        )

    def _installed(self, name: str) -> None:
        self.model_progress.hide()
        self.reload_models(select=name)

    def _install_failed(self, failure: Failure) -> None:
        self.model_progress.hide()
        self._model_changed()
        show_error(self, "Model not installed", failure)

    # ------------------------------------------------------------ accept

    def result_user(self) -> UserSettings:
        p = replace(self.user)
        p.device = self.device.currentData()
        p.batch_size = self.batch.value()
        p.thumb_size = int(self.thumb.currentData())
        p.theme = self.theme.currentData()
        p.set_curator(self.curator.text())  # InputError for a name decisions cannot carry
        row = self.selected_row()
        if self.catalog is None and row is not None and row.status != "available":
            p.model = row.name
        return p

    def result_catalog(self) -> CatalogChoices | None:
        if self.catalog is None:
            return None
        row = self.selected_row()
        model = row.name if row is not None and row.status != "available" else self.catalog.model
        return CatalogChoices(model, self.rule.rule(), bool(self.fit.currentData()), self.mirror.isChecked())

    def _accept(self) -> None:
        try:
            catalog = self.result_catalog()
        except UserError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        row = self.selected_row()
        if row is not None and row.status == "available":
            self.error.setText(
                f"{row.name} is not installed yet: press Fetch first, or choose an installed model."
            )
            self.error.show()
            return
        try:
            user = self.result_user()
        except UserError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.applied.emit(user, catalog)
        self.accept()


def _fetch_model(name: str, progress) -> zoo.FetchResult:
    return zoo.fetch(name, progress=lambda done, total: progress((done, total)))


def save_user_settings(user: UserSettings, strict: bool = False) -> UserSettings:
    """Save what the dialog edits on top of the file as it is now (recent catalogs, window layout kept);
    `strict` raises the UserError when the file cannot be written (see UserSettings.save)."""
    latest = UserSettings.load().with_preferences_of(user)
    latest.save(strict)
    return latest


def catalog_choices(settings: CatalogSettings, model: InstalledModel | None) -> CatalogChoices:
    """What the dialog shows of a catalog's settings."""
    name = model.manifest.name if model is not None else (settings.model or "")
    return CatalogChoices(name, settings.grouping, settings.letterbox, settings.mirror)


def write_catalog_choices(engine: Engine, old: CatalogChoices, new: CatalogChoices) -> bool:
    """Store the dialog's catalog choices through the engine (worker thread); False when nothing changed."""
    if new == old:
        return False
    if new.model and new.model != old.model:
        model = resolve_model(new.model)  # raises ModelError with a clear message
        engine.update_settings(
            grouping=new.rule,
            letterbox=new.letterbox,
            mirror=new.mirror,
            model=model.manifest.name,
            model_manifest=str(model.manifest_path),
        )
    else:
        engine.update_settings(grouping=new.rule, letterbox=new.letterbox, mirror=new.mirror)
    return True


def ask_update_index(parent: QWidget, update_index) -> QMessageBox:
    """After the catalog's grouping, model or fit changed: offer to update the index now (non-modal)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Update the index?",
        "The grouping rule, the model or the photo preprocessing of this catalog changed. "
        "Update the index now to apply it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.button(QMessageBox.StandardButton.Yes).setText("Update index now")
    box.button(QMessageBox.StandardButton.No).setText("Later")
    box.finished.connect(lambda r: r == QMessageBox.StandardButton.Yes and update_index())
    box.open()
    return box


__all__ = [
    "CatalogChoices",
    "SettingsDialog",
    "ask_update_index",
    "catalog_choices",
    "save_user_settings",
    "write_catalog_choices",
]
