"""The duplicates view's background work: the search in a child process, and photo previews on threads.

`DuplicateSearch` runs `core.duplicates_child` in a spawned process (a `ChildJob`, like the index run); `load_preview` decodes one photo at the size the view shows it, with its full pixel size and its file size
(which copy of a near duplicate to keep is often the larger one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from desktop_app.core.duplicates_child import child_main
from desktop_app.core.images import fit_within, load_photo, read_bytes
from desktop_app.gui.child_job import ChildJob


class DuplicateSearch(ChildJob):
    """One duplicate search in a child process: progress is (done, total, note); done carries the
    engine's DuplicateReport."""

    def __init__(self, location: str, level: str, min_score: float | None, parent: QObject | None = None):
        super().__init__(
            child_main,
            (location, level, min_score),
            "lookalike-duplicates",
            "The duplicate search stopped unexpectedly",
            parent,
        )


@dataclass(frozen=True)
class Preview:
    """A photo as the duplicates view shows it."""

    image: QImage  # fitted into the preview box
    width: int  # the photo's own pixel size (after EXIF orientation)
    height: int
    bytes: int  # the file's size


def load_preview(path: Path, box: int) -> Preview:
    """The photo fitted into box x box (JPEGs decoded at reduced size); raises images.PhotoError."""
    data = read_bytes(path)
    loaded = load_photo(data, min_size=(box, box), shrink=fit_within(box))
    im = loaded.image
    pixels = im.tobytes()
    image = QImage(pixels, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()
    return Preview(image, loaded.width, loaded.height, len(data))


__all__ = ["DuplicateSearch", "Preview", "load_preview"]
