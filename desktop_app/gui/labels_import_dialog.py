"""The label import dialog: labels from a CSV file (`article` or `path`, `label`, and optionally `field`) or
from folder names at a chosen level, with a preview of what each article would get.

The preview is the core's import plan (`core.label_files.plan_*`), and the import writes that same plan
through the engine (`Engine.set_label_items`): one decision, committed at once and undoable as one, exactly
as `lookalike labels import` does.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.engine import Engine
from desktop_app.core.errors import Conflict, UserError
from desktop_app.core.label_files import ImportReport, LabelPlan
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.wording import plural
from desktop_app.gui import theme
from desktop_app.gui.conflicts import show_conflict
from desktop_app.gui.labels_dialog import known_fields
from desktop_app.gui.models import ColumnsModel
from desktop_app.gui.screen_fit import fit_to_screen

Index = QModelIndex | QPersistentModelIndex


class PlanModel(ColumnsModel):
    """Preview rows: article, field, its label now, the label it would get."""

    COLUMNS = ("Article", "Field", "Now", "Becomes")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, str, str | None, str]] = []

    def set_rows(self, rows: list[tuple[str, str, str | None, str]]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        article, field_name, now, becomes = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (article, field_name, now if now is not None else "—", becomes)[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            pal = QGuiApplication.palette()
            if now is None:
                return QBrush(theme.good_text(pal))
            if now != becomes:
                return QBrush(theme.warn_text(pal))
            return QBrush(theme.secondary_text(pal))
        return None

    def row(self, i: int) -> tuple[str, str, str | None, str]:
        return self.rows[i]


class ImportLabelsDialog(QDialog):
    """Import labels from a CSV file or from folder names, with a preview of every article's label."""

    def __init__(self, engine: Engine, field: str = DEFAULT_FIELD, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.report: ImportReport | None = None
        self.conflict_box = None  # the box naming labels another curator set, while it is shown
        self.plan: LabelPlan | None = None
        self.setWindowTitle("Import labels")
        fit_to_screen(self, 760, 560)
        self._covers = [row["cover"] or "" for row in engine.catalog.articles_overview()]

        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.field_box = QComboBox()
        self.field_box.setEditable(True)
        self.field_box.addItems(known_fields(engine, field))
        self.field_box.setCurrentText(field)
        self.field_box.setToolTip("The field the labels go to (a CSV's own `field` column wins)")
        form.addRow("Field", self.field_box)
        lay.addLayout(form)

        self.csv_radio = QRadioButton("From a CSV file: columns article or path, label, and optionally field")
        self.folder_radio = QRadioButton(
            "From folder names: each article gets the name of one of its folders"
        )
        group = QButtonGroup(self)
        group.addButton(self.csv_radio)
        group.addButton(self.folder_radio)

        lay.addWidget(self.csv_radio)
        csv_row = QHBoxLayout()
        csv_row.setContentsMargins(24, 0, 0, 0)
        self.csv_edit = QLineEdit()
        self.csv_edit.setPlaceholderText("labels.csv")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        csv_row.addWidget(self.csv_edit, 1)
        csv_row.addWidget(browse)
        lay.addLayout(csv_row)

        lay.addWidget(self.folder_radio)
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(24, 0, 0, 0)
        folder_row.addWidget(QLabel("Folder level"))
        self.level_spin = QSpinBox()
        depth = max((len(c.split("/")) - 1 for c in self._covers), default=0)
        self.level_spin.setRange(0, max(0, depth - 1))
        self.level_spin.setToolTip("0 is the top folder inside the photo folder")
        folder_row.addWidget(self.level_spin)
        self.level_hint = QLabel()
        self.level_hint.setStyleSheet("color: palette(placeholder-text);")
        folder_row.addWidget(self.level_hint, 1)
        lay.addLayout(folder_row)
        self.overwrite_box = QCheckBox("Replace labels articles already have")
        ow_row = QHBoxLayout()
        ow_row.setContentsMargins(24, 0, 0, 0)
        ow_row.addWidget(self.overwrite_box)
        lay.addLayout(ow_row)
        if depth == 0:
            self.folder_radio.setEnabled(False)
            self.folder_radio.setToolTip("The photos are not in subfolders")

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.preview = PlanModel(self)
        self.table = QTableView()
        self.table.setModel(self.preview)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Fixed widths, not "resize to contents": that would measure every row of a 100,000-row preview.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in ((1, 100), (2, 180), (3, 180)):
            header.resizeSection(col, width)
        lay.addWidget(self.table, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.clicked.connect(lambda: self.apply())
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

        self.csv_radio.setChecked(True)
        for signal in (self.csv_radio.toggled, self.overwrite_box.toggled):
            signal.connect(self.update_preview)
        self.level_spin.valueChanged.connect(self.update_preview)
        self.csv_edit.editingFinished.connect(self.update_preview)
        self.csv_edit.installEventFilter(self)
        self.field_box.currentTextChanged.connect(self.update_preview)
        self.update_preview()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Enter in the file box shows the preview; only the Import button writes labels (the dialog's
        # default button would otherwise import in the same keystroke, unseen).
        if (
            obj is self.csv_edit
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            self.update_preview()
            return True
        return super().eventFilter(obj, event)

    def field(self) -> str:
        return " ".join(self.field_box.currentText().split()) or DEFAULT_FIELD

    def set_csv(self, path: Path | str) -> None:
        self.csv_radio.setChecked(True)
        self.csv_edit.setText(str(path))
        self.update_preview()

    def set_folder_level(self, level: int, overwrite: bool = False) -> None:
        self.folder_radio.setChecked(True)
        self.overwrite_box.setChecked(overwrite)
        self.level_spin.setValue(level)
        self.update_preview()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Labels CSV", str(Path.home()), "CSV files (*.csv);;All (*)"
        )
        if path:
            self.set_csv(path)

    def update_preview(self, *_args) -> None:
        from_csv = self.csv_radio.isChecked()
        self.csv_edit.setEnabled(from_csv)
        self.level_spin.setEnabled(not from_csv)
        self.overwrite_box.setEnabled(not from_csv)
        self._update_level_hint()
        self.plan = None
        if from_csv and not self.csv_edit.text().strip():
            self._show([], "Choose a CSV file.")
            return
        try:
            self.plan = self._make_plan()
        except UserError as exc:
            self._show([], str(exc))
            return
        current = self.engine.labels()
        rows = [(a, f, current.get(a, {}).get(f), v) for a, f, v in self.plan.items]
        new = sum(r[2] is None for r in rows)
        changed = sum(r[2] is not None and r[2] != r[3] for r in rows)
        parts = [
            f"<b>{len(rows)}</b> article labels: {new} new, {changed} changed, "
            f"{len(rows) - new - changed} unchanged."
        ]
        left_out = self.plan.unknown or self.plan.no_folder
        if left_out:
            one = len(left_out) == 1
            what = (
                f"{plural(len(left_out), 'row')} {'is' if one else 'are'} not in the catalog"
                if from_csv
                else f"{plural(len(left_out), 'article')} {'has' if one else 'have'} no folder at that level"
            )
            sample = ", ".join(left_out[:5]) + (" …" if len(left_out) > 5 else "")
            parts.append(f"{what} ({escape(sample)}).")
        if self.plan.skipped_rows:
            one = self.plan.skipped_rows == 1
            parts.append(
                f"{plural(self.plan.skipped_rows, 'row')} {'has' if one else 'have'} no label and "
                f"{'is' if one else 'are'} left out."
            )
        self._show(rows, " ".join(parts))

    def _make_plan(self) -> LabelPlan:
        """What the import would write now: the same plan previews show and `apply` writes."""
        if self.csv_radio.isChecked():
            return self.engine.plan_label_import(
                csv=Path(self.csv_edit.text().strip()).expanduser(), field=self.field()
            )
        return self.engine.plan_label_import(
            folder_level=self.level_spin.value(), field=self.field(), overwrite=self.overwrite_box.isChecked()
        )

    def _update_level_hint(self) -> None:
        level = self.level_spin.value()
        names = Counter(parts[level] for c in self._covers if len(parts := c.split("/")[:-1]) > level)
        if not names:
            self.level_hint.setText("")
            return
        shown = ", ".join(n for n, _ in names.most_common(5))
        self.level_hint.setText(f"{len(names)} names: {shown}{' …' if len(names) > 5 else ''}")

    def _show(self, rows: list, text: str) -> None:
        self.preview.set_rows(rows)
        self.summary.setText(text)
        self.import_button.setEnabled(bool(rows))

    def apply(self, force: bool = False) -> ImportReport | None:
        """Run the import the preview shows (re-read at this moment, so it is what gets written). Labels
        another curator set stop it before anything is written, as a set does, until the curator says to
        use theirs (`force`)."""
        try:
            plan = self._make_plan()
            source = "import" if self.csv_radio.isChecked() else "folder"
            changed = self.engine.apply_label_import(plan, source, force)  # one decision, undone as one
        except Conflict as exc:
            self.conflict_box = show_conflict(
                self, "The import", exc, overwrite=lambda: self.apply(force=True)
            )
            self.update_preview()  # "Now" shows what stands
            return None
        except UserError as exc:  # the curator sees why; set_label_items is all-or-nothing
            QMessageBox.warning(self, "Import failed", str(exc))
            return None
        self.report = ImportReport(
            changed, plan.unknown, plan.skipped_rows, plan.no_folder, unchanged=len(plan.items) - changed
        )
        self.accept()
        return self.report


def import_labels(parent: QWidget | None, engine: Engine, field: str = DEFAULT_FIELD) -> ImportReport | None:
    """Modal import dialog; the import's report, or None when cancelled."""
    dialog = ImportLabelsDialog(engine, field, parent)
    return dialog.report if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["ImportLabelsDialog", "PlanModel", "import_labels"]
