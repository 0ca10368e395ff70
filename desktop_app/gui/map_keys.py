"""The catalog map's keys: zoom (+, -, and Ctrl++ / Ctrl+- while the map has the focus), fit the whole map
(0, Home), pan (arrows; Shift: further) and open the selected article (Enter); and the table of the map's
keys and mouse actions that the shortcut sheet (F1) lists.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

KEY_ZOOM = 1.25  # one press of + or -
KEY_PAN = 0.15  # an arrow key pans by this share of the view (Shift: three times as far)
MAP_KEYS = (  # what the keys and the mouse do on the map, for the shortcut sheet
    (("+", "-", "Ctrl++", "Ctrl+-"), "Zoom in, out (round the centre)"),
    (("0", "Home"), "Fit the whole map"),
    (("arrows", "Shift+arrows"), "Pan (Shift: further)"),
    (("Return",), "Open the selected article"),
    (("wheel",), "Zoom around the cursor"),
    (("drag",), "Pan"),
    (("click",), "Select one article"),
    (("Ctrl+click",), "Add an article to the selection, or take it out"),
    (("Shift+drag",), "Lasso: select the articles inside"),
    (("Ctrl+Shift+drag",), "Lasso that adds to the selection"),
    (("double-click",), "Open the article"),
    (("click on the legend",), "Fold the legend to one line, or unfold it"),
)


class MapKeys:
    """The keys of `MapView` (a mixin: it calls the view's zoom_by, fit, pan_pixels and selected_keys)."""

    _current: str | None = None  # the article last clicked: what Enter opens

    def event(self, event: QEvent) -> bool:
        # Ctrl++ / Ctrl+- are also the window's "larger/smaller thumbnails": on the map they zoom the map.
        if event.type() == QEvent.Type.ShortcutOverride and self._key_action(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def _key_action(self, event: QKeyEvent) -> Callable[[], None] | None:
        """What a key does on the map, or None for keys the map leaves to others."""
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if mods & ~(
            Qt.KeyboardModifier.ShiftModifier
            | Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.KeypadModifier
        ):
            return None
        step_x = round(self.viewport().width() * KEY_PAN * (3 if shift else 1))
        step_y = round(self.viewport().height() * KEY_PAN * (3 if shift else 1))
        actions = {
            Qt.Key.Key_Plus: lambda: self.zoom_by(KEY_ZOOM),
            Qt.Key.Key_Equal: lambda: self.zoom_by(KEY_ZOOM),
            Qt.Key.Key_Minus: lambda: self.zoom_by(1 / KEY_ZOOM),
            Qt.Key.Key_0: self.fit,
            Qt.Key.Key_Home: self.fit,
            Qt.Key.Key_Left: lambda: self.pan_pixels(-step_x, 0),
            Qt.Key.Key_Right: lambda: self.pan_pixels(step_x, 0),
            Qt.Key.Key_Up: lambda: self.pan_pixels(0, -step_y),
            Qt.Key.Key_Down: lambda: self.pan_pixels(0, step_y),
            Qt.Key.Key_Return: self.open_current,
            Qt.Key.Key_Enter: self.open_current,
        }
        return actions.get(Qt.Key(key))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._key_action(event)
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def current_key(self) -> str | None:
        """The article Enter opens: the one last clicked while it is selected, else the only one selected."""
        selected = self.selected_keys()
        if self._current in selected:
            return self._current
        return selected[0] if len(selected) == 1 else None

    def open_current(self) -> None:
        key = self.current_key()
        if key is not None:
            self.activated.emit(key)


__all__ = ["MAP_KEYS", "MapKeys"]
