"""The similar panel's questions and answers, as plain Python run by workers.

`SimilarityEngine` wraps the core `SearchIndex` for one catalog and model and turns its hits into what
the panel shows: absolute photo paths for the best-pair thumbnails, cover photos, labels. Queries are one
article, several articles (pooled), one catalog photo, or photo files dropped on the window, which are
embedded here with the catalog's model. No Qt in this module.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.catalog import Catalog
from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import UserError
from desktop_app.core.indexer import embed_files, preprocessing
from desktop_app.core.models import InstalledModel
from desktop_app.core.search import SearchIndex
from desktop_app.core.vectors import ArticleVectors
from desktop_app.gui.prefs import SearchParams


@dataclass
class Query:
    """What to search for. kind: "articles" (one or more), "photo" (one catalog photo) or "files"."""

    kind: str
    articles: list[str] = field(default_factory=list)
    photo_id: int | None = None
    photo_path: str | None = None  # relative path of the catalog photo
    files: list[Path] = field(default_factory=list)

    def title(self) -> str:
        if self.kind == "articles":
            if len(self.articles) == 1:
                return f"Similar to {self.articles[0]}"
            return f"Similar to {len(self.articles)} articles together"
        if self.kind == "photo":
            return f"Similar to photo {Path(self.photo_path or '').name}"
        names = ", ".join(p.name for p in self.files[:2])
        more = f" and {len(self.files) - 2} more" if len(self.files) > 2 else ""
        return f"Similar to dropped photo{'s' if len(self.files) > 1 else ''} {names}{more}"


@dataclass
class Hit:
    article: str
    index: int
    score: float
    photos: int
    labels: dict[str, str]
    cover: str | None  # absolute path of the article's first photo
    pairs: list[tuple[str, str, float]]  # (query photo path, hit photo path, similarity), absolute


@dataclass
class Outcome:
    query: Query
    hits: list[Hit]
    method: str
    elapsed_ms: float  # time in the search itself
    total_ms: float  # including embedding dropped photos and building rows
    mode: str
    n_query_photos: int
    note: str = ""


class EncoderCache:
    """One loaded model per (model, device); building an ONNX session costs a second, so keep it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str] | None = None
        self._encoder: Encoder | None = None

    def get(self, model: InstalledModel, device: str) -> Encoder:
        key = (str(model.manifest_path), device)
        with self._lock:
            if self._key != key or self._encoder is None:
                self._encoder = Encoder(model, device=device)
                self._key = key
            return self._encoder


class SimilarityEngine:
    """Search over one catalog's vectors of one model. Built in a worker; used by one worker at a time."""

    def __init__(
        self,
        av: ArticleVectors,
        root: Path | None,
        model: InstalledModel | None = None,
        resize: str | None = None,
        mirror: bool = False,
    ) -> None:
        self.av = av
        self.root = root
        self.model = model
        self.resize = resize
        self.mirror = mirror
        self.model_id = av.model_id
        self.index = SearchIndex(av)
        self.index.prepare(("centroid", "ordered"))
        self._row_of_photo: dict[int, int] | None = None

    @classmethod
    def load(cls, catalog: Catalog, model: InstalledModel, model_id: str) -> SimilarityEngine:
        av = catalog.article_vectors(model_id)
        return cls(av, catalog.photo_root(), model, *preprocessing(catalog, model.manifest))

    @property
    def n_articles(self) -> int:
        return self.av.n_articles

    @property
    def n_photos(self) -> int:
        return self.av.n_photos

    def has(self, article: str) -> bool:
        return article in self.av

    def abs(self, rel: str | None) -> str | None:
        if rel is None:
            return None
        return str(self.root / rel) if self.root is not None else rel

    def _photo_row(self, photo_id: int) -> int | None:
        if self._row_of_photo is None:
            self._row_of_photo = {int(p): i for i, p in enumerate(self.av.photo_ids.tolist())}
        return self._row_of_photo.get(int(photo_id))

    def embed_files(self, files: list[Path], encoder: Encoder) -> tuple[np.ndarray, list[Path], list[str]]:
        """Vectors of dropped photo files, preprocessed like the catalog's; unreadable ones are reported."""
        vectors, used, problems = embed_files(encoder, files, self.resize, self.mirror)
        if not used:
            raise UserError("None of the dropped files could be read as a photo:\n" + "\n".join(problems))
        return vectors, used, problems

    def run(self, query: Query, params: SearchParams, encoder: Encoder | None = None) -> Outcome:
        t0 = time.perf_counter()
        note = ""
        kwargs = dict(threshold=params.threshold, max_matches=params.max_matches, n_pairs=3)
        query_paths: list[str] | None = None
        if query.kind == "articles":
            missing = [a for a in query.articles if not self.has(a)]
            if missing and len(missing) == len(query.articles):
                raise UserError(
                    f"{missing[0]} has no embedded photos yet, so it cannot be compared. "
                    "Run Update index to embed them."
                )
            keys = [a for a in query.articles if a not in missing]
            if missing:
                note = f"{len(missing)} selected article(s) have no embedded photos and were left out."
            result = self.index.search(keys, params.method, params.top_k, **kwargs)
        elif query.kind == "photo":
            row = self._photo_row(query.photo_id or -1)
            if row is None:
                raise UserError(
                    "This photo has no vector yet (it was skipped or is not indexed). "
                    "Run Update index, or pick another photo."
                )
            own = int(self.av.article_of_row[row])
            result = self.index.search(
                self.av.vectors[row : row + 1],
                params.method,
                params.top_k,
                query_views=[self.av.views[row]],
                exclude=[own],
                **kwargs,
            )
            query_paths = [self.abs(self.av.paths[row]) or ""]
        else:
            if encoder is None:
                raise UserError("No model is loaded to embed the dropped photos.")
            vecs, used, problems = self.embed_files(query.files, encoder)
            if problems:
                note = f"{len(problems)} file(s) could not be read: " + "; ".join(problems[:3])
            result = self.index.search(vecs, params.method, params.top_k, **kwargs)
            query_paths = [str(p) for p in used]
        hits = []
        offsets = self.av.offsets
        for h in result.hits:
            a = h.index
            first = int(offsets[a])
            pairs = []
            for p in h.pairs:
                if p.query_path is not None:
                    q = self.abs(p.query_path) or ""
                else:
                    q = query_paths[p.query_row] if query_paths and p.query_row < len(query_paths) else ""
                pairs.append((q, self.abs(p.path) or "", float(p.sim)))
            hits.append(
                Hit(
                    h.article,
                    a,
                    float(h.score),
                    int(offsets[a + 1] - first),
                    self.av.labels[a] if a < len(self.av.labels) else {},
                    self.abs(self.av.paths[first]) if offsets[a + 1] > first else None,
                    pairs,
                )
            )
        if params.method == "ordered" and any(h.fallback for h in result.hits):
            extra = "Articles without a shared view tag were compared with greedy pairs."
            note = f"{note} {extra}".strip()
        return Outcome(
            query,
            hits,
            params.method,
            result.elapsed_ms,
            (time.perf_counter() - t0) * 1e3,
            result.mode,
            result.n_query_photos,
            note,
        )


def file_is_image(path: Path) -> bool:
    from desktop_app.core.scan import image_suffixes

    return path.is_file() and os.path.splitext(path.name)[1].lower() in image_suffixes()
