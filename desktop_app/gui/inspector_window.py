"""The match inspector's own window: two catalog articles compared, with the catalog's search settings.

`open_inspector(parent, engine, a, b)` returns a non-modal window at once. The comparison is made on a
worker by `Engine.inspect`, which reads the vectors of these two articles only; an article without
embedded photos, or one that is gone, gets the engine's message in place of the matrix, with the photos
that failed to embed. The method, s and m start as the catalog's search settings (`CatalogSettings.search`,
what `lookalike tune` stores); when the curator moves them here they are stored back in the catalog, and
`settings_changed` tells the main window, whose search then uses them too: one store, no copies.

The curator can decide the pair here too (same product 1, look-alike 2, not a match 3, undecided 0):
`decide_requested` goes to the main window, which writes it and tells every view. A double-click on a cell
shows its two photos side by side in the lightbox; a right click offers to open or reveal them, copy their
paths or use one as its article's cover.

`python -m desktop_app.gui.inspector_window A B [--db FILE]` opens the window from a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMenu, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from desktop_app.core.engine import Engine
from desktop_app.core.errors import UserError
from desktop_app.core.inspect import INSPECT_METHODS, Inspection
from desktop_app.core.paths import photo_file
from desktop_app.core.settings import SearchSettings
from desktop_app.gui.decision_bar import DECISION_KEYS, NO_DECISION_KEY, DecisionBar
from desktop_app.gui.inspector import InspectorWidget
from desktop_app.gui.inspector_model import format_sim
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.secondary import CLOSE_KEYS, KeyTable, add_close_keys
from desktop_app.gui.thumbs import catalog_source
from desktop_app.gui.workers import Failure, Runner

SAVE_DELAY_MS = 400  # a dragged slider stores its last position, not every step
INSPECTOR_KEYS: KeyTable = (  # bound here and in inspector.InspectorWidget; the shortcut sheet lists them
    *(((key,), f"Decide: {text.lower()}") for _decision, text, key in DECISION_KEYS),
    ((NO_DECISION_KEY,), "Take the decision back"),
    (("Ctrl++", "Ctrl+-"), "Zoom the matrix in, out"),
    (("Ctrl+0",), "Fit the matrix to the window"),
    *CLOSE_KEYS,
)


@dataclass
class Comparison:
    """What the window shows: the inspection, or the message in its place."""

    params: SearchSettings  # the settings the comparison was made with
    inspection: Inspection | None = None
    message: str | None = None
    photo_root: Path | None = None
    failed: dict[str, str] = field(default_factory=dict)  # photo path -> why it has no vector
    decision: str | None = None  # the curator's decision on the pair, if any


def compare_articles(
    engine: Engine,
    a: str,
    b: str,
    method: str | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
) -> Comparison:
    """Worker body: `Engine.inspect` with the catalog's settings (any of them overridden); a user error
    becomes the message shown instead of the matrix."""
    root = engine.photo_root()
    params = engine.search_settings()
    try:
        params = engine.search_settings(method, threshold, max_matches)
        ins = engine.inspect(a, b, params)
    except UserError as exc:
        return Comparison(params, message=str(exc), photo_root=root, failed=failed_photos(engine, (a, b)))
    decision = engine.decisions_with([a]).get(b) if a != b else None
    return Comparison(params, ins, photo_root=root, failed=dict(ins.failed), decision=decision)


def failed_photos(engine: Engine, articles: Sequence[str]) -> dict[str, str]:
    """The photos of these articles that have no vector, and why (listed under the engine's message)."""
    return {
        r.path: r.error or r.status
        for art in dict.fromkeys(articles)
        for r in engine.photos_of(art)
        if r.status != "ok"
    }


def store_search(engine: Engine, method: str, threshold: float | None, max_matches: int | None) -> bool:
    """Store the inspector's method, s and m as the catalog's search settings; False when unchanged."""
    current = engine.search_settings()
    if (current.method, current.threshold, current.max_matches) == (method, threshold, max_matches):
        return False
    engine.update_search(method=method, threshold=threshold, max_matches=max_matches)  # one transaction
    return True


class InspectorWindow(QWidget):
    """A non-modal top-level window holding the inspector (or the message that replaces it)."""

    ready = Signal()  # the inspection (or the message) is on show
    settings_changed = Signal()  # the catalog's search settings were changed here
    decide_requested = Signal(str, str, str, object)  # article a, article b, decision, the decision seen
    cover_changed = Signal(object)  # storage.photos.CoverChange: an article's cover was chosen here

    def __init__(self, article_a: str, article_b: str, parent: QWidget | None = None, note: str = "") -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # note: which query article article_a is, when the query was several ("the closest of the 34 …")
        self.setWindowTitle(f"Match inspector — {article_a} vs {article_b}" + (f", {note}" if note else ""))
        self.article_a, self.article_b = article_a, article_b
        self.engine: Engine | None = None
        self.inspector: InspectorWidget | None = None
        self.comparison: Comparison | None = None
        self.message: str | None = None
        self.worker = Runner(1, "inspector", self)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self._save)
        self.stack = QStackedWidget()
        self.status = QLabel(f"Comparing {article_a} and {article_b}…")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.status.setMargin(24)
        self.stack.addWidget(self.status)
        self.decisions = DecisionBar()
        self.decisions.decide_requested.connect(self.decide)
        self.decisions.setContentsMargins(8, 4, 8, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.decisions)
        layout.addWidget(self.stack)
        add_close_keys(self)
        for decision, _text, key in (*DECISION_KEYS, ("none", "", NO_DECISION_KEY)):
            QShortcut(QKeySequence(key), self, lambda d=decision: self.decide(d))
        self.lightbox = None
        self.menu = None
        fit_to_screen(self, 1240, 820)
        self._options: dict = {}

    def load(
        self,
        engine: Engine,
        method: str | None = None,
        threshold: float | None = None,
        max_matches: int | None = None,
        compare: str | None = None,
        side_by_side: bool = False,
    ) -> None:
        """Compare the two articles on a worker; method, s and m default to the catalog's settings."""
        self.engine = engine
        self._options = {"compare": compare, "side_by_side": side_by_side}
        self.worker.call(
            compare_articles,
            engine,
            self.article_a,
            self.article_b,
            method,
            threshold,
            max_matches,
            on_done=self._loaded,
            on_failed=self._failed,
        )

    def _failed(self, failure: Failure) -> None:
        self.show_message(f"The comparison failed: {failure.error}")

    def _loaded(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.show_decision(comparison.decision)
        if comparison.inspection is None:
            self.show_message(comparison.message or "Nothing to compare.", comparison.failed)
            return
        self.show_inspection(
            comparison.inspection, comparison.photo_root, comparison.params.method, comparison.failed
        )

    def show_inspection(
        self,
        inspection: Inspection,
        photo_root: Path | None,
        method: str | None = None,
        failed: dict[str, str] | None = None,
    ) -> InspectorWidget:
        self.inspector = InspectorWidget(
            inspection,
            photo_root,
            method=method,
            failed=failed,
            compare=self._options.get("compare"),
            side_by_side=bool(self._options.get("side_by_side")),
            catalog=catalog_source(self.engine, photo_root, relative_keys=True),
        )
        self.inspector.edited.connect(self._save_timer.start)
        self.inspector.compare_requested.connect(self.compare_cell)
        self.inspector.cell_menu_requested.connect(self.cell_menu)
        self.stack.addWidget(self.inspector)
        self.stack.setCurrentWidget(self.inspector)
        # Small matrices fill the window, large ones fit in it (once laid out; never after it closed).
        QTimer.singleShot(0, self.inspector, self.inspector.fit_to_window)
        self.ready.emit()
        return self.inspector

    # ------------------------------------------------------------ deciding the pair

    def show_decision(self, decision: str | None) -> None:
        if self.comparison is not None:
            self.comparison.decision = decision
        can = self.article_a != self.article_b
        self.decisions.set_state(can, decision, "An article cannot be decided against itself.")

    def decide(self, decision: str) -> None:
        if self.article_a == self.article_b or self.comparison is None:
            return
        self.decide_requested.emit(self.article_a, self.article_b, decision, self.comparison.decision)

    # ------------------------------------------------------------ photos of a cell

    def _cell_paths(self, row: int, col: int) -> tuple[str, str]:
        ins = self.inspector.inspection
        return ins.paths_a[row], ins.paths_b[col]

    def _absolute(self, rel: str) -> Path | None:
        root = self.comparison.photo_root if self.comparison is not None else None
        return photo_file(root, rel) if root is not None else None

    def compare_cell(self, row: int, col: int) -> None:
        """The cell's two photos side by side in the lightbox, at one scale."""
        from desktop_app.gui.lightbox import Lightbox, LightboxPhoto

        a, b = self._cell_paths(row, col)
        sim = float(self.inspector.inspection.matrix[row, col])
        items = [
            [
                LightboxPhoto(self._absolute(a), f"{self.article_a} · {Path(a).name}"),
                LightboxPhoto(
                    self._absolute(b), f"{self.article_b} · {Path(b).name} · similarity {format_sim(sim)}"
                ),
            ]
        ]
        root = self.comparison.photo_root if self.comparison is not None else None
        self.lightbox = Lightbox(
            f"Compare {self.article_a} and {self.article_b}",
            items,
            parent=None,
            catalog=catalog_source(self.engine, root),
            changes=lambda _i: self.engine.photo_changes(a, b, same_shot_only=True),
        )
        self.lightbox.show()

    def cell_menu(self, row: int, col: int, pos) -> None:
        from desktop_app.gui.article_actions import add, copy_text
        from desktop_app.gui.detail import open_external, reveal_in_file_manager

        a, b = self._cell_paths(row, col)
        pa, pb = self._absolute(a), self._absolute(b)
        menu = QMenu(self)
        add(menu, "Compare these two photos", lambda: self.compare_cell(row, col), True, "double-click")
        for article, rel, path in ((self.article_a, a, pa), (self.article_b, b, pb)):
            menu.addSeparator()
            name = Path(rel).name
            add(menu, f"Open {name}", lambda p=path: open_external(p), path is not None)
            add(menu, "Show in file manager", lambda p=path: reveal_in_file_manager(p), path is not None)
            add(menu, "Copy path", lambda p=path, r=rel: copy_text(str(p or r)))
            add(menu, f"Use as the cover of {article}", lambda x=article, r=rel: self.use_as_cover(x, r))
        self.menu = menu
        menu.popup(pos)

    def use_as_cover(self, article: str, rel: str) -> None:
        if self.engine is None:
            return
        self.worker.call(
            self.engine.set_cover,
            article,
            rel,
            on_done=self.cover_changed.emit,
            on_failed=lambda f: self.show_message(f"The cover was not changed: {f.error}"),
        )

    def show_message(self, message: str, failed: dict[str, str] | None = None) -> None:
        """The clear message shown in place of the matrix (no embedded photo, unknown article, ...)."""
        self.message = message
        items = "".join(
            f"<li>{escape(p)}: {escape(str(why))}</li>" for p, why in list((failed or {}).items())[:20]
        )
        listing = f"<p>Photos that failed to embed:</p><ul>{items}</ul>" if items else ""
        self.status.setText(
            f"<h3>Nothing to compare</h3><p>{escape(message)}</p>{listing}"
            "<p>Photos get a vector when the index is updated; files that cannot be read or "
            "decoded are listed under the catalog's skipped photos.</p>"
        )
        self.stack.setCurrentWidget(self.status)
        self.ready.emit()

    # ------------------------------------------------------------ storing the settings

    def _current(self) -> tuple[str, float | None, int | None] | None:
        w = self.inspector
        if w is None or self.engine is None:
            return None
        return w.panes[0].method, w.inspection.threshold, w.inspection.max_matches

    def _save(self) -> None:
        current = self._current()
        if current is not None:
            self.worker.call(
                store_search,
                self.engine,
                *current,
                on_done=self._saved,
                on_failed=lambda f: self.show_message(f"The settings were not saved: {f.error}"),
            )

    def _saved(self, changed: bool) -> None:
        if changed:
            self.settings_changed.emit()

    def closeEvent(self, event) -> None:
        # Nothing may outlive the window: wait for the comparison and the thumbnails still in flight.
        self.worker.shutdown()
        if self._save_timer.isActive():
            self._save_timer.stop()
            current = self._current()
            if current is not None and store_search(self.engine, *current):  # a small write, then gone
                self.settings_changed.emit()
        if self.inspector is not None:
            self.inspector.shutdown()
        if self.lightbox is not None and shiboken6.isValid(self.lightbox):
            self.lightbox.close()
        super().closeEvent(event)


def open_inspector(
    parent: QWidget | None,
    engine: Engine,
    article_a: str,
    article_b: str,
    *,
    method: str | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
    note: str = "",
) -> InspectorWindow:
    """Open the match inspector for article_a (the query, rows) and article_b (the candidate, columns).

    Returns the window at once; its `ready` signal fires when the matrix (or the message explaining why
    there is none) is on show. method, threshold and max_matches default to the catalog's search settings;
    `note` ends the title (which query article article_a is, when the query was several articles).
    """
    window = InspectorWindow(article_a, article_b, parent, note)
    window.load(engine, method, threshold, max_matches)
    window.show()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m desktop_app.gui.inspector_window A B [--db FILE] ...`: the inspector from a terminal.

    `lookalike inspect` writes the same matrix as text, CSV, JSON or PNG; this opens it interactively.
    """
    import argparse
    import sys

    from PySide6.QtWidgets import QApplication

    from desktop_app.core.settings import last_catalog

    parser = argparse.ArgumentParser(
        prog="python -m desktop_app.gui.inspector_window", description=main.__doc__
    )
    parser.add_argument("article_a", help="the query article (rows)")
    parser.add_argument("article_b", help="the candidate article (columns)")
    parser.add_argument("--db", type=Path, help="catalog file (default: the last one used)")
    parser.add_argument("--method", choices=INSPECT_METHODS, help="default: the catalog's search method")
    parser.add_argument("--threshold", type=float, help="s; default: the catalog's")
    parser.add_argument("--max-matches", type=int, help="m; default: the catalog's")
    args = parser.parse_args(argv)
    db = args.db or last_catalog()
    if db is None:
        print("No catalog given and none used before; pass --db.", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    try:
        engine = Engine.open(db, remember=False)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    window = open_inspector(
        None,
        engine,
        args.article_a,
        args.article_b,
        method=args.method,
        threshold=args.threshold,
        max_matches=args.max_matches,
    )
    window.destroyed.connect(app.quit)
    code = app.exec()
    engine.close()
    return int(code)


__all__ = ["Comparison", "InspectorWindow", "compare_articles", "main", "open_inspector", "store_search"]


if __name__ == "__main__":
    raise SystemExit(main())
