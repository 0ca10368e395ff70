"""The catalog map in the main window, on the real sample photos: the scene's contents, dots zoomed out and
covers zoomed in, linked selection both ways, the search highlighted, a lasso drawn with real mouse events,
labelling the lasso (undoable), showing it in the grid, inspecting two, the layout computed in a child
process, cancel, and a new layout when an adapter is switched on."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.core import layout as lay
from desktop_app.core import map_picture as pic
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.gui.map_view import MapPoints, MapView, argb
from tests.test_gui import T, open_and_index

pytest.importorskip("openTSNE", reason="install the [map] extra")


@pytest.fixture
def map_window(qtbot, window, sample_copy):
    w = window()
    w.map.in_subprocess = False
    open_and_index(qtbot, w, sample_copy, GroupingRule("pattern", MAGENTO_PATTERN))
    engine = w.snapshot.engine
    keys = list(w.snapshot.articles.keys)
    engine.set_labels([k for k in keys if k.startswith("w")], "category", "women")
    engine.set_labels([k for k in keys if k.startswith("m")], "category", "men")
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.reload()
    yield w
    assert w.map.runner.pool.activeThreadCount() == 0 or w.map.runner.closed


def show_map(qtbot, w, timeout: int = 4 * T):  # a t-SNE layout in a child: the slowest wait here
    with qtbot.waitSignal(w.map.shown, timeout=timeout) as blocker:
        w.acts.map.trigger()
    return blocker.args[0]


def viewport_point(view: MapView, key: str) -> QPoint:
    i = view.keys.index(key)
    return view.mapFromScene(QPointF(*view.points.pos_[i]))


def test_map_scene_dots_covers_and_linked_selection(qtbot, map_window):
    w = map_window
    layout = show_map(qtbot, w)
    view, snap = w.map.view, w.snapshot
    assert w.map.shown_now() and set(view.keys) == set(snap.articles.keys) == set(layout.articles)
    assert view.points.pos_.shape == (len(layout), 2)
    # Coloured by category: women and men each in their own colour, the rest unlabelled grey.
    legend = {v: (c, n) for v, c, n in view.legend}
    assert legend["women"][1] == sum(k.startswith("w") for k in view.keys) and "(unlabelled)" in legend
    women = view.keys.index(next(k for k in view.keys if k.startswith("w")))
    assert view.points.colours[women] == argb([legend["women"][0]])[0]
    assert "women" in view.tips[women] and view.keys[women] in view.tips[women]
    # Zoomed out: dots. Zoomed in with the wheel: covers, as the thumbnails arrive.
    view.fit()
    view.viewport().repaint()
    assert view.points.last_mode == "dots" and view.points.last_drawn == len(layout)
    target = view.keys[women]
    view.centre_on(target)
    for _ in range(12):
        qtbot.wait(0)
        view.zoom_by(1.35, animate=False)
    qtbot.waitUntil(lambda: (view.viewport().repaint(), view.points.last_mode == "covers")[1], timeout=T)
    qtbot.waitUntil(lambda: w.thumbs.made > 0, timeout=T)
    # Hovering over an article finds it (its tooltip names it).
    assert view.row_at(QPointF(viewport_point(view, target))) == women

    # Grid -> map: the grid's selection is the map's; the search's query and results are highlighted.
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article(target)
    assert view.selected_keys() == [target]
    hits = [h.article for h in blocker.args[0].hits]
    assert set(view.highlighted_keys()) == {target, *hits}
    # Map -> grid: a click on another article selects it in the grid and drives the similar panel.
    view.fit()
    other = next(
        k
        for k in view.keys
        if k != target and view.row_at(QPointF(viewport_point(view, k))) == view.keys.index(k)
    )
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(view, other))
    assert w.selected_articles() == [other] and blocker.args[0].query.articles == [other]
    assert view.selected_keys() == [other]


def test_map_is_a_tab_beside_the_grid_with_room_for_both_at_1366x768(qtbot, map_window):
    w = map_window
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.height() == 768 and w.width() == 1366)
    results_before = w.similar.view.height()
    show_map(qtbot, w)
    QApplication.processEvents()
    # The map has the whole left pane (a dock under everything left the grid one row and the results a
    # strip); the results keep their height.
    assert w.left_tabs.currentWidget() is w.map.panel and not w.grid_panel.isVisible()
    assert w.map.view.height() >= 0.6 * w.height() and w.similar.view.height() == results_before
    # The layout's progress reads on one line, elided to the bar.
    p = w.map.panel
    p.show_running(True)
    p.show_progress(35, 100, "arranging (t-SNE)")
    assert p.progress.fontMetrics().horizontalAdvance(p.progress.text()) <= p.progress.width()
    assert p.progress.text().startswith("arranging (t-SNE)") and p.progress.text().endswith("35%")
    p.show_progress(35, 100, "arranging the articles by their nearest neighbours in two dimensions")
    assert p.progress.fontMetrics().horizontalAdvance(p.progress.text()) <= p.progress.width()
    p.show_running(False)
    # Working in the map's bar never moves the divider beside it, and the label box shows what is typed.
    width = p.width()
    p.show_selection(15)
    qtbot.keyClicks(p.value, "women-hoodies-and-sweatshirts")
    QApplication.processEvents()
    assert p.width() == width and p.value.width() >= p.value.fontMetrics().horizontalAdvance(
        "label for all of them"
    )
    p.value.clear()
    # The articles' tab brings the grid back with its full height; the tab's close button closes the map.
    bar = w.left_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    assert w.grid_panel.isVisible() and w.acts.map.isChecked()
    close = bar.tabButton(1, bar.ButtonPosition.RightSide)
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    assert not w.acts.map.isChecked() and w.left_tabs.count() == 1 and not bar.isVisible()


def test_colour_by_folder_from_the_box_and_a_field_without_labels_stays_named(qtbot, map_window):
    from collections import Counter

    w = map_window
    show_map(qtbot, w)
    view, box, snap = w.map.view, w.map.panel.colour_by, w.snapshot
    assert box.currentData() == "category"
    # Chosen with the keyboard in the colour box: the legend counts the articles of each folder.
    box.setFocus()
    for _ in range(box.count()):
        if box.currentData() == pic.BY_FOLDER:
            break
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert w.map.colour_by == pic.BY_FOLDER
    folders = Counter(f or "(top folder)" for f in snap.articles.folders)
    assert {v: n for v, _c, n in view.legend} == dict(folders)
    # One step further down, labelled or not: the articles labelled women or men against the rest.
    qtbot.keyClick(box, Qt.Key.Key_Down)
    assert w.map.colour_by == pic.BY_UNLABELLED
    labelled = sum(k[0] in "wm" for k in snap.articles.keys)
    legend = {v: (c, n) for v, c, n in view.legend}
    assert legend == {
        "labelled": (legend["labelled"][0], labelled),
        pic.UNLABELLED: (pic.UNLABELLED_COLOUR, len(view.keys) - labelled),
    }
    row = view.keys.index(next(k for k in view.keys if not k.startswith(("w", "m"))))
    assert view.points.colours[row] == argb([pic.UNLABELLED_COLOUR])[0]
    # A field no article has a label in yet: the box names it (not another choice) and all are unlabelled.
    w.map.set_colour_by("season")
    w.map.refresh()
    assert box.currentData() == "season" and [v for v, _c, _n in view.legend] == [pic.UNLABELLED]


def lasso(qtbot, view: MapView, corners: list[QPoint]) -> None:
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, corners[0])
    for a, b in zip(corners, corners[1:] + corners[:1]):
        for t in np.linspace(0, 1, 6)[1:]:
            qtbot.mouseMove(
                vp, QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
            )
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, corners[0])


def test_lasso_selects_labels_undoes_shows_in_grid_and_inspects(qtbot, map_window, monkeypatch):
    w = map_window
    show_map(qtbot, w)
    view, panel = w.map.view, w.map.panel
    view.fit()
    pts = {k: viewport_point(view, k) for k in view.keys}
    # A lasso round the left half of the map, drawn with the mouse.
    mid = int(np.median([p.x() for p in pts.values()]))
    top, bottom = min(p.y() for p in pts.values()) - 5, max(p.y() for p in pts.values()) + 5
    left = min(p.x() for p in pts.values()) - 5
    inside = sorted(k for k, p in pts.items() if p.x() < mid - 1)
    with qtbot.waitSignal(view.lasso_selected, timeout=T) as blocker:
        lasso(qtbot, view, [QPoint(left, top), QPoint(mid, top), QPoint(mid, bottom), QPoint(left, bottom)])
    chosen = blocker.args[0]
    assert set(inside) <= set(chosen) and len(chosen) < len(view.keys)
    assert sorted(view.selected_keys()) == sorted(chosen) == sorted(w.selected_articles())
    assert panel.count.text() == f"{len(chosen)} selected"

    # Label all of them: one decision through the engine, and the map's colours follow.
    colour_before = {v: c for v, c, _ in view.legend}
    dots_before = {k: view.points.colours[i] for i, k in enumerate(view.keys) if k not in chosen}
    panel.field.setCurrentText("category")
    qtbot.keyClicks(panel.value, "lasso-picked")
    # Some of them already have a category: the map asks first, No by default, and No writes nothing.
    had = {k: v["category"] for k, v in w.snapshot.engine.labels("category").items() if k in chosen}
    assert had
    asked = []

    def answer(reply):
        def question(parent, title, text, buttons, default):
            asked.append((text, default))
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    qtbot.mouseClick(panel.set_label, Qt.MouseButton.LeftButton)
    text, default = asked[-1]
    assert text.startswith(f"{len(chosen)} articles; {len(had)} already ") and "category" in text
    assert default == QMessageBox.StandardButton.No
    assert {k: v["category"] for k, v in w.snapshot.engine.labels("category").items() if k in chosen} == had
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.mouseClick(panel.set_label, Qt.MouseButton.LeftButton)
    assert len(asked) == 2
    labels = w.snapshot.engine.labels("category")
    assert all(labels[k]["category"] == "lasso-picked" for k in chosen)
    assert any(v == "lasso-picked" and n == len(chosen) for v, _, n in view.legend)
    # The groups that were there keep their colours (the legend's order follows the new counts).
    colour_after = {v: c for v, c, _ in view.legend}
    assert all(colour_after[v] == c for v, c in colour_before.items() if v in colour_after)
    assert colour_after["lasso-picked"] not in colour_before.values()
    assert {k: view.points.colours[view.keys.index(k)] for k in dots_before} == dots_before
    assert panel.undo.isEnabled()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        qtbot.mouseClick(panel.undo, Qt.MouseButton.LeftButton)
    labels = w.snapshot.engine.labels("category")
    assert not any(labels.get(k, {}).get("category") == "lasso-picked" for k in chosen)

    # A filter that hides them all leaves the grid, and so the map, with nothing selected; a lasso on the
    # map clears it, so that the grid selects all the map does. Show in grid then shows them.
    w.grid_panel.filter_edit.setText("no-such-article")
    w.grid_panel.apply_filter()
    assert view.selected_keys() == [] and panel.count.text() == "Nothing selected"
    view.fit()
    pts = {k: viewport_point(view, k) for k in view.keys}
    x = sorted(p.x() for k, p in pts.items() if k not in chosen)[0]  # the first one left out
    top, bottom = min(p.y() for p in pts.values()) - 5, max(p.y() for p in pts.values()) + 5
    left = min(p.x() for p in pts.values()) - 5
    with qtbot.waitSignal(view.lasso_selected, timeout=T) as blocker:
        lasso(
            qtbot, view, [QPoint(left, top), QPoint(x - 1, top), QPoint(x - 1, bottom), QPoint(left, bottom)]
        )
    again = blocker.args[0]
    assert again and not w.grid_panel.filter_edit.text()
    assert sorted(w.selected_articles()) == sorted(view.selected_keys()) == sorted(again)
    chosen = again
    qtbot.mouseClick(panel.show_grid, Qt.MouseButton.LeftButton)
    assert w.left_tabs.currentIndex() == 0 and sorted(w.selected_articles()) == sorted(chosen)

    # Two articles (click, then Ctrl+click): inspect them. The two farthest apart, so no dot hides the other.
    view.fit()
    pts = {k: viewport_point(view, k) for k in view.keys}
    a = min(pts, key=lambda k: pts[k].x())
    b = max(pts, key=lambda k: pts[k].x())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pts[a])
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, pts[b])
    assert sorted(view.selected_keys()) == sorted([a, b]) == sorted(w.selected_articles())
    assert panel.inspect.isEnabled()
    qtbot.mouseClick(panel.inspect, Qt.MouseButton.LeftButton)
    assert w.inspector_window is not None and a in w.inspector_window.windowTitle()


def test_layout_in_a_child_process_then_cancel_and_adapter(qtbot, map_window, tmp_path, monkeypatch):
    w = map_window
    w.map.in_subprocess = True
    first = show_map(qtbot, w, timeout=120_000)
    assert first.method == "tsne" and w.map.job is None

    # Cancel: a recompute that waits for the cancel (in a thread, so the test can hold it).
    w.map.in_subprocess = False

    def held(X, method="tsne", seed=0, progress=None, should_cancel=None, **_k):
        while not should_cancel():
            progress(10, 1000, "arranging (t-SNE)")
        raise lay.Cancelled()

    monkeypatch.setattr(lay, "compute_layout", held)
    qtbot.mouseClick(w.map.panel.recompute, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.map.panel.progress.value() == 10, timeout=T)
    assert w.map.panel.cancel.isVisible()
    qtbot.mouseClick(w.map.panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.map.job is None, timeout=T)
    assert w.map.layout is first and not w.map.panel.progress.isVisible()
    monkeypatch.undo()

    # An adapter switched on: the map lays out the adapted vectors (stored under their own key).
    engine = w.snapshot.engine
    groups = tmp_path / "groups.csv"
    keys = list(w.snapshot.articles.keys)
    groups.write_text("article,group\n" + "".join(f"{k},{k.split('-')[0]}\n" for k in keys))
    adapter = engine.train_adapter(("groups",), groups, "whitening")
    w.reload()  # the catalog is read again: the map finds other vectors in use and lays them out
    qtbot.waitUntil(lambda: w.map.layout.adapter_id == adapter.id, timeout=T)
    assert "adapted" in w.map.panel.state.full_text() and w.map.layout.articles == first.articles


def test_wheel_zooms_smoothly_round_the_cursor(qtbot):
    from PySide6.QtGui import QWheelEvent

    rng = np.random.default_rng(1)
    xy = rng.normal(size=(500, 2))
    view = MapView(lambda _p: None)
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    view.set_points(
        MapPoints([str(i) for i in range(500)], xy, argb(["#2f6db5"] * 500), [None] * 500, [""] * 500)
    )
    at = QPointF(150, 120)
    under = view.mapToScene(at.toPoint())
    before = view.scale_
    event = QWheelEvent(
        at,
        view.viewport().mapToGlobal(at),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.points.zooming  # a notch is animated: the last picture is scaled until it settles
    qtbot.waitUntil(lambda: not view.points.zooming, timeout=T)
    assert view.scale_ == pytest.approx(before * 1.0018**120, rel=1e-3)
    after = view.mapToScene(at.toPoint())  # the point under the cursor stayed under it
    assert abs(after.x() - under.x()) * view.scale_ <= 1.5 and abs(after.y() - under.y()) * view.scale_ <= 1.5


def test_view_draws_100k_points_as_dots(qtbot):
    rng = np.random.default_rng(0)
    n = 100_000
    xy = rng.normal(size=(300, 2))[rng.integers(0, 300, n)] * 30 + rng.normal(size=(n, 2))
    view = MapView(lambda _p: None)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    colours = argb(["#2f6db5", "#e07b1a"])[rng.integers(0, 2, n)]
    view.set_points(
        MapPoints([str(i) for i in range(n)], xy, colours, [None] * n, [str(i) for i in range(n)])
    )
    image = view.viewport().grab().toImage()
    assert view.points.last_mode == "dots" and view.points.last_drawn == n
    centre = view.mapFromScene(QPointF(*view.points.pos_[0]))
    assert image.pixelColor(centre).name() in ("#2f6db5", "#e07b1a")
    view.pan_pixels(40, 0)  # a pan reuses the last picture, shifted
    assert view.viewport().grab().toImage().pixelColor(centre - QPoint(40, 0)).name() in (
        "#2f6db5",
        "#e07b1a",
    )


def rest_cursor_at(view: MapView, at: QPoint) -> bool:
    """What Qt does when the cursor rests over the map: a real tooltip event at that point. Returns whether
    the view answered it with a tooltip: the scene, left to it, declined it and hid the hover tooltip."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent

    event = QHelpEvent(QEvent.Type.ToolTip, at, view.viewport().mapToGlobal(at))
    QApplication.sendEvent(view.viewport(), event)
    return event.isAccepted()


