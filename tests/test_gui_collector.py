"""The cycle collector runs on the GUI thread only, never on a worker that happens to allocate."""

from __future__ import annotations

import gc
import threading
import weakref

from desktop_app.gui.collector import GuiThreadCollector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_workers_never_collect_and_the_gui_thread_does(qtbot):
    collecting_threads: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            collecting_threads.append(threading.get_ident())

    collector = GuiThreadCollector(interval_ms=10)
    gc.callbacks.append(record)
    collector.start()
    try:
        garbage: list[weakref.ref] = []

        def allocate() -> None:
            # Far past generation 0's threshold: automatic collection would run here, on this thread.
            for _ in range(20 * gc.get_threshold()[0]):
                garbage.append(weakref.ref(Node()))

        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        assert worker.ident not in collecting_threads
        assert all(ref() is not None for ref in garbage[:10])  # nothing collected yet

        qtbot.waitUntil(lambda: all(ref() is None for ref in garbage), timeout=5000)
        assert set(collecting_threads) == {threading.main_thread().ident}
    finally:
        collector.stop()
        gc.callbacks.remove(record)
    assert gc.isenabled()


def test_collects_the_oldest_generation_due():
    collector = GuiThreadCollector()
    collector.start()
    try:
        gc.collect()
        assert collector.collect_due() is None
        for _ in range(2 * gc.get_threshold()[0]):
            Node()
        assert collector.collect_due() == 0
    finally:
        collector.stop()
