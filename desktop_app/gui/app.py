"""Starting the desktop app: `run(db)` is what `lookalike` and `lookalike gui [--db]` call.

With a catalog path it opens that catalog (this is also how `lookalike demo` shows its freshly indexed
catalog); without one it reopens the catalog used last, or shows the welcome screen.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from desktop_app import __version__
from desktop_app.gui.collector import GuiThreadCollector
from desktop_app.gui.errors import install_excepthook, setup_logging
from desktop_app.gui.theme import apply_theme

# How long a worker thread may hold the GIL before the UI thread gets a turn. PySide releases the GIL around
# every Qt call, so painting re-acquires it hundreds of times per frame; with Python's default of 5 ms, one busy
# worker (indexing, loading vectors) turns each re-acquisition into a wait and a frame into a stall.
GIL_SWITCH_INTERVAL_S = 0.0005
APPLICATION = "Lookalike"


def make_app(argv: list[str] | None = None) -> QApplication:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    QCoreApplication.setOrganizationName(APPLICATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationDisplayName("Lookalike")
    return app  # type: ignore[return-value]


def create_window(db: Path | str | None = None):
    """The main window with its catalog being opened (for run(), tests and the screenshot script)."""
    from desktop_app.core.settings import UserSettings
    from desktop_app.gui.mainwindow import MainWindow

    user = UserSettings.load()
    apply_theme(QApplication.instance(), user.theme)  # before the widgets are built with the palette
    window = MainWindow(user)
    window.show()
    # Open after the first paint so the window appears at once, whatever the catalog's size.
    QTimer.singleShot(0, lambda: window.open_catalog(db))
    return window


def freeze_startup_objects() -> None:
    """Take what exists once the window is built (modules, classes, functions, widgets: about 80,000
    objects) out of the garbage collector's generations. A full collection walked all of them every time
    (40-50 ms with a large catalog open), on whichever thread set it off, while the window's thread waited
    for the GIL: re-reading a million-photo catalog had 6-7 stalls over 50 ms, with this 1-2. Done once, at
    start: what it keeps of the garbage that existed then is a few objects."""
    gc.freeze()


def run(db: Path | str | None = None) -> int:
    app = make_app()
    setup_logging()
    install_excepthook()
    window = create_window(db)
    freeze_startup_objects()
    collector = GuiThreadCollector(app)
    collector.start()
    if os.environ.get("LOOKALIKE_SMOKE"):
        _quit_after_first_paint(app, window)
    code = app.exec()
    window.shutdown()
    collector.stop()
    return int(code)


def _quit_after_first_paint(app: QApplication, window) -> None:
    """For packaging/smoke_test.py: report when the article grid first painted, then quit."""
    started = time.perf_counter()

    def painted() -> None:
        print(
            f"lookalike: first paint {1e3 * (time.perf_counter() - started):.0f} ms after the window "
            "was created",
            file=sys.stderr,
            flush=True,
        )
        QTimer.singleShot(0, app.quit)

    window.grid.first_paint.connect(painted)
    QTimer.singleShot(60_000, app.quit)  # never hang a smoke run
