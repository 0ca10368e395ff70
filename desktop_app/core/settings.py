"""Settings, each in one typed home: what belongs to a catalog, and what belongs to the user.

Per catalog (stored in the catalog's settings table, so every front end and every curator of the catalog
reads the same values): where its photos are, how they group into articles, the model and preprocessing
its vectors come from, and the search defaults (method, s, m, top-K) that `tune`, the similar panel, the
inspector, the review queue and every `labels` command use: method, s and m once for the frozen vectors and
once per adapter (a cosine threshold belongs to the vector space it was tuned in).

Per user (a JSON file in the user data folder): the device, batch size and thumbnail size (the app's zoom of
the grid and the results), the colour theme, the model for new catalogs, the catalogs used recently, the
window layout, what the window showed of each catalog (selection, filter, tab), and the last export folder.

This module is the only one that knows the stored key names.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from desktop_app.core.errors import InputError, UserError
from desktop_app.core.files import read_input, write_text
from desktop_app.core.matching import METHODS, PAIR_METHODS
from desktop_app.core.paths import user_data_dir
from desktop_app.core.scan import GroupingRule

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
THEMES = ("system", "light", "dark")  # the app's palette: the desktop's own, or a light or dark one
DEFAULT_TOP_K = 20
MAX_TOP_K = 10_000
MAX_CURATOR_NAME = 100


# ============================================================================ search defaults


@dataclass(frozen=True)
class SearchSettings:
    """How articles are compared: method, threshold s (None: off), cap m (None: all pairs), top-K."""

    method: str = "greedy"
    threshold: float | None = None
    max_matches: int | None = None
    top_k: int = DEFAULT_TOP_K

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"Unknown method {self.method!r}; choose one of {', '.join(METHODS)}.")
        if self.threshold is not None:
            t = self.threshold
            if (
                isinstance(t, bool)
                or not isinstance(t, (int, float))
                or not math.isfinite(t)
                or not -1 <= t <= 1
            ):
                raise InputError(
                    f"The threshold s must be a cosine similarity between -1 and 1 (got {t}); "
                    "leave it out for no threshold."
                )
            object.__setattr__(self, "threshold", float(t))
        if self.max_matches is not None:
            m = self.max_matches
            if isinstance(m, bool) or not isinstance(m, int) or m < 1:
                raise InputError(
                    f"The cap m on pairs must be 1 or more (got {m}); leave it out to count all pairs."
                )
        if (
            isinstance(self.top_k, bool)
            or not isinstance(self.top_k, int)
            or not 1 <= self.top_k <= MAX_TOP_K
        ):
            raise InputError(f"The number of results must be between 1 and {MAX_TOP_K} (got {self.top_k}).")

    @property
    def uses_pairs(self) -> bool:
        """Whether s and m mean anything for this method."""
        return self.method in PAIR_METHODS

    def override(
        self,
        method: str | None = None,
        threshold: float | None = None,
        max_matches: int | None = None,
        top_k: int | None = None,
    ) -> SearchSettings:
        """These settings with the given values replaced; None keeps the stored value."""
        changes: dict[str, Any] = {}
        if method is not None:
            changes["method"] = method
        if threshold is not None:
            changes["threshold"] = threshold
        if max_matches is not None:
            changes["max_matches"] = max_matches
        if top_k is not None:
            changes["top_k"] = top_k
        return replace(self, **changes) if changes else self

    def describe(self) -> str:
        parts = [self.method]
        if self.uses_pairs and self.threshold is not None:
            parts.append(f"s={self.threshold:g}")
        if self.uses_pairs and self.max_matches is not None:
            parts.append(f"m={self.max_matches}")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> SearchSettings:
        """Lenient: stored values from older versions (0 meaning "off", strings) are read, bad ones ignored."""
        data = data or {}
        out = cls()
        method = data.get("method")
        if method in METHODS:
            out = replace(out, method=method)
        for name, kind in (("threshold", float), ("max_matches", int), ("top_k", int)):
            raw = data.get(name)
            if raw is None:
                continue
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                continue
            if name != "top_k" and value == 0:
                value = None  # older catalogs stored "off" as 0
            try:
                out = replace(out, **{name: value})
            except InputError:
                continue
        return out


# ============================================================================ per catalog


@dataclass(frozen=True)
class CatalogSettings:
    """Everything a catalog remembers about how it was made and how it is searched."""

    photo_root: str | None = None
    grouping: GroupingRule = field(default_factory=GroupingRule)
    model: str | None = None  # model name when installed
    model_manifest: str | None = None  # the manifest file, to find a model that is not installed by name
    letterbox: bool = False  # fit whole photos into the model input instead of the model's own crop
    mirror: bool = False  # average each photo's vector with its mirror image's
    search: SearchSettings = field(default_factory=SearchSettings)  # for the frozen vectors (and top-K)
    # Method, s and m per adapter id: s is a cosine, and an adapter's cosines lie on another scale than the
    # frozen vectors' (on Magento, an s of 0.5 set on frozen cosines left a single result above it, adapted).
    adapted_search: dict[int, SearchSettings] = field(default_factory=dict)

    def search_for(self, adapter: int | None) -> SearchSettings:
        """The search settings of a vector space: the frozen vectors' (None) or an adapter's. An adapter with
        none of its own yet keeps the frozen method and m (a count of pairs, whatever their scale) and has
        no s until one is tuned or set with it on. Top-K is one setting for every space."""
        if adapter is None:
            return self.search
        own = self.adapted_search.get(adapter)
        if own is None:
            return replace(self.search, threshold=None)
        return replace(own, top_k=self.search.top_k)

    def has_own_search(self, adapter: int | None) -> bool:
        """Whether this vector space's method, s and m were set or tuned in it (always, for frozen)."""
        return adapter is None or adapter in self.adapted_search

    def with_search_for(self, adapter: int | None, new: SearchSettings) -> CatalogSettings:
        """These settings with a vector space's search settings replaced (top-K for every space)."""
        if adapter is None:
            return replace(self, search=new)
        own = replace(new, top_k=DEFAULT_TOP_K)  # stored once, with the frozen settings
        return replace(
            self,
            search=replace(self.search, top_k=new.top_k),
            adapted_search={**self.adapted_search, adapter: own},
        )

    @property
    def resize(self) -> str | None:
        """The resize override for preprocessing: "letterbox", or None for the model's own mode."""
        return "letterbox" if self.letterbox else None

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> CatalogSettings:
        raw = upgrade_raw(raw)
        try:
            grouping = GroupingRule.from_dict(raw.get("grouping"))
        except InputError:
            grouping = GroupingRule()
        return cls(
            photo_root=raw.get("photo_root") or None,
            grouping=grouping,
            model=raw.get("model") or None,
            model_manifest=raw.get("model_manifest") or None,
            letterbox=raw.get("resize") == "letterbox",
            mirror=bool(raw.get("mirror", False)),
            search=SearchSettings.from_dict(raw.get("search")),
            adapted_search=_adapted_search_from(raw.get("adapted_search")),
        )

    def preprocessing(self) -> dict[str, bool]:
        """How photos are fitted to the model, as `stats` reports it."""
        return {"letterbox": self.letterbox, "mirror": self.mirror}

    def to_raw(self) -> dict[str, Any]:
        return {
            "photo_root": self.photo_root,
            "grouping": self.grouping.to_dict(),
            "model": self.model,
            "model_manifest": self.model_manifest,
            "resize": self.resize,
            "mirror": self.mirror,
            "search": self.search.to_dict(),
            "adapted_search": {
                str(k): {n: v for n, v in own.to_dict().items() if n != "top_k"}
                for k, own in sorted(self.adapted_search.items())
            },
        }


