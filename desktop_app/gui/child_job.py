"""Long work in a child process (indexing, adapter training), with the signals of a worker task.

Indexing and training are mostly Python and NumPy over the whole catalog; in a thread of the app's own
process they would hold the GIL for long stretches and every repaint would wait. The child (a Qt-free entry
point in the core) sends ("progress", p), ("done", result), ("cancelled", None) or ("failed", failure) over a
multiprocessing queue that this object polls with a timer; cancelling sets an event the child checks.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.core.child import rebuild_error
from desktop_app.core.storage.passwords import run_with_passwords, typed_passwords

POLL_MS = 50
STOP_GRACE_S = 20.0  # a batch on a slow CPU; after that the child is terminated (the catalog survives it)


class ChildJob(QObject):
    """One job in a child process: `target(*args, queue, cancel_event)`."""

    progress = Signal(object)  # whatever the child reports
    done = Signal(object)  # the child's result
    cancelled = Signal()  # the child stopped on request, with nothing to report
    failed = Signal(object)  # workers.Failure
    finished = Signal()

    def __init__(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...],
        name: str,
        lost: str,
        parent: QObject | None = None,
    ) -> None:
        """`lost`: what to tell the curator when the child dies without a word (a crash, a kill)."""
        super().__init__(parent)
        ctx = mp.get_context("spawn")  # no fork: the parent has Qt and worker threads running
        self.queue = ctx.Queue()
        self.cancel_event = ctx.Event()
        self.lost = lost
        # The passwords typed for shared catalogs go with the start message, never through the environment.
        self.process = ctx.Process(
            target=run_with_passwords,
            name=name,
            daemon=True,
            args=(typed_passwords(), target, *args, self.queue, self.cancel_event),
        )
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self._over = False

    def start(self) -> None:
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
                self.progress.emit(payload)
            else:
                self._end()
                self._report(kind, payload)
                return
        if not self.process.is_alive() and self.queue.empty():
            code = self.process.exitcode
            self._end()
            self._report("failed", None, f"{self.lost} (exit code {code}).")

    def _report(self, kind: str, payload: Any, message: str = "") -> None:
        from desktop_app.gui.workers import Failure

        if kind == "done":
            self.done.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        elif payload is not None:
            self.failed.emit(Failure(rebuild_error(payload), payload.traceback))
        else:
            self.failed.emit(Failure(RuntimeError(message), ""))

    def _end(self) -> None:
        self._over = True
        self.timer.stop()
        # The child exits right after its last message; a zero-timeout join reaps it if it already has,
        # and never holds up the UI (a later shutdown() or the interpreter reaps it otherwise).
        self.process.join(0)
        self.finished.emit()

    @property
    def running(self) -> bool:
        return not self._over

    def shutdown(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the child at a safe point, or terminate it after `grace_s`, and release the queue."""
        self.timer.stop()
        if self.process.is_alive():
            self.cancel_event.set()
            self.process.join(grace_s)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)
        self._over = True
        self.queue.close()
        self.queue.join_thread()


__all__ = ["ChildJob"]
