"""Every kind of error a curator can act on, in one place; anything else escaping the core is a bug.

A `UserError` carries one line that names the cause and the fix. Front ends show it without a
traceback (the CLI prints it and exits with code 2, the app shows it in a message box); every other
exception is a bug and gets a traceback (exit code 1, crash log in the app).
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the environment or the user's input, with a message that says what to do."""

    exit_code = 2


class InputError(UserError):
    """An option, argument or input file the user gave is not usable (out of range, missing, malformed)."""


class CatalogError(UserError):
    """The catalog cannot be opened or written (missing, read-only, newer version, damaged, not a catalog)."""


class CatalogBusy(CatalogError):
    """Another program holds the catalog (a lock, or another index run); trying again later works."""


class DiskFull(UserError):
    """The disk holding a file Lookalike writes is full; nothing already stored was lost."""


class ModelError(UserError):
    """A model is missing, damaged, or does not match its manifest."""


class Conflict(UserError):
    """Another curator changed what this decision was about since it was looked at; nothing was written."""

    def __init__(self, message: str, conflicts: list[dict] | None = None) -> None:
        super().__init__(message)
        self.conflicts = conflicts or []


class NoVectors(UserError):
    """The catalog (or an article) has no embedded photos for its model yet: indexing fixes it."""


def one_line(message: str) -> str:
    """Messages are shown on one line: collapse any line breaks a library put into its text."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())
