"""The banner over the grid when the catalog's photo folder cannot be found on this computer.

A catalog shared between machines, or one on a drive that is not plugged in, still opens: the curator can
browse and search it, and thumbnails made before still show. The banner says so and offers to locate the
folder (the window connects `locate_button` to `CatalogController.locate_photos`). While it shows, `recheck`
asks every few seconds whether the folder is back (the window looks off its UI thread and re-reads the
catalog when it is), so a drive plugged back in clears the banner without reopening the catalog.

The banner is the one place that says the folder is offline: an action that needs the photos (Update index,
opening a photo) calls `point_out`, which names the action in the banner instead of opening a dialog that
would repeat the banner, once per try.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from desktop_app.core.overview import Snapshot
from desktop_app.gui import theme


class PhotoFolderWarning(QFrame):
    """Hidden while the photo folder is there; a warning with "Locate photo folder…" while it is not."""

    recheck = Signal(object)  # the missing folder (a Path): is it there now?
    RECHECK_MS = 5000

    def __init__(self) -> None:
        super().__init__()
        self.missing: Path | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(self.RECHECK_MS)
        self.timer.timeout.connect(lambda: self.missing is not None and self.recheck.emit(self.missing))
        self.setObjectName("rootWarning")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)  # the action that needs the photos, in bold
        self._warning = ""  # what the banner says about the folder, without the action that needs it
        self.locate_button = QPushButton("Locate photo folder…")
        self.locate_button.setToolTip("Show Lookalike where this catalog's photos are on this computer")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.locate_button)
        self.hide()

    def show_for(self, snap: Snapshot) -> None:
        """Show the warning when the snapshot's photo folder is missing (colours of the current theme)."""
        missing = snap.photo_root is not None and not snap.root_ok
        if missing:
            self._warning = escape(
                f"The photo folder {snap.photo_root} cannot be found on this computer. Reconnect the drive it "
                "is on, or use Locate photo folder… if it is somewhere else here. You can still browse and "
                "search; thumbnails made before still show."
            )
            self.label.setText(self._warning)
            bg, fg = theme.warning_colours(self.palette())
            self.setStyleSheet(
                f"#rootWarning {{ background: {bg.name()}; border-radius: 6px; }}"
                f"#rootWarning QLabel {{ color: {fg.name()}; }}"
            )
        self.setVisible(missing)
        self.missing = snap.photo_root if missing else None
        if missing:
            self.timer.start()
        else:
            self.timer.stop()

    def point_out(self, action: str) -> bool:
        """Say in the banner that `action` (e.g. "Update index") needs the missing folder, and give "Locate
        photo folder…" the focus; False when the banner is not on show (the caller says it otherwise)."""
        if self.missing is None or not self.isVisible():
            return False
        self.label.setText(f"<b>{escape(action)} needs the photos.</b> {self._warning}")
        self.locate_button.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    def hide_warning(self) -> None:
        """No catalog: nothing to warn about or to look for."""
        self.missing = None
        self.timer.stop()
        self.hide()


__all__ = ["PhotoFolderWarning"]
