"""The Duplicates window with real input events: find (in its child process), look, judge, export, cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.core.settings import UserSettings
from desktop_app.gui.duplicates_list import PAIR_ROLE, short_names
from tests.test_duplicates import dup_tree, snapshot  # noqa: F401 - the fixture is used by name
from tests.test_gui import T
from tests.test_gui_curator import choose


@pytest.fixture
def catalog(dup_tree, tiny_model, tmp_path):  # noqa: F811
    from desktop_app.core.engine import index_photos

    db = tmp_path / "c.sqlite"
    index_photos(db, dup_tree, model=tiny_model)
    return db


@pytest.fixture
def window(qtbot, catalog):
    from desktop_app.core.engine import Engine
    from desktop_app.gui.duplicates_view import DuplicatesWindow

    engine = Engine.open(catalog)
    w = DuplicatesWindow(engine)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    engine.close()


def find(qtbot, w):
    with qtbot.waitSignal(w.found, timeout=120_000) as got:
        qtbot.mouseClick(w.find_button, Qt.MouseButton.LeftButton)
    return got.args[0]


def test_finds_clusters_and_shows_the_pair_side_by_side(qtbot, window):
    report = find(qtbot, window)
    assert window.tree.topLevelItemCount() == len(report.clusters) >= 2
    current = window.tree.currentItem()
    assert current is not None and current.parent() is not None  # the first pair of the largest cluster
    qtbot.waitUntil(
        lambda: window.left.image.pixmap() is not None and not window.left.image.pixmap().isNull()
    )
    qtbot.waitUntil(lambda: not window.right.image.pixmap().isNull())
    assert window.left.image.pixmap().width() > 200  # a readable size, not a thumbnail
    assert "near duplicate" in window.why.text() or "same file" in window.why.text()
    # The row names the two photos by as little of their paths as tells them apart; the tooltip has both.
    pair = current.data(0, PAIR_ROLE)
    a, b = pair.a.rsplit("/", 1)[-1], pair.b.rsplit("/", 1)[-1]
    assert current.text(0) == (f"{a}  ~  {b}" if a != b else current.text(0))
    assert current.toolTip(0) == f"{pair.a}\n{pair.b}"


def test_pairs_are_named_by_the_ends_of_their_paths_that_differ():
    assert short_names("shop/w/wb01-black_main.jpg", "supplier-b/w/bwb01-black_main.jpg") == (
        "wb01-black_main.jpg",
        "bwb01-black_main.jpg",
    )
    assert short_names("shop/w/x.jpg", "supplier-b/w/x.jpg") == ("shop/w/x.jpg", "supplier-b/w/x.jpg")
    assert short_names("a/x.jpg", "x.jpg") == ("a/x.jpg", "x.jpg")
    assert short_names("mp09-black", "mp09-blue") == ("mp09-black", "mp09-blue")  # article ids


def test_a_verdict_is_written_and_the_pair_never_comes_back(qtbot, window):
    find(qtbot, window)
    pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(window.judged, timeout=10_000) as got:
        qtbot.keyClick(window.tree, Qt.Key.Key_N)
    assert got.args == [pair.a, pair.b, "not_duplicate"]
    assert window.engine.duplicate_verdicts()[(pair.a, pair.b)] == "not_duplicate"
    shown = [
        window.tree.topLevelItem(i).child(j).data(0, Qt.ItemDataRole.UserRole)
        for i in range(window.tree.topLevelItemCount())
        for j in range(window.tree.topLevelItem(i).childCount())
    ]
    assert (pair.a, pair.b) not in {(p.a, p.b) for p in shown}
    again = find(qtbot, window)
    assert (pair.a, pair.b) not in {(p.a, p.b) for p in again.pairs} and again.decided == 1


def test_undo_lists_the_pairs_again_where_they_were(qtbot, window):
    find(qtbot, window)
    cluster = window.tree.topLevelItem(0)
    label, pairs = cluster.text(0), cluster.childCount()
    first = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_D)
    window.tree.setCurrentItem(window.tree.topLevelItem(0))
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.mouseClick(
            window.not_button, Qt.MouseButton.LeftButton
        )  # the rest of that cluster, or the next
    assert window.engine.duplicate_verdicts()[(first.a, first.b)] == "duplicate"
    for _ in range(2):
        with qtbot.waitSignal(window.unjudged, timeout=10_000):
            qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.duplicate_verdicts() == {}
    assert window.tree.topLevelItem(0).text(0) == label and window.tree.topLevelItem(0).childCount() == pairs
    assert window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole) is first
    assert not window.undo_button.isEnabled()


def listed(w) -> set[tuple[str, str]]:
    """The pairs on show in the list (a pair whose verdict is being saved has left it)."""
    tree = w.tree
    return {
        (p.a, p.b)
        for i in range(tree.topLevelItemCount())
        for top in [tree.topLevelItem(i)]
        if not top.isHidden()
        for j in range(top.childCount())
        if not top.child(j).isHidden()
        for p in [top.child(j).data(0, Qt.ItemDataRole.UserRole)]
    }


def test_undo_still_works_after_find_again(qtbot, window):
    # Verdicts are stored in the catalog: finding again must not cost the curator their Undo. Undone after
    # a new Find, a verdict's pair is listed again when the new search still finds it.
    find(qtbot, window)
    judged = []
    for key in (Qt.Key.Key_D, Qt.Key.Key_N):
        pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
        with qtbot.waitSignal(window.judged, timeout=10_000):
            qtbot.keyClick(window.tree, key)
        judged.append((pair.a, pair.b))
    again = find(qtbot, window)
    assert again.decided == 2 and not set(judged) & listed(window)
    assert window.undo_button.isEnabled()
    pairs = len(listed(window))
    with qtbot.waitSignal(window.unjudged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert judged[1] not in window.engine.duplicate_verdicts()
    assert judged[1] in listed(window) and len(listed(window)) == pairs + 1
    current = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    assert (current.a, current.b) == judged[1]  # selected, where the curator looks next
    assert "1 judged before and left out" in window.status.text()  # the other verdict still stands
    # A verdict from before a Find at the other level: taken back in the catalog; its photo pair is not
    # among the products listed now, and the window says so instead of listing it there.
    window.level_box.setCurrentIndex(window.level_box.findData("article"))
    find(qtbot, window)
    products = listed(window)
    with qtbot.waitSignal(window.unjudged, timeout=10_000):
        qtbot.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    assert window.engine.duplicate_verdicts() == {}
    assert listed(window) == products and "not among the pairs listed now" in window.status.text()
    assert not window.undo_button.isEnabled()
    # Photos again: both pairs are found again, nothing was lost on the way.
    window.level_box.setCurrentIndex(window.level_box.findData("photo"))
    assert set(judged) <= {(p.a, p.b) for p in find(qtbot, window).pairs}


def on_show(w):
    """The pair on screen now (the list's current row)."""
    item = w.tree.currentItem()
    return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)


