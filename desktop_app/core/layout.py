"""2-D layouts of a catalog's articles (the catalog map): computing one, placing new articles on it, and
measuring how well it keeps each article's neighbours.

An article is one point: the normalised mean of its photo vectors (the search index's centroids, adapted
when an adapter is on). Similar articles should land together, so the layout is a neighbour embedding:
t-SNE with openTSNE's FFT-accelerated gradients (the optional `map` extra), on exact cosine neighbours
computed here in chunks (so the slow part reports progress and can be cancelled). Large catalogs are laid
out on a sample and the rest placed among their nearest sampled neighbours, which is also how articles
indexed after a layout was computed join it without a full recompute. PCA to 2-D needs only NumPy; it is
the floor every method is compared with (`benchmarks/map_bench.py`).

Qt-free; long functions take `progress(done, total, note)` and `should_cancel()`.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from desktop_app.core.errors import InputError

Progress = Callable[[int, int, str], None]
ShouldCancel = Callable[[], bool]

METHODS = ("tsne", "pca")
METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA"}
DEFAULT_METHOD = "tsne"
INSTALL_HINT = "pip install 'lookalike[map]'"
PERPLEXITY = 30.0
NEIGHBOURS_PER_PERPLEXITY = 3  # affinities use 3 x perplexity neighbours (openTSNE's own rule)
REDUCED_DIM = 50  # t-SNE's neighbours and start are found in the top principal components
EARLY_ITER = 250
MAIN_ITER = 500
FFT_CELL = 2.0  # openTSNE's ints_in_interval (its default is 1)
SAMPLE_ABOVE = 40_000  # larger catalogs: t-SNE on a sample this size, the rest placed among it
PLACE_K = 5  # a placed article sits among this many nearest laid-out articles
# Articles indexed after a layout join it by `place`, which keeps the layout's structure but cannot make a new
# one: a layout made while a fifth of today's articles were not indexed yet (a first look during indexing, a
# large import since) no longer shows the catalog, so it is computed afresh instead.
RELAYOUT_SHARE = 0.2
CHUNK = 2048  # rows per similarity block: 2048 x 250,000 float32 = 2 GB would be too much, so capped below
MAX_BLOCK_BYTES = 256 << 20
PROGRESS_TOTAL = 1000  # progress is reported in thousandths of the whole job


class Cancelled(Exception):
    """The caller cancelled the layout; nothing was stored."""


@dataclass
class MapLayout:
    """Where each article is on the map, and how the layout was made.

    articles: A article ids; xy: float32 [A, 2] positions (the layout's own units, centred on 0);
    placed: bool [A], True for articles placed among the others (`place`) rather than laid out by the
    method itself: the sampled-out part of a large catalog, and articles indexed after the computation.
    joined: bool [A], True for the latter only (articles that joined the layout after it was computed).
    info: method, seconds, n, created_at, updated_at.
    """

    articles: list[str]
    xy: np.ndarray
    method: str
    info: dict = field(default_factory=dict)
    model_id: str = ""
    adapter_id: int | None = None
    placed_mask: np.ndarray | None = None
    joined_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xy = np.ascontiguousarray(self.xy, dtype=np.float32).reshape(-1, 2)
        if len(self.articles) != self.xy.shape[0]:
            raise ValueError(f"{len(self.articles)} articles but {self.xy.shape[0]} positions")
        if self.placed_mask is None:
            self.placed_mask = np.zeros(len(self.articles), dtype=bool)
        self.placed_mask = np.asarray(self.placed_mask, dtype=bool).reshape(-1)
        if self.joined_mask is None:
            self.joined_mask = np.zeros(len(self.articles), dtype=bool)
        self.joined_mask = np.asarray(self.joined_mask, dtype=bool).reshape(-1)

    def __len__(self) -> int:
        return len(self.articles)

    @property
    def digest(self) -> str:
        return articles_digest(self.articles)

    @property
    def placed(self) -> int:
        """Articles placed among the others rather than laid out by the method itself."""
        return int(self.placed_mask.sum())

    @property
    def joined(self) -> int:
        """Articles placed on the layout after it was computed (indexed since)."""
        return int(self.joined_mask.sum())

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.articles)}

    def to_bytes(self) -> bytes:
        """An .npz of the positions and the article ids (UTF-8, NUL-separated: ids are paths, never NUL)."""
        buf = io.BytesIO()
        names = np.frombuffer("\0".join(self.articles).encode("utf-8"), dtype=np.uint8)
        np.savez_compressed(buf, xy=self.xy, articles=names, placed=self.placed_mask, joined=self.joined_mask)
        return buf.getvalue()

    @classmethod
    def from_bytes(
        cls, data: bytes, method: str, info: dict, model_id: str = "", adapter_id: int | None = None
    ) -> MapLayout:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            xy = z["xy"]
            raw = z["articles"].tobytes().decode("utf-8")
            placed = z["placed"] if "placed" in z.files else None
            joined = z["joined"] if "joined" in z.files else None
        if joined is None and placed is not None and "sample" not in info:
            joined = placed  # stored before joined was: without a sample, every placed article joined later
        articles = raw.split("\0") if raw or len(xy) else []
        return cls(articles, xy, method, info, model_id, adapter_id, placed, joined)


def articles_digest(articles: Sequence[str]) -> str:
    """Which articles a layout covers, as one short hash (order does not matter)."""
    h = hashlib.sha1()
    for a in sorted(articles):
        h.update(a.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def have_tsne() -> bool:
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return False
    return True


def check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(f"Unknown map method {method!r}; choose from {', '.join(METHODS)}.")
    if method == "tsne" and not have_tsne():
        raise InputError(
            f"The catalog map's t-SNE layout needs openTSNE, which is not installed: {INSTALL_HINT} "
            "(or use the coarse PCA layout: --method pca)."
        )


# ============================================================================ progress over stages


class _Stages:
    """One progress bar over several stages, each given its share of PROGRESS_TOTAL."""

    def __init__(
        self, progress: Progress | None, should_cancel: ShouldCancel | None, shares: dict[str, float]
    ) -> None:
        self.progress = progress
        self.should_cancel = should_cancel
        total = sum(shares.values()) or 1.0
        self.start: dict[str, float] = {}
        self.share: dict[str, float] = {}
        acc = 0.0
        for name, s in shares.items():
            self.start[name], self.share[name] = acc / total, s / total
            acc += s

    def report(self, stage: str, done: float, total: float, note: str) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled()
        if self.progress is None:
            return
        frac = self.start[stage] + self.share[stage] * (done / total if total else 1.0)
        self.progress(int(round(frac * PROGRESS_TOTAL)), PROGRESS_TOTAL, note)

    def reporter(self, stage: str, note: str) -> Callable[[float, float], None]:
        return lambda done, total: self.report(stage, done, total, note)


# ============================================================================ linear algebra


def pca(X: np.ndarray, dim: int) -> np.ndarray:
    """The data's coordinates on its top `dim` principal components (float32 [N, dim])."""
    X = np.asarray(X, dtype=np.float32)
    n, d = X.shape
    dim = max(1, min(dim, d, n))
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    if d <= n:
        # The D x D scatter matrix is one product (cheap for D = 1280); its eigenvectors are the components.
        scatter = X.T @ X - n * np.outer(mean, mean)
        _, vecs = np.linalg.eigh(scatter.astype(np.float64))
        comps = vecs[:, ::-1][:, :dim].astype(np.float32)
    else:
        _, _, vt = np.linalg.svd(X - mean, full_matrices=False)  # few rows: the copy is small
        comps = vt[:dim].T.astype(np.float32)
    out = X @ comps - mean @ comps  # no centred copy of X: at 250,000 x 1280 that would be 1.3 GB
    # A component's sign is arbitrary; fix it so the same data always gives the same picture.
    signs = np.sign(out[np.abs(out).argmax(axis=0), np.arange(out.shape[1])])
    return out * np.where(signs == 0, 1, signs).astype(np.float32)


def _rows_per_block(n_cols: int) -> int:
    return int(max(64, min(CHUNK, MAX_BLOCK_BYTES // (4 * max(1, n_cols)))))


def nearest(
    Q: np.ndarray,
    X: np.ndarray,
    k: int,
    exclude_self: bool = False,
    report: Callable[[float, float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of X for each row of Q by inner product (cosine for normalised rows).

    Returns (indices [M, k], similarities [M, k]), best first. With `exclude_self`, Q is X and a row is never
    its own neighbour."""
    Q = np.asarray(Q, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    m, n = Q.shape[0], X.shape[0]
    k = min(k, n - 1 if exclude_self else n)
    idx = np.empty((m, k), dtype=np.int64)
    sim = np.empty((m, k), dtype=np.float32)
    step = _rows_per_block(n)
    XT = np.ascontiguousarray(X.T)
    for lo in range(0, m, step):
        hi = min(m, lo + step)
        S = Q[lo:hi] @ XT
        if exclude_self:
            S[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        # The k largest at the end: partitioning S itself, not a negated copy, is several times faster.
        part = np.argpartition(S, n - k, axis=1)[:, n - k :] if k < n else np.tile(np.arange(n), (hi - lo, 1))
        s = np.take_along_axis(S, part, axis=1)
        order = np.argsort(-s, axis=1, kind="stable")
        idx[lo:hi] = np.take_along_axis(part, order, axis=1)
        sim[lo:hi] = np.take_along_axis(s, order, axis=1)
        if report is not None:
            report(hi, m)
    return idx, sim


# ============================================================================ layouts


def compute_layout(
    X: np.ndarray,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
    sample_above: int = SAMPLE_ABOVE,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """A 2-D layout of the rows of X (L2-normalised article vectors): (float32 [N, 2] centred, placed [N]
    bool, info).

    Above `sample_above` rows, t-SNE lays out a random sample of that size and the others are placed
    among their nearest sampled rows (`place`)."""
    check_method(method)
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    t0 = time.perf_counter()
    info: dict = {"method": method, "n": n, "seed": seed}
    placed = np.zeros(n, dtype=bool)
    if n < 4 or method == "pca":
        xy = _tiny_layout(X) if n < 4 else pca(X, 2)
        info["seconds"] = round(time.perf_counter() - t0, 3)
        if progress is not None:
            progress(PROGRESS_TOTAL, PROGRESS_TOTAL, "done")
        return _centred(xy), placed, info
    sampled = n > sample_above
    shares = {"reduce": 2.0, "neighbours": 8.0 if not sampled else 4.0, "arrange": 20.0}
    if sampled:
        shares["place"] = 6.0
    stages = _Stages(progress, should_cancel, shares)
    stages.report("reduce", 0, 1, "preparing")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, sample_above, replace=False)) if sampled else np.arange(n)
    reduced = pca(X, REDUCED_DIM)
    stages.report("reduce", 1, 1, "preparing")
    xy_rows = tsne(X[rows], reduced[rows], seed, stages)
    if not sampled:
        xy = xy_rows
    else:
        rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
        xy = np.empty((n, 2), dtype=np.float32)
        xy[rows] = xy_rows
        xy[rest] = place(
            X[rows], xy_rows, X[rest], seed=seed, report=stages.reporter("place", "placing the rest")
        )
        placed[rest] = True
        info["sample"] = int(rows.size)
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return _centred(xy), placed, info


def tsne(X: np.ndarray, reduced: np.ndarray, seed: int, stages: _Stages) -> np.ndarray:
    """openTSNE's t-SNE (FFT-accelerated gradients from 10,000 rows, Barnes-Hut below) on exact cosine
    neighbours of X, started from the top two principal components."""
    from openTSNE import TSNEEmbedding, affinity, initialization
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = X.shape[0]
    # A small map lowers the perplexity until its neighbours fit among the other articles.
    perplexity = max(1.0, min(PERPLEXITY, (n - 1) / NEIGHBOURS_PER_PERPLEXITY))
    k = int(min(n - 1, max(3, round(NEIGHBOURS_PER_PERPLEXITY * perplexity))))
    idx, sim = nearest(X, X, k, exclude_self=True, report=stages.reporter("neighbours", "finding neighbours"))
    dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sim.astype(np.float64)))  # euclidean on the unit sphere
    jobs = max(1, min(os.cpu_count() or 1, 8))
    aff = affinity.PerplexityBasedNN(
        knn_index=PrecomputedNeighbors(idx, dist), perplexity=perplexity, n_jobs=jobs, random_state=seed
    )
    start = initialization.rescale(np.ascontiguousarray(reduced[:, :2], dtype=np.float64))
    total = EARLY_ITER + MAIN_ITER
    done = [0]

    def tick(iteration: int, _error: float, _embedding: np.ndarray) -> bool:
        stages.report("arrange", done[0] + iteration, total, "arranging (t-SNE)")
        return False

    # Above 10,000 rows openTSNE interpolates the repulsive forces on a grid whose side grows with the
    # layout's extent; with NumPy's FFT (no FFTW here) that grid is most of the time, and cells twice
    # openTSNE's default size cut it by three for a neighbour preservation 0.02 lower (25,000 articles).
    emb = TSNEEmbedding(
        start, aff, negative_gradient_method="auto", n_jobs=jobs, random_state=seed, ints_in_interval=FFT_CELL
    )
    emb = emb.optimize(EARLY_ITER, exaggeration=12, momentum=0.5, callbacks=tick, callbacks_every_iters=10)
    done[0] = EARLY_ITER
    emb = emb.optimize(MAIN_ITER, momentum=0.8, callbacks=tick, callbacks_every_iters=10)
    stages.report("arrange", total, total, "arranging (t-SNE)")
    return np.asarray(emb, dtype=np.float32)


def place(
    ref_X: np.ndarray,
    ref_xy: np.ndarray,
    new_X: np.ndarray,
    k: int = PLACE_K,
    seed: int = 0,
    report: Callable[[float, float], None] | None = None,
) -> np.ndarray:
    """Positions for new articles on an existing layout: among their k nearest laid-out articles.

    Each lands on the similarity-weighted median of its neighbours' positions (a median, so an article
    whose neighbours straddle two clusters joins one of them rather than the empty space between), nudged
    by a little of their spread so that near-duplicates do not hide each other."""
    new_X = np.asarray(new_X, dtype=np.float32)
    if new_X.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.float32)
    ref_xy = np.asarray(ref_xy, dtype=np.float32)
    if ref_xy.shape[0] == 0:
        return np.zeros((new_X.shape[0], 2), dtype=np.float32)
    idx, sim = nearest(new_X, ref_X, k, report=report)
    # The nearest neighbour counts most, sharply: weights fall off within a tenth of its cosine distance.
    # Measured on 100,000 synthetic articles (16% laid out): broad weights over 10 neighbours keep 44% of
    # the 10 nearest neighbours, these over 5 keep 59% (over 3, 61%: one outlier then moves it too far).
    d = 1.0 - sim
    w = np.exp(-(d - d[:, :1]) / np.maximum(0.1 * d[:, :1], 0.002))
    pos = ref_xy[idx]  # [M, k, 2]
    out = np.stack([_weighted_median(pos[:, :, c], w) for c in (0, 1)], axis=1)
    spread = np.median(np.abs(pos - out[:, None, :]), axis=1)
    jitter = np.random.default_rng(seed).uniform(-0.15, 0.15, size=out.shape)
    return (out + jitter * spread).astype(np.float32)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(values, axis=1)
    v = np.take_along_axis(values, order, axis=1)
    c = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    first = (c >= c[:, -1:] / 2).argmax(axis=1)
    return v[np.arange(v.shape[0]), first]


def _tiny_layout(X: np.ndarray) -> np.ndarray:
    """One to three articles: a line, in their similarity order."""
    n = X.shape[0]
    return np.stack([np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)], axis=1)


def _centred(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float32)
    return xy - xy.mean(axis=0) if xy.shape[0] else xy


# ============================================================================ measuring a layout


def neighbour_preservation(
    X: np.ndarray, xy: np.ndarray, k: int = 10, sample: int | None = 2000, seed: int = 0
) -> float:
    """Share of each article's k nearest neighbours by vector (cosine) that are also among its k nearest on
    the map, averaged over the articles (or a random sample of them)."""
    from scipy.spatial import cKDTree

    X = np.asarray(X, dtype=np.float32)
    xy = np.asarray(xy, dtype=np.float64)
    n = X.shape[0]
    if n <= k:
        return 1.0
    rows = np.arange(n)
    if sample is not None and n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    true, _ = nearest(X[rows], X, k + 1)
    _, on_map = cKDTree(xy).query(xy[rows], k + 1)
    hits = 0
    for j, r in enumerate(rows):
        want = [i for i in true[j] if i != r][:k]
        got = [i for i in on_map[j] if i != r][:k]
        hits += len(set(want) & set(got))
    return hits / (k * len(rows))


# ============================================================================ selecting on the map


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points lie inside a closed polygon (even-odd rule): bool [N]. A lasso is a few hundred vertices."""
    xy = np.asarray(xy, dtype=np.float64)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(xy.shape[0], dtype=bool)
    if poly.shape[0] < 3 or xy.shape[0] == 0:
        return inside
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
    x, y = xy[cand, 0], xy[cand, 1]
    hit = np.zeros(cand.size, dtype=bool)
    xj, yj = poly[-1]
    for xi, yi in poly:
        straddles = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = (xj - xi) * (y - yi) / (yj - yi) + xi
        hit ^= straddles & (x < cross_x)
        xj, yj = xi, yi
    inside[cand] = hit
    return inside
