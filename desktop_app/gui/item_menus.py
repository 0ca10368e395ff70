"""Context menus of item views, opened by the keyboard on the current item as the mouse opens them on its own.

A view with a custom context menu gets the mouse's position in its viewport's coordinates, and each view
here asks which item is there. The keyboard's Menu key gives a point Qt derives from the view itself, which
a header shifts: in the duplicates list and the detail page's photo table the menu was for the row below the
current one. `item_menus` turns the keyboard's request into the current item's centre in viewport
coordinates, so one handler serves both (and nothing opens when no item is current).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QAbstractItemView


class _KeyboardMenus(QObject):
    def __init__(self, view: QAbstractItemView, handler: Callable[[QPoint], None]) -> None:
        super().__init__(view)
        self.view = view
        self.handler = handler

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.ContextMenu:
            return False
        if not isinstance(event, QContextMenuEvent) or event.reason() != QContextMenuEvent.Reason.Keyboard:
            return False
        index = self.view.currentIndex()
        if index.isValid():
            self.handler(self.view.visualRect(index).center())
        return True


def item_menus(view: QAbstractItemView, handler: Callable[[QPoint], None]) -> None:
    """Call handler(point in the viewport) for the view's context menus: at the mouse, or, from the
    keyboard, at the current item."""
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    view.customContextMenuRequested.connect(handler)
    keyboard = _KeyboardMenus(view, handler)
    view.installEventFilter(keyboard)
    view.viewport().installEventFilter(keyboard)
