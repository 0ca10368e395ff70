"""The body of a duplicate search in a child process: `Engine.find_duplicates` with progress on a queue.

The app finds duplicates in its own process, as it indexes, so that loading every vector and comparing
fingerprints never competes with the window for memory or the GIL. Progress and the report (or the failure)
go back over a multiprocessing queue; cancelling sets a shared event the search checks between steps.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.child import run_job


def child_main(location: str, level: str, min_score: float | None, out: Any, cancel: Any) -> None:
    """Entry point of the child process: find, report progress, send the report or the failure."""
    from desktop_app.core.engine import Engine

    def find(progress, should_cancel):
        with Engine.open(location, remember=False) as engine:
            return engine.find_duplicates(level, min_score, progress=progress, should_cancel=should_cancel)

    run_job(out, cancel, find)
