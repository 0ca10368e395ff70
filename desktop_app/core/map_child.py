"""The catalog map's layout in a child process: `Engine.catalog_map` with its progress on a queue.

Laying out 100,000 articles is minutes of NumPy and openTSNE work; in the window's process it would compete
with the event loop for the GIL. The app runs it here instead: progress and the finished `MapLayout` (or
the failure) go back over a multiprocessing queue, and cancelling sets a shared event the layout checks
between steps. Nothing is stored until a layout is complete, so killing the child is also safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.child import run_job


@dataclass(frozen=True)
class MapRequest:
    """What the map asks for: the stored layout kept up to date, or (`recompute`) a fresh one."""

    method: str | None = None
    recompute: bool = False
    compute: bool = True  # lay out the articles when no layout is stored yet


def make_map(db: Path | str, request: MapRequest, progress=None, should_cancel=None):
    """The layout for a request, by an engine of its own on the catalog (a file, or a database URL)."""
    from desktop_app.core.engine import Engine

    with Engine.open(db, remember=False) as engine:
        return engine.catalog_map(
            method=request.method,
            recompute=request.recompute,
            compute=request.compute,
            progress=progress,
            should_cancel=should_cancel,
        )


def child_main(db: str, request: MapRequest, out: Any, cancel: Any) -> None:
    """Entry point of the child process: lay out, report progress, send the layout or the failure."""
    from desktop_app.core.layout import Cancelled

    run_job(
        out,
        cancel,
        lambda progress, should_cancel: make_map(db, request, progress, should_cancel),
        cancelled=(Cancelled,),
    )
