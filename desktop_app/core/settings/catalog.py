"""A catalog's own settings, stored in its settings table so that every front end and every curator of the
catalog reads the same values: where its photos are, how they group into articles, the model and
preprocessing its vectors come from, and the search defaults per vector space."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from desktop_app.core.errors import InputError
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings.search import DEFAULT_TOP_K, SearchSettings


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
