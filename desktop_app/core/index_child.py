"""The body of an index run in a child process: the engine's `index_photos` with its progress on a queue.

The app runs indexing in its own process so that the window's event loop never competes with the indexer
for the GIL. This is the child's side; it knows nothing about Qt. Progress and the summary (or the failure)
go back over a multiprocessing queue; cancelling sets a shared event the indexer checks between batches,
and killing the child is also safe, as the catalog commits per batch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from desktop_app.core.child import failure_of
from desktop_app.core.indexer import IndexOptions
from desktop_app.core.models import InstalledModel
from desktop_app.core.scan import GroupingRule

PROGRESS_INTERVAL_S = 0.1


def child_main(
    db: str,
    photo_dir: str,
    rule: GroupingRule | None,
    model: InstalledModel | str | None,
    options: IndexOptions,
    out: Any,
    cancel: Any,
) -> None:
    """Entry point of the child process: index, report progress, send the summary or the failure."""
    from desktop_app.core.engine import index_photos

    if hasattr(os, "nice"):
        # Background work: when the curator scrolls or searches, the window gets the CPU first.
        try:
            os.nice(19)
        except OSError:
            pass
    last = [0.0]

    def progress(p) -> None:
        now = time.monotonic()
        if p.note or p.done >= p.total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            out.put(("progress", p))

    from desktop_app.core.storage.backend import is_url

    try:
        summary = index_photos(
            db if is_url(db) else Path(db),
            Path(photo_dir),
            rule=rule,
            model=model,
            options=options,
            progress=progress,
            should_cancel=cancel.is_set,
        )
        out.put(("done", summary))
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the window
        out.put(("failed", failure_of(exc)))
