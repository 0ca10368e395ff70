"""A catalog at a glance: its articles as browsing columns, counts, settings, model and index state.

`load_snapshot` runs in a worker of the app: it reads the article overview, counts and settings through the
engine, works out the model and the index state, and precomputes the sort orders and filter text of the
grid so the UI thread only swaps a finished object in.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.engine import Engine
from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel
from desktop_app.core.paths import catalog_title, folder_reachable, photo_file
from desktop_app.core.settings import CatalogSettings, SearchSettings
from desktop_app.core.storage import Catalog

SORT_KEYS = ("name", "folder", "label", "added", "photos")
SORT_LABELS = {
    "name": "Name",
    "folder": "Folder",
    "label": "Label",
    "added": "Date added",
    "photos": "Photo count",
}


def label_text(labels: dict[str, str]) -> str:
    """One line for a label dict: the category first (the field curators use most), then the rest."""
    if not labels:
        return ""
    items = sorted(labels.items(), key=lambda kv: (kv[0] != "category", kv[0]))
    return ", ".join(v if k == "category" else f"{k}: {v}" for k, v in items)


def model_title(model: InstalledModel | None) -> str:
    """How the UI names a model: its real name and what it was trained on, never a borrowed one."""
    if model is None:
        return "no model"
    m = model.manifest
    family = {"imagenet": "ImageNet features", "clip": "CLIP", "test": "test model"}.get(m.family, m.family)
    return f"{m.name} ({family}, {m.precision})"


SORT_CHUNK = 8192  # items sorted in one C call by `yielding_order`


def yielding_order(n: int, key: Callable[[int], Any]) -> np.ndarray:
    """range(n) sorted by key (stably), as int64 indices, without holding the GIL for long.

    `sorted` compares in C and lets no other thread run until it is done: sorting a quarter of a million
    articles by folder in a worker froze the window's thread for a third of a second. Chunks are sorted
    one by one and then merged by a generator, between whose steps the interpreter lets the window run."""
    chunks = [sorted(range(s, min(s + SORT_CHUNK, n)), key=key) for s in range(0, n, SORT_CHUNK)]
    if len(chunks) <= 1:
        return np.array(chunks[0] if chunks else [], dtype=np.int64)
    return np.fromiter(heapq.merge(*chunks, key=key), dtype=np.int64, count=n)


@dataclass
class Articles:
    """The grid's data as parallel columns, with sort orders and filter text ready to use."""

    # Columns of strings (and label dicts) are tuples: the garbage collector stops looking into a tuple of
    # plain values after one pass, while it walks every item of a list at every full collection, which
    # took 120 ms with a quarter of a million articles, on whichever thread set it off.
    keys: tuple[str, ...]
    folders: tuple[str, ...]
    added: np.ndarray
    counts: np.ndarray
    covers: tuple[str, ...]
    errors: np.ndarray
    labels: tuple[dict[str, str], ...]
    label_texts: tuple[str, ...]
    haystack: tuple[str, ...]  # lower-case "id | folder | labels" for the filter box
    orders: dict[str, np.ndarray] = field(default_factory=dict)
    # cover photo (relative) -> its article; one photo file is rarely the cover of several, those in `more`.
    # Not a list per cover: a quarter of a million small lists made every full garbage collection while a
    # snapshot loaded in a worker a third of a second long, with the window's thread waiting for the GIL.
    first_of_cover: dict[str, int] = field(default_factory=dict)
    more_of_cover: dict[str, list[int]] = field(default_factory=dict)
    index_of: dict[str, int] = field(default_factory=dict)  # article -> its position in `keys`

    @classmethod
    def from_overview(cls, rows: list[dict]) -> Articles:
        """From rows of `Catalog.articles_overview`."""
        names = ("article", "folder", "added_at", "photos", "cover", "errors", "labels")
        return cls.from_columns({name: tuple(r[name] for r in rows) for name in names})

    @classmethod
    def from_columns(cls, cols: dict[str, tuple]) -> Articles:
        """From `Catalog.article_columns`."""
        keys = cols["article"]
        folders = tuple(f or "" for f in cols["folder"])
        labels = tuple(lab or {} for lab in cols["labels"])
        texts = tuple(label_text(lab) for lab in labels)
        out = cls(
            keys=keys,
            folders=folders,
            added=np.array(cols["added_at"], dtype=np.float64),
            counts=np.array(cols["photos"], dtype=np.int64),
            covers=tuple(c or "" for c in cols["cover"]),
            errors=np.array(cols["errors"], dtype=np.int64),
            labels=labels,
            label_texts=texts,
            haystack=tuple(f"{k}\x1f{f}\x1f{t}".lower() for k, f, t in zip(keys, folders, texts)),
        )
        n = len(keys)
        # Built here, in the worker: a quarter of a million keys take 80 ms the window's thread should not spend.
        out.index_of = {k: i for i, k in enumerate(keys)}
        for i, cover in enumerate(out.covers):
            if cover and out.first_of_cover.setdefault(cover, i) != i:
                out.more_of_cover.setdefault(cover, []).append(i)
        # Sorting 100,000 strings takes a noticeable fraction of a second: do every order here, once.
        out.orders["name"] = np.arange(n, dtype=np.int64)  # the overview is already ordered by key
        out.orders["folder"] = yielding_order(n, lambda i: (folders[i].lower(), keys[i]))
        out.orders["label"] = yielding_order(n, lambda i: (texts[i] == "", texts[i].lower(), keys[i]))
        out.orders["added"] = np.lexsort((np.arange(n), -out.added)).astype(np.int64)  # newest first
        out.orders["photos"] = np.lexsort((np.arange(n), -out.counts)).astype(np.int64)  # most photos first
        return out

    def __len__(self) -> int:
        return len(self.keys)

    def with_cover(self, rel: str) -> list[int]:
        """The articles shown by this photo (a relative path)."""
        first = self.first_of_cover.get(rel)
        return [] if first is None else [first, *self.more_of_cover.get(rel, ())]


