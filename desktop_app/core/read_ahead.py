"""Reading a large vector store into the OS file cache ahead of the searches that need it.

`VectorStore.read_ahead` decides when (a store with a graph index that fits comfortably in memory);
`ReadAhead` does it in a background thread.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

READ_AHEAD_SHARE = 0.5  # a store is read ahead only when it takes at most this share of the available memory
READ_AHEAD_CHUNK = 8 << 20


class ReadAhead:
    """Reads a large store's files once, in a background thread, so that the OS file cache holds them.

    With a graph index, every search reads a few thousand scattered rows and graph nodes; from a cold cache
    (after a restart, or after other work pushed the store out) each of them waits for the disk, and they
    are other rows every time: at a million photos searches stayed at 170-222 ms (p50) through the 30 s
    measured, against 52-57 ms once this had read the store, within 5-10 s (`benchmarks/cold_cache.py`).
    Reading (not mapping) puts nothing in the process's own memory; a store larger than READ_AHEAD_SHARE of
    the memory available (or where that is not known) is left alone, since reading it would push its own
    first part out again."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lookalike-read-ahead", daemon=True)

    def start(self) -> ReadAhead:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        buf = bytearray(READ_AHEAD_CHUNK)
        try:
            for path in self.files:
                with open(path, "rb", buffering=0) as fh:  # a file replaced by a sync stays readable here
                    while not self._stop.is_set() and fh.readinto(buf):
                        pass
        except OSError as exc:
            log.info("reading the vector store ahead stopped: %s", exc)
        finally:
            self.done.set()


def available_memory() -> int | None:
    """Bytes of memory available for new work (Linux's MemAvailable), or None where it is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
