"""Context menus opened from the keyboard (the Menu key) are for the current item, as the mouse's are for the
item under it, in views with a header too (the duplicates list, the detail page's photo table)."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem

from desktop_app.gui.item_menus import item_menus


def keyboard_menu(view, at: QPoint) -> None:
    """What the Menu key sends the focused view: a keyboard context menu event at a point of Qt's choosing
    (here one a header row away from the current item, as X11 gives it)."""
    QApplication.sendEvent(
        view, QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, at, view.mapToGlobal(at))
    )


def test_the_menu_key_opens_the_menu_of_the_current_row_under_a_header(qtbot):
    tree = QTreeWidget()
    tree.setHeaderLabels(["pair", "score"])
    for i in range(10):
        QTreeWidgetItem(tree, [f"row{i}", "0.9"])
    qtbot.addWidget(tree)
    tree.resize(300, 400)
    tree.show()
    opened: list[str | None] = []
    item_menus(tree, lambda pos: opened.append(tree.itemAt(pos).text(0) if tree.itemAt(pos) else None))
    tree.setCurrentItem(tree.topLevelItem(6))
    below = tree.visualItemRect(tree.topLevelItem(7)).center()
    keyboard_menu(tree, below)
    assert opened == ["row6"]
    # the mouse's own request is passed on as it comes
    tree.customContextMenuRequested.emit(below)
    assert opened == ["row6", "row7"]


def test_no_current_item_no_menu(qtbot):
    table = QTableWidget(3, 2)
    for i in range(3):
        table.setItem(i, 0, QTableWidgetItem(f"row{i}"))
    qtbot.addWidget(table)
    table.show()
    opened: list[int] = []
    item_menus(table, lambda pos: opened.append(table.indexAt(pos).row()))
    keyboard_menu(table, QPoint(5, 5))
    assert opened == []
    table.setCurrentCell(2, 0)
    keyboard_menu(table.viewport(), QPoint(5, 5))
    assert opened == [2]
