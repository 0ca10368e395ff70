"""Carrying failures out of child processes (indexing, search) without pickling arbitrary exceptions.

A user error comes back as the same kind of `core.errors` error with its message; anything else comes back
as a `ChildError` that carries the child's traceback, so a bug is reported as a bug.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

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
