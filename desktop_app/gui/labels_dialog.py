"""The Set label dialog: set or clear a label on selected articles (the import dialog is in
`labels_import_dialog`).

`edit_labels(parent, engine, articles, field)` sets (or clears) one label field on one or many articles at
once, through the engine (`Engine.set_labels`), so every change is one decision, committed at once and
undoable as one, exactly as from the command line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.engine import Engine
from desktop_app.core.errors import Conflict, UserError
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.wording import plural
from desktop_app.gui.completion import EnterTakesCompletion
from desktop_app.gui.conflicts import show_conflict

Index = QModelIndex | QPersistentModelIndex


def known_fields(engine: Engine, extra: str = DEFAULT_FIELD) -> list[str]:
    fields = {f for d in engine.labels().values() for f in d}
    fields.add(extra)
    return sorted(fields, key=str.casefold)


def known_values(engine: Engine, field_name: str) -> list[str]:
    values = {d[field_name] for d in engine.labels(field_name).values() if field_name in d}
    return sorted(values, key=str.casefold)


def canonical(text: str, existing: list[str]) -> str:
    """Collapse whitespace and reuse an existing label's spelling ("Tops" -> "tops")."""
    text = " ".join(text.split())
    for value in existing:
        if value.casefold() == text.casefold():
            return value
    return text


# ============================================================================ set / clear


@dataclass(frozen=True)
class LabelEdit:
    """What the Set label dialog wrote: the field, its new value (None: cleared), on how many articles."""

    field: str
    value: str | None
    changed: int
    articles: int

    def summary(self) -> str:
        """One line for the status bar."""
        if self.changed == 0:
            return f"No label changed: the {plural(self.articles, 'article')} already had that {self.field}."
        on = plural(self.changed, "article")
        if self.value is None:
            return f"Cleared {self.field} on {on}."
        return f"Set {self.field} “{self.value}” on {on}."


