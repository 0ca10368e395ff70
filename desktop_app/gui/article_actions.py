"""What a curator can do with an article or a photo from anywhere in the main window, and the right-click
menus of the grid, the results and the detail page's photos.

Open a photo in the lightbox or the system viewer, show it in the file manager, copy ids and paths, set a
label, inspect or compare, decide a pair, use a photo as the article's cover. The menus only list these
actions; each runs through the window's controllers (the engine's writes on the catalog's threads).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu

from desktop_app.core.paths import relative_to_root
from desktop_app.core.storage.photos import CoverChange
from desktop_app.gui.decision_bar import DECISION_KEYS, NO_DECISION_KEY
from desktop_app.gui.detail import open_external, reveal_in_file_manager
from desktop_app.gui.lightbox import Lightbox, LightboxPhoto
from desktop_app.gui.thumbs import catalog_source


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def add(menu: QMenu, text: str, slot: Callable[[], Any], enabled: bool = True, shortcut: str = "") -> QAction:
    action = menu.addAction(text)
    action.triggered.connect(lambda _c=False: slot())
    action.setEnabled(enabled)
    if shortcut:
        action.setShortcut(shortcut)  # shown in the menu as a reminder; the view's own key does the work
    return action


class ArticleActions(QObject):
    """The main window's article and photo actions (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self.menu: QMenu | None = None  # the menu on show, for tests
        self.lightbox: Lightbox | None = None  # the lightbox opened last

    # ------------------------------------------------------------ paths

    def absolute(self, rel: str | None) -> Path | None:
        snap = self.w.snapshot
        if snap is None or not rel:
            return None
        p = Path(rel)
        return p if p.is_absolute() else snap.abs_path(rel)

    def cover_of(self, article: str) -> str | None:
        """The article's cover photo (relative path), as the grid shows it."""
        snap = self.w.snapshot
        i = snap.articles.index_of.get(article) if snap is not None else None
        return (snap.articles.covers[i] or None) if i is not None else None

    # ------------------------------------------------------------ photos

    def open_photo(self, rel: str | None) -> None:
        path = self.absolute(rel)
        if path is not None and not self._offline(path, "Opening a photo"):
            open_external(path)

    def reveal(self, rel: str | None) -> None:
        path = self.absolute(rel)
        if path is not None and not self._offline(path, "Showing a photo in the file manager"):
            reveal_in_file_manager(path)

    def _offline(self, path: Path, action: str) -> bool:
        """The photo is in the catalog's photo folder, which cannot be found: the banner says so (the system
        viewer would only add its own "file not found")."""
        missing = self.w.root_frame.missing
        return missing is not None and path.is_relative_to(missing) and self.w.root_frame.point_out(action)

    def copy(self, text: str, what: str) -> None:
        copy_text(text)
        self.w.show_status(f"Copied {what}.")

    def use_as_cover(self, article: str, rel: str | None) -> None:
        """Show the article by this photo from now on (None: back to the automatic choice)."""
        snap = self.w.snapshot
        if snap is None:
            return
        said = (
            f"{Path(rel).name} is now the cover of {article}."
            if rel
            else f"{article} shows its main photo again."
        )

        def done(change: CoverChange) -> None:
            self.w.show_status(said)
            self.w.cover_chosen(change)

        self.w.catalog_call(
            snap.engine.set_cover,
            article,
            rel,
            on_done=done,
            on_failed=lambda f: self.w.report_error("The cover was not changed", f),
        )

    # ------------------------------------------------------------ lightbox and compare

    def show_lightbox(
        self, title: str, items: list[list[LightboxPhoto]], start: int = 0, changes=None
    ) -> Lightbox:
        """`changes`: as the Lightbox takes it, where the photos of a compare differ."""
        snap = self.w.snapshot
        catalog = catalog_source(snap.engine, snap.photo_root) if snap is not None else None
        box = Lightbox(title, items, start, catalog=catalog, changes=changes)
        box.show()
        self.w.keep(box)
        self.lightbox = box
        return box

    def view_article(self, article: str, start_path: str | None = None) -> None:
        """Every photo of an article in the lightbox, from `start_path` (default: its cover)."""
        snap = self.w.snapshot
        if snap is None or not article:
            return
        start_path = start_path or self.cover_of(article)

        def loaded(photos: list) -> None:
            items = [
                [LightboxPhoto(self.absolute(p.path), f"{article} · {p.view or Path(p.path).name}")]
                for p in photos
            ]
            start = next((i for i, p in enumerate(photos) if p.path == start_path), 0)
            if items:
                self.show_lightbox(f"{article} — photos", items, start)

        self.w.catalog_call(
            snap.engine.photos_of,
            article,
            on_done=loaded,
            on_failed=lambda f: self.w.report_error("The photos cannot be read", f),
        )

    def compare_hit(self, article: str) -> None:
        """The query's photos next to a result's, pair by pair (best first), at one scale."""
        outcome = self.w.last_outcome()
        hit = next((h for h in outcome.hits if h.article == article), None) if outcome else None
        if hit is None:
            return
        query = outcome.query.title().removeprefix("Similar to ")
        if hit.pairs:
            self._compare(query, article, [(p.query_path, p.path, p.sim) for p in hit.pairs])
            return
        # A method without photo pairs: the two covers. Of a query of several articles, the cover of the one
        # closest to the result (the first one's was another comparison, unannounced).
        q = outcome.query
        if q.kind == "articles" and len(set(q.articles) - {article}) > 1:
            self.w.inspector.with_closest(
                list(q.articles),
                article,
                lambda c: self._compare(
                    f"{c.article} ({c.note()})", article, [(self.cover_of(c.article), hit.cover, None)]
                ),
            )
            return
        first = q.articles[0] if q.articles else None
        self._compare(query, article, [(self.cover_of(first) if first else None, hit.cover, None)])

    def _compare(
        self, query: str, article: str, pairs: list[tuple[str | None, str | None, float | None]]
    ) -> None:
        """The lightbox with the pairs side by side: query photo, result photo (with their similarity); where
        the two are one shot (another colour of it, an edit), what differs is outlined."""
        items = [
            [
                LightboxPhoto(self.absolute(a), f"{query} · {Path(a or '').name}"),
                LightboxPhoto(
                    self.absolute(b),
                    f"{article} · {Path(b or '').name}"
                    + (f" · similarity {sim:.3f}" if sim is not None else ""),
                ),
            ]
            for a, b, sim in pairs
        ]
        snap = self.w.snapshot

        def changes(i: int):
            a, b, _sim = pairs[i]
            return snap.engine.photo_changes(a, b, same_shot_only=True) if a and b and snap else None

        self.show_lightbox(f"Compare {query} and {article}", items, changes=changes)

    # ------------------------------------------------------------ menus

    def _popup(self, menu: QMenu, pos: QPoint) -> None:
        self.menu = menu
        menu.popup(pos)

    def grid_menu(self, articles: list[str], pos: QPoint) -> QMenu:
        w = self.w
        menu = QMenu(w)
        one = articles[0] if len(articles) == 1 else None
        cover = self.cover_of(one) if one else None
        add(menu, "Open article", lambda: w.open_detail(one), bool(one), "Return")
        add(menu, "View photos", lambda: self.view_article(one), bool(one), "Space")
        add(menu, "Open cover in system viewer", lambda: self.open_photo(cover), bool(cover))
        add(menu, "Show in file manager", lambda: self.reveal(cover), bool(cover))
        menu.addSeparator()
        add(
            menu,
            "Copy article id" if one else f"Copy {len(articles)} article ids",
            lambda: self.copy("\n".join(articles), "the article ids"),
        )
        add(menu, "Copy cover path", lambda: self.copy(str(self.absolute(cover)), "the path"), bool(cover))
        menu.addSeparator()
        add(menu, "Set label…", lambda: w.labels.set_label_on(articles), True, "Ctrl+E")
        if len(articles) == 2:
            add(menu, f"Inspect {articles[0]} vs {articles[1]}", lambda: w.inspect(articles[1], articles[0]))
        add(menu, "Compare with…", lambda: w.compare_with(one), bool(one))
        self._popup(menu, pos)
        return menu

    def result_menu(self, article: str, pos: QPoint) -> QMenu:
        w = self.w
        menu = QMenu(w)
        photo = w.similar.model.photo_of(w.similar.model.row_of(article))
        rel = self._relative(photo)
        add(menu, "Inspect match", lambda: w.inspect(article), True, "Return")
        add(menu, "Compare photos", lambda: self.compare_hit(article), True, "Space")
        add(menu, "Show in catalog", lambda: w.select_article(article))
        decide = menu.addMenu("Decide")
        can = w.similar.decisions_enabled
        current = w.similar.model.hits[w.similar.model.row_of(article)].decision
        for decision, text, key in DECISION_KEYS:
            a = add(decide, text, lambda d=decision: w.decisions.decide_result(article, d), can, key)
            a.setCheckable(True)
            a.setChecked(current == decision)
        add(
            decide,
            "Undecided",
            lambda: w.decisions.decide_result(article, "none"),
            can and bool(current),
            NO_DECISION_KEY,
        )
        menu.addSeparator()
        add(menu, "Open photo in system viewer", lambda: self.open_photo(photo), bool(photo))
        add(menu, "Show in file manager", lambda: self.reveal(photo), bool(photo))
        add(menu, "Copy article id", lambda: self.copy(article, "the article id"))
        add(menu, "Copy photo path", lambda: self.copy(photo or "", "the path"), bool(photo))
        menu.addSeparator()
        add(menu, "Set label…", lambda: w.labels.set_label_on([article]))
        add(
            menu,
            f"Use this photo as the cover of {article}",
            lambda: self.use_as_cover(article, rel),
            bool(rel),
        )
        self._popup(menu, pos)
        return menu

    def photo_menu(self, article: str, rel: str, chosen: str | None, pos: QPoint) -> QMenu:
        """A photo of the detail page: view, open, reveal, copy, and choose it as the cover."""
        menu = QMenu(self.w)
        add(menu, "View large", lambda: self.view_article(article, rel), True, "Space")
        add(menu, "Open in system viewer", lambda: self.open_photo(rel))
        add(menu, "Show in file manager", lambda: self.reveal(rel))
        add(menu, "Copy path", lambda: self.copy(str(self.absolute(rel)), "the path"))
        menu.addSeparator()
        cover = add(menu, "Use as cover", lambda: self.use_as_cover(article, rel))
        cover.setCheckable(True)
        cover.setChecked(chosen == rel)
        add(menu, "Back to the automatic cover", lambda: self.use_as_cover(article, None), chosen is not None)
        self._popup(menu, pos)
        return menu

    def _relative(self, path: str | None) -> str | None:
        """A photo path of the catalog relative to its photo folder (None for a file from elsewhere)."""
        snap = self.w.snapshot
        if not path or snap is None or snap.photo_root is None:
            return None
        return relative_to_root(path, snap.photo_root)


__all__ = ["ArticleActions", "add", "copy_text"]
