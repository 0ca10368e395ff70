"""The catalog map panel: the map view with its colour choice, the layout's state and progress, and the bar
of actions on the selected articles (set a label on all of them, show them in the grid, inspect two).

The panel only shows and says what the curator asked for; `map_controller.MapController` does the work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import map_picture as pic
from desktop_app.core.wording import plural
from desktop_app.gui.elided import ElidedLabel
from desktop_app.gui.map_view import MapView

COLOUR_CHOICES_EXTRA = ((pic.BY_FOLDER, "Folder"), (pic.BY_UNLABELLED, "Labelled or not"))


class MapPanel(QWidget):
    colour_by_changed = Signal(str)
    recompute_requested = Signal()
    cancel_requested = Signal()
    label_requested = Signal(str, str)  # field, value: set on every selected article
    undo_requested = Signal()
    show_in_grid_requested = Signal()
    inspect_requested = Signal()

    def __init__(self, thumb: Callable[[str], QPixmap | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = MapView(thumb)
        self.colour_by = QComboBox()
        self.colour_by.setToolTip("What the colours of the map show")
        self.colour_by.activated.connect(lambda _i: self.colour_by_changed.emit(self.colour_by.currentData()))
        self.state = ElidedLabel()  # one line: the layout's method, date and time; the rest in its tooltip
        self.state.setStyleSheet("color: palette(placeholder-text);")
        self.recompute = QPushButton("Recompute layout")
        self.recompute.setToolTip(
            "Lay out every article afresh (new articles are otherwise placed among their nearest neighbours)"
        )
        self.recompute.clicked.connect(self.recompute_requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        # Wide enough for "arranging (t-SNE) 35%" on one line; the note is elided to fit, never wrapped.
        self.progress.setFixedWidth(
            max(200, self.progress.fontMetrics().horizontalAdvance("arranging (t-SNE) 100%") + 24)
        )
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        self.fit = QPushButton("Fit")
        self.fit.setToolTip("Show the whole map, clear of the legend (0 or Home on the map)")
        self.fit.clicked.connect(self._fit)
        top = QHBoxLayout()
        top.addWidget(QLabel("Colour:"))
        top.addWidget(self.colour_by)
        top.addWidget(self.state, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel)
        top.addWidget(self.fit)
        top.addWidget(self.recompute)
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addWidget(self.view, 1)
        lay.addLayout(self._selection_bar())
        self.show_running(False)
        self.show_selection(0)

    def _selection_bar(self) -> QHBoxLayout:
        self.count = QLabel()
        self.field = QComboBox()
        self.field.setEditable(True)
        self.field.setToolTip("The label field to set")
        self.value = QLineEdit()
        self.value.setPlaceholderText("label for all of them")
        self.value.setMinimumWidth(self.fontMetrics().horizontalAdvance("label for all of them") + 40)
        self.value.setClearButtonEnabled(True)
        self.value.textChanged.connect(lambda _t: self._sync_buttons())
        self.value.returnPressed.connect(self._set_label)
        self.set_label = QPushButton("Set label")
        self.set_label.setToolTip("Set this label on every selected article (one decision, undoable)")
        self.set_label.clicked.connect(self._set_label)
        self.undo = QPushButton("Undo")
        self.undo.setToolTip("Take back the last label set from the map")
        self.undo.setEnabled(False)
        self.undo.clicked.connect(self.undo_requested)
        self.show_grid = QPushButton("Show in grid")
        self.show_grid.clicked.connect(self.show_in_grid_requested)
        self.inspect = QPushButton("Inspect pair")
        self.inspect.setToolTip("Open the match inspector on the two selected articles")
        self.inspect.clicked.connect(self.inspect_requested)
        # elided, so the hint never widens the panel: the splitter beside it must not move while a lasso is
        # drawn or a label typed
        hint = ElidedLabel("Shift+drag: lasso · F1: keys")
        hint.setToolTip("Shift+drag: lasso · wheel, +/−: zoom · drag, arrows: pan · 0: fit · F1: all keys")
        hint.setStyleSheet("color: palette(placeholder-text);")
        bar = QHBoxLayout()
        for w in (
            self.count,
            self.field,
            self.value,
            self.set_label,
            self.undo,
            self.show_grid,
            self.inspect,
        ):
            bar.addWidget(w)
        bar.addWidget(hint, 1)
        return bar

    def _fit(self) -> None:
        self.view.fit()
        self.view.setFocus()  # the keys work on the map at once (+, -, arrows)

    # ------------------------------------------------------------ state

    def set_colour_choices(self, fields: list[str], current: str) -> None:
        self.colour_by.blockSignals(True)
        self.colour_by.clear()
        for f in fields:
            self.colour_by.addItem(f"Label: {f}", f)
        for key, text in COLOUR_CHOICES_EXTRA:
            self.colour_by.addItem(text, key)
        i = self.colour_by.findData(current)
        self.colour_by.setCurrentIndex(max(0, i))
        self.colour_by.blockSignals(False)
        typed = self.field.currentText()
        self.field.clear()
        self.field.addItems(fields or ["category"])
        if typed:
            self.field.setCurrentText(typed)

    def show_state(self, text: str) -> None:
        self.state.setText(text)

    def show_message(self, text: str) -> None:
        """A note instead of the map (no layout yet, the library missing, a failure); empty: the map."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def show_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.cancel.setEnabled(running)
        self.recompute.setEnabled(not running)
        if running:
            self.progress.setValue(0)
            self.progress.setFormat("Preparing…")

    def show_progress(self, done: int, total: int, note: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        room = self.progress.width() - self.progress.fontMetrics().horizontalAdvance(" 100%") - 16
        shown = self.progress.fontMetrics().elidedText(note, Qt.TextElideMode.ElideRight, max(0, room))
        self.progress.setFormat(f"{shown} %p%")
        self.progress.setToolTip(f"{note}: {done:,} of {total:,}")

    def show_selection(self, n: int) -> None:
        self.count.setText(f"{n:,} selected" if n else "Nothing selected")
        self._n = n
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        n = getattr(self, "_n", 0)
        self.set_label.setEnabled(n > 0 and bool(self.value.text().strip()))
        self.show_grid.setEnabled(n > 0)
        self.inspect.setEnabled(n == 2)

    def _set_label(self) -> None:
        field, value = self.field.currentText().strip(), self.value.text().strip()
        if self.set_label.isEnabled() and field and value:
            self.label_requested.emit(field, value)


def overwrite_question(n: int, field: str, value: str, current: list[str]) -> str | None:
    """The question before setting `value` on n articles whose labels in `field` are `current` (those with
    one); None when no article has a different one."""
    replaced = Counter(v for v in current if v != value)
    if not replaced:
        return None
    k = sum(replaced.values())
    shown = ", ".join(v for v, _ in replaced.most_common(3)) + (" …" if len(replaced) > 3 else "")
    return (
        f"{plural(n, 'article')}; {k:,} already {'have' if k != 1 else 'has'} a {field} "
        f"({shown}).\n\nReplace {'them' if k != 1 else 'it'} with {value}? Undo on the map takes it back."
    )


__all__ = ["MapPanel", "overwrite_question"]
