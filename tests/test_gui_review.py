"""The review queue with pytest-qt on the real sample photos, half of them labelled.

Keys go to the queue's list as a curator would press them; every check reads the catalog back, because a
decision counts only once it is on disk. Suggestions come from an engine (in this process here, through
the same client the app uses for its engine child); one test kills a real review process mid-flow.
"""

from __future__ import annotations

import csv
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from desktop_app.core.engine import Engine, index_photos  # noqa: E402
from desktop_app.core.label_evidence import PICK_FLOOR  # noqa: E402
from desktop_app.core.labels import Neighbour  # noqa: E402
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule  # noqa: E402
from desktop_app.core.settings import SearchSettings  # noqa: E402
from desktop_app.core.storage import sqlite as sqlite_storage  # noqa: E402
from desktop_app.gui.review import ReviewQueue, open_review  # noqa: E402
from desktop_app.gui.review_model import SuggestionModel  # noqa: E402
from desktop_app.gui.search_controller import EngineClient  # noqa: E402
from tests.conftest import REPO, SAMPLE, bundled_sample_photos  # noqa: E402

FIELD = "category"
T = 30000  # ms: the longest a step may take on a loaded machine


def sample_truth() -> dict[str, str]:
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as fh:
        return dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))


def half_labelled(truth: dict[str, str]) -> dict[str, str]:
    """Every other article (in id order), as `lookalike demo` labels them."""
    return dict(list(truth.items())[::2])


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    """The bundled sample photos indexed with the bundled model (once per module; tests copy it)."""
    base = tmp_path_factory.mktemp("review-sample")
    photos = base / "photos"
    shutil.copytree(bundled_sample_photos(), photos)
    # Module scope runs before the per-test isolated home: give indexing its own (models, thumbnails).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOKALIKE_HOME", str(base / "home"))
        index_photos(base / "catalog.sqlite", photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    return base / "catalog.sqlite"


def labelled_copy(sample_db: Path, db: Path) -> Path:
    """A copy of the sample catalog with every other article labelled, as one import."""
    shutil.copy(sample_db, db)
    with Engine.open(db, remember=False) as engine:
        items = [(a, FIELD, c) for a, c in half_labelled(sample_truth()).items()]
        engine.set_label_items(items, "import", "import")
    return db


@pytest.fixture
def catalog(sample_db, tmp_path):
    """The window's engine on a private copy of the sample, half of it labelled."""
    engine = Engine.open(labelled_copy(sample_db, tmp_path / "catalog.sqlite"), remember=False)
    yield engine
    engine.close()


@pytest.fixture
def client():
    """What the queue asks for suggestions: the app's engine client, with the engine in this process."""
    c = EngineClient(in_subprocess=False)
    yield c
    c.close()


def make_queue(qtbot, engine: Engine, client: EngineClient) -> ReviewQueue:
    q = ReviewQueue(engine, client, FIELD)
    qtbot.addWidget(q)
    with qtbot.waitSignal(q.ready, timeout=30000):
        pass  # suggestions are computed on the pool; the signal may already be queued
    return q


@pytest.fixture
def queue(qtbot, catalog, client):
    q = make_queue(qtbot, catalog, client)
    yield q
    q.close()  # waits for the pool: no worker outlives the test
    assert q._pool.activeThreadCount() == 0


def label_of(engine: Engine, article: str) -> str | None:
    return engine.labels(FIELD).get(article, {}).get(FIELD)


def events(engine: Engine, limit: int = 1000) -> list[dict]:
    return engine.catalog.label_events(limit=limit)


def last_event(engine: Engine) -> dict:
    return events(engine, 1)[0]


def unlabelled(engine: Engine) -> set[str]:
    return set(sample_truth()) - set(engine.labels(FIELD))


def press(qtbot, q: ReviewQueue, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(q.view, key, modifier)


def decide(qtbot, q: ReviewQueue, key, modifier=Qt.KeyboardModifier.NoModifier, widget=None) -> None:
    """Press a key that writes a decision and wait until the write has settled (saved or refused)."""
    with qtbot.waitSignal(q.settled, timeout=T):
        qtbot.keyClick(widget if widget is not None else q.view, key, modifier)


# ----------------------------------------------------------------------------- model


def test_item_model_passes_the_model_tester(qtmodeltester, queue, qtbot):
    qtmodeltester.check(queue.model)
    # The tester keeps watching: removals, moves, inserts, a re-sort and a threshold change must all be
    # announced correctly.
    decide(qtbot, queue, Qt.Key.Key_Return)
    decide(qtbot, queue, Qt.Key.Key_S)
    decide(qtbot, queue, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    decide(qtbot, queue, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    queue.set_order("uncertain")
    queue.set_min_confidence(0.8)
    qtmodeltester.check(queue.model)
    m = queue.model
    assert m.headerData(0, Qt.Orientation.Horizontal) == "Article"
    first = m.index(0, SuggestionModel.ARTICLE)
    assert m.data(first, SuggestionModel.ArticleRole) == m.data(first)
    assert m.data(first, SuggestionModel.SuggestionRole).article == m.data(first)


def test_queue_lists_the_unlabelled_half_most_certain_first(queue, catalog):
    m = queue.model
    assert {e.article for e in m.entries()} == unlabelled(catalog)
    confs = [e.suggestion.confidence for e in m.entries()]
    assert confs == sorted(confs, reverse=True)
    assert queue.current_article() == m.entries()[0].article
    assert "16</b> to review" in queue.count_label.text()
    queue.set_order("uncertain")
    confs = [e.suggestion.confidence for e in m.entries()]
    assert confs == sorted(confs) and queue.current_article() == m.entries()[0].article
    # The neighbours that voted are on screen, one card each.
    s = queue.current_suggestion()
    assert sum(c.isVisibleTo(queue) for c in queue.cards) == len(s.neighbours) > 0


# ----------------------------------------------------------------------------- single decisions


def test_enter_accepts_and_moves_on(queue, catalog, qtbot):
    s = queue.current_suggestion()
    second = queue.model.entries()[1].article
    with qtbot.waitSignal(queue.decided) as sig:
        press(qtbot, queue, Qt.Key.Key_Return)
    assert sig.args == [s.article, s.label, "accept"]
    assert label_of(catalog, s.article) == s.label
    ev = last_event(catalog)
    assert (ev["article"], ev["action"], ev["new_value"]) == (s.article, "accept", s.label)
    assert {r["article"]: r["source"] for r in catalog.catalog.labels_with_source()}[s.article] == "accepted"
    assert queue.model.row_of(s.article) == -1 and queue.current_article() == second
    assert queue.remaining() == 15


def test_two_picks_the_second_label(queue, catalog, qtbot):
    target = next(
        e.suggestion
        for e in queue.model.entries()
        if len(e.suggestion.alternatives) >= 2 and e.suggestion.evidence()[1].confidence >= PICK_FLOOR
    )
    queue.select_article(target.article)
    decide(qtbot, queue, Qt.Key.Key_2)
    assert label_of(catalog, target.article) == target.alternatives[1][0]
    assert last_event(catalog)["action"] == "alternative"
    # A key for an alternative that does not exist does nothing at all.
    one = next((e.suggestion for e in queue.model.entries() if len(e.suggestion.alternatives) < 3), None)
    if one is not None:
        queue.select_article(one.article)
        n = len(events(catalog))
        press(qtbot, queue, Qt.Key.Key_3)
        assert queue.work.writing is None  # no write started
        assert label_of(catalog, one.article) is None and len(events(catalog)) == n


def test_typing_sets_a_label_of_ones_own(queue, catalog, qtbot):
    article = queue.current_article()
    press(qtbot, queue, Qt.Key.Key_B)  # the first letter moves into the label field
    assert queue.label_edit.hasFocus() or queue.label_edit.text() == "b"
    qtbot.keyClicks(queue.label_edit, "each-wear")
    decide(qtbot, queue, Qt.Key.Key_Return, widget=queue.label_edit)
    assert label_of(catalog, article) == "beach-wear"
    assert last_event(catalog)["action"] == "set"
    assert queue.label_edit.text() == "" and queue.current_article() != article
    # The new label is offered for completion from now on, and an existing label keeps its spelling.
    assert "beach-wear" in queue._completion.stringList()
    nxt = queue.current_article()
    with qtbot.waitSignal(queue.settled, timeout=T):
        assert queue.set_label("  BAGS ")
    assert label_of(catalog, nxt) == "bags"


def test_s_skips_to_the_end_of_the_queue(queue, catalog, qtbot):
    article = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_S)
    assert label_of(catalog, article) is None
    ev = last_event(catalog)
    assert (ev["article"], ev["action"]) == (article, "skip")
    entries = queue.model.entries()
    assert entries[-1].article == article and entries[-1].skipped
    assert queue.current_article() != article
    assert "1 skipped" in queue.count_label.text()
    # A reopened queue remembers the skip.
    again = make_queue(qtbot, catalog, queue.client)
    assert again.model.entries()[-1].article == article and again.model.entries()[-1].skipped
    again.close()


def test_no_suggestion_below_the_threshold(queue, catalog, qtbot):
    queue.set_min_confidence(1.0)
    hidden = [e for e in queue.model.entries() if e.suggestion.confidence < 1.0]
    shown = queue.model.data(queue.model.index(queue.model.row_of(hidden[0].article), 1))
    # the row says which label its confidence belongs to, as a guess below the threshold
    assert hidden and shown == f"(no suggestion; best guess {hidden[0].suggestion.label})"
    queue.select_article(hidden[0].article)
    n = len(events(catalog))
    press(qtbot, queue, Qt.Key.Key_Return)  # nothing to accept
    assert len(events(catalog)) == n and "No suggestion" in queue.status.text()
    decide(qtbot, queue, Qt.Key.Key_1)  # the best guess is still one key away
    assert label_of(catalog, hidden[0].article) == hidden[0].suggestion.alternatives[0][0]


def test_no_decision_while_suggestions_are_recomputed(queue, catalog, qtbot):
    n = len(events(catalog))
    with qtbot.waitSignal(queue.ready, timeout=30000):
        queue.refresh(rebuild_index=False)
        press(qtbot, queue, Qt.Key.Key_Return)
        press(qtbot, queue, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert len(events(catalog)) == n and "a moment" in queue.status.text()
    decide(qtbot, queue, Qt.Key.Key_Return)
    assert len(events(catalog)) == n + 1


# ----------------------------------------------------------------------------- undo


def test_ctrl_z_undoes_the_last_decisions_in_order(queue, catalog, qtbot):
    undo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    a = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_Return)
    b = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_S)
    c = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_1)  # a pick (2 would pick nothing when the runner-up is below 1%)
    assert label_of(catalog, c) is not None

    decide(qtbot, queue, *undo)
    assert label_of(catalog, c) is None and queue.current_article() == c
    decide(qtbot, queue, *undo)  # the skip
    assert queue.current_article() == b and not queue.model.entries()[0].skipped
    with qtbot.waitSignal(queue.undone, timeout=T) as undone:
        press(qtbot, queue, *undo)
    assert undone.args == [1] and label_of(catalog, a) is None and queue.current_article() == a
    assert queue.remaining() == 16
    # Below the review decisions lies the import: Ctrl+Z in the queue leaves it alone.
    labelled = catalog.labels(FIELD)
    with qtbot.waitSignal(queue.undone, timeout=T) as undone:
        press(qtbot, queue, *undo)
    assert undone.args == [0] and catalog.labels(FIELD) == labelled
    assert "import" in queue.status.text()


def test_undo_reaches_decisions_of_an_earlier_session(queue, catalog, qtbot):
    article = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_Return)
    queue.close()
    again = make_queue(qtbot, catalog, queue.client)
    assert again.model.row_of(article) == -1
    # Its suggestion was not computed in this session (it was labelled): it comes back once recomputed.
    with qtbot.waitSignal(again.ready, timeout=T), qtbot.waitSignal(again.undone, timeout=T) as undone:
        assert again.undo()
    assert undone.args == [1]
    assert label_of(catalog, article) is None and again.current_article() == article
    again.close()


