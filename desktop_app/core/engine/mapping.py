"""The catalog map through the engine: the 2-D layout of the articles, stored and kept up to date.

A layout is stored in the catalog keyed by the vectors it was made from: the model's vector identity and
the adapter switched on (None: the frozen vectors). Switching the model or the adapter therefore finds no
layout (or the one made earlier for those vectors) and never shows positions computed from other vectors.
Articles indexed after the layout was computed are placed among their nearest laid-out neighbours, and
removed ones dropped, until the curator asks for a fresh computation (`recompute`) or so many have joined
that the layout no longer shows the catalog (more than `layout.RELAYOUT_SHARE` of its articles): then it is
computed afresh, here, so that the app and `lookalike map` decide alike.
"""

from __future__ import annotations

import time

import numpy as np

from desktop_app.core import layout as lay
from desktop_app.core.engine.base import EvalProgress
from desktop_app.core.layout import MapLayout


class MapRoom:
    """The catalog map (a room of `Engine`)."""

    def map_key(self) -> tuple[str, int | None]:
        """(vector identity, adapter id or None) a layout of the vectors in use is stored under."""
        adapter = self.adapter()
        return self.vectors_model_id(), adapter.id if adapter is not None else None

    def stored_map(self, method: str | None = None) -> MapLayout | None:
        """The stored layout of the vectors in use by `method`, or with none given the t-SNE one when there is
        one (a quick PCA map made once never takes its place), else the newest; as it was stored: articles
        indexed since are not on it yet (`catalog_map` places them)."""
        model_id, adapter_id = self.map_key()
        row = self.catalog.layout(model_id, adapter_id, method or lay.DEFAULT_METHOD)
        if row is None and method is None:
            row = self.catalog.layout(model_id, adapter_id)
        if row is None:
            return None
        info = dict(row["info"])
        info.setdefault("created_at", row["created_at"])
        return MapLayout.from_bytes(row["data"], row["method"], info, model_id, adapter_id)

    def map_articles(self) -> tuple[list[str], np.ndarray]:
        """The articles a map shows (those with vectors) and their vectors: the normalised mean of their
        photos' vectors, adapted when an adapter is on (the search's centroids)."""
        index = self.search_index()
        rows = np.flatnonzero(index.nonempty)
        return [index.av.articles[i] for i in rows], index.centroids[rows]

    def catalog_map(
        self,
        method: str | None = None,
        recompute: bool = False,
        compute: bool = True,
        seed: int = 0,
        progress: EvalProgress | None = None,
        should_cancel=None,
    ) -> MapLayout | None:
        """The map of the catalog's articles for the vectors in use.

        The stored layout, with articles indexed since placed on it and removed ones dropped (stored again
        when that changed it); without one (or with `recompute`), a new layout by `method` (default t-SNE),
        stored. When more than `RELAYOUT_SHARE` of the articles would have joined the stored layout after it
        was computed, it is computed afresh by its own method (info "outgrown": how many had joined), unless
        `compute` is False. None when there is none and `compute` is False. Raises NoVectors for a catalog
        without vectors, InputError when the method's library is missing, `layout.Cancelled` when
        cancelled."""
        if recompute or method is not None:
            lay.check_method(method or lay.DEFAULT_METHOD)
        stored = None if recompute else self.stored_map(method)
        keys, vectors = self.map_articles()
        outgrown: MapLayout | None = None
        if stored is not None:
            updated = self._update_map(stored, keys, vectors, seed)
            if updated is not None and compute and self._outgrown(updated):
                outgrown, method = updated, method or updated.method
            elif updated is not None:
                if updated is not stored:
                    self._store_map(updated)
                return updated
        if not compute:
            return None
        method = method or lay.DEFAULT_METHOD
        lay.check_method(method)
        xy, placed, info = lay.compute_layout(vectors, method, seed, progress, should_cancel)
        model_id, adapter_id = self.map_key()
        info["created_at"] = time.time()
        if outgrown is not None:
            info["outgrown"] = outgrown.joined
        result = MapLayout(keys, xy, method, info, model_id, adapter_id, placed)
        self._store_map(result)
        return result

    @staticmethod
    def _outgrown(layout: MapLayout) -> bool:
        """Whether so many articles joined the layout after it was computed that it must be made afresh."""
        return len(layout) > 0 and layout.joined > lay.RELAYOUT_SHARE * len(layout)

    def _update_map(
        self, stored: MapLayout, keys: list[str], vectors: np.ndarray, seed: int
    ) -> MapLayout | None:
        """The stored layout for today's articles (not stored); None when none of them is on it (lay them out
        afresh)."""
        if stored.digest == lay.articles_digest(keys):
            return stored
        pos = stored.index()
        known = np.array([a in pos for a in keys], dtype=bool)
        if not known.any():
            return None
        old_rows = np.array([pos[a] for a, k in zip(keys, known) if k], dtype=np.int64)
        xy = np.empty((len(keys), 2), dtype=np.float32)
        placed = np.zeros(len(keys), dtype=bool)
        joined = np.zeros(len(keys), dtype=bool)
        xy[known] = stored.xy[old_rows]
        placed[known] = stored.placed_mask[old_rows]
        joined[known] = stored.joined_mask[old_rows]
        new = ~known
        if new.any():
            xy[new] = lay.place(vectors[known], xy[known], vectors[new], seed=seed)
            placed[new] = joined[new] = True
        info = dict(stored.info, updated_at=time.time(), n=len(keys))
        return MapLayout(keys, xy, stored.method, info, stored.model_id, stored.adapter_id, placed, joined)

    def _store_map(self, layout: MapLayout) -> None:
        """Keep the layout (a cache: where it cannot be stored, the map is laid out afresh next time)."""
        self.catalog.store_cache(
            "map layout",
            lambda: self.catalog.save_layout(
                layout.model_id,
                layout.adapter_id,
                layout.method,
                layout.digest,
                layout.info,
                layout.to_bytes(),
            ),
        )
