"""The main window holds still under what a curator does again and again: a splitter dragged back and forth
over results that need a scroll bar only sometimes, and a photo folder that is offline every time it is
needed. Real windows on the offscreen platform; waits on signals, never sleeps."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from tests.test_gui import big_tree
from tests.test_gui_curator import indexed, show_results


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
