"""The lightbox: one photo large (or two side by side), fit to the window, with zoom and pan.

`Lightbox(items, start)` shows a sequence of items; each item is one photo (an article's photos, stepped
through with the arrow keys) or two (a compare: the query's photo and a result's, at the same scale, zoomed
and panned together). Photos are decoded on a worker at full size; a photo whose folder is offline shows its
cached thumbnail instead (else, given `catalog`, the one a shared catalog keeps), and says so. The keys are in `LIGHTBOX_KEYS`, which the shortcut sheet lists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QKeySequence, QPainter, QPixmap, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails
from desktop_app.core.errors import UserError
from desktop_app.core.fingerprint_changes import Changes
from desktop_app.core.images import PhotoError
from desktop_app.gui import photo_marks
from desktop_app.gui.thumbs import CatalogThumbnails
from desktop_app.gui.workers import Failure, Runner

log = logging.getLogger(__name__)
ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.02, 16.0
FALLBACK_SIZE = 256  # the cached thumbnail shown when the photo itself cannot be read

# (keys, what they do): the lightbox's shortcuts, in the order the shortcut sheet shows them.
LIGHTBOX_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Right", "PgDown"), "Next photo (or pair)"),
    (("Left", "PgUp"), "Previous photo (or pair)"),
    (("Home",), "First photo"),
    (("End",), "Last photo"),
    (("+", "="), "Zoom in (also the mouse wheel)"),
    (("-",), "Zoom out"),
    (("1",), "Actual size (1:1)"),
    (("0", "F"), "Fit to the window"),
    (("H",), "Show or hide what differs (a compare of two photos of one shot)"),
    (("Esc", "Ctrl+W", "Space"), "Close"),
)


@dataclass
class LightboxPhoto:
    path: Path | None  # the photo file (None: not available on this machine)
    caption: str  # e.g. "wj08-gray · main"


@dataclass
class LoadedPhoto:
    image: QImage | None
    note: str = ""  # why the full photo is not what is shown


def load_photo(path: Path | None, catalog: CatalogThumbnails | None = None) -> LoadedPhoto:
    """Decode a photo at full size (worker thread); its cached thumbnail when the file cannot be read, else
    the catalog's (one read)."""
    if path is None:
        return LoadedPhoto(None, "The photo folder is not known on this machine.")
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # camera orientation, as viewers show it
    image = reader.read()
    if not image.isNull():
        return LoadedPhoto(image)
    why = reader.errorString()
    # A catalog's photo this machine cannot read: the catalog says what it looks like now.
    stored = catalog.stored_path(str(path)) if catalog is not None else None
    try:
        cached = thumbnails.thumbnail(path, FALLBACK_SIZE, offline_copy=stored is None)
        note = "The photo folder is offline: showing the cached thumbnail." if not path.exists() else why
    except PhotoError as exc:
        cached = _catalogs(stored, catalog) if exc.reason in thumbnails.UNREADABLE else None
        # The catalog's own, or (a photo it keeps none of) the one this machine made before.
        whose = "cached" if cached == thumbnails.last_known_path(path, FALLBACK_SIZE) else "catalog's"
        note = f"The photo folder is offline: showing the {whose} thumbnail."
    except OSError:
        cached = None
    if cached is None:
        return LoadedPhoto(None, f"The photo cannot be shown: {why}.")
    thumb = QImage(str(cached))
    return LoadedPhoto(thumb if not thumb.isNull() else None, note)


def _catalogs(stored: str | None, catalog: CatalogThumbnails | None) -> Path | None:
    """The catalog's thumbnail of its photo `stored` (else the one cached here before), cached on this
    machine; None when there is none."""
    if stored is None or catalog is None:
        return None
    try:
        return catalog.fetch([stored], FALLBACK_SIZE).get(stored)
    except UserError:  # the catalog went away meanwhile
        return None


