"""An index run in a child process (`core.index_child`), with the signals of a worker task.

The indexer is mostly Python (walking the folder, diffing rows, writing batches); in a thread of the app's
own process it would hold the GIL for long stretches and every repaint would wait for it. The child sends
progress and the summary over a multiprocessing queue that this object polls with a timer.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.core.child import rebuild_error
from desktop_app.core.index_child import child_main
from desktop_app.core.indexer import IndexOptions, IndexSummary
from desktop_app.core.models import InstalledModel
from desktop_app.core.scan import GroupingRule

POLL_MS = 50
STOP_GRACE_S = 20.0  # a batch on a slow CPU; after that the child is terminated (the catalog survives it)


class IndexProcess(QObject):
    """One index run in a child process, with the same signals as a worker Task."""

    progress = Signal(object)  # core.indexer.Progress
    done = Signal(object)  # IndexSummary
    failed = Signal(object)  # workers.Failure
    finished = Signal()

    def __init__(
        self,
        db: Path,
        photo_dir: Path,
        rule: GroupingRule | None,
        model: InstalledModel | str | None,
        options: IndexOptions,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        ctx = mp.get_context("spawn")  # no fork: the parent has Qt and worker threads running
        self.queue = ctx.Queue()
        self.cancel_event = ctx.Event()
        self.process = ctx.Process(
            target=child_main,
            name="lookalike-index",
            daemon=True,
            args=(str(db), str(photo_dir), rule, model, options, self.queue, self.cancel_event),
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
        from desktop_app.gui.workers import Failure

        for _ in range(50):  # bounded: the UI thread never spends long here
            try:
                kind, payload = self.queue.get_nowait()
            except queue_mod.Empty:
                break
            except (EOFError, OSError):
                break
            if kind == "progress":
                self.progress.emit(payload)
            elif kind == "done":
                self._end()
                self.done.emit(payload)
                return
            elif kind == "failed":
                self._end()
                error = rebuild_error(payload)
                self.failed.emit(Failure(error, payload.traceback))
                return
        if not self.process.is_alive() and self.queue.empty():
            code = self.process.exitcode
            self._end()
            self.failed.emit(
                Failure(
                    RuntimeError(
                        f"The indexing process stopped unexpectedly (exit code {code}). Everything up to the last "
                        "batch is saved; Update index resumes."
                    ),
                    "",
                )
            )

    def _end(self) -> None:
        self._over = True
        self.timer.stop()
        # The child exits right after its last message; a zero-timeout join reaps it if it already has,
        # and never holds up the UI (a later shutdown() or the interpreter reaps it otherwise).
        self.process.join(0)
        self.finished.emit()

    def shutdown(self) -> None:
        """Stop the child at a batch boundary (or terminate it) and release the queue."""
        self.timer.stop()
        if self.process.is_alive():
            self.cancel_event.set()
            self.process.join(STOP_GRACE_S)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)
        self._over = True
        self.queue.close()
        self.queue.join_thread()


__all__ = ["IndexProcess", "IndexSummary", "child_main"]
