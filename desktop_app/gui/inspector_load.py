"""Work the match inspector does off the UI thread: reading the two articles, and photo thumbnails.

`load_inspection` is plain Python (catalog + core) and runs in a worker: a large catalog's vectors take a
moment to read, and the window should open at once with a "comparing..." note instead of freezing the main
window. `ThumbLoader` makes thumbnails with `desktop_app.core.thumbnails` (disk-cached) on a private thread
pool, so closing an inspector waits for exactly its own work and nothing outlives the window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop_app.core import thumbnails
from desktop_app.core.catalog import Catalog
from desktop_app.core.errors import UserError
from desktop_app.core.images import PhotoError
from desktop_app.core.inspect import Inspection, inspect_articles

HEADER_SIZE = 128  # thumbnails in the row and column headers (cells zoom up to about this size)
LARGE_SIZE = 256  # the two photos of the hovered cell


@dataclass
class Loaded:
    """What the inspector window needs: the inspection, or the message to show in its place."""

    article_a: str
    article_b: str
    inspection: Inspection | None = None
    message: str | None = None
    photo_root: Path | None = None
    failed: dict[str, str] = field(default_factory=dict)  # photo path -> why it has no vector
    method: str | None = None  # the catalog's own search settings, used when the caller gives none
    threshold: float | None = None
    max_matches: int | None = None


def _off_if_zero(value: Any, kind: type) -> Any:
    # Catalogs and preferences store "no threshold" / "all pairs" as None or 0; the core wants None.
    if value is None:
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def load_inspection(catalog: Catalog, article_a: str, article_b: str, method: str | None = None,
                    threshold: float | None = None, max_matches: int | None = None) -> Loaded:
    """Compare two catalog articles with every method; a clear message instead when that is impossible."""
    from desktop_app.core.indexer import catalog_model, catalog_model_id

    out = Loaded(article_a, article_b)
    out.method = method or catalog.get_setting("method") or None
    out.threshold = _off_if_zero(threshold if threshold is not None else catalog.get_setting("threshold"), float)
    out.max_matches = _off_if_zero(max_matches if max_matches is not None else catalog.get_setting("max_matches"),
                                   int)
    out.photo_root = catalog.photo_root()
    missing: dict[str, list[str]] = {}
    unknown: list[str] = []
    for art in dict.fromkeys((article_a, article_b)):
        rows = catalog.photos_of(art)
        if not rows:
            unknown.append(art)
        bad = [r for r in rows if r.status != "ok"]
        missing[art] = [r.path for r in bad]
        out.failed.update({r.path: r.error or r.status for r in bad})
    if unknown:
        names = " and ".join(f"“{a}”" for a in unknown)
        out.message = (f"{names} {'is' if len(unknown) == 1 else 'are'} not in this catalog any more. "
                       "The last index update may have renamed or removed it; update the search results "
                       "and try again.")
        return out
    try:
        model = catalog_model(catalog)
        av = catalog.article_vectors(catalog_model_id(catalog, model))
        out.inspection = inspect_articles(av, article_a, article_b, out.threshold, out.max_matches, missing)
    except UserError as exc:
        # inspect_articles says which article has no embedded photo; the window lists the failures below.
        out.message = str(exc)
    except ValueError as exc:  # a bad s or m from the caller
        out.message = str(exc)
    return out


class _Job(QRunnable):
    """Runs one callable on a pool thread and hands the result (or the exception) to `deliver`."""

    def __init__(self, fn: Callable[[], Any], deliver: Callable[[Any, BaseException | None], None]) -> None:
        super().__init__()
        self.fn = fn
        self.deliver = deliver

    def run(self) -> None:
        try:
            value, error = self.fn(), None
        except BaseException as exc:  # noqa: BLE001 - any failure must reach the window, not kill the thread
            value, error = None, exc
        try:
            self.deliver(value, error)
        except RuntimeError:
            pass  # the receiving object is already gone (window closed while we worked)


class Worker(QObject):
    """A private pool for one inspector window; results come back on the UI thread as `finished`."""

    finished = Signal(object, object)  # value, exception or None

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))

    def run(self, fn: Callable[[], Any]) -> None:
        # Emitting from the pool thread queues the call to this object's (UI) thread.
        self.pool.start(_Job(fn, self.finished.emit))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()


class ThumbLoader(QObject):
    """Thumbnails of catalog photos by (relative path, size); `loaded` fires on the UI thread."""

    loaded = Signal(str, int, object)  # relative path, size, QImage or None when the photo cannot be shown
    idle = Signal()  # nothing queued or running any more
    _arrived = Signal(str, int, object)

    def __init__(self, photo_root: Path | None, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.photo_root = Path(photo_root) if photo_root else None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self._lock = threading.Lock()
        self._asked: set[tuple[str, int]] = set()
        self._pending = 0
        self._stopping = False
        self._arrived.connect(self._on_arrived)

    @property
    def pending(self) -> int:
        return self._pending

    def request(self, rel: str, size: int) -> bool:
        """Queue one thumbnail unless it was asked for before; False when there is nothing to load."""
        if self.photo_root is None or self._stopping or (rel, size) in self._asked:
            return False
        self._asked.add((rel, size))
        self._pending += 1
        path = self.photo_root / rel
        self.pool.start(_Job(lambda: _make_thumbnail(path, size),
                             lambda value, _err, rel=rel, size=size: self._arrived.emit(rel, size, value)))
        return True

    def _on_arrived(self, rel: str, size: int, image: QImage | None) -> None:
        self._pending -= 1
        if not self._stopping:
            self.loaded.emit(rel, size, image)
        if self._pending == 0:
            self.idle.emit()

    def shutdown(self) -> None:
        self._stopping = True
        self.pool.clear()
        self.pool.waitForDone()


def _make_thumbnail(path: Path, size: int) -> QImage | None:
    try:
        made = thumbnails.thumbnail(path, size)
    except (PhotoError, OSError, ValueError):
        return None
    image = QImage(str(made))  # QImage (unlike QPixmap) may be made off the UI thread
    return None if image.isNull() else image


__all__ = ["HEADER_SIZE", "LARGE_SIZE", "Loaded", "ThumbLoader", "Worker", "load_inspection"]
