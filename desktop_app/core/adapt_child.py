"""The body of adapter training in a child process: `Engine.train_adapter` with its progress on a queue.

Training reads every photo vector of the catalog; the app does it in a child process so those vectors never
sit in the window's process and the window never waits for the GIL. Progress and the result (or the failure,
or "cancelled") go back over a multiprocessing queue; cancelling sets a shared event the trainer polls.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from desktop_app.core.child import failure_of

PROGRESS_INTERVAL_S = 0.1


def child_main(
    db: str, sources: tuple[str, ...], kind: str, groups: str | None, out: Any, cancel: Any
) -> None:
    """Entry point of the child process: train, store and switch on the adapter; report what it learned."""
    from desktop_app.core.adapt import Cancelled
    from desktop_app.core.engine import Engine
    from desktop_app.core.storage.backend import is_url

    if hasattr(os, "nice"):
        try:
            os.nice(10)  # the window keeps the CPU it needs to stay responsive
        except OSError:
            pass
    last = [0.0]

    def progress(done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            out.put(("progress", (done, total, note)))

    try:
        with Engine.open(db if is_url(db) else Path(db), remember=False) as engine:
            adapter = engine.train_adapter(sources, Path(groups) if groups else None, kind=kind,
                                           progress=progress, should_cancel=cancel.is_set)  # fmt: skip
            out.put(("done", {"id": adapter.id, "kind": adapter.kind, "dim": adapter.dim, "info": adapter.info,
                              "status": engine.adapter_status()}))  # fmt: skip
    except Cancelled:
        out.put(("cancelled", None))
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the window
        out.put(("failed", failure_of(exc)))
