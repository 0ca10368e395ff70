"""How far to trust label suggestions: the review queue's "How reliable?" window.

The engine child scores every labelled article's suggestion against its own label with that article left out
(`Engine.evaluate_labels`, as `lookalike labels evaluate` does, and with the same figures), then the window
shows `labels evaluate --plot`'s picture: accuracy against coverage (what a minimum confidence keeps) and
the reliability diagram (whether a confidence means what it says), with the figures in words beside it. The
picture can be saved as a PNG. Closing the window while it works drops the answer.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import UserError
from desktop_app.core.files import write_bytes
from desktop_app.core.label_plot import SIZE, evaluation_png
from desktop_app.core.labels import LabelEvaluation
from desktop_app.gui.export_dialog import ask_export_path, file_name
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.secondary import add_close_keys
from desktop_app.gui.workers import Failure, Runner, Task


def summary(ev: LabelEvaluation) -> str:
    """The figures of the picture in words, for a curator deciding where to set "no suggestion below"."""
    drawn = f" (drawn at random from {ev.n_labelled:,})" if ev.n < ev.n_labelled else ""
    lines = [
        f"Each of {ev.n:,} labelled articles{drawn} was given a suggestion from the other labelled articles "
        f"({ev.n_labels:,} labels, {ev.method}, k={ev.k}) and checked against its own label.",
        f"Right for {ev.accuracy:.1%} of them when every article gets a suggestion.",
    ]
    if ev.threshold_at_95 is not None:
        lines.append(
            f"Keeping only suggestions with confidence ≥ {ev.threshold_at_95:.2f} leaves {ev.coverage_at_95:.1%} "
            "of the articles with one, and 95% of those are right."
        )
    else:
        lines.append("No minimum confidence makes 95% of the suggestions right here.")
    if ev.ece_calibrated is not None and ev.not_calibrated is None:
        lines.append(
            f"Confidences are calibrated on this catalog's labels: on average they are {ev.ece_calibrated:.3f} "
            f"away from the share of suggestions that are right (the raw vote shares: {ev.ece_raw:.3f})."
        )
    else:
        lines.append(
            f"No calibration fitted ({ev.not_calibrated}); raw vote shares are off by {ev.ece_raw:.3f}."
        )
    if ev.note:
        lines.append(ev.note)
    return "\n".join(lines)


class Picture(QWidget):
    """A picture drawn as large as the widget allows, never distorted nor enlarged past its own size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap = QPixmap()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(SIZE[0] // 3, SIZE[1] // 3)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        self.pixmap = pixmap
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(*SIZE)

    def paintEvent(self, _event) -> None:
        if self.pixmap.isNull():
            return
        size = self.pixmap.size()
        if size.width() > self.width() or size.height() > self.height():
            size = size.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        box = QRect(
            (self.width() - size.width()) // 2,
            (self.height() - size.height()) // 2,
            size.width(),
            size.height(),
        )
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(box, self.pixmap)


class LabelQualityDialog(QDialog):
    """Works out the label evaluation with `evaluate` (called on a worker thread, returning a
    LabelEvaluation) and shows its picture and figures."""

    shown = Signal()  # the evaluation is on show (or why there is none)

    def __init__(self, field: str, evaluate, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"How reliable are the {field} suggestions?")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.field = field
        self.closed = False  # closed while it worked: the answer is dropped
        self.png: bytes | None = None
        self.evaluation: LabelEvaluation | None = None
        layout = QVBoxLayout(self)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFormat("Suggesting a label for every labelled article from the others…")
        self.busy.setTextVisible(True)
        layout.addWidget(self.busy)
        self.picture = Picture()
        layout.addWidget(self.picture, 1)
        self.words = QLabel()
        self.words.setWordWrap(True)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.words)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton("Save picture…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        add_close_keys(self)
        fit_to_screen(self, SIZE[0] + 24, SIZE[1] + 150, share=0.9)
        runner.start(Task(self._work, evaluate), self._done, self._failed)

    def _work(self, evaluate) -> tuple[LabelEvaluation, bytes]:  # worker thread
        ev = evaluate()
        return ev, evaluation_png(ev)

    def closeEvent(self, event) -> None:
        self.closed = True
        super().closeEvent(event)

    def _done(self, result: tuple[LabelEvaluation, bytes]) -> None:
        if self.closed:
            return
        self.evaluation, self.png = result
        pixmap = QPixmap()
        pixmap.loadFromData(self.png, "PNG")
        self.picture.set_pixmap(pixmap)
        self.words.setText(summary(self.evaluation))
        self.save_button.setEnabled(True)
        self._settle()

    def _failed(self, failure: Failure) -> None:
        if self.closed:
            return
        if isinstance(failure.error, UserError):  # too few labels, a catalog that went away: in words
            self.words.setText(str(failure.error))
        else:
            from desktop_app.gui.errors import show_error

            self.words.setText("The evaluation failed.")
            show_error(self, "Evaluation failed", failure)
        self._settle()

    def _settle(self) -> None:
        self.busy.hide()
        self.shown.emit()

    def save(self) -> None:
        if self.png is None:
            return
        path = ask_export_path(
            self, "Save picture", file_name("label suggestions", self.field, ext="png"), "PNG (*.png)"
        )
        if path is None:
            return
        try:
            write_bytes(path, self.png, what="picture")
        except UserError as exc:
            self.words.setText(f"{summary(self.evaluation)}\n\nNot saved: {exc}")


__all__ = ["LabelQualityDialog", "summary"]
