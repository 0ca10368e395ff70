"""Index runs started from the window: one at a time, in a child process (or a worker thread in tests).

The controller starts the run, shows its progress in the banner above the grid (`indexing.IndexBanner`,
with Cancel and, afterwards, the summary with the skipped files), and says when it ended (with its
summary) or failed. While a long run goes on it asks for a cheap re-read of the grid every few seconds
(`live_refresh`), so new articles appear as they are indexed; the window decides whether the catalog is
small enough for that.
"""

from __future__ import annotations

import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core.errors import UserError
from desktop_app.core.indexer import IndexOptions, IndexSummary, Progress
from desktop_app.core.scan import GroupingRule
from desktop_app.gui.index_process import IndexProcess
from desktop_app.gui.indexing import IndexBanner, IndexRequest, SummaryDialog, run_index
from desktop_app.gui.workers import Failure, Runner, Task

LIVE_REFRESH_S = 4.0


class IndexController(QObject):
    progress = Signal(object)  # core.indexer.Progress
    finished = Signal(object)  # IndexSummary (also of a cancelled run)
    failed = Signal(object)  # Failure
    live_refresh = Signal()  # a good moment to re-read the grid while the run goes on

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = parent
        self.runner = Runner(1, "indexer", self)
        self.banner = IndexBanner()
        self.banner.cancel_requested.connect(self.cancel)
        self.banner.details_requested.connect(self.show_summary)
        self.summary_dialog: SummaryDialog | None = None
        # Index in a child process, so the window never competes with it for the GIL. Tests that patch the
        # core in this process switch this off.
        self.in_subprocess = True
        self.task: IndexProcess | Task | None = None
        self.last_summary: IndexSummary | None = None
        self._last_refresh = 0.0

    @property
    def running(self) -> bool:
        return self.task is not None

    def start(self, db: Path, folder: Path, rule: GroupingRule | None, options: IndexOptions) -> bool:
        """Start a run (the catalog's own model and settings); False when one is already running."""
        if self.task is not None:
            return False
        if self.in_subprocess:
            task = IndexProcess(db, Path(folder), rule, None, options, self)
            task.done.connect(self._done)
            task.failed.connect(self._failed)
            task.progress.connect(self._progress)
            self.task = task
            task.start()
        else:
            request = IndexRequest(db, Path(folder), rule, None, options)
            self.task = Task(run_index, request, with_progress=True, with_cancel=True)
            self.runner.start(
                self.task, on_done=self._done, on_failed=self._failed, on_progress=self._progress
            )
        self._last_refresh = time.monotonic()
        self.banner.start(Path(folder))
        return True

    def cancel(self) -> None:
        """Stop after the current batch; everything indexed so far is kept."""
        if self.task is not None:
            self.task.cancel()
            if self.banner.cancel.isEnabled():
                self.banner.show_cancelling()

    def show_summary(self) -> None:
        if self.last_summary is not None:
            self.summary_dialog = SummaryDialog(self.last_summary, self.window)
            self.summary_dialog.open()

    def _progress(self, p: Progress) -> None:
        self.banner.update_progress(p)
        self.progress.emit(p)
        now = time.monotonic()
        if p.done > 0 and now - self._last_refresh >= LIVE_REFRESH_S:
            self._last_refresh = now
            self.live_refresh.emit()

    def _done(self, summary: IndexSummary) -> None:
        self._drop_task()
        self.last_summary = summary
        self.banner.finish(summary)
        self.finished.emit(summary)

    def _failed(self, failure: Failure) -> None:
        self._drop_task()
        err = failure.error
        self.banner.fail(str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}")
        self.failed.emit(failure)

    def _drop_task(self) -> None:
        task, self.task = self.task, None
        if isinstance(task, IndexProcess):
            task.deleteLater()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
            if isinstance(self.task, IndexProcess):
                self.task.shutdown()
        self.runner.shutdown()
        if self.summary_dialog is not None and shiboken6.isValid(self.summary_dialog):
            self.summary_dialog.close()


__all__ = ["LIVE_REFRESH_S", "IndexController"]
