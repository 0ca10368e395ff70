"""One side of the Duplicates window's comparison: the photo scaled to the room there is, with where it
differs from the other one marked (`photo_marks`; H hides the marks), its path and article, and its pixel
and file size (which copy of a near duplicate to keep is often the larger one)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_app.core.fingerprint_changes import Changes
from desktop_app.gui import photo_marks, theme
from desktop_app.gui.duplicates_work import Preview

PREVIEW = 420  # px: each photo of the pair, side by side, at most (smaller when the screen is)
MIN_PREVIEW = 220  # px: the least a photo shrinks to on a small screen


class PreviewImage(QLabel):
    """A photo scaled to fit the label, whatever size the window gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None
        self.changes: Changes | None = None  # where it differs from the other photo of the pair
        self.marks_shown = True
        self.setMinimumSize(MIN_PREVIEW, MIN_PREVIEW)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def sizeHint(self) -> QSize:
        return QSize(PREVIEW, PREVIEW)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self._scale()

    def set_changes(self, changes: Changes | None) -> None:
        self.changes = changes
        self._scale()

    def show_marks(self, shown: bool) -> None:
        self.marks_shown = shown
        self._scale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._scale()

    def _scale(self) -> None:
        if self.image is None:
            return
        box = self.contentsRect().size()
        pix = QPixmap.fromImage(self.image).scaled(
            box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        if self.changes is not None and self.marks_shown:
            pix = photo_marks.paint(pix, self.changes)
        self.setPixmap(pix)


class PhotoPane(QWidget):
    """One side of the comparison: the photo, its path and article."""

    def __init__(self) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.image = PreviewImage()
        pal = self.palette()
        fill, edge = (
            theme.placeholder_fill(pal),
            theme.blend(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text), 0.2),
        )
        self.image.setStyleSheet(f"background: {fill.name()}; border: 1px solid {edge.name()};")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.size_note = QLabel()  # pixel and file size: which copy to keep
        self.size_note.setObjectName("sizeNote")
        lay.addWidget(self.image, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.size_note)

    def show_item(self, title: str, detail: str) -> None:
        self.image.changes = None
        self.image.set_image(None)
        self.image.setPixmap(QPixmap())
        self.image.setText("loading…")
        self.size_note.clear()
        self.caption.setText(f"<b>{_html(title)}</b><br>{_html(detail)}")

    def show_preview(self, preview: Preview) -> None:
        self.image.set_image(preview.image)
        self.size_note.setText(f"{preview.width} × {preview.height} px · {file_size(preview.bytes)}")


def file_size(n: int) -> str:
    """Bytes as a curator reads them: 812 KB, 2.4 MB."""
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["MIN_PREVIEW", "PREVIEW", "PhotoPane", "PreviewImage", "file_size"]
