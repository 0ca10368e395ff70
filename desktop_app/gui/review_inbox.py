"""The inbox: new photos from another folder, copied into `inbox/` of the catalog's photo folder.

New photos normally arrive in the catalog's own folder and "Update index" picks them up. Photos that sit
elsewhere (a supplier's delivery, a download folder) are brought in with `import_inbox(parent, photo_root)`:
the curator picks photos or whole folders, they are copied to `<photo folder>/inbox/`, and the main window
then runs its normal index update, after which they show up in the review queue as unlabelled articles.
The copy is plain file work; the index is not touched here.

Where a photo lands decides which article it joins, so the copy keeps what the grouping rules read:
- a photo picked on its own goes to `inbox/<its folder's name>/<file name>`;
- a picked folder goes to `inbox/<folder name>/...` with its subfolders kept.
With "one article per folder" the article folders survive; with a file-name pattern the file names do.
Nothing already in the inbox is overwritten: an identical file is left as it is, a different file with
the same name goes to a numbered sibling folder (`inbox/<name> (2)/`).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.files import replacing
from desktop_app.core.paths import relative_to_root
from desktop_app.core.scan import image_suffixes
from desktop_app.core.wording import plural

INBOX = "inbox"


@dataclass(frozen=True)
class InboxItem:
    source: Path
    rel: str  # destination below inbox/, "/"-separated


def is_photo(path: Path) -> bool:
    return path.suffix.lower() in image_suffixes() and not path.name.startswith(".")


def plan_inbox(files: Iterable[Path] = (), folders: Iterable[Path] = ()) -> list[InboxItem]:
    """Where each picked photo would go below inbox/ (see the module docstring)."""
    items: dict[Path, InboxItem] = {}
    for f in files:
        f = Path(f)
        if f.is_file() and is_photo(f):
            parent = f.parent.name or "photos"
            items.setdefault(f.resolve(), InboxItem(f, f"{parent}/{f.name}"))
    for folder in folders:
        folder = Path(folder)
        base = folder.name or "photos"
        for dirpath, dirnames, filenames in os.walk(folder):
            # Hidden folders hold caches and OS metadata, as in the indexer's walk.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                f = Path(dirpath) / name
                if is_photo(f):
                    rel = Path(os.path.relpath(f, folder)).as_posix()
                    items.setdefault(f.resolve(), InboxItem(f, f"{base}/{rel}"))
    return list(items.values())


def _inside(path: Path, root: Path) -> bool:
    return relative_to_root(path, root) is not None


def copy_into_inbox(
    items: Iterable[InboxItem], photo_root: Path, progress: Callable[[int], bool] | None = None
) -> list[Path]:
    """Copy the photos into photo_root/inbox/; returns the files written (identical ones are not rewritten).

    Photos already inside the photo folder are left out: the index has them, a copy would be a duplicate.
    `progress(n_done)` may return False to stop early; what was copied until then stays.
    Each file appears under its final name only when complete, so an index run at the same time never
    reads half a photo.
    """
    root = Path(photo_root)
    inbox = root / INBOX
    written: list[Path] = []
    for i, item in enumerate(items):
        if progress is not None and not progress(i):
            break
        if _inside(item.source, root):
            continue
        target = _free_target(inbox, item)
        if target is None:
            continue  # the very same photo is already in the inbox
        target.parent.mkdir(parents=True, exist_ok=True)
        # A dot-name is skipped by the indexer's walk, so the partial copy is never indexed.
        with replacing(target, ".incoming-", target.suffix) as tmp:
            shutil.copy2(item.source, tmp)
        written.append(target)
    return written


def _free_target(inbox: Path, item: InboxItem) -> Path | None:
    first, _, rest = item.rel.partition("/")
    n = 1
    while True:
        folder = first if n == 1 else f"{first} ({n})"
        target = inbox / folder / rest if rest else inbox / folder
        if not target.exists():
            return target
        if target.is_file() and filecmp.cmp(item.source, target, shallow=False):
            return None
        n += 1


class InboxDialog(QDialog):
    """Pick photos and folders to copy into the catalog's inbox."""

    def __init__(self, photo_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root = Path(photo_root)
        self.files: list[Path] = []
        self.folders: list[Path] = []
        self.copied: list[Path] = []
        self.setWindowTitle("Add new photos to the inbox")
        self.resize(640, 420)

        lay = QVBoxLayout(self)
        intro = QLabel(
            f"Photos from another folder are copied to <b>{_html(str(self.root / INBOX))}</b>. "
            "Then update the index: they appear as unlabelled articles in the review queue."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        row = QHBoxLayout()
        add_files = QPushButton("Add photos…")
        add_folder = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        add_files.clicked.connect(self._pick_files)
        add_folder.clicked.connect(self._pick_folder)
        self.remove_button.clicked.connect(self._remove)
        for b in (add_files, add_folder, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        lay.addWidget(self.list, 1)
        self.summary = QLabel()
        lay.addWidget(self.summary)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.copy_button = buttons.addButton("Copy to inbox", QDialogButtonBox.ButtonRole.AcceptRole)
        self.copy_button.clicked.connect(self.apply)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._refresh()

    def add(self, files: Iterable[Path] = (), folders: Iterable[Path] = ()) -> None:
        self.files += [Path(f) for f in files]
        self.folders += [Path(f) for f in folders]
        self._refresh()

    def plan(self) -> list[InboxItem]:
        return [i for i in plan_inbox(self.files, self.folders) if not _inside(i.source, self.root)]

    def _pick_files(self) -> None:
        pattern = " ".join(f"*{s}" for s in sorted(image_suffixes()))
        names, _ = QFileDialog.getOpenFileNames(self, "New photos", str(Path.home()), f"Photos ({pattern})")
        self.add(files=names)

    def _pick_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Folder of new photos", str(Path.home()))
        if name:
            self.add(folders=[name])

    def _remove(self) -> None:
        gone = {i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()}
        self.files = [f for f in self.files if str(f) not in gone]
        self.folders = [f for f in self.folders if str(f) not in gone]
        self._refresh()

    def _refresh(self) -> None:
        self.list.clear()
        for f in self.folders + self.files:
            kind = "folder" if f in self.folders else "photo"
            self.list.addItem(f"{f}   ({kind})")
            self.list.item(self.list.count() - 1).setData(Qt.ItemDataRole.UserRole, str(f))
        plan = self.plan()
        inside = len(plan_inbox(self.files, self.folders)) - len(plan)
        text = f"{plural(len(plan), 'photo')} to copy."
        if inside:
            text += f" {inside} already in the photo folder (left out: the index has them)."
        self.summary.setText(text)
        self.copy_button.setEnabled(bool(plan))
        self.remove_button.setEnabled(self.list.count() > 0)

    def apply(self) -> list[Path]:
        plan = self.plan()
        dialog = QProgressDialog("Copying photos…", "Stop", 0, len(plan), self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(500)  # only for deliveries big enough to take a while

        def progress(n: int) -> bool:
            dialog.setValue(n)
            return not dialog.wasCanceled()

        try:
            self.copied = copy_into_inbox(plan, self.root, progress)
        except OSError as exc:
            QMessageBox.warning(self, "Copy failed", f"Copying stopped: {exc.strerror or exc}")
            return self.copied
        finally:
            dialog.setValue(len(plan))
        self.accept()
        return self.copied


def import_inbox(parent: QWidget | None, photo_root: Path | None) -> list[Path]:
    """Let the curator pick new photos, copy them into <photo folder>/inbox/, return the files written.

    Indexing is left to the caller (the main window's "Update index"): run it when the list is not empty.
    """
    if photo_root is None:
        QMessageBox.information(
            parent, "No photo folder", "Index a photo folder first; the inbox lives inside it."
        )
        return []
    dialog = InboxDialog(photo_root, parent)
    dialog.exec()
    return dialog.copied


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["INBOX", "InboxDialog", "InboxItem", "copy_into_inbox", "import_inbox", "plan_inbox"]
