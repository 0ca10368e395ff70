"""Finding photos in a folder and grouping them into articles.

One module answers "which files are photos" and "which article does a photo belong to". Grouping rules
are plain data (stored as JSON in the catalog) so that re-index runs give the same, readable article ids.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop_app.core.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
HEIF_SUFFIXES = {".heic", ".heif", ".avif"}


def heif_available() -> bool:
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


def image_suffixes() -> set[str]:
    return IMAGE_SUFFIXES | HEIF_SUFFIXES if heif_available() else set(IMAGE_SUFFIXES)


def path_text(rel: str) -> str:
    """A printable, UTF-8-safe form of a relative path; bytes that are not UTF-8 become \\xNN escapes."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class FoundFile:
    rel: str  # relative path with "/" separators, as the OS gave it (may hold surrogate escapes)
    size: int
    mtime_ns: int

    @property
    def text(self) -> str:
        return path_text(self.rel)

    @property
    def raw(self) -> bytes:
        return os.fsencode(self.rel)


def walk_photos(root: Path, should_cancel: Callable[[], bool] | None = None) -> Iterator[FoundFile]:
    """All image files under root, recursively, following directory symlinks once (no loops).

    Hidden files and folders (dot-names) are skipped: they are thumbnails caches, OS metadata and the like.
    """
    root = Path(root)
    suffixes = image_suffixes()
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        if should_cancel and should_cancel():
            return
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            continue  # a symlink loop or a second link to a folder already walked
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append(Path(entry.path))
                    continue
                if os.path.splitext(entry.name)[1].lower() not in suffixes:
                    continue
                est = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # dangling symlink or vanished: nothing to index
            rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
            yield FoundFile(rel, est.st_size, est.st_mtime_ns)
        stack.extend(reversed(subdirs))


# ---------------------------------------------------------------- grouping

MAGENTO_PATTERN = r"(?P<article>[^_]+?)(?:_(?P<view>.+))?"


@dataclass(frozen=True)
class GroupingRule:
    """How photos become articles: `folder` (one article per folder) or `pattern` (regex over the stem)."""

    kind: str = "folder"
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("folder", "pattern"):
            raise UserError(f"Unknown grouping rule {self.kind!r}; use 'folder' or 'pattern'.")
        if self.kind == "pattern":
            compiled = compile_pattern(self.pattern or "")
            if "article" not in compiled.groupindex:
                raise UserError(
                    "The file-name pattern needs a named group 'article', e.g. (?P<article>[^_]+)."
                )

    @classmethod
    def from_dict(cls, data: dict | None) -> GroupingRule:
        if not data:
            return cls()
        return cls(kind=data.get("kind", "folder"), pattern=data.get("pattern"))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "pattern": self.pattern} if self.kind == "pattern" else {"kind": "folder"}

    def describe(self) -> str:
        return f"file-name pattern {self.pattern}" if self.kind == "pattern" else "one article per folder"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UserError(f"The file-name pattern is not a valid regular expression: {exc}") from exc


@dataclass(frozen=True)
class Grouped:
    article: str
    view: str | None
    matched: bool  # False: the pattern did not match and the photo is its own article


class Grouper:
    def __init__(self, rule: GroupingRule, root_name: str = "photos") -> None:
        self.rule = rule
        self.root_name = root_name or "photos"
        self._regex = compile_pattern(rule.pattern) if rule.kind == "pattern" else None

    def __call__(self, rel: str) -> Grouped:
        posix = PurePosixPath(path_text(rel))
        if self._regex is None:
            parent = str(posix.parent)
            return Grouped(self.root_name if parent in ("", ".") else parent, None, True)
        match = self._regex.fullmatch(posix.stem)
        if match and match.group("article"):
            view = match.groupdict().get("view") or None
            return Grouped(match.group("article"), view, True)
        # Unmatched photos stay alone; the path without suffix keeps their id unique and stable.
        return Grouped(str(posix.with_suffix("")), None, False)


def preview_grouping(root: Path, rule: GroupingRule, limit: int = 200) -> list[tuple[str, Grouped]]:
    """How the first `limit` photos under root would group: for the GUI's live preview."""
    grouper = Grouper(rule, Path(root).name)
    out = []
    for found in walk_photos(root):
        out.append((found.text, grouper(found.rel)))
        if len(out) >= limit:
            break
    return out
