"""Find the articles most similar to a query, over all articles of an `ArticleVectors`, fast and exactly.

A query is one catalog article, several articles whose photos are pooled into one query set, or raw
vectors [q, D] of photos that are not in the catalog. Every catalog photo is compared with every query photo
once (one matrix product, in row chunks); per-article results then come from numpy reductions instead of
a Python loop over articles. For those, the similarity columns are laid out with articles grouped by photo
count, so that "the maximum over each article's photos" is a reshape to [.., articles, n] and one `max`
per distinct count (several times faster than `np.maximum.reduceat`, which pays a call per article).

- ``max`` (best pair) and ``centroid`` (one product with the cached normalised article centroids) are
  computed exactly for every article.
- ``greedy``, ``hungarian`` and ``ordered`` rank the articles by an upper bound of their score and score
  them exactly in that order (greedy vectorised over a shortlist, hungarian per article), stopping once the
  next bound is below the K-th exact score: nothing unscored can then enter the top K, so the result equals
  an exhaustive search. The bound: a matching of k pairs uses k distinct query photos and k distinct
  candidate photos, so its mean is at most the mean of the k largest per-query-photo maxima, and at most
  the mean of the per-candidate-photo maxima when every candidate photo is used; with a threshold s the mean
  of the passing pairs is at most the best pair. For ``ordered`` with every view once in the query, the
  same-view scores are themselves per-article maxima, so only articles sharing no view (which fall back to
  greedy, like `matching.ordered`) need the bound.

A candidate stage can come first (mode "candidates"): the nearest catalog photos of each query photo, whose
articles are then scored exactly. For a catalog with a persisted graph index (`ann.py`, from 50,000
photos) the neighbours come from the graph, re-scored in the full vectors, and mode "auto" uses the stage
for every method; otherwise they come from a chunked exhaustive product with argpartition, and "auto" uses
the stage beyond `candidate_stage_above` articles (20,000) or whenever the exhaustive similarity matrix
would exceed `exact_memory_limit` bytes. Under a narrow filter (fewer than a quarter of the articles
allowed), scoring just the allowed articles is exact and cheaper. The stage is approximate;
`evaluate.candidate_recall` measures what it loses against the exhaustive search (mode "exact"): recall@10 1.000 for
every method at 1,000,000 photos (benchmarks/search_latency.py).

Filters (labels, folders, left-out articles) are in `search_filters.py`; scoring a block by each method is in `block_scoring.py`; its numeric kernels (similarity blocks, vectorised
greedy, bounds and refinement) in `set_scores.py`.

Scores, edge cases and tie rules follow `desktop_app.core.matching`; equal scores are ordered by article
index, so results are deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core import matching
from desktop_app.core.block_scoring import BlockScoring, ResolvedQuery
from desktop_app.core.errors import UserError
from desktop_app.core.search_filters import Filters
from desktop_app.core.set_scores import Block, normalise, products
from desktop_app.core.vectors import ArticleVectors

SEARCH_MODES: tuple[str, ...] = ("auto", "exact", "candidates")
KEEP_BLOCK_BYTES = 64 << 20  # the last whole-catalog block of similarities is kept up to this size


@dataclass(frozen=True)
class HitPair:
    """One matched photo pair of a hit, mapped to catalog rows and paths for display."""

    query_row: int  # global catalog row of the query photo, or its index in raw query vectors
    row: int  # global catalog row of the candidate photo
    sim: float
    rank: int
    used: bool
    reason: str
    query_path: str | None  # None for raw query vectors
    path: str


@dataclass
class SearchHit:
    """One result article."""

    article: str
    index: int
    score: float
    method: str
    pairs: list[HitPair] = field(default_factory=list)  # empty for centroid
    passed: int = 0
    fallback: str | None = None  # "greedy" when ordered found no common view


@dataclass
class SearchResult:
    """The top-K hits, best first, and how they were found."""

    hits: list[SearchHit]
    method: str
    k: int
    mode: str  # "exact" or "candidates": the mode actually used
    n_query_photos: int
    n_considered: int  # articles that passed the filters and, in candidate mode, the candidate stage
    n_exact: int  # articles whose set score was computed exactly
    elapsed_ms: float
    ranked: list[int] | None = None  # the ranking alone (search(..., ranking_only=True)): no hits are made

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    @property
    def indices(self) -> list[int]:
        return self.ranked if self.ranked is not None else [h.index for h in self.hits]


class SearchIndex(Filters, BlockScoring):
    """Search over one `ArticleVectors`; caches what does not depend on the query."""

    def __init__(
        self,
        vectors: ArticleVectors,
        *,
        candidate_stage_above: int = 20_000,
        exact_memory_limit: int = 1 << 29,
    ) -> None:
        """`candidate_stage_above`: in mode "auto", larger catalogs use the candidate stage.

        `exact_memory_limit`: bytes the exhaustive [query photos x catalog photos] matrix may take (it
        exists twice briefly) before mode "auto" switches to the candidate stage, which needs far less.
        """
        self.av = vectors
        self.candidate_stage_above = candidate_stage_above
        self.exact_memory_limit = exact_memory_limit
        V = vectors.vectors
        if V.dtype not in (np.float32, np.float16) or not V.flags.c_contiguous:
            V = np.ascontiguousarray(V, dtype=np.float32)
        # float16 (a memory-mapped vector store) stays float16: products convert a chunk at a time.
        self.V = V
        self.offsets = np.asarray(vectors.offsets, dtype=np.int64)
        self.sizes = np.diff(self.offsets)
        self.nonempty = self.sizes > 0
        self._centroids: np.ndarray | None = None
        self._view_codes: np.ndarray | None = None
        self._view_vocab: dict[str, int] = {}
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._layout_codes: np.ndarray | None = None
        self._last_block: tuple[np.ndarray, Block] | None = None  # (query photos, block): see _catalog_block
        # Size of the first exactly scored shortlist (None: per-method default); tests set 1 so that the
        # bound-pruned paths go through many rounds on small catalogs.
        self.refine_first_batch: int | None = None

    # ----- cached per-catalog data -------------------------------------------------------------------

    @property
    def n_articles(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def centroids(self) -> np.ndarray:
        """[A, D] normalised mean vectors (zero rows for empty articles): the vector store's, or computed
        once (float32)."""
        if self._centroids is None and self.av.centroids is not None:
            self._centroids = self.av.centroids
        if self._centroids is None:
            A, D = self.n_articles, self.V.shape[1]
            C = np.zeros((A, D), dtype=np.float32)
            ne = np.flatnonzero(self.nonempty)
            if ne.size:
                # Offsets are exactly the row pointers of an [A, P] 0/1 membership matrix, so the sums
                # are one sparse product (~80x faster than np.add.reduceat over 512 columns).
                from scipy import sparse

                P = self.V.shape[0]
                member = sparse.csr_matrix(
                    (np.ones(P, dtype=np.float32), np.arange(P), self.offsets), shape=(A, P)
                )
                sums = np.asarray(member @ np.asarray(self.V, dtype=np.float32))
                C[ne] = normalise(sums[ne] / self.sizes[ne][:, None])
            self._centroids = C
        return self._centroids

    @property
    def view_codes(self) -> np.ndarray:
        """[P] int32 code of each photo's view tag, -1 for none."""
        if self._view_codes is None:
            vocab: dict[str, int] = {}
            codes = np.fromiter(
                (-1 if v is None else vocab.setdefault(v, len(vocab)) for v in self.av.views),
                dtype=np.int32,
                count=len(self.av.views),
            )
            self._view_vocab = vocab
            self._view_codes = codes
        return self._view_codes

    def layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(articles, sizes, rows) of the exhaustive search layout: non-empty articles by photo count."""
        if self._layout is None:
            ne = np.flatnonzero(self.nonempty)
            arts = ne[np.argsort(self.sizes[ne], kind="stable")]
            self._layout = (arts, self.sizes[arts], self._rows_of(arts))
        return self._layout

    def _rows_of(self, arts: np.ndarray) -> np.ndarray:
        sizes = self.sizes[arts]
        local = (np.cumsum(sizes) - sizes).astype(np.int64)
        return np.repeat(self.offsets[arts] - local, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)

    def prepare(self, methods: Iterable[str] = matching.METHODS) -> None:
        """Build caches ahead of the first query (layout, centroids, views)."""
        methods = tuple(methods)
        self.layout()
        if "centroid" in methods:
            _ = self.centroids
        if "ordered" in methods:
            _ = self.view_codes

    def set_labels(self, labels: Sequence[dict[str, str]]) -> None:
        """Labels changed in the catalog: use these (one dict per article) for results and label filters."""
        self.av.labels = list(labels)
        self._masks = {k: v for k, v in self._masks.items() if not k[0].startswith("label:")}

    # ----- query -------------------------------------------------------------------------------------

    def _resolve(self, query: Any, query_views: Sequence[str | None] | None) -> ResolvedQuery:
        if isinstance(query, np.ndarray) and query.dtype.kind == "f":
            return self._resolve_vectors(query, query_views)
        items = [query] if isinstance(query, (int, np.integer, str)) else list(query)
        return self._resolve_articles(items)

    def _resolve_vectors(self, query: np.ndarray, query_views: Sequence[str | None] | None) -> ResolvedQuery:
        """A query of photo vectors (outside photos, words): compared as given, no article left out."""
        vecs = np.atleast_2d(query)
        if vecs.ndim != 2 or vecs.shape[1] != self.V.shape[1]:
            raise ValueError(f"Query vectors must be [q, {self.V.shape[1]}].")
        if vecs.shape[0] == 0:
            raise UserError("The query has no photo vectors.")
        views = list(query_views) if query_views is not None else [None] * vecs.shape[0]
        if len(views) != vecs.shape[0]:
            raise ValueError("query_views must have one entry per query vector.")
        return ResolvedQuery(normalise(vecs), None, [], views)

    def _resolve_articles(self, items: Sequence[Any]) -> ResolvedQuery:
        """A query of catalog articles (ids or indices, each once): their photos pooled."""
        arts: list[int] = []
        for it in items:
            a = self.av.article_index(it) if isinstance(it, str) else int(it)
            if not 0 <= a < self.n_articles:
                raise IndexError(f"Article index {a} is out of range.")
            if a not in arts:
                arts.append(a)
        if not arts:
            raise UserError("The query names no article.")
        rows = np.concatenate([np.arange(self.offsets[a], self.offsets[a + 1]) for a in arts])
        if rows.size == 0:
            raise UserError("The query article has no embedded photos; embed its photos first.")
        views = [self.av.views[r] for r in rows.tolist()]
        return ResolvedQuery(np.asarray(self.V[rows], dtype=np.float32), rows, arts, views)

    # ----- blocks of similarities ---------------------------------------------------------------------

    def _block(self, qT: np.ndarray, arts: np.ndarray | None) -> Block:
        """Similarities with the photos of `arts` (None: every non-empty article)."""
        if arts is None:
            arts, sizes, rows = self.layout()
            # One pass over the catalog in storage order (no gather of V), then the 4-byte results are
            # permuted into the size-grouped layout, which is cheap next to the product.
            G = np.take(products(self.V, None, qT), rows, axis=1)
            return Block(G, arts, sizes, rows)
        arts = np.asarray(arts, dtype=np.int64)
        arts = arts[np.lexsort((arts, self.sizes[arts]))]
        rows = self._rows_of(arts)
        return Block(products(self.V, rows, qT), arts, self.sizes[arts], rows)

    def _catalog_block(self, qT: np.ndarray) -> Block:
        """The similarities of these query photos with the whole catalog; the last block is kept while it is
        small, because the same query often comes again under another method, s or m (an evaluation's
        settings, `tune`'s grid, a curator switching methods) and the product is most of a search. A query
        of its first photos (an evaluation's single-photo baseline) takes the first rows of it."""
        kept = self._last_block
        if kept is not None:
            kept_qT, block = kept
            n = qT.shape[1]
            prefix = kept_qT.shape[0] == qT.shape[0] and n <= kept_qT.shape[1]
            if prefix and np.array_equal(kept_qT[:, :n], qT):
                if n == kept_qT.shape[1]:
                    return block
                return Block(block.G[:n], block.arts, block.sizes, block.rows)
        block = self._block(qT, None)
        self._last_block = (qT.copy(), block) if block.G.nbytes <= KEEP_BLOCK_BYTES else None
        return block

    def _codes_of(self, block: Block) -> np.ndarray:
        """View code of every column of a block."""
        codes = self.view_codes
        if self._layout is not None and block.rows is self._layout[2]:
            if self._layout_codes is None:
                self._layout_codes = codes[block.rows]
            return self._layout_codes
        return codes[block.rows]

    # ----- candidate stage ----------------------------------------------------------------------------

    def _auto_candidates(self, method: str, qry: ResolvedQuery) -> bool:
        """Whether mode "auto" runs the candidate stage for this query (see the module docstring)."""
        if self.av.ann is not None:
            return True  # a large catalog with its graph index: the candidate stage for every method
        if method == "centroid":
            return False  # one product with A centroids is already cheaper than any photo k-NN
        if self.n_articles > self.candidate_stage_above:
            return True
        return qry.vectors.shape[0] * self.V.shape[0] * 4 > self.exact_memory_limit

    def knn_rows(self, qv: np.ndarray, per_photo: int) -> np.ndarray:
        """The `per_photo` catalog rows nearest to each query vector (union, sorted, unique)."""
        P = self.V.shape[0]
        per_photo = min(per_photo, P)
        if per_photo <= 0:
            return np.zeros(0, dtype=np.int64)
        if self.av.ann is not None:
            return self.av.ann.knn_rows(self.V, self.av.rows_of_ids, qv, per_photo)
        # A chunked product, keeping only the best `per_photo` rows of each query photo so far, so
        # memory stays at one block plus the shortlist however large the catalog is.
        qT = np.ascontiguousarray(qv.T)
        block_rows = max(1 << 16, per_photo)
        best_rows = np.zeros((qv.shape[0], 0), dtype=np.int64)
        best_sims = np.zeros((qv.shape[0], 0), dtype=np.float32)
        for s in range(0, P, block_rows):
            e = min(s + block_rows, P)
            G = products(self.V[s:e], None, qT)
            sims = np.concatenate([best_sims, G], axis=1)
            rows = np.concatenate([best_rows, np.broadcast_to(np.arange(s, e), G.shape)], axis=1)
            if sims.shape[1] > per_photo:
                part = np.argpartition(-sims, per_photo - 1, axis=1)[:, :per_photo]
                best_sims = np.take_along_axis(sims, part, axis=1)
                best_rows = np.take_along_axis(rows, part, axis=1)
            else:
                best_sims, best_rows = sims, rows
        return np.unique(best_rows)

    def candidate_articles(self, qv: np.ndarray, k: int, per_photo: int | None = None) -> np.ndarray:
        """Articles owning the nearest photos of the query photos: the candidate stage's shortlist."""
        if per_photo is None:
            # Enough neighbours that a top-K article's photos are very likely among them even when its
            # photos are spread out; measured by evaluate.candidate_recall on clustered data.
            per_photo = max(200, 25 * k)
        rows = self.knn_rows(qv, per_photo)
        return np.unique(self.av.article_of_row[rows])

    # ----- public API ---------------------------------------------------------------------------------

    def search(
        self,
        query: int | str | Sequence[int | str] | np.ndarray,
        method: str = "greedy",
        k: int = 10,
        *,
        threshold: float | None = None,
        max_matches: int | None = None,
        label: Mapping[str, str] | tuple[str, str] | str | None = None,
        folder: str | None = None,
        exclude: Iterable[int] = (),
        query_views: Sequence[str | None] | None = None,
        n_pairs: int | None = 3,
        mode: str = "auto",
        per_photo: int | None = None,
        ranking_only: bool = False,
    ) -> SearchResult:
        """The k articles most similar to `query` by `method`, best first.

        query: an article index or id, a sequence of them (their photos pooled into one query set), or
            float vectors [q, D] / [D] of photos outside the catalog (`query_views` may tag them).
        threshold, max_matches: s and m of `desktop_app.core.matching` (pair methods only).
        label: only articles whose labels match: {"field": "value"}, ("field", "value") or "field=value".
        folder: only articles whose id or a photo path lies under this folder (whole path components).
        exclude: further article indices to leave out (the query's own articles always are).
        n_pairs: pairs reported per hit, in choice order (None: all).
        mode: "exact" (exhaustive), "candidates" (nearest-photo shortlist first, approximate) or "auto"
            (candidates above `candidate_stage_above` articles or when the exhaustive matrix would exceed
            `exact_memory_limit`, unless a filter leaves under a quarter of the articles; otherwise exact).
        per_photo: nearest photos per query photo in the candidate stage (default max(200, 25 k)).
        ranking_only: the ranked article indices alone (`SearchResult.indices`), no hits: an evaluation ranks
            every article of the catalog, and making a hit of each took half of its time.
        """
        t0 = time.perf_counter()
        if method not in matching.METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(matching.METHODS)}.")
        if mode not in SEARCH_MODES:
            raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}.")
        matching.check_options(threshold, max_matches)
        qry = self._resolve(query, query_views)
        allowed = self._allowed(label, folder, exclude, qry.articles)
        narrow = int(allowed.sum()) < self.n_articles // 4
        use_candidates = mode == "candidates" or (
            mode == "auto" and not narrow and self._auto_candidates(method, qry)
        )
        arts: np.ndarray | None = None
        if use_candidates:
            # A catalog query finds its own photos first; ask for that many more so they cost no recall.
            own = 0 if qry.rows is None else int(qry.rows.size)
            per = max(200, 25 * k) if per_photo is None else per_photo
            arts = self.candidate_articles(qry.vectors, k, per + own)
            arts = arts[allowed[arts]]
        block: Block | None = None
        if method == "centroid":
            ids, scores, n_exact = self._centroid_top(qry, arts, allowed, k)
            n_considered = n_exact
        else:
            if arts is None and int(allowed.sum()) < self.n_articles // 4:
                # A narrow filter: multiply just the allowed articles' photos instead of the catalog.
                arts = np.flatnonzero(allowed)
            qT = np.ascontiguousarray(qry.vectors.T)
            block = self._catalog_block(qT) if arts is None else self._block(qT, arts)
            n_considered = int(allowed[block.arts].sum())
            ids, scores, n_exact = self._score_block(method, qry, block, allowed, k, threshold, max_matches)
        ranked = ids.tolist() if ranking_only else None
        hits = (
            []
            if ranking_only
            else [
                self._hit(method, qry, block, a, s, n_pairs, threshold, max_matches)
                for a, s in zip(ids.tolist(), scores.tolist())
            ]
        )
        return SearchResult(
            ranked=ranked,
            hits=hits,
            method=method,
            k=k,
            mode="candidates" if use_candidates else "exact",
            n_query_photos=int(qry.vectors.shape[0]),
            n_considered=n_considered,
            n_exact=n_exact,
            elapsed_ms=(time.perf_counter() - t0) * 1e3,
        )

    def picks(
        self,
        query: int | str | Sequence[int | str] | np.ndarray,
        method: str,
        *,
        exclude: Iterable[int] = (),
        query_views: Sequence[str | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For one pair method ("greedy", "hungarian", "ordered"), every article but the query's and
        `exclude`, and the similarities its matching with the query chooses: (article indices [a], picks
        [a, k] float32, descending, -inf padded). The matching does not depend on s and m, so
        `set_scores.scores_from_picks(picks, s, m)` is the exact score under any of them: an evaluation of
        many settings matches once per query and method instead of once per setting."""
        if method not in ("greedy", "hungarian", "ordered"):
            raise ValueError(f"{method!r} does not match pairs; picks are for greedy, hungarian and ordered.")
        qry = self._resolve(query, query_views)
        allowed = self._allowed(None, None, exclude, qry.articles)
        block = self._catalog_block(np.ascontiguousarray(qry.vectors.T))
        chosen = self._picks_of(qry, block, method)
        local = np.flatnonzero(allowed[block.arts])
        return block.arts[local], chosen[local]

    def _hit(
        self,
        method: str,
        qry: ResolvedQuery,
        block: Block | None,
        a: int,
        score: float,
        n_pairs: int | None,
        threshold: float | None,
        m: int | None,
    ) -> SearchHit:
        if method == "centroid" or block is None or n_pairs == 0:
            # A centroid score has no pairs; the inspector compares the photos itself if it wants to.
            # n_pairs=0 (evaluation, label votes) skips re-running the matching just to list pairs.
            return SearchHit(self.av.articles[a], a, score, method)
        # The pairs come from the very similarities that ranked the hit, so a second product's rounding
        # can never make them disagree with the score.
        i = int(np.flatnonzero(block.arts == a)[0])
        S = block.G[:, block.columns(i)]
        r0 = int(self.offsets[a])
        views_b = self.av.views[r0 : r0 + S.shape[1]]
        res = matching.match(method, S, qry.views, views_b, threshold, m)
        out: list[HitPair] = []
        for p in res.pairs if n_pairs is None else res.pairs[:n_pairs]:
            from_catalog = qry.rows is not None
            qrow = int(qry.rows[p.row]) if qry.rows is not None else p.row
            row = r0 + p.col
            out.append(
                HitPair(
                    query_row=qrow,
                    row=row,
                    sim=p.sim,
                    rank=p.rank,
                    used=p.used,
                    reason=p.reason,
                    query_path=self.av.paths[qrow] if from_catalog else None,
                    path=self.av.paths[row],
                )
            )
        return SearchHit(self.av.articles[a], a, score, method, out, res.passed, res.fallback)
