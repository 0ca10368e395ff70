""" "Learn from my decisions": train the catalog's adapter in a child process, with progress and Cancel.

The dialog says what there is to learn from (same-product and not-a-match decisions, labels), which adapter
search uses now, and trains a new one on request (`Engine.train_adapter` in `core.adapt_child`, switched on
when it is stored). "Use for search" switches the stored adapter on or off; the frozen ranking comes back
exactly when it is off. `changed` carries the adapter status after any change.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.adapt_child import child_main
from desktop_app.core.wording import plural
from desktop_app.gui.child_job import ChildJob
from desktop_app.gui.decisions_controller import adapter_status, preparing_text, switch_on_job
from desktop_app.gui.errors import show_error
from desktop_app.gui.workers import Failure, Runner

KINDS = (("whitening", "Quick (closed form, seconds)"), ("linear", "Thorough (trained projection, longer)"))


def what_to_learn(engine: Any) -> dict:
    """How many examples of each kind the catalog holds, and the adapter status (worker thread)."""
    decisions = engine.decisions()
    return {
        "same": sum(d["decision"] == "same" for d in decisions),
        "not_match": sum(d["decision"] == "not_match" for d in decisions),
        "labelled": len(engine.labels()),
        "status": adapter_status(engine),
    }


def describe(adapter: dict | None) -> str:
    if not adapter:
        return "none"
    info = adapter.get("info") or {}
    trained = info.get("trained_on") or info.get("sources") or []
    at = adapter.get("created_at")
    when = time.strftime(" %Y-%m-%d %H:%M", time.localtime(at)) if at else ""
    # no row id: the catalog numbers label calibrations in the same table, so the first adapter was "#2"
    return (
        f"{adapter['kind']}, trained{when or ' earlier'} from {', '.join(map(str, trained)) or 'the catalog'}"
    )


class AdapterDialog(QDialog):
    changed = Signal(object)  # the adapter status after training or switching

    def __init__(self, engine: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn from my decisions")
        self.engine = engine
        self.runner = runner
        self.job: ChildJob | None = None
        self.training = False  # the job trains (else it switches an adapter on)
        self.status: dict | None = None
        intro = QLabel(
            "Lookalike can learn from your work which differences matter in this catalog: photos of one "
            "article and articles you marked <b>same product</b> are pulled together, pairs you marked "
            "<b>not a match</b> pushed apart (labels count a little). Search, suggestions and the inspector "
            "then use the learned similarity; switch it off to get the model's own ranking back exactly."
        )
        intro.setWordWrap(True)
        self.counts = QLabel("Reading your decisions…")
        self.counts.setWordWrap(True)
        self.use_decisions = QCheckBox("My match decisions")
        self.use_decisions.setChecked(True)
        self.use_labels = QCheckBox("Labels (a weaker hint)")
        self.use_labels.setChecked(True)
        self.kind = QComboBox()
        for kind, text in KINDS:
            self.kind.addItem(text, kind)
        self.current = QLabel()
        self.current.setWordWrap(True)
        self.use = QCheckBox("Use the learned similarity for search")
        self.use.toggled.connect(self._use_toggled)
        form = QFormLayout()
        form.addRow("Learn from", self.use_decisions)
        form.addRow("", self.use_labels)
        form.addRow("Method", self.kind)
        form.addRow("In use", self.current)
        form.addRow("", self.use)
        self.progress = QProgressBar()
        self.progress.hide()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.train_btn = QPushButton("Learn now")
        self.train_btn.clicked.connect(self.train)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.train_btn, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_btn, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (intro, self.counts):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.note)
        lay.addWidget(buttons)
        self.resize(560, self.sizeHint().height())
        self.refresh()

    def _say(self, text: str) -> None:
        """The note under the form, with the dialog grown to hold it: at its first size a long note after
        training crushed the form (the method box squeezed to a few pixels)."""
        self.note.setText(text)
        self.layout().activate()
        wanted = self.sizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    # ------------------------------------------------------------ state

    def refresh(self) -> None:
        self.runner.call(
            what_to_learn,
            self.engine,
            on_done=self._show,
            on_failed=lambda f: self.counts.setText(f"Cannot read the catalog: {f.error}"),
        )

    def _show(self, info: dict) -> None:
        self.counts.setText(
            f"You marked {plural(info['same'], 'pair')} as the same product and "
            f"{info['not_match']} as not a match; {info['labelled']} articles have labels. Every article with "
            "two or more photos teaches it too."
        )
        self._show_status(info["status"])

    def _show_status(self, status: dict | None) -> None:
        self.status = status
        active = status.get("active") if status else None
        stored = status.get("stored") if status else []
        self.current.setText(
            describe(active)
            if active
            else ("nothing learned yet" if not stored else f"off (the newest learned: {describe(stored[0])})")
        )
        self.use.blockSignals(True)
        self.use.setChecked(bool(active))
        self.use.setEnabled(bool(stored) and self.job is None)
        self.use.blockSignals(False)

    # ------------------------------------------------------------ training

    def sources(self) -> tuple[str, ...]:
        chosen = [("decisions", self.use_decisions), ("labels", self.use_labels)]
        return tuple(name for name, box in chosen if box.isChecked())

    def train(self) -> None:
        sources = self.sources()
        if not sources or self.job is not None:
            self._say("Choose at least one thing to learn from." if not sources else self.note.text())
            return
        job = ChildJob(
            child_main,
            (self.engine.location, sources, self.kind.currentData(), None),
            "lookalike-adapt",
            "The training process stopped unexpectedly; nothing was stored",
            self,
        )
        self._start(job, True, self._trained, self._cancelled, "Learning…")

    def _start(self, job: ChildJob, training: bool, done, cancelled, note: str) -> None:
        """Run a training (or switch-on) child with this dialog's progress bar, Cancel and error report."""
        job.progress.connect(self._progress)
        job.done.connect(done)
        job.cancelled.connect(cancelled)
        job.failed.connect(self._failed)
        self.job, self.training = job, training
        self._busy(True)
        self._say(note)
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_btn.setEnabled(False)
            self._say("Cancelling…")

    def _progress(self, value: tuple[int, int, str]) -> None:
        done, total, note = value
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._say(f"Learning… {note}".strip() if self.training else preparing_text(value))

    def _trained(self, result: dict) -> None:
        self._finish()
        seconds = (result.get("info") or {}).get("seconds")
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        info = result.get("info") or {}
        why_off = info.get("not_switched_on")
        using = "search uses it now" if info.get("switched_on", True) else f"not switched on: {why_off}"
        note = (result.get("status") or {}).get("note")
        self._say(
            f"Learned adapter ({result['kind']}, {result['dim']} dimensions){took}; {using}."
            + (f" {note}" if note else "")
        )
        self._after_change(result["status"])  # as the trainer saw it right after storing

    def _cancelled(self) -> None:
        self._finish()
        self._say("Cancelled; nothing was stored and search is as it was.")

    def _failed(self, failure: Failure) -> None:
        training = self.training
        self._finish()
        self._say(
            f"Nothing was learned: {failure.error}" if training else f"Not switched on: {failure.error}"
        )
        show_error(self, "Learning failed" if training else "Not switched on", failure)
        self.refresh()

    def _finish(self) -> None:
        self.job = None
        self._busy(False)

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.progress.setRange(0, 0)
        self.train_btn.setEnabled(not busy)
        self.cancel_btn.setEnabled(busy)
        self.use.setEnabled(not busy and bool(self.status and self.status.get("stored")))

    def _use_toggled(self, on: bool) -> None:
        if on:  # its vectors are prepared for search first, in a child process (minutes in a large catalog)
            job = switch_on_job(self.engine.location, self)
            self._start(job, False, self._switched_on, self._not_switched, preparing_text(None))
            return

        def switch() -> dict | None:
            self.engine.use_adapter(False)
            return adapter_status(self.engine)

        self.runner.call(
            switch, on_done=self._after_change, on_failed=lambda f: show_error(self, "Not switched", f)
        )

    def _switched_on(self, status: dict | None) -> None:
        self._finish()
        self._say("Search uses the learned similarity now.")
        self._after_change(status)

    def _not_switched(self) -> None:
        self._finish()
        self._say("Not switched on; search is as it was.")
        self.refresh()

    def _after_change(self, status: dict | None) -> None:
        self._show_status(status)
        self.changed.emit(status)

    def done(self, result: int) -> None:
        if self.job is not None:
            self.job.shutdown()  # cancels at the trainer's next check; nothing half-stored
            self.job = None
        super().done(result)


__all__ = ["AdapterDialog", "describe", "what_to_learn"]
