"""Undo and Redo where a curator probe found them missing (issue 12/13 follow-up), through real key presses:
a cover chosen with "Use as cover" is in Edit ▸ Undo/Redo, and an undone "not a match" selects its result
again."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.test_gui import T, big_tree
from tests.test_gui_curator import (
    active,
    card_centre,
    choose,
    context_menu,
    indexed,
    sample_window,
    show_results,
)

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def undo_key(qtbot, w, modifiers=CTRL) -> None:
    active(qtbot, w)
    with qtbot.waitSignal(w.history.changed, timeout=T):
        qtbot.keyClick(w, Qt.Key.Key_Z, modifiers)


def grid_cover(w, article: str) -> str:
    return w.snapshot.articles.covers[w.grid_model._key_index()[article]]


def use_as_cover(qtbot, w, view: str) -> None:
    table = w.detail.table
    # The page re-reads its photos after every cover change: wait for them (the rows are empty meanwhile).
    qtbot.waitUntil(lambda: any(r.view == view for r in w.detail.model.rows), timeout=T)
    row = next(i for i, r in enumerate(w.detail.model.rows) if r.view == view)
    menu = context_menu(qtbot, w, table.viewport(), table.visualRect(w.detail.model.index(row, 0)).center())
    with qtbot.waitSignals([w.detail_loaded, w.catalog_loaded], timeout=T):
        choose(qtbot, menu, "Use as cover")


def test_use_as_cover_is_undone_and_redone_from_the_edit_menu(qtbot, window, sample_copy):
    w = sample_window(qtbot, window, sample_copy)
    engine = w.snapshot.engine
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        w.open_detail("wj08-gray")
    use_as_cover(qtbot, w, "back")
    use_as_cover(qtbot, w, "alt1")
    assert grid_cover(w, "wj08-gray") == "w/j/wj08-gray_alt1.jpg"
    qtbot.waitUntil(lambda: w.acts.undo.text() == "Undo cover of wj08-gray", timeout=T)
    # Ctrl+Z puts back the choice the latest one replaced (the back view), then the automatic cover.
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        undo_key(qtbot, w)
    assert engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_back.jpg"
    assert grid_cover(w, "wj08-gray") == "w/j/wj08-gray_back.jpg"
    qtbot.waitUntil(lambda: w.acts.redo.text() == "Redo cover of wj08-gray", timeout=T)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        undo_key(qtbot, w)
    assert engine.chosen_cover("wj08-gray") is None
    assert grid_cover(w, "wj08-gray") == "w/j/wj08-gray_main.jpg"
    # Ctrl+Shift+Z does them again, in order; each redone choice can be undone again.
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        undo_key(qtbot, w, CTRL | SHIFT)
    assert engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_back.jpg"
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        undo_key(qtbot, w, CTRL | SHIFT)
    assert grid_cover(w, "wj08-gray") == "w/j/wj08-gray_alt1.jpg"
    qtbot.waitUntil(lambda: not w.acts.redo.isEnabled(), timeout=T)
    qtbot.waitUntil(lambda: w.acts.undo.text() == "Undo cover of wj08-gray", timeout=T)
    undo_key(qtbot, w)
    assert engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_back.jpg"
    # A new cover choice leaves nothing to redo.
    qtbot.waitUntil(w.acts.redo.isEnabled, timeout=T)
    use_as_cover(qtbot, w, "alternate")
    qtbot.waitUntil(lambda: not w.acts.redo.isEnabled(), timeout=T)


def test_undoing_a_cover_someone_changed_since_keeps_theirs(qtbot, window, sample_copy):
    from desktop_app.core.engine import Engine

    w = sample_window(qtbot, window, sample_copy)
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        w.open_detail("wj08-gray")
    use_as_cover(qtbot, w, "back")
    qtbot.waitUntil(lambda: w.acts.undo.text() == "Undo cover of wj08-gray", timeout=T)
    with Engine.open(w.snapshot.engine.path, remember=False) as other:  # another curator, another connection
        other.set_cover("wj08-gray", "w/j/wj08-gray_alt1.jpg")
    undo_key(qtbot, w)
    qtbot.waitUntil(
        lambda: w.history.conflict_box is not None and w.history.conflict_box.isVisible(), timeout=T
    )
    w.history.conflict_box.close()
    assert w.snapshot.engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_alt1.jpg"
    # That cover choice left the history: Undo does not offer it again.
    qtbot.waitUntil(lambda: w.acts.undo.text() != "Undo cover of wj08-gray", timeout=T)


def test_an_undone_not_a_match_comes_back_selected(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=6, per=2))
    hits = [h.article for h in show_results(qtbot, w, "art00").hits]
    engine = w.snapshot.engine
    view = w.similar.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 1))
    assert w.similar.selected_hit() == hits[1]
    active(qtbot, w)
    view.setFocus()
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.keyClick(view, Qt.Key.Key_3)  # not a match: it leaves the list, the next one is selected
    qtbot.waitUntil(lambda: hits[1] not in {h.article for h in w.similar.model.hits}, timeout=T)
    assert w.similar.selected_hit() == hits[2]
    qtbot.waitUntil(lambda: w.acts.undo.text().startswith("Undo “not a match”"), timeout=T)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        undo_key(qtbot, w)
    assert engine.decisions_with(["art00"]) == {}
    assert [h.article for h in w.similar.model.hits] == hits
    assert w.similar.selected_hit() == hits[1]  # back where the undone decision was
    # Redo sets it aside again; the selection moves on as when it was decided. (Edit ▸ Redo is enabled when
    # the history has read the undo back, which can come after the panel's answer.)
    qtbot.waitUntil(lambda: w.acts.redo.isEnabled(), timeout=T)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        undo_key(qtbot, w, CTRL | SHIFT)
    assert engine.decisions_with(["art00"]) == {hits[1]: "not_match"}
    assert hits[1] not in {h.article for h in w.similar.model.hits}