def test_hover_tooltip_lists_every_article_at_the_place_and_covers_fan_out(qtbot):
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QToolTip

    grid = np.array([(x, y) for x in range(8) for y in range(8)], dtype=float)
    # Two colours of one product at the very same place, as the layout gave them, among a grid of others.
    xy = np.vstack([grid[27], grid[27], np.delete(grid, 27, axis=0)])
    keys = ["ball", "ball-gray"] + [f"a{i}" for i in range(63)]
    cover = QPixmap(40, 40)
    cover.fill(Qt.GlobalColor.darkGreen)
    view = MapView(lambda _p: cover)
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    view.set_points(
        MapPoints(keys, xy, argb(["#2f6db5"] * 65), ["c.jpg"] * 65, [f"{k}\nunlabelled" for k in keys])
    )

    # Zoomed out, dots: the cursor moves onto the dot and rests there.
    at = viewport_point(view, "ball")
    qtbot.mouseMove(view.viewport(), at)
    assert rest_cursor_at(view, at)
    assert QToolTip.isVisible()
    assert "ball\nunlabelled" in QToolTip.text() and "ball-gray\nunlabelled" in QToolTip.text()
    far = QPoint(3, 3)  # nothing there: the tooltip goes
    qtbot.mouseMove(view.viewport(), far)
    assert not rest_cursor_at(view, far)
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=T)  # Qt lets a tooltip fade

    # Zoomed in to covers: the two are drawn apart, and each can be clicked on its own.
    view.centre_on("ball")
    view.zoom_by(60 / view.scale_, animate=False)
    view.viewport().grab()
    assert view.points.last_mode == "covers"
    drawn = {
        k: view.points.pos_[keys.index(k)] + view.points.fan[keys.index(k)] for k in ("ball", "ball-gray")
    }
    apart = np.abs(drawn["ball"] - drawn["ball-gray"]) * view.scale_
    assert apart.max() >= 15  # pixels: the cover behind shows
    for k, other in (("ball", "ball-gray"), ("ball-gray", "ball")):
        # Each one's own side of the fan: from its centre, away from the other's.
        spot = view.mapFromScene(QPointF(*(drawn[k] + (drawn[k] - drawn[other]) * 0.8)))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=spot)
        assert view.selected_keys() == [k]
    rest_cursor_at(view, view.mapFromScene(QPointF(*view.points.pos_[0])))
    assert "ball-gray" in QToolTip.text() and "ball\n" in QToolTip.text()


