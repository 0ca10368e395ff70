"""Edit ▸ Undo and Redo in the main window: your label edits, match decisions and cover choices, newest first.

Undo takes back your latest decision of any kind, whichever is newer: a label decision (one set, accept
or import, all its articles at once: `Engine.undo`), a match decision (`Engine.undo_decision`) or a cover
chosen in this window ("Use as cover": `Engine.set_cover` puts back the choice it replaced, or the automatic
cover). Labels and match decisions are the engine's own undo, so they also reach decisions made in the
review queue, an earlier session or the command line, and never someone else's. The catalog keeps no log
of cover choices, only the current one: the window remembers the covers chosen in this session (each
`CoverChange` says what it replaced), and an undo of one that someone changed since is a Conflict.

Redo is the window's: each undo of this session is remembered, and Redo writes it again through the same
API as the original (`Engine.set_label_items` / `Engine.decide_pairs`), as one new decision in one
transaction, with what the undo left as `expected`: a label or pair someone changed since is a Conflict and
nothing is written. Any new edit clears what can be redone, as in every editor; the core keeps no redo log,
so a redo does not survive closing the catalog. A cover redone is a cover choice again, which Undo can take
back again.

The history needs the catalog (`CatalogController`: its engine and threads) and nothing else of the window;
what Edit ▸ Undo and Redo should say goes out as `shown` (a `HistoryState`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core import label_sources as src
from desktop_app.core.errors import Conflict
from desktop_app.core.storage.photos import CoverChange
from desktop_app.core.wording import decision_words, plural
from desktop_app.gui.conflicts import show_conflict
from desktop_app.gui.workers import Failure

if TYPE_CHECKING:
    from desktop_app.gui.catalog_controller import CatalogController

# The label source each kind of label decision writes, for rows logged before events recorded their source.
SOURCE_OF_ACTION = {
    "set": src.MANUAL,
    "accept": src.REVIEWED,
    "alternative": src.MANUAL,
    "import": src.IMPORT,
    "folder": src.FOLDER,
}


@dataclass
class Step:
    """One undone decision, as Redo writes it again."""

    kind: str  # "labels", "match" or "cover"
    text: str  # what it was, for the menu ("set category “tops” on 3 articles")
    items: list  # labels: (article, field, value); match: (a, b, decision); cover: (article, photo)
    expected: dict  # what the undo left: (article, field) -> value, (a, b) -> decision, or article -> photo
    action: str = "set"
    batch: int | None = None  # labels: the decision's batch (the one undone; after a redo, the one written)
    source: str | None = None  # labels: the source it wrote (None: the one its action writes)


def label_text(summary: dict) -> str:
    """What Undo says of a label decision (`Engine.last_label_summary`)."""
    first, n, events = summary["first"], summary["articles"], summary["events"]
    action = first.get("action")
    if action == "accept":
        return f"accept {plural(n, 'suggestion')}"
    if action in ("import", "folder"):
        return f"import of {plural(events, 'label')}"
    if action == "skip":
        return f"skip {first['article']}"
    what = f"“{first['new_value']}”" if first.get("new_value") is not None else "no label"
    where = first["article"] if n == 1 else f"{n} articles"
    return f"{first['field']} {what} on {where}"


def match_text(rows: list[dict], count: int | None = None) -> str:
    """What Undo or Redo names: one decision by its pair, a batch (`count` of them, else the rows) by size."""
    n = len(rows) if count is None else count
    if n != 1:
        return f"{n:,} match decisions"
    r = rows[0]
    what = decision_words(r["decision"])
    return f"“{what}” for {r['article_a']} and {r['article_b']}"


def cover_text(article: str) -> str:
    return f"cover of {article}"


def newest(engine: Any, cover: CoverChange | None = None) -> tuple[str, str] | None:
    """(kind, text) of what Undo would take back now, or None (worker thread). `cover` is the latest cover
    choice of this window still to undo (the catalog keeps no log of them)."""
    labels = engine.last_label_summary()
    match = engine.last_match_decision()
    # (when, rank: the newer wins, and at the same time labels before match before cover, kind, text)
    found = []
    if labels is not None:
        found.append((labels["at"], 2, "labels", label_text(labels)))
    if match is not None:
        found.append((match["at"], 1, "match", match_text([match], match.get("batch_size", 1))))
    if cover is not None:
        found.append((cover.at, 0, "cover", cover_text(cover.article)))
    if not found:
        return None
    _at, _rank, kind, text = max(found)
    return kind, text


def next_label_event(engine: Any) -> dict | None:
    """The newest event of the label decision Undo would take back next (its "batch" names the decision);
    None when Undo would take back a match decision, or nothing (worker thread)."""
    labels = engine.last_label_decision()
    match = engine.last_match_decision()
    if labels is None or (match is not None and match["at"] > labels["at"]):
        return None
    return labels


def undo_newest(engine: Any, cover: CoverChange | None = None) -> Step | None:
    """Take back the newest decision of any kind (`cover`: the window's latest cover choice still to undo);
    the step Redo needs (worker thread)."""
    found = newest(engine, cover)
    if found is None:
        return None
    kind, text = found
    if kind == "cover" and cover is not None:
        engine.set_cover(cover.article, cover.before, expected=cover.after)
        return Step("cover", text, [(cover.article, cover.after)], {cover.article: cover.before})
    if kind == "labels":
        return _undo_labels(engine, text)
    return _undo_match(engine, text)


def _undo_labels(engine: Any, text: str) -> Step:
    undone = engine.undo()
    rows = [r for r in undone if r["action"] != "skip"]
    items = [(r["article"], r["field"], r["new_value"]) for r in rows]
    expected = {(r["article"], r["field"]): r["old_value"] for r in rows}
    batch = undone[0]["batch"] if undone else None
    action = rows[0]["action"] if rows else "set"
    source = next((r.get("new_source") for r in rows if r.get("new_source")), None)
    return Step("labels", text, items, expected, action, batch, source)


def _undo_match(engine: Any, text: str) -> Step:
    rows = engine.undo_decision()
    items = [(r["article_a"], r["article_b"], r["decision"]) for r in rows]
    now = {}
    for a, b, _d in items:
        current = engine.decisions_with([a])
        now[(a, b)] = current.get(b)
    return Step("match", text, items, now)


def redo_step(engine: Any, step: Step) -> int | CoverChange | None:
    """Write an undone decision again, as one new decision (worker thread); Conflict if anything moved.
    Returns the batch of the label decision written (None for a match decision, or when the newest label
    decision is not this one: nothing changed, or another of yours was written meanwhile); for a cover,
    the cover choice written (Undo can take it back again)."""
    if step.kind == "cover":
        [(article, photo)] = step.items
        return engine.set_cover(article, photo, expected=step.expected[article])
    if step.kind != "labels":
        engine.decide_pairs(step.items, step.expected)
        return None
    if not step.items:
        return None
    source = step.source or SOURCE_OF_ACTION.get(step.action, "manual")
    engine.set_label_items(step.items, source, step.action, expected=step.expected)
    last = next_label_event(engine)
    if last is None or last["action"] != step.action:
        return None
    return last["batch"] if (last["article"], last["field"], last["new_value"]) in step.items else None


@dataclass(frozen=True)
class HistoryState:
    """What Edit ▸ Undo and Redo say and whether they can be used now."""

    undo_text: str
    can_undo: bool
    redo_text: str
    can_redo: bool


class EditHistory(QObject):
    """Keeps the Undo and Redo actions' texts current and runs them on the catalog's threads."""

    changed = Signal(str)  # "labels", "match" or "cover": something was undone or redone
    pairs_undone = Signal(list)  # (a, b) of the match decisions an Undo took back, before `changed`
    # (batch undone, batch written): Redo wrote that label decision again, as a new decision with a new batch
    labels_redone = Signal(object, object)
    shown = Signal(object)  # HistoryState, after every change of what Undo or Redo would do
    message = Signal(str)
    error = Signal(str, object)

    def __init__(self, catalogs: CatalogController, parent: QWidget) -> None:
        super().__init__(parent)
        self.catalogs = catalogs
        self.dialog_parent = parent  # the conflict box's window
        self.redo_steps: list[Step] = []
        self.cover_steps: list[CoverChange] = []  # covers chosen in this window, latest last, to undo
        self.undo_text: str | None = None
        self.conflict_box = None
        self._busy = False

    def _engine(self) -> Any:
        return self.catalogs.engine

    def forget(self) -> None:
        """A catalog closed or switched: its redo steps and cover choices go with it."""
        self.redo_steps = []
        self.cover_steps = []
        self.undo_text = None
        self._show()

    def edited(self) -> None:
        """Something new was decided (not by Undo or Redo): nothing is left to redo; Undo names it."""
        self.redo_steps = []
        self.refresh()

    def covered(self, change: CoverChange) -> None:
        """A cover was chosen in this window: Undo can take it back (the choice it replaced comes back)."""
        self.cover_steps.append(change)
        self.edited()

    def _last_cover(self) -> CoverChange | None:
        return self.cover_steps[-1] if self.cover_steps else None

    def refresh(self) -> None:
        engine = self._engine()
        if engine is None:
            self.forget()
            return
        self.catalogs.call(
            newest, engine, self._last_cover(), on_done=self._newest, on_failed=lambda _f: self._newest(None)
        )

    def _newest(self, found: tuple[str, str] | None) -> None:
        self.undo_text = found[1] if found else None
        self._show()

    def state(self) -> HistoryState:
        return HistoryState(
            f"Undo {self.undo_text}" if self.undo_text else "Undo",
            self.undo_text is not None and not self._busy,
            f"Redo {self.redo_steps[-1].text}" if self.redo_steps else "Redo",
            bool(self.redo_steps) and not self._busy,
        )

    def _show(self) -> None:
        self.shown.emit(self.state())

    def undo(self) -> None:
        engine = self._engine()
        if engine is None or self._busy:
            return
        self._busy = True
        self._show()
        cover = self._last_cover()
        self.catalogs.call(
            undo_newest,
            engine,
            cover,
            on_done=lambda step: self._undone(step, cover),
            on_failed=lambda f: self._failed("Undo", f, cover),
        )

    def _undone(self, step: Step | None, cover: CoverChange | None) -> None:
        self._busy = False
        if step is None:
            self.message.emit("Nothing of yours to undo.")
        else:
            if step.kind == "cover":
                self._drop_cover(cover)
            if step.kind == "match":
                self.pairs_undone.emit([(a, b) for a, b, _d in step.items])
            self.redo_steps.append(step)
            self.message.emit(f"Undid {step.text}.")
            self.changed.emit(step.kind)
        self.refresh()

    def redo(self) -> None:
        engine = self._engine()
        if engine is None or self._busy or not self.redo_steps:
            return
        step = self.redo_steps[-1]
        self._busy = True
        self._show()
        self.catalogs.call(
            redo_step,
            engine,
            step,
            on_done=lambda batch: self._redone(step, batch),
            on_failed=lambda f: self._failed("Redo", f),
        )

    def _redone(self, step: Step, batch: int | None) -> None:
        self._busy = False
        if self.redo_steps and self.redo_steps[-1] is step:
            self.redo_steps.pop()
        if isinstance(batch, CoverChange):
            self.cover_steps.append(batch)  # chosen again: Undo takes it back again
        if step.kind == "labels" and step.batch is not None:
            self.labels_redone.emit(step.batch, batch)  # before `shown`: who follows a batch follows it here
        self.message.emit(f"Redid {step.text}.")
        self.changed.emit(step.kind)
        self.refresh()

    def _drop_cover(self, cover: CoverChange | None) -> None:
        if cover is not None and cover in self.cover_steps:
            self.cover_steps.remove(cover)

    def _failed(self, doing: str, failure: Failure, cover: CoverChange | None = None) -> None:
        self._busy = False
        if isinstance(failure.error, Conflict):
            if doing == "Redo":
                self.redo_steps.pop()  # it can never apply now: the pair, label or cover moved on
            elif any(c.get("field") == "cover" for c in failure.error.conflicts):
                self._drop_cover(cover)  # someone chose another cover since: that choice stands
            self.conflict_box = show_conflict(self.dialog_parent, doing, failure.error)
            for kind in ("labels", "match", "cover"):
                self.changed.emit(kind)  # show what stands now
        else:
            self.error.emit(f"{doing} failed", failure)
        self.refresh()


__all__ = [
    "EditHistory",
    "cover_text",
    "HistoryState",
    "Step",
    "label_text",
    "match_text",
    "newest",
    "next_label_event",
    "redo_step",
    "undo_newest",
]
