"""Set-to-set matching: the worked example, edge cases, s/m options and optimality against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from desktop_app.core import matching
from desktop_app.core.matching import (
    BELOW_THRESHOLD,
    BEYOND_M,
    best_pair,
    centroid_score,
    greedy,
    hungarian,
    match,
    ordered,
    similarity_matrix,
)

EXAMPLE = np.array(
    [
        [0.837, 0.835, 0.747, 0.703, 0.698],
        [0.803, 0.799, 0.838, 0.760, 0.769],
        [0.772, 0.752, 0.794, 0.761, 0.796],
        [0.787, 0.785, 0.794, 0.866, 0.881],
    ]
)


def one_based(result: matching.MatchResult) -> list[tuple[int, int, float]]:
    return [(p.row + 1, p.col + 1, round(p.sim, 3)) for p in result.pairs]


def test_worked_example_greedy_order_and_score() -> None:
    res = greedy(EXAMPLE)
    assert one_based(res) == [(4, 5, 0.881), (2, 3, 0.838), (1, 1, 0.837), (3, 4, 0.761)]
    assert round(res.score, 3) == 0.829
    assert [p.rank for p in res.pairs] == [1, 2, 3, 4]
    assert all(p.used for p in res.pairs) and res.passed == 4
    assert 2 - 1 not in {p.col for p in res.pairs}  # column 2 stays unused


def test_dispatcher_runs_the_named_method() -> None:
    assert match("greedy", EXAMPLE).score == pytest.approx(greedy(EXAMPLE).score)
    assert match("max", EXAMPLE).score == pytest.approx(0.881)
    with pytest.raises(ValueError):
        match("nope", EXAMPLE)
    with pytest.raises(ValueError):
        match("centroid", EXAMPLE)  # needs the vectors


def test_one_by_one_and_thin_matrices() -> None:
    one = np.array([[0.5]])
    for method in ("greedy", "hungarian", "ordered", "max"):
        res = match(method, one)
        assert res.score == pytest.approx(0.5)
        assert [(p.row, p.col) for p in res.pairs] == [(0, 0)]
    row = np.array([[0.1, 0.9, 0.3]])  # 1 x N: the best column
    col = row.T  # N x 1: the best row
    for method in ("greedy", "hungarian"):
        r = match(method, row)
        assert (r.pairs[0].row, r.pairs[0].col, r.score) == (0, 1, pytest.approx(0.9))
        c = match(method, col)
        assert (c.pairs[0].row, c.pairs[0].col, c.score) == (1, 0, pytest.approx(0.9))
        assert len(r.pairs) == len(c.pairs) == 1


def test_empty_article_sorts_last() -> None:
    empty = np.zeros((0, 3))
    for method in ("greedy", "hungarian", "ordered", "max"):
        res = match(method, empty)
        assert res.score == -math.inf and res.pairs == [] and res.passed == 0
    a = np.ones((2, 4), dtype=np.float32)
    assert match("centroid", None, a=a, b=np.zeros((0, 4))).score == -math.inf
    assert similarity_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_ties_are_broken_by_lowest_row_then_column() -> None:
    S = np.full((3, 3), 0.5)
    res = greedy(S)
    assert [(p.row, p.col) for p in res.pairs] == [(0, 0), (1, 1), (2, 2)]
    S2 = np.array([[0.2, 0.9, 0.9], [0.9, 0.9, 0.1]])
    assert [(p.row, p.col) for p in greedy(S2).pairs] == [(0, 1), (1, 0)]
    p = best_pair(S2).pairs[0]
    assert (p.row, p.col) == (0, 1)


def test_all_pairs_below_threshold_score_zero() -> None:
    res = greedy(EXAMPLE, threshold=0.95)
    assert res.score == 0.0 and res.passed == 0
    assert len(res.pairs) == 4 and all(not p.used and p.reason == BELOW_THRESHOLD for p in res.pairs)
    assert hungarian(EXAMPLE, threshold=0.95).score == 0.0


def test_threshold_and_m_mark_pairs() -> None:
    res = greedy(EXAMPLE, threshold=0.8, max_matches=2)
    assert [(p.used, p.reason) for p in res.pairs] == [
        (True, ""),
        (True, ""),
        (False, BEYOND_M),
        (False, BELOW_THRESHOLD),
    ]
    assert res.score == pytest.approx((0.881 + 0.838) / 2)
    only_s = greedy(EXAMPLE, threshold=0.8)
    assert only_s.score == pytest.approx((0.881 + 0.838 + 0.837) / 3) and only_s.passed == 3
    only_m = greedy(EXAMPLE, max_matches=1)
    assert only_m.score == pytest.approx(0.881) and only_m.passed == 1
    with pytest.raises(ValueError):
        greedy(EXAMPLE, max_matches=0)


def test_hungarian_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        n, m = (int(x) for x in rng.integers(1, 6, size=2))
        S = rng.uniform(-1, 1, size=(n, m))
        k = min(n, m)
        best = -np.inf
        if n <= m:
            for cols in itertools.permutations(range(m), n):
                best = max(best, sum(S[i, c] for i, c in enumerate(cols)))
        else:
            for rows in itertools.permutations(range(n), m):
                best = max(best, sum(S[r, j] for j, r in enumerate(rows)))
        res = hungarian(S)
        assert res.score == pytest.approx(best / k)
        assert len(res.pairs) == k
        sims = [p.sim for p in res.pairs]
        assert sims == sorted(sims, reverse=True)
        # Greedy never beats the optimal assignment.
        assert greedy(S).score <= res.score + 1e-12


def test_ordered_with_common_views() -> None:
    S = np.array([[0.9, 0.2, 0.3], [0.1, 0.4, 0.8], [0.5, 0.6, 0.7]])
    res = ordered(S, ["front", "back", "side"], ["back", "front", "front"])
    # front: query row 0 against cols 1, 2 -> best 0.3; back: row 1 vs col 0 -> 0.1; "side" not shared.
    assert res.fallback is None
    assert [(p.row, p.col) for p in res.pairs] == [(0, 2), (1, 0)]
    assert res.score == pytest.approx((0.3 + 0.1) / 2)


def test_ordered_repeated_view_matched_greedily_within_view() -> None:
    S = np.array([[0.9, 0.8, 0.0], [0.85, 0.1, 0.0]])
    res = ordered(S, ["f", "f"], ["f", "f", "b"])
    assert [(p.row, p.col) for p in res.pairs] == [(0, 0), (1, 1)]
    assert res.score == pytest.approx((0.9 + 0.1) / 2)


def test_ordered_without_common_views_falls_back_to_greedy() -> None:
    g = greedy(EXAMPLE)
    for va, vb in [(None, None), (["a"] * 4, ["b"] * 5), ([None] * 4, ["a"] * 5)]:
        res = ordered(EXAMPLE, va, vb)
        assert res.fallback == "greedy"
        assert res.score == pytest.approx(g.score)
        assert [(p.row, p.col) for p in res.pairs] == [(p.row, p.col) for p in g.pairs]


def test_centroid_and_similarity_matrix() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 8))
    b = rng.normal(size=(5, 8))
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    ca, cb = an.mean(0), bn.mean(0)
    want = ca @ cb / np.linalg.norm(ca) / np.linalg.norm(cb)
    assert centroid_score(an, bn) == pytest.approx(want)
    res = match("centroid", None, a=an, b=bn)
    assert res.pairs == [] and res.score == pytest.approx(want)
    S = similarity_matrix(a, b)
    assert S.dtype == np.float32 and np.allclose(S, an @ bn.T, atol=1e-6)
