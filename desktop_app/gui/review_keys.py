"""The review queue's keys: Enter accepts, 1-3 pick a label, typing starts a label of one's own, S skips,
Ctrl+Z undoes, Ctrl+Shift+Z or Ctrl+Y redoes, Esc clears a typed label before it closes the window.

A mixin of `ReviewQueue` (it needs the queue's `view`, `label_edit` and actions); kept apart so the window
module holds the layout and the decisions, and this one the keyboard.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent


class QueueKeys:
    """Keyboard handling of the review queue: installed as the event filter of its list and label field."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and obj is self.label_edit:
            if event.key() == Qt.Key.Key_Escape and self.label_edit.text():
                event.accept()  # Esc clears the typed label first; the next Esc closes the window
                return True
        if event.type() == QEvent.Type.KeyPress:
            if obj is self.view:
                return self._queue_key(event)
            if obj is self.label_edit and event.key() == Qt.Key.Key_Escape:
                self.label_edit.clear()
                self.view.setFocus()
                return True
        return super().eventFilter(obj, event)

    def _queue_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = mods == Qt.KeyboardModifier.NoModifier
        history = self._history_key(key, mods)
        if history is not None:
            history()
        elif not plain and mods != Qt.KeyboardModifier.ShiftModifier:
            return False
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_current()
        elif key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) and plain:
            self.pick_alternative(key - Qt.Key.Key_0)
        elif key == Qt.Key.Key_S and plain:
            self.skip_current()
        elif key in (Qt.Key.Key_Slash, Qt.Key.Key_F2):
            self.label_edit.setFocus()
        else:
            return self._start_typing(event.text())
        return True

    def _history_key(self, key: int, mods: Qt.KeyboardModifier) -> Callable[[], bool] | None:
        """Ctrl+Z undoes; Ctrl+Shift+Z and Ctrl+Y redo (the keys of every editor)."""
        ctrl = Qt.KeyboardModifier.ControlModifier
        if key == Qt.Key.Key_Z and mods == ctrl:
            return self.undo
        if (key == Qt.Key.Key_Z and mods == ctrl | Qt.KeyboardModifier.ShiftModifier) or (
            key == Qt.Key.Key_Y and mods == ctrl
        ):
            return self.redo
        return None

    def _start_typing(self, text: str) -> bool:
        if not text or not text.isprintable() or text.isspace():
            return False
        # Any other character starts a label of one's own (a capital S, too: Shift+S types "S").
        self.label_edit.setFocus()
        self.label_edit.setText(self.label_edit.text() + text)
        return True

    def _on_label_entered(self) -> None:
        text = self.label_edit.text().strip()
        popup = self.label_edit.completer().popup() if self.label_edit.completer() else None
        if popup is not None and popup.isVisible():
            return  # Enter on the completer popup: EnterTakesCompletion sets the label it picked
        if text:
            self.set_label(text)
        else:
            self.accept_current()
        self.view.setFocus()
