"""The duplicates view's background work: the search in a child process, and photo previews on threads.

`DuplicateSearch` runs `core.duplicates_child` in a spawned process (a `ChildJob`, like the index run); `load_preview` decodes one photo at the size the view shows it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from desktop_app.core.duplicates_child import child_main
from desktop_app.core.images import load_photo, read_bytes
from desktop_app.gui.child_job import ChildJob


class DuplicateSearch(ChildJob):
    """One duplicate search in a child process: progress is (done, total, note); done carries the
    engine's DuplicateReport."""

    def __init__(self, location: str, level: str, min_score: float | None, parent: QObject | None = None):
        super().__init__(child_main, (location, level, min_score), "lookalike-duplicates",
                         "The duplicate search stopped unexpectedly", parent)  # fmt: skip


def load_preview(path: Path, box: int) -> QImage:
    """The photo fitted into box x box (JPEGs decoded at reduced size); raises images.PhotoError."""
    loaded = load_photo(read_bytes(path), min_size=(box, box))
    im = loaded.image
    im.thumbnail((box, box))
    data = im.tobytes()
    return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()


__all__ = ["DuplicateSearch", "load_preview"]