# ----------------------------------------------------------------------------- legend, keys, palette


def legend_view(qtbot, n: int = 400, size=(600, 400)) -> MapView:
    """A view of articles spread evenly over a square (the legend's corner included), with a legend."""
    side = int(np.sqrt(n))
    xy = np.array([(x, y) for x in range(side) for y in range(side)], dtype=float)
    keys = [f"a{i}" for i in range(len(xy))]
    colours = pic.colouring([f"group {i % 12}" for i in range(len(xy))])
    view = MapView(lambda _p: None)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.set_points(
        MapPoints(keys, xy, argb([colours.colour_of(i) for i in range(len(xy))]), [None] * n, keys)
    )
    view.set_legend(colours.legend, f"{len(xy)} articles · colour: group")
    return view


def on_screen(view: MapView):
    """What the window shows now: its backing store, where a stale copy of a scrolled legend would stay (a
    fresh grab() draws everything again and would hide it)."""
    return QApplication.primaryScreen().grabWindow(view.winId()).toImage()


def differing_pixels(a, b, outside) -> int:
    """Pixels of two images of one size that differ, outside a rectangle."""
    diff = 0
    for y in range(0, a.height(), 2):
        for x in range(0, a.width(), 2):
            if not outside.contains(x, y) and a.pixel(x, y) != b.pixel(x, y):
                diff += 1
    return diff


