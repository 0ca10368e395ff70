"""The map's Set label and its Undo: one label decision on every article selected on the map (the grid's
selection), through `Engine.set_labels`, and an Undo on the map that is Edit ▸ Undo while the next thing it
would take back is that decision: never an edit made elsewhere.

The decision is known by its batch. When Edit ▸ Redo writes it again after an Undo, it is a new decision
with a new batch, which the map then follows (`WindowSurface.labels_redone`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from desktop_app.core.overview import Snapshot
from desktop_app.core.wording import plural
from desktop_app.gui.errors import is_user_error
from desktop_app.gui.history import next_label_event
from desktop_app.gui.map_panel import MapPanel, overwrite_question
from desktop_app.gui.workers import Failure


class MapLabels(QObject):
    """Set label on the map's selection, and the map's Undo of it."""

    def __init__(self, window: Any, panel: MapPanel) -> None:
        super().__init__(window)
        self.window = window
        self.panel = panel
        self.view = panel.view
        self.label_batch: int | None = None  # the label decision the map wrote last (its Undo's)
        self._undo_asked = 0  # counts the questions whether Undo would take it back: only the last counts
        panel.label_requested.connect(self.label_selection)
        panel.undo_requested.connect(self.undo_label)
        window.history_shown.connect(lambda _state: self._check_undo())
        window.labels_redone.connect(self._label_redone)

    def forget(self) -> None:
        """Another catalog (or none): the map has written nothing in it."""
        self.label_batch = None
        self._undo_asked += 1
        self.panel.undo.setEnabled(False)

    def label_selection(self, field: str, value: str) -> None:
        """One undoable decision: this label on every article selected on the map (the grid's selection)."""
        keys = self.view.selected_keys()
        snap = self.window.snapshot
        if not keys or snap is None:
            return
        if not self._overwrite_ok(keys, snap, field, value):
            return

        def done(result: tuple[int, int | None]) -> None:
            n, batch = result
            self.label_batch = batch
            self._undo_asked += 1
            self.panel.undo.setEnabled(batch is not None)
            self.view.setFocus()  # Ctrl+Z goes to Edit ▸ Undo, not to the text typed in the label box
            self.window.labels_written(keys)
            self.window.show_status(_label_message(len(keys), n, field, value), 8000)

        self.window.catalog_call(
            _set_labels,
            snap.engine,
            keys,
            field,
            value,
            on_done=done,
            on_failed=lambda f: self.window.report_error("Labels not set", f),
        )

    def _overwrite_ok(self, keys: list[str], snap: Snapshot, field: str, value: str) -> bool:
        """Ask first when the label would replace a different one (a lasso easily takes in a few articles
        already labelled); No is the default, as for the review queue's bulk accept."""
        arts = snap.articles
        current = [arts.labels[i].get(field) for i in (arts.index_of.get(k) for k in keys) if i is not None]
        text = overwrite_question(len(keys), field, value, [v for v in current if v])
        if text is None:
            return True
        answer = QMessageBox.question(
            self.window,
            "Replace labels",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def undo_label(self) -> None:
        """Edit ▸ Undo, when what it would take back is still the label the map set (checked again now:
        another window or the command line may have decided something since)."""
        snap, batch = self.window.snapshot, self.label_batch
        if snap is None or batch is None:
            return
        self.panel.undo.setEnabled(False)
        self._undo_asked += 1  # an answer to an earlier question must not enable it again meanwhile

        def checked(next_is_ours: bool) -> None:
            if not next_is_ours or batch != self.label_batch or self.window.snapshot is not snap:
                self.window.show_status(
                    "The label set on the map is not the next thing to undo any more: Edit ▸ Undo says what is.",
                    8000,
                )
                return
            self.window.undo()  # says "Undid category “bags” on 15 articles."; Edit ▸ Redo redoes it

        self.window.catalog_call(
            _undoes_batch,
            snap.engine,
            batch,
            on_done=checked,
            on_failed=lambda f: self.window.report_error("Nothing undone", f),
        )

    def _check_undo(self) -> None:
        """What Edit ▸ Undo would take back changed (an edit, undo or redo, here or elsewhere): the map's Undo
        is usable while that is the label decision the map wrote."""
        snap, batch = self.window.snapshot, self.label_batch
        self._undo_asked += 1
        asked = self._undo_asked
        if snap is None or batch is None:
            self.panel.undo.setEnabled(False)
            return

        def answer(next_is_ours: bool) -> None:
            if asked == self._undo_asked:
                self.panel.undo.setEnabled(next_is_ours)

        def failed(failure: Failure) -> None:
            if asked == self._undo_asked:
                self._undo_unknown(failure)

        self.window.catalog_call(_undoes_batch, snap.engine, batch, on_done=answer, on_failed=failed)

    def _undo_unknown(self, failure: Failure) -> None:
        """The check whether Undo would take back the map's label failed: Undo stays off (it might take back
        another edit), and the curator learns why. The check follows every edit, so a passing cause (the
        catalog busy) is a status line that the next edit's check replaces; a bug gets its box."""
        self.panel.undo.setEnabled(False)
        if not is_user_error(failure.error):
            self.window.report_error("The map's Undo could not be checked", failure)
            return
        self.window.show_status(
            f"The map's Undo is off: whether it would take back the map's label could not be read "
            f"({failure.error}). Edit ▸ Undo still says what it would take back.",
            8000,
        )

    def _label_redone(self, undone: int, written: int | None) -> None:
        """Edit ▸ Redo wrote the map's label decision again, with a new batch: that one is the map's now (its
        Undo follows once the history says what Undo would take back)."""
        if undone == self.label_batch:
            self.label_batch = written


def _label_message(selected: int, changed: int, field: str, value: str) -> str:
    """The status bar's word on a label set from the map."""
    if not changed:
        return f"All {plural(selected, 'article')} had {field} “{value}” already."
    same = selected - changed
    had = f" ({plural(same, 'article')} had it already)" if same else ""
    return (
        f"{field} “{value}” set on {plural(changed, 'article')}{had}. "
        "Undo on the map or Edit ▸ Undo (Ctrl+Z) takes it back."
    )


def _set_labels(engine: Any, keys: list[str], field: str, value: str) -> tuple[int, int | None]:
    """Set the label (worker thread): (labels changed, the batch of the decision written; None when nothing
    changed, or when Undo's next step is already another decision of yours, written meanwhile elsewhere)."""
    n = engine.set_labels(keys, field, value)
    last = next_label_event(engine) if n else None
    ours = last is not None and (last["action"], last["field"], last["new_value"]) == ("set", field, value)
    return n, last["batch"] if ours and last["article"] in set(keys) else None


def _undoes_batch(engine: Any, batch: int) -> bool:
    """Whether Edit ▸ Undo would take back this label decision next (worker thread)."""
    last = next_label_event(engine)
    return last is not None and last["batch"] == batch


__all__ = ["MapLabels"]
