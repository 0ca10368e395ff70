"""Per-user preferences of the desktop app (QSettings) and how they combine with per-catalog settings.

Per user: device, batch size, thumbnail size, the model for new catalogs, window layout, and the search
defaults used for catalogs that have none of their own. Per catalog (Catalog.set_settings): the grouping
rule, the model its vectors come from, and its search method/s/m, because good thresholds depend on the
model and the products. With LOOKALIKE_HOME set (portable installs, tests) the preferences live in an INI
file under it, so nothing leaks into the real user profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = "Lookalike"
APPLICATION = "Lookalike"

# The matching methods of core.matching, named for curators. Spelled out here rather than imported because
# core.matching pulls in SciPy, which would add half a second to the app's start; tests/test_gui_models.py
# checks that the two lists agree.
METHODS: tuple[str, ...] = ("greedy", "hungarian", "ordered", "centroid", "max")
PAIR_METHODS: tuple[str, ...] = ("greedy", "hungarian", "ordered")  # the methods that s and m apply to
METHOD_LABELS = {
    "greedy": "Greedy pairs",
    "hungarian": "Best assignment (Hungarian)",
    "ordered": "Same view only",
    "centroid": "Average photo (centroid)",
    "max": "Best single pair",
}


def qsettings() -> QSettings:
    home = os.environ.get("LOOKALIKE_HOME")
    if home:
        return QSettings(str(Path(home) / "gui-settings.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


@dataclass
class Prefs:
    device: str = "auto"
    batch_size: int = 32
    thumb_size: int = 160
    model: str = ""  # model for new catalogs: name or manifest path; "" = the bundled default
    method: str = "greedy"
    threshold: float = 0.0  # s; 0 = no threshold
    max_matches: int = 0  # m; 0 = all pairs count
    top_k: int = 30

    @classmethod
    def load(cls) -> Prefs:
        s = qsettings()
        out = cls()
        for f in fields(cls):
            raw = s.value(f"prefs/{f.name}")
            if raw is None:
                continue
            try:
                setattr(out, f.name, type(getattr(out, f.name))(raw))
            except (TypeError, ValueError):
                continue  # a hand-edited or old value: keep the default
        if out.method not in METHODS:
            out.method = "greedy"
        out.batch_size = min(max(out.batch_size, 1), 512)
        out.thumb_size = min(max(out.thumb_size, 64), 320)
        out.top_k = min(max(out.top_k, 1), 500)
        return out

    def save(self) -> None:
        s = qsettings()
        for f in fields(self):
            s.setValue(f"prefs/{f.name}", getattr(self, f.name))
        s.sync()


@dataclass
class SearchParams:
    method: str
    threshold: float | None
    max_matches: int | None
    top_k: int

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "threshold": self.threshold or 0.0,
            "max_matches": self.max_matches or 0,
        }


def search_params(prefs: Prefs, catalog_settings: dict) -> SearchParams:
    """The catalog's own search settings where it has them, else the user's defaults."""
    own = catalog_settings.get("search") or {}
    method = own.get("method", prefs.method)
    if method not in METHODS:
        method = prefs.method
    s = float(own.get("threshold", prefs.threshold) or 0.0)
    m = int(own.get("max_matches", prefs.max_matches) or 0)
    return SearchParams(method, s if s > 0 else None, m if m > 0 else None, prefs.top_k)


def window_state() -> dict:
    s = qsettings()
    return {k: s.value(f"window/{k}") for k in ("geometry", "state", "splitter")}


def save_window_state(**values) -> None:
    s = qsettings()
    for k, v in values.items():
        s.setValue(f"window/{k}", v)
    s.sync()
