"""Enter on an offered completion takes it and goes on: one key, as curators expect from a label field.

Qt's completer popup eats the Enter that picks an entry: the text lands in the field and the field's own
Enter (set the label, accept the dialog) needs a second press. Enter with no entry highlighted closed the
popup and kept the half-typed text; it takes the first offer now. `EnterTakesCompletion` watches the popup's
keys and, when an entry was picked with Enter (not with the mouse, which only picks), emits `chosen`.
It is a signal rather than a stored callback: a Python reference from this child back to its window would
make a cycle that only the garbage collector breaks, and a collection run on a worker thread would then
delete the window's Qt objects off the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QCompleter


class EnterTakesCompletion(QObject):
    chosen = Signal(str)  # the completion picked with Enter

    def __init__(self, completer: QCompleter) -> None:
        super().__init__(completer)
        self._enter = False
        completer.popup().installEventFilter(self)
        completer.activated.connect(self._activated)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            self._enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            if self._enter:
                self._highlight_first(obj)
        elif event.type() == QEvent.Type.Show:
            self._enter = False
        return False

    @staticmethod
    def _highlight_first(popup: QObject) -> None:
        """Enter with nothing highlighted picks the first offer: the completer's own filter (which runs
        after this one) would close the popup and leave the half-typed text, which a second Enter saved."""
        if isinstance(popup, QAbstractItemView) and not popup.currentIndex().isValid():
            model = popup.model()
            if model is not None and model.rowCount() > 0:
                popup.setCurrentIndex(model.index(0, 0))

    def _activated(self, text: str) -> None:
        if self._enter:
            self._enter = False
            self.chosen.emit(text)
