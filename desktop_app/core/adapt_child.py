"""Adapter work in a child process: `Engine.train_adapter`, and switching an adapter on, with progress on a queue.

Training reads every photo vector of the catalog, and switching on prepares the adapted vectors for search
(with their own graph index in a large catalog: minutes); the app does both in a child process so those
vectors never sit in the window's process and the window never waits for the GIL. Progress and the result (or the failure,
or "cancelled") go back over a multiprocessing queue; cancelling sets a shared event the trainer polls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.core.child import run_job


def child_main(
    db: str, sources: tuple[str, ...], kind: str, groups: str | None, out: Any, cancel: Any
) -> None:
    """Entry point of the child process: train, store and switch on the adapter; report what it learned."""
    from desktop_app.core.adapt import Cancelled
    from desktop_app.core.engine import Engine
    from desktop_app.core.storage.backend import is_url

    def train(progress, should_cancel) -> dict:
        with Engine.open(db if is_url(db) else Path(db), remember=False) as engine:
            adapter = engine.train_adapter(
                sources,
                Path(groups) if groups else None,
                kind=kind,
                progress=progress,
                should_cancel=should_cancel,
            )
            return {
                "id": adapter.id,
                "kind": adapter.kind,
                "dim": adapter.dim,
                "info": adapter.info,
                "status": engine.adapter_status(),
            }

    run_job(out, cancel, train, cancelled=(Cancelled,))


def switch_on_main(db: str, adapter_id: int | None, out: Any, cancel: Any) -> None:
    """Entry point of the child process: prepare an adapter's vectors for search, then switch it on.

    Cancelling stops at the next progress step, before the switch: search stays as it was."""
    from desktop_app.core.adapt import Cancelled
    from desktop_app.core.engine import Engine
    from desktop_app.core.storage.backend import is_url

    def switch(progress, should_cancel) -> dict:
        def step(done: int, total: int, note: str = "") -> None:
            if should_cancel():
                raise Cancelled()
            progress(done, total, note)

        with Engine.open(db if is_url(db) else Path(db), remember=False) as engine:
            engine.use_adapter(True, adapter_id, step)
            return engine.adapter_status()

    run_job(out, cancel, switch, cancelled=(Cancelled,))
