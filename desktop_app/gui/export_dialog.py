"""The save dialog of an export: it starts where the curator's last export went (or their Documents folder,
else their home), never in the process's working directory, with a file name that says what is exported."""

from __future__ import annotations

import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.settings import UserSettings

MAX_NAME = 120  # characters of a suggested file name, before its extension


def file_name(*parts: str, ext: str) -> str:
    """A file name made of these words and today's date, without characters file systems refuse."""
    text = " ".join(p for p in (*parts, datetime.date.today().isoformat()) if p)
    safe = "".join(c if c.isalnum() or c in " -_.()" else "_" for c in text).strip(" .")
    return f"{safe[:MAX_NAME] or 'export'}.{ext}"


def ask_export_path(parent: QWidget, title: str, name: str, filters: str) -> Path | None:
    """Ask where to write an export, starting in the last export's folder with `name`; the folder chosen is
    remembered for the next export. None when the curator cancels."""
    start = UserSettings.load().export_dir() / name
    chosen, _ = QFileDialog.getSaveFileName(parent, title, str(start), filters)
    if not chosen:
        return None
    user = UserSettings.load()
    user.set_export_dir(chosen)
    user.save()  # never raises: a folder not remembered is no reason to refuse the export
    return Path(chosen)


__all__ = ["ask_export_path", "file_name"]