# ----------------------------------------------------------------------------- writes off the UI thread


def hold_write_lock(db: Path) -> sqlite3.Connection:
    """Another program writing to the catalog: a connection holding SQLite's write lock until rolled back."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_decision_waiting_for_the_write_lock_leaves_the_window_running(queue, catalog, qtbot):
    s = queue.current_suggestion()
    second = queue.model.entries()[1].article
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    other = hold_write_lock(catalog.path)
    try:
        timer.start()
        press(qtbot, queue, Qt.Key.Key_Return)  # returns at once: the write waits on its own thread
        assert queue.work.writing is not None
        # The event loop keeps running while the write waits for the lock, and the queue says so.
        qtbot.waitUntil(lambda: len(ticks) >= 5 and queue.status.text() == "Saving…", timeout=T)
        assert queue.work.writing is not None and not queue.work.writing.finished
        assert label_of(catalog, s.article) is None and queue.current_article() == s.article
        # A second Enter does not decide the next article while the first is on its way.
        press(qtbot, queue, Qt.Key.Key_Return)
        assert "Saving the last decision" in queue.status.text()
        with qtbot.waitSignal(queue.decided, timeout=T) as sig:
            other.execute("ROLLBACK")  # the other program is done: the decision lands
    finally:
        timer.stop()
        other.close()
    assert sig.args == [s.article, s.label, "accept"]
    assert label_of(catalog, s.article) == s.label and label_of(catalog, second) is None
    assert queue.current_article() == second and queue.remaining() == 15
    # Browsing while a write waits: the queue stays where the curator went.
    third = queue.model.entries()[1].article
    other = hold_write_lock(catalog.path)
    try:
        press(qtbot, queue, Qt.Key.Key_S)
        press(qtbot, queue, Qt.Key.Key_Down)
        assert queue.current_article() == third
        with qtbot.waitSignal(queue.settled, timeout=T):
            other.execute("ROLLBACK")
    finally:
        other.close()
    assert last_event(catalog)["action"] == "skip" and queue.model.entries()[-1].article == second
    assert queue.current_article() == third


def test_closing_while_a_decision_is_written_keeps_it(queue, catalog, qtbot):
    s = queue.current_suggestion()
    decided: list[list] = []
    queue.decided.connect(lambda *args: decided.append(list(args)))
    other = hold_write_lock(catalog.path)
    try:
        press(qtbot, queue, Qt.Key.Key_Return)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The UI thread has not seen the write finish: closing waits for it and settles it.
    assert queue.work.writing is not None
    queue.close()
    assert queue._pool.activeThreadCount() == 0 and queue.work.writes.pool.activeThreadCount() == 0
    assert label_of(catalog, s.article) == s.label
    assert decided == [[s.article, s.label, "accept"]]  # the other views hear of it


def test_a_write_that_fails_leaves_the_queue_where_it_was(qtbot, sample_db, tmp_path, client, monkeypatch):
    # A catalog busy for longer than the busy timeout: the write gives up with CatalogBusy.
    monkeypatch.setattr(sqlite_storage, "BUSY_TIMEOUT_MS", 200)
    db = labelled_copy(sample_db, tmp_path / "busy.sqlite")
    with Engine.open(db, remember=False) as engine:
        q = make_queue(qtbot, engine, client)
        try:
            s = q.current_suggestion()
            n = len(events(engine))
            other = hold_write_lock(db)
            try:
                decide(qtbot, q, Qt.Key.Key_Return)
            finally:
                other.execute("ROLLBACK")
                other.close()
            assert q.current_article() == s.article and q.remaining() == 16
            assert len(events(engine)) == n and label_of(engine, s.article) is None
            assert q.status.text().startswith("Not saved: The catalog") and "busy" in q.status.text()
            assert q.error_box is not None and q.error_box.isVisible() and "busy" in q.error_box.text()
            q.error_box.close()
            # Once the other program is done, the same key decides.
            decide(qtbot, q, Qt.Key.Key_Return)
            assert label_of(engine, s.article) == s.label and q.current_article() != s.article
        finally:
            q.close()


def test_a_label_another_curator_set_meanwhile_stands(queue, catalog, qtbot):
    s = queue.current_suggestion()
    catalog.catalog.set_labels([(s.article, FIELD, "theirs")], source="manual", action="set", curator="anna")
    decide(qtbot, queue, Qt.Key.Key_Return)
    assert label_of(catalog, s.article) == "theirs" and queue.current_article() == s.article
    assert "another curator" in queue.status.text()
    box = queue.conflict_box
    assert box is not None and box.isVisible() and "anna" in box.informativeText()
    box.close()


# ----------------------------------------------------------------------------- bulk accept


def test_accept_all_above_a_confidence_with_confirmation(queue, catalog, qtbot, monkeypatch):
    asked = []

    def answer(reply):
        def question(parent, title, text, *args, **kwargs):
            asked.append(text)
            return reply

        return question

    sure = [e.suggestion for e in queue.model.entries() if e.suggestion.confidence >= 0.9]
    assert 0 < len(sure) < queue.remaining()
    queue.bulk_spin.setValue(90)
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    queue.bulk_button.click()
    assert f"Accept {len(sure)} suggestions" in asked[-1]
    assert unlabelled(catalog) == {e.article for e in queue.model.entries()}  # declined: nothing written

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(queue.settled, timeout=T):
        queue.bulk_button.click()
    assert all(label_of(catalog, s.article) == s.label for s in sure)
    assert {e["action"] for e in events(catalog, len(sure))} == {"accept"}
    # accepted by a threshold, not one by one: never ground truth for calibration
    assert {e["new_source"] for e in events(catalog, len(sure))} == {"accepted-bulk"}
    assert not {s.article for s in sure} & set(catalog.catalog.labels(FIELD, confirmed_only=True))
    assert queue.remaining() == 16 - len(sure)
    assert all(e.suggestion.confidence < 0.9 for e in queue.model.entries())

    # One Ctrl+Z takes the whole bulk accept back, and only it.
    decide(qtbot, queue, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(label_of(catalog, s.article) is None for s in sure)
    assert queue.remaining() == 16 and len(catalog.labels(FIELD)) == 17


# ----------------------------------------------------------------------------- the window


def test_open_review_builds_the_index_off_the_ui_thread(qtbot, catalog, client):
    window = open_review(None, catalog, client, FIELD)
    pool = window._pool
    try:
        assert window.isWindow() and window.isVisible() and window.busy.isVisible()
        with qtbot.waitSignal(window.ready, timeout=30000):
            pass
        assert not window.busy.isVisible() and window.remaining() == 16
        # Thumbnails of what is shown arrive without blocking anything.
        qtbot.waitUntil(lambda: window.thumbs.pending() == 0, timeout=30000)
        assert window.photo_labels[0].pixmap() is not None and not window.photo_labels[0].pixmap().isNull()
        assert pool.activeThreadCount() == 0
    finally:
        # The window deletes itself on close (it is a top-level window of the main window's).
        gone: list[bool] = []
        window.destroyed.connect(lambda *_: gone.append(True))
        window.close()
        qtbot.waitUntil(lambda: bool(gone), timeout=10000)


def test_window_without_labels_offers_an_import(qtbot, sample_db, tmp_path, client):
    db = tmp_path / "bare.sqlite"
    shutil.copy(sample_db, db)
    with Engine.open(db, remember=False) as cat:
        q = make_queue(qtbot, cat, client)
        assert q.remaining() == 0 and q.import_button.isVisibleTo(q)
        assert "No article has a category label" in q.empty_note.text()
        q.close()


# ----------------------------------------------------------------------------- a kill mid-review

KILL_SCRIPT = r"""
import os, sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from desktop_app.core.engine import Engine
from desktop_app.gui.review import ReviewQueue

