"""Choosing how photos group into articles, with a live preview of the first files as articles.

The preview shows the articles the first photos would form, each with its cover thumbnail, photo count
and view tags, and how many photos the folder holds. It runs in a worker through a `Lane` (a newer pattern
supersedes an older one) after a short pause in typing, so scanning a slow network folder never blocks
the dialog; the folder's photos are counted once, on the side.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import scan
from desktop_app.core.errors import UserError
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule, preview_grouping
from desktop_app.gui.delegates import UntintedPhotoDelegate
from desktop_app.gui.models import GroupingPreviewModel
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Failure, Lane, Runner

PREVIEW_LIMIT = 200
PREVIEW_THUMB = 40
DEBOUNCE_MS = 200


def suggest_rule(root: Path) -> GroupingRule:
    """The grouping the core proposes for a folder (`scan.suggest_rule`), from how its first files would
    group by file name: the pattern when names look like <article>_<view> and that makes sense, else folders."""
    return scan.suggest_rule(preview_grouping(root, GroupingRule("pattern", MAGENTO_PATTERN), PREVIEW_LIMIT))


def rule_choice(rule: GroupingRule) -> str:
    if rule.kind == "folder":
        return "folder"
    return "magento" if rule.pattern == MAGENTO_PATTERN else "custom"


class RuleEditor(QWidget):
    """Three choices (folders, Magento-style names, a custom pattern) as one `GroupingRule`."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = QRadioButton("One article per folder")
        self.magento = QRadioButton("By file name: <article>_<view>.jpg (Magento style)")
        self.custom = QRadioButton("By file name, custom pattern:")
        self.pattern = QLineEdit()
        self.pattern.setPlaceholderText(r"(?P<article>[A-Z0-9]+)-(?P<view>\w+)")
        self.pattern.setToolTip(
            "A regular expression over the file name without extension, with a named group "
            "'article' and optionally 'view'."
        )
        self.group = QButtonGroup(self)
        for b in (self.folder, self.magento, self.custom):
            self.group.addButton(b)
            b.toggled.connect(self._toggled)
        self.pattern.textChanged.connect(self._pattern_edited)
        row = QHBoxLayout()
        row.addWidget(self.custom)
        row.addWidget(self.pattern, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.folder)
        lay.addWidget(self.magento)
        lay.addLayout(row)
        self.folder.setChecked(True)
        self.pattern.setEnabled(False)

    def set_rule(self, rule: GroupingRule) -> None:
        choice = rule_choice(rule)
        if choice == "custom":
            self.pattern.setText(rule.pattern or "")
        {"folder": self.folder, "magento": self.magento, "custom": self.custom}[choice].setChecked(True)

    def rule(self) -> GroupingRule:
        """The rule as edited; raises UserError for an invalid custom pattern."""
        if self.magento.isChecked():
            return GroupingRule("pattern", MAGENTO_PATTERN)
        if self.custom.isChecked():
            return GroupingRule("pattern", self.pattern.text())
        return GroupingRule("folder")

    def _toggled(self, on: bool) -> None:
        self.pattern.setEnabled(self.custom.isChecked())
        if on:
            self.changed.emit()

    def _pattern_edited(self) -> None:
        if self.custom.isChecked():
            self.changed.emit()


class GroupingDialog(QDialog):
    """Asked when a photo folder has no catalog yet: how do photos become articles? Then: index now?"""

    def __init__(
        self,
        folder: Path,
        runner: Runner,
        initial: GroupingRule | None = None,
        parent: QWidget | None = None,
        title: str = "Open photo folder",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.folder = Path(folder)
        fit_to_screen(self, 720, 560)
        self.lane = Lane(runner, self)
        self.lane.result.connect(self._preview_ready)
        self.lane.failed.connect(self._preview_failed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh_preview)

        intro = QLabel(
            f"<b>{self.folder}</b><br>How do the photos in this folder form articles? "
            "The preview shows how the first files would group."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.editor = RuleEditor()
        self.editor.changed.connect(self.timer.start)
        self.thumbs = ThumbnailLoader(PREVIEW_THUMB, threads=1, parent=self, photo_root=self.folder)
        self.model = GroupingPreviewModel(self.thumbs, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(PREVIEW_THUMB + 6)
        self.table.setIconSize(QSize(PREVIEW_THUMB, PREVIEW_THUMB))
        self.table.setItemDelegate(UntintedPhotoDelegate(self.table))
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.total: int | None = None  # photos in the folder, counted once on a worker
        runner.call(count_photos, self.folder, on_done=self._counted)
        self.summary = QLabel("Reading the folder…")
        self.summary.setWordWrap(True)
        self.index_now = QCheckBox("Index the photos now (you can cancel and resume later)")
        self.index_now.setChecked(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create catalog")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.editor)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.summary)
        lay.addWidget(self.index_now)
        lay.addWidget(self.buttons)
        if initial is not None:
            self.editor.set_rule(initial)
            self.refresh_preview()
        else:
            # Guess the rule off the UI thread; the preview follows from the guess.
            self.lane.submit(lambda: ("suggest", suggest_rule(self.folder)))

    def chosen_rule(self) -> GroupingRule:
        return self.editor.rule()

    def refresh_preview(self) -> None:
        try:
            rule = self.editor.rule()
        except UserError as exc:
            self.summary.setText(f"<span style='color:#b04040'>{exc}</span>")
            self.ok.setEnabled(False)
            return
        self.ok.setEnabled(True)
        self.summary.setText("Updating the preview…")
        folder = self.folder
        self.lane.submit(lambda: ("preview", preview_grouping(folder, rule, PREVIEW_LIMIT)))

    def _preview_ready(self, _gen: int, value) -> None:
        kind, payload = value
        if kind == "suggest":
            self.editor.set_rule(payload)
            self.refresh_preview()
            return
        self.model.set_preview(payload)
        self.summary.setText(self.model.summary(self.total))
        self.ok.setEnabled(bool(payload))

    def _counted(self, total: int) -> None:
        self.total = total
        if self.model.rows:
            self.summary.setText(self.model.summary(total))

    def _preview_failed(self, _gen: int, failure: Failure) -> None:
        self.summary.setText(f"<span style='color:#b04040'>The folder cannot be read: {failure.error}</span>")
        self.ok.setEnabled(False)

    def _accept(self) -> None:
        try:
            self.editor.rule()
        except UserError as exc:
            self.summary.setText(f"<span style='color:#b04040'>{exc}</span>")
            return
        self.timer.stop()
        self.lane.invalidate()
        self.accept()

    def done(self, result: int) -> None:
        self.timer.stop()
        self.lane.invalidate()
        self.thumbs.shutdown()
        super().done(result)


def count_photos(folder: Path) -> int:
    """How many photos the folder holds (worker thread)."""
    return sum(1 for _ in scan.walk_photos(folder))
