"""The catalog map's layout job: `Engine.catalog_map` in a child process (`core.map_child`), or in tests a
worker thread, with progress and cancel. `map_controller.MapController` starts one per request."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop_app.core.engine import Engine
from desktop_app.core.layout import MapLayout
from desktop_app.core.map_child import MapRequest, child_main
from desktop_app.gui.child_job import ChildJob
from desktop_app.gui.workers import Failure, Runner, Task

MAP_STOP_GRACE_S = 0.5  # closing the window stops a map child this soon


class MapJob(QObject):
    """One layout request in a child process (or, in tests, a worker thread), with progress and cancel."""

    progress = Signal(int, int, str)
    done = Signal(object)  # MapLayout or None
    cancelled = Signal()
    failed = Signal(object)  # Failure

    def __init__(
        self,
        engine: Engine,
        request: MapRequest,
        in_subprocess: bool,
        runner: Runner,
        parent: QObject | None = None,
    ) -> None:
        """In a child process the layout is made by an engine of its own on the catalog; in a thread (tests),
        by the window's `engine` (a second catalog connection in this process is what SQLite warns about)."""
        super().__init__(parent)
        self.catalog = engine.location  # the catalog it lays out: its answer is for that one only
        self.child: ChildJob | None = None
        self.task: Task | None = None
        if in_subprocess:
            self.child = ChildJob(
                child_main,
                (engine.location, request),
                "lookalike-map",
                "The map process stopped unexpectedly",
                self,
            )
            self.child.progress.connect(lambda p: self.progress.emit(*p))
            self.child.done.connect(self._finish_done)
            self.child.cancelled.connect(self._finish_cancelled)
            self.child.failed.connect(self._finish_failed)
            self.child.start()
        else:
            self.task = Task(_make_map_in_thread, engine, request, with_progress=True, with_cancel=True)
            self.task.signals.progress.connect(lambda p: self.progress.emit(*p))
            runner.start(self.task, on_done=self._finish_done, on_failed=self._task_failed)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif self.child is not None:
            self.child.cancel()

    def _task_failed(self, failure: Failure) -> None:
        from desktop_app.core.layout import Cancelled

        if isinstance(failure.error, Cancelled):
            self._finish_cancelled()
        else:
            self._finish_failed(failure)

    def _finish_done(self, layout: MapLayout | None) -> None:
        self.done.emit(layout)

    def _finish_cancelled(self) -> None:
        self.cancelled.emit()

    def _finish_failed(self, failure: Failure) -> None:
        self.failed.emit(failure)

    def shutdown(self) -> None:
        """Stop the child (cancel, then terminate) and release its queue; a thread is asked to cancel."""
        if self.child is not None:
            # A layout is only computed there and written in one transaction, which a kill rolls back: the
            # window need not wait for the child's next cancel point (closing took 2-8 s behind a t-SNE).
            self.child.shutdown(grace_s=MAP_STOP_GRACE_S)
        else:
            self.cancel()


def _make_map_in_thread(engine: Engine, request: MapRequest, progress, should_cancel) -> MapLayout | None:
    # A worker's progress signal carries one object: the (done, total, note) triple.
    return engine.catalog_map(
        method=request.method,
        recompute=request.recompute,
        compute=request.compute,
        progress=lambda d, t, n: progress((d, t, n)),
        should_cancel=should_cancel,
    )


__all__ = ["MapJob"]
