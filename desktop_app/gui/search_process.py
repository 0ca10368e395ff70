"""The similarity engine behind the similar panel, in a child process or (for tests) in this one.

A catalog of 100,000 photos holds half a gigabyte of vectors, and loading and searching them is Python and
NumPy work that would compete with the window for the GIL. `SearchProcess` keeps the vectors, the search
index and the model for dropped photos in a child process; the window's worker threads send it a query
and block on the pipe (the GIL is free while they wait). `LocalSearch` has the same interface and runs the
engine in this process. Both are Qt-free and are called from worker threads only.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.models import InstalledModel
from desktop_app.gui.child import ChildError, failure_of, rebuild_error
from desktop_app.gui.prefs import SearchParams

STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class EngineInfo:
    """What the window needs to know about a loaded engine."""

    model_id: str
    n_articles: int
    n_photos: int
    load_s: float


class _Server:
    """The engine side (child process or this process): load a catalog's vectors, answer queries."""

    def __init__(self) -> None:
        from desktop_app.gui.similarity import EncoderCache

        self.engine = None
        self.model: InstalledModel | None = None
        self.encoders = EncoderCache()

    def load(self, db: str, model: InstalledModel, model_id: str) -> EngineInfo:
        import time

        from desktop_app.core.catalog import Catalog
        from desktop_app.gui.similarity import SimilarityEngine

        t0 = time.perf_counter()
        self.engine = None  # free the previous catalog's vectors before reading the next
        catalog = Catalog(Path(db), create=False)
        try:
            engine = SimilarityEngine.load(catalog, model, model_id)
        finally:
            catalog.close()
        self.engine, self.model = engine, model
        return EngineInfo(model_id, engine.n_articles, engine.n_photos, time.perf_counter() - t0)

    def run(self, query: Any, params: SearchParams, device: str) -> Any:
        if self.engine is None:
            raise ChildError("The search index is not loaded.")
        encoder = None
        if query.kind == "files" and self.model is not None:
            encoder = self.encoders.get(self.model, device)
        return self.engine.run(query, params, encoder)


def serve(conn: Any) -> None:
    """Entry point of the child: answer ("load", ...), ("run", ...) until ("stop",) or a closed pipe."""
    server = _Server()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        verb, args = message[0], message[1:]
        if verb == "stop":
            return
        try:
            result = server.load(*args) if verb == "load" else server.run(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the window, the server keeps serving
            reply = ("err", failure_of(exc))
        else:
            reply = ("ok", result)
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return


class SearchProcess:
    """Client of the child process; started on first use, restarted if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None

    def _ensure(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        ctx = mp.get_context("spawn")  # never fork a process that runs Qt and threads
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=serve, args=(child,), name="lookalike-search", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent

    def _call(self, *message: Any) -> Any:
        with self._lock:
            self._ensure()
            try:
                self._conn.send(message)
                status, value = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                code = self._process.exitcode if self._process is not None else None
                self._process = None
                raise ChildError(
                    f"The search process stopped unexpectedly (exit code {code}); the search "
                    "index is loaded again when you reopen the catalog."
                ) from exc
        if status == "err":
            raise rebuild_error(value)
        return value

    def load(self, db: Path, model: InstalledModel, model_id: str) -> EngineInfo:
        return self._call("load", str(db), model, model_id)

    def run(self, query: Any, params: SearchParams, device: str) -> Any:
        return self._call("run", query, params, device)

    def close(self) -> None:
        with self._lock:
            if self._process is None:
                return
            try:
                self._conn.send(("stop",))
            except (OSError, BrokenPipeError):
                pass
            self._process.join(STOP_GRACE_S)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(STOP_GRACE_S)
            self._conn.close()
            self._process = None


class LocalSearch:
    """The same interface, with the engine in this process (tests, and machines where spawning fails)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _Server()

    def load(self, db: Path, model: InstalledModel, model_id: str) -> EngineInfo:
        with self._lock:
            return self._server.load(str(db), model, model_id)

    def run(self, query: Any, params: SearchParams, device: str) -> Any:
        with self._lock:
            return self._server.run(query, params, device)

    def close(self) -> None:
        self._server.engine = None
