"""The catalog map kept honest with the rest of the window, on the real sample photos: its Undo takes back the
label the map set and nothing else (it is Edit ▸ Undo for that decision), its selection is the grid's, it is
not laid out again at every re-read of an index run, nothing of another catalog or an earlier question stays
on it, and Ctrl+M brings it forward before it closes it."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.gui import index_controller, map_controller
from tests.test_gui import T, big_tree, open_and_index
from tests.test_gui_map import lasso, show_map, viewport_point
from tests.test_gui_map import map_window as map_window  # noqa: F401 (the fixture)

pytest.importorskip("openTSNE", reason="install the [map] extra")

CTRL = Qt.KeyboardModifier.ControlModifier


def activate(qtbot, w) -> None:
    """Keyboard shortcuts reach the active window only."""
    with qtbot.waitActive(w, timeout=T):
        w.activateWindow()


def lasso_left_half(qtbot, view) -> list[str]:
    """Lasso the left half of the map with the mouse; the articles it took in."""
    view.fit()
    pts = {k: viewport_point(view, k) for k in view.keys}
    mid = sorted(p.x() for p in pts.values())[len(pts) // 2]
    top, bottom = min(p.y() for p in pts.values()) - 5, max(p.y() for p in pts.values()) + 5
    left = min(p.x() for p in pts.values()) - 5
    with qtbot.waitSignal(view.lasso_selected, timeout=T) as blocker:
        lasso(qtbot, view, [QPoint(left, top), QPoint(mid, top), QPoint(mid, bottom), QPoint(left, bottom)])
    return blocker.args[0]


def label_from_the_map(qtbot, w, value: str) -> None:
    """Type a category in the map's bar and press Enter (replacing labels: Yes), as a curator does."""
    panel = w.map.panel
    panel.field.setCurrentText("category")
    panel.value.clear()
    qtbot.keyClicks(panel.value, value)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.keyClick(panel.value, Qt.Key.Key_Return)


def category(w, keys) -> dict[str, str | None]:
    labels = w.snapshot.engine.labels("category")
    return {k: labels.get(k, {}).get("category") for k in keys}


