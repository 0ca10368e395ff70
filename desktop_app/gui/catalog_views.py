"""What the window showed of a catalog, kept when the curator leaves it and shown again when it comes back.

A curator who closes a catalog (or opens another, or quits) and comes back finds the grid's selection, its
filter text and the tab in front (the articles or the catalog map) as they left them: one `CatalogView` per
catalog in the user's settings (`core.settings`). Only the articles that still exist are selected again;
when none does, the grid starts on its first article as for a catalog never seen.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.overview import Snapshot
from desktop_app.core.settings import CatalogView, UserSettings

GRID_TAB, MAP_TAB = "grid", "map"


class CatalogViews:
    """Remembers the window's view of the catalog it leaves, and gives it back for the one it opens."""

    def __init__(self, window: Any) -> None:
        self.window = window
        # A view being restored into a partial snapshot (the first page of articles): its selection may name
        # articles of the pages still being read, so it is applied again once all are there.
        self.pending: CatalogView | None = None
        self.opened: CatalogView | None = None  # the view remembered for the catalog opened last

    def current(self) -> CatalogView:
        """The window's view now."""
        w = self.window
        return CatalogView(
            selected=w.grid_panel.selected_articles(),
            filter=w.grid_panel.filter_edit.text(),
            tab=MAP_TAB if w.map.shown_now() else GRID_TAB,
        )

    def leave(self, location: str) -> None:
        """Remember the window's view for this catalog (it is being closed or replaced)."""
        self.pending = None
        user = UserSettings.load()
        user.set_catalog_view(location, self.current())
        user.save()  # never raises: a view not kept is no reason to stop closing

    def selection_for(self, snap: Snapshot, same: bool, keep: list[str]) -> list[str]:
        """The articles to select in a snapshot: for a catalog just opened, its remembered selection (the
        filter text is put back here, before the grid shows the articles); for a re-read, `keep`, unless a
        remembered selection waits for the rest of the articles."""
        if not same:
            # A catalog never left before keeps the window as it is (the tab, the filter box).
            self.pending = self.opened = UserSettings.load().catalog_view(snap.location)
            if self.pending is not None:
                self.window.grid_panel.set_filter_text(self.pending.filter)
        view = self.pending
        if view is None:
            return keep
        if not snap.partial:
            self.pending = None
        present = snap.articles.index_of  # built off the UI thread with the snapshot
        return [a for a in view.selected if a in present]

    def show_tab(self) -> None:
        """The tab the curator had in front, for the catalog just opened."""
        if self.opened is None:
            return
        if self.opened.tab == MAP_TAB:
            self.window.map.open_tab()
        else:
            self.window.map.show_articles()


__all__ = ["CatalogViews"]