app = QApplication([])
engine = Engine.open(sys.argv[1], remember=False)
queue = ReviewQueue(engine, None, "category")  # its own engine child, as when opened on its own
queue.show()
state = {"n": 0, "undoing": False}


def on_decided(article, label, action):
    # Emitted after the catalog committed: what is printed here was shown to the curator as done.
    print(f"set\t{article}\t{label}", flush=True)


def on_changed(articles):
    if state["undoing"]:
        for a in articles:
            print(f"undo\t{a}", flush=True)


def on_undone(n):
    if n == 0:
        state["undoing"] = False  # nothing left to undo: decide again


queue.decided.connect(on_decided)
queue.labels_changed.connect(on_changed)
queue.undone.connect(on_undone)


def next_step():
    QTimer.singleShot(0, step)


def step():
    n = state["n"] = state["n"] + 1
    if queue.remaining() == 0 or (state["undoing"] and n % 7):
        state["undoing"] = True
        queue.undo()
    else:
        state["undoing"] = False
        s = queue.current_suggestion()
        kind = n % 3
        if kind == 0 and s.label is not None:
            QTest.keyClick(queue.view, Qt.Key.Key_Return)
        elif kind == 1 and len(s.alternatives) >= 2:
            QTest.keyClick(queue.view, Qt.Key.Key_2)
        else:
            QTest.keyClick(queue.view, Qt.Key.Key_Slash)
            QTest.keyClicks(queue.label_edit, f"typed-{n}")
            QTest.keyClick(queue.label_edit, Qt.Key.Key_Return)
    if queue.work.writing is None:
        next_step()  # nothing was written (the queue was busy loading): try again
    # else the next step follows once this write has settled


