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

A photo this machine cannot read (the photo folder offline or not mounted here, the photo gone) and has no
thumbnail of cached may have one in its catalog (`core.catalog_thumbnails`): `use_catalog` names the
catalog, and each worker collects such photos and asks the engine for up to CATALOG_BATCH of them in one
read (`Engine.catalog_thumbnails`, which caches them on this machine), never one query per thumbnail.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from desktop_app.core import thumbnails
from desktop_app.core.errors import UserError
from desktop_app.core.images import PhotoError
from desktop_app.core.paths import photo_file
from desktop_app.gui.workers import Runner

if TYPE_CHECKING:
    from desktop_app.core.engine import Engine

log = logging.getLogger(__name__)

MEMORY_ITEMS = 2500  # about 2500 x 160 x 160 x 4 bytes = 250 MB at most; usually far less
MAX_QUEUE = 400  # a few screens' worth; older requests were scrolled past
CATALOG_BATCH = 48  # thumbnails asked of the catalog in one read: a screenful of the grid


class CatalogThumbnails:
    """Where a loader gets the thumbnails of photos this machine cannot read: the catalog an engine has open,
    whose photos are under `root` here."""

    def __init__(self, engine: Engine, root: Path, relative_keys: bool = False) -> None:
        """`relative_keys`: the loader is asked by stored path (a loader with a photo_root), else by the
        photo's file under `root`."""
        self.engine = engine
        self.root = Path(root)
        self._prefix = None if relative_keys else os.path.join(str(root), "")

    def same_as(self, other: CatalogThumbnails | None) -> bool:
        return other is not None and other.engine is self.engine and other.root == self.root

    def stored_path(self, key: str) -> str | None:
        """The catalog's path of the photo a loader key names; None when it is not one of its photos."""
        if self._prefix is None:
            return None if os.path.isabs(key) else key
        if not key.startswith(self._prefix):
            return None
        return key[len(self._prefix) :].replace(os.sep, "/")

    def fetch(self, paths: list[str], size: int) -> dict[str, Path]:
        """Thumbnail files of these photos (stored paths) from the catalog, in one read (worker thread)."""
        return self.engine.catalog_thumbnails(paths, size, self.root)


def catalog_source(
    engine: Engine | None, root: Path | None, relative_keys: bool = False
) -> CatalogThumbnails | None:
    """The catalog thumbnails for a loader, or None when no catalog or photo folder is known."""
    if engine is None or root is None:
        return None
    return CatalogThumbnails(engine, root, relative_keys)


@dataclass
class _Asking:
    """Requests one worker holds for the catalog, answered together (one catalog, one size)."""

    catalog: CatalogThumbnails
    size: int
    keys: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the stored path of each key


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
        self._catalog: CatalogThumbnails | None = None
        self.made = 0  # thumbnails delivered, for tests and the benchmark
        self.catalog_reads = 0  # reads of the catalog's thumbnails, for tests

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

    def use_catalog(self, catalog: CatalogThumbnails | None) -> None:
        """Ask this catalog for the thumbnails of photos this machine cannot read (None: no catalog). A new
        catalog gives the photos that could not be shown another try."""
        with self._lock:
            same = self._catalog is None if catalog is None else catalog.same_as(self._catalog)
            if same:
                return  # the one in use stays: requests on their way to it are still answered
            self._catalog = catalog
        if catalog is not None:
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
        """Serve queued requests until the queue is empty (a worker thread; one loop per thread). Photos that
        cannot be read here wait in `asking` and are answered by the catalog together: when the queue is
        empty, when CATALOG_BATCH wait, or when the catalog or the size changes."""
        asking: _Asking | None = None
        while True:
            with self._lock:
                job = None if self._stopping or self._paused or not self._queue else self._queue.pop()
                if job is None and (self._stopping or asking is None):
                    self._drains -= 1
                    return
                catalog = self._catalog
            if job is None:  # nothing else to do first: the catalog answers what waits
                if not self._answer(asking):
                    return
                asking = None
                continue
            path, size = job  # newest first
            # A catalog's photo this machine cannot read: the catalog says what it looks like now.
            stored = catalog.stored_path(path) if catalog is not None else None
            image, unreadable = self._made_here(path, size, offline_copy=stored is None)
            stored = stored if unreadable else None
            if stored is None:
                if not self._send(path, size, image):
                    return
                continue
            asking, alive = self._ask_catalog(asking, _Asking(catalog, size, [path], [stored]))
            if not alive:
                return

    def _ask_catalog(self, asking: _Asking | None, new: _Asking) -> tuple[_Asking | None, bool]:
        """Add a request for the catalog to those waiting, answering them first when they are for another
        catalog or size, and all of them once CATALOG_BATCH wait. Returns what still waits, and False when
        this loop must end (see `_send`)."""
        if asking is not None and (asking.catalog is not new.catalog or asking.size != new.size):
            if not self._answer(asking):
                return None, False
            asking = None
        if asking is None:
            asking = new
        else:
            asking.keys += new.keys
            asking.paths += new.paths
        if len(asking.keys) < CATALOG_BATCH:
            return asking, True
        return None, self._answer(asking)

    def _made_here(self, path: str, size: int, offline_copy: bool) -> tuple[QImage | None, bool]:
        """The thumbnail made from the photo (or cached here; for a photo that cannot be read, the one made
        before when `offline_copy`), and whether the photo could not be read."""
        try:
            return _image(thumbnails.thumbnail(self._file(path), size, offline_copy=offline_copy)), False
        except PhotoError as exc:  # the views paint it as broken, unless the catalog has it
            return None, exc.reason in thumbnails.UNREADABLE
        except OSError:
            return None, False
        except Exception:  # noqa: BLE001 - a bug here must not stop the thumbnails of the other photos
            log.exception("Thumbnail of %s failed", path)
            return None, False

    def _answer(self, asking: _Asking) -> bool:
        """Send the catalog's thumbnails of the photos in `asking` (None for those it has none of) after one
        read; False when this loop must end (see `_send`)."""
        files: dict[str, Path] = {}
        # A catalog no longer in use may be closed already: its photos are not on show any more either.
        if not self._stopping and asking.catalog is self._catalog:
            with self._lock:
                self.catalog_reads += 1
            try:
                files = asking.catalog.fetch(asking.paths, asking.size)
            except UserError as exc:  # the catalog went away (closed, the server down): shown as broken
                log.info("The catalog's thumbnails could not be read: %s", exc)
            except Exception:  # noqa: BLE001 - as in _made_here: the other photos still get theirs
                log.exception("Reading the catalog's thumbnails failed")
        for key, stored in zip(asking.keys, asking.paths):
            made = files.get(stored)
            if not self._send(key, asking.size, _image(made) if made is not None else None):
                return False
        return True

    def _send(self, path: str, size: int, image: QImage | None) -> bool:
        """Hand a result to the UI thread; False when the loader's Qt side is gone (the window closed), and
        this loop is then counted off like any loop that ends, or no new loop would start."""
        try:
            self._bridge.loaded.emit(path, size, image)
            return True
        except RuntimeError:
            with self._lock:
                self._drains -= 1
            return False

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


def _image(path: Path) -> QImage | None:
    image = QImage(str(path))
    return None if image.isNull() else image


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
