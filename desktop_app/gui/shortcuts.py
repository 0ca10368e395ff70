"""Help ▸ Keyboard shortcuts (F1): every key of the app, made from the actions themselves.

The sheet lists the menus' actions with their shortcuts, by their own names (not the live text of Undo and
Redo), the keys of the similar panel's results and of the detail page (their own actions), and the key
tables of the other windows (review queue, match inspector, duplicates, lightbox, catalog map), declared
beside the code that binds them, so it never disagrees with what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.gui.lightbox import LIGHTBOX_KEYS

Row = tuple[str, str, str]  # where, what, keys


def keys_of(action: QAction) -> str:
    return ", ".join(
        s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty()
    )


def _clean(text: str) -> str:
    return text.replace("&", "").replace("…", "").strip()


def name_of(action: QAction) -> str:
    """The action's name in the sheet: the one it was made with, whatever its menu text says now."""
    return _clean(action.property("sheet_name") or action.text())


def menu_rows(bar: QMenuBar) -> list[Row]:
    rows: list[Row] = []

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{where} ▸ {_clean(action.text())}")
            elif keys_of(action):
                rows.append((where, name_of(action), keys_of(action)))

    for action in bar.actions():
        if action.menu() is not None:
            walk(action.menu(), _clean(action.text()))
    return rows


def action_rows(where: str, actions: Iterable[QAction]) -> list[Row]:
    return [(where, name_of(a), keys_of(a)) for a in actions if keys_of(a)]


def key_rows(where: str, keys: Iterable[tuple[tuple[str, ...], str]]) -> list[Row]:
    """Rows of a table of keys a view handles itself: ((keys...), what they do)."""
    return [(where, what, ", ".join(k)) for k, what in keys]


def window_rows() -> list[Row]:
    """The keys of the windows and panels besides the main window's menus, each under its name."""
    from desktop_app.gui.duplicates_view import DUPLICATES_KEYS
    from desktop_app.gui.inspector_window import INSPECTOR_KEYS
    from desktop_app.gui.map_view import MAP_KEYS
    from desktop_app.gui.review_detail import REVIEW_KEYS
    from desktop_app.gui.secondary import CLOSE_KEYS

    tables = (
        ("Review queue", REVIEW_KEYS + CLOSE_KEYS),
        ("Match inspector", INSPECTOR_KEYS),
        ("Duplicates", DUPLICATES_KEYS),
        ("Lightbox and compare", LIGHTBOX_KEYS),
        ("Catalog map", MAP_KEYS),
    )
    return [row for where, keys in tables for row in key_rows(where, keys)]


class ShortcutSheet(QDialog):
    def __init__(self, rows: list[Row], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = rows
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "What", "Keys"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(r, c, item)
        self.table.verticalHeader().hide()
        # Rows as tall as their text: a long description wraps instead of being cut.
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        screen = self.screen().availableGeometry() if self.screen() else None
        height = min(760, int(screen.height() * 0.85)) if screen else 640
        # Wide enough that no action's description is cut (the longest, duplicates' "D", was elided at 680).
        self.resize(min(900, screen.width() - 40) if screen else 900, height)


__all__ = ["ShortcutSheet", "action_rows", "key_rows", "keys_of", "menu_rows", "name_of", "window_rows"]
