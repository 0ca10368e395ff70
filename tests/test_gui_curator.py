"""The defects of issue 12, each through real input events: results that keep their query, covers, labels that
stay fresh, a results grid that zooms with the catalog, colours that read on dark palettes, offline
thumbnails, one count model, honest advice, and windows that fit a 1366x768 screen. Real input events."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.settings import UserSettings
from desktop_app.gui.mainwindow import MainWindow
from desktop_app.gui.models import ArticleRole
from tests.conftest import hold_indexing
from tests.test_gui import T, big_tree, open_and_index


def indexed(qtbot, make, folder: Path, **prefs) -> MainWindow:
    w = make(**prefs)
    open_and_index(qtbot, w, folder)
    return w


def show_results(qtbot, w: MainWindow, article: str):
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article(article)
    return blocker.args[0]


def card_centre(w: MainWindow, row: int) -> QPoint:
    view = w.similar.view
    idx = w.similar.model.index(row, 0)
    view.scrollTo(idx)
    return view.visualRect(idx).center()


def test_a_result_clicked_keeps_the_query_and_double_click_inspects_it(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=5, per=2))
    show_results(qtbot, w, "art00")
    hit = w.similar.model.hits[1].article
    view = w.similar.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 1))
    # The query stays, the result is selected in the panel, Inspect is enabled (Ctrl+I works too).
    assert w.search.query.articles == ["art00"] and w.selected_articles() == ["art00"]
    assert w.similar.selected_hit() == hit and w.acts.inspect.isEnabled()
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 1))
    inspector = w.inspector_window
    assert inspector is not None and (inspector.article_a, inspector.article_b) == ("art00", hit)
    with qtbot.waitSignal(inspector.ready, timeout=T):
        pass
    inspector.close()
    # Enter on the selected result inspects it as well.
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert (w.inspector_window.article_a, w.inspector_window.article_b) == ("art00", hit)
    w.inspector_window.close()
    assert w.search.query.articles == ["art00"]


# ----------------------------------------------------------------------------- helpers for real input


def context_menu(qtbot, w: MainWindow, widget, pos: QPoint):
    """Right-click: the context-menu event a mouse press makes, then the menu that opened."""
    QApplication.sendEvent(
        widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    )
    qtbot.waitUntil(lambda: w.articles.menu is not None and w.articles.menu.isVisible(), timeout=T)
    return w.articles.menu


def choose(qtbot, menu, text: str) -> None:
    action = next(a for a in menu.actions() if a.text() == text)
    assert action.isEnabled(), text
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def wheel(widget, steps: int, modifiers=Qt.KeyboardModifier.ControlModifier) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def active(qtbot, w) -> None:
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=T)


def lightbox_from_grid(qtbot, w, article: str):
    """Select an article in the grid and open the lightbox on it with Space, as a curator does; returns the
    lightbox once its photo is shown."""
    w.select_article(article)
    active(qtbot, w)
    w.grid.setFocus()
    qtbot.keyClick(w.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.articles.lightbox is not None, timeout=T)
    box = w.articles.lightbox
    qtbot.waitUntil(box.is_shown, timeout=T)
    return box


def sample_window(qtbot, window, sample_copy) -> MainWindow:
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    w = window()
    open_and_index(qtbot, w, sample_copy, GroupingRule("pattern", MAGENTO_PATTERN))
    return w


# ----------------------------------------------------------------------------- defect 2: covers


def test_right_click_use_as_cover_changes_the_grid_and_survives(qtbot, window, sample_copy):
    w = sample_window(qtbot, window, sample_copy)
    model = w.grid_model
    row = model.row_of("wj08-gray")
    # The automatic cover is the main view, not the alphabetically first detail crop (wj08-gray_alt1).
    assert model.cover_path(int(model.visible[row])).endswith("wj08-gray_main.jpg")
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        w.open_detail("wj08-gray")
    table = w.detail.table
    back = next(i for i, r in enumerate(w.detail.model.rows) if r.view == "back")
    pos = table.visualRect(w.detail.model.index(back, 0)).center()
    menu = context_menu(qtbot, w, table.viewport(), pos)
    with qtbot.waitSignals([w.detail_loaded, w.catalog_loaded], timeout=T):
        choose(qtbot, menu, "Use as cover")
    i = model._key_index()["wj08-gray"]
    assert w.snapshot.articles.covers[i] == "w/j/wj08-gray_back.jpg"
    qtbot.waitUntil(lambda: "cover" in (w.detail.model.data(w.detail.model.index(back, 0)) or ""), timeout=T)
    assert w.snapshot.engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_back.jpg"
    # The photo right-clicked stays selected, and stays the similar panel's query (the reload went back
    # to the first row, and the query to its photo).
    assert w.detail.current_rel() == "w/j/wj08-gray_back.jpg"
    qtbot.waitUntil(lambda: w.search.query is not None and w.search.query.kind == "photo", timeout=T)
    assert w.search.query.photo_path == "w/j/wj08-gray_back.jpg"
    # Back to the automatic choice from the same menu.
    menu = context_menu(qtbot, w, table.viewport(), pos)
    with qtbot.waitSignals([w.detail_loaded, w.catalog_loaded], timeout=T):
        choose(qtbot, menu, "Back to the automatic cover")
    assert w.snapshot.articles.covers[i] == "w/j/wj08-gray_main.jpg"


# ----------------------------------------------------------------------------- defect 3: labels stay fresh


def answer_dialog(qtbot, act) -> None:
    """Work a modal dialog once it is up (exec() blocks the test until it closes)."""
    from PySide6.QtCore import QTimer

    def later() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, later)
            return
        act(dialog)

    QTimer.singleShot(0, later)


def test_labels_in_the_similar_panel_follow_every_change(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w, "art00")

    def label_of(article: str) -> str:
        from desktop_app.gui.models import LabelRole

        return w.similar.model.index(w.similar.model.row_of(article), 0).data(LabelRole)

    # Set label (Ctrl+E) on the grid's selection, typed into the dialog.
    def type_label(dialog) -> None:
        qtbot.keyClicks(dialog.value_box.lineEdit(), "jackets")
        qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)

    w.select_articles(["art01"])
    answer_dialog(qtbot, type_label)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.labels.set_label()
    show_results(qtbot, w, "art00")
    assert label_of("art01") == "jackets"
    # An import: the panel shows the imported labels, and the status bar says how many (it used to vanish).
    csv = tmp_path / "labels.csv"
    csv.write_text("article,label\nart02,boots\nart03,boots\nnope,boots\n", encoding="utf-8")

    def import_csv(dialog) -> None:
        dialog.set_csv(csv)
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    answer_dialog(qtbot, import_csv)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.labels.import_labels()
    qtbot.waitUntil(lambda: label_of("art02") == "boots", timeout=T)
    qtbot.waitUntil(lambda: not w.catalogs.busy(), timeout=T)
    assert w.statusBar().currentMessage().startswith("Imported 2 labels")
    # The review queue: Enter accepts a suggestion; the panel follows.
    queue = w.labels.open_review()
    with qtbot.waitSignal(queue.ready, timeout=T):
        pass
    article = queue.current_article()
    suggested = queue.current_suggestion().label
    with qtbot.waitSignal(w.results_shown, timeout=T):
        qtbot.keyClick(queue.view, Qt.Key.Key_Return)
    if article in {h.article for h in w.similar.model.hits}:
        assert label_of(article) == suggested
    queue.close()


# ----------------------------------------------------------------------------- defect 4: a results grid


def test_results_are_a_grid_that_zooms_with_the_catalog(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=8, per=3))
    w.resize(1900, 1000)
    show_results(qtbot, w, "art00")
    delegate = w.similar.delegate
    # The best pair's photos are readable (the old rows had 50-64 px ones), and cards fill rows of several.
    assert delegate.pair >= 96
    grid = w.similar.view.gridSize()
    assert grid.width() * 2 <= w.similar.view.viewport().width() + 2
    # Ctrl + wheel over the results zooms the grid and the results together, and is remembered.
    wheel(w.similar.view.viewport(), -1)
    assert w.user.thumb_size == 128 and w.grid_panel.delegate.thumb_size == 128
    assert delegate.thumb_size == 128 and UserSettings.load().thumb_size == 128
    wheel(w.grid.viewport(), +1)
    assert w.user.thumb_size == 160 and delegate.thumb_size == 160
    # The slider beside the sort order does the same, by keyboard too.
    slider = w.grid_panel.zoom
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert w.user.thumb_size == 192 and w.grid_panel.delegate.thumb_size == 192


def test_a_cut_article_name_keeps_what_tells_articles_apart(qtbot):
    from PySide6.QtGui import QFont, QFontMetrics

    from desktop_app.gui.delegates import article_name

    fm = QFontMetrics(QFont())
    width = fm.horizontalAdvance("mp03-orange-x")
    assert article_name(fm, "mp03", width) == "mp03"  # fits: as it is
    cut = article_name(fm, "mp03-womens-training-shorts-orange", width)
    assert cut.startswith("mp03-") and cut.endswith("…orange")  # the style code and the colour
    cut = article_name(fm, "supplier-a/2024/summer/wt09-yellow", width)
    assert cut.startswith("…/wt09") and fm.horizontalAdvance(cut) <= width  # a folder id: its last folder


def test_result_names_keep_their_start_at_the_smallest_zoom(qtbot, window, tmp_path):
    """A name too long for its card kept both ends ("mp…range"), cutting out the style code in its middle
    that tells the results apart: it keeps its style code now, and its colour after the last '-' (cut at
    the end, "mh01-ora…" and "mh01-gra…" read alike)."""
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from tests.test_gui import write_photo

    root = tmp_path / "photos"
    for a in range(6):
        for p in range(2):
            colour = ((a * 40) % 255, (a * 90) % 255, 120)
            write_photo(
                root / f"mp{a:02d}-womens-training-shorts-orange-range" / f"p{p}.jpg", colour, seed=a * 10 + p
            )
    w = indexed(qtbot, window, root)
    w.resize(1366, 768)
    slider = w.grid_panel.zoom
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Home)  # the smallest thumbnails, and so the narrowest cards
    show_results(qtbot, w, "mp00-womens-training-shorts-orange-range")
    drawn: list[str] = []

    class Recording(QPainter):
        def drawText(self, *args):
            drawn.extend(a for a in args if isinstance(a, str))
            return super().drawText(*args)

    view, model, delegate = w.similar.view, w.similar.model, w.similar.delegate
    for row in range(model.rowCount()):
        option = QStyleOptionViewItem()
        option.initFrom(view)
        option.rect = view.visualRect(model.index(row, 0))
        image = QImage(option.rect.size(), QImage.Format.Format_RGB32)
        option.rect.moveTo(0, 0)
        painter = Recording(image)
        delegate.render(painter, option, model.index(row, 0))
        painter.end()
    names = [t for t in drawn if t.startswith("mp0") and t.endswith("range")]
    assert len(names) == model.rowCount() and any("…" in t for t in names)  # too long for the card
    for row, t in enumerate(names):  # drawn card by card, in rank order
        start = t.split("…")[0]
        assert len(start) >= 4 and model.data(model.index(row, 0), ArticleRole).startswith(start)


# ----------------------------------------------------------------------------- defect 5: dark palettes


def darkest_contrast(image, rect, background) -> float:
    """The best contrast any pixel of rect has with the background: the ink of text drawn there."""
    from desktop_app.gui.theme import contrast

    best = 1.0
    for x in range(rect.left(), rect.right()):
        for y in range(rect.top(), rect.bottom()):
            best = max(best, contrast(image.pixelColor(x, y), background))
    return best


@pytest.mark.parametrize("palette", ["dark", "light"])
def test_colours_read_on_light_and_dark_palettes(qtbot, palette):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter, QPalette
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    from desktop_app.core.overview import Articles
    from desktop_app.gui import theme
    from desktop_app.gui.delegates import ArticleDelegate
    from desktop_app.gui.inspector_legend import ColourLegend
    from desktop_app.gui.models import ArticleGridModel

    pal = theme.dark_palette() if palette == "dark" else theme.light_palette()
    # Every colour the views choose reads on what it is painted on.
    assert theme.contrast(theme.selection_text(pal), theme.selection_fill(pal)) >= theme.READABLE
    for bg in (
        pal.color(QPalette.ColorRole.Base),
        pal.color(QPalette.ColorRole.AlternateBase),
        theme.selection_fill(pal),
    ):
        assert theme.contrast(theme.score_colour(pal, bg), bg) >= theme.READABLE
        assert theme.contrast(theme.secondary_text(pal, bg), bg) >= theme.READABLE
    for fill in theme.DECISION_FILLS.values():
        assert theme.contrast(QColor(fill), QColor("white")) >= theme.READABLE
    assert theme.contrast(*theme.warning_colours(pal)) >= theme.READABLE
    # A selected grid cell, painted: its name reads on its fill (it used to be light on light blue).
    model = ArticleGridModel()
    row = {
        "article": "wj08-gray",
        "folder": "",
        "added_at": 0.0,
        "photos": 4,
        "cover": "",
        "errors": 0,
        "labels": {},
    }
    model.set_articles(Articles.from_overview([row]), None)
    delegate = ArticleDelegate(160)
    option = QStyleOptionViewItem()
    option.palette = pal
    option.state = QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_Enabled
    size = delegate.cell_size(option.font)
    option.rect = QRect(0, 0, size.width(), size.height())
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(pal.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    delegate.render(painter, option, model.index(0, 0))
    painter.end()
    name_line = QRect(20, 160 + 8 + 4, size.width() - 40, option.fontMetrics.height())
    assert darkest_contrast(image, name_line, theme.selection_fill(pal)) >= theme.READABLE
    # The inspector's legend: its values read on the window (they used to be dark on dark).
    legend = ColourLegend()
    legend.setPalette(pal)
    legend.resize(320, 118)
    qtbot.addWidget(legend)
    shot = legend.grab().toImage()
    values = QRect(8, 22, 60, legend.fontMetrics().height())
    assert darkest_contrast(shot, values, pal.color(QPalette.ColorRole.Window)) >= theme.READABLE


def ink_contrast(widget) -> float:
    """The contrast of what is drawn in a widget with its background (its top-left pixel)."""
    image = widget.grab().toImage()
    return darkest_contrast(image, image.rect(), image.pixelColor(0, 0))


def edge_contrast(check) -> float:
    """The contrast of a check box's box with the window around it."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    option = QStyleOptionButton()
    check.initStyleOption(option)
    box = check.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, check)
    return darkest_contrast(
        check.grab().toImage(), box.adjusted(0, 0, 1, 1), check.palette().color(QPalette.ColorRole.Window)
    )