def started():
    print("ready", flush=True)
    if not state.get("running"):
        state["running"] = True
        queue.settled.connect(next_step)
        next_step()


queue.ready.connect(started)
app.exec()
"""


def test_a_kill_during_review_loses_no_decision(sample_db, tmp_path):
    db = labelled_copy(sample_db, tmp_path / "killed.sqlite")
    with Engine.open(db, remember=False) as engine:
        before = {a: d[FIELD] for a, d in engine.labels(FIELD).items()}
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "LOOKALIKE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + 90
    try:
        # Kill while decisions are streaming: after 60 of them (sets and undos) were reported done.
        while sum(line.startswith(("set", "undo")) for line in lines) < 60:
            left = deadline - time.monotonic()
            assert left > 0, f"the review process stalled: {lines[-5:]}"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"the review process ended early: {proc.stderr.read().decode()[-2000:]}"
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += [d.decode() for d in done]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Lines still in the pipe were printed before the kill, so they count too (a torn last line does not).
    lines += [d.decode() for d in (buffer + rest).split(b"\n")[:-1]]

    expected = dict(before)
    for line in lines:
        kind, *rest_of = line.split("\t")
        if kind == "set":
            expected[rest_of[0]] = rest_of[1]
        elif kind == "undo":
            expected.pop(rest_of[0], None)
    kinds = [line.split("\t")[0] for line in lines]
    print(f"killed after {kinds.count('set')} decisions and {kinds.count('undo')} undos were reported")
    assert kinds.count("set") >= 20 and kinds.count("undo") >= 5
    with Engine.open(db, remember=False) as engine:
        assert engine.catalog.integrity_check() == "ok"
        got = {a: d[FIELD] for a, d in engine.labels(FIELD).items()}
    # Every decision reported before the kill is on disk. At most one more may be, committed in the instant
    # between its commit and its report.
    differ = {a for a in set(expected) | set(got) if expected.get(a) != got.get(a)}
    assert len(differ) <= 1, (differ, lines[-5:])
    assert {a: c for a, c in got.items() if a in before} == before  # the import is untouched


# ----------------------------------------------------------------------------- label dialogs


def test_review_suggests_by_the_catalogs_search_settings(qtbot, catalog, client):
    # What `lookalike tune` stores is what the queue's suggestions use (computed by the engine, not here).
    tuned = SearchSettings("hungarian", 0.6, 2)
    catalog.update_settings(search=tuned)
    q = make_queue(qtbot, catalog, client)
    assert q.work.params == tuned and "hungarian s=0.6 m=2" in q.params_label.text()
    want = {s.article: (s.label, s.confidence) for s in catalog.suggest(FIELD, 10, params=tuned)}
    assert {e.article: (e.suggestion.label, e.suggestion.confidence) for e in q.model.entries()} == want
    q.close()


def test_edit_labels_on_many_articles_sets_and_clears(qtbot, catalog):
    from desktop_app.gui.labels_dialog import LabelEditDialog

    truth = sample_truth()
    bags = [a for a, c in half_labelled(truth).items() if c == "bags"][:1]
    fresh = sorted(unlabelled(catalog))[:2]
    articles = bags + fresh
    dlg = LabelEditDialog(catalog, articles, FIELD)
    qtbot.addWidget(dlg)
    assert "bags ×1" in dlg.now_label.text() and "(none) ×2" in dlg.now_label.text()
    dlg.value_box.setCurrentText("  BAGS ")  # an existing label keeps its spelling
    with qtbot.waitSignal(dlg.accepted):
        assert dlg.apply_set() == 2  # the article that already says bags is not rewritten
    assert all(label_of(catalog, a) == "bags" for a in articles)
    assert {e["action"] for e in events(catalog, 2)} == {"set"}

    dlg = LabelEditDialog(catalog, fresh, FIELD)
    qtbot.addWidget(dlg)
    assert dlg.value_box.currentText() == "bags"  # their common label is offered
    dlg.field_box.setCurrentText("brand")
    dlg.value_box.setCurrentText("Luma")
    assert dlg.apply_set() == 2
    assert all(catalog.labels("brand")[a] == {"brand": "Luma"} for a in fresh)
    dlg = LabelEditDialog(catalog, fresh, FIELD)
    qtbot.addWidget(dlg)
    assert dlg.apply_clear() == 2
    assert all(label_of(catalog, a) is None for a in fresh) and len(catalog.labels("brand")) == 2


def test_typing_a_label_reads_the_catalog_once_per_field_not_per_keystroke(qtbot, catalog, monkeypatch):
    from desktop_app.gui.labels_dialog import LabelEditDialog

    fresh = sorted(unlabelled(catalog))[:2]
    dlg = LabelEditDialog(catalog, fresh, FIELD)
    qtbot.addWidget(dlg)
    reads: list[str | None] = []
    real = catalog.labels
    monkeypatch.setattr(catalog, "labels", lambda *a, **k: reads.append(a[0] if a else None) or real(*a, **k))
    edit = dlg.value_box.lineEdit()
    edit.clear()
    qtbot.keyClicks(edit, "sandals")
    assert reads == [] and dlg.set_button.isEnabled() and not dlg.clear_button.isEnabled()
    dlg.field_box.setCurrentText("brand")  # another field: its labels are read, once
    qtbot.keyClicks(edit, " and more")
    assert reads == ["brand"]


def test_import_dialog_previews_csv_and_folder_labels(qtbot, sample_db, tmp_path):
    from desktop_app.gui.labels_import_dialog import ImportLabelsDialog

    db = tmp_path / "import.sqlite"
    shutil.copy(sample_db, db)
    truth = sample_truth()
    with Engine.open(db, remember=False) as cat:
        cat.set_labels(["mh01-gray"], FIELD, "old")
        dlg = ImportLabelsDialog(cat, FIELD)
        qtbot.addWidget(dlg)
        assert not dlg.import_button.isEnabled()

        # Folder names: the sample keeps photos in m/h/..., so level 0 is "m", level 1 is "h".
        dlg.set_folder_level(1)
        rows = [dlg.preview.row(i) for i in range(dlg.preview.rowCount())]
        assert ("mh01-black", FIELD, None, "h") in rows and all(r[0] != "mh01-gray" for r in rows)
        assert "names: " in dlg.level_hint.text()
        dlg.set_folder_level(1, overwrite=True)
        rows = {r[0]: r for r in (dlg.preview.row(i) for i in range(dlg.preview.rowCount()))}
        assert rows["mh01-gray"] == ("mh01-gray", FIELD, "old", "h") and len(rows) == len(truth)

        # A CSV by path, with one row that is not in the catalog: previewed, then imported as shown.
        csv_path = tmp_path / "labels.csv"
        csv_path.write_text(
            "path,label\nm/h/mh01-black_main.jpg,hoodies\nx/y/unknown.jpg,tees\n", encoding="utf-8"
        )
        # Typed and Enter: the preview, nothing written, the dialog stays for the curator to look.
        dlg.show()
        qtbot.mouseClick(dlg.csv_radio, Qt.MouseButton.LeftButton, pos=QPoint(8, dlg.csv_radio.height() // 2))
        qtbot.keyClicks(dlg.csv_edit, str(csv_path))
        qtbot.keyClick(dlg.csv_edit, Qt.Key.Key_Return)
        assert dlg.isVisible() and dlg.preview.rowCount() == 1 and labels_now(cat) == {"mh01-gray": "old"}
        dlg.set_csv(csv_path)
        assert (
            dlg.preview.rowCount() == 1
            and "1 row is not in the catalog (x/y/unknown.jpg)" in dlg.summary.text()
        )
        assert labels_now(cat) == {"mh01-gray": "old"}  # previews write nothing
        report = dlg.apply()
        assert report.applied == 1 and report.unknown == ["x/y/unknown.jpg"]
        assert labels_now(cat) == {"mh01-gray": "old", "mh01-black": "hoodies"}
        assert last_event(cat)["action"] == "import"  # one decision, undone as one
        assert cat.undo(FIELD) and labels_now(cat) == {"mh01-gray": "old"}

        dlg = ImportLabelsDialog(cat, FIELD)
        qtbot.addWidget(dlg)
        dlg.set_csv(tmp_path / "absent.csv")
        assert "does not exist" in dlg.summary.text() and not dlg.import_button.isEnabled()


def labels_now(cat: Engine) -> dict[str, str]:
    return {a: d[FIELD] for a, d in cat.labels(FIELD).items()}


# ----------------------------------------------------------------------------- inbox


def test_inbox_copies_photos_where_the_grouping_rules_find_them(tmp_path):
    from desktop_app.gui.review_inbox import copy_into_inbox, plan_inbox
    from tests.conftest import write_photo

    root = tmp_path / "catalog-photos"
    write_photo(root / "old" / "a.jpg")
    delivery = tmp_path / "delivery"
    single = write_photo(tmp_path / "loose" / "sku9_main.jpg", seed=1)
    write_photo(delivery / "sku1" / "front.jpg", seed=2)
    write_photo(delivery / "sku1" / "back.png", seed=3, fmt="PNG")
    (delivery / "notes.txt").write_text("not a photo")
    write_photo(delivery / ".cache" / "t.jpg", seed=4)

    plan = plan_inbox(files=[single, root / "old" / "a.jpg"], folders=[delivery])
    assert sorted(i.rel for i in plan) == [
        "delivery/sku1/back.png",
        "delivery/sku1/front.jpg",
        "loose/sku9_main.jpg",
        "old/a.jpg",
    ]
    written = copy_into_inbox(plan, root)
    # The photo that is already in the catalog's folder is not duplicated.
    assert sorted(p.relative_to(root).as_posix() for p in written) == [
        "inbox/delivery/sku1/back.png",
        "inbox/delivery/sku1/front.jpg",
        "inbox/loose/sku9_main.jpg",
    ]
    assert (root / "inbox/loose/sku9_main.jpg").read_bytes() == single.read_bytes()
    assert not list(root.rglob(".incoming-*"))

    # Again: identical files are not copied twice; a different photo with the same name gets its own folder.
    write_photo(single, seed=7)
    again = copy_into_inbox(plan_inbox(files=[single], folders=[delivery]), root)
    assert [p.relative_to(root).as_posix() for p in again] == ["inbox/loose (2)/sku9_main.jpg"]


def test_inbox_photos_reach_the_review_queue_after_an_index_update(qtbot, catalog, client, tmp_path):
    from desktop_app.gui.review_inbox import InboxDialog

    # A private photo folder: the inbox is written into it.
    photos = tmp_path / "photos"
    shutil.copytree(catalog.photo_root(), photos)
    catalog.update_settings(photo_root=str(photos))
    delivery = tmp_path / "delivery"
    (delivery / "new").mkdir(parents=True)
    shutil.copy(photos / "m" / "h" / "mh01-gray_main.jpg", delivery / "new" / "mh09-teal_main.jpg")

    dlg = InboxDialog(photos)
    qtbot.addWidget(dlg)
    dlg.add(folders=[delivery])
    assert dlg.summary.text().startswith("1 photo to copy")
    copied = dlg.apply()
    assert [p.relative_to(photos).as_posix() for p in copied] == ["inbox/delivery/new/mh09-teal_main.jpg"]

    index_photos(catalog.path, photos)  # the main window's "Update index"
    q = make_queue(qtbot, catalog, client)
    assert q.select_article("mh09-teal")
    s = q.current_suggestion()
    assert s.neighbours[0].article.startswith("mh01-") and s.label == "men-hoodies"
    q.close()


def test_a_large_queue_comes_in_batches_skipped_articles_last(qtbot, catalog, client, monkeypatch):
    from desktop_app.core import labels as lab

    todo = sorted(unlabelled(catalog), key=catalog.search_index().av.articles.index)  # the catalog's order
    catalog.skip(todo[0], FIELD)
    data = catalog.review(FIELD, batch=3)
    assert [s.article for s in sorted(data.suggestions, key=lambda s: todo.index(s.article))] == todo[1:4]
    assert data.unlabelled == 16

    monkeypatch.setattr(lab, "REVIEW_BATCH", 5)
    q = make_queue(qtbot, catalog, client)
    try:
        first = {e.article for e in q.model.entries()}
        assert len(first) == 5 and "the first 5 of the 16 unlabelled articles" in q.batch_note.text()
        assert q.batch_note.isVisibleTo(q)
        catalog.set_labels(sorted(first), FIELD, "bags")  # labelled elsewhere, say
        with qtbot.waitSignal(q.ready, timeout=30000):
            qtbot.mouseClick(q.refresh_button, Qt.MouseButton.LeftButton)
        second = {e.article for e in q.model.entries()}
        assert len(second) == 5 and not first & second and "the first 5 of the 11" in q.batch_note.text()
    finally:
        q.close()


def test_esc_and_ctrl_w_close_the_queue_esc_clearing_a_typed_label_first(qtbot, catalog, client):
    for key, mods in (
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier),
    ):
        q = make_queue(qtbot, catalog, client)
        q.show()
        q.activateWindow()
        qtbot.waitUntil(q.isActiveWindow)  # shortcuts go to the active window
        if key == Qt.Key.Key_Escape:
            qtbot.keyClicks(q.label_edit, "beach")
            qtbot.keyClick(q.label_edit, key)  # the typed label goes, the window stays
            assert q.isVisible() and q.label_edit.text() == ""
        qtbot.keyClick(q.view, key, mods)
        assert not q.isVisible(), key


def test_set_label_enter_on_an_open_completion_sets_it_at_once(qtbot, catalog):
    from desktop_app.gui.labels_dialog import LabelEditDialog

    fresh = sorted(unlabelled(catalog))[:1]
    dlg = LabelEditDialog(catalog, fresh, FIELD)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow)
    edit = dlg.value_box.lineEdit()
    edit.clear()
    qtbot.keyClicks(edit, "ba")  # "bags" is offered
    popup = dlg.value_box.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        qtbot.keyClick(popup, Qt.Key.Key_Return)  # one Enter: the completion, and the dialog
    assert label_of(catalog, fresh[0]) == "bags"


def test_the_queue_label_field_takes_an_offered_label_with_one_enter(qtbot, catalog, client):
    q = make_queue(qtbot, catalog, client)
    q.show()
    q.activateWindow()
    qtbot.waitUntil(q.isActiveWindow)
    first, second = (e.article for e in q.model.entries()[:2])
    assert q.current_article() == first
    q.label_edit.setFocus()
    qtbot.keyClicks(q.label_edit, "ba")  # "bags" is offered
    popup = q.label_edit.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    decide(qtbot, q, Qt.Key.Key_Return, widget=popup)  # one Enter: the completion, and the label set
    assert label_of(catalog, first) == "bags"
    assert label_of(catalog, second) is None  # set once: the next article was not labelled too
    assert q.current_article() == second
    q.close()


# ----------------------------------------------------------------------------- the figures shown


def test_every_figure_of_a_suggestion_is_on_one_scale_and_never_contradicts_the_threshold(
    queue, catalog, qtbot, monkeypatch
):
    # Two real unlabelled articles, their suggestions as a fitted calibration makes them: the best label at
    # 99% calibrated with 89% of the votes, and one just under 90% that the bulk accept must leave.
    first, second, *_ = [e.suggestion for e in queue.model.entries()]
    sure = replace(
        first,
        label="men-pants",
        confidence=0.99,
        alternatives=[("men-pants", 0.89), ("women-pants", 0.1064), ("men-shorts", 0.0036)],
    )
    under = replace(
        second,
        label="women-pants",
        confidence=0.8996,
        alternatives=[("women-pants", 0.7), ("men-pants", 0.3)],
    )
    queue.model.reset([sure, under])
    queue.view.setFocus()
    press(qtbot, queue, Qt.Key.Key_Home)
    assert queue.current_article() == sure.article
    buttons = [b.text().split(" · ")[0] for b in queue.detail.alt_buttons if b.isVisibleTo(queue)]
    assert buttons == ["1  men-pants  99%", "2  women-pants  <1%", "3  men-shorts  <1%"]
    assert "confidence 99%" in queue.detail.suggestion_label.text()
    row = queue.model.index(0, SuggestionModel.ALTERNATIVES)
    assert [part.split(" (")[0] for part in queue.model.data(row).split(", ")] == [
        "women-pants <1%",
        "men-shorts <1%",
    ]
    shown = [percent for _, percent in sure.label_confidences()]
    assert sum(shown) <= 1.0 + 1e-9  # never 99% + 11%

    press(qtbot, queue, Qt.Key.Key_Down)
    assert queue.current_article() == under.article
    assert "confidence 89%" in queue.detail.suggestion_label.text()
    assert queue.model.data(queue.model.index(1, SuggestionModel.CONFIDENCE)) == "89%"

    queue.bulk_spin.setValue(90)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(queue.settled, timeout=T):
        qtbot.mouseClick(queue.bulk_button, Qt.MouseButton.LeftButton)
    assert label_of(catalog, sure.article) == "men-pants" and label_of(catalog, under.article) is None
    left = queue.model.data(queue.model.index(0, SuggestionModel.CONFIDENCE))
    assert [e.article for e in queue.model.entries()] == [under.article] and left == "89%"


def test_the_votes_behind_each_label_are_in_words_and_far_runners_up_are_not_offered(queue, catalog, qtbot):
    # The shape a curator met on Magento's lt01: the 2 closest of 10 neighbours say one label (98%
    # calibrated), 5 far ones another (<1% on the same scale: not offered), the 3rd closest a third (1%).
    s = queue.model.entries()[0].suggestion
    names = ["men-pants"] * 2 + ["men-shorts"] + ["women-pants"] * 5 + ["bags"] * 2
    scores = [0.9, 0.89, 0.86, 0.74, 0.74, 0.73, 0.73, 0.72, 0.7, 0.7]
    far = replace(
        s,
        label="men-pants",
        confidence=0.98,
        alternatives=[("men-pants", 0.97), ("men-shorts", 0.015), ("women-pants", 0.012)],
        neighbours=[Neighbour(f"n{i}", sc, n) for i, (sc, n) in enumerate(zip(scores, names, strict=True))],
    )
    queue.model.reset([far])
    queue.view.setFocus()
    press(qtbot, queue, Qt.Key.Key_Home)
    headline = queue.detail.suggestion_label.text()
    assert "confidence 98%" in headline and "2 of 10 neighbours (the 2 closest)" in headline
    first, second, third = queue.detail.alt_buttons
    assert first.text() == "1  men-pants  98% · 2/10" and first.isEnabled()
    assert second.text() == "2  men-shorts  1% · 1/10" and second.isEnabled()  # 1.0%: at the floor
    assert third.text() == "3  women-pants  <1% · 5/10" and not third.isEnabled()  # 0.8%: greyed
    assert "5 of 10 neighbours (the closest of them 4th)" in third.toolTip()
    row = queue.model.index(0, SuggestionModel.ALTERNATIVES)
    assert queue.model.data(row) == "men-shorts 1% (1/10), women-pants <1% (5/10)"

    # 3 picks nothing and says why; 2 picks the runner-up at the floor
    n = len(events(catalog))
    press(qtbot, queue, Qt.Key.Key_3)
    assert queue.work.writing is None and len(events(catalog)) == n
    assert label_of(catalog, far.article) is None
    assert "women-pants is below 1%" in queue.status.text()
    decide(qtbot, queue, Qt.Key.Key_2)
    assert label_of(catalog, far.article) == "men-shorts"


def test_ctrl_shift_z_and_ctrl_y_redo_what_undo_took_back_exactly(queue, catalog, qtbot):
    from desktop_app.core.label_sources import BULK_ACCEPTED

    undo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    redo_z = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    redo_y = (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    a = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_Return)
    accepted = (label_of(catalog, a), last_event(catalog)["new_source"])
    b = queue.current_article()
    decide(qtbot, queue, Qt.Key.Key_S)
    c = next(  # an article whose runner-up is offered (one below the floor writes nothing)
        e.suggestion.article
        for e in queue.model.entries()
        if e.suggestion.article not in (a, b)
        and len(e.suggestion.alternatives) >= 2
        and e.suggestion.evidence()[1].confidence >= PICK_FLOOR
    )
    queue.select_article(c)
    decide(qtbot, queue, Qt.Key.Key_2)
    picked = (label_of(catalog, c), last_event(catalog)["action"])
    for _ in range(3):
        decide(qtbot, queue, *undo)
    assert label_of(catalog, a) is None and label_of(catalog, c) is None
    assert queue.current_article() == a and queue.remaining() == 16
    # Redo, in the order they were made: the accept with its label and source, the skip, the alternative.
    decide(qtbot, queue, *redo_z)
    assert (label_of(catalog, a), last_event(catalog)["new_source"]) == accepted
    assert last_event(catalog)["action"] == "accept"
    assert a not in {e.article for e in queue.model.entries()} and queue.current_article() == b
    decide(qtbot, queue, *redo_y)
    assert last_event(catalog)["action"] == "skip" and queue.model.entries()[-1].article == b
    assert queue.model.entries()[-1].skipped
    decide(qtbot, queue, *redo_z)
    assert (label_of(catalog, c), last_event(catalog)["action"]) == picked
    assert queue.remaining() == 14
    # Nothing left to redo: the key says so and writes nothing.
    before = events(catalog)
    press(qtbot, queue, *redo_y)
    assert "Nothing to redo" in queue.status.text() and events(catalog) == before
    assert not queue.redo_button.isEnabled()
    # A bulk accept is redone as a whole, with the bulk source; a new decision clears what can be redone.
    n = queue.accept_all_above(0.0, confirm=False)
    qtbot.waitUntil(lambda: queue.work.writing is None, timeout=T)
    bulk = {e["article"]: e["new_value"] for e in events(catalog, n)}
    decide(qtbot, queue, *undo)
    assert all(label_of(catalog, x) is None for x in bulk)
    assert queue.redo_button.isEnabled()  # the button does what the keys do
    with qtbot.waitSignal(queue.settled, timeout=T):
        qtbot.mouseClick(queue.redo_button, Qt.MouseButton.LeftButton)
    assert {x: label_of(catalog, x) for x in bulk} == bulk
    assert {e["new_source"] for e in events(catalog, n)} == {BULK_ACCEPTED}
    decide(qtbot, queue, *undo)
    assert queue.work.redo_stack
    decide(qtbot, queue, Qt.Key.Key_S)
    assert queue.work.redo_stack == [] and not queue.redo_button.isEnabled()
    press(qtbot, queue, *redo_z)
    assert "Nothing to redo" in queue.status.text()


def test_how_reliable_shows_the_label_evaluation_and_saves_its_picture(
    queue, catalog, qtbot, tmp_path, monkeypatch
):
    from desktop_app.core.label_plot import SIZE, evaluation_png
    from desktop_app.gui import label_quality
    from desktop_app.gui.review_detail import ReviewToolbar

    button = queue.findChild(ReviewToolbar).quality_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = queue.findChild(label_quality.LabelQualityDialog)
    assert dialog is not None and dialog.isVisible() and not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.evaluation is not None, timeout=T)
    # The figures are the engine's own leave-one-out evaluation, in words and as the CLI's picture.
    expected = catalog.evaluate_labels(FIELD, queue.work.k)
    assert dialog.words.text() == label_quality.summary(expected)
    assert f"{expected.accuracy:.1%}" in dialog.words.text()
    assert dialog.png == evaluation_png(expected)
    pixmap = dialog.picture.pixmap
    assert (pixmap.width(), pixmap.height()) == SIZE and not dialog.busy.isVisible()
    target = tmp_path / "quality.png"
    monkeypatch.setattr(label_quality, "ask_export_path", lambda *a: target)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes() == dialog.png
    dialog.close()


def test_how_reliable_says_in_words_when_there_is_nothing_to_evaluate(queue, catalog, qtbot):
    from desktop_app.core.errors import UserError
    from desktop_app.gui.label_quality import LabelQualityDialog

    def fails():
        raise UserError("No article has a category label yet: label a few first.")

    dialog = LabelQualityDialog(FIELD, fails, queue._runner, queue)
    with qtbot.waitSignal(dialog.shown, timeout=T):
        dialog.show()
    assert dialog.words.text() == "No article has a category label yet: label a few first."
    assert dialog.png is None and not dialog.save_button.isEnabled()
    dialog.close()
