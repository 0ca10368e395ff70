"""Thumbnails for the views: made lazily on worker threads, cached on disk (core.thumbnails) and in memory.

Views ask `get(path)` while painting. A miss returns None at once (the delegate paints a placeholder) and
queues the photo; the newest requests are served first, because they are the cells on screen now, and the
queue is capped so that photos scrolled past long ago are forgotten rather than decoded. When a thumbnail
is ready `ready(path)` fires on the UI thread and the models repaint just the cells that show it.

The main window, the review queue and the match inspector all use this one loader. `photo_root` lets a
window ask by catalog-relative path; `scaled(path, box)` serves views that show one photo at several sizes;
a caller's `Runner` can be shared so that closing a window waits for its thumbnails and its other work
together. Results that arrive after `shutdown()` or `set_size()` are dropped: they are for a view (or a
size) that no longer exists.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from desktop_app.core import thumbnails
from desktop_app.core.images import PhotoError
from desktop_app.core.paths import photo_file
from desktop_app.gui.workers import Runner

log = logging.getLogger(__name__)

MEMORY_ITEMS = 2500  # about 2500 x 160 x 160 x 4 bytes = 250 MB at most; usually far less
MAX_QUEUE = 400  # a few screens' worth; older requests were scrolled past


class _Bridge(QObject):
    loaded = Signal(str, int, object)  # path, size it was made at, QImage or None when it cannot be shown


class _Drain(QRunnable):
    """Runs the loader's queue-serving loop on a worker thread."""

    def __init__(self, serve: Callable[[], None]) -> None:
        super().__init__()
        self.serve = serve

    def run(self) -> None:
        self.serve()