def _adapted_search_from(raw: Any) -> dict[int, SearchSettings]:
    """Stored per-adapter settings (JSON keys are strings); anything unreadable is left out."""
    if not isinstance(raw, dict):
        return {}
    out: dict[int, SearchSettings] = {}
    for key, value in raw.items():
        try:
            ident = int(key)
        except (TypeError, ValueError):
            continue
        if isinstance(value, dict):
            out[ident] = SearchSettings.from_dict(value)
    return out


# Keys of older versions: `tune` wrote method/threshold/max_matches at the top level while the app read and
# wrote "search"; the tuned values are the ones the curator measured, so they win when both exist.
_LEGACY_SEARCH_KEYS = ("method", "threshold", "max_matches")


def upgrade_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """Stored settings of any older version in the current layout (used by the storage migration too)."""
    raw = dict(raw)
    legacy = {k: raw.pop(k) for k in _LEGACY_SEARCH_KEYS if k in raw}
    if legacy:
        raw["search"] = {**(raw.get("search") or {}), **legacy}
    return raw


# ============================================================================ per user


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


def catalog_settings(catalog: Any) -> CatalogSettings:
    """The typed settings of an open catalog (`storage.Catalog`)."""
    return CatalogSettings.from_raw(catalog.raw_settings())


def update_catalog_settings_with(catalog: Any, change: Any) -> CatalogSettings:
    """Apply change(CatalogSettings) -> CatalogSettings to a catalog's settings in one write transaction."""
    out: list[CatalogSettings] = []

    def apply(raw: dict[str, Any]) -> dict[str, Any]:
        new = change(CatalogSettings.from_raw(raw))
        out.append(new)
        return {**upgrade_raw(raw), **new.to_raw()}

    catalog.update_raw_settings(apply)
    return out[0]


def update_catalog_settings(catalog: Any, **changes: Any) -> CatalogSettings:
    """Change some of a catalog's settings (field names of CatalogSettings) in one write transaction."""
    out: list[CatalogSettings] = []

    def change(raw: dict[str, Any]) -> dict[str, Any]:
        new = replace(CatalogSettings.from_raw(raw), **changes)
        out.append(new)
        return {**upgrade_raw(raw), **new.to_raw()}

    catalog.update_raw_settings(change)
    return out[0]


def curator_name(text: str) -> str:
    """A curator's name as decisions carry it (spaces collapsed); InputError when it is not printable text of
    at most MAX_CURATOR_NAME characters."""
    name = " ".join(text.split())
    if any(not c.isprintable() for c in name) or len(name) > MAX_CURATOR_NAME:
        raise InputError(f"A curator's name is printable text of at most {MAX_CURATOR_NAME} characters.")
    return name