def articles_under_legend(view: MapView) -> list[str]:
    box = view.legend_box.geometry().translated(-view.viewport().pos())
    return [k for k in view.keys if box.contains(viewport_point(view, k))]


def settle(qtbot, view: MapView) -> None:
    qtbot.waitUntil(lambda: not view.points.zooming, timeout=T)
    QApplication.processEvents()


def test_panning_by_drag_and_keys_leaves_no_copies_of_the_legend(qtbot):
    view = legend_view(qtbot)
    view.setFocus()
    for _ in range(3):  # zoom in with the keyboard
        qtbot.keyClick(view, Qt.Key.Key_Plus)
        settle(qtbot, view)
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=QPoint(300, 200))
    for i in range(1, 16):
        qtbot.mouseMove(vp, QPoint(300 + 8 * i, 200 + 4 * i))
        QApplication.processEvents()
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(420, 260))
    for _ in range(5):
        qtbot.keyClick(view, Qt.Key.Key_Left)
        QApplication.processEvents()
    shown = on_screen(view)
    fresh = view.grab().toImage()
    assert shown.size() == fresh.size()
    # Everything outside the legend is the map as it is now: no trail of legends where the pans moved it.
    legend = view.legend_box.geometry().adjusted(-2, -2, 2, 2)
    assert differing_pixels(shown, fresh, legend) == 0


