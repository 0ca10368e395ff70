"""A guard against a reference-count bug in PySide6 6.12 on CPython 3.11 and older.

Measured in this project's environment (PySide6-Essentials 6.12.0, CPython 3.11.7): every call of a Qt
method that returns void (QPainter.save, QPen setters, QWidget.update, ...) drops one reference to None
that it never took, and every `Signal.emit()` does the same to True. CPython 3.12+ makes None, True and
False immortal, so the bug is invisible there; on 3.11 these start with a few thousand references and the
process aborts ("none_dealloc: deallocating None", "bool_dealloc") after that many calls, which a painting
delegate reaches within seconds and a model emitting dataChanged within minutes.

`protect_none()` detects the leak with a short probe and, only when it is present, gives None, True and
False a very large reference count, which is what 3.12 does for every object of that kind. It is
idempotent and a no-op elsewhere.
The inspector calls it on import because its delegate paints in Python; the application's start-up is the
better home for it (every Python delegate in the app is affected).
"""

from __future__ import annotations

import ctypes
import sys

_PROTECTED = False
# Large enough that no realistic session's worth of leaked decrements can reach zero (2^40 ~ 10^12),
# small enough to stay far from the signed overflow of the count.
_EXTRA_REFERENCES = 1 << 40


def leaks_none(calls: int = 64) -> bool:
    """True when void Qt calls lose references to None (the PySide6 6.12 / CPython < 3.12 bug)."""
    from PySide6.QtCore import QRect

    rect = QRect()
    before = sys.getrefcount(None)
    for _ in range(calls):
        rect.setWidth(1)
    return sys.getrefcount(None) < before - calls // 2


def protect_none() -> bool:
    """Make None, True and False effectively immortal when the leak is present; True when active."""
    global _PROTECTED
    if _PROTECTED:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if not leaks_none():
        return False
    # On CPython < 3.12 the reference count is the object's first field (Py_ssize_t ob_refcnt).
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _EXTRA_REFERENCES
    _PROTECTED = True
    return True


__all__ = ["leaks_none", "protect_none"]
