"""The duplicates view's background work: the search in a child process, and photo previews on threads.

`DuplicateSearch` runs `core.duplicates_child` in a spawned process and polls its queue with a timer, like
the index run does; `load_preview` decodes one photo at the size the view shows it.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from desktop_app.core.child import rebuild_error
from desktop_app.core.duplicates_child import child_main
from desktop_app.core.images import load_photo, read_bytes
from desktop_app.gui.workers import Failure

POLL_MS = 50
STOP_GRACE_S = 10.0


class DuplicateSearch(QObject):
    """One duplicate search in a child process, with the signals of a worker task."""

    progress = Signal(int, int, str)
    done = Signal(object)  # engine.DuplicateReport
    failed = Signal(object)  # Failure
    finished = Signal()

    def __init__(self, location: str, level: str, min_score: float | None, parent: QObject | None = None):
        super().__init__(parent)
        ctx = mp.get_context("spawn")  # no fork: the parent has Qt and worker threads running
        self.queue = ctx.Queue()
        self.cancel_event = ctx.Event()
        self.process = ctx.Process(target=child_main, name="lookalike-duplicates", daemon=True,
                                   args=(location, level, min_score, self.queue, self.cancel_event))  # fmt: skip
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.running = False

    def start(self) -> None:
        self.running = True
        self.process.start()
        self.timer.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def _poll(self) -> None:
        for _ in range(50):  # bounded: the UI thread never spends long here
            try:
                kind, payload = self.queue.get_nowait()
            except (queue_mod.Empty, EOFError, OSError):
                break
            if kind == "progress":
                self.progress.emit(*payload)
            elif kind == "done":
                self._end()
                self.done.emit(payload)
                return
            else:
                self._end()
                self.failed.emit(Failure(rebuild_error(payload), payload.traceback))
                return
        if not self.process.is_alive() and self.queue.empty():
            code = self.process.exitcode
            self._end()
            message = f"The duplicate search stopped unexpectedly (exit code {code})."
            self.failed.emit(Failure(RuntimeError(message), ""))

    def _end(self) -> None:
        self.running = False
        self.timer.stop()
        self.process.join(0)
        self.finished.emit()

    def shutdown(self) -> None:
        """Stop the child (it checks the cancel flag between steps; terminated after a grace period)."""
        self.timer.stop()
        if self.process.is_alive():
            self.cancel_event.set()
            self.process.join(STOP_GRACE_S)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)
        self.running = False
        self.queue.close()
        self.queue.join_thread()


def load_preview(path: Path, box: int) -> QImage:
    """The photo fitted into box x box (JPEGs decoded at reduced size); raises images.PhotoError."""
    loaded = load_photo(read_bytes(path), min_size=(box, box))
    im = loaded.image
    im.thumbnail((box, box))
    data = im.tobytes()
    return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()


__all__ = ["DuplicateSearch", "load_preview"]
