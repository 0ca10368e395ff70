"""Finding photos in a folder and grouping them into articles.

One module answers "which files are photos" and "which article does a photo belong to". Grouping rules
are plain data (stored as JSON in the catalog) so that re-index runs give the same, readable article ids.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop_app.core.errors import InputError

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


# What reads as one of `path_text`'s escapes: a backslash before another, or before x and the two lower-case
# hex digits of a byte that is not UTF-8 (80 to ff).
ESCAPE_LIKE = re.compile(r"\\\\|\\x[89a-f][0-9a-f]")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes: bytes the OS gave that are not UTF-8
        return False
    return True


def path_text(rel: str) -> str:
    """The printable, UTF-8 form of a relative path ("/"-separated) that the catalog stores: one per file.

    Each name between the slashes that is UTF-8 and holds nothing that reads as an escape is kept as it is
    (nearly every name). Any other name has its backslashes doubled and its bytes that are not UTF-8 written
    as \\xNN: a Latin-1 name x<e9>.jpg is stored as x\\xe9.jpg, and a name that spells that literally as
    x\\\\xe9.jpg. A kept name holds no escape and an escaped name holds at least one, and escapes read back
    one way only, so two files never share a stored path (`paths.photo_file` undoes the escapes). Names
    are escaped one by one, so a folder's part of the path is the same for every file in it.
    """
    return "/".join(_name_text(name) for name in rel.split("/"))


def _name_text(name: str) -> str:
    if _is_utf8(name) and not ESCAPE_LIKE.search(name):
        return name
    return os.fsencode(name).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def printable(rel: str) -> str:
    """How a path or name prints in an article id: bytes that are not UTF-8 as \\xNN, backslashes as they are.

    Readable, but two names can print alike (a Latin-1 name and a name that spells its escape), so a photo's
    stored path is `path_text`. Article ids keep this form: a catalog's labels and decisions name its
    articles by these ids, which must not change under them.
    """
    return rel if _is_utf8(rel) else os.fsencode(rel).decode("utf-8", "backslashreplace")


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


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file is ("a named pipe (FIFO)", ...), or None for a regular one."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _SPECIAL:
        if test(mode):
            return name
    return "not a regular file"


@dataclass
class ScanProblem:
    """Something under the photo folder that could not be looked at: a folder or a special file."""

    path: str  # relative, printable
    reason: str  # "unreadable_folder" or "not_a_file"
    message: str

    def to_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason, "message": self.message}


def walk_photos(
    root: Path,
    should_cancel: Callable[[], bool] | None = None,
    problems: list[ScanProblem] | None = None,
) -> Iterator[FoundFile]:
    """All regular image files under root, recursively, following directory symlinks once (no loops).

    Hidden files and folders (dot-names) are skipped: they are thumbnails caches, OS metadata and the like.
    Folders that cannot be listed and image-named files that are not regular files (FIFOs, devices,
    sockets: opening one could block forever) are reported to `problems` and skipped.
    """
    root = Path(root)
    suffixes = image_suffixes()
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]

    def problem(path: str, reason: str, message: str) -> None:
        if problems is not None:
            problems.append(ScanProblem(path_text(path), reason, message))

    while stack:
        if should_cancel and should_cancel():
            return
        entries = _folder_entries(stack.pop(), root, seen_dirs, problem)
        subdirs: list[Path] = []
        for entry in entries:
            found = _photo_entry(entry, root, suffixes, subdirs, problem)
            if found is not None:
                yield found
        stack.extend(reversed(subdirs))


_Problem = Callable[[str, str, str], None]


def _folder_entries(
    folder: Path, root: Path, seen_dirs: set[tuple[int, int]], problem: _Problem
) -> list[os.DirEntry]:
    """The entries of a folder by name; none when it cannot be read or was walked already (a symlink loop or
    a second link to it)."""
    rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
    try:
        st = folder.stat()
    except OSError as exc:
        problem(rel_folder, "unreadable_folder", f"cannot be read: {exc.strerror or exc}")
        return []
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return []
    seen_dirs.add(key)
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problem(rel_folder, "unreadable_folder", f"cannot be listed: {exc.strerror or exc}")
        return []


def _photo_entry(
    entry: os.DirEntry, root: Path, suffixes: set[str], subdirs: list[Path], problem: _Problem
) -> FoundFile | None:
    """The photo file an entry is, or None: a folder (added to `subdirs`), a hidden or non-image name, a
    dangling link, or a special file (reported)."""
    if entry.name.startswith("."):
        return None
    try:
        if entry.is_dir(follow_symlinks=True):
            subdirs.append(Path(entry.path))
            return None
        if os.path.splitext(entry.name)[1].lower() not in suffixes:
            return None
        est = entry.stat(follow_symlinks=True)
    except OSError:
        return None  # dangling symlink or vanished: nothing to index
    rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
    kind = special_kind(est.st_mode)
    if kind is not None:
        problem(rel, "not_a_file", f"is {kind}, not a photo file")
        return None
    return FoundFile(rel, est.st_size, est.st_mtime_ns)


@dataclass
class ScanResult:
    files: list[FoundFile]
    problems: list[ScanProblem]
    cancelled: bool = False

    @property
    def unreadable_folders(self) -> list[str]:
        return [p.path for p in self.problems if p.reason == "unreadable_folder"]

    def unseen(self, path: str) -> bool:
        """Whether a stored photo lies in a folder this scan could not read (so it may still exist)."""
        for folder in self.unreadable_folders:
            if folder in ("", ".") or path == folder or path.startswith(folder + "/"):
                return True
        return False


def scan_folder(root: Path, should_cancel: Callable[[], bool] | None = None) -> ScanResult:
    problems: list[ScanProblem] = []
    files = list(walk_photos(root, should_cancel, problems))
    return ScanResult(files, problems, bool(should_cancel and should_cancel()))


# ---------------------------------------------------------------- grouping

MAGENTO_PATTERN = r"(?P<article>[^_]+?)(?:_(?P<view>.+))?"


@dataclass(frozen=True)
class GroupingRule:
    """How photos become articles: `folder` (one article per folder) or `pattern` (regex over the stem)."""

    kind: str = "folder"
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("folder", "pattern"):
            raise InputError(f"Unknown grouping rule {self.kind!r}; use 'folder' or 'pattern'.")
        if self.kind == "pattern":
            compiled = compile_pattern(self.pattern or "")
            if "article" not in compiled.groupindex:
                raise InputError(
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
        raise InputError(f"The file-name pattern is not a valid regular expression: {exc}") from exc


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
        posix = PurePosixPath(printable(rel))
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


# View tags that name the photo a product is shown by: the article's cover when it has one.
COVER_VIEWS = ("main", "front", "1", "a")


def cover_position(views: list[str | None]) -> int:
    """Which of an article's photos (in path order, with their view tags) is its cover.

    The first photo whose view is main/front/1/a; else the first without a view tag; else the first.
    """
    for i, v in enumerate(views):
        if v is not None and v.lower() in COVER_VIEWS:
            return i
    for i, v in enumerate(views):
        if v is None:
            return i
    return 0


# ---------------------------------------------------------------- advice

KNOWN_PATTERNS = {"magento": MAGENTO_PATTERN}  # names for --pattern


def suggest_rule(items: list[tuple[str, Grouped]]) -> GroupingRule:
    """File-name grouping when names look like <article>_<view> and that grouping makes sense, else folders.

    items: (relative path, grouping under the Magento pattern) of the first files of a folder.
    "Makes sense": most names carry a view, several photos share an article, and an article's photos sit
    in one folder. The last test rejects names like IMG_0001.jpg spread over per-article folders, which
    the pattern would lump into one article "IMG".
    """
    if not items:
        return GroupingRule("folder")
    with_view = sum(1 for _, g in items if g.view)
    folders: dict[str, set[str]] = {}
    for path, g in items:
        folders.setdefault(g.article, set()).add(path.rsplit("/", 1)[0] if "/" in path else "")
    articles = len(folders)
    one_folder = sum(1 for f in folders.values() if len(f) == 1)
    if with_view >= 0.5 * len(items) and articles < len(items) and one_folder >= 0.9 * articles:
        return GroupingRule("pattern", MAGENTO_PATTERN)
    return GroupingRule("folder")


# An article is a product's photos: a few angles. Folders holding more than this many photos on average
# are shelves of many products, not articles.
PLAUSIBLE_PHOTOS_PER_ARTICLE = 12


def grouping_advice(files: list[FoundFile], rule: GroupingRule, root_name: str = "photos") -> str | None:
    """A hint when the grouping gives implausible articles and a known file-name pattern fits, else None."""
    if rule.kind != "folder" or not files:
        return None
    grouper = Grouper(rule, root_name)
    by_folder: dict[str, int] = {}
    for f in files:
        art = grouper(f.rel).article
        by_folder[art] = by_folder.get(art, 0) + 1
    mean = len(files) / len(by_folder)
    if mean <= PLAUSIBLE_PHOTOS_PER_ARTICLE:
        return None
    sample = files[:2000]
    magento = Grouper(GroupingRule("pattern", MAGENTO_PATTERN), root_name)
    items = [(f.text, magento(f.rel)) for f in sample]
    if suggest_rule(items).kind != "pattern":
        return None
    n_articles = len({g.article for _, g in items})
    return (
        f"Grouping by folder gives {len(by_folder)} articles of about {mean:.0f} photos each, which looks like "
        f"folders of many products. The file names look like <article>_<view>.jpg (about "
        f"{len(items) / max(n_articles, 1):.1f} photos per article): index again with --pattern magento."
    )
