"""Indexing from the window: the job on a worker, a progress banner, and the summary with skipped files.

The job calls the engine's `index_photos` with plain callbacks: progress is forwarded as a queued signal
(at most ~12 times a second, so a fast tiny model cannot flood the event loop) and cancellation is a
threading.Event the indexer polls between batches. A cancelled run keeps every committed batch; "Update
index" resumes it, because the indexer only embeds what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.catalog_thumbnails import FILLING
from desktop_app.core.engine import index_photos
from desktop_app.core.indexer import IndexOptions, IndexSummary, Progress
from desktop_app.core.models import InstalledModel
from desktop_app.core.scan import GroupingRule
from desktop_app.core.wording import skipped_counts
from desktop_app.gui.models import SkippedModel
from desktop_app.gui.screen_fit import fit_to_screen

PROGRESS_INTERVAL_S = 0.08


@dataclass
class IndexRequest:
    db: Path
    photo_dir: Path
    rule: GroupingRule | None
    model: InstalledModel | str | None
    options: IndexOptions


def run_index(
    request: IndexRequest, progress: Callable[[Progress], None], should_cancel: Callable[[], bool]
) -> IndexSummary:
    """Worker body: index_photos with its progress thinned out to what a progress bar can show."""
    last = [0.0]

    def report(p: Progress) -> None:
        now = time.monotonic()
        if p.note or p.done >= p.total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            progress(p)

    return index_photos(
        request.db,
        request.photo_dir,
        rule=request.rule,
        model=request.model,
        options=request.options,
        progress=report,
        should_cancel=should_cancel,
    )


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"about {max(seconds, 1)} s left"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {s:02d} s left"
    hours, m = divmod(minutes, 60)
    return f"about {hours} h {m:02d} min left"


def progress_text(p: Progress) -> str:
    if p.total == 0:
        return "Scanning the folder for photos…" if p.note == "scanning folder" else (p.note or "Starting…")
    rate = f"{p.rate:.1f} photos/s" if p.rate > 0 else "measuring speed"
    stage = "Storing thumbnails in the catalog: " if p.note == FILLING else ""
    return f"{stage}{p.done:,} of {p.total:,} photos · {rate} · {format_eta(p.eta_s)}"


GROUPING_HINT = "In the app: Settings… → Grouping of this catalog → file names, then Update index."


def advice_text(s: IndexSummary) -> str:
    """The grouping hint of a run, with where the app changes the grouping (the core's words name --pattern)."""
    return f"{s.advice} {GROUPING_HINT}" if s.advice else ""


def kept_folders_text(s: IndexSummary) -> str:
    """Folders the scan could not read: their photos, vectors and labels stay as they were."""
    if not s.skipped_folders:
        return ""
    names = ", ".join(f"{f['path'] or '.'}/ ({f['message']})" for f in s.skipped_folders[:5])
    more = f" and {len(s.skipped_folders) - 5} more" if len(s.skipped_folders) > 5 else ""
    return f"Could not read {names}{more}: their photos stay in the catalog as they were."


def summary_text(s: IndexSummary) -> str:
    parts = []
    for label, n in (
        ("new", s.new),
        ("changed", s.changed),
        ("moved", s.moved),
        ("removed", s.removed),
        ("re-embedded", s.reembedded),
    ):
        if n:
            parts.append(f"{n:,} {label}")
    changes = ", ".join(parts) if parts else "no changes"
    head = "Indexing cancelled" if s.cancelled else "Index up to date"
    text = f"{head}: {changes}; {s.articles:,} articles, {s.photos:,} photos"
    skipped = sum(s.skipped.values())
    if skipped:
        text += f"; {skipped:,} skipped"
    if s.cancelled:
        text += ". Update index resumes where it stopped."
    return text


class IndexBanner(QFrame):
    """The strip above the grid while indexing: progress with count, rate and ETA, and Cancel.

    After a run it stays as a one-line summary with "Skipped files…" and a close button.
    """

    cancel_requested = Signal()
    details_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("indexBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#indexBanner { background: palette(alternate-base); border-radius: 6px; }")
        self.title = QLabel()
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(220)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop after the current batch; everything indexed so far is kept.")
        self.cancel.clicked.connect(self._on_cancel)
        self.details = QPushButton("Skipped files…")
        self.details.clicked.connect(self.details_requested)
        self.close_btn = QPushButton("Dismiss")
        self.close_btn.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.details)
        top.addWidget(self.cancel)
        top.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(top)
        lay.addWidget(self.bar)
        lay.addWidget(self.detail)
        self.hide()

    def _on_cancel(self) -> None:
        self.show_cancelling()
        self.cancel_requested.emit()

    def show_cancelling(self) -> None:
        """The run was asked to stop (here or from File ▸ Cancel indexing): it ends after the current batch."""
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling…")
        self.detail.setText("Stopping after the current batch…")

    def start(self, folder: Path) -> None:
        self.title.setText(f"Indexing {folder}")
        self.bar.setRange(0, 0)  # busy until the scan has counted the photos
        self.bar.show()
        self.detail.setText("Scanning the folder for photos…")
        self.cancel.setText("Cancel")
        self.cancel.setEnabled(True)
        self.cancel.show()
        self.details.hide()
        self.close_btn.hide()
        self.show()

    def update_progress(self, p: Progress) -> None:
        if p.total > 0:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        if self.cancel.isEnabled():
            self.detail.setText(progress_text(p))

    def finish(self, summary: IndexSummary) -> None:
        self.title.setText("Indexing cancelled" if summary.cancelled else "Indexing finished")
        self.bar.hide()
        extra = [t for t in (kept_folders_text(summary), advice_text(summary)) if t]
        self.detail.setText("\n".join([summary_text(summary), *extra]))
        self.cancel.hide()
        skipped = sum(summary.skipped.values())
        self.details.setText(f"Skipped files ({skipped:,})…" if skipped else "Details…")
        self.details.show()
        self.close_btn.show()

    def fail(self, message: str) -> None:
        self.title.setText("Indexing stopped")
        self.bar.hide()
        self.detail.setText(message)
        self.cancel.hide()
        self.details.hide()
        self.close_btn.show()


class SummaryDialog(QDialog):
    """The result of an index run, with every skipped file and the reason in words."""

    def __init__(self, summary: IndexSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Index summary")
        fit_to_screen(self, 760, 420)
        s = summary
        lines = [
            summary_text(s),
            f"Grouping: {s.rule}.",
            f"Model: {s.model}; device: {s.device}.",
            f"Took {s.seconds:.1f} s ({s.photos_per_s:.1f} photos/s embedded).",
        ]
        if s.unmatched:
            lines.append(
                f"{s.unmatched:,} photos did not match the file-name pattern and are single-photo articles."
            )
        lines += [t for t in (kept_folders_text(s), advice_text(s), s.orphaned_text()) if t]
        if s.skipped:
            reasons = skipped_counts(s.skipped)
            lines.append(
                f"Skipped: {reasons}. These files are left out of search; fix or replace them and "
                "run Update index."
            )
        text = QLabel("\n".join(lines))
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = SkippedModel(s.skipped_files, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setVisible(bool(s.skipped_files))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        lay.addWidget(self.table, 1)
        if not s.skipped_files:
            lay.addStretch(1)
        lay.addWidget(buttons)