@pytest.fixture
def slow_writes(window, monkeypatch):
    """Verdicts are saved only when the test says so: a save still running when the next key is pressed."""
    gate = threading.Event()
    write = window.engine.judge_duplicates

    def held(pairs, verdict):
        assert gate.wait(60)
        return write(pairs, verdict)

    monkeypatch.setattr(window.engine, "judge_duplicates", held)
    yield gate
    gate.set()


def test_verdict_keys_pressed_faster_than_a_save_judge_the_pairs_on_show(qtbot, window, slow_writes):
    find(qtbot, window)
    shown = sorted(listed(window))
    assert len(shown) == 2
    first = on_show(window)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_D)  # D then N without waiting: each on the pair on show
    second = on_show(window)  # the next pair is on show at once, while D is still being saved
    assert second is not None and (second.a, second.b) != (first.a, first.b)
    assert window.dup_button.isEnabled() and not window.find_button.isEnabled()
    qtbot.keyClick(window.tree, Qt.Key.Key_N)
    assert on_show(window) is None and listed(window) == set()  # both left the list at once
    assert window.engine.duplicate_verdicts() == {}  # nothing saved yet
    slow_writes.set()
    qtbot.waitUntil(lambda: len(window.undo_stack) == 2, timeout=10_000)
    assert window.engine.duplicate_verdicts() == {
        (first.a, first.b): "duplicate",
        (second.a, second.b): "not_duplicate",
    }
    assert listed(window) == set() and not window.dup_button.isEnabled()
    for _ in range(2):
        with qtbot.waitSignal(window.unjudged, timeout=10_000):
            qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.duplicate_verdicts() == {} and sorted(listed(window)) == shown


