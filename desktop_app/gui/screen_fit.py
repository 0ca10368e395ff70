"""Window sizes that fit the screen: a preferred size, never larger than the screen's free area.

A 1366x768 laptop leaves about 1366x730 for windows (taskbar, title bar); every window of the app asks for
its preferred size through `fit_to_screen`, so none opens taller or wider than the screen and none needs
resizing before its buttons can be reached.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

FRAME_ALLOWANCE = QSize(16, 40)  # the window manager's frame and title bar around the window


def available_area(widget: QWidget | None = None) -> QRect:
    screen = widget.screen() if widget is not None and widget.screen() is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 728)


def fitted_size(preferred: QSize, widget: QWidget | None = None, share: float = 1.0) -> QSize:
    """The preferred size, shrunk to `share` of the screen's free area (minus the window frame)."""
    area = available_area(widget)
    width = min(preferred.width(), int(area.width() * share) - FRAME_ALLOWANCE.width())
    height = min(preferred.height(), int(area.height() * share) - FRAME_ALLOWANCE.height())
    return QSize(max(width, 320), max(height, 240))


def fit_to_screen(widget: QWidget, width: int, height: int, share: float = 1.0) -> QSize:
    size = fitted_size(QSize(width, height), widget, share)
    widget.resize(size)
    return size


__all__ = ["available_area", "fit_to_screen", "fitted_size"]