@dataclass
class Snapshot:
    engine: Engine
    articles: Articles
    counts: dict
    settings: CatalogSettings
    last_run: dict | None
    photo_root: Path | None
    root_ok: bool
    model: InstalledModel | None
    model_id: str | None
    model_error: str | None
    loaded_in_s: float = 0.0
    partial: bool = False  # only the first page of articles (by id): the rest is being read
    # The search settings of the vector space in use (`Engine.search_settings`: an adapter's own when on).
    search: SearchSettings = field(default_factory=SearchSettings)
    # A few of the catalog's photos, looked for in the photo folder (`paths.folder_reachable`): the window's
    # recheck of an offline folder asks the disk, not the catalog.
    root_sample: tuple[str, ...] = ()
    # Who answers search's candidate stage, for a shared catalog (`ServerIndexStatus.summary`); "" for a file.
    candidate_stage: str = ""

    @property
    def more_articles(self) -> int:
        """Articles of the catalog a partial snapshot does not hold yet."""
        return max(0, self.counts.get("articles", 0) - len(self.articles)) if self.partial else 0

    @property
    def path(self) -> Path | None:
        """The catalog file; None for a shared catalog on a database server (see `location`)."""
        return self.engine.path

    @property
    def location(self) -> str:
        """Where the catalog is: its file, or its database URL without a password."""
        return self.engine.location

    @property
    def title(self) -> str:
        """The catalog's name in window titles and lists (`paths.catalog_title`)."""
        return catalog_title(self.location, self.photo_root)

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    @property
    def embedded(self) -> int:
        if self.model_id is None:
            return 0
        return int(self.counts.get("vectors_by_model", {}).get(self.model_id, 0))

    def index_state(self) -> tuple[str, str]:
        """(short state for the status bar, longer explanation for its tooltip)."""
        ok = int(self.counts.get("photos_ok", 0))
        total = int(self.counts.get("photos", 0))
        if total == 0:
            return "not indexed", "No photos are indexed yet: use Update index."
        status = (self.last_run or {}).get("status")
        if status in ("running", "interrupted"):
            # A run that never finished: the app or machine stopped while it worked.
            return "interrupted", "The last index run did not finish; Update index resumes it."
        if status == "failed":
            return (
                "failed",
                "The last index run stopped on an error; Update index resumes it once that is fixed.",
            )
        if status == "cancelled":
            return "incomplete", "The last index run was cancelled; Update index resumes it."
        if not self.root_ok:  # nothing can be checked against the folder: never "up to date"
            return (
                "photos offline",
                f"The photo folder {self.photo_root or ''} is not reachable; the catalog shows what was "
                "indexed, and Update index works again once the folder is back.",
            )
        if self.model_id is not None and self.embedded < ok:
            return (
                f"{self.embedded:,} of {ok:,} embedded",
                "Some photos have no vectors for the current model yet; Update index adds them.",
            )
        return "up to date", "Every usable photo is embedded with the current model."

    def abs_path(self, rel: str) -> Path | None:
        return photo_file(self.photo_root, rel) if self.photo_root is not None and rel else None


def load_snapshot(engine: Engine, first: int | None = None) -> Snapshot:
    """Everything the window needs about a catalog. Runs in a worker; raises UserError subclasses.

    With `first`, only the first `first` articles by id are read (the window paints those at once and reads
    the rest next: a million photos take seconds to summarise); `partial` says whether some were left."""
    t0 = time.perf_counter()
    settings = engine.settings()
    catalog = engine.catalog
    with ThreadPoolExecutor(1) as pool:  # the counts scan every photo: in parallel with the overview
        counting = pool.submit(catalog.counts)
        cols = catalog.article_columns(limit=first)
        counts = counting.result()
    last = catalog.last_run()
    root = engine.photo_root()
    root_sample = engine.root_sample()
    root_ok = folder_reachable(root, root_sample)
    model = model_id = model_error = None
    try:
        model = engine.model()
        model_id = engine.model_id()
    except ModelError as exc:
        model_error = str(exc)
    articles = Articles.from_columns(cols)
    return Snapshot(
        engine,
        articles,
        counts,
        settings,
        last,
        root,
        root_ok,
        model,
        model_id,
        model_error,
        round(time.perf_counter() - t0, 3),
        # Only a page cut short leaves articles out. The count is read beside the page, not with it: while an
        # index run adds articles it can be higher than a whole read found, and calling that partial made the
        # window read the catalog again and again for as long as the run went on.
        partial=first is not None and len(articles) >= first and counts["articles"] > len(articles),
        search=engine.search_settings(),
        root_sample=root_sample,
        candidate_stage=engine.server_index_status().summary(),
    )