def test_a_duplicate_verdict_never_lands_on_a_pair_not_on_show(qtbot, window, slow_writes):
    # N on the first pair, then D at once: D is for the pair the curator sees after N, and for no other.
    find(qtbot, window)
    first = on_show(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_N)
    seen = on_show(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_D)
    slow_writes.set()
    qtbot.waitUntil(lambda: len(window.undo_stack) == 2, timeout=10_000)
    verdicts = window.engine.duplicate_verdicts()
    assert verdicts == {(first.a, first.b): "not_duplicate", (seen.a, seen.b): "duplicate"}


def test_verdicts_still_waiting_when_the_window_closes_are_saved(qtbot, window, slow_writes):
    # Their pairs left the list when their keys were pressed: closing must not lose them.
    find(qtbot, window)
    first = on_show(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_D)
    second = on_show(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_N)
    slow_writes.set()
    window.close()
    assert window.engine.duplicate_verdicts() == {
        (first.a, first.b): "duplicate",
        (second.a, second.b): "not_duplicate",
    }


def test_a_failed_save_lists_its_pair_and_the_later_ones_again(qtbot, window, monkeypatch):
    from desktop_app.core.errors import CatalogBusy

    find(qtbot, window)
    gate = threading.Event()

    def busy(pairs, verdict):
        assert gate.wait(60)
        raise CatalogBusy("The catalog is locked by another program.")

    monkeypatch.setattr(window.engine, "judge_duplicates", busy)
    first = on_show(window)
    shown = listed(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_D)
    qtbot.keyClick(window.tree, Qt.Key.Key_N)
    assert listed(window) == set()
    gate.set()
    qtbot.waitUntil(lambda: listed(window) == shown, timeout=10_000)
    assert on_show(window) is first and window.engine.duplicate_verdicts() == {}
    assert "were not saved either" in window.status.text() or "was not saved either" in window.status.text()
    assert window.find_button.isEnabled() and not window.undo_stack
    for box in window.findChildren(QMessageBox):
        box.close()


def test_find_waits_for_a_verdict_being_saved(qtbot, window, slow_writes):
    # A new list while a verdict is saving would delete the rows the save then takes out of the list.
    find(qtbot, window)
    judged = on_show(window)
    qtbot.keyClick(window.tree, Qt.Key.Key_D)
    assert not window.find_button.isEnabled()
    qtbot.mouseClick(window.find_button, Qt.MouseButton.LeftButton)
    window.find()  # as the button would, were it enabled: nothing starts while a verdict is saving
    assert not window.search.running
    with qtbot.waitSignal(window.judged, timeout=10_000):
        slow_writes.set()
    assert window.find_button.isEnabled()
    again = find(qtbot, window)
    assert (judged.a, judged.b) not in {(p.a, p.b) for p in again.pairs}


