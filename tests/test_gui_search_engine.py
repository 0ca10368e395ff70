"""How often the window opens the catalog in the search child, and that closing does not wait for an open.

Opening a catalog in the engine child reads its vectors, builds the search index and (the first time) an
encoder session: seconds on a large catalog. Re-reads of the grid while an index run goes on, a catalog
switch and closing the window must not pile up opens behind the one running (the search then said
"Preparing search…" for many minutes after a run ended). The search child is real here; indexing runs on
threads so that a test can hold it mid-run. Waits on signals, never sleeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

from desktop_app.gui.mainwindow import MainWindow
from tests.conftest import hold_indexing, index_sample
from tests.test_gui import big_tree, open_and_index

T = 60000  # generous signal timeout (ms): the machine is shared; the tests finish far sooner


def count_opens(w: MainWindow, monkeypatch, hold_first: threading.Event | None = None) -> list[str]:
    """The catalogs the window asks its search child to open, in order; the first open waits for
    `hold_first` (a slow open, as a large catalog's is, so re-reads and switches land while it runs)."""
    opens: list[str] = []
    client = w.search.client
    real_open = client.open

    def counted(db, device=None):
        opens.append(str(db))
        if hold_first is not None and len(opens) == 1:
            hold_first.wait(T / 1000)
        return real_open(db, device)

    monkeypatch.setattr(client, "open", counted)
    return opens


def test_reloads_while_indexing_open_the_engine_once_and_once_more_at_the_end(
    qtbot, window, tmp_path, monkeypatch
):
    folder = big_tree(tmp_path / "photos")  # 12 articles of 4 photos
    reached, gate = hold_indexing(monkeypatch, at=8, report_first=True, wait_s=T / 1000)
    w = window(batch_size=4)
    w.search.client.in_subprocess = True  # the real search child
    open_and_index(qtbot, w, folder, index_now=False)
    assert w.search.info is None  # nothing embedded yet: nothing to open
    slow_open = threading.Event()
    opens = count_opens(w, monkeypatch, hold_first=slow_open)
    with qtbot.waitSignal(w.index_finished, timeout=T):
        w.update_index()
        qtbot.waitUntil(reached.is_set, timeout=T)  # two batches are in the catalog; the run waits
        for _ in range(6):  # the live re-reads of a long run, while the first open is still reading
            with qtbot.waitSignal(w.catalog_loaded, timeout=T):
                w.reload()
            assert w.snapshot.embedded > 0
        assert opens == [str(w.snapshot.location)]  # one open asked for, not one per re-read
        assert w.similar.status.text() == "Preparing search…"
        with qtbot.waitSignal(w.search_ready, timeout=T):
            slow_open.set()
        assert w.search.info.n_photos == 8  # what the catalog held when it opened
        for _ in range(3):  # re-reads once the engine is open change nothing either
            with qtbot.waitSignal(w.catalog_loaded, timeout=T):
                w.reload()
        assert len(opens) == 1
        with qtbot.waitSignal(w.search_ready, timeout=T):
            gate.set()  # the run ends: the engine opens the catalog once more, with every vector
    assert len(opens) == 2
    assert w.search.info.n_photos == 48 and w.search.info.n_articles == 12
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article("art11")  # indexed after the first open
    assert blocker.args[0].query.articles == ["art11"] and blocker.args[0].hits


def test_switching_catalogs_drops_the_open_waiting_for_the_one_left(
    qtbot, window, tmp_path, tiny_model, monkeypatch
):
    second = str(index_sample(tmp_path / "second.db", str(tiny_model.manifest_path)))
    w = window()
    w.search.client.in_subprocess = True
    open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=3, per=2))
    first = str(w.snapshot.location)
    slow_open = threading.Event()
    opens = count_opens(w, monkeypatch, hold_first=slow_open)
    w.search.load()  # the first catalog opens (and reads slowly)...
    w.search.load()  # ...and another open of it waits (as a device change asks for)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(Path(second))  # the curator moves on before either ran
    with qtbot.waitSignal(w.search_ready, timeout=T):
        slow_open.set()
    # The open that was running finished unseen; the one waiting for the catalog left never ran.
    assert opens == [first, second]
    assert w.snapshot.location == second
    assert w.search.info.n_articles == len(w.snapshot.articles) != 3
