"""Running core work off the UI thread and getting results back as queued signals.

`Task` wraps a plain callable in a QRunnable. Its signals belong to a QObject created on the UI thread, so
the worker's emit is delivered there by the event loop (a queued connection) and slots never run on a pool
thread. `Lane` adds "latest request wins": a newer request supersedes queued ones, and results of
superseded requests are dropped by comparing generation numbers.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


@dataclass
class Failure:
    """An exception raised in a worker, carried to the UI thread with its formatted traceback."""

    error: BaseException
    traceback: str


class TaskSignals(QObject):
    done = Signal(object)  # the callable's return value
    failed = Signal(object)  # a Failure
    progress = Signal(object)  # whatever the callable reports (e.g. core.indexer.Progress)
    finished = Signal()  # always, after done or failed


class Task(QRunnable):
    """One call of `fn(*args, **kwargs)` on a pool thread.

    When `with_progress` is set, fn gets a `progress` keyword argument: a callable that emits the progress
    signal. `cancel()` sets an event that fn can poll via `should_cancel` (also passed when requested).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        with_progress: bool = False,
        with_cancel: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        # The pool must not delete the C++ side while Python still holds the signals object.
        self.setAutoDelete(False)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = TaskSignals()
        self.cancelled = threading.Event()
        if with_progress:
            self.kwargs["progress"] = self.signals.progress.emit
        if with_cancel:
            self.kwargs["should_cancel"] = self.cancelled.is_set

    def cancel(self) -> None:
        self.cancelled.set()

    def run(self) -> None:  # runs on the pool thread
        try:
            try:
                result = self.fn(*self.args, **self.kwargs)
            except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI, never kill the thread
                self.signals.failed.emit(Failure(exc, excepthook_text(exc)))
            else:
                self.signals.done.emit(result)
            self.signals.finished.emit()
        except RuntimeError:
            # The signals object was destroyed while we worked (window closed): nobody is left to tell.
            pass


class Runner(QObject):
    """Starts Tasks on a private thread pool and keeps them alive until they finish.

    A private pool (rather than QThreadPool.globalInstance) lets the window wait for exactly its own work
    when it closes, so nothing outlives it.
    """

    def __init__(self, threads: int = 2, name: str = "worker", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self.pool.setObjectName(name)
        self._live: set[Task] = set()
        self.closed = False

    def start(
        self,
        task: Task,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[Failure], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        priority: int = 0,
    ) -> Task:
        """Start a task; after `shutdown` nothing starts (a late signal must not revive a closed window)."""
        if self.closed:
            return task
        if on_done:
            task.signals.done.connect(on_done)
        if on_failed:
            task.signals.failed.connect(on_failed)
        if on_progress:
            task.signals.progress.connect(on_progress)
        task.signals.finished.connect(lambda t=task: self._live.discard(t))
        self._live.add(task)
        self.pool.start(task, priority)
        return task

    def call(self, fn: Callable[..., Any], *args: Any, on_done=None, on_failed=None, **kwargs: Any) -> Task:
        return self.start(Task(fn, *args, **kwargs), on_done, on_failed)

    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything cooperative, drop queued work and wait for running work to end."""
        self.closed = True
        for task in list(self._live):
            task.cancel()
        self.pool.clear()
        ok = self.pool.waitForDone(timeout_ms)
        self._live.clear()
        return ok


class Lane(QObject):
    """Latest request wins: at most one job runs, at most one waits; results of stale jobs are dropped.

    Used for views that always show the answer to the newest question (similar articles for the current
    selection, the grouping preview for the current pattern, the engine's open of the catalog on show).
    `generation` grows with every request; a job superseded before its thread takes it up never runs.
    """

    result = Signal(int, object)  # generation, value of the newest request
    failed = Signal(int, object)  # generation, Failure
    idle = Signal()  # nothing running and nothing waiting

    def __init__(self, runner: Runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.generation = 0
        self._running: Task | None = None
        self._pending: tuple[int, Callable[[], Any]] | None = None

    def submit(self, fn: Callable[[], Any]) -> int:
        self.generation += 1
        self._pending = (self.generation, fn)
        if self._running is None:
            self._start_pending()
        return self.generation

    def invalidate(self) -> None:
        """Forget every request so far: their results will be dropped (e.g. the catalog changed)."""
        self.generation += 1
        self._pending = None

    def _start_pending(self) -> None:
        if self._pending is None:
            return
        gen, fn = self._pending
        self._pending = None

        def if_still_wanted() -> Any:
            # The pool may hold the job behind other work on the same runner: a request superseded (or
            # invalidated) by then is not run at all, as its answer would be dropped anyway.
            return fn() if gen == self.generation else None

        task = Task(if_still_wanted)
        self._running = task
        task.signals.done.connect(lambda value, g=gen: self._finish(g, value, None))
        task.signals.failed.connect(lambda failure, g=gen: self._finish(g, None, failure))
        self.runner.start(task)

    def _finish(self, gen: int, value: Any, failure: Failure | None) -> None:
        self._running = None
        if gen == self.generation:
            if failure is None:
                self.result.emit(gen, value)
            else:
                self.failed.emit(gen, failure)
        else:
            log.debug("dropped stale result of request %d (now %d)", gen, self.generation)
        self._start_pending()
        if self._running is None:
            self.idle.emit()


def excepthook_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


__all__ = ["Failure", "Lane", "Runner", "Task", "TaskSignals", "excepthook_text"]