def test_fit_leaves_the_legend_room_and_a_click_on_it_selects_nothing(qtbot):
    from desktop_app.gui.map_panel import MapPanel

    panel = MapPanel(lambda _p: None)
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.show()
    qtbot.waitExposed(panel)
    ref = legend_view(qtbot)  # the same points and legend, handed to the panel's view
    view = panel.view
    view.set_points(MapPoints(ref.keys, ref.points.pos_, ref._colours, [None] * len(ref.keys), ref.tips))
    view.set_legend(ref.legend, ref.caption)
    QApplication.processEvents()
    # Fitted, no article lies under the legend (the articles fill the square, its corner too).
    assert view.at_fit and view.legend_box.isVisible() and not articles_under_legend(view)
    assert all(view.viewport().rect().contains(viewport_point(view, k)) for k in view.keys)
    # Zoomed and panned, articles go under the legend; a click there selects none of them.
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    settle(qtbot, view)
    qtbot.keyClick(view, Qt.Key.Key_Right)  # the map moves left, under the legend
    qtbot.keyClick(view, Qt.Key.Key_Right)
    hidden = articles_under_legend(view)
    assert hidden and not view.at_fit
    spot = viewport_point(view, hidden[-1]) + view.viewport().pos() - view.legend_box.pos()
    qtbot.mouseClick(view.legend_box, Qt.MouseButton.LeftButton, pos=spot)
    assert view.selected_keys() == []
    # ...it folds the legend to its caption instead, and the article behind can be clicked.
    assert (
        view.legend_box.folded and view.legend_box.height() < 2 * view.legend_box.fontMetrics().height() + 12
    )
    target = next(
        k
        for k in hidden
        if not view.legend_box.geometry().contains(viewport_point(view, k) + view.viewport().pos())
    )
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(view, target))
    assert view.selected_keys() == [target]
    qtbot.mouseClick(view.legend_box, Qt.MouseButton.LeftButton, pos=QPoint(10, 8))
    assert not view.legend_box.folded
    # The Fit button: the whole map again, clear of the legend.
    qtbot.mouseClick(panel.fit, Qt.MouseButton.LeftButton)
    assert view.at_fit and not articles_under_legend(view)