def test_a_verdict_saved_after_a_new_list_came_leaves_that_list(qtbot, window, slow_writes):
    # D pressed while a Find runs: the new list may come first, from a catalog read before the save. The
    # save then takes the pair out of the new list by its names (the old list's rows are gone), and the
    # report no longer counts it among the pairs on show.
    find(qtbot, window)
    judged = on_show(window)
    qtbot.mouseClick(window.find_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(window.tree, Qt.Key.Key_D)
    with qtbot.waitSignal(window.found, timeout=120_000) as got:
        pass
    report = got.args[0]
    assert (judged.a, judged.b) in {(p.a, p.b) for p in report.pairs}  # read before the verdict was saved
    assert (judged.a, judged.b) not in listed(window)  # yet not on show: its verdict is on its way
    with qtbot.waitSignal(window.judged, timeout=10_000):
        slow_writes.set()
    assert (judged.a, judged.b) not in listed(window) | {(p.a, p.b) for p in report.pairs}
    assert report.decided == 1
    with qtbot.waitSignal(window.unjudged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (judged.a, judged.b) in listed(window) and window.engine.duplicate_verdicts() == {}


def test_same_product_for_a_whole_cluster_is_a_match_decision(qtbot, window):
    report = find(qtbot, window)
    cluster = window.tree.topLevelItem(0)
    window.tree.setCurrentItem(cluster)
    pairs = report.clusters[0].pairs
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.mouseClick(window.same_button, Qt.MouseButton.LeftButton)
    decided = window.engine.decisions_with([pairs[0].article_a])
    assert decided.get(pairs[0].article_b) == "same"
    assert all(window.engine.duplicate_verdicts()[(p.a, p.b)] == "duplicate" for p in pairs)


def test_article_level_and_csv_export(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked: list[bool] = []
    real = window.engine.photo_changes

    def photo_changes(a, b, same_shot_only=False):  # the engine's answer, and what it was asked
        asked.append(same_shot_only)
        return real(a, b, same_shot_only)

    monkeypatch.setattr(window.engine, "photo_changes", photo_changes)
    window.level_box.setCurrentIndex(1)
    report = find(qtbot, window)
    assert report.level == "article" and ("copies", "red") in {(p.a, p.b) for p in report.pairs}
    # A product listed twice: its matched photos are marked where they differ only when they are one shot
    # (these are: a copy and a resized copy).
    qtbot.waitUntil(lambda: window.left.image.changes is not None, timeout=10_000)
    assert asked and all(asked)
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # the working directory: the dialog must not start here
    target = tmp_path / "exports" / "dups.csv"
    target.parent.mkdir()
    offered = []

    def save_dialog(_parent, _title, start, _filters):
        offered.append(Path(start))
        return str(target), "CSV (*.csv)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    qtbot.mouseClick(window.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(target.exists, timeout=10_000)
    assert target.read_text().splitlines()[0].startswith("cluster,a,b,kind,score")
    # The first export starts in Documents, named after the catalog, the level and the day.
    first = offered[0]
    assert first.parent == home / "Documents" and first.suffix == ".csv"
    assert "duplicate articles" in first.name and window.engine.title() in first.name
    # The next one starts where the last one went (remembered across the app's runs).
    target.unlink()
    qtbot.mouseClick(window.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(target.exists, timeout=10_000)
    assert offered[1].parent == target.parent
    assert UserSettings.load().export_dir() == target.parent


def test_cancel_stops_the_search(qtbot, window):
    qtbot.mouseClick(window.find_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.search.finished, timeout=120_000):
        pass
    assert window.find_button.isEnabled()


def test_the_window_never_touches_a_photo_file(qtbot, window, dup_tree):  # noqa: F811
    before = snapshot(dup_tree)
    find(qtbot, window)
    for key in (Qt.Key.Key_D, Qt.Key.Key_N):
        if window.tree.currentItem() is None:
            break
        with qtbot.waitSignal(window.judged, timeout=10_000):
            qtbot.keyClick(window.tree, key)
    assert snapshot(dup_tree) == before


def test_the_main_window_opens_it_from_the_view_menu(qtbot, dup_tree, tiny_model):  # noqa: F811
    from desktop_app.core.settings import UserSettings
    from desktop_app.gui.mainwindow import MainWindow
    from tests.test_gui import open_and_index

    w = MainWindow(UserSettings(model=str(tiny_model.manifest_path), batch_size=4))
    w.indexer.in_subprocess = w.search.client.in_subprocess = False
    qtbot.addWidget(w)
    w.show()
    try:
        assert not w.acts.duplicates.isEnabled()  # no catalog yet
        open_and_index(qtbot, w, dup_tree)
        assert w.acts.duplicates.isEnabled()
        menus = {a.text(): a.menu() for a in w.menuBar().actions()}
        assert w.acts.duplicates in menus["&View"].actions()
        assert w.acts.duplicates.shortcut().toString() == "Ctrl+Shift+D"
        w.acts.duplicates.trigger()  # as the menu item does
        qtbot.waitUntil(lambda: getattr(w, "duplicates_window", None) is not None, timeout=T)
        dups = w.duplicates_window
        with qtbot.waitSignal(dups.found, timeout=120_000):
            qtbot.mouseClick(dups.find_button, Qt.MouseButton.LeftButton)
        assert dups.tree.topLevelItemCount() >= 1
        # A pair's "Show … in the catalog" selects that article in the main window's grid.
        pair = dups.tree.currentItem().data(0, PAIR_ROLE)
        menu = right_click(
            qtbot, dups, dups.tree.viewport(), dups.tree.visualItemRect(dups.tree.currentItem()).center()
        )
        choose(qtbot, menu, f"Show {pair.article_b} in the catalog")
        qtbot.waitUntil(lambda: w.selected_articles() == [pair.article_b], timeout=T)
    finally:
        w.shutdown()


def right_click(qtbot, w, widget, pos):
    """The context-menu event a right mouse press makes; the Duplicates window's menu that opened."""
    before = w.menu
    QApplication.sendEvent(
        widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    )
    qtbot.waitUntil(lambda: w.menu is not None and w.menu is not before and w.menu.isVisible(), timeout=T)
    return w.menu


def test_right_click_on_a_pair_compares_judges_and_reaches_its_photos(qtbot, window):
    find(qtbot, window)
    tree = window.tree
    row = tree.currentItem()
    pair = row.data(0, PAIR_ROLE)
    at = tree.visualItemRect(row).center()
    name_a, name_b = Path(pair.a).name, Path(pair.b).name
    menu = right_click(qtbot, window, tree.viewport(), at)
    texts = [a.text() for a in menu.actions()]
    for wanted in (
        "Compare in the lightbox",
        "Duplicate",
        "Not a duplicate",
        f"Open {name_a}",
        f"Show {name_b} in the file manager",
        f"Show {pair.article_a} in the catalog",
        "Copy both paths",
    ):
        assert wanted in texts, wanted
    choose(qtbot, menu, f"Copy the path of {name_b}")
    assert Path(QApplication.clipboard().text()) == window.root / pair.b
    menu = right_click(qtbot, window, tree.viewport(), at)
    with qtbot.waitSignal(window.article_wanted, timeout=T) as wanted:
        choose(qtbot, menu, f"Show {pair.article_a} in the catalog")
    assert wanted.args == [pair.article_a]
    # Either photo of the pair has its own menu.
    qtbot.waitUntil(lambda: window.left.image.image is not None, timeout=T)
    menu = right_click(qtbot, window, window.left.image, window.left.image.rect().center())
    assert [a.text() for a in menu.actions()][0] == f"Open {name_a}"
    menu.close()
    # A cluster's row judges the whole cluster.
    menu = right_click(qtbot, window, tree.viewport(), tree.visualItemRect(row.parent()).center())
    assert tree.currentItem() is row.parent()
    with qtbot.waitSignal(window.judged, timeout=T) as got:
        choose(qtbot, menu, "Not a duplicate (the whole cluster)")
    assert got.args[2] == "not_duplicate"


# ----------------------------------------------------------------------------- fits the screen, closes, words


def test_the_window_fits_the_screen_it_opens_on(qtbot, catalog):
    from PySide6.QtCore import QRect, QSize

    from desktop_app.core.engine import Engine
    from desktop_app.gui.duplicates_view import open_duplicates
    from desktop_app.gui.screen_fit import FRAME_ALLOWANCE

    with Engine.open(catalog) as engine:
        w = open_duplicates(None, engine)
        qtbot.addWidget(w)
        qtbot.waitExposed(w)
        assert w.windowTitle() == "Duplicates — c"  # the catalog's name as the main window shows it
        # The offscreen screen is 800x800: smaller than a 1366x768 laptop, so this is the harder case.
        area = w.screen().availableGeometry()
        assert area.contains(w.frameGeometry()), (w.frameGeometry(), area)
        # What the window needs at least fits a 1366x768 laptop's free area with room for its frame.
        laptop = QRect(0, 0, 1366, 728).size() - FRAME_ALLOWANCE
        need = w.minimumSizeHint()
        assert need.width() <= laptop.width() and need.height() <= laptop.height(), need
        assert need.boundedTo(QSize(784, 760)) == need  # and the 800x800 screen's
        assert w.tree.width() >= w.width() // 3  # the pair list keeps room for its paths
        w.close()


def test_esc_and_ctrl_w_close_the_window(qtbot, catalog):
    from desktop_app.core.engine import Engine
    from desktop_app.gui.duplicates_view import DuplicatesWindow

    with Engine.open(catalog) as engine:
        for key, mods in (
            (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
            (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier),
        ):
            w = DuplicatesWindow(engine)
            qtbot.addWidget(w)
            w.show()
            w.activateWindow()
            qtbot.waitUntil(w.isActiveWindow)  # shortcuts go to the active window
            qtbot.keyClick(w.tree, key, mods)
            assert not w.isVisible(), key


def test_counts_read_as_words_and_sizes_tell_which_copy_to_keep(qtbot, window):
    from desktop_app.core.wording import plural

    assert plural(1, "pair") == "1 pair" and plural(3, "cluster") == "3 clusters"
    report = find(qtbot, window)
    assert "(s)" not in window.status.text()
    assert plural(len(report.clusters), "cluster") in window.status.text()
    # Each photo's pixel size and file size under it: the resized copy is smaller than its original.
    pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    qtbot.waitUntil(lambda: "px" in window.left.size_note.text() and "px" in window.right.size_note.text())
    for pane, rel in ((window.left, pair.a), (window.right, pair.b)):
        from PIL import Image

        path = window.root / rel
        with Image.open(path) as im:
            assert f"{im.width} × {im.height} px" in pane.size_note.text()
        assert ("KB" in pane.size_note.text()) or ("bytes" in pane.size_note.text())
    # A cluster row says what a verdict applies to, in words that agree with the number.
    window.tree.setCurrentItem(window.tree.topLevelItem(0))
    n = window.tree.topLevelItem(0).childCount()
    assert ("the one pair" if n == 1 else "both pairs" if n == 2 else f"all {n} pairs") in window.why.text()
    assert "all 1 pairs" not in window.why.text()
    # The pair column takes the room there is and elides in the middle only when the paths do not fit.
    header = window.tree.header()
    assert (
        header.sectionSize(0)
        >= window.tree.viewport().width() - header.sectionSize(1) - header.sectionSize(2) - 2
    )
    assert window.tree.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_redo_saves_the_undone_verdicts_again_in_order(qtbot, window):
    find(qtbot, window)
    judged = []
    for key, verdict in ((Qt.Key.Key_D, "duplicate"), (Qt.Key.Key_N, "not_duplicate")):
        pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
        with qtbot.waitSignal(window.judged, timeout=10_000):
            qtbot.keyClick(window.tree, key)
        judged.append(((pair.a, pair.b), verdict))
    assert window.redo_stack == []
    for _ in range(2):
        with qtbot.waitSignal(window.unjudged, timeout=10_000):
            qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.duplicate_verdicts() == {} and len(window.redo_stack) == 2
    assert window.redo_button.isEnabled()
    # Ctrl+Shift+Z saves the first one again (the last undone), Ctrl+Y the second: same pairs, same verdicts,
    # and their rows leave the list as when they were first pressed.
    redo_z = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(window.judged, timeout=10_000) as got:
        qtbot.keyClick(window.tree, Qt.Key.Key_Z, redo_z)
    assert got.args == [*judged[0][0], judged[0][1]]
    assert window.engine.duplicate_verdicts() == dict(judged[:1]) and judged[0][0] not in listed(window)
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.duplicate_verdicts() == dict(judged)
    assert not {k for k, _v in judged} & listed(window)
    assert window.redo_stack == [] and not window.redo_button.isEnabled()
    # The Redo button does what the keys do.
    with qtbot.waitSignal(window.unjudged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.mouseClick(window.redo_button, Qt.MouseButton.LeftButton)
    assert window.engine.duplicate_verdicts() == dict(judged) and not window.redo_button.isEnabled()
    # Redone verdicts are undone again like any other; a new verdict leaves nothing to redo.
    with qtbot.waitSignal(window.unjudged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.duplicate_verdicts() == dict(judged[:1]) and len(window.redo_stack) == 1
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.keyClick(window.tree, Qt.Key.Key_D)
    assert window.redo_stack == []
    verdicts = window.engine.duplicate_verdicts()
    qtbot.keyClick(window.tree, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.saving(), timeout=10_000)
    assert window.engine.duplicate_verdicts() == verdicts


# ============================================================================ the lightbox compare


def gone(box) -> bool:
    """The lightbox closed (it deletes itself on closing)."""
    return not shiboken6.isValid(box) or not box.isVisible()


def compare_opened(qtbot, w, press) -> object:
    """Press what opens the compare; the lightbox, once its two photos are on show."""
    before = w.lightbox
    press()
    qtbot.waitUntil(lambda: w.lightbox is not None and w.lightbox is not before and w.lightbox.isVisible())
    qtbot.waitUntil(w.lightbox.is_shown, timeout=10_000)
    return w.lightbox


def test_space_opens_the_pair_in_the_lightbox_at_one_scale_and_d_there_judges_it(qtbot, window):
    find(qtbot, window)
    pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    box = compare_opened(qtbot, window, lambda: qtbot.keyClick(window.tree, Qt.Key.Key_Space))
    assert [c.text().split(" · ")[1].split("\n")[0] for c in box.captions] == [pair.a, pair.b]
    assert all(c.image_size()[0] > 0 for c in box.canvases)
    # Side by side at one scale (the resized copy is shown smaller, as it is), larger than the pane's preview.
    assert box.canvases[0].scale_factor == pytest.approx(box.canvases[1].scale_factor)
    assert min(c.width() for c in box.canvases) > window.left.image.width()
    # Zoomed in one, the other follows.
    qtbot.keyClick(box, Qt.Key.Key_Plus)
    assert box.canvases[1].scale_factor == pytest.approx(box.canvases[0].scale_factor)
    # What differs is marked as the duplicate finder saw it, in each photo's own frame.
    qtbot.waitUntil(box.has_marks, timeout=10_000)
    expected = window.engine.photo_changes(pair.a, pair.b)
    assert [c.changes.cells.tolist() for c in box.canvases] == [c.cells.tolist() for c in expected]
    with qtbot.waitSignal(window.judged, timeout=10_000) as got:
        qtbot.keyClick(box, Qt.Key.Key_D)
    assert got.args == [pair.a, pair.b, "duplicate"]
    qtbot.waitUntil(lambda: gone(box))
    assert window.engine.duplicate_verdicts()[(pair.a, pair.b)] == "duplicate"


def test_enter_double_click_and_the_button_open_it_and_space_closes_it(qtbot, window):
    find(qtbot, window)
    box = compare_opened(qtbot, window, lambda: qtbot.keyClick(window.tree, Qt.Key.Key_Return))
    qtbot.keyClick(box, Qt.Key.Key_Space)  # the lightbox's own key: close
    qtbot.waitUntil(lambda: gone(box))
    row = window.tree.currentItem()
    rect = window.tree.visualItemRect(row)

    def double_click() -> None:
        qtbot.mouseClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    box = compare_opened(qtbot, window, double_click)
    box.close()
    box = compare_opened(
        qtbot, window, lambda: qtbot.mouseClick(window.compare_button, Qt.MouseButton.LeftButton)
    )
    # Closed, the lightbox gives the keys back to the list: the verdict keys judge the pair on show.
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.isActiveWindow() and window.tree.hasFocus())
    pair = window.tree.currentItem().data(0, Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(window.judged, timeout=10_000) as got:
        qtbot.keyClick(window.tree, Qt.Key.Key_N)
    assert got.args == [pair.a, pair.b, "not_duplicate"]


def test_a_cluster_row_compares_its_pairs_in_turn_and_a_verdict_there_judges_the_cluster(qtbot, window):
    report = find(qtbot, window)
    cluster = window.tree.topLevelItem(0)
    window.tree.setCurrentItem(cluster)
    pairs = report.clusters[0].pairs
    box = compare_opened(qtbot, window, lambda: qtbot.keyClick(window.tree, Qt.Key.Key_Space))
    assert len(box.items) == len(pairs) and box.windowTitle().startswith("Compare — Cluster 1")
    if len(pairs) > 1:
        qtbot.keyClick(box, Qt.Key.Key_Right)
        qtbot.waitUntil(lambda: box.index == 1 and box.is_shown())
    # Double-clicking a cluster row opens or closes it, as tree rows do: no compare.
    expanded = cluster.isExpanded()
    rect = window.tree.visualItemRect(cluster)
    qtbot.mouseClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert cluster.isExpanded() != expanded and window.lightbox is box
    with qtbot.waitSignal(window.judged, timeout=10_000):
        qtbot.keyClick(box, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: all((p.a, p.b) in window.engine.duplicate_verdicts() for p in pairs))
    assert {window.engine.duplicate_verdicts()[(p.a, p.b)] for p in pairs} == {"not_duplicate"}


def test_a_verdict_in_a_lightbox_whose_row_has_gone_judges_nothing(qtbot, window):
    find(qtbot, window)
    box = compare_opened(qtbot, window, lambda: qtbot.keyClick(window.tree, Qt.Key.Key_Space))
    find(qtbot, window)  # a new list: the row the lightbox was opened for is gone
    judged = []
    window.judged.connect(lambda *args: judged.append(args))
    qtbot.keyClick(box, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: gone(box))
    assert judged == [] and window.engine.duplicate_verdicts() == {}


def test_the_pair_on_show_has_where_it_differs_marked_and_h_hides_the_marks(qtbot, window):
    find(qtbot, window)
    pair = window.tree.currentItem().data(0, PAIR_ROLE)
    panes = (window.left.image, window.right.image)
    qtbot.waitUntil(lambda: all(p.changes is not None and p.image is not None for p in panes), timeout=10_000)
    expected = window.engine.photo_changes(pair.a, pair.b)
    assert [p.changes.cells.tolist() for p in panes] == [c.cells.tolist() for c in expected]
    qtbot.keyClick(window.tree, Qt.Key.Key_H)
    assert not any(p.marks_shown for p in panes) and not window.marks_box.isChecked()
    qtbot.mouseClick(window.marks_box, Qt.MouseButton.LeftButton)  # the box does what the key does
    assert all(p.marks_shown for p in panes)
