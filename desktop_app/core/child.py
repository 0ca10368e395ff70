"""Carrying failures out of child processes (indexing, search) without pickling arbitrary exceptions.

A user error comes back as the same kind of `core.errors` error with its message; anything else comes back
as a `ChildError` that carries the child's traceback, so a bug is reported as a bug.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.core import errors as core_errors


@dataclass
class ChildFailure:
    kind: str  # exception class name
    module: str
    message: str
    traceback: str


def failure_of(exc: BaseException) -> ChildFailure:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ChildFailure(type(exc).__name__, type(exc).__module__, str(exc), text)


def rebuild_error(f: ChildFailure) -> BaseException:
    """The child's exception as an object of the same kind where that is one the curator can act on."""
    cls = getattr(core_errors, f.kind, None) if f.module == core_errors.__name__ else None
    if isinstance(cls, type) and issubclass(cls, core_errors.UserError):
        return cls(f.message)
    if f.kind == "MemoryError":
        return MemoryError(f.message)
    return ChildError(f"{f.kind}: {f.message}", f.traceback)


class ChildError(RuntimeError):
    """An unexpected error in a child process; `child_traceback` is the traceback over there."""

    def __init__(self, message: str, child_traceback: str = "") -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


PROGRESS_INTERVAL_S = 0.1  # progress messages at most this often: the window polls, it need not see each step


def run_job(
    out: Any,
    cancel: Any,
    work: Callable[[Callable[..., None], Callable[[], bool]], Any],
    cancelled: tuple[type[BaseException], ...] = (),
) -> None:
    """The body of a background job in a child process (adapter training, duplicates, the map's layout).

    Lowers the child's priority, runs `work(progress, should_cancel)` and puts on the `out` queue
    ("progress", (done, total, note)) now and then, then ("done", result), ("cancelled", None) for one of
    the `cancelled` exceptions, or ("failed", ChildFailure) for anything else."""
    if hasattr(os, "nice"):
        try:
            os.nice(10)  # background work: the window keeps the CPU it needs to stay responsive
        except OSError:
            pass
    last: list = [0.0, None]  # when the last message went, and its note

    def progress(done: int, total: int, note: str = "") -> None:
        # A new phase always goes out (its 0 of N would otherwise be dropped and the bar would sit at the
        # previous phase's 100% for the whole of this one), as does the end of one.
        now = time.monotonic()
        if done >= total or note != last[1] or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0], last[1] = now, note
            out.put(("progress", (done, total, note)))

    try:
        out.put(("done", work(progress, cancel.is_set)))
    except cancelled:
        out.put(("cancelled", None))
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the window
        out.put(("failed", failure_of(exc)))
