"""An `Engine` in a child process, so the window's process never holds the catalog's vectors.

A catalog of 100,000 photos holds half a gigabyte of vectors, and loading and searching them is Python and
NumPy work that would compete with the window for the GIL. `EngineProcess` keeps one catalog's engine (its
vectors, search index and encoder session) in a child process; the window's worker threads send it a call
and block on the pipe (the GIL is free while they wait). `LocalEngine` has the same interface and runs the
engine in this process (tests, and machines where spawning fails). Both are Qt-free and are meant to be
called from worker threads.

Calls are engine methods by name, limited to `CALLS`; results and user errors come back as they are, bugs
as `ChildError` with the child's traceback.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.child import ChildError, failure_of, rebuild_error

STOP_GRACE_S = 5.0

# The engine methods a front end may call through the child.
CALLS = frozenset(
    {
        "similar",
        "nearest_photos",
        "inspect",
        "suggest",
        "review",
        "evaluate_labels",
        "stats",
        "reload",
        "search_settings",
    }
)


SEARCH_BLAS_THREADS = 1  # see limit_blas_threads


@dataclass(frozen=True)
class EngineInfo:
    """What the window needs to know about a loaded engine."""

    model_id: str
    n_articles: int
    n_photos: int
    device: str | None  # what the encoder session really got; None when the model is not available
    device_note: str  # why it is not the device asked for, or the model's problem
    model_title: str


class _Server:
    """The engine side (child process or this process)."""

    def __init__(self) -> None:
        self.engine: Any = None

    def open(self, db: str, device: str | None = None, password: str | None = None) -> EngineInfo:
        """Open `db`; `password`: the one the curator typed for it in the window's process, if any."""
        from desktop_app.core.engine import Engine
        from desktop_app.core.errors import ModelError
        from desktop_app.core.overview import model_title
        from desktop_app.core.storage.backend import is_url
        from desktop_app.core.storage.passwords import remember_password

        if password is not None:
            remember_password(db, password)
        previous, self.engine = self.engine, None
        try:
            engine = Engine.open(db if is_url(db) else Path(db), remember=False)
            if previous is not None:
                engine.keep_encoder_of(previous)  # reopened after an index run, or the next catalog
        finally:
            if previous is not None:
                previous.close()  # free the previous catalog's vectors before reading the next
        engine.read_ahead_stores = True  # this process answers searches for as long as the catalog is open
        try:
            index = engine.search_index()
            device_name, note, title = None, "", "no model"
            try:
                encoder = engine.encoder(device)
                device_name, note, title = encoder.info.device, encoder.info.note, model_title(encoder.model)
            except ModelError as exc:
                note = str(exc)
        except BaseException:
            engine.close()
            raise
        self.engine = engine
        av = index.av
        return EngineInfo(index.av.model_id, av.n_articles, av.n_photos, device_name, note, title)

    def call(self, verb: str, args: tuple, kwargs: dict) -> Any:
        if verb == "open":
            return self.open(*args, **kwargs)
        if verb not in CALLS:
            raise ChildError(f"The engine has no call {verb!r}.")
        if self.engine is None:
            raise ChildError("No catalog is open in the search process.")
        return getattr(self.engine, verb)(*args, **kwargs)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def limit_blas_threads(threads: int | None = SEARCH_BLAS_THREADS) -> None:
    """BLAS threads of this (search) process for the rest of its life; None leaves the library's default.

    A search multiplies a few query photos by a thousand or so candidates at a time: a second BLAS thread
    bought 0-15% on an idle two-core machine at twice the CPU time per query, and on a busy one (the window,
    an index run) made searches 1.5-2x slower (benchmarks/search_latency.py --blas-threads)."""
    if threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def serve(conn: Any) -> None:
    """Entry point of the child: answer (verb, args, kwargs) until ("stop",) or a closed pipe."""
    limit_blas_threads()
    server = _Server()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "stop":
            break
        verb, args, kwargs = message
        try:
            reply = ("ok", server.call(verb, args, kwargs))
        except BaseException as exc:  # noqa: BLE001 - reported to the window, the server keeps serving
            reply = ("err", failure_of(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            break
    server.close()


class EngineProcess:
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
        process = ctx.Process(target=serve, args=(child,), name="lookalike-engine", daemon=True)
        try:
            process.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._process, self._conn = process, parent

    def _call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._ensure()
            try:
                self._conn.send((verb, args, kwargs))
                status, value = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                code = self._process.exitcode if self._process is not None else None
                self._process = None
                raise ChildError(
                    f"The search process stopped unexpectedly (exit code {code}); the search index is loaded "
                    "again when you reopen the catalog."
                ) from exc
        if status == "err":
            raise rebuild_error(value)
        return value

    def open(self, db: Path | str, device: str | None = None) -> EngineInfo:
        """Open a catalog (a file, or a database URL) in the child, with the password typed for it here."""
        from desktop_app.core.storage.backend import is_url
        from desktop_app.core.storage.passwords import typed_password

        password = typed_password(str(db)) if is_url(str(db)) else None
        return self._call("open", str(db), device, password)

    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        return self._call(verb, *args, **kwargs)

    def interrupt(self) -> None:
        """Stop the child at once when a call is running in it (the caller gets ChildError); an idle child
        is left for `close` to stop politely. Any thread, without waiting for the running call."""
        if self._lock.acquire(blocking=False):
            self._lock.release()  # idle: nothing to interrupt
            return
        process = self._process
        if process is not None and process.is_alive():
            # Its work is a read and derived files that are checked when next opened (vector_store_check).
            process.terminate()

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


class LocalEngine:
    """The same interface, with the engine in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _Server()

    def open(self, db: Path | str, device: str | None = None) -> EngineInfo:
        with self._lock:
            return self._server.open(str(db), device)

    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._server.call(verb, args, kwargs)

    def close(self) -> None:
        with self._lock:
            self._server.close()
