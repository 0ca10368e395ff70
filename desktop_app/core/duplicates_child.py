"""The body of a duplicate search in a child process: `Engine.find_duplicates` with progress on a queue.

The app finds duplicates in its own process, as it indexes, so that loading every vector and comparing
fingerprints never competes with the window for memory or the GIL. Progress and the report (or the failure)
go back over a multiprocessing queue; cancelling sets a shared event the search checks between steps.
"""

from __future__ import annotations

import os
import time
from typing import Any

from desktop_app.core.child import failure_of

PROGRESS_INTERVAL_S = 0.1


def child_main(location: str, level: str, min_score: float | None, out: Any, cancel: Any) -> None:
    """Entry point of the child process: find, report progress, send the report or the failure."""
    from desktop_app.core.engine import Engine

    if hasattr(os, "nice"):
        try:
            os.nice(10)  # the window first when the curator scrolls
        except OSError:
            pass
    last = [0.0]

    def progress(done: int, total: int, note: str) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            out.put(("progress", (done, total, note)))

    try:
        with Engine.open(location, remember=False) as engine:
            report = engine.find_duplicates(level, min_score, progress=progress, should_cancel=cancel.is_set)
        out.put(("done", report))
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the window
        out.put(("failed", failure_of(exc)))
