"""Settings, each in one typed home: what belongs to a catalog, and what belongs to the user.

Per catalog (stored in the catalog's settings table, so every front end and every curator of the catalog
reads the same values): where its photos are, how they group into articles, the model and preprocessing
its vectors come from, and the search defaults (method, s, m, top-K) that `tune`, the similar panel, the
inspector, the review queue and every `labels` command use: method, s and m once for the frozen vectors and
once per adapter (a cosine threshold belongs to the vector space it was tuned in).

Per user (a JSON file in the user data folder): the device, batch size and thumbnail size (the app's zoom of
the grid and the results), the colour theme, the model for new catalogs, the catalogs used recently, the
window layout, what the window showed of each catalog (selection, filter, tab), and the last export folder.

This package is the only place that knows the stored key names: `search` (method, s, m, top-K),
`catalog` (a catalog's settings) and `user` (the user's file).
"""

from desktop_app.core.settings.catalog import (
    CatalogSettings,
    catalog_settings,
    update_catalog_settings,
    update_catalog_settings_with,
    upgrade_raw,
)
from desktop_app.core.settings.search import DEFAULT_TOP_K, MAX_TOP_K, SearchSettings
from desktop_app.core.settings.user import (
    DEVICES,
    MAX_CURATOR_NAME,
    MAX_VIEW_SELECTION,
    MAX_VIEWS,
    THEMES,
    VIEW_TABS,
    CatalogView,
    UserSettings,
    catalog_key,
    curator_name,
    last_catalog,
    remember_catalog,
)

__all__ = [
    "DEFAULT_TOP_K",
    "DEVICES",
    "MAX_CURATOR_NAME",
    "MAX_TOP_K",
    "MAX_VIEWS",
    "MAX_VIEW_SELECTION",
    "THEMES",
    "VIEW_TABS",
    "CatalogSettings",
    "CatalogView",
    "SearchSettings",
    "UserSettings",
    "catalog_key",
    "catalog_settings",
    "curator_name",
    "last_catalog",
    "remember_catalog",
    "update_catalog_settings",
    "update_catalog_settings_with",
    "upgrade_raw",
]
