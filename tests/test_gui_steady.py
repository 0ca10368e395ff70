"""The main window holds still under what a curator does again and again: a splitter dragged back and forth
over results that need a scroll bar only sometimes, and a photo folder that is offline every time it is
needed. Real windows on the offscreen platform; waits on signals, never sleeps."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.test_gui import T, big_tree
from tests.test_gui_curator import active, choose, context_menu, indexed, show_results


def settle() -> None:
    for _ in range(5):  # a resize, the list's delayed layout, the scroll bar's show or hide
        QApplication.processEvents()


def columns(view) -> int:
    model = view.model()
    return len({view.visualRect(model.index(r, 0)).x() for r in range(model.rowCount())})


def test_results_keep_their_column_count_whether_the_scroll_bar_shows_or_not(qtbot, window, tmp_path):
    # Three results: in one column they need a scroll bar, in two they do not. Cards sized to the viewport
    # without the bar did not fit the width the list lays them out in (which always keeps the bar's room),
    # so at 1366x768 the panel fell to one column, with room for two, and no scroll bar for the overflow.
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=6, per=2))
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.width() == 1366)
    w.similar.top_k.setValue(3)
    show_results(qtbot, w, "art00")
    view = w.similar.view
    total = sum(w.splitter.sizes())
    seen: dict[int, dict[str, int]] = {}
    for way, widths in (("wider", range(420, 560, 4)), ("narrower", range(556, 416, -4))):
        for width in widths:
            w.splitter.setSizes([total - width, width])
            settle()
            shown, cell, room = columns(view), view.gridSize().width(), view.viewport().width()
            seen.setdefault(width, {})[way] = shown
            assert all(view.visualRect(view.model().index(r, 0)).right() < room for r in range(3)), (
                f"a card is cut off at panel width {width}"
            )
            assert (shown + 1) * cell > room, f"{shown} column(s) where {room // cell} fit ({way}, {width})"
            bar = view.verticalScrollBar()
            assert bar.isVisible() == (bar.maximum() > 0), f"scroll bar out of step at width {width}"
    assert all(s["wider"] == s["narrower"] for s in seen.values()), seen  # no history in the column count
    assert {s["wider"] for s in seen.values()} == {1, 2}  # the sweep crosses the change of columns


def visible_boxes() -> list[str]:
    return [b.text() for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]


def test_an_offline_photo_folder_is_said_once_in_the_banner(qtbot, window, tmp_path, monkeypatch):
    # The banner says the folder cannot be found; Update index (three times, as a curator retries) and
    # "Open cover in system viewer" used to add a modal box each, repeating what the banner says.
    from desktop_app.gui import article_actions

    folder = big_tree(tmp_path / "photos", articles=3, per=2)
    w = indexed(qtbot, window, folder)
    location = w.snapshot.location
    w.close_catalog()
    folder.rename(tmp_path / "unplugged")
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(location)
    assert w.root_frame.isVisible() and "cannot be found" in w.root_warning.text()
    shown: list[str] = []
    w.error_shown.connect(shown.append)
    active(qtbot, w)
    for _ in range(3):
        qtbot.keyClick(w, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: "Update index needs" in w.root_warning.text(), timeout=T)
        qtbot.waitUntil(lambda: not w.catalogs.busy(), timeout=T)
        assert visible_boxes() == [] and shown == []
    assert w.root_warning.text().count("cannot be found") == 1  # one sentence per cause, not one per try
    assert w.locate_btn.hasFocus()  # Enter locates the folder: the one thing that helps
    # Opening a photo of the folder is the same cause: the banner says it, no system viewer error.
    opened: list = []
    monkeypatch.setattr(article_actions, "open_external", opened.append)
    grid = w.grid
    menu = context_menu(qtbot, w, grid.viewport(), grid.visualRect(w.grid_model.index(0, 0)).center())
    choose(qtbot, menu, "Open cover in system viewer")
    assert opened == [] and visible_boxes() == [] and shown == []
    assert "Opening a photo needs" in w.root_warning.text()
    assert w.root_warning.text().count("cannot be found") == 1
    # The same from the article's detail page and its Show in folder button.
    active(qtbot, w)
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    w.detail.table.selectRow(0)
    monkeypatch.setattr(article_actions, "reveal_in_file_manager", opened.append)
    qtbot.mouseClick(w.detail.reveal_btn, Qt.MouseButton.LeftButton)
    assert opened == [] and visible_boxes() == [] and shown == []
    assert "Showing a photo in the file manager needs" in w.root_warning.text()
    qtbot.keyClick(w.detail.table, Qt.Key.Key_Escape)
    # The folder is back: Update index indexes, and the banner goes.
    (tmp_path / "unplugged").rename(folder)
    with qtbot.waitSignal(w.index_finished, timeout=T):
        qtbot.keyClick(w, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w.root_frame.isVisible(), timeout=T)


def test_the_same_failure_met_again_raises_the_box_on_show(qtbot):
    from PySide6.QtWidgets import QWidget

    from desktop_app.core.errors import InputError
    from desktop_app.gui.errors import show_error

    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    first = show_error(parent, "No photo folder", InputError("The photos of this catalog are not here."))
    again = show_error(parent, "No photo folder", InputError("The photos of this catalog are not here."))
    other = show_error(parent, "Indexing stopped", InputError("The disk is full."))
    assert again is first and other is not first
    assert sorted(visible_boxes()) == ["The disk is full.", "The photos of this catalog are not here."]
    for box in (first, other):
        box.close()


def test_a_system_without_a_viewer_or_file_manager_is_said(qtbot, monkeypatch, tmp_path):
    # Qt only warns on stderr when no program takes a URL: "Open" and "Show in file manager" did nothing.
    from desktop_app.gui import detail

    class NoViewer:
        asked: list = []

        @classmethod
        def openUrl(cls, url) -> bool:
            cls.asked.append(url.toLocalFile())
            return False

    monkeypatch.setattr(detail, "QDesktopServices", NoViewer)
    photo = tmp_path / "shirts" / "blue.jpg"
    assert detail.open_external(photo) is False
    qtbot.waitUntil(lambda: any(str(photo) in text for text in visible_boxes()), timeout=T)
    assert "open photos" in visible_boxes()[0] and "Copy path" in visible_boxes()[0]
    for box in QApplication.topLevelWidgets():
        if isinstance(box, QMessageBox):
            box.close()
    # Show in file manager: no file manager answers (no session bus here), the folder is tried, then said.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + str(tmp_path / "no-bus"))
    detail.reveal_in_file_manager(photo)
    qtbot.waitUntil(lambda: any("show folders" in text for text in visible_boxes()), timeout=T)
    assert NoViewer.asked[-1] == str(photo.parent)
    for box in QApplication.topLevelWidgets():
        if isinstance(box, QMessageBox):
            box.close()