def test_map_undo_takes_back_the_maps_label_only(qtbot, map_window, monkeypatch):
    w = map_window
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    activate(qtbot, w)
    show_map(qtbot, w)
    view, panel, engine = w.map.view, w.map.panel, w.snapshot.engine
    chosen = lasso_left_half(qtbot, view)
    # An earlier edit of yours the map did not make (as `lookalike labels set` would).
    outside = next(k for k in view.keys if k not in chosen)
    engine.set_labels([outside], "category", "watches")
    before = category(w, chosen)
    assert not panel.undo.isEnabled()

    label_from_the_map(qtbot, w, "bags")
    assert set(category(w, chosen).values()) == {"bags"}
    assert f"on {len(chosen)} articles" in w.statusBar().currentMessage()
    qtbot.waitUntil(panel.undo.isEnabled, timeout=T)
    # Edit ▸ Undo names it once the window's history has read the catalog (on the catalog's thread).
    wanted = f"Undo category “bags” on {len(chosen)} articles"
    qtbot.waitUntil(lambda: w.acts.undo.text() == wanted, timeout=T)

    # Ctrl+Z (focus went back to the map, so the key is Edit ▸ Undo's, not the label box's): the bags go;
    # the map's Undo then has nothing of its own to take back, and clicking it does nothing.
    assert view.hasFocus()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert category(w, chosen) == before and category(w, [outside])[outside] == "watches"
    qtbot.waitUntil(lambda: not panel.undo.isEnabled(), timeout=T)
    qtbot.mouseClick(panel.undo, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert category(w, [outside])[outside] == "watches"

    # Set again, then the map's own Undo: exactly that decision, as Edit ▸ Undo does it (Redo can write it
    # again), and "watches" is next in line, untouched.
    label_from_the_map(qtbot, w, "bags")
    qtbot.waitUntil(panel.undo.isEnabled, timeout=T)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.mouseClick(panel.undo, Qt.MouseButton.LeftButton)
    assert category(w, chosen) == before and category(w, [outside])[outside] == "watches"
    assert w.statusBar().currentMessage() == f"Undid category “bags” on {len(chosen)} articles."
    qtbot.waitUntil(lambda: w.acts.undo.text() == f"Undo category “watches” on {outside}", timeout=T)
    assert w.acts.redo.isEnabled()
    qtbot.waitUntil(lambda: not panel.undo.isEnabled(), timeout=T)

    # A newer edit made elsewhere: the map's Undo stands aside rather than take that one back.
    label_from_the_map(qtbot, w, "bags")
    qtbot.waitUntil(panel.undo.isEnabled, timeout=T)
    engine.set_labels([outside], "category", "belts")
    w.history.edited()  # what the window does after an edit of its own
    qtbot.waitUntil(lambda: not panel.undo.isEnabled(), timeout=T)

    # The check itself fails: Undo stays off (it could take back another edit), and the curator is told why;
    # a passing cause on the status line, a bug in its box.
    from desktop_app.core.errors import CatalogBusy
    from desktop_app.gui import map_labels

    def busy(_engine):
        raise CatalogBusy("The catalog is locked by another program.")

    label_from_the_map(qtbot, w, "totes")
    qtbot.waitUntil(panel.undo.isEnabled, timeout=T)
    monkeypatch.setattr(map_labels, "next_label_event", busy)
    w.history.edited()
    qtbot.waitUntil(lambda: "The map's Undo is off" in w.statusBar().currentMessage(), timeout=T)
    assert "locked by another program" in w.statusBar().currentMessage() and not panel.undo.isEnabled()
    monkeypatch.setattr(map_labels, "next_label_event", lambda _engine: {}["a bug"])
    with qtbot.waitSignal(w.error_shown, timeout=T) as shown:
        w.history.edited()
    assert "KeyError" in shown.args[0] and not panel.undo.isEnabled()
    w.last_error.close()


def edit_state(w) -> tuple[str, bool, str, bool, bool]:
    """Edit ▸ Undo's text and state, Redo's, and whether the map's Undo is usable."""
    acts = w.acts
    return (
        acts.undo.text(),
        acts.undo.isEnabled(),
        acts.redo.text(),
        acts.redo.isEnabled(),
        w.map.panel.undo.isEnabled(),
    )


def test_undo_then_redo_of_a_lasso_label_leaves_undo_usable(qtbot, map_window, monkeypatch):
    """Ctrl+Z then Ctrl+Shift+Z on the map's label decision: it is the next thing to undo again, so Edit ▸ Undo
    and the map's Undo are both usable (the map's Undo stayed grey: Redo writes the labels as a new decision,
    and the map still looked for the one it had written itself)."""
    w = map_window
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    activate(qtbot, w)
    show_map(qtbot, w)
    view = w.map.view
    chosen = lasso_left_half(qtbot, view)
    before = category(w, chosen)
    label_from_the_map(qtbot, w, "bags")
    bags = f"category “bags” on {len(chosen)} articles"
    labelled = (f"Undo {bags}", True, "Redo", False, True)
    qtbot.waitUntil(lambda: edit_state(w) == labelled, timeout=T)

    assert view.hasFocus()  # the label box gave the keys back to the map: they are the Edit menu's
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert category(w, chosen) == before
    # The fixture's own edits are next in line for Undo; Redo would write the bags again.
    undone = ("Undo category “men” on", True, f"Redo {bags}", True, False)
    qtbot.waitUntil(lambda: (edit_state(w)[0][:22], *edit_state(w)[1:]) == undone, timeout=T)

    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert set(category(w, chosen).values()) == {"bags"}
    qtbot.waitUntil(lambda: edit_state(w) == labelled, timeout=T)

    # And it really is usable: the map's Undo takes the redone decision back, Ctrl+Shift+Z writes it again.
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.mouseClick(w.map.panel.undo, Qt.MouseButton.LeftButton)
    assert category(w, chosen) == before
    qtbot.waitUntil(lambda: (edit_state(w)[0][:22], *edit_state(w)[1:]) == undone, timeout=T)
    view.setFocus()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: edit_state(w) == labelled, timeout=T)
    assert set(category(w, chosen).values()) == {"bags"}


