"""The user's own settings, a JSON file in the user data folder shared by the CLI and the app: the device,
batch size and zoom, the colour theme, the model for new catalogs, the curator's name, the catalogs used
recently and where their photos are on this machine, the window layout, what the window showed of each
catalog, and the last export folder."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from desktop_app.core.errors import InputError, UserError
from desktop_app.core.files import read_input, write_text
from desktop_app.core.paths import user_data_dir

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
THEMES = ("system", "light", "dark")  # the app's palette: the desktop's own, or a light or dark one
MAX_CURATOR_NAME = 100


# The user's settings are a few KB (window layouts included); a bigger file is not ours.
SETTINGS_MAX_BYTES = 16_000_000


def _settings_file() -> Path:
    return user_data_dir() / "settings.json"


# Keys of `UserSettings.window`: the main window's layout as Qt saved it.
MAIN_GEOMETRY = "geometry"  # QWidget.saveGeometry: position, size, maximised
MAIN_SPLITTER = "splitter"  # QSplitter.saveState: the articles beside the similar panel


# What the window showed of a catalog, remembered per catalog (`UserSettings.views`).
VIEW_TABS = ("grid", "map")  # the articles' grid, or the catalog map in front
MAX_VIEW_SELECTION = 1000  # articles of a remembered selection (a lasso on the map may select thousands)
MAX_VIEWS = 20  # catalogs whose view is remembered; the one left longest ago goes first


@dataclass
class CatalogView:
    """The grid's selection, its filter text and the tab in front when the curator left a catalog: the window
    shows them again when the catalog is opened again (the articles that still exist)."""

    selected: list[str] = field(default_factory=list)
    filter: str = ""
    tab: str = "grid"

    def __post_init__(self) -> None:
        self.selected = [a for a in self.selected if isinstance(a, str)][:MAX_VIEW_SELECTION]
        self.filter = self.filter if isinstance(self.filter, str) else ""
        if self.tab not in VIEW_TABS:
            self.tab = VIEW_TABS[0]

    @classmethod
    def from_dict(cls, data: Any) -> CatalogView:
        if not isinstance(data, dict):
            return cls()
        selected = data.get("selected")
        return cls(
            selected=list(selected) if isinstance(selected, list) else [],
            filter=data.get("filter", ""),
            tab=data.get("tab", VIEW_TABS[0]),
        )


@dataclass
class UserSettings:
    """The user's own preferences, shared by the CLI and the app; saved atomically as JSON."""

    device: str = "auto"
    batch_size: int = 32
    thumb_size: int = 160  # the grid's and the results' zoom: thumbnails are made at this size
    theme: str = "system"
    model: str = ""  # model for new catalogs: name or manifest path; "" = the default
    curator: str = (
        ""  # the name decisions are logged with; "" = the database user of a shared catalog, or login
    )
    recent: list[str] = field(default_factory=list)  # catalogs, most recent first
    # Where a catalog's photos are on this machine (catalog key -> folder), for catalogs shared between
    # machines that mount the photo folder in different places.
    roots: dict[str, str] = field(default_factory=dict)
    window: dict[str, str] = field(default_factory=dict)  # the app's window layout (base64 blobs)
    views: dict[str, dict] = field(default_factory=dict)  # catalog key -> its CatalogView, as stored
    export_folder: str = ""  # the folder the app's last export (a CSV) went to; "" = none yet

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            self.device = "auto"
        if self.theme not in THEMES:
            self.theme = "system"
        self.batch_size = min(max(int(self.batch_size), 1), 512)
        self.thumb_size = min(max(int(self.thumb_size), 64), 512)
        # Older versions remembered a URL's password as ***, beside the same URL without one: one entry each.
        self.recent = list(dict.fromkeys(_url_key(p) for p in self.recent if isinstance(p, str)))
        self.roots = {_url_key(k): v for k, v in self.roots.items() if isinstance(v, str)}
        self.views = {k: v for k, v in self.views.items() if isinstance(v, dict)}

    @classmethod
    def load(cls) -> UserSettings:
        try:
            # a regular file only, read bounded: a FIFO or /dev/zero here must not hang or fill every start
            raw = read_input(
                _settings_file(), "settings file", SETTINGS_MAX_BYTES, error=OSError, pipes=False
            )
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            default = getattr(cls(), f.name)
            if isinstance(default, (list, dict)) and not isinstance(value, type(default)):
                continue
            if isinstance(default, (int, str)) and not isinstance(value, (int, str)):
                continue
            try:
                kwargs[f.name] = type(default)(value)
            except (TypeError, ValueError):
                continue
        try:
            return cls(**kwargs)
        except (TypeError, ValueError):
            return cls()

    def save(self, strict: bool = False) -> None:
        """Write the file atomically. `strict` when the user asked for this change (a curator name, where the
        photos are): a failure is then their error, naming the file. Otherwise (recent catalogs, the window's
        layout, the zoom) an unwritable profile is not a reason to fail: those are conveniences."""
        path = _settings_file()
        try:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"Cannot create the folder of your settings file {path}: {exc.strerror or exc}; "
                    "check its permissions (or set LOOKALIKE_HOME to a folder you can write)."
                ) from exc
            write_text(path, json.dumps(asdict(self), indent=2), what="settings file")
        except UserError:
            if strict:
                raise

    def with_preferences_of(self, other: UserSettings) -> UserSettings:
        """These settings with the preferences the user edits (device, batch size, zoom, theme, model for new
        catalogs, curator name) taken from `other`; what the app remembers by itself (recent catalogs, photo
        folders, window layout, what it showed of each catalog, the last export folder) stays as it is here."""
        return replace(
            self,
            device=other.device,
            batch_size=other.batch_size,
            thumb_size=other.thumb_size,
            theme=other.theme,
            model=other.model,
            curator=other.curator,
        )

    def set_curator(self, name: str) -> None:
        """The name this user's decisions carry ("" goes back to the default: see engine.curator_and_source)."""
        self.curator = curator_name(name)

    # ----- recent catalogs

    def remember(self, catalog: str | os.PathLike) -> None:
        key = catalog_key(catalog)
        self.recent = [key] + [p for p in self.recent if p != key][:9]

    def forget(self, catalog: str | os.PathLike) -> None:
        key = catalog_key(catalog)
        self.recent = [p for p in self.recent if p != key]

    def last_catalog(self) -> str | None:
        for p in self.recent:
            if "://" in p or Path(p).exists():
                return p
        return None

    def photo_root(self, catalog: str | os.PathLike) -> str | None:
        return self.roots.get(catalog_key(catalog))

    def set_photo_root(self, catalog: str | os.PathLike, folder: str | os.PathLike | None) -> None:
        key = catalog_key(catalog)
        if folder is None:
            self.roots.pop(key, None)
        else:
            self.roots[key] = str(Path(folder).expanduser().resolve())

    # ----- what the window showed of each catalog

    def catalog_view(self, catalog: str | os.PathLike) -> CatalogView | None:
        """The view remembered for this catalog; None when none was."""
        stored = self.views.get(catalog_key(catalog))
        return CatalogView.from_dict(stored) if stored is not None else None

    def set_catalog_view(self, catalog: str | os.PathLike, view: CatalogView) -> None:
        key = catalog_key(catalog)
        self.views.pop(key, None)  # re-inserted last: the dict is oldest first
        self.views[key] = asdict(CatalogView.from_dict(asdict(view)))
        for old in list(self.views)[: max(0, len(self.views) - MAX_VIEWS)]:
            del self.views[old]

    # ----- where exports go

    def export_dir(self) -> Path:
        """Where a save dialog for an export starts: the folder of the last export while it exists, else
        the user's Documents folder, else their home (never the process's working directory)."""
        last = Path(self.export_folder) if self.export_folder else None
        if last is not None and last.is_dir():
            return last
        home = Path.home()
        documents = home / "Documents"
        return documents if documents.is_dir() else home

    def set_export_dir(self, file: str | os.PathLike) -> None:
        """Remember the folder of a file just exported (the next export's dialog starts there)."""
        self.export_folder = str(Path(file).expanduser().resolve().parent)

    # ----- window layout (opaque Qt blobs)

    def main_window_layout(self) -> tuple[bytes | None, bytes | None]:
        """The main window's saved (geometry, splitter state); None for what was never saved."""
        return self.window_blob(MAIN_GEOMETRY), self.window_blob(MAIN_SPLITTER)

    def set_main_window_layout(self, geometry: bytes, splitter: bytes) -> None:
        """Remember the main window's geometry and the split between the articles and the results."""
        self.set_window_blob(MAIN_GEOMETRY, geometry)
        self.set_window_blob(MAIN_SPLITTER, splitter)

    def window_blob(self, name: str) -> bytes | None:
        text = self.window.get(name)
        if not text:
            return None
        try:
            return base64.b64decode(text)
        except ValueError:
            return None

    def set_window_blob(self, name: str, blob: bytes) -> None:
        self.window[name] = base64.b64encode(bytes(blob)).decode("ascii")


def catalog_key(catalog: str | os.PathLike) -> str:
    """How a catalog is remembered: a database URL without any password, a file by its absolute path."""
    text = os.fspath(catalog)
    if "://" in text:
        from desktop_app.core.storage.backend import without_password

        return without_password(text)
    return str(Path(text).expanduser().resolve())


def _url_key(remembered: str) -> str:
    """A remembered catalog as `catalog_key` makes it today (database URLs only: files stay as they are)."""
    return catalog_key(remembered) if "://" in remembered else remembered


def remember_catalog(catalog: str | os.PathLike) -> None:
    """Record a catalog as the most recently used one (the default for commands without --db)."""
    settings = UserSettings.load()
    settings.remember(catalog)
    settings.save()


def last_catalog() -> str | None:
    return UserSettings.load().last_catalog()


def curator_name(text: str) -> str:
    """A curator's name as decisions carry it (spaces collapsed); InputError when it is not printable text of
    at most MAX_CURATOR_NAME characters."""
    name = " ".join(text.split())
    if any(not c.isprintable() for c in name) or len(name) > MAX_CURATOR_NAME:
        raise InputError(f"A curator's name is printable text of at most {MAX_CURATOR_NAME} characters.")
    return name
