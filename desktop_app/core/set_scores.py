"""The numeric kernels of set matching over a whole catalog: blocks of similarities, exact scores, bounds.

`search.SearchIndex` lays the similarities of a query's photos with many articles' photos out as a
`Block` (articles grouped by photo count, so per-article reductions are reshapes), scores them with the
vectorised greedy or per-article Hungarian matching, and finds the exact top K from upper bounds with
`refine`. Scores follow `desktop_app.core.matching`.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core import matching

# Work per matrix-product call (rows x query photos x D). The product of a few query photos with the
# catalog is bound by memory bandwidth; calls this small stay under OpenBLAS's own threading threshold, so
# its worker threads never spin against other busy processes (one big call had 1 s tails on a loaded
# 2-core machine), and our threads split the rows across cores instead.
MATMUL_CHUNK_WORK = 1 << 18
# Below this many rows one thread does the whole product (the hand-off would cost more than it saves).
PARALLEL_MIN_ROWS = 32_768
# Slack when comparing a bound with an exact score: both are float64 sums of the same float32 values, only
# summed in different orders.
BOUND_SLACK = 1e-9


def runs(sizes: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, end, n) for each run of consecutive articles with the same photo count n."""
    if sizes.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(sizes)) + 1
    edges = [0, *cuts.tolist(), int(sizes.size)]
    return [(a0, a1, int(sizes[a0])) for a0, a1 in zip(edges[:-1], edges[1:])]


@dataclass
class Block:
    """Similarities of the query with the photos of some articles; each article's columns are contiguous.

    Articles are best ordered by photo count (few runs); any order is correct.
    """

    G: np.ndarray  # [q, p] float32: query photo x catalog photo
    arts: np.ndarray  # [a] global article indices, in column order
    sizes: np.ndarray  # [a] photos per article, all >= 1
    rows: np.ndarray  # [p] global catalog row of each column
    starts: np.ndarray = field(init=False)
    runs: list[tuple[int, int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.starts = (np.cumsum(self.sizes) - self.sizes).astype(np.int64)
        self.runs = runs(self.sizes)

    def _reduce(self, x: np.ndarray, how: str, dtype: Any) -> np.ndarray:
        out = np.empty(x.shape[:-1] + (self.arts.size,), dtype=dtype)
        for a0, a1, n in self.runs:
            c0 = int(self.starts[a0])
            seg = x[..., c0 : c0 + (a1 - a0) * n].reshape(x.shape[:-1] + (a1 - a0, n))
            # n-1 elementwise passes over strided slices: numpy's reduction over a short last axis runs
            # an inner loop per output element and was ~15x slower for n <= 8.
            acc = out[..., a0:a1]
            if n > 16:  # long segments: the plain reduction is efficient, a pass per photo would not be
                acc[...] = seg.max(axis=-1) if how == "max" else seg.sum(axis=-1, dtype=np.float64)
                continue
            acc[...] = seg[..., 0]
            combine = np.maximum if how == "max" else np.add
            for i in range(1, n):
                combine(acc, seg[..., i], out=acc)
        return out

    def seg_max(self, x: np.ndarray) -> np.ndarray:
        """Per-article maximum over the last axis of x [..., p] -> [..., a]."""
        return self._reduce(x, "max", x.dtype)

    def seg_sum(self, x: np.ndarray) -> np.ndarray:
        """Per-article float64 sum over the last axis of x [..., p] -> [..., a]."""
        return self._reduce(x, "sum", np.float64)

    def columns(self, i: int) -> slice:
        s = int(self.starts[i])
        return slice(s, s + int(self.sizes[i]))

    def subset(self, local: np.ndarray) -> tuple[Block, np.ndarray]:
        """The articles `local`, regrouped by size: (block, order) with block article j = local[order[j]]."""
        order = np.argsort(self.sizes[local], kind="stable")
        picked = local[order]
        sizes = self.sizes[picked]
        new_starts = (np.cumsum(sizes) - sizes).astype(np.int64)
        cols = np.repeat(self.starts[picked] - new_starts, sizes) + np.arange(
            int(sizes.sum()), dtype=np.int64
        )
        return Block(self.G[:, cols], self.arts[picked], sizes, self.rows[cols]), order


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)


_POOL: ThreadPoolExecutor | None = None
_POOL_WORKERS = min(4, os.cpu_count() or 1)
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor | None:
    global _POOL
    if _POOL_WORKERS < 2:
        return None
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_POOL_WORKERS, thread_name_prefix="lookalike-search")
    return _POOL


