"""The Duplicates window's right-click menus: on a pair or cluster row, and on either photo of the pair.

A row's menu compares and judges what the row stands for (the keys say the same), and for each photo or
article of a pair opens it, shows it in the file manager or in the main window's catalog, and copies its
path or id. A photo's menu does the same for that photo. Nothing here moves or deletes a file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMenu

from desktop_app.core.paths import photo_file
from desktop_app.gui.article_actions import add, copy_text
from desktop_app.gui.detail import open_external, reveal_in_file_manager
from desktop_app.gui.duplicates_list import pairs_on_show

JUDGE_ITEMS = (("Duplicate", "duplicate", "D"), ("Not a duplicate", "not_duplicate", "N"))


def row_menu(w: Any, item, at: QPoint) -> QMenu | None:
    """The menu of a row of the list (a pair or a cluster), shown at `at` (global); None on no row."""
    pairs = pairs_on_show(item)
    if not pairs:
        return None
    menu = QMenu(w)
    whole = item.parent() is None
    add(menu, "Compare in the lightbox", w.compare, True, "Space")
    for text, verdict, key in JUDGE_ITEMS:
        add(menu, text + (" (the whole cluster)" if whole else ""), lambda v=verdict: w.judge(v), True, key)
    add(menu, "Same product", lambda: w.judge("same"), w.same_button.isEnabled(), "S")
    if not whole:
        p = pairs[0]
        if p.kind == "article":
            for article in (p.a, p.b):
                menu.addSeparator()
                _article_items(w, menu, article)
            add(menu, "Copy both article ids", lambda: copy_text(f"{p.a}\n{p.b}"))
        else:
            for rel, article in ((p.a, p.article_a), (p.b, p.article_b)):
                menu.addSeparator()
                _photo_items(w, menu, rel, article)
            add(menu, "Copy both paths", lambda: copy_text("\n".join(_paths(w, (p.a, p.b)))))
    return _popup(w, menu, at)


def photo_menu(w: Any, rel: str | None, article: str | None, at: QPoint) -> QMenu | None:
    """The menu of one photo of the pair on show; None when no photo is on show there."""
    if not rel:
        return None
    menu = QMenu(w)
    _photo_items(w, menu, rel, article)
    return _popup(w, menu, at)


def _photo_items(w: Any, menu: QMenu, rel: str, article: str | None) -> None:
    name = Path(rel).name
    path = photo_file(w.root, rel) if w.root is not None else None
    add(menu, f"Open {name}", _opener(open_external, path), path is not None)
    add(menu, f"Show {name} in the file manager", _opener(reveal_in_file_manager, path), path is not None)
    add(menu, f"Copy the path of {name}", lambda: copy_text(str(path) if path is not None else rel))
    if article:
        add(menu, f"Show {article} in the catalog", lambda: w.article_wanted.emit(article))


def _article_items(w: Any, menu: QMenu, article: str) -> None:
    add(menu, f"Show {article} in the catalog", lambda: w.article_wanted.emit(article))
    add(menu, f"Copy the id {article}", lambda: copy_text(article))


def _opener(how: Callable[[Path], object], path: Path | None) -> Callable[[], None]:
    return lambda: how(path) if path is not None else None


def _paths(w: Any, rels: tuple[str, str]) -> list[str]:
    return [str(photo_file(w.root, r)) if w.root is not None else r for r in rels]


def _popup(w: Any, menu: QMenu, at: QPoint) -> QMenu:
    w.menu = menu  # kept, so that it lives while open (and tests find it)
    menu.popup(at)
    return menu


__all__ = ["photo_menu", "row_menu"]