def select_in_grid(qtbot, w, article: str) -> None:
    grid = w.grid_panel
    rect = grid.view.visualRect(grid.model.index(grid.model.row_of(article), 0))
    qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_map_selection_is_the_grids_and_set_label_acts_on_it(qtbot, map_window, monkeypatch):
    w = map_window
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    show_map(qtbot, w)
    view, panel, grid = w.map.view, w.map.panel, w.grid_panel
    view.fit()
    # Two bags, Ctrl+clicked on the map (the two farthest apart, so no dot hides the other).
    bags = [k for k in view.keys if k.startswith("wb")]
    pts = {k: viewport_point(view, k) for k in bags}
    a, b = min(bags, key=lambda k: pts[k].x()), max(bags, key=lambda k: pts[k].x())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pts[a])
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, CTRL, pts[b])
    assert sorted(view.selected_keys()) == sorted([a, b]) == sorted(w.selected_articles())

    # On the articles' tab: filter wj08 (the bags go out of sight) and click wj08-gray.
    bar = w.left_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    qtbot.keyClicks(grid.filter_edit, "wj08")
    qtbot.keyClick(grid.filter_edit, Qt.Key.Key_Return)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        select_in_grid(qtbot, w, "wj08-gray")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    # The map says what the grid and the similar panel act on: wj08-gray alone.
    assert view.selected_keys() == w.selected_articles() == ["wj08-gray"]
    assert panel.count.text() == "1 selected" and w.search.query.articles == ["wj08-gray"]
    label_from_the_map(qtbot, w, "jackets")
    assert category(w, ["wj08-gray", a, b]) == {"wj08-gray": "jackets", a: "women", b: "women"}
    assert w.statusBar().currentMessage().startswith("category “jackets” set on 1 article.")

    # A click on the map on an article the filter hides: the filter goes, the grid selects it too.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, CTRL, viewport_point(view, a))
    assert not grid.filter_edit.text()
    assert sorted(view.selected_keys()) == sorted(w.selected_articles()) == sorted(["wj08-gray", a])
    assert panel.count.text() == "2 selected"


def test_rings_follow_the_question_and_nothing_of_another_catalog_stays(qtbot, map_window, window, tmp_path):
    w = map_window
    show_map(qtbot, w)
    view = w.map.view
    target, other = "wj08-gray", "wb01-black"
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article(target)
    old_hits = {h.article for h in blocker.args[0].hits}
    assert set(view.highlighted_keys()) == {target, *old_hits}

    # A new question from the map: the last one's results go at once, the new ones ring when they come.
    held = []
    submit = w.search._submit
    w.search._submit = held.append  # the answer waits, as it does on a busy machine
    view.fit()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(view, other))
    assert view.selected_keys() == [other] and set(view.highlighted_keys()) == {other}
    w.search._submit = submit
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        submit(held[-1])
    assert set(view.highlighted_keys()) == {other, *(h.article for h in blocker.args[0].hits)}

    # Another catalog: no legend, selection, rings or state of this one, even before its map arrives.
    first = w.snapshot.location
    cleared = []

    def on_loaded() -> None:  # the first time the window shows the other catalog
        if not cleared and w.snapshot.location != first:
            cleared.append((list(view.keys), view.legend, view.highlighted_keys(), w.map.panel.count.text()))

    w.catalog_loaded.connect(on_loaded)
    second = big_tree(tmp_path / "other", articles=6, per=2)
    w.catalogs.grouping_dialog = None  # the first catalog's: wait for the second's
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        open_and_index(qtbot, w, second)
    assert w.snapshot.location != first
    qtbot.waitUntil(lambda: w.map.layout is not None and len(w.map.layout) == 6, timeout=T)
    assert cleared[0] == ([], [], [], "Nothing selected")
    legend = {v: n for v, _c, n in view.legend}
    assert sum(legend.values()) == 6 and view.caption.startswith("6 articles")
    # What is ringed now is this catalog's question (the grid selected its first article) and its answer.
    assert view.selected_keys() == w.selected_articles()
    assert w.map.panel.count.text() == f"{len(w.selected_articles())} selected"
    q, out = w.search.query, w.search.last_outcome
    answer = {h.article for h in out.hits} if q is not None and out is not None and out.query == q else set()
    assert set(view.highlighted_keys()) == (set(q.articles) | answer if q is not None else set())
    assert set(view.highlighted_keys()) <= set(w.snapshot.articles.keys)