@pytest.mark.parametrize("palette", ["dark", "light"])
def test_notes_banners_and_check_boxes_read_after_a_palette_switch(qtbot, window, tmp_path, palette):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QFrame

    from desktop_app.gui import theme

    app = QApplication.instance()
    other = "light" if palette == "dark" else "dark"
    theme.apply_theme(app, other)  # the widgets are built with the other palette, as before a switch
    try:
        w = window()
        choose_theme = next(a for a in w.acts.themes.actions() if a.data() == palette)
        choose_theme.trigger()  # View > Colours
        pal = app.palette()
        # The welcome card is the palette's base, not the other palette's (it stayed white on dark).
        card = w.welcome.findChild(QFrame, "welcomeCard")
        fill = card.grab().toImage().pixelColor(card.width() // 2, 4)
        assert fill == pal.color(QPalette.ColorRole.Base)
        w.catalogs.grouping_dialog = None
        open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=3, per=2))
        # "Indexing finished": its banner on the palette's alternate base, its words readable.
        assert w.banner.isVisible()
        corner = w.banner.grab().toImage().pixelColor(w.banner.width() // 2, 3)
        assert corner == pal.color(QPalette.ColorRole.AlternateBase)
        assert theme.contrast(pal.color(QPalette.ColorRole.WindowText), corner) >= theme.READABLE
        # The similar panel's header ("No article is selected…", "20 most similar articles · 9 ms").
        assert w.similar.status.text() and ink_contrast(w.similar.status) >= theme.READABLE
        # The "Show not a match" box has an edge one can see (WCAG: 3:1 for the edges of controls).
        assert edge_contrast(w.similar.rejected_check) >= theme.VISIBLE_EDGE
        # A filter that matches nothing says so in words that read.
        qtbot.keyClicks(w.filter_edit, "zzz-nothing")
        qtbot.waitUntil(lambda: w.grid_panel.stack.currentWidget() is w.grid_panel.empty_label, timeout=T)
        assert ink_contrast(w.grid_panel.empty_label) >= theme.READABLE
    finally:
        theme.apply_theme(app, "system")


# ----------------------------------------------------------------------------- defect 6: offline thumbnails


def test_cached_thumbnails_still_show_when_the_photo_folder_is_offline(qtbot, window, tmp_path, monkeypatch):
    from desktop_app.gui.root_warning import PhotoFolderWarning

    monkeypatch.setattr(PhotoFolderWarning, "RECHECK_MS", 50)
    folder = big_tree(tmp_path / "photos", articles=3, per=2)
    w = indexed(qtbot, window, folder)
    covers = [w.grid_model.cover_path(i) for i in range(len(w.snapshot.articles))]
    qtbot.waitUntil(lambda: all(w.thumbs.get(c) is not None for c in covers), timeout=T)
    location = w.snapshot.location
    w.close_catalog()
    folder.rename(tmp_path / "unplugged")  # the drive is gone
    w.thumbs.set_size(w.thumbs.size + 1)  # forget what is in memory: the disk cache must serve them
    w.thumbs.set_size(w.thumbs.size - 1)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(location)
    assert w.root_frame.isVisible() and "cannot be found" in w.root_warning.text()
    assert "thumbnails made before still show" in w.root_warning.text()
    qtbot.waitUntil(lambda: all(w.thumbs.get(c) is not None for c in covers), timeout=T)
    assert not any(w.thumbs.is_broken(c) for c in covers)
    # Update index says what to do, in the banner, instead of failing on a folder that is not there.
    w.update_index()
    qtbot.waitUntil(lambda: "Update index needs the photos" in w.root_warning.text(), timeout=T)
    assert "Locate photo folder" in w.root_warning.text() and w.last_error is None
    assert w.status.state_label.text() == "Index: photos offline"
    # The drive comes back: the banner goes by itself, and Update index indexes (it stayed refused).
    (tmp_path / "unplugged").rename(folder)
    qtbot.waitUntil(lambda: not w.root_frame.isVisible(), timeout=T)
    with qtbot.waitSignal(w.index_finished, timeout=T):
        w.update_index()
    assert w.status.state_label.text() == "Index: up to date"


# ----------------------------------------------------------------------------- defect 7: counts, advice


def test_one_article_count_while_indexing(qtbot, window, tmp_path, monkeypatch):
    folder = big_tree(tmp_path / "photos", articles=12, per=4)
    reached, gate = hold_indexing(monkeypatch)
    w = window()
    open_and_index(qtbot, w, folder, index_now=False)
    with qtbot.waitSignal(w.index_finished, timeout=T):
        w.update_index()
        qtbot.waitUntil(reached.is_set, timeout=T)
        with qtbot.waitSignal(w.catalog_loaded, timeout=T):
            w.reload()  # what the live refresh does every few seconds
        grid, status = w.grid_panel.count_label.text(), w.status.catalog_label.text()
        gate.set()
    # The grid and the status bar give the same article count (articles with photos so far, of those found);
    # photos are counted once, by the run's progress.
    assert grid == status and "of 12 found" in grid
    assert not grid.startswith("12 ")
    qtbot.waitUntil(lambda: w.grid_panel.count_label.text() == "12 articles", timeout=T)
    # The end of the run re-reads the catalog in the background: the status bar's photo count follows it.
    qtbot.waitUntil(lambda: w.status.catalog_label.text() == "12 articles · 48 photos", timeout=T)


def test_an_article_whose_photos_cannot_be_read_gets_honest_advice(qtbot, window, photo_tree):
    bad = photo_tree / "torn"
    bad.mkdir()
    (bad / "only.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    w = indexed(qtbot, window, photo_tree)
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article("red")
    assert blocker.args[0] is not None
    w.select_article("torn")
    qtbot.waitUntil(lambda: "could be read" in w.similar.status.text(), timeout=T)
    text = w.similar.status.text()
    assert "Replace the damaged files" in text and "Update index" in text


def test_no_vectors_advice_while_indexing():
    from desktop_app.core.similar import Query
    from desktop_app.gui.search_controller import no_vectors_advice

    said = "x has no embedded photos yet. Update the index to embed them."
    assert "indexing is running" in no_vectors_advice(None, Query.of_articles("x"), True, said)
    assert no_vectors_advice(None, Query.of_articles("x"), False, said) == said


# ----------------------------------------------------------------------------- defect 8: a filter clears


def test_a_filter_that_hides_the_selection_clears_the_similar_panel(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w, "art00")
    assert w.similar.model.rowCount() == 3
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o is None):
        qtbot.keyClicks(w.filter_edit, "art03")
    assert w.selected_articles() == [] and w.similar.model.rowCount() == 0
    assert "No article is selected" in w.similar.status.text() and w.search.query is None
    assert not w.acts.inspect.isEnabled() and not w.acts.copy_results.isEnabled()


# ----------------------------------------------------------------------------- defect 9: fits 1366x768


def test_every_window_fits_a_1366x768_screen(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtCore import QRect

    from desktop_app.gui import screen_fit

    small = QRect(0, 0, 1366, 728)  # 768 less a taskbar
    monkeypatch.setattr(screen_fit, "available_area", lambda widget=None: small)
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    room_w, room_h = 1366 - 16, 728 - 40
    for top in (w,):
        assert top.width() <= room_w and top.height() <= room_h
        assert top.minimumSizeHint().height() <= room_h and top.minimumSizeHint().width() <= room_w
    show_results(qtbot, w, "art00")
    w.inspect(w.similar.model.hits[0].article)
    queue = w.labels.open_review()
    w.open_settings()
    for top in (w.inspector_window, queue, w.settings_dialog):
        assert top.width() <= room_w and top.height() <= room_h, top
        hint = top.minimumSizeHint()
        assert hint.width() <= room_w and hint.height() <= room_h, (top, hint)
    queue.close()
    w.settings_dialog.reject()


# ----------------------------------------------------------------------------- defect 10: smaller things


def test_small_things(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QLabel

    from desktop_app.core.inspect import compare_line
    from desktop_app.gui.inspector_panes import inspection_from_matrix

    w = window()
    # Welcome screen: nothing that needs a catalog is enabled.
    for action in (
        w.acts.inspect,
        w.acts.open_photo,
        w.acts.compare,
        w.acts.show_hit,
        w.acts.copy_results,
        w.acts.view_photos,
        w.acts.close_catalog,
        w.acts.learn,
    ):
        assert not action.isEnabled(), action.text()
    # The panel's spin boxes have buddy labels and accessible names.
    panel = w.similar
    for spin, name in (
        (panel.threshold, "Threshold s"),
        (panel.max_matches, "Pairs counted m"),
        (panel.top_k, "Number of results"),
    ):
        assert spin.accessibleName() == name
        assert any(label.buddy() is spin for label in panel.findChildren(QLabel))
    # "the same 1 pairs" no more.
    one = inspection_from_matrix([[0.9]])
    assert "the same pair " in compare_line(one)
    # Compare with… starts at the result the curator is looking at, not an arbitrary article.
    w2 = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w2, "art00")
    qtbot.mouseClick(w2.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w2, 2))
    seen = {}

    def choose(parent, article, items, current):
        seen["start"] = items[current]

    monkeypatch.setattr("desktop_app.gui.inspect_launcher.choose_article", choose)
    with qtbot.waitSignal(w2.detail_loaded, timeout=T):
        w2.open_detail("art00")
    qtbot.mouseClick(w2.detail.compare_btn, Qt.MouseButton.LeftButton)
    assert seen["start"] in {h.article for h in w2.similar.model.hits}


def test_grouping_preview_shows_articles_with_counts_thumbnails_and_the_total(qtbot, window, sample_copy):
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    w = window()
    w.open_folder(sample_copy)
    qtbot.waitUntil(lambda: w.catalogs.grouping_dialog is not None, timeout=T)
    dialog = w.catalogs.grouping_dialog
    dialog.editor.set_rule(GroupingRule("pattern", MAGENTO_PATTERN))
    qtbot.waitUntil(lambda: any(len(r.paths) > 1 for r in dialog.model.rows), timeout=T)
    qtbot.waitUntil(lambda: dialog.total is not None, timeout=T)
    model = dialog.model
    row = next(i for i, r in enumerate(model.rows) if r.article == "wj08-gray")
    assert model.data(model.index(row, 1)) == "4" and "main" in model.data(model.index(row, 2))
    qtbot.waitUntil(
        lambda: model.data(model.index(row, 0), Qt.ItemDataRole.DecorationRole) is not None, timeout=T
    )
    total = sum(1 for p in sample_copy.rglob("*.jpg"))
    assert f"All {total} photos form {len(model.rows)} articles" in dialog.summary.text()
    dialog.reject()