class ThumbnailLoader(QObject):
    ready = Signal(str)  # path whose thumbnail is now in memory (or known to be broken)

    def __init__(
        self,
        size: int = thumbnails.DEFAULT_SIZE,
        threads: int = 2,
        parent: QObject | None = None,
        *,
        photo_root: Path | str | None = None,
        runner: Runner | None = None,
    ):
        """`threads` caps the decoding threads even on a shared `runner`, so the runner keeps room for its
        other work; relative paths are read under `photo_root` (absolute ones as they are)."""
        super().__init__(parent)
        self.size = size
        self.photo_root = Path(photo_root) if photo_root else None
        self.runner = runner if runner is not None else Runner(threads, "thumbnails", self)
        self._threads = max(1, threads)
        self._bridge = _Bridge(self)
        self._bridge.loaded.connect(self._on_loaded)
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, int]] = deque()
        self._queued: set[str] = set()
        self._drains = 0
        self._stopping = False
        self._paused = False
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        # After a zoom, the thumbnails of the old size stand in (scaled by the views) until the new ones come.
        self._previous: dict[str, QPixmap] = {}
        self._scaled: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._broken: set[str] = set()
        self.made = 0  # thumbnails delivered, for tests and the benchmark

    # ------------------------------------------------------------------ API for models and delegates

    def get(self, path: str | Path | None) -> QPixmap | None:
        """The thumbnail if it is in memory; otherwise None, and it gets queued."""
        if not path:
            return None
        key = str(path)
        pix = self._memory.get(key)
        if pix is not None:
            self._memory.move_to_end(key)
            return pix
        if key in self._broken:
            return broken_pixmap(self.size)
        self._request(key)
        return self._previous.get(key)

    def scaled(self, path: str | Path | None, box: int) -> QPixmap | None:
        """`get(path)` fitted into box x box, kept per box so repaints do not rescale; None while it loads."""
        if not path:
            return None
        key = str(path)
        if key in self._broken:
            return broken_pixmap(box)
        pix = self._scaled.get((key, box))
        if pix is not None:
            self._scaled.move_to_end((key, box))
            return pix
        full = self.get(key)
        if full is None:
            return None
        pix = full.scaled(
            box, box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        if key not in self._memory:
            return pix  # a stand-in of the old size: not worth keeping
        self._scaled[(key, box)] = pix
        while len(self._scaled) > MEMORY_ITEMS:
            self._scaled.popitem(last=False)
        return pix

    def is_broken(self, path: str | Path) -> bool:
        return str(path) in self._broken

    def set_size(self, size: int) -> None:
        if size == self.size:
            return
        self.size = size
        with self._lock:
            self._queue.clear()
            self._queued.clear()
        keep = self._previous if len(self._previous) < MEMORY_ITEMS else {}
        self._previous = {**keep, **self._memory}
        self._memory = OrderedDict()
        self._scaled.clear()
        self._broken.clear()

    def pause(self) -> None:
        """Hold back new decoding (running ones finish) while something more urgent uses the CPU."""
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            if not self._paused:
                return
            self._paused = False
            missing = min(self._threads - self._drains, len(self._queue))
            self._drains += max(0, missing)
        for _ in range(max(0, missing)):
            self._start_drain()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + self._drains

    @property
    def pool(self) -> QThreadPool:
        """The threads thumbnails are made on (shared with the runner's other work when one was given)."""
        return self.runner.pool

    def shutdown(self) -> None:
        """Forget the queue, drop results still on their way and wait until no thumbnail thread runs.

        A shared runner is shut down with it: its owner calls this when the window closes.
        """
        with self._lock:
            self._stopping = True
            self._queue.clear()
            self._queued.clear()
        self.runner.shutdown()

    # ------------------------------------------------------------------ internals

    def _request(self, key: str) -> None:
        with self._lock:
            if self._stopping or key in self._queued:
                return
            self._queue.append((key, self.size))
            self._queued.add(key)
            while len(self._queue) > MAX_QUEUE:
                old, _ = self._queue.popleft()
                self._queued.discard(old)  # asked again if it is painted again
            start = self._drains < self._threads and not self._paused
            if start:
                self._drains += 1
        if start:
            self._start_drain()

    def _file(self, key: str) -> Path:
        # Called on worker threads; photo_root never changes after construction, so no lock is needed.
        return photo_file(self.photo_root, key) if self.photo_root is not None else Path(key)

    def _start_drain(self) -> None:
        drain = _Drain(self._serve_queue)
        drain.setAutoDelete(True)
        self.runner.pool.start(drain)

    def _serve_queue(self) -> None:
        """Serve queued requests until the queue is empty (a worker thread; one loop per thread)."""
        while True:
            with self._lock:
                if self._stopping or self._paused or not self._queue:
                    self._drains -= 1
                    return
                path, size = self._queue.pop()  # newest first
            image: QImage | None = None
            try:
                made = thumbnails.thumbnail(self._file(path), size)
                image = QImage(str(made))
                if image.isNull():
                    image = None
            except (PhotoError, OSError):
                image = None  # the photo cannot be shown: the views paint it as broken
            except Exception:  # noqa: BLE001 - a bug here must not stop the thumbnails of the other photos
                log.exception("Thumbnail of %s failed", path)
                image = None
            try:
                self._bridge.loaded.emit(path, size, image)
            except RuntimeError:  # the loader's Qt side is gone (window closed): this loop ends here
                with self._lock:
                    self._drains -= 1  # counted off like any loop that ends, or no new loop would start
                return

    def _on_loaded(self, key: str, size: int, image: QImage | None) -> None:
        with self._lock:
            if self._stopping:
                return  # the window is closing: nobody will show it
            if size != self.size:
                return  # made before set_size(); the new size was (or will be) asked for on its own
            self._queued.discard(key)
        self._previous.pop(key, None)
        if image is None:
            self._broken.add(key)
        else:
            self._memory[key] = QPixmap.fromImage(image)
            while len(self._memory) > MEMORY_ITEMS:
                self._memory.popitem(last=False)
        self.made += 1
        self.ready.emit(key)


_broken_cache: dict[int, QPixmap] = {}


def broken_pixmap(size: int) -> QPixmap:
    """A neutral "cannot show this photo" tile, so a bad file is visible as such rather than blank."""
    pix = _broken_cache.get(size)
    if pix is None:
        pix = QPixmap(size, size)
        pix.fill(QColor("#f3e3e3"))
        p = QPainter(pix)
        p.setPen(QColor("#b04040"))
        font = p.font()
        font.setPointSizeF(max(7.0, size / 12))
        p.setFont(font)
        p.drawText(
            pix.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), "cannot\nshow photo"
        )
        p.end()
        _broken_cache[size] = pix
    return pix
