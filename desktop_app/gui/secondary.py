"""What every secondary window (review queue, duplicates, inspector, lightbox and compare) does alike.

Each closes with Esc and with the platform's Close key (Ctrl+W), as the curator expects after using one of
them; each declares its keys in a table beside the code that binds them (`KeyTable`), which the shortcut
sheet (F1) lists under the window's name, so the sheet names the keys that exist even while the window is
closed. Their sizes come from `screen_fit`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

KeyTable = tuple[tuple[tuple[str, ...], str], ...]  # ((keys...), what they do), as the sheet shows them

CLOSE_KEYS: KeyTable = ((("Esc", "Ctrl+W"), "Close the window"),)


def add_close_keys(window: QWidget) -> QAction:
    """Esc and Ctrl+W close the window (a popup open inside it, such as a completer, takes Esc first)."""
    action = QAction("Close window", window)
    closing = QKeySequence.keyBindings(QKeySequence.StandardKey.Close)  # Ctrl+W (and Ctrl+F4 on some)
    action.setShortcuts([QKeySequence(Qt.Key.Key_Escape), *closing])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(window.close)
    window.addAction(action)
    return action


__all__ = ["CLOSE_KEYS", "KeyTable", "add_close_keys"]
