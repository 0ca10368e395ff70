"""Showing problems to the curator: what happened and what to do, and never a crash.

A `UserError` from the core already says what happened and what to do, so it becomes a plain warning box.
Anything else is a bug: the traceback goes into a details section and into a log file, and the app keeps
running. Boxes are opened window-modal but non-blocking (`open`, not `exec`), so workers and tests keep
going while a box is up.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_app.core.errors import UserError
from desktop_app.core.paths import user_data_dir
from desktop_app.gui.workers import Failure

log = logging.getLogger("desktop_app.gui")

_handler: logging.Handler | None = None


def log_file() -> Path:
    return user_data_dir() / "logs" / "lookalike-gui.log"


def setup_logging() -> Path | None:
    """Send warnings and errors of the app to a rotating log file the error dialog can point at."""
    global _handler
    if _handler is not None:
        return log_file()
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        return None  # no writable data folder: the dialog still shows the traceback
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger("desktop_app").addHandler(handler)
    logging.getLogger("desktop_app").setLevel(logging.INFO)
    _handler = handler
    return path


def is_user_error(error: BaseException) -> bool:
    return isinstance(error, UserError)


def show_error(
    parent: QWidget | None, title: str, error: BaseException | Failure, what_to_do: str = ""
) -> QMessageBox:
    """Tell the curator about a failure without stopping the app; returns the (already open) box."""
    if isinstance(error, Failure):
        exc, text = error.error, error.traceback
    else:
        exc = error
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    child = getattr(exc, "child_traceback", "")
    if child:  # a bug in a child process (search, indexing): its own traceback is the one that helps
        text += f"\nIn the child process:\n{child}"
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    if is_user_error(exc):
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(str(exc))
        if what_to_do:
            box.setInformativeText(what_to_do)
        log.warning("%s: %s", title, exc)
    elif isinstance(exc, MemoryError):
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText("Lookalike ran out of memory.")
        box.setInformativeText(
            "Close other programs or use a smaller batch size in Settings, then try again."
        )
        log.error("%s: out of memory\n%s", title, text)
    elif isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText("The disk is full.")
        box.setInformativeText(f"Free some space, then try again. ({exc})")
        log.error("%s: disk full\n%s", title, text)
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText(f"Something went wrong: {type(exc).__name__}: {exc}")
        where = log_file()
        box.setInformativeText(
            "This is a bug in Lookalike; the app keeps running. Your catalog keeps everything saved so far.\n"
            f"Details are in {where}; please include them when you report the problem."
        )
        box.setDetailedText(text)
        log.error("%s: unexpected error\n%s", title, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    same = _same_box_open(parent, box)
    if same is not None:  # one box per cause: a failure met again raises the box still on show
        box.deleteLater()
        same.raise_()
        same.activateWindow()
        return same
    box.setModal(True)
    box.open()
    return box


def _same_box_open(parent: QWidget | None, box: QMessageBox) -> QMessageBox | None:
    """A box of `parent` on show that says what `box` says, or None."""
    if parent is None:
        return None
    said = (box.windowTitle(), box.text(), box.informativeText())
    for other in parent.findChildren(QMessageBox):
        if (
            other is not box
            and other.isVisible()
            and (other.windowTitle(), other.text(), other.informativeText()) == said
        ):
            return other
    return None


def install_excepthook() -> None:
    """Uncaught exceptions in slots become a dialog plus a log entry instead of ending the app."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        try:
            from PySide6.QtWidgets import QApplication

            parent = QApplication.activeWindow()
            show_error(parent, "Unexpected error", exc)
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
