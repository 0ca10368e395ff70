"""Set-to-set similarity between two articles, each a set of L2-normalised photo vectors.

Everything here works on the cosine matrix S (rows: the query article's photos, columns: the candidate's
photos), so search can score a candidate from a slice of a matrix it has already computed.

Methods (`METHODS`):

- ``greedy`` ("recursive"): take the highest remaining pair, strike its row and column, repeat until one
  side is exhausted; score = mean of the taken pairs. Ties go to the lowest row, then the lowest column,
  so results never depend on the platform.
- ``hungarian``: the one-to-one assignment with the largest total similarity
  (`scipy.optimize.linear_sum_assignment`); pairs are reported by similarity, highest first.
- ``ordered``: only photos with the same view tag are compared (front with front, ...); if a view occurs
  several times in an article, those photos are matched greedily within the view. When the two articles
  share no view tag (or either has none), it falls back to greedy and says so in `MatchResult.fallback`.
- ``centroid``: cosine of the two normalised mean vectors; needs the vectors, not only S; no pairs.
- ``max`` (best pair): the largest entry of S; one pair.

Options for the pair-matching methods (greedy, hungarian, ordered):

- ``threshold`` s: chosen pairs with similarity < s are left out of the mean (reason ``below_threshold``).
- ``max_matches`` m: of the pairs that pass s, only the m most similar count (reason ``beyond_m``).

Defined results at the edges, chosen so that a search can sort candidates by score without special cases:

- an empty article (no photo on either side): score ``-inf``, no pairs, so it sorts after everything;
- no chosen pair passes the threshold: score ``0.0`` and ``passed == 0``; every candidate with a passing pair
  scores at least s, so with the usual s > 0 these rank below all candidates that have one.
  (`centroid` and `max` ignore s and m: they have no set of pairs to filter.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

METHODS: tuple[str, ...] = ("greedy", "hungarian", "ordered", "centroid", "max")
PAIR_METHODS: tuple[str, ...] = ("greedy", "hungarian", "ordered")  # the methods that s and m apply to
# The methods named for curators (the app's method menu).
METHOD_LABELS = {
    "greedy": "Greedy pairs",
    "hungarian": "Best assignment (Hungarian)",
    "ordered": "Same view only",
    "centroid": "Average photo (centroid)",
    "max": "Best single pair",
}

BELOW_THRESHOLD = "below_threshold"
BEYOND_M = "beyond_m"

# The score of a comparison with an empty article: sorts after any real score.
EMPTY_SCORE = float("-inf")
# The score when pairs were chosen but none passed the threshold.
NO_PASS_SCORE = 0.0


@dataclass(frozen=True)
class Pair:
    """One chosen (query photo, candidate photo) pair; row/col index S, rank is 1-based in choice order."""

    row: int
    col: int
    sim: float
    rank: int
    used: bool = True
    reason: str = ""  # "" when used, else BELOW_THRESHOLD or BEYOND_M


@dataclass
class MatchResult:
    """The score of one article pair and the pairs behind it, in the order they were chosen."""

    method: str
    score: float
    pairs: list[Pair] = field(default_factory=list)
    passed: int = 0  # pairs that count in the score
    fallback: str | None = None  # set when `ordered` had no common view and used greedy instead
    threshold: float | None = None
    max_matches: int | None = None

    @property
    def used_pairs(self) -> list[Pair]:
        return [p for p in self.pairs if p.used]


def similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine matrix [len(a), len(b)] of two sets of vectors (normalised here, so raw vectors are fine)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("similarity_matrix expects two 2-D arrays [n, D].")
    if a.shape[0] and b.shape[0] and a.shape[1] != b.shape[1]:
        raise ValueError(f"Vector sizes differ: {a.shape[1]} vs {b.shape[1]}.")
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float32)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a @ b.T).astype(np.float32, copy=False)


def check_options(threshold: float | None, max_matches: int | None) -> None:
    """Reject an m below 1 or a non-finite s early, with a message that names the option."""
    if max_matches is not None and max_matches < 1:
        raise ValueError("max_matches must be at least 1 (or None for no limit).")
    if threshold is not None and not np.isfinite(threshold):
        raise ValueError("threshold must be a finite number (or None).")


def score_chosen(
    sims: Sequence[float] | np.ndarray, threshold: float | None, max_matches: int | None
) -> tuple[float, np.ndarray, list[str]]:
    """Score pairs given in descending similarity order: (score, used mask, reasons).

    Shared by the methods here and by the vectorised search so both apply s and m identically.
    """
    vals = np.asarray(sims, dtype=np.float64)
    n = vals.shape[0]
    passes = np.ones(n, dtype=bool) if threshold is None else vals >= threshold
    # The m best passing pairs are the first m passing ones because the input is sorted descending.
    order_among_passing = np.cumsum(passes)
    used = passes if max_matches is None else passes & (order_among_passing <= max_matches)
    reasons = ["" if u else (BELOW_THRESHOLD if not p else BEYOND_M) for u, p in zip(used, passes)]
    count = int(used.sum())
    score = float(vals[used].mean()) if count else NO_PASS_SCORE
    return score, used, reasons


def _result(
    method: str,
    rows: Sequence[int],
    cols: Sequence[int],
    sims: Sequence[float],
    threshold: float | None,
    max_matches: int | None,
    fallback: str | None = None,
) -> MatchResult:
    score, used, reasons = score_chosen(sims, threshold, max_matches)
    pairs = [
        Pair(int(r), int(c), float(s), i + 1, bool(u), why)
        for i, (r, c, s, u, why) in enumerate(zip(rows, cols, sims, used, reasons))
    ]
    return MatchResult(
        method=method,
        score=score,
        pairs=pairs,
        passed=int(used.sum()),
        fallback=fallback,
        threshold=threshold,
        max_matches=max_matches,
    )


def _empty(method: str, threshold: float | None = None, max_matches: int | None = None) -> MatchResult:
    return MatchResult(method=method, score=EMPTY_SCORE, threshold=threshold, max_matches=max_matches)


def _as_matrix(S: np.ndarray) -> np.ndarray:
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError("S must be a 2-D similarity matrix.")
    return S


def greedy_pairs(S: np.ndarray) -> tuple[list[int], list[int], list[float]]:
    """Greedy choice on S: (rows, cols, sims) in the order taken; the sims never increase."""
    S = _as_matrix(S)
    n_rows, n_cols = S.shape
    if n_rows == 0 or n_cols == 0:
        return [], [], []
    flat = S.ravel()
    # One sort of all entries, highest first; lexsort's last key is primary and flat index order is
    # row-major, so equal similarities come out lowest row first, then lowest column.
    order = np.lexsort((np.arange(flat.size), -flat.astype(np.float64)))
    row_free = np.ones(n_rows, dtype=bool)
    col_free = np.ones(n_cols, dtype=bool)
    k = min(n_rows, n_cols)
    rows: list[int] = []
    cols: list[int] = []
    sims: list[float] = []
    for idx in order:
        r, c = divmod(int(idx), n_cols)
        if row_free[r] and col_free[c]:
            row_free[r] = False
            col_free[c] = False
            rows.append(r)
            cols.append(c)
            sims.append(float(flat[idx]))
            if len(rows) == k:
                break
    return rows, cols, sims


def greedy(S: np.ndarray, threshold: float | None = None, max_matches: int | None = None) -> MatchResult:
    """Greedy ("recursive") matching; see the module docstring for s, m and the edge cases."""
    check_options(threshold, max_matches)
    S = _as_matrix(S)
    if S.size == 0:
        return _empty("greedy", threshold, max_matches)
    rows, cols, sims = greedy_pairs(S)
    return _result("greedy", rows, cols, sims, threshold, max_matches)


def hungarian(S: np.ndarray, threshold: float | None = None, max_matches: int | None = None) -> MatchResult:
    """Maximum-total one-to-one assignment; s and m are applied to its pairs sorted by similarity."""
    check_options(threshold, max_matches)
    S = _as_matrix(S)
    if S.size == 0:
        return _empty("hungarian", threshold, max_matches)
    from scipy.optimize import linear_sum_assignment  # SciPy costs half a second to import: only here

    r, c = linear_sum_assignment(S.astype(np.float64), maximize=True)
    sims = S[r, c].astype(np.float64)
    # Report the most similar pairs first, so the m cut and the inspector read the same way as greedy.
    order = np.lexsort((c, r, -sims))
    return _result(
        "hungarian", r[order].tolist(), c[order].tolist(), sims[order].tolist(), threshold, max_matches
    )


def _view_groups(views: Sequence[str | None]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, v in enumerate(views):
        if v is not None:
            groups.setdefault(v, []).append(i)
    return groups


def ordered(
    S: np.ndarray,
    views_a: Sequence[str | None] | None,
    views_b: Sequence[str | None] | None,
    threshold: float | None = None,
    max_matches: int | None = None,
) -> MatchResult:
    """Same-view matching; falls back to greedy (``fallback='greedy'``) when no view tag is shared.

    Photos without a view tag, or whose view the other article lacks, take no part when views are shared.
    """
    check_options(threshold, max_matches)
    S = _as_matrix(S)
    if S.size == 0:
        return _empty("ordered", threshold, max_matches)
    if views_a is not None and len(views_a) != S.shape[0]:
        raise ValueError("views_a must have one entry per row of S.")
    if views_b is not None and len(views_b) != S.shape[1]:
        raise ValueError("views_b must have one entry per column of S.")
    groups_a = _view_groups(views_a or [])
    groups_b = _view_groups(views_b or [])
    common = sorted(set(groups_a) & set(groups_b))
    if not common:
        rows, cols, sims = greedy_pairs(S)
        return _result("ordered", rows, cols, sims, threshold, max_matches, fallback="greedy")
    rows: list[int] = []
    cols: list[int] = []
    sims: list[float] = []
    for view in common:
        ra, cb = groups_a[view], groups_b[view]
        sub_r, sub_c, sub_s = greedy_pairs(S[np.ix_(ra, cb)])
        rows += [ra[i] for i in sub_r]
        cols += [cb[j] for j in sub_c]
        sims += sub_s
    # Views are independent, so the overall order is simply by similarity (ties: row, then column).
    order = np.lexsort((np.array(cols), np.array(rows), -np.array(sims, dtype=np.float64)))
    return _result(
        "ordered",
        [rows[i] for i in order],
        [cols[i] for i in order],
        [sims[i] for i in order],
        threshold,
        max_matches,
    )


def centroid_score(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the normalised mean vectors of two articles; -inf when either is empty."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return EMPTY_SCORE
    ca = a.mean(axis=0)
    cb = b.mean(axis=0)
    na, nb = np.linalg.norm(ca), np.linalg.norm(cb)
    if na < 1e-12 or nb < 1e-12:
        # Photos that cancel out have no direction; 0 says "unrelated" rather than inventing one.
        return 0.0
    return float(ca @ cb / (na * nb))


def centroid(a: np.ndarray, b: np.ndarray) -> MatchResult:
    """Centroid method from the photo vectors of both articles (S alone does not determine it)."""
    return MatchResult(method="centroid", score=centroid_score(a, b))


def best_pair(S: np.ndarray) -> MatchResult:
    """The single most similar pair (ties: lowest row, then lowest column)."""
    S = _as_matrix(S)
    if S.size == 0:
        return _empty("max")
    idx = int(np.argmax(S))  # argmax returns the first maximum in row-major order
    r, c = divmod(idx, S.shape[1])
    sim = float(S[r, c])
    return MatchResult(method="max", score=sim, pairs=[Pair(r, c, sim, 1)], passed=1)


def match(
    method: str,
    S: np.ndarray | None,
    views_a: Sequence[str | None] | None = None,
    views_b: Sequence[str | None] | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
    *,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
) -> MatchResult:
    """Score one article pair with `method`.

    S is the cosine matrix (query rows x candidate columns); when None it is computed from the vectors
    `a` and `b`. `centroid` needs `a` and `b` because a mean of cosines is not the cosine of the means.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown matching method {method!r}; choose one of {', '.join(METHODS)}.")
    if S is None:
        if a is None or b is None:
            raise ValueError("Pass either S or both vector sets a and b.")
        S = similarity_matrix(a, b)
    if method == "greedy":
        return greedy(S, threshold, max_matches)
    if method == "hungarian":
        return hungarian(S, threshold, max_matches)
    if method == "ordered":
        return ordered(S, views_a, views_b, threshold, max_matches)
    if method == "max":
        return best_pair(S)
    if a is None or b is None:
        raise ValueError("The centroid method needs the photo vectors a and b, not only S.")
    return centroid(a, b)