def products(V: np.ndarray, rows: np.ndarray | None, qT: np.ndarray) -> np.ndarray:
    """(V[rows] @ qT).T as [q, n] float32, computed in row chunks; rows=None means all of V, no gather."""
    n = V.shape[0] if rows is None else rows.shape[0]
    d, q = qT.shape
    out = np.empty((q, n), dtype=np.float32)
    chunk = int(min(4096, max(32, MATMUL_CHUNK_WORK // max(1, q * d))))

    def run(lo: int, hi: int) -> None:
        for s in range(lo, hi, chunk):
            e = min(s + chunk, hi)
            part = V[s:e] if rows is None else V[rows[s:e]]
            if part.dtype != np.float32:  # float16 from a vector store: scores are computed in float32
                part = part.astype(np.float32)
            out[:, s:e] = (part @ qT).T

    pool = _pool() if n >= PARALLEL_MIN_ROWS else None
    if pool is None:
        run(0, n)
    else:
        # The calling thread takes the first share itself: one hand-off fewer, and it would only wait.
        edges = np.linspace(0, n, _POOL_WORKERS + 1).astype(np.int64).tolist()
        futures = [pool.submit(run, a, b) for a, b in zip(edges[1:-1], edges[2:])]
        run(edges[0], edges[1])
        for f in futures:
            f.result()
    return out


def scores_from_picks(picks: np.ndarray, threshold: float | None, max_matches: int | None) -> np.ndarray:
    """Vectorised `matching.score_chosen` over rows of chosen similarities sorted descending (-inf = none)."""
    vals = picks.astype(np.float64, copy=False)
    valid = np.isfinite(vals)
    passes = valid if threshold is None else valid & (vals >= threshold)
    used = passes if max_matches is None else passes & (np.cumsum(passes, axis=1) <= max_matches)
    count = used.sum(axis=1)
    total = np.where(used, vals, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), matching.NO_PASS_SCORE)


def greedy_picks(block: Block) -> np.ndarray:
    """The similarities greedy matching chooses for every article of a block, in choice order (never
    increasing): [a, k] float32, padded with -inf, k the most pairs any article gets. Vectorised over each
    run of equal-sized articles; `scores_from_picks` turns them into the score under any s and m."""
    G = block.G
    q = G.shape[0]
    width = min(q, int(block.sizes.max())) if block.arts.size else 0
    out = np.full((block.arts.size, width), -np.inf, dtype=np.float32)
    for a0, a1, n in block.runs:
        m = a1 - a0
        c0 = int(block.starts[a0])
        # [m, q, n] flattened per article in (query row, photo) order: argmax returns the first maximum,
        # i.e. the lowest query row, then the lowest photo: the tie rule of matching.greedy.
        X = np.ascontiguousarray(G[:, c0 : c0 + m * n].reshape(q, m, n).transpose(1, 0, 2)).reshape(m, q * n)
        X3 = X.reshape(m, q, n)
        ar = np.arange(m)
        k = min(q, n)
        picks = out[a0:a1]
        for step in range(k):
            idx = X.argmax(axis=1)
            picks[:, step] = X[ar, idx]
            if step + 1 < k:
                r, c = np.divmod(idx, n)
                X3[ar, r, :] = -np.inf
                X3[ar, :, c] = -np.inf
    return out


def greedy_scores(block: Block, threshold: float | None, max_matches: int | None) -> np.ndarray:
    """Exact greedy score of every article of a block."""
    return scores_from_picks(greedy_picks(block), threshold, max_matches)


def hungarian_sims(S: np.ndarray) -> np.ndarray:
    """The similarities of the maximum-total assignment on S (as `matching.hungarian`), descending."""
    from scipy.optimize import linear_sum_assignment  # imported when needed: the window never needs it

    S64 = S.astype(np.float64)
    r, c = linear_sum_assignment(S64, maximize=True)
    return np.sort(S64[r, c])[::-1]


def hungarian_score(S: np.ndarray, threshold: float | None, max_matches: int | None) -> float:
    """`matching.hungarian(S).score` without building Pair objects (same assignment, same value)."""
    return float(scores_from_picks(hungarian_sims(S)[None, :], threshold, max_matches)[0])


def hungarian_picks(block: Block) -> np.ndarray:
    """`greedy_picks` for the Hungarian assignment. Small articles are solved together: every one-to-one
    assignment of the smaller side is tried at once (at most ASSIGNMENTS_AT_ONCE), which is exact when
    the best total is unique; an article whose best totals tie, or a larger one, gets its own
    `linear_sum_assignment`, so the picks are always those of `matching.hungarian`."""
    q = block.G.shape[0]
    width = min(q, int(block.sizes.max())) if block.arts.size else 0
    out = np.full((block.arts.size, width), -np.inf, dtype=np.float32)
    for a0, a1, n in block.runs:
        small, large = min(q, n), max(q, n)
        if math.perm(large, small) > ASSIGNMENTS_AT_ONCE:
            for i in range(a0, a1):
                out[i, :small] = hungarian_sims(block.G[:, block.columns(i)])
            continue
        maps = _assignments(small, large)  # [P, small]
        step = max(1, (1 << 22) // (maps.size or 1))  # articles per pass: bounded memory
        for b0 in range(a0, a1, step):
            b1 = min(b0 + step, a1)
            c0 = int(block.starts[b0])
            X = block.G[:, c0 : c0 + (b1 - b0) * n].reshape(q, b1 - b0, n).transpose(1, 0, 2)  # [m, q, n]
            if q > n:
                X = X.transpose(0, 2, 1)  # rows: the smaller side
            vals = X[:, np.arange(small)[None, :], maps]  # [m, P, small]
            totals = vals.sum(axis=2, dtype=np.float64)
            best = totals.argmax(axis=1)
            ar = np.arange(b1 - b0)
            out[b0:b1, :small] = -np.sort(-vals[ar, best], axis=1)
            if maps.shape[0] > 1:
                runner_up = np.partition(totals, -2, axis=1)[:, -2]
                for i in np.flatnonzero(totals[ar, best] - runner_up <= TIE_TOTAL).tolist():
                    out[b0 + i, :small] = hungarian_sims(block.G[:, block.columns(b0 + i)])
    return out


# Assignments tried at once per article (math.perm(larger side, smaller side)): 5 x 5 photos is 120,
# 3 x 8 is 336; beyond, one linear_sum_assignment per article is cheaper.
ASSIGNMENTS_AT_ONCE = 720
TIE_TOTAL = 1e-9  # best totals closer than this count as tied (float rounding is ~1e-15 here)


@functools.lru_cache(maxsize=64)
def _assignments(small: int, large: int) -> np.ndarray:
    """Every one-to-one map of `small` items into `large` ones: [P, small] indices."""
    return np.array(list(itertools.permutations(range(large), small)), dtype=np.int64).reshape(-1, small)


def top_k(
    ids: np.ndarray, scores: np.ndarray, k: int, keys: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of parallel arrays, by score descending, then key (default: id) ascending."""
    if ids.size == 0 or k <= 0:
        return ids[:0], scores[:0]
    keys = ids if keys is None else keys
    if ids.size > k:
        kth = np.partition(scores, ids.size - k)[ids.size - k]
        keep = scores >= kth
        ids, scores, keys = ids[keep], scores[keep], keys[keep]
    order = np.lexsort((keys, -scores))[:k]
    return ids[order], scores[order]


def refine(
    ub: np.ndarray,
    exact: Callable[[np.ndarray], np.ndarray],
    k: int,
    first_batch: int,
    keys: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact top k of local items from upper bounds `ub` and a batch scorer `exact(local ids) -> scores`;
    equal scores in the order of `keys` (per local item; default: the local ids).

    Items are scored in decreasing bound order, in doubling batches; scoring stops once the best bound
    left is below the k-th exact score, since no unscored item can then enter the top k. Items with
    ub = -inf (filtered out) are never scored. Returns (ids, scores, number scored).
    """
    live = np.flatnonzero(ub > -np.inf)
    if live.size == 0 or k <= 0:
        return live[:0], np.zeros(0), 0
    batch = max(first_batch, k)
    # Usually the first shortlist settles it, so only that many bounds are selected up front.
    if live.size > batch:
        part = np.argpartition(-ub[live], batch - 1)
        head, rest = live[part[:batch]], live[part[batch:]]
    else:
        head, rest = live, live[:0]
    done_ids = [head]
    done_scores = [np.asarray(exact(head), dtype=np.float64)]

    def settled() -> bool:
        scored = np.concatenate(done_scores)
        if scored.size < k:
            return False
        kth = np.partition(scored, scored.size - k)[scored.size - k]
        return bool(ub[rest].max() < kth - BOUND_SLACK)

    if rest.size and not settled():
        order = rest[np.argsort(-ub[rest], kind="stable")]
        pos = 0
        while pos < order.size:
            batch *= 2
            ids = order[pos : pos + batch]
            pos += ids.size
            done_ids.append(ids)
            done_scores.append(np.asarray(exact(ids), dtype=np.float64))
            rest = order[pos:]
            if rest.size == 0 or settled():
                break
    all_ids = np.concatenate(done_ids)
    top_ids, top_scores = top_k(
        all_ids, np.concatenate(done_scores), k, None if keys is None else keys[all_ids]
    )
    return top_ids, top_scores, int(all_ids.size)
