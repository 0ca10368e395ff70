"""Work-arounds for reference-counting bugs of the PySide6 build in use, applied when the GUI is imported.

PySide6 6.12 on CPython 3.11 (where None, True and False are ordinary objects with a reference count)
loses references it never took: every `Signal.emit()` from Python takes one from True, every call of a
void Qt method (QPainter.save, QWidget.update, ...) one from None, and `QModelIndex.data()` one from None
when the model returns nothing. Those objects start with a few thousand references, so a painting delegate
or a stream of progress signals ends the process within minutes ("Fatal Python error: bool_dealloc" /
"none_dealloc").

`protect_refcounts()` probes for the leak and, only when it is there, gives None, True and False a huge
number of references, which is what CPython 3.12 does anyway by making them immortal. Views here also ask
the Python model directly (`model_data`) rather than through `QModelIndex.data()`, which is faster too.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, Qt, Signal

# 2^40 references: more than any session can lose, far from overflowing the count.
EXTRA_REFERENCES = 1 << 40
_protected = False


class _Probe(QObject):
    ping = Signal(int)


def refcount_leak() -> bool:
    """True when this PySide6 loses references to None or True (probed with a few harmless calls)."""
    if sys.version_info >= (3, 12):
        return False  # immortal objects: the counts cannot run out
    probe = _Probe()
    rect = QRect()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(32):
        probe.ping.emit(0)
        rect.setWidth(1)
    return sys.getrefcount(None) < none_before - 16 or sys.getrefcount(True) < true_before - 16


def protect_refcounts() -> bool:
    """Make None, True and False effectively immortal when the leak is present; returns whether it is."""
    global _protected
    if _protected:
        return True
    if not refcount_leak():
        return False
    size = ctypes.sizeof(ctypes.c_ssize_t)
    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object.
        cell = ctypes.c_ssize_t.from_address(id(obj))
        assert size == ctypes.sizeof(cell)
        cell.value += EXTRA_REFERENCES
    _protected = True
    return True


def model_data(index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    """index.data(role), asked of the Python model itself (no QVariant round trip)."""
    if not index.isValid():
        return None
    model = index.model()
    if model is None:
        return None
    return model.data(index, role)