class LabelEditDialog(QDialog):
    """Set or clear one label field on a set of articles."""

    def __init__(
        self, engine: Engine, articles: list[str], field: str = DEFAULT_FIELD, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.articles = list(dict.fromkeys(articles))  # keep order, drop repeats
        self.changed = 0
        self.written: LabelEdit | None = None
        self.conflict_box = None
        self.new_value_box: QMessageBox | None = None  # "a new label value: use it?"
        n = len(self.articles)
        self.setWindowTitle("Set label" if n == 1 else f"Set label on {n} articles")

        lay = QVBoxLayout(self)
        shown = ", ".join(self.articles[:4]) + (f" and {n - 4} more" if n > 4 else "")
        intro = QLabel(f"<b>{escape(shown)}</b>")
        intro.setWordWrap(True)
        lay.addWidget(intro)

        form = QFormLayout()
        self.field_box = QComboBox()
        self.field_box.setEditable(True)
        self.field_box.addItems(known_fields(engine, field))
        self.field_box.setCurrentText(field)
        self.field_box.setToolTip("Label fields: category, brand, style… Type a new name to start a field.")
        form.addRow("Field", self.field_box)
        self.now_label = QLabel()
        self.now_label.setWordWrap(True)
        self.now_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow("Now", self.now_label)
        self.value_box = QComboBox()
        self.value_box.setEditable(True)
        self.value_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.value_box.lineEdit().setPlaceholderText("label")
        completer = self.value_box.completer()
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        EnterTakesCompletion(completer).chosen.connect(self._completion_set)  # one Enter picks and sets
        form.addRow("Label", self.value_box)
        self.new_note = QLabel()  # says, while typing, that a value is new (a typo would start a label)
        self.new_note.setWordWrap(True)
        self.new_note.setStyleSheet("color: palette(placeholder-text);")
        self.new_note.hide()
        form.addRow("", self.new_note)
        lay.addLayout(form)

        buttons = QDialogButtonBox()
        self.set_button = buttons.addButton("Set", QDialogButtonBox.ButtonRole.AcceptRole)
        self.clear_button = buttons.addButton("Clear label", QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.set_button.setDefault(True)
        self.set_button.clicked.connect(self.apply_set)
        self.clear_button.clicked.connect(self.apply_clear)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

        # The field's labels, read once per field (not per keystroke in the label box): its known values,
        # and what the articles have now.
        self._values: list[str] = []
        self._now: dict[str, str | None] = {}
        self.field_box.currentTextChanged.connect(self._field_changed)
        self.value_box.currentTextChanged.connect(self._update_buttons)
        self._field_changed(field)
        self.value_box.setFocus()

    def _completion_set(self, _text: str) -> None:
        self.apply_set()

    def field(self) -> str:
        return " ".join(self.field_box.currentText().split())

    def _field_changed(self, _text: str) -> None:
        name = self.field()
        labels = self.engine.labels(name) if name else {}
        self._values = sorted({d[name] for d in labels.values() if name in d}, key=str.casefold)
        self._now = current = {a: labels.get(a, {}).get(name) for a in self.articles}
        typed = self.value_box.currentText()
        self.value_box.blockSignals(True)
        self.value_box.clear()
        self.value_box.addItems(self._values)
        # Several articles with one common label: offer it; otherwise start empty.
        common = {v for v in current.values()}
        self.value_box.setCurrentText(
            typed or (next(iter(common)) if len(common) == 1 and None not in common else "")
        )
        self.value_box.blockSignals(False)
        counts = Counter(current.values())
        parts = [
            f"{v if v is not None else '(none)'} ×{c}"
            if len(self.articles) > 1
            else (v if v is not None else "(none)")
            for v, c in counts.most_common(6)
        ]
        if len(counts) > 6:
            parts.append(f"{len(counts) - 6} more")
        self.now_label.setText(", ".join(parts))
        self._update_buttons()

    def _current(self, name: str) -> dict[str, str | None]:
        labels = self.engine.labels(name) if name else {}
        return {a: labels.get(a, {}).get(name) for a in self.articles}

    def _update_buttons(self, *_args) -> None:
        name = self.field()
        self.set_button.setEnabled(bool(name) and bool(self.value_box.currentText().strip()))
        self.clear_button.setEnabled(bool(name) and any(v is not None for v in self._now.values()))
        value = canonical(self.value_box.currentText(), self._values)
        self.new_note.setVisible(self._is_new(value))
        self.new_note.setText(f"New {name or 'label'} value: no article has it yet.")

    def _is_new(self, value: str) -> bool:
        """A value no article has in a field that has values: likely half-typed or mistyped. The first value
        of a field is new by necessity, and asking about it would only slow the curator down."""
        return bool(value) and bool(self._values) and value not in self._values

    def apply_set(self, confirmed: bool = False) -> int:
        """Set the typed value; a new one is first confirmed (a non-blocking question, No by default), so
        a second Enter on a half-typed value cannot save it."""
        name = self.field()
        value = canonical(self.value_box.currentText(), self._values)
        if not name or not value:
            return 0
        if self._is_new(value) and not confirmed:
            self._ask_new_value(name, value)
            return 0
        return self._write(name, value)

    def _ask_new_value(self, name: str, value: str) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("New label value")
        box.setText(f"“{value}” is a new {name} value — no article has it yet. Use it?")
        box.setInformativeText(
            f"Known values: {', '.join(self._values[:8])}{' …' if len(self._values) > 8 else ''}"
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(lambda: self.apply_set(confirmed=True))
        self.new_value_box = box
        box.open()

    def apply_clear(self) -> int:
        name = self.field()
        return self._write(name, None) if name else 0

    def _write(self, name: str, value: str | None, force: bool = False) -> int:
        # Articles that already have this value are left out: no change, no undo step to wade through.
        current = self._current(name)
        articles = [a for a in self.articles if current[a] != value]
        try:
            self.changed = self.engine.set_labels(articles, name, value, force=force) if articles else 0
        except Conflict as exc:  # another curator labelled some of them meanwhile: say who, keep theirs
            self.conflict_box = show_conflict(
                self, "Your label", exc, overwrite=lambda: self._write(name, value, force=True)
            )
            self._field_changed(name)  # "Now" shows what stands
            return 0
        except UserError as exc:  # the curator sees why; nothing was half-written
            QMessageBox.warning(self, "Labels not saved", f"The labels could not be saved.\n\n{exc}")
            return 0
        self.written = LabelEdit(name, value, self.changed, len(self.articles))
        self.accept()
        return self.changed


def edit_labels(
    parent: QWidget | None, engine: Engine, articles: list[str], field: str = DEFAULT_FIELD
) -> LabelEdit | None:
    """Modal dialog to set or clear a label on articles; what it wrote, or None when cancelled."""
    if not articles:
        return None
    dialog = LabelEditDialog(engine, articles, field, parent)
    return dialog.written if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["LabelEdit", "LabelEditDialog", "canonical", "edit_labels", "known_fields", "known_values"]
