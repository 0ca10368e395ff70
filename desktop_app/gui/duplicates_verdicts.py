"""The Duplicates window's verdicts and their Undo, written one at a time in the order they were pressed.

A verdict key (D, N, S) is about the pair or cluster on show when it is pressed, and nothing else: its rows
leave the list at once and the next pair is selected, so the curator's next key judges the pair they then
see, even while the earlier verdict is still being saved (as in the similar panel and the review queue).
The rows are hidden until the save lands, then taken out by the pairs' names, so a Find that replaced the
list meanwhile does not matter. A save that fails lists its pairs again, with those of the verdicts pressed
after it (they are not written: the curator decides again, with the error in view). Ctrl+Z waits in the
same line: it takes back the latest verdict once the ones pressed before it are saved. Ctrl+Shift+Z (or
Ctrl+Y) waits there too: it saves the verdict the latest Undo took back again, on the same pairs, and its
rows leave the list as when it was first pressed. A new verdict, once saved, leaves nothing to redo.

`VerdictWriting` is a mixin of `DuplicatesWindow`, which owns the list, the buttons and the runner.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from desktop_app.core.engine import Judgement
from desktop_app.core.errors import UserError
from desktop_app.core.wording import plural
from desktop_app.gui.duplicates_list import (
    UndoEntry,
    next_on_show,
    pair_rows,
    pairs_on_show,
    relist,
    set_aside,
    set_visible,
    take_back,
    take_out,
    verdict_keys,
)
from desktop_app.gui.errors import show_error
from desktop_app.gui.workers import Failure, Task

log = logging.getLogger(__name__)


@dataclass
class PendingVerdict:
    """A verdict pressed on pairs that were on show, not saved yet."""

    verdict: str
    pairs: list
    redo: UndoEntry | None = None  # the undone verdict this saves again (None: a verdict pressed)

    @property
    def keys(self) -> set[tuple[str, str]]:
        return {(p.a, p.b) for p in self.pairs}


class UndoPress:
    """Ctrl+Z pressed while something was being saved: it takes back the latest verdict when its turn comes."""


class RedoPress:
    """Ctrl+Shift+Z pressed: it saves the verdict the latest Undo took back again, when its turn comes."""


Press = PendingVerdict | UndoPress | RedoPress


class VerdictWriting:
    """Verdicts and Undo for the Duplicates window (see the module docstring)."""

    def _init_verdicts(self: Any) -> None:
        self.undo_stack: list[UndoEntry] = []  # the curator's saved verdicts from this window, latest last
        self.redo_stack: list[UndoEntry] = []  # verdicts Undo took back in this window, latest last
        self.writes: deque[Press] = deque()  # pressed, waiting for the one being saved
        self.writing: PendingVerdict | UndoPress | None = None  # being saved now

    def saving(self: Any) -> bool:
        """A verdict or an Undo is being saved or waits for its turn."""
        return self.writing is not None or bool(self.writes)

    def pending_keys(self: Any) -> set[tuple[str, str]]:
        """The pairs whose verdict is on its way: off the list, not in the catalog yet."""
        jobs = (self.writing, *self.writes)
        return {k for w in jobs if isinstance(w, PendingVerdict) for k in w.keys}

    # ------------------------------------------------------------------ pressing

    def judge(self: Any, verdict: str) -> None:
        """The verdict on the pair on show (or every pair of the cluster on show): its rows leave the list and
        the next pair is shown at once; the verdict is saved after the ones pressed before it."""
        item = self.tree.currentItem()
        pairs = pairs_on_show(item)
        if not pairs:
            return
        if verdict == "same" and not self.same_button.isEnabled():
            self.status.setText("Both photos are of one article: “same product” is about two articles.")
            return
        pending = PendingVerdict(verdict, pairs)
        self._show_next(item, pending)
        self.writes.append(pending)
        self._write_next()

    def _show_next(self: Any, item, pending: PendingVerdict) -> None:
        nxt = next_on_show(self.tree, item)
        if nxt is not None:
            self.tree.setCurrentItem(nxt)
            self.tree.expandItem(nxt if nxt.parent() is None else nxt.parent())
        set_visible(self.tree, pending.keys, False)
        if nxt is None:
            self.tree.setCurrentItem(None)
            self._show(None)
        self._summary()

    def undo(self: Any) -> None:
        """Take back the latest verdict (after the ones pressed before this)."""
        if self.undo_stack or self.saving():
            self.writes.append(UndoPress())
            self._write_next()

    def redo(self: Any) -> None:
        """Save again the verdict the latest Undo took back (after the ones pressed before this)."""
        if self.redo_stack or self.saving():
            self.writes.append(RedoPress())
            self._write_next()

    def _redo_job(self: Any) -> PendingVerdict:
        """The verdict a Redo saves, its rows leaving the list now (the next pair shown, as for a key)."""
        entry = self.redo_stack[-1]
        job = PendingVerdict(entry.judgement.verdict, entry.pairs, redo=entry)
        item = self.tree.currentItem()
        if item is not None and {(p.a, p.b) for p in pairs_on_show(item)} & job.keys:
            self._show_next(item, job)
        else:
            set_visible(self.tree, job.keys, False)
            self._summary()
        return job

    # ------------------------------------------------------------------ saving, one at a time

    def _write_next(self: Any) -> None:
        self._sync_buttons()
        if self.writing is not None or not self.writes:
            return
        job = self.writes.popleft()
        stack = {UndoPress: self.undo_stack, RedoPress: self.redo_stack}.get(type(job))
        if stack is not None and not stack:
            self._write_next()  # the verdict it was to take back (or save again) was not saved (taken back)
            return
        if isinstance(job, RedoPress):
            job = self._redo_job()
        self.writing = job
        if isinstance(job, UndoPress):
            entry = self.undo_stack[-1]
            task = Task(self.engine.undo_judgement, entry.judgement)
            self.runner.start(task, lambda _r: self._undone(entry), self._undo_failed)
        else:
            task = Task(self.engine.judge_duplicates, job.pairs, job.verdict)
            self.runner.start(task, lambda j: self._judged(job, j), lambda f: self._write_failed(job, f))
        self._sync_buttons()

    def _sync_buttons(self: Any) -> None:
        self.undo_button.setEnabled(bool(self.undo_stack) or self.saving())
        self.redo_button.setEnabled(bool(self.redo_stack) or self.saving())
        searching = self.search is not None and self.search.running
        self.find_button.setEnabled(not searching and not self.saving())

    def _judged(self: Any, job: PendingVerdict, judgement: Judgement) -> None:
        self.writing = None
        entry = UndoEntry(judgement, job.pairs, keys=verdict_keys(job.pairs, judgement))
        take_out(self.tree, pair_rows(self.tree, job.keys), entry)
        if self.report is not None:
            set_aside(self.report, job.keys)
        self.undo_stack.append(entry)
        if job.redo is None:
            self.redo_stack.clear()  # a new verdict: nothing is left to redo
        elif job.redo in self.redo_stack:
            self.redo_stack.remove(job.redo)
        self._summary()
        for p in job.pairs:
            self.judged.emit(p.a, p.b, judgement.verdict)
        self._write_next()

    def _write_failed(self: Any, job: PendingVerdict, failure: Failure) -> None:
        """Not saved: its pairs come back, selected, and so do those of the verdicts pressed after it (the
        curator decides them again, knowing the save failed)."""
        self.writing = None
        later = [w for w in self.writes if isinstance(w, PendingVerdict)]
        self.writes.clear()
        for pending in (job, *later):
            set_visible(self.tree, pending.keys, True)
        rows = pair_rows(self.tree, job.keys)
        if rows:
            whole = len(rows) > 1 and rows[0].parent() is not None
            self.tree.setCurrentItem(rows[0].parent() if whole else rows[0])
        self._summary()
        self._sync_buttons()
        show_error(self, "Verdict not saved", failure)
        if later:
            were = "was" if len(later) == 1 else "were"
            self.status.setText(
                f"{self.status.text()} The {plural(len(later), 'verdict')} pressed after it {were} not saved "
                "either: their pairs are listed again."
            )

    # ------------------------------------------------------------------ Undo

    def _undone(self: Any, entry: UndoEntry) -> None:
        self.writing = None
        self.undo_stack.remove(entry)
        self.redo_stack.append(entry)
        note = self._list_where_they_were(entry) if entry.item is not None else self._list_again(entry)
        self._summary()
        n = entry.judgement.pairs
        self.status.setText(f"{self.status.text()} Took back the verdict on {plural(n, 'pair')}.{note}")
        self.unjudged.emit(n)
        self._write_next()

    def _list_where_they_were(self: Any, entry: UndoEntry) -> str:
        item, parent = entry.item, entry.parent
        if self.report is not None:
            take_back(self.report, entry.keys)
        if parent is None:
            self.tree.insertTopLevelItem(min(entry.top_row, self.tree.topLevelItemCount()), item)
        else:
            if parent.treeWidget() is None:  # the pair was its cluster's last: the cluster left with it
                self.tree.insertTopLevelItem(min(entry.top_row, self.tree.topLevelItemCount()), parent)
            parent.insertChild(min(entry.child_row, parent.childCount()), item)
            parent.setHidden(False)  # its other pairs may all be on their way out
            self.tree.expandItem(parent)
        self.tree.setCurrentItem(item)
        return ""

    def _list_again(self: Any, entry: UndoEntry) -> str:
        """A verdict from before the latest Find: its pairs come back when that Find found them."""
        back = take_back(self.report, entry.keys) if self.report is not None else []
        first = relist(self.tree, back, self._noun()) if back else None
        if first is not None:
            self.tree.setCurrentItem(first)
        self.export_button.setEnabled(bool(self.report and self.report.pairs))
        away = entry.judgement.pairs - len(back)
        if not away:
            return ""
        if not back:
            return " Its pairs are not among the pairs listed now (Find at its level lists them)."
        return f" {plural(away, 'pair')} of them are not among the pairs listed now."

    def _undo_failed(self: Any, failure: Failure) -> None:
        self.writing = None
        self._write_next()
        show_error(self, "Verdict not taken back", failure)

    # ------------------------------------------------------------------ a new list, closing

    def _settle_new_list(self: Any) -> None:
        """A new Find's list came: pairs whose verdict is on its way stay off it, and pairs whose verdict was
        saved after the search read the catalog leave it (and its report's pairs), as if it had seen them."""
        set_visible(self.tree, self.pending_keys(), False)
        saved = {k for entry in self.undo_stack for k in entry.keys}
        for row in pair_rows(self.tree, saved):
            top = row.parent()
            top.removeChild(row)
            if not top.childCount():
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(top))
        if self.report is not None:
            set_aside(self.report, saved)

    def _save_waiting_now(self: Any) -> None:
        """Closing: the verdicts still waiting are saved now, in order (the curator saw their pairs leave the
        list). An Undo pressed after one of them takes it back; one pressed after the verdict that was being
        saved is dropped, as that verdict's answer may not have come back: it could take back another."""
        saved: list[tuple[Judgement, list, str]] = []  # each verdict saved here, with its pairs and verdict
        redo = [(e.judgement, e.pairs, e.judgement.verdict) for e in self.redo_stack]  # what Redo saves again
        for job in self.writes:
            try:
                if isinstance(job, PendingVerdict):
                    saved.append(
                        (self.engine.judge_duplicates(job.pairs, job.verdict), job.pairs, job.verdict)
                    )
                elif isinstance(job, RedoPress) and redo:
                    _j, pairs, verdict = redo.pop()
                    saved.append((self.engine.judge_duplicates(pairs, verdict), pairs, verdict))
                elif isinstance(job, UndoPress) and saved:
                    undone = saved.pop()
                    self.engine.undo_judgement(undone[0])
                    redo.append(undone)
            except UserError as exc:
                log.warning("Duplicates window closing: a verdict waiting to be saved was not: %s", exc)
                break
        self.writes.clear()


__all__ = ["PendingVerdict", "RedoPress", "UndoPress", "VerdictWriting"]