def test_keys_zoom_fit_pan_and_open(qtbot):
    view = legend_view(qtbot)
    fitted = view.scale_
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    settle(qtbot, view)
    assert view.scale_ == pytest.approx(fitted * 1.25, rel=1e-3)
    qtbot.keyClick(view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)  # Ctrl+= too
    settle(qtbot, view)
    assert view.scale_ == pytest.approx(fitted * 1.25**2, rel=1e-3)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    settle(qtbot, view)
    assert view.scale_ == pytest.approx(fitted * 1.25, rel=1e-3)
    # Arrows pan by a share of the view: the map moves the other way.
    before = viewport_point(view, "a0")
    qtbot.keyClick(view, Qt.Key.Key_Right)
    after = viewport_point(view, "a0")
    assert after.x() == before.x() - round(view.viewport().width() * 0.15) and after.y() == before.y()
    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert viewport_point(view, "a0").y() == after.y() - round(view.viewport().height() * 0.45)
    # 0 and Home: the whole map again.
    for key in (Qt.Key.Key_0, Qt.Key.Key_Home):
        qtbot.keyClick(view, Qt.Key.Key_Plus)
        settle(qtbot, view)
        qtbot.keyClick(view, key)
        assert view.at_fit and view.scale_ == pytest.approx(fitted, rel=1e-6)
    # Enter opens the article clicked; with nothing selected it opens nothing.
    opened = []
    view.activated.connect(opened.append)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert opened == []
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(view, "a210"))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        viewport_point(view, "a45"),
    )
    qtbot.keyClick(view, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert opened == ["a210", "a45"]


def test_the_map_keys_beat_the_windows_thumbnail_zoom_and_are_in_the_shortcut_sheet(qtbot, map_window):
    from desktop_app.gui.shortcuts import window_rows

    w = map_window
    show_map(qtbot, w)
    view, size = w.map.view, w.user.thumb_size
    view.setFocus()
    fitted = view.scale_
    qtbot.keyClick(view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, view)
    # Ctrl++ zoomed the map, not the grid's thumbnails (the window's shortcut for them).
    assert view.scale_ == pytest.approx(fitted * 1.25, rel=1e-3) and w.user.thumb_size == size
    rows = [(what, keys) for where, what, keys in window_rows() if where == "Catalog map"]
    assert ("Fit the whole map", "0, Home") in rows and ("Open the selected article", "Return") in rows
    assert any(keys.startswith("+, -") for _what, keys in rows)
    # Enter on the map opens the article clicked on it.
    view.fit()
    key = view.keys[0]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(view, key))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.detail.model.article == key, timeout=T)