def test_ctrl_m_brings_the_map_forward_before_closing_it(qtbot, map_window):
    w = map_window
    act, tabs = w.acts.map, w.left_tabs
    activate(qtbot, w)
    with qtbot.waitSignal(w.map.shown, timeout=T):
        qtbot.keyClick(w.grid, Qt.Key.Key_M, CTRL)
    assert w.map.shown_now() and act.isChecked()
    bar = tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    assert not w.map.shown_now() and act.isChecked()
    qtbot.keyClick(w.grid, Qt.Key.Key_M, CTRL)  # open behind the articles: forward, not closed
    assert w.map.shown_now() and act.isChecked() and tabs.count() == 2
    qtbot.keyClick(w.map.view, Qt.Key.Key_M, CTRL)  # in front: closed
    assert tabs.count() == 1 and not act.isChecked()
    qtbot.keyClick(w.grid, Qt.Key.Key_M, CTRL)
    assert w.map.shown_now() and act.isChecked()
    # Without a catalog the action is off and unchecked, the map gone with the catalog.
    w.close_catalog()
    qtbot.waitUntil(lambda: w.snapshot is None, timeout=T)
    assert not act.isEnabled() and not act.isChecked() and tabs.count() == 1
    assert w.map.layout is None and w.map.view.keys == [] and w.map.view.legend == []


def test_an_index_run_is_laid_out_once_when_it_ends(qtbot, window, sample_copy, monkeypatch):
    w = window()
    w.map.in_subprocess = False
    jobs = []

    class CountedJob(map_controller.MapJob):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            jobs.append(self)

    monkeypatch.setattr(map_controller, "MapJob", CountedJob)
    open_and_index(qtbot, w, sample_copy, GroupingRule("pattern", MAGENTO_PATTERN), index_now=False)
    w.map.open_tab()
    assert "once photos are indexed" in w.map.panel.message.text()

    # The run indexes everything, then is held before it ends: its re-reads find the articles changed.
    indexed, release = threading.Event(), threading.Event()
    real = index_controller.run_index

    def held(request, progress, should_cancel):
        summary = real(request, progress, should_cancel)
        indexed.set()
        release.wait(T / 1000)
        return summary

    monkeypatch.setattr(index_controller, "run_index", held)
    w.update_index()
    qtbot.waitUntil(indexed.is_set, timeout=T)
    for _ in range(2):  # two of the run's re-reads
        with qtbot.waitSignal(w.catalog_loaded, timeout=T):
            w.reload()
        assert w.snapshot.embedded and w.indexer.running
    assert jobs == [] and w.map.panel.message.text() == map_controller.INDEXING_NOTE
    with qtbot.waitSignal(w.map.shown, timeout=T) as blocker:
        release.set()
    layout = blocker.args[0]
    assert len(jobs) == 1 and set(layout.articles) == set(w.snapshot.articles.keys)
    assert layout.placed == 0 and not w.map.panel.message.isVisible()
