"""Shared catalogs on a database server: the URL to open, the password when the server asks, and where the
photos are on this machine.

The URL is a SQLAlchemy URL (postgresql+psycopg://user@host:5432/lookalike). Lookalike never stores a
password: libpq finds it (PGPASSWORD, ~/.pgpass) or the curator types it, and it stays in this process's
memory for that catalog's login only (`core.storage.passwords`; the search and indexing processes are handed
it when they start). A password typed into the URL is moved there too, so titles, the recent list and the
settings file only ever hold the URL without it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import InputError
from desktop_app.core.storage.backend import split_password as storage_split_password
from desktop_app.core.storage.passwords import remember_password

EXAMPLE = "postgresql+psycopg://curator@catalog-server:5432/lookalike"


def split_password(url: str) -> tuple[str, str | None]:
    """(the URL without a password, the password it held or None); InputError when it is no PostgreSQL URL."""
    return storage_split_password(url, EXAMPLE)


class SharedCatalogDialog(QDialog):
    """Asks for a shared catalog's database URL."""

    chosen = Signal(str)  # the URL without a password

    def __init__(self, parent: QWidget | None = None, initial: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open shared catalog")
        intro = QLabel(
            "The catalog your team shares on a PostgreSQL server. Ask whoever set it up for its address.<br>"
            f"<code>{EXAMPLE}</code><br>The password comes from <code>PGPASSWORD</code> or "
            "<code>~/.pgpass</code>; if neither has it, Lookalike asks and keeps it only until you quit."
        )
        intro.setWordWrap(True)
        self.url = QLineEdit(initial)
        self.url.setPlaceholderText(EXAMPLE)
        self.url.setAccessibleName("Database URL")
        self.url.setMinimumWidth(460)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.url)
        lay.addWidget(self.error)
        lay.addWidget(buttons)

    def _accept(self) -> None:
        try:
            url, password = split_password(self.url.text())
        except InputError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        if password:
            remember_password(url, password)
        self.accept()
        self.chosen.emit(url)


def ask_password(parent: QWidget | None, location: str, on_password) -> QInputDialog:
    """A non-blocking password prompt; `on_password(text)` runs when the curator confirms."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Password")
    dialog.setLabelText(f"Password for {location}\n(kept in memory only, until Lookalike quits)")
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    dialog.textValueSelected.connect(on_password)
    dialog.open()
    return dialog


__all__ = ["EXAMPLE", "SharedCatalogDialog", "ask_password", "split_password"]
