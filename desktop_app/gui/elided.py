"""A one-line label that elides what does not fit and shows the whole text in its tooltip.

Status lines that wrap push everything below them down (the similar panel's header took two lines as soon
as a result was hidden; the map's progress wrapped and was cut). This label never asks for more than one
line, never for more width than its minimum, and its tooltip says the rest. A message that stands in for
what would be below (advice instead of results) is shown whole with `set_message`.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """One line of plain text, elided at the end to the label's width; `full_text()` is what was set."""

    def __init__(self, text: str = "", parent: QWidget | None = None, detail: str = "") -> None:
        super().__init__(parent)
        self.setWordWrap(False)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""
        self._detail = ""
        self._wrap = False
        self.set_text(text, detail)

    def set_text(self, text: str, detail: str = "") -> None:
        """Show `text` on one line; the tooltip holds it whole, and `detail` (what the line leaves out)."""
        self._full = " ".join(text.split())  # one line, whatever was passed
        self._detail = detail
        self._wrap = False
        self.setWordWrap(False)
        self._elide()

    def set_message(self, text: str) -> None:
        """Show `text` whole, wrapped: advice that stands in for the results (nothing below to push down)."""
        self._full, self._detail, self._wrap = text, "", True
        self.setWordWrap(True)
        super().setText(text)
        self.setToolTip("")

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name, so every caller gets one line
        self.set_text(text)

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        if self._wrap:
            return
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width()))
        super().setText(shown)
        parts = [self._full] if shown != self._full else []
        if self._detail:
            parts.append(self._detail)
        self.setToolTip("\n\n".join(parts))


__all__ = ["ElidedLabel"]
