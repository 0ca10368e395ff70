"""Scoring a block of similarities by each set-matching method: the exact top K of a search (upper bounds,
then exact scores in bound order, see `search.py`), and every article's chosen pairs for an evaluation of
many settings (`SearchIndex.picks`).

`BlockScoring` is a mixin of `search.SearchIndex`: it needs the index's vectors (`av`, `offsets`,
`centroids`, `n_articles`), its view codes (`_codes_of`, `_view_vocab`) and `refine_first_batch`. The
numeric kernels are in `set_scores.py`; scores follow `matching.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core import matching
from desktop_app.core.set_scores import (
    Block,
    greedy_picks,
    greedy_scores,
    hungarian_picks,
    hungarian_score,
    products,
    refine,
    scores_from_picks,
    top_k,
)


@dataclass
class ResolvedQuery:
    """A query as search sees it: its photo vectors, where they are in the catalog, and their views."""

    vectors: np.ndarray  # [q, D] float32, L2-normalised
    rows: np.ndarray | None  # global catalog rows of the query photos, None for raw vectors
    articles: list[int]  # catalog articles forming the query (never returned)
    views: list[str | None]


# (global article ids, scores, number scored exactly) of the top k of a block
TopK = tuple[np.ndarray, np.ndarray, int]


def _greedy_exact(block: Block, local: np.ndarray, threshold: float | None, m: int | None) -> np.ndarray:
    """Exact greedy scores of the block articles at `local`."""
    sub, order = block.subset(local)
    out = np.empty(local.size)
    out[order] = greedy_scores(sub, threshold, m)
    return out


class BlockScoring:
    """Mixin of `search.SearchIndex`: per-method scoring of a `Block`."""

    def _batch(self, default: int) -> int:
        return default if self.refine_first_batch is None else self.refine_first_batch

    @staticmethod
    def _bounds(block: Block, qmax: np.ndarray, threshold: float | None, m: int | None) -> np.ndarray:
        """Upper bound of the greedy/hungarian score of each block article (see the module docstring).

        qmax: [q, a], the best similarity of each query photo within each article.
        """
        best = qmax.max(axis=0).astype(np.float64)
        if threshold is not None:
            return np.where(best >= threshold, best, matching.NO_PASS_SCORE)
        q = qmax.shape[0]
        j = np.minimum(block.sizes, q)
        if m is not None:
            j = np.minimum(j, m)
        # Sum of the j largest per-query-photo maxima; only articles with j < q need a sort.
        row_sum = qmax.sum(axis=0, dtype=np.float64)
        part = np.flatnonzero(j < q)
        if part.size:
            ranked = -np.sort(-qmax[:, part].astype(np.float64), axis=0)
            row_sum[part] = np.cumsum(ranked, axis=0)[j[part] - 1, np.arange(part.size)]
        bound = row_sum / j
        # The column bound applies when every candidate photo is in the scored pairs.
        col_ok = j == block.sizes
        if np.any(col_ok):
            colsum = block.seg_sum(block.G.max(axis=0))
            bound = np.where(col_ok, np.minimum(bound, colsum / block.sizes), bound)
        return np.minimum(bound, best)

    def _score_block(
        self,
        method: str,
        query: ResolvedQuery,
        block: Block,
        allowed: np.ndarray,
        k: int,
        threshold: float | None,
        m: int | None,
    ) -> TopK:
        """(global article ids, scores, number scored exactly) of the top k of a block."""
        ok = allowed[block.arts]
        if block.G.shape[1] == 0:
            return block.arts[:0], np.zeros(0), 0
        if method == "max":
            return self._score_max(block, ok, k)
        qmax = block.seg_max(block.G)  # [q, a]
        if method == "greedy":
            return self._score_greedy(block, ok, qmax, k, threshold, m)
        if method == "hungarian":
            return self._score_hungarian(block, ok, qmax, k, threshold, m)
        return self._score_ordered(query, block, ok, qmax, k, threshold, m)

    @staticmethod
    def _score_max(block: Block, ok: np.ndarray, k: int) -> TopK:
        """The best single pair scores an article: exact for all of them at once, no bounds needed."""
        scores = block.seg_max(block.G.max(axis=0)).astype(np.float64)
        local = np.flatnonzero(ok)
        ids, sc = top_k(local, scores[ok], k, block.arts[local])
        return block.arts[ids], sc, int(ok.sum())

    def _score_greedy(
        self, block: Block, ok: np.ndarray, qmax: np.ndarray, k: int, threshold: float | None, m: int | None
    ) -> TopK:
        ub = np.where(ok, self._bounds(block, qmax, threshold, m), -np.inf)

        def exact(local: np.ndarray) -> np.ndarray:
            return _greedy_exact(block, local, threshold, m)

        ids, sc, n = refine(ub, exact, k, self._batch(max(256, 8 * k)), block.arts)
        return block.arts[ids], sc, n

    def _score_hungarian(
        self, block: Block, ok: np.ndarray, qmax: np.ndarray, k: int, threshold: float | None, m: int | None
    ) -> TopK:
        def exact(local: np.ndarray) -> np.ndarray:
            return np.array(
                [hungarian_score(block.G[:, block.columns(i)], threshold, m) for i in local.tolist()]
            )

        ub = np.where(ok, self._bounds(block, qmax, threshold, m), -np.inf)
        ids, sc, n = refine(ub, exact, k, self._batch(max(32, 2 * k)), block.arts)
        return block.arts[ids], sc, n

    def _score_ordered(
        self,
        query: ResolvedQuery,
        block: Block,
        ok: np.ndarray,
        qmax: np.ndarray,
        k: int,
        threshold: float | None,
        m: int | None,
    ) -> TopK:
        how, view_picks, shared = self._ordered_views(query, block)
        if how == "greedy":
            # No query photo has a view tag that any catalog photo has, so no article shares one: greedy
            # for all, exactly as matching.ordered falls back.
            return self._score_greedy(block, ok, qmax, k, threshold, m)
        if how == "views":
            return self._score_by_views(block, ok, qmax, view_picks, shared, k, threshold, m)
        # A view repeats in the query: exact matching.ordered per article, bounded by the best pair.
        best = qmax.max(axis=0).astype(np.float64)
        ub = best if threshold is None else np.where(best >= threshold, best, matching.NO_PASS_SCORE)
        ub = np.where(ok, ub, -np.inf)

        def exact(local: np.ndarray) -> np.ndarray:
            return np.array([self._ordered_one(query, block, i, threshold, m).score for i in local.tolist()])

        ids, sc, n = refine(ub, exact, k, self._batch(max(64, 4 * k)), block.arts)
        return block.arts[ids], sc, n

    def _score_by_views(
        self,
        block: Block,
        ok: np.ndarray,
        qmax: np.ndarray,
        view_picks: np.ndarray,
        shared: np.ndarray,
        k: int,
        threshold: float | None,
        m: int | None,
    ) -> TopK:
        """Ordered when each view is once in the query: the articles that share a view score by their views'
        picks (exact already), the others fall back to greedy."""
        view_scores = scores_from_picks(view_picks, threshold, m)
        ub = np.where(shared, view_scores, self._bounds(block, qmax, threshold, m))
        ub = np.where(ok, ub, -np.inf)

        def exact(local: np.ndarray) -> np.ndarray:
            out = view_scores[local].copy()
            fallback = ~shared[local]
            if fallback.any():
                out[fallback] = _greedy_exact(block, local[fallback], threshold, m)
            return out

        ids, sc, n = refine(ub, exact, k, self._batch(max(256, 8 * k)), block.arts)
        return block.arts[ids], sc, n

    def _ordered_views(
        self, query: ResolvedQuery, block: Block
    ) -> tuple[str, np.ndarray | None, np.ndarray | None]:
        """How `matching.ordered` goes for this query over a block: ("greedy", None, None) when no query photo
        has a view tag any catalog photo has; ("views", picks, shared) when each view is once in the query:
        per article the best similarity of each view both share, descending ([a, t], -inf padded), and
        whether it shares any (else it falls back to greedy); ("loop", None, None) when a view repeats."""
        codes = self._codes_of(block)
        q_codes = np.array([-1 if v is None else self._view_vocab.get(v, -2) for v in query.views])
        tagged = q_codes[q_codes >= 0]
        if tagged.size == 0:
            return "greedy", None, None
        if np.unique(tagged).size != tagged.size:
            return "loop", None, None
        # Each view once in the query: the within-view greedy of a view is its best photo's similarity.
        cols = np.flatnonzero(q_codes >= 0)
        per_view = np.empty((cols.size, block.arts.size), dtype=np.float32)
        for t, j in enumerate(cols.tolist()):
            per_view[t] = block.seg_max(np.where(codes == q_codes[j], block.G[j], -np.inf))
        return "views", -np.sort(-per_view.T, axis=1), np.isfinite(per_view).any(axis=0)

    def _ordered_one(
        self, query: ResolvedQuery, block: Block, i: int, threshold: float | None = None, m: int | None = None
    ) -> matching.MatchResult:
        """`matching.ordered` of the query with block article i (any query views)."""
        a = int(block.arts[i])
        views_b = self.av.views[int(self.offsets[a]) : int(self.offsets[a + 1])]
        return matching.ordered(block.G[:, block.columns(i)], query.views, views_b, threshold, m)

    def _centroid_top(
        self, query: ResolvedQuery, arts: np.ndarray | None, allowed: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        qc = query.vectors.astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(qc)
        ids = np.flatnonzero(allowed) if arts is None else arts[allowed[arts]]
        if norm < 1e-12:
            scores = np.zeros(ids.size)  # query photos that cancel out: no direction, "unrelated"
        else:
            qc32 = (qc / norm).astype(np.float32)
            C = self.centroids
            if arts is None and ids.size > self.n_articles // 2:
                # Multiply all rows (no gather copy) and select afterwards: cheaper for wide searches.
                scores = products(C, None, qc32[:, None])[0].astype(np.float64)[ids]
            else:
                scores = (np.asarray(C[ids], dtype=np.float32) @ qc32).astype(np.float64)
        top, sc = top_k(ids, scores, k)
        return top, sc, int(ids.size)

    def _picks_of(self, qry: ResolvedQuery, block: Block, method: str) -> np.ndarray:
        """What `SearchIndex.picks` returns for every article of a block (before the filter)."""
        how, view_picks, shared = (
            ("greedy", None, None) if method != "ordered" else self._ordered_views(qry, block)
        )
        if method == "hungarian":
            chosen = hungarian_picks(block)
        elif how == "loop":
            chosen = np.full((block.arts.size, qry.vectors.shape[0]), -np.inf, dtype=np.float32)
            for i in range(block.arts.size):
                sims = [p.sim for p in self._ordered_one(qry, block, i).pairs]
                chosen[i, : len(sims)] = sims
        else:
            chosen = greedy_picks(block)
            if how == "views":  # the articles that share a view take their views' picks
                width = max(chosen.shape[1], view_picks.shape[1])
                chosen = np.pad(chosen, ((0, 0), (0, width - chosen.shape[1])), constant_values=-np.inf)
                chosen[shared, : view_picks.shape[1]] = view_picks[shared]
                chosen[shared, view_picks.shape[1] :] = -np.inf
        return chosen