class PhotoCanvas(QGraphicsView):
    """One photo: fit to the view until the curator zooms; wheel zooms at the cursor, dragging pans."""

    view_changed = Signal()  # zoom or scroll changed by the curator (the other canvas of a compare follows)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(self.palette().color(self.palette().ColorRole.Dark))
        self.fitted = True  # follow the window's size until the curator zooms
        # What a resize does while fitted: fit this photo (a compare fits both of its photos at one scale).
        self.refit: Callable[[], None] = self.fit
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self._changed())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._changed())
        self._syncing = False
        self.changes: Changes | None = None  # where this photo differs from the other of a compare
        self.marks_shown = True
        self._marks: list = []

    def set_pixmap(self, pix: QPixmap | None) -> None:
        self.item.setPixmap(pix if pix is not None else QPixmap())
        self.scene().setSceneRect(QRectF(self.item.pixmap().rect()))
        self._draw_marks()
        self.fit()

    def set_changes(self, changes: Changes | None) -> None:
        self.changes = changes
        self._draw_marks()

    def show_marks(self, shown: bool) -> None:
        self.marks_shown = shown
        for item in self._marks:
            item.setVisible(shown)

    def _draw_marks(self) -> None:
        for item in self._marks:
            self.scene().removeItem(item)
        w, h = self.image_size()
        self._marks = [] if self.changes is None or not w else photo_marks.mark(self.item, self.changes, w, h)
        self.show_marks(self.marks_shown)

    def image_size(self) -> tuple[int, int]:
        pix = self.item.pixmap()
        return pix.width(), pix.height()

    @property
    def scale_factor(self) -> float:
        return self.transform().m11()

    def fit_scale(self) -> float:
        w, h = self.image_size()
        if not w or not h:
            return 1.0
        view = self.viewport().size()
        return max(MIN_SCALE, min(view.width() / w, view.height() / h))

    def fit(self) -> None:
        self.fitted = True
        self.set_scale(self.fit_scale(), user=False)

    def set_scale(self, scale: float, user: bool = True) -> None:
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        self.resetTransform()
        self.scale(scale, scale)
        if user:
            self.fitted = False
            self._changed()

    def zoom_by(self, factor: float) -> None:
        self.set_scale(self.scale_factor * factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        dy = event.angleDelta().y()
        if dy:
            self.zoom_by(ZOOM_STEP if dy > 0 else 1 / ZOOM_STEP)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        # Double-click toggles between the whole photo and its pixels.
        if self.fitted:
            self.set_scale(1.0)
        else:
            self.fit()
            self._changed()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.refit()

    def view_state(self) -> tuple[float, float, float]:
        """(scale, horizontal and vertical scroll as fractions) for the other canvas of a compare."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        fx = h.value() / h.maximum() if h.maximum() else 0.5
        fy = v.value() / v.maximum() if v.maximum() else 0.5
        return self.scale_factor, fx, fy

    def follow(self, state: tuple[float, float, float], fitted: bool) -> None:
        self._syncing = True
        try:
            scale, fx, fy = state
            self.set_scale(scale, user=False)
            self.fitted = fitted
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(round(fx * h.maximum()))
            v.setValue(round(fy * v.maximum()))
        finally:
            self._syncing = False

    def _changed(self) -> None:
        if not self._syncing:
            self.view_changed.emit()


class Lightbox(QWidget):
    """A top-level window stepping through items of one photo, or of two photos compared side by side."""

    shown = Signal(int)  # index of the item now on show (its photos decoded, or known to be missing)

    def __init__(
        self,
        title: str,
        items: list[list[LightboxPhoto]],
        start: int = 0,
        parent: QWidget | None = None,
        catalog: CatalogThumbnails | None = None,
        actions: Sequence[tuple[str, Callable[[], None]]] = (),
        hint: str = "",
        changes: Callable[[int], tuple[Changes, Changes] | None] | None = None,
    ) -> None:
        """`catalog`: where the thumbnail of a photo this machine cannot read comes from when none is cached.
        `actions`: (key, what to do) the window that opened the lightbox keeps working in it, such as the
        Duplicates window's verdicts; the caller lists them with its own keys, and `hint` says them in the
        status line. `changes(i)`: where the two photos of item i differ (called on a worker thread; None
        when that cannot be told), drawn over them until H hides it."""
        super().__init__(parent, Qt.WindowType.Window)
        self.catalog = catalog
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setWindowTitle(title)
        self.items = [list(i) for i in items if i]
        self.index = -1
        self._loaded: list[LoadedPhoto | None] = []
        self.hint = hint
        self.changes_of = changes
        self._marks_note = ""  # why what differs is not shown
        self.runner = Runner(2, "lightbox", self)
        self._gen = 0
        width = max(len(i) for i in self.items) if self.items else 1
        self.canvases = [PhotoCanvas() for _ in range(width)]
        self.captions = [QLabel() for _ in range(width)]
        row = QHBoxLayout()
        row.setSpacing(4)
        for canvas, caption in zip(self.canvases, self.captions):
            column = QVBoxLayout()
            column.addWidget(canvas, 1)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            # A long article name wraps instead of widening its pane: the two panes stay equal.
            caption.setWordWrap(True)
            caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            column.addWidget(caption)
            row.addLayout(column, 1)
        if width == 2:
            self._link(*self.canvases)
            for canvas in self.canvases:
                canvas.refit = self.fit  # a resize keeps both photos at one scale, not each its own
        self.status = QLabel()
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row, 1)
        lay.addWidget(self.status)
        self._keys()
        for key, slot in actions:
            QShortcut(QKeySequence(key), self, slot)
        self._size_to_screen()
        self.show_item(max(0, min(start, len(self.items) - 1)))

    # ------------------------------------------------------------ building

    def _keys(self) -> None:
        slots = [
            self.next,
            self.previous,
            lambda: self.show_item(0),
            lambda: self.show_item(len(self.items) - 1),
            lambda: self.zoom(ZOOM_STEP),
            lambda: self.zoom(1 / ZOOM_STEP),
            self.actual_size,
            self.fit,
            self.toggle_marks,
            self.close,
        ]
        for (keys, _what), slot in zip(LIGHTBOX_KEYS, slots):
            for key in keys:
                QShortcut(QKeySequence(key), self, slot)

    def _link(self, a: PhotoCanvas, b: PhotoCanvas) -> None:
        a.view_changed.connect(lambda: b.follow(a.view_state(), a.fitted))
        b.view_changed.connect(lambda: a.follow(b.view_state(), b.fitted))

    def _size_to_screen(self) -> None:
        screen = self.screen() or QApplication.primaryScreen()
        area = screen.availableGeometry()
        self.resize(int(area.width() * 0.86), int(area.height() * 0.86))

    # ------------------------------------------------------------ moving and zooming

    def show_item(self, index: int) -> None:
        if not self.items or not 0 <= index < len(self.items) or index == self.index:
            return
        self.index = index
        self._gen += 1
        gen = self._gen
        item = self.items[index]
        for k, canvas in enumerate(self.canvases):
            photo = item[k] if k < len(item) else None
            canvas.set_changes(None)
            canvas.set_pixmap(None)
            self.captions[k].setText(photo.caption if photo else "")
        self.status.setText(self._status_text("loading…"))
        self._loaded = [None] * len(item)
        for k, photo in enumerate(item):
            self.runner.call(
                load_photo,
                photo.path,
                self.catalog,
                on_done=lambda r, k=k: self._arrived(gen, k, r),
                on_failed=lambda f, k=k: self._failed(gen, k, f),
            )
        if self.changes_of is not None and len(item) == 2:
            self.runner.call(
                self.changes_of,
                index,
                on_done=lambda r: self._changes_arrived(gen, r),
                on_failed=lambda f: self._changes_failed(gen, f),
            )

    def is_shown(self) -> bool:
        """Whether the photos of the item on show have arrived (or are known to be missing)."""
        return self.index >= 0 and bool(self._loaded) and all(x is not None for x in self._loaded)

    def next(self) -> None:
        """The next photo (or pair); after the last, the first again, as photo viewers go round."""
        if self.items:
            self.show_item((self.index + 1) % len(self.items))

    def previous(self) -> None:
        if self.items:
            self.show_item((self.index - 1) % len(self.items))

    def zoom(self, factor: float) -> None:
        self.canvases[0].zoom_by(factor)

    def actual_size(self) -> None:
        self.canvases[0].set_scale(1.0)

    def fit(self) -> None:
        # Both photos of a compare at one scale: the one that fits the larger photo.
        scale = min(c.fit_scale() for c in self.canvases if c.image_size()[0]) if self._any_image() else 1.0
        for c in self.canvases:
            c.set_scale(scale, user=False)
            c.fitted = True

    def _any_image(self) -> bool:
        return any(c.image_size()[0] for c in self.canvases)

    def toggle_marks(self) -> None:
        """Show or hide what differs between the two photos on show."""
        shown = not self.canvases[0].marks_shown
        for c in self.canvases:
            c.show_marks(shown)
        if self.is_shown():
            self.status.setText(self._status_text())

    def has_marks(self) -> bool:
        return any(c.changes is not None for c in self.canvases)

    # ------------------------------------------------------------ loading

    def _arrived(self, gen: int, k: int, loaded: LoadedPhoto) -> None:
        if gen != self._gen:
            return  # the curator moved on
        self._loaded[k] = loaded
        self.canvases[k].set_pixmap(QPixmap.fromImage(loaded.image) if loaded.image is not None else None)
        photo = self.items[self.index][k]
        size = f" · {loaded.image.width()} × {loaded.image.height()}" if loaded.image is not None else ""
        self.captions[k].setText(photo.caption + size + (f"\n{loaded.note}" if loaded.note else ""))
        if all(x is not None for x in self._loaded):
            self.fit()
            self.status.setText(self._status_text())
            self.shown.emit(self.index)

    def _failed(self, gen: int, k: int, failure: Failure) -> None:
        self._arrived(gen, k, LoadedPhoto(None, f"The photo cannot be shown: {failure.error}"))

    def _changes_arrived(self, gen: int, changes: tuple[Changes, Changes] | None, note: str = "") -> None:
        if gen != self._gen:
            return
        for canvas, part in zip(self.canvases, changes or (None, None)):
            canvas.set_changes(part)
        self._marks_note = note if changes is None and note else ""
        if self.is_shown():
            self.status.setText(self._status_text())

    def _changes_failed(self, gen: int, failure: Failure) -> None:
        log.warning("What differs between two photos is not known: %s", failure.traceback)
        self._changes_arrived(gen, None, f"what differs is not known: {failure.error}")

    def _status_text(self, extra: str = "") -> str:
        n = len(self.items)
        where = f"{self.index + 1} of {n}" if n > 1 else ""
        moves = "← → move · " if n > 1 else ""
        keys = f"{moves}wheel or +/− zoom · 1 actual size · 0 fit · Esc close"
        return " · ".join(x for x in (where, extra, self._marks_text(), keys, self.hint) if x)

    def _marks_text(self) -> str:
        if not self.has_marks():
            return self._marks_note
        if not self.canvases[0].marks_shown:
            return "H shows what differs"
        shown = [c.changes for c in self.canvases if c.changes is not None]
        legend = photo_marks.legend(any(c.cells.any() for c in shown), any(c.frame for c in shown))
        return f"{legend} · H hides them" if legend else "no difference the duplicate finder can see"

    def closeEvent(self, event) -> None:
        self._gen += 1
        self.runner.shutdown()
        super().closeEvent(event)


__all__ = ["LIGHTBOX_KEYS", "Lightbox", "LightboxPhoto", "LoadedPhoto", "PhotoCanvas", "load_photo"]