@pytest.mark.parametrize("palette", ["dark", "light"])
def test_the_map_takes_its_colours_from_the_palette(qtbot, palette):
    from PySide6.QtGui import QColor, QPalette

    from desktop_app.gui import theme
    from desktop_app.gui.map_legend import shown_colour
    from tests.test_gui_curator import darkest_contrast

    pal = theme.dark_palette() if palette == "dark" else theme.light_palette()
    view = legend_view(qtbot)
    view.setPalette(pal)
    view.set_selection(["a0"])
    base = pal.color(QPalette.ColorRole.Base)
    image = view.viewport().grab().toImage()
    assert image.pixelColor(3, image.height() - 3) == base  # the map's background is the palette's
    # Every group's dots read on it (graphics: 3:1); the greys of "other" and "unlabelled" recede as much
    # as they do on white, and are still seen (3:1).
    for i in range(len(view.keys)):
        shown = QColor(int(view.points.colours[i]) & 0xFFFFFF)
        given = QColor(int(view._colours[i]) & 0xFFFFFF)
        if palette == "light":
            assert shown == given
        elif (
            max(given.red(), given.green(), given.blue()) - min(given.red(), given.green(), given.blue()) > 12
        ):
            assert theme.contrast(shown, base) >= 3.0
    for grey in (pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR):
        assert theme.contrast(shown_colour(QColor(grey), base), base) == pytest.approx(
            theme.contrast(QColor(grey), QColor("white")), abs=0.15
        )
        assert theme.contrast(shown_colour(QColor(grey), base), base) >= 3.0  # seen, in either palette
    # The group colours read on both backgrounds as they are: the dark view shows them unchanged.
    for colour in pic.PALETTE:
        assert shown_colour(QColor(colour), base) == QColor(colour)
    # The selected article's ring reads on the background.
    ring = view.mapFromScene(QPointF(*view.points.pos_[0]))
    size = int(np.clip(round(0.9 * view.scale_), 3, 11))
    edge = image.pixelColor(ring.x() + size // 2 + 1, ring.y())
    assert theme.contrast(edge, base) >= theme.READABLE
    # The legend's text reads on its box.
    legend = view.legend_box.grab().toImage()
    line = view.legend_box.fontMetrics().height()
    from PySide6.QtCore import QRect

    assert (
        darkest_contrast(
            legend, QRect(28, 6 + line, 60, line - 2), legend.pixelColor(legend.width() - 6, line + 8)
        )
        >= theme.READABLE
    )


def wheel(view: MapView, at: QPoint, delta: int = 120) -> None:
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(
        QPointF(at),
        QPointF(view.viewport().mapToGlobal(at)),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def press(qtbot, key: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed as a curator does: it goes to whichever widget has the focus."""
    qtbot.keyClick(QApplication.focusWidget(), key, mods)


def test_zero_on_the_map_fits_it_and_leaves_the_decision_in_the_results_alone(qtbot, map_window):
    # The probe: a result decided with the keys, Ctrl+M, the wheel on the map, then 0 ("Fit the whole map")
    # took the decision back, as the results beside the map still had the focus.
    from tests.test_gui_curator import active, card_centre

    w = map_window
    engine = w.snapshot.engine
    query = w.snapshot.articles.keys[-1]
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article(query)
    active(qtbot, w)
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    hit = w.similar.selected_hit()
    assert QApplication.focusWidget() is w.similar.view
    with qtbot.waitSignal(w.decisions.decided, timeout=T):
        press(qtbot, Qt.Key.Key_1)
    assert engine.decisions_with([query]) == {hit: "same"}
    # Ctrl+M: the map comes forward with the focus.
    with qtbot.waitSignal(w.map.shown, timeout=4 * T):
        press(qtbot, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    view = w.map.view
    assert w.map.shown_now() and QApplication.focusWidget() is view
    fitted = view.scale_
    # Back to the results with the mouse, then the wheel on the map: the focus follows the wheel.
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    assert QApplication.focusWidget() is w.similar.view
    wheel(view, view.viewport().rect().center())
    qtbot.waitUntil(lambda: not view.points.zooming, timeout=T)
    zoomed = view.scale_
    assert QApplication.focusWidget() is view and zoomed > fitted * 1.1
    # 0 fits the map; the decision stands.
    press(qtbot, Qt.Key.Key_0)
    shown = view.scale_
    view.fit()
    assert view.at_fit and shown == pytest.approx(view.scale_, rel=1e-6) and shown < zoomed
    QApplication.processEvents()
    assert engine.decisions_with([query]) == {hit: "same"} and w.similar.selected_decision() == "same"
    # The articles' tab, then the map's tab clicked: the map has the focus again.
    bar = w.left_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert QApplication.focusWidget() is view


def test_decision_keys_act_only_while_the_results_are_shown_and_focused(qtbot, map_window):
    from tests.test_gui_curator import active, card_centre

    w = map_window
    query = w.snapshot.articles.keys[-1]
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article(query)
    active(qtbot, w)
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, 0))
    action = w.similar.decision_actions["same"]
    assert action.isEnabled()
    asked = []
    w.similar.decide_requested.connect(lambda *a: asked.append(a))
    w.grid.setFocus()  # the curator works in the grid: the results' key does nothing
    action.trigger()
    assert asked == []
    w.similar.view.setFocus()  # back in the results: it decides
    action.trigger()
    assert asked == [(w.similar.selected_hit(), "same")]
