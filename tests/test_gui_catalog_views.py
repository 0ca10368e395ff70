"""A catalog opened again shows what the curator left it with: the grid's selection (the articles that still
exist), the filter text and the tab in front, after a close and reopen and after a restart of the app."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.core.settings import CatalogView, UserSettings
from desktop_app.gui.mainwindow import MainWindow
from tests.test_gui import T, big_tree, open_and_index

CTRL = Qt.KeyboardModifier.ControlModifier


def click_card(qtbot, w: MainWindow, article: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    idx = w.grid_model.index(w.grid_model.row_of(article), 0)
    w.grid.scrollTo(idx)
    qtbot.mouseClick(w.grid.viewport(), Qt.MouseButton.LeftButton, modifier, w.grid.visualRect(idx).center())


def reopen(qtbot, w: MainWindow, location: str) -> None:
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(location)


def leave_a_view(qtbot, w: MainWindow) -> None:
    """Type a filter, pick two articles with the mouse (the second with Ctrl) and bring the map forward."""
    qtbot.keyClicks(w.grid_panel.filter_edit, "art0")
    qtbot.waitUntil(lambda: w.grid_model.filter_text == "art0", timeout=T)
    click_card(qtbot, w, "art03")
    click_card(qtbot, w, "art05", CTRL)
    assert w.grid_panel.selected_articles() == ["art03", "art05"]
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=T)
    qtbot.keyClick(w.grid, Qt.Key.Key_M, CTRL)
    assert w.map.shown_now()


def assert_view_back(w: MainWindow) -> None:
    assert w.grid_panel.filter_edit.text() == "art0" and w.grid_model.filter_text == "art0"
    assert w.grid_model.rowCount() == 10  # art00..art09 of twelve
    assert w.grid_panel.selected_articles() == ["art03", "art05"]
    assert w.map.shown_now()


def test_selection_filter_and_tab_come_back_after_close_and_reopen(qtbot, window, tmp_path):
    w = window()
    w.map.in_subprocess = False
    open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=12, per=1))
    location = w.snapshot.location
    leave_a_view(qtbot, w)
    w.close_catalog()
    qtbot.waitUntil(lambda: w.snapshot is None, timeout=T)
    reopen(qtbot, w, location)
    assert_view_back(w)
    # The articles' tab in front, no filter, one article: that comes back too (not the first article).
    qtbot.mouseClick(
        w.left_tabs.tabBar(), Qt.MouseButton.LeftButton, pos=w.left_tabs.tabBar().tabRect(0).center()
    )
    w.grid_panel.filter_edit.clear()
    qtbot.waitUntil(lambda: w.grid_model.filter_text == "", timeout=T)
    click_card(qtbot, w, "art11")
    w.close_catalog()
    qtbot.waitUntil(lambda: w.snapshot is None, timeout=T)
    reopen(qtbot, w, location)
    assert w.grid_panel.selected_articles() == ["art11"] and w.grid_model.rowCount() == 12
    assert not w.map.shown_now() and w.grid_panel.filter_edit.text() == ""


def test_the_view_comes_back_after_a_restart(qtbot, window, tmp_path):
    w = window()
    w.map.in_subprocess = False
    open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=12, per=1))
    location = w.snapshot.location
    leave_a_view(qtbot, w)
    w.close()  # quitting the app: the window's close, not the catalog's
    assert UserSettings.load().catalog_view(location).selected == ["art03", "art05"]
    again = window()
    again.map.in_subprocess = False
    reopen(qtbot, again, location)
    assert_view_back(again)


def test_only_articles_that_still_exist_are_selected_again(qtbot, window, tmp_path):
    w = window()
    open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=4, per=1))
    location = w.snapshot.location
    w.close_catalog()
    qtbot.waitUntil(lambda: w.snapshot is None, timeout=T)
    user = UserSettings.load()
    user.set_catalog_view(location, CatalogView(selected=["gone-away", "art02"]))
    user.save()
    reopen(qtbot, w, location)
    assert w.grid_panel.selected_articles() == ["art02"]
    # None of them left: the grid starts on its first article, as for a catalog never seen.
    w.close_catalog()
    qtbot.waitUntil(lambda: w.snapshot is None, timeout=T)
    user = UserSettings.load()
    user.set_catalog_view(location, CatalogView(selected=["gone-away"], tab="no-such-tab"))
    user.save()
    reopen(qtbot, w, location)
    assert w.grid_panel.selected_articles() == ["art00"] and not w.map.shown_now()


def test_views_are_kept_for_the_most_recent_catalogs_only(tmp_path):
    from desktop_app.core import settings

    user = UserSettings()
    for i in range(settings.MAX_VIEWS + 3):
        user.set_catalog_view(tmp_path / f"c{i}.sqlite", CatalogView(selected=[f"a{i}"] * 2, filter="x"))
    assert len(user.views) == settings.MAX_VIEWS
    assert user.catalog_view(tmp_path / "c0.sqlite") is None
    last = settings.MAX_VIEWS + 2
    assert user.catalog_view(tmp_path / f"c{last}.sqlite").selected == [f"a{last}"] * 2
    big = CatalogView(selected=[f"a{i}" for i in range(settings.MAX_VIEW_SELECTION + 50)])
    assert len(big.selected) == settings.MAX_VIEW_SELECTION
