"""Python's cycle collector, run on the GUI thread only.

Left automatic, the collector runs on whichever thread happens to allocate past its threshold, and in this app
that is often a worker (decoding thumbnails, reading a catalog snapshot, receiving search answers). Qt
objects held in reference cycles (a controller that keeps its window, a callback into a dialog) are then
destroyed on that worker thread, and Qt deletes widgets and timers off their own thread: a crash at some
later, unrelated moment. It happened (a completer's callback collected on a worker segfaulted the app).

So the app switches automatic collection off and asks for the same collections itself, from a timer on the
GUI thread, by the same rule Python uses (a generation is collected when its count passes its threshold).
Memory that is not in a cycle is freed by reference counting at once, on every thread, as before; only cyclic
garbage waits for the next tick.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

# Often enough that cyclic garbage never piles up (a tick costs microseconds when nothing is due), rarely
# enough that the timer itself never shows in a profile.
CHECK_INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """While it runs, automatic collection is off and its due collections happen on the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Back to automatic collection (at shutdown, when no Qt object is left to collect off its thread)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold, as automatic collection would.
        Returns the generation collected, or None."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None
