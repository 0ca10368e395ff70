"""How counts are written in every message, one way for the CLI, the app and the core's notes."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 label", "2 labels", "0 labels", "1,200 labels": a count with its noun (`many` for nouns without
    a plain -s)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def quoted(name: str) -> str:
    """An article id, photo path or label in a message: in single quotes, as stored. Not `repr`, which
    doubles the backslash of a stored \\xNN escape (a file name that is not UTF-8) and so names no article."""
    return f"'{name}'"
