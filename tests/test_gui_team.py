"""The app's parts of issues 13 and 14: match decisions from the similar panel and the inspector (badges,
"not a match" hidden unless asked for, another curator's decision shown), learning from decisions in a
child process with progress and cancel, and shared catalogs on PostgreSQL (URL, password prompt, offline
photos, conflicts named). Real input events, a real server, real child processes."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.core.engine import Engine
from desktop_app.gui.results import DecisionRole
from tests.conftest import write_photo
from tests.test_gui import T, big_tree
from tests.test_gui_curator import (
    active,
    answer_dialog,
    card_centre,
    indexed,
    lightbox_from_grid,
    show_results,
)


def click_result(qtbot, w, row: int) -> str:
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, row))
    return w.similar.selected_hit()


def test_a_photo_of_the_article_as_query_carries_its_decisions(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    first = [h.article for h in show_results(qtbot, w, "art00").hits]
    engine = w.snapshot.engine
    engine.decide("art00", first[0], "not_match")
    engine.decide("art00", first[1], "alike")
    # The detail page: its selected photo is the query, and the article's decisions hold for it.
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        qtbot.keyClick(w.grid, Qt.Key.Key_Return)
    table = w.detail.table  # the curator picks a photo (the page opens on the article's question)
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.currentIndex()).center()
    )
    qtbot.waitUntil(
        lambda: w.search.last_outcome is not None and w.search.last_outcome.query.kind == "photo", timeout=T
    )
    hits = {h.article: h.decision for h in w.similar.model.hits}
    assert first[0] not in hits and hits[first[1]] == "alike"
    assert "1 hidden" in w.similar.status.full_text()
    # Decisions are made against the article, from its photo's results too.
    row = w.similar.model.row_of(first[2])
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, row))
    assert w.similar.decisions.buttons["same"].isEnabled()
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.mouseClick(w.similar.decisions.buttons["same"], Qt.MouseButton.LeftButton)
    assert engine.decisions_with(["art00"])[first[2]] == "same"


def test_decide_from_the_panel_with_keys_and_buttons(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    show_results(qtbot, w, "art00")
    engine = w.snapshot.engine
    hit = click_result(qtbot, w, 0)
    active(qtbot, w)
    w.similar.view.setFocus()
    # Key 1: same product; the card shows a badge and the button is down.
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.keyClick(w.similar.view, Qt.Key.Key_1)
    assert engine.decisions_with(["art00"]) == {hit: "same"}
    assert w.similar.model.index(0, 0).data(DecisionRole) == "same"
    assert w.similar.decisions.buttons["same"].isChecked()
    # Clicking the same button again takes it back.
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.mouseClick(w.similar.decisions.buttons["same"], Qt.MouseButton.LeftButton)
    assert engine.decisions_with(["art00"]) == {} and not w.similar.decisions.buttons["same"].isChecked()
    # Key 3: not a match; the result leaves the list, and the panel says one is hidden, in its one-line
    # header (at 1366x768 the longer wording wrapped onto two lines and pushed the results down).
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.width() == 1366)
    n, top = w.similar.model.rowCount(), w.similar.view.mapTo(w, w.similar.view.rect().topLeft()).y()
    after = w.similar.model.hits[1].article
    with qtbot.waitSignal(w.results_shown, timeout=T):
        qtbot.keyClick(w.similar.view, Qt.Key.Key_3)
    assert hit not in {h.article for h in w.similar.model.hits} and w.similar.model.rowCount() == n - 1
    # The next result is selected in its place: the next key decides on it.
    assert w.similar.selected_hit() == after and w.similar.decisions.buttons["alike"].isEnabled()
    QApplication.processEvents()  # the layout settles
    assert w.similar.view.mapTo(w, w.similar.view.rect().topLeft()).y() == top
    assert w.similar.status.height() < 2 * w.similar.status.fontMetrics().height()
    assert "1 hidden" in w.similar.status.full_text() and "not a match" in w.similar.status.toolTip()
    # "Show “not a match”" brings it back with its badge.
    with qtbot.waitSignal(w.results_shown, timeout=T):
        qtbot.mouseClick(w.similar.rejected_check, Qt.MouseButton.LeftButton)
    assert w.acts.show_rejected.isChecked()
    row = w.similar.model.row_of(hit)
    assert row >= 0 and w.similar.model.index(row, 0).data(DecisionRole) == "not_match"
    # Decisions need one query article: with two selected, the buttons and keys are off.
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_articles(["art00", "art01"])
    click_result(qtbot, w, 0)
    assert not w.similar.decisions.buttons["alike"].isEnabled()
    assert not w.similar.decision_actions["alike"].isEnabled()


def test_decision_keys_pressed_fast_are_each_applied_in_order(qtbot, window, tmp_path):
    # A curator going down the results presses keys faster than a decision is saved. Each press must land:
    # on the result it was meant for (the next one, after "not a match" set one aside) and in the order
    # pressed (a take-back right after a decision must not come first, nor read as another's change).
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=12, per=2))
    hits = [h.article for h in show_results(qtbot, w, "art00").hits]
    assert len(hits) >= 10
    engine = w.snapshot.engine
    assert click_result(qtbot, w, 0) == hits[0]
    active(qtbot, w)
    view = w.similar.view
    view.setFocus()
    for _ in range(3):  # "not a match" three times, without waiting: the first three results
        qtbot.keyClick(view, Qt.Key.Key_3)
    assert w.similar.selected_hit() == hits[3]  # the selection went ahead at once, not after the save
    rejected = {a: "not_match" for a in hits[:3]}
    qtbot.waitUntil(lambda: engine.decisions_with(["art00"]) == rejected, timeout=T)
    qtbot.waitUntil(lambda: not set(hits[:3]) & {h.article for h in w.similar.model.hits}, timeout=T)
    assert w.similar.selected_hit() == hits[3]
    # Same product then look-alike on one result, then same product and a take-back on the next, then
    # same product on two results with Right between them: all at once.
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_Right, Qt.Key.Key_1, Qt.Key.Key_0):
        qtbot.keyClick(view, key)
    for key in (Qt.Key.Key_Right, Qt.Key.Key_1, Qt.Key.Key_Right, Qt.Key.Key_1):
        qtbot.keyClick(view, key)
    wanted = {**rejected, hits[3]: "alike", hits[5]: "same", hits[6]: "same"}
    qtbot.waitUntil(lambda: engine.decisions_with(["art00"]) == wanted, timeout=T)
    # The panel shows each decision when its write comes back (the last one just after the catalog has it).
    shown = ["alike", None, "same", "same"]
    qtbot.waitUntil(lambda: [h.decision for h in w.similar.model.hits[:4]] == shown, timeout=T)
    assert w.decisions.conflict_box is None  # my own earlier press is not "another curator's" decision
    # Closing the window right after the keys: the decisions still waiting are written, not dropped.
    location = w.snapshot.location
    for key in (
        Qt.Key.Key_Right,
        Qt.Key.Key_2,
        Qt.Key.Key_Right,
        Qt.Key.Key_2,
        Qt.Key.Key_Right,
        Qt.Key.Key_2,
    ):
        qtbot.keyClick(view, key)
    w.close()
    with Engine.open(location) as again:
        assert again.decisions_with(["art00"]) == {**wanted, **{a: "alike" for a in hits[7:10]}}


def test_decisions_waiting_when_the_catalog_closes_are_written(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=6, per=2))
    hits = [h.article for h in show_results(qtbot, w, "art00").hits]
    location = w.snapshot.location
    assert click_result(qtbot, w, 0) == hits[0]
    active(qtbot, w)
    w.similar.view.setFocus()
    for key in (Qt.Key.Key_2, Qt.Key.Key_Right, Qt.Key.Key_2, Qt.Key.Key_Right, Qt.Key.Key_2):
        qtbot.keyClick(w.similar.view, key)
    w.close_catalog()  # at once: the presses still waiting go to the catalog before it closes
    assert w.snapshot is None
    with Engine.open(location) as again:
        assert again.decisions_with(["art00"]) == {a: "alike" for a in hits[:3]}


def test_a_close_writes_the_waiting_press_after_the_one_on_its_way(qtbot, window, tmp_path, monkeypatch):
    # "Same product" is being written (held here) when "look-alike" is pressed on the same pair and the
    # catalog closes at once: the look-alike must be written after it, not before it (and the catalog
    # must not close under the write on its way).
    import threading

    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    hits = [h.article for h in show_results(qtbot, w, "art00").hits]
    location = w.snapshot.location
    engine = w.snapshot.engine
    release, started = threading.Event(), threading.Event()
    real = engine.decide

    def held(*args, **kwargs):
        if not started.is_set():  # the first write waits; the ones after it go straight through
            started.set()
            release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "decide", held)
    assert click_result(qtbot, w, 0) == hits[0]
    active(qtbot, w)
    w.similar.view.setFocus()
    qtbot.keyClick(w.similar.view, Qt.Key.Key_1)
    assert started.wait(20)
    assert w.similar.selected_hit() == hits[0]  # "same product" keeps the result selected
    qtbot.keyClick(w.similar.view, Qt.Key.Key_2)
    threading.Timer(0.5, release.set).start()
    w.close_catalog()
    with Engine.open(location) as again:
        assert again.decisions_with(["art00"]) == {hits[0]: "alike"}
        again.undo_decision()  # both were written, in the order pressed: undo goes back to the first
        assert again.decisions_with(["art00"]) == {hits[0]: "same"}


def test_presses_waiting_behind_a_refused_decision_on_the_same_pair_are_said_not_written(
    qtbot, window, tmp_path
):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    hits = [h.article for h in show_results(qtbot, w, "art00").hits]
    engine = w.snapshot.engine
    engine.catalog.decide([("art00", hits[0], "alike")], curator="anna", force=True)  # not on show yet
    assert click_result(qtbot, w, 0) == hits[0]
    active(qtbot, w)
    w.similar.view.setFocus()
    said: list[str] = []
    w.decisions.message.connect(said.append)
    qtbot.keyClick(w.similar.view, Qt.Key.Key_1)  # refused: Anna decided the pair meanwhile
    qtbot.keyClick(w.similar.view, Qt.Key.Key_0)  # meant over my own "same": not written either, and said
    qtbot.waitUntil(lambda: w.decisions.conflict_box is not None, timeout=T)
    qtbot.waitUntil(lambda: any("1 later decision" in m for m in said), timeout=T)
    assert engine.decisions_with(["art00"]) == {hits[0]: "alike"}  # theirs stands
    assert w.similar.model.hits[0].decision == "alike"
    box = w.decisions.conflict_box
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # Esc keeps theirs and closes the box
    assert not box.isVisible()


def test_import_and_export_decisions_from_the_match_menu(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    first = show_results(qtbot, w, "art00").hits[0].article
    engine = w.snapshot.engine
    table = tmp_path / "decisions.csv"
    table.write_text(f"article_a,article_b,decision\nart00,{first},not_match\nart01,art02,same\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), ""))
    # Imported as one step: the result decided "not a match" leaves the list, and Undo is offered.
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.acts.import_decisions.trigger()
    assert first not in {h.article for h in w.similar.model.hits}
    assert engine.decisions_with(["art01"]) == {"art02": "same"}
    qtbot.waitUntil(lambda: w.acts.undo.isEnabled(), timeout=T)
    assert "Imported 2 decisions" in w.statusBar().currentMessage()
    assert w.acts.undo.text() == "Undo 2 match decisions"  # the whole import, as Undo takes it back
    # A file that would replace another curator's decision writes nothing until the curator says so.
    engine.catalog.decide([("art03", "art04", "alike")], curator="anna", force=True)
    table.write_text("article_a,article_b,decision\nart03,art04,not_match\n")
    w.acts.import_decisions.trigger()
    qtbot.waitUntil(
        lambda: w.decisions.conflict_box is not None and w.decisions.conflict_box.isVisible(), timeout=T
    )
    assert "anna" in w.decisions.conflict_box.informativeText()
    assert engine.decisions_with(["art03"])["art04"] == "alike"
    mine = next(b for b in w.decisions.conflict_box.buttons() if b.text() == "Use mine")
    qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.decisions_with(["art03"])["art04"] == "not_match", timeout=T)
    out = tmp_path / "out.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w.acts.export_decisions.trigger()
    qtbot.waitUntil(lambda: "Wrote 3 decisions" in w.statusBar().currentMessage(), timeout=T)
    assert out.read_text().splitlines()[0].startswith("article_a,article_b,decision")


def test_a_long_import_shows_its_progress_and_cancel_writes_nothing(qtbot, window, tmp_path, monkeypatch):
    import itertools
    import threading

    import shiboken6
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from desktop_app.gui import decisions_controller

    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    engine = w.snapshot.engine
    keys = [f"extra/a{i:03d}" for i in range(80)]
    engine.catalog.sync_articles(keys)
    pairs = list(itertools.combinations(keys, 2))[:3000]
    table = tmp_path / "many.csv"
    table.write_text("article_a,article_b,decision\n" + "".join(f"{a},{b},alike\n" for a, b in pairs))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), ""))
    # The worker is held after its first block of rows, as a large file keeps it busy, until the curator
    # has clicked Cancel.
    release = threading.Event()
    real = decisions_controller.import_in_thread

    def held(engine, path, force, progress, should_cancel):
        def report(p):
            progress(p)
            if p[0] > 0:
                release.wait(T / 1000)

        return real(engine, path, force, report, should_cancel)

    monkeypatch.setattr(decisions_controller, "import_in_thread", held)
    w.acts.import_decisions.trigger()
    qtbot.waitUntil(
        lambda: (d := w.decisions.import_dialog) is not None and d.isVisible() and d.value() > 0, timeout=T
    )
    dialog = w.decisions.import_dialog
    assert dialog.maximum() == len(pairs) and 0 < dialog.value() < len(pairs)
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    release.set()
    qtbot.waitUntil(lambda: "cancelled" in w.statusBar().currentMessage(), timeout=T)
    assert "no decision was written" in w.statusBar().currentMessage()
    assert w.decisions.import_dialog is None and not (shiboken6.isValid(dialog) and dialog.isVisible())
    assert engine.decisions() == [] and not w.acts.undo.isEnabled()
    # Not held, the same file goes in whole, as one step.
    monkeypatch.setattr(decisions_controller, "import_in_thread", real)
    w.acts.import_decisions.trigger()
    qtbot.waitUntil(lambda: "Imported 3,000 decisions" in w.statusBar().currentMessage(), timeout=T)
    assert len(engine.decisions()) == len(pairs)
    qtbot.waitUntil(lambda: w.acts.undo.isEnabled(), timeout=T)
    assert w.acts.undo.text() == "Undo 3,000 match decisions"


def test_decide_in_the_inspector_and_see_another_curators_decision(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w, "art00")
    hit = click_result(qtbot, w, 0)
    w.inspect(hit)
    ins = w.inspector_window
    with qtbot.waitSignal(ins.ready, timeout=T):
        pass
    active(qtbot, ins)
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.keyClick(ins, Qt.Key.Key_2)  # look-alike
    engine = w.snapshot.engine
    assert engine.decisions_with(["art00"]) == {hit: "alike"}
    assert ins.decisions.buttons["alike"].isChecked()
    qtbot.waitUntil(
        lambda: w.similar.model.index(0, 0).data(DecisionRole) == "alike", timeout=T
    )  # the panel too
    # Another curator decides the pair meanwhile; deciding here is refused and names them.
    engine.catalog.decide([("art00", hit, "not_match")], curator="anna", force=True)
    with qtbot.waitSignal(w.decisions.decided, timeout=T) as blocker:
        qtbot.mouseClick(ins.decisions.buttons["same"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["art00", hit, "not_match"]  # every view shows the decision that stands
    box = w.decisions.conflict_box
    assert box is not None and box.isVisible()
    assert "anna" in box.informativeText() and "not a match" in box.informativeText()
    assert engine.decisions_with(["art00"]) == {hit: "not_match"}
    assert ins.decisions.buttons["not_match"].isChecked()
    # "Use mine" overwrites, on purpose.
    mine = next(b for b in box.buttons() if b.text() == "Use mine")
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
    assert engine.decisions_with(["art00"]) == {hit: "same"}
    ins.close()


def test_learn_from_my_decisions_in_a_child_process_and_switch_it_off(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=8, per=3))
    first = [h.article for h in show_results(qtbot, w, "art00").hits]
    engine = w.snapshot.engine
    engine.decide("art00", first[0], "same")
    engine.decide("art00", first[1], "not_match")
    dialog = w.decisions.open_adapter_dialog()
    qtbot.waitUntil(lambda: "You marked 1 pair" in dialog.counts.text(), timeout=T)
    assert not dialog.use.isEnabled()  # nothing learned yet
    # Cancel: the child stops at its next check and nothing is stored.
    dialog.kind.setCurrentIndex(dialog.kind.findData("linear"))
    qtbot.mouseClick(dialog.train_btn, Qt.MouseButton.LeftButton)
    assert dialog.job is not None and dialog.cancel_btn.isEnabled()
    qtbot.mouseClick(dialog.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.job is None, timeout=60000)
    if "Cancelled" in dialog.note.text():
        assert engine.adapter_status()["stored"] == []
    # Learn (the quick method): progress, then stored and switched on; the search child reloads its vectors.
    dialog.kind.setCurrentIndex(dialog.kind.findData("whitening"))
    with qtbot.waitSignal(dialog.changed, timeout=60000):
        qtbot.mouseClick(dialog.train_btn, Qt.MouseButton.LeftButton)
    status = engine.adapter_status()
    assert status["active"] is not None and dialog.use.isChecked()
    assert "Learned adapter" in dialog.note.text()
    assert dialog.height() >= dialog.sizeHint().height()  # the note does not crush the form above it
    qtbot.waitUntil(lambda: w.acts.use_adapter.isChecked(), timeout=T)
    assert w.status.adapter_label.isVisibleTo(w)  # the status bar says search is learned, not the model's own
    with qtbot.waitSignal(w.results_shown, timeout=T) as adapted:
        w.search.rerun()
    # Off from the Match menu: the frozen ranking comes back exactly.
    with qtbot.waitSignal(w.results_shown, timeout=T) as frozen:
        w.acts.use_adapter.trigger()
    assert engine.adapter_status()["active"] is None and not w.acts.use_adapter.isChecked()
    assert not w.status.adapter_label.isVisibleTo(w)
    hits = [h.article for h in frozen.args[0].hits]
    assert hits == [a for a in first if a != first[1]]  # (the not-a-match result stays hidden)
    assert adapted.args[0].hits[0].score != frozen.args[0].hits[0].score
    # On again from the menu: its vectors are prepared in a child process, then search uses them.
    with qtbot.waitSignal(w.results_shown, timeout=60000) as again:
        w.acts.use_adapter.trigger()
        assert w.decisions.switch_job is not None
    assert engine.adapter_status()["active"] is not None and w.acts.use_adapter.isChecked()
    assert again.args[0].hits[0].score == pytest.approx(adapted.args[0].hits[0].score, abs=1e-5)
    # Off and on again in the dialog: on goes through the child too, with the dialog's progress bar.
    with qtbot.waitSignal(dialog.changed, timeout=T):
        dialog.use.setChecked(False)
    with qtbot.waitSignal(dialog.changed, timeout=60000):
        dialog.use.setChecked(True)
        assert dialog.job is not None and not dialog.training and dialog.progress.isVisible()
    assert engine.adapter_status()["active"] is not None and "uses the learned" in dialog.note.text()
    dialog.close()


# ----------------------------------------------------------------------------- shared catalogs (issue 14)


@pytest.fixture
def pw_catalog(pg_server, photo_tree, tiny_model, monkeypatch):
    """A shared catalog whose server wants a password (role pwuser, password secret-pw), indexed."""
    import psycopg

    from desktop_app.core.engine import index_photos

    name = f"pw{os.getpid()}_{id(photo_tree) % 100000}"
    with psycopg.connect(pg_server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER pwuser")
    url = pg_server.replace("postgres@", "pwuser@") + f"/{name}"
    monkeypatch.setenv("PGPASSWORD", "secret-pw")
    index_photos(url, photo_tree, model=str(tiny_model.manifest_path))
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", os.devnull)  # no ~/.pgpass of the machine running the tests
    return url


def test_open_a_shared_catalog_asking_for_its_password(qtbot, window, pw_catalog, photo_tree):
    from desktop_app.core.storage.passwords import typed_password

    w = window()
    with_password = pw_catalog.replace("pwuser@", "pwuser:typed-in-url@")
    w.catalogs.choose_shared()
    dialog = w.catalogs.shared_dialog
    qtbot.keyClicks(dialog.url, with_password)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    # A password typed into the URL is moved out of it (and is wrong here): the server asks, so does the app.
    # It is kept for this catalog's login only, never in the environment (it would go to every server).
    assert typed_password(pw_catalog) == "typed-in-url" and "PGPASSWORD" not in os.environ
    assert typed_password(pw_catalog.replace("/pw", "/other")) is None
    qtbot.waitUntil(
        lambda: w.catalogs.password_dialog is not None and w.catalogs.password_dialog.isVisible(), timeout=T
    )
    prompt = w.catalogs.password_dialog
    assert "typed-in-url" not in prompt.labelText()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        prompt.setTextValue("secret-pw")
        prompt.accept()
    snap = w.snapshot
    assert snap.path is None and snap.location == pw_catalog
    assert "secret-pw" not in w.windowTitle() and " on 127.0.0.1" in w.windowTitle()
    assert w.grid_model.rowCount() == 3 and not w.root_frame.isVisible()
    from desktop_app.core.settings import UserSettings

    settings = UserSettings.load()
    assert pw_catalog in settings.recent and "secret-pw" not in str(settings)
    # Search works through the engine child, which sees the typed password.
    w.search.client.in_subprocess = True
    show_results(qtbot, w, "red")
    assert w.similar.model.rowCount() == 2
    assert "PGPASSWORD" not in os.environ and typed_password(pw_catalog) == "secret-pw"
    # So does an index run in its own child process: a new photo is added with the typed password.
    write_photo(photo_tree / "red" / "p9.jpg", (190, 40, 40), seed=99)
    w.indexer.in_subprocess = True
    with qtbot.waitSignal(w.index_finished, timeout=T) as blocker:
        w.update_index()
    assert not blocker.args[0].cancelled and blocker.args[0].embedded == 1


def test_shared_catalog_offline_photos_and_a_named_label_conflict(
    qtbot, window, pg_url, photo_tree, tiny_model, tmp_path, monkeypatch
):
    from desktop_app.core.engine import index_photos

    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    mount = tmp_path / "other-machine"
    photo_tree.rename(mount)  # this machine sees the photo folder somewhere else
    w = window()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(pg_url)
    assert w.root_frame.isVisible() and w.locate_btn.isVisible()
    monkeypatch.setattr(
        "desktop_app.gui.catalog_controller.QFileDialog.getExistingDirectory", lambda *a, **k: str(mount)
    )
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.mouseClick(w.locate_btn, Qt.MouseButton.LeftButton)
    assert not w.root_frame.isVisible() and w.snapshot.photo_root == mount.resolve()
    # Another curator labels an article; this curator's label on it is refused, naming them and when.
    with Engine.open(pg_url, remember=False) as other:
        other.catalog.set_labels([("red", "category", "coats")], curator="anna")
    w.select_articles(["red"])

    def type_label(dialog) -> None:
        qtbot.keyClicks(dialog.value_box.lineEdit(), "jackets")
        qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.new_value_box is not None, timeout=T)  # no article says jackets yet
        yes = dialog.new_value_box.button(QMessageBox.StandardButton.Yes)
        qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.conflict_box is not None, timeout=T)
        text = dialog.conflict_box.informativeText()
        assert "anna" in text and "coats" in text and "today at" in text
        dialog.conflict_box.close()
        dialog.reject()

    answer_dialog(qtbot, type_label)
    w.labels.set_label()
    assert w.snapshot.engine.labels("category") == {"red": {"category": "coats"}}


def test_the_welcome_screen_opens_shared_catalogs_and_lists_them(qtbot, window):
    w = window()
    assert w.welcome.shared_btn.isVisible()
    qtbot.mouseClick(w.welcome.shared_btn, Qt.MouseButton.LeftButton)
    dialog = w.catalogs.shared_dialog
    qtbot.keyClicks(dialog.url, "mysql://x@y/z")
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "PostgreSQL" in dialog.error.text()
    dialog.reject()
    w.welcome.set_recent(["postgresql+psycopg://anna@server:5432/luma"])
    assert w.welcome.recent.item(0).text().startswith("luma on server:5432")


def test_the_status_bar_says_when_the_adapter_searches_without_s(qtbot):
    from PySide6.QtWidgets import QStatusBar

    from desktop_app.gui.status_panel import StatusPanel

    bar = QStatusBar()
    qtbot.addWidget(bar)
    panel = StatusPanel(bar)
    why = "Adapter 1 searches without s: s=0.5 was set for the frozen vectors."
    panel.show_adapter({"active": {"kind": "whitening"}, "note": why})
    assert panel.adapter_label.text() == "Learned similarity: on (no s yet)"
    assert why in panel.adapter_label.toolTip()
    panel.show_adapter({"active": {"kind": "whitening"}, "note": None})
    assert panel.adapter_label.text() == "Learned similarity: on"


def test_a_client_without_the_photos_shows_the_catalogs_thumbnails(
    qtbot, window, pg_url, photo_tree, tiny_model, tmp_path, monkeypatch
):
    """Machine A indexed the photos into the shared catalog; machine B (its own settings and thumbnail cache)
    maps the photo share where it is not mounted: its grid and its result cards show the photos (the
    catalog's thumbnails, read a screenful at a time), and the banner says the photos are offline."""
    from PySide6.QtGui import QPixmap

    from desktop_app.core.engine import index_photos
    from desktop_app.core.storage import Catalog

    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "shoes/blue": (30, 30, 200)}
    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    home_b = tmp_path / "machine-b"
    home_b.mkdir()
    monkeypatch.setenv("LOOKALIKE_HOME", str(home_b))
    with Engine.open(pg_url, remember=False) as engine:
        engine.map_photo_root(tmp_path / "mnt" / "nothere" / "photos")
    reads: list[int] = []
    real = Catalog.thumbnails_of
    monkeypatch.setattr(
        Catalog, "thumbnails_of", lambda self, paths: reads.append(len(paths)) or real(self, paths)
    )
    w = window()
    w.thumbs.pause()  # the cells on screen ask first; the workers then answer them together
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(pg_url)
    assert w.root_frame.isVisible()  # the photos are offline, and the window says so
    grid = w.grid_model
    qtbot.waitUntil(lambda: w.thumbs.pending() >= grid.rowCount() == 3, timeout=T)
    w.thumbs.resume()

    def pictures(model) -> dict[str, QPixmap]:
        shown = {}
        for row in range(model.rowCount()):
            pix = model.index(row, 0).data(Qt.ItemDataRole.DecorationRole)
            if isinstance(pix, QPixmap):
                shown[model.index(row, 0).data(Qt.ItemDataRole.DisplayRole)] = pix
        return shown

    qtbot.waitUntil(lambda: len(pictures(grid)) == 3, timeout=T)

    def assert_photo(article: str, pix: QPixmap) -> None:
        assert (pix.width(), pix.height()) == (64, 48)  # the photo itself, not the 160 px "cannot show" tile
        centre = pix.toImage().pixelColor(32, 24)
        got = (centre.red(), centre.green(), centre.blue())
        assert max(abs(a - b) for a, b in zip(got, colours[article])) < 40, (article, got)

    for article, pix in pictures(grid).items():
        assert_photo(article, pix)
        assert not w.thumbs.is_broken(grid.cover_path(grid.row_of(article)))
    assert sum(reads) == 3 and len(reads) <= 2  # one read per worker, not one per thumbnail
    # The result cards show the same pictures.
    show_results(qtbot, w, "red")
    results = w.similar.model
    qtbot.waitUntil(lambda: len(pictures(results)) == results.rowCount() > 0, timeout=T)
    for article, pix in pictures(results).items():
        assert_photo(article, pix)
    # They are cached on machine B, in its own thumbnail cache.
    assert any((home_b / "thumbnails").rglob("*.jpg"))
    # The lightbox (Space) shows the catalog's thumbnail of a photo that cannot be read here, and says so.
    box = lightbox_from_grid(qtbot, w, "green")
    assert box.canvases[0].image_size() == (64, 48)
    assert "offline: showing the catalog's thumbnail" in box.captions[0].text()
