"""Telling a curator that another curator decided first: who, what and when, and the choice that leaves.

In a shared catalog a label edit, an undo or a match decision is refused (`core.errors.Conflict`, nothing
written) when someone changed the same thing since the curator looked at it. The box names each change as
its author made it and offers to keep theirs (the default) or, where it makes sense, to overwrite it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html import escape

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_app.core.errors import Conflict
from desktop_app.core.wording import decision_words

SHOWN = 8  # changes listed by name; the rest are counted


def when(at: float | None) -> str:
    if not at:
        return ""
    today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(at))
    return time.strftime("today at %H:%M" if today else "on %Y-%m-%d at %H:%M", time.localtime(at))


def conflict_line(c: dict) -> str:
    """One change made by someone else, in words (a label or a match decision)."""
    who = c.get("curator") or "another curator"
    at = when(c.get("at"))
    if "article_a" in c:
        what = decision_words(c.get("decision"))
        return f"{c['article_a']} and {c['article_b']}: {who} decided “{what}” {at}".rstrip()
    value = f"“{c['value']}”" if c.get("value") is not None else "no label"
    return f"{c['article']} ({c.get('field', 'label')}): {who} set {value} {at}".rstrip()


def conflict_text(exc: Conflict) -> str:
    """The whole story as plain text: the changes by name (the CLI's advice about --force left out)."""
    lines = [conflict_line(c) for c in exc.conflicts[:SHOWN]]
    if len(exc.conflicts) > SHOWN:
        lines.append(f"… and {len(exc.conflicts) - SHOWN} more")
    if not lines:  # from a child process the list does not travel: its message does
        return re.sub(r"\s*\(or pass --force[^)]*\)", "", str(exc))
    return "\n".join(lines)


def show_conflict(
    parent: QWidget | None, doing: str, exc: Conflict, overwrite: Callable[[], None] | None = None
) -> QMessageBox:
    """A non-blocking box: "<doing> was not saved: someone changed it meanwhile", their changes, and
    "Keep theirs" or (when `overwrite` is given) "Use mine"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Changed by another curator")
    box.setText(f"{doing} was not saved: another curator decided it, and theirs is the latest decision.")
    items = "".join(f"<li>{escape(line)}</li>" for line in conflict_text(exc).splitlines())
    box.setInformativeText(
        f"<ul style='margin-left:0'>{items}</ul>Their decision stands. Look again and decide "
        "once more if you disagree."
    )
    keep = box.addButton("Keep theirs", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)  # Esc or closing the box keeps theirs (with two buttons Qt would ignore both)
    if overwrite is not None:
        mine = box.addButton("Use mine", QMessageBox.ButtonRole.DestructiveRole)
        mine.clicked.connect(overwrite)
    box.open()
    return box


__all__ = ["conflict_line", "conflict_text", "show_conflict", "when"]
