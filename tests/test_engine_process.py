"""The engine child the window searches through: it keeps its encoder session across opens, and a call
running in it can be stopped at once (closing the window must not wait for a catalog's vectors to load)."""

from __future__ import annotations

import socket
import threading

import pytest

from desktop_app.core.child import ChildError
from desktop_app.core.engine_process import EngineProcess, LocalEngine
from tests.conftest import index_sample

T = 60  # generous timeout (s) for the child to get somewhere; the tests finish far sooner


def test_the_search_child_keeps_its_encoder_session_across_opens(tmp_path, tiny_model):
    """Reopening after an index run (or opening the next catalog of the same model) reuses the encoder
    session: making one loads the model and runs it once."""
    a = index_sample(tmp_path / "a.db", str(tiny_model.manifest_path))
    b = index_sample(tmp_path / "b.db", str(tiny_model.manifest_path))
    local = LocalEngine()
    server = local._server
    try:
        local.open(a, "cpu")
        session = server.engine.encoder("cpu")
        local.open(a, "cpu")
        assert server.engine.encoder("cpu") is session
        local.open(b, "cpu")
        assert server.engine.encoder("cpu") is session
    finally:
        local.close()


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: a database server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)
        connected.set()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1], connected
    listener.close()
    for conn in held:
        conn.close()


def test_interrupt_stops_a_call_running_in_the_child_without_waiting_for_it(silent_server):
    port, connected = silent_server
    child = EngineProcess()
    failures: list[BaseException] = []

    def open_hanging_catalog() -> None:
        try:
            child.open(f"postgresql://curator@127.0.0.1:{port}/catalog")
        except BaseException as exc:  # noqa: BLE001 - the test looks at what came back
            failures.append(exc)

    caller = threading.Thread(target=open_hanging_catalog)
    caller.start()
    try:
        assert connected.wait(T)  # the child is inside the open, waiting for the server
        child.interrupt()
        caller.join(T)
        assert not caller.is_alive()
        # Stopped, not the server's timeout: that would be a catalog error about the connection.
        assert len(failures) == 1 and isinstance(failures[0], ChildError)
        assert "stopped unexpectedly" in str(failures[0])
    finally:
        child.close()


def test_interrupt_leaves_an_idle_child_alone(tmp_path, tiny_model):
    db = index_sample(tmp_path / "a.db", str(tiny_model.manifest_path))
    child = EngineProcess()
    try:
        info = child.open(db)
        child.interrupt()  # nothing running: the child keeps its catalog
        assert child.call("stats")["counts"]["photos"] == info.n_photos > 0
    finally:
        child.close()


def test_the_search_process_runs_blas_on_one_thread():
    """A search's products are small: a second BLAS thread doubled its CPU time and, on a busy machine,
    its latency. The search process limits BLAS to one thread for its whole life."""
    import subprocess
    import sys

    probe = (
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from desktop_app.core.engine_process import limit_blas_threads\n"
        "limit_blas_threads()\n"
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))\n"
    )
    env = {"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=T)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1]"
