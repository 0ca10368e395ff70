"""The curator's tools of the main window (issue 12): the lightbox and compare, right-click menus, drag
out, copying and exporting results, recent catalogs, sorting, Edit ▸ Undo/Redo and the shortcut sheet.
Real input events."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from tests.conftest import write_photo
from tests.test_gui import T, big_tree, open_and_index
from tests.test_gui_curator import (
    active,
    answer_dialog,
    card_centre,
    choose,
    context_menu,
    indexed,
    lightbox_from_grid,
    show_results,
    wheel,
)

# ----------------------------------------------------------------------------- lightbox and compare


def test_lightbox_from_the_grid_steps_through_photos_and_zooms(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=3, per=3))
    box = lightbox_from_grid(qtbot, w, "art01")
    canvas = box.canvases[0]
    assert len(box.items) == 3 and box.index == 0 and canvas.image_size() == (64, 48)
    assert canvas.fitted and canvas.scale_factor > 1  # small photos are fitted up to the window
    active(qtbot, box)
    qtbot.keyClick(box, Qt.Key.Key_Right)
    qtbot.waitUntil(box.is_shown, timeout=T)
    assert box.index == 1 and "art01" in box.captions[0].text()
    qtbot.keyClick(box, Qt.Key.Key_1)
    assert canvas.scale_factor == pytest.approx(1.0) and not canvas.fitted
    fit = canvas.fit_scale()
    qtbot.keyClick(box, Qt.Key.Key_Plus)
    assert canvas.scale_factor == pytest.approx(1.25)
    wheel(canvas.viewport(), 1, Qt.KeyboardModifier.NoModifier)
    assert canvas.scale_factor == pytest.approx(1.25 * 1.25)
    qtbot.keyClick(box, Qt.Key.Key_0)
    assert canvas.fitted and canvas.scale_factor == pytest.approx(fit)
    # Left from the first goes round to the last, Right from the last back to the first.
    qtbot.keyClick(box, Qt.Key.Key_Left)
    qtbot.keyClick(box, Qt.Key.Key_Left)
    qtbot.waitUntil(box.is_shown, timeout=T)
    assert box.index == 2 and "3 of 3" in box.status.text()
    qtbot.keyClick(box, Qt.Key.Key_Right)
    qtbot.waitUntil(box.is_shown, timeout=T)
    assert box.index == 0
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=T)


def test_compare_a_result_side_by_side_with_one_zoom(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=3, per=2))
    show_results(qtbot, w, "art00")
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    active(qtbot, w)
    qtbot.keyClick(w.similar.view, Qt.Key.Key_Space)
    box = w.articles.lightbox
    assert box is not None and len(box.canvases) == 2
    qtbot.waitUntil(box.is_shown, timeout=T)
    hit = w.similar.model.hits[0]
    assert len(box.items) == len(hit.pairs)
    assert "art00" in box.captions[0].text() and hit.article in box.captions[1].text()
    left, right = box.canvases
    assert left.scale_factor == pytest.approx(right.scale_factor)
    wheel(left.viewport(), 2, Qt.KeyboardModifier.NoModifier)
    assert right.scale_factor == pytest.approx(left.scale_factor) and not right.fitted
    box.close()


def test_results_of_one_shot_are_marked_and_compared_with_what_differs_outlined(qtbot, window, tmp_path):
    from tests.test_duplicates import product_photo

    root = tmp_path / "photos"
    for name, garment in (("blue", (40, 90, 170)), ("red", (200, 60, 40))):  # one shot, two colours
        (root / name).mkdir(parents=True)
        product_photo(1, garment=garment).save(root / name / "main.jpg")
    write_photo(root / "noise" / "main.jpg", size=(320, 400))  # another picture altogether
    w = indexed(qtbot, window, root)
    show_results(qtbot, w, "blue")
    # The cards say which result is another colour of the query's shot, once that is known.
    from desktop_app.gui.results import RELATION_TIPS, RelationRole

    model = w.similar.model
    qtbot.waitUntil(
        lambda: model.data(model.index(model.row_of("red"), 0), RelationRole) == "edit", timeout=T
    )
    assert model.data(model.index(model.row_of("noise"), 0), RelationRole) is None
    tip = model.data(model.index(model.row_of("red"), 0), Qt.ItemDataRole.ToolTipRole)
    assert RELATION_TIPS["edit"] in tip
    spoken = model.data(model.index(model.row_of("red"), 0), Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.endswith(", same shot")  # a screen reader says it too
    for article, same_shot in (("red", True), ("noise", False)):
        row = [h.article for h in w.similar.model.hits].index(article)
        qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, row))
        active(qtbot, w)
        qtbot.keyClick(w.similar.view, Qt.Key.Key_Space)
        box = w.articles.lightbox
        qtbot.waitUntil(lambda b=box: b.is_shown() and not b.runner.busy(), timeout=T)
        assert box.has_marks() == same_shot, article
        if same_shot:  # the recoloured shirt, in both photos
            assert all(c.changes.cells.any() for c in box.canvases)
            assert "magenta" in box.status.text()
        box.close()
    # The inspector's cell compares the same way.
    w.inspect("red")
    ins = w.inspector_window
    with qtbot.waitSignal(ins.ready, timeout=T):
        pass
    cell_view = ins.inspector.panes[0].view
    pos = cell_view.visualRect(cell_view.model().index(0, 0)).center()
    qtbot.mouseDClick(cell_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: ins.lightbox.is_shown() and ins.lightbox.has_marks(), timeout=T)
    ins.lightbox.close()
    ins.close()


def test_a_compare_keeps_equal_panes_and_one_scale_when_the_window_is_resized(qtbot, tmp_path):
    from desktop_app.gui.lightbox import Lightbox, LightboxPhoto

    small, large = tmp_path / "small.jpg", tmp_path / "large.jpg"
    write_photo(small, (200, 30, 30), size=(300, 400))
    write_photo(large, (30, 30, 200), size=(1200, 900))
    long_name = "luma-stability-ball-and-a-very-long-article-name-from-a-supplier · back_alt3"
    box = Lightbox("Compare", [[LightboxPhoto(small, "wj08-gray · main"), LightboxPhoto(large, long_name)]])
    try:
        box.show()
        qtbot.waitUntil(box.is_shown, timeout=T)
        for size in ((700, 688), (1100, 500), (520, 700)):
            box.resize(*size)
            qtbot.waitUntil(lambda s=size: box.size().width() == s[0], timeout=T)
            QApplication.processEvents()
            left, right = box.canvases
            assert abs(left.width() - right.width()) <= 2, size  # a long caption does not widen its pane
            assert left.scale_factor == pytest.approx(right.scale_factor), size  # one scale for both
            for canvas in box.canvases:  # the whole of each photo in view: fitted to the larger one
                w, h = canvas.image_size()
                view = canvas.viewport().size()
                assert (
                    w * canvas.scale_factor <= view.width() + 1
                    and h * canvas.scale_factor <= view.height() + 1
                )
    finally:
        box.close()  # it deletes itself on close


def test_a_compare_outlines_what_differs_and_h_hides_it(qtbot, tmp_path):
    import numpy as np

    from desktop_app.core.fingerprint_changes import Changes
    from desktop_app.core.fingerprints import GRID
    from desktop_app.gui.lightbox import Lightbox, LightboxPhoto

    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    write_photo(a, (200, 30, 30), size=(480, 600))
    write_photo(b, (200, 30, 30), size=(240, 300))  # a copy at half size: the marks go by each photo's frame
    cells = np.zeros((GRID, GRID), bool)
    cells[36:42, 6:18] = True  # rows 3/4 to 7/8 of the height, columns 1/8 to 3/8 of the width
    asked: list[int] = []

    def changes(i: int):
        asked.append(i)
        return Changes(cells), Changes(cells, frame=(0.1, 0.0, 1.0, 1.0))

    box = Lightbox("Compare", [[LightboxPhoto(a, "a"), LightboxPhoto(b, "b")]], changes=changes)
    try:
        box.show()
        qtbot.waitUntil(lambda: box.is_shown() and box.has_marks(), timeout=T)
        assert asked == [0]
        (left, right) = box.canvases
        shape = left._marks[0].path().boundingRect()
        assert (shape.left(), shape.top(), shape.right(), shape.bottom()) == pytest.approx(
            (60, 450, 180, 525), abs=1
        )
        shape, frame = right._marks[0].path().boundingRect(), right._marks[1].rect()
        assert (shape.left(), shape.top(), shape.width()) == pytest.approx((30, 225, 60), abs=1)
        assert (frame.left(), frame.width()) == pytest.approx((24, 216), abs=2)  # the part the other shows
        assert all(m.parentItem() is c.item for c in box.canvases for m in c._marks)  # they zoom with it
        assert "magenta: where the photos differ" in box.status.text() and "dashed" in box.status.text()
        qtbot.keyClick(box, Qt.Key.Key_H)
        assert not any(m.isVisible() for c in box.canvases for m in c._marks)
        assert "H shows what differs" in box.status.text()
        qtbot.keyClick(box, Qt.Key.Key_H)
        assert all(m.isVisible() for c in box.canvases for m in c._marks)
    finally:
        box.close()


def test_marks_painted_on_a_preview_outline_the_changed_cells_without_tinting_them(qtbot):
    import numpy as np
    from PySide6.QtGui import QColor, QPixmap

    from desktop_app.core.fingerprint_changes import Changes
    from desktop_app.core.fingerprints import GRID
    from desktop_app.gui import photo_marks

    pix = QPixmap(480, 480)
    pix.fill(QColor("white"))
    cells = np.zeros((GRID, GRID), bool)
    cells[24:30, 24:30] = True  # pixels 240 to 300 each way
    out = photo_marks.paint(pix, Changes(cells, frame=(0.1, 0.1, 0.9, 0.9))).toImage()
    assert out.pixelColor(240, 270) == photo_marks.CHANGED  # on the outline
    assert out.pixelColor(270, 270) == QColor("white")  # inside it the photo's own colour
    assert out.pixelColor(52, 48) == photo_marks.FRAME  # the first dash of the crop's frame
    assert pix.toImage().pixelColor(240, 270) == QColor("white")  # the photo itself is left as it was


# ----------------------------------------------------------------------------- menus and drag out


def test_right_click_menus_of_grid_results_and_inspector(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w, "art00")
    view = w.grid
    menu = context_menu(qtbot, w, view.viewport(), view.visualRect(w.grid_model.index(2, 0)).center())
    assert w.selected_articles() == ["art02"]  # the right-clicked article became the selection
    texts = [a.text() for a in menu.actions()]
    for wanted in (
        "Open article",
        "View photos",
        "Show in file manager",
        "Copy article id",
        "Set label…",
        "Compare with…",
    ):
        assert wanted in texts
    choose(qtbot, menu, "Copy article id")
    assert QApplication.clipboard().text() == "art02"
    show_results(qtbot, w, "art00")
    menu = context_menu(qtbot, w, w.similar.view.viewport(), card_centre(w, 1))
    hit = w.similar.model.hits[1].article
    texts = [a.text() for a in menu.actions()]
    for wanted in (
        "Inspect match",
        "Compare photos",
        "Show in catalog",
        "Decide",
        "Copy article id",
        f"Use this photo as the cover of {hit}",
    ):
        assert wanted in texts
    choose(qtbot, menu, "Copy photo path")
    assert Path(QApplication.clipboard().text()).exists()
    # The inspector's cells: compare the two photos, open them, use one as a cover.
    w.inspect(hit)
    ins = w.inspector_window
    with qtbot.waitSignal(ins.ready, timeout=T):
        pass
    cell_view = ins.inspector.panes[0].view
    pos = cell_view.visualRect(cell_view.model().index(0, 0)).center()
    QApplication.sendEvent(
        cell_view.viewport(),
        QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, cell_view.viewport().mapToGlobal(pos)),
    )
    qtbot.waitUntil(lambda: ins.menu is not None and ins.menu.isVisible(), timeout=T)
    texts = [a.text() for a in ins.menu.actions()]
    assert "Compare these two photos" in texts and f"Use as the cover of {hit}" in texts
    ins.menu.close()
    qtbot.mouseDClick(cell_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert ins.lightbox is not None and len(ins.lightbox.canvases) == 2
    ins.close()


def test_drag_out_carries_photo_files_and_article_ids(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=3, per=2))
    show_results(qtbot, w, "art00")
    grid = w.grid_model
    mime = grid.mimeData([grid.index(0, 0), grid.index(1, 0)])
    assert mime.text().splitlines() == ["art00", "art01"]
    assert all(Path(u.toLocalFile()).exists() for u in mime.urls()) and len(mime.urls()) == 2
    assert grid.flags(grid.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled
    results = w.similar.model
    mime = results.mimeData([results.index(0, 0)])
    assert mime.text() == results.hits[0].article and Path(mime.urls()[0].toLocalFile()).exists()
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        w.open_detail("art01")
    photos = w.detail.model
    mime = photos.mimeData([photos.index(1, 0)])
    assert Path(mime.urls()[0].toLocalFile()).name == "p1.jpg"
    # Dropping them back on the window is not a query: the window ignores its own drags.
    assert w.grid.dragDropMode() == w.grid.DragDropMode.DragOnly


def test_results_copy_and_export(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=3, per=2))
    outcome = show_results(qtbot, w, "art00")
    active(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:3] == ["rank", "article", "score"] and len(lines) == 1 + len(outcome.hits)
    out = tmp_path / "results.csv"
    w.export_results(out)
    qtbot.waitUntil(out.exists, timeout=T)
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[1].split(",")[1] == outcome.hits[0].article and ">" in rows[1]


# ----------------------------------------------------------------------------- catalogs, zoom, sort, undo


def test_recent_catalogs_and_close_catalog(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "a", articles=2, per=2))
    first = w.snapshot.location
    w.catalogs.grouping_dialog = None
    open_and_index(qtbot, w, big_tree(tmp_path / "b", articles=3, per=2))
    # The folder's name, once: Qt adds " — Lookalike" (the display name); the file's hash never shows.
    assert w.windowTitle() == "b" and w.snapshot.location != first
    recent = w.acts.recent_menu
    recent.aboutToShow.emit()
    entry = next(a for a in recent.actions() if first in a.text())
    assert entry.text().startswith("a  —  ")
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        entry.trigger()
    assert w.snapshot.location == first and w.grid_model.rowCount() == 2
    active(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)  # Close catalog
    assert w.stack.currentWidget() is w.welcome and w.snapshot is None
    assert w.windowTitle() == "Lookalike" and not w.acts.close_catalog.isEnabled()
    qtbot.waitUntil(lambda: w.welcome.recent.count() == 2, timeout=T)


def test_the_window_layout_is_kept_from_one_session_to_the_next(qtbot, window):
    from desktop_app.core.settings import UserSettings

    w = window()
    # Lower than it opens (and than the screen, so the size comes back as it was), the results wider.
    lower = w.height() - 100
    w.resize(w.width(), lower)
    qtbot.waitUntil(lambda: w.height() == lower)
    w.splitter.setSizes([w.width() // 3, w.width() - w.width() // 3])
    sizes = w.splitter.sizes()
    w.close()  # saved in the user's settings file
    saved = UserSettings.load()
    geometry, splitter = saved.main_window_layout()
    assert geometry and splitter
    again = window(window=saved.window)
    assert again.size() == w.size() and again.splitter.sizes() == sizes
    assert window().size() != w.size()  # without a saved layout, the window opens as it did


def test_grid_columns_share_the_width_at_every_zoom(qtbot, window, tmp_path):
    """No wide empty strip right of the grid: as many columns as fit, the spare width spread among them, so
    the first row's last cell ends near the viewport's right edge (measured from the laid-out cells)."""
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=12, per=1))
    view, model = w.grid_panel.view, w.grid_model
    for step in (0, 1, 1, -1, -1, -1):
        if step:
            w.grid_panel.set_thumb_size(w.grid_panel.delegate.thumb_size + 40 * step)
        qtbot.waitUntil(lambda: view.visualRect(model.index(0, 0)).isValid(), timeout=T)
        centres = [view.visualRect(model.index(i, 0)).center() for i in range(model.rowCount())]
        row = [c.x() for c in centres if c.y() == centres[0].y()]
        grid = view.gridSize().width()
        strip = view.viewport().width() - (max(row) + grid / 2)
        assert len(row) < model.rowCount() and grid >= view.cell.width(), (len(row), grid)
        assert strip < 24, (strip, grid, view.cell.width(), view.viewport().width())


def test_sort_by_photo_count_reversed_and_by_similarity(qtbot, window, tmp_path):
    root = tmp_path / "photos"
    for a, n in (("few", 1), ("many", 4), ("some", 2)):
        for p in range(n):
            write_photo(root / a / f"p{p}.jpg", (40 * p, 120, 200 - 50 * p), seed=p + 10 * n)
    w = indexed(qtbot, window, root)
    combo = w.grid_panel.sort_combo
    combo.setCurrentIndex(combo.findData("photos"))
    assert [w.grid_model.article_at(r) for r in range(3)] == ["many", "some", "few"]
    qtbot.mouseClick(w.grid_panel.order_btn, Qt.MouseButton.LeftButton)
    assert [w.grid_model.article_at(r) for r in range(3)] == ["few", "some", "many"]
    qtbot.mouseClick(w.grid_panel.order_btn, Qt.MouseButton.LeftButton)
    outcome = show_results(qtbot, w, "few")
    combo.setCurrentIndex(combo.findData("similar"))
    qtbot.waitUntil(lambda: w.grid_model.sort_key == "similar", timeout=T)
    order = [w.grid_model.article_at(r) for r in range(3)]
    assert order == ["few", *(h.article for h in outcome.hits)]
    assert "few" in combo.currentText() and w.selected_articles() == ["few"]


def test_edit_undo_and_redo_of_label_edits_and_decisions(qtbot, window, tmp_path):
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=4, per=2))
    show_results(qtbot, w, "art00")

    def type_label(dialog) -> None:
        qtbot.keyClicks(dialog.value_box.lineEdit(), "shirts")
        qtbot.mouseClick(dialog.set_button, Qt.MouseButton.LeftButton)

    w.select_articles(["art01", "art02"])
    answer_dialog(qtbot, type_label)
    w.labels.set_label()
    engine = w.snapshot.engine
    assert {a: d["category"] for a, d in engine.labels("category").items()} == {
        "art01": "shirts",
        "art02": "shirts",
    }
    qtbot.waitUntil(lambda: w.acts.undo.text() == "Undo category “shirts” on 2 articles", timeout=T)
    active(qtbot, w)
    with qtbot.waitSignal(w.history.changed, timeout=T):
        qtbot.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert engine.labels("category") == {}
    qtbot.waitUntil(w.acts.redo.isEnabled, timeout=T)
    assert w.acts.redo.text() == "Redo category “shirts” on 2 articles"
    with qtbot.waitSignal(w.history.changed, timeout=T):
        qtbot.keyClick(
            w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
    assert {a: d["category"] for a, d in engine.labels("category").items()} == {
        "art01": "shirts",
        "art02": "shirts",
    }
    qtbot.waitUntil(lambda: not w.acts.redo.isEnabled(), timeout=T)
    # A match decision is newer than the labels: Undo takes it back first, Redo writes it again.
    show_results(qtbot, w, "art00")
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    hit = w.similar.selected_hit()
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        qtbot.mouseClick(w.similar.decisions.buttons["same"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.acts.undo.text().startswith("Undo “same product”"), timeout=T)
    with qtbot.waitSignal(w.history.changed, timeout=T):
        w.acts.undo.trigger()
    assert engine.decisions_with(["art00"]) == {}
    qtbot.waitUntil(w.acts.redo.isEnabled, timeout=T)
    with qtbot.waitSignal(w.history.changed, timeout=T):
        w.acts.redo.trigger()
    assert engine.decisions_with(["art00"]) == {hit: "same"}


def test_the_shortcut_sheet_lists_every_key(qtbot, window):
    w = window()
    active(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_F1)
    sheet = w.shortcut_sheet
    assert sheet.isVisible()
    rows = set(sheet.rows)
    assert ("File", "Open photo folder", "Ctrl+O") in rows and ("Help", "Keyboard shortcuts", "F1") in rows
    wheres = {r[0] for r in rows}
    assert {"Article grid", "Similar articles", "Lightbox and compare", "Article detail", "Match"} <= wheres
    for menu in w.acts.menus.values():
        for action in menu.actions():
            if action.menu() is None and not action.shortcut().isEmpty():
                assert any(r[1] == action.text().replace("…", "").strip() for r in rows), action.text()
    # No description is cut: each row is as tall as its wrapped text.
    table, fm = sheet.table, sheet.table.fontMetrics()
    width = table.columnWidth(1) - 8
    for r in range(table.rowCount()):
        text = table.item(r, 1).text()
        wrapped = fm.boundingRect(0, 0, width, 10_000, Qt.TextFlag.TextWordWrap, text).height()
        assert table.rowHeight(r) >= wrapped, text
    sheet.close()


def test_the_shortcut_sheet_lists_the_keys_of_every_window_by_stable_names(qtbot, window):
    w = window()
    w.acts.undo.setText("Undo accept 1 suggestion")  # what Edit > Undo says after a review decision
    w.acts.redo.setText("Redo set label “shirts”")
    active(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_F1)
    rows = w.shortcut_sheet.rows
    edit = {r[1]: r[2] for r in rows if r[0] == "Edit"}
    assert "Undo" in edit and "Redo" in edit  # never the menu's live text
    assert not any(n.startswith(("Undo ", "Redo ")) for n in edit)

    def keys(where: str) -> set[str]:
        return {k.strip() for r in rows if r[0] == where for k in r[2].split(",")}

    assert {"Enter", "1", "2", "3", "S", "Ctrl+Z", "Esc", "Ctrl+W"} <= keys("Review queue")
    assert {"Ctrl+0", "1", "2", "3", "0", "Esc", "Ctrl+W"} <= keys("Match inspector")
    assert {"D", "N", "S", "Ctrl+Z", "Esc", "Ctrl+W"} <= keys("Duplicates")
    assert {"Esc", "Ctrl+W"} <= keys("Lightbox and compare")
    assert "Shift+drag" in keys("Catalog map")
    w.shortcut_sheet.close()


def test_help_about_names_the_model_the_device_the_files_and_copies_it_all(qtbot, window, tmp_path):
    from desktop_app import __version__
    from desktop_app.gui.errors import log_file

    w = window()
    about = next(a for a in w.acts.menus["Help"].actions() if a.text() == "About Lookalike")
    about.trigger()  # as the menu item does, with no catalog open: the model new catalogs get
    box = w.about_box
    text = box.text.toPlainText()
    assert "Model for new catalogs" in text and "Searching by words needs a CLIP model." in text
    assert str(log_file()) in text and "OSL-3.0 / AFL-3.0" in text
    box.close()
    w = indexed(qtbot, window, big_tree(tmp_path / "photos", articles=2, per=1))
    about = next(a for a in w.acts.menus["Help"].actions() if a.text() == "About Lookalike")
    about.trigger()
    box = w.about_box
    text = box.text.toPlainText()
    model = w.snapshot.model.manifest
    assert f"{model.name} (" in text and "Runs on the CPU." in text
    assert str(w.snapshot.location) in text
    qtbot.mouseClick(box.copy_button, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert copied.startswith(f"Lookalike {__version__}") and str(w.snapshot.location) in copied
    box.close()


def test_a_dark_palette_from_the_view_menu_and_settings(qtbot, window):
    from PySide6.QtGui import QPalette

    from desktop_app.core.settings import UserSettings
    from desktop_app.gui import theme

    w = window()
    app = QApplication.instance()

    def button_lightness() -> int:  # the top edge of a Decide button: its background, not its text
        QApplication.processEvents()  # the palette change reaches the widgets through the event queue
        image = w.similar.decisions.buttons["alike"].grab().toImage()
        return image.pixelColor(image.width() // 2, 3).lightness()

    w.show()
    try:
        theme.apply_theme(app, "light")
        light_button = button_lightness()
        dark = next(a for a in w.acts.themes.actions() if a.data() == "dark")
        dark.trigger()
        assert theme.is_dark(app.palette()) and UserSettings.load().theme == "dark"
        # Widgets with a style sheet of their own follow too (the Decide buttons kept the light look).
        assert button_lightness() < light_button - 100
        w.open_settings()
        dialog = w.settings_dialog
        assert dialog.theme.currentData() == "dark"
        dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
        qtbot.waitUntil(dialog.model_combo.isEnabled, timeout=T)
        dialog.buttons.accepted.emit()
        assert not theme.is_dark(app.palette()) and UserSettings.load().theme == "light"
        assert next(a for a in w.acts.themes.actions() if a.data() == "light").isChecked()
        assert app.palette().color(QPalette.ColorRole.Base).lightness() > 200
    finally:
        theme.apply_theme(app, "system")


# ----------------------------------------------------------------------------- secondary windows close alike


@pytest.mark.parametrize("key", ["Esc", "Ctrl+W"])
@pytest.mark.parametrize("kind", ["inspector", "lightbox"])
def test_esc_and_ctrl_w_close_the_inspector_and_the_lightbox(qtbot, kind, key):
    from desktop_app.gui.inspector_window import InspectorWindow
    from desktop_app.gui.lightbox import Lightbox, LightboxPhoto

    if kind == "inspector":
        w = InspectorWindow("wj08-gray", "wh02-blue")
    else:
        w = Lightbox("Photos", [[LightboxPhoto(None, "wj08-gray · main")]])
    w.show()
    active(qtbot, w)
    with qtbot.waitSignal(w.destroyed, timeout=T):  # both delete themselves on close
        if key == "Esc":
            qtbot.keyClick(w, Qt.Key.Key_Escape)
        else:
            qtbot.keyClick(w, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
