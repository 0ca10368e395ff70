"""Search over ArticleVectors: exact top-K against brute force per method, filters, query forms, recall."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.evaluate import candidate_recall
from desktop_app.core.matching import match
from desktop_app.core.search import SearchIndex
from desktop_app.core.set_scores import Block, hungarian_picks, hungarian_sims, scores_from_picks
from desktop_app.core.vectors import ArticleVectors

VIEWS = ["front", "back", "side", "top", "detail"]


def make_catalog(
    n_articles: int = 240,
    dim: int = 32,
    seed: int = 0,
    max_size: int = 6,
    cluster: int = 6,
    views: str = "none",  # "none", "unique" (each view at most once per article) or "repeat"
    empty: tuple[int, ...] = (),
) -> ArticleVectors:
    """Clustered synthetic catalog: articles of a cluster look alike, photos of an article more so."""
    rng = np.random.default_rng(seed)
    groups: dict[str, np.ndarray] = {}
    view_map: dict[str, list[str | None]] = {}
    centres = rng.normal(size=(n_articles // cluster + 1, dim))
    folders = ["shoes", "bags", "shirts"]
    for a in range(n_articles):
        name = f"{folders[a % 3]}/a{a:04d}"
        n = 0 if a in empty else int(rng.integers(1, max_size + 1))
        art = centres[a // cluster] + 0.6 * rng.normal(size=dim)
        groups[name] = art + 0.5 * rng.normal(size=(n, dim))
        if views == "unique":
            picked = list(rng.permutation(VIEWS)[: min(n, len(VIEWS))])
            view_map[name] = (picked + [None] * n)[:n] if a % 7 else [None] * n
        elif views == "repeat":
            view_map[name] = [str(v) for v in rng.choice(VIEWS[:3], size=n)]
    av = ArticleVectors.from_groups(groups, view_map or None)
    av.labels = [{"colour": ["red", "blue"][a % 2], "kind": folders[a % 3]} for a in range(n_articles)]
    return av


def brute_force(
    av: ArticleVectors,
    qv: np.ndarray,
    qviews: list[str | None],
    method: str,
    exclude: set[int],
    threshold: float | None = None,
    m: int | None = None,
    allowed=lambda a: True,
) -> dict[int, float]:
    """Score of every eligible article by matching.match on an independently computed float64 S."""
    out: dict[int, float] = {}
    for a in range(av.n_articles):
        B = av.article_matrix(a)
        if a in exclude or B.shape[0] == 0 or not allowed(a):
            continue
        S = qv.astype(np.float64) @ B.astype(np.float64).T
        vb = av.views[av.rows_of(a)]
        out[a] = match(method, S, qviews, vb, threshold, m, a=qv, b=B).score
    return out


def assert_same_top(result, brute: dict[int, float], k: int) -> None:
    ranked = sorted(brute.items(), key=lambda t: (-t[1], t[0]))[:k]
    got = [(h.index, h.score) for h in result.hits]
    assert len(got) == len(ranked)
    # Scores agree position by position; an index may differ only inside a float-rounding tie.
    for (ga, gs), (ba, bs) in zip(got, ranked):
        assert gs == pytest.approx(bs, abs=2e-5)
        assert brute[ga] == pytest.approx(gs, abs=2e-5)
        if ga != ba:
            assert brute[ga] == pytest.approx(brute[ba], abs=2e-5)
    assert len({a for a, _ in got}) == len(got)


OPTIONS = [(None, None), (0.3, None), (None, 2), (0.25, 1)]


@pytest.mark.parametrize("method", ["greedy", "hungarian", "ordered", "centroid", "max"])
@pytest.mark.parametrize("threshold,m", OPTIONS)
def test_single_article_query_matches_brute_force(method: str, threshold, m) -> None:
    av = make_catalog(seed=1)
    index = SearchIndex(av)
    for qa in (0, 17, 101):
        res = index.search(qa, method, k=8, threshold=threshold, max_matches=m, mode="exact")
        assert res.mode == "exact"
        rows = av.rows_of(qa)
        brute = brute_force(av, av.vectors[rows], av.views[rows], method, {qa}, threshold, m)
        assert_same_top(res, brute, 8)
        assert qa not in res.indices


@pytest.mark.parametrize("method", ["greedy", "hungarian", "ordered", "max", "centroid"])
def test_multi_article_query_pools_photos_and_uses_bounds(method: str) -> None:
    # Three articles pooled: more query photos than most candidates have, so both bound forms are used.
    av = make_catalog(seed=2, max_size=6, views="repeat")
    index = SearchIndex(av)
    query = [3, 4, 5]
    rows = np.concatenate([np.arange(av.offsets[a], av.offsets[a + 1]) for a in query])
    assert rows.size > 8
    for threshold, m in OPTIONS:
        res = index.search(query, method, k=10, threshold=threshold, max_matches=m, mode="exact")
        qviews = [av.views[r] for r in rows]
        brute = brute_force(av, av.vectors[rows], qviews, method, set(query), threshold, m)
        assert_same_top(res, brute, 10)
        assert not set(query) & set(res.indices)
        assert res.n_query_photos == rows.size


@pytest.mark.parametrize("views", ["unique", "repeat"])
@pytest.mark.parametrize("threshold,m", OPTIONS)
def test_ordered_with_and_without_common_views(views: str, threshold, m) -> None:
    av = make_catalog(seed=3, views=views)
    index = SearchIndex(av)
    for qa in range(0, 60, 7):  # a % 7 == 0 has no view tags in "unique" catalogs: greedy everywhere
        res = index.search(qa, "ordered", k=6, threshold=threshold, max_matches=m, mode="exact")
        rows = av.rows_of(qa)
        brute = brute_force(av, av.vectors[rows], av.views[rows], "ordered", {qa}, threshold, m)
        assert_same_top(res, brute, 6)
    hits = index.search(1, "ordered", k=40, mode="exact").hits
    assert any(h.fallback == "greedy" for h in hits) or views == "repeat"


def test_raw_vector_query_excludes_nothing() -> None:
    av = make_catalog(seed=4)
    index = SearchIndex(av)
    rng = np.random.default_rng(9)
    qv = av.article_matrix(10) + 0.05 * rng.normal(size=(av.article_matrix(10).shape[0], av.dim))
    qv = qv / np.linalg.norm(qv, axis=1, keepdims=True)
    for method in ("greedy", "hungarian", "centroid", "max"):
        res = index.search(qv.astype(np.float32), method, k=5, mode="exact")
        brute = brute_force(av, qv, [None] * qv.shape[0], method, set())
        assert_same_top(res, brute, 5)
        assert res.hits[0].index == 10  # the article itself is a result for an outside photo
        if method != "centroid":
            assert all(p.query_path is None for p in res.hits[0].pairs)
    single = index.search(qv[0].astype(np.float32), "max", k=3, mode="exact")
    assert single.n_query_photos == 1


def test_filters_label_and_folder() -> None:
    av = make_catalog(seed=5)
    index = SearchIndex(av)
    qa = 12
    rows = av.rows_of(qa)
    for method in ("greedy", "hungarian", "centroid", "max", "ordered"):
        res = index.search(qa, method, k=7, label="colour=red", mode="exact")
        assert all(av.labels[h.index]["colour"] == "red" for h in res.hits)
        brute = brute_force(
            av,
            av.vectors[rows],
            av.views[rows],
            method,
            {qa},
            allowed=lambda a: av.labels[a]["colour"] == "red",
        )
        assert_same_top(res, brute, 7)
        res = index.search(qa, method, k=7, folder="bags/", label={"colour": "blue"}, mode="exact")
        assert res.hits and all(h.article.startswith("bags/") for h in res.hits)
        assert all(av.labels[h.index]["colour"] == "blue" for h in res.hits)
    assert index.search(qa, "greedy", k=5, folder="bag").hits == []  # whole path components only
    assert index.search(qa, "greedy", k=5, label=("kind", "none")).hits == []


def test_query_excluded_exclude_list_and_empty_articles() -> None:
    av = make_catalog(n_articles=40, seed=6, empty=(5, 39))
    index = SearchIndex(av)
    res = index.search(0, "greedy", k=100, exclude=[1, 2], mode="exact")
    got = set(res.indices)
    assert not got & {0, 1, 2, 5, 39}
    assert len(got) == 40 - 5
    with pytest.raises(Exception, match="no embedded photos"):
        index.search(5, "greedy")
    with pytest.raises(KeyError):
        index.search("no/such", "greedy")
    assert index.search("shoes/a0000", "max", k=3).indices == index.search(0, "max", k=3).indices


def test_malformed_queries_are_refused_by_kind() -> None:
    from desktop_app.core.errors import UserError

    av = make_catalog(n_articles=12, seed=6)
    index = SearchIndex(av)
    with pytest.raises(ValueError, match="Query vectors must be"):
        index.search(np.ones((2, av.dim + 1), np.float32), "greedy")  # a caller's bug, not the user's
    with pytest.raises(UserError, match="no photo vectors"):
        index.search(np.zeros((0, av.dim), np.float32), "greedy")
    with pytest.raises(ValueError, match="one entry per query vector"):
        index.search(av.vectors[:2].astype(np.float32), "ordered", query_views=["front"])
    with pytest.raises(IndexError, match="out of range"):
        index.search(12, "greedy")
    with pytest.raises(UserError, match="names no article"):
        index.search([], "greedy")
    # An article named twice is one article: its photos are not pooled twice.
    assert index.search([3, 3], "greedy", k=5).n_query_photos == av.article_matrix(3).shape[0]


def test_ties_are_ordered_by_article_index() -> None:
    # One-hot photos: every similarity is exactly 0 or 1, so many articles tie exactly.
    dim = 6
    eye = np.eye(dim, dtype=np.float32)
    for sizes in ("equal", "mixed"):  # mixed: the search groups articles by photo count internally
        n = (lambda i: 2) if sizes == "equal" else (lambda i: 1 + i % 3)
        groups = {f"t/{i}": eye[[(i + j) % dim for j in range(n(i))]] for i in range(24)}
        av = ArticleVectors.from_groups(groups)
        index = SearchIndex(av)
        for method in ("greedy", "hungarian", "max", "centroid"):
            for threshold in (None, 0.5):
                if threshold is not None and method in ("max", "centroid"):
                    continue
                res = index.search(0, method, k=10, mode="exact", threshold=threshold)
                brute = brute_force(av, av.article_matrix(0), [None] * n(0), method, {0}, threshold)
                ranked = sorted(brute.items(), key=lambda t: (-t[1], t[0]))[:10]
                assert res.indices == [a for a, _ in ranked], (sizes, method, threshold)
                assert [h.score for h in res.hits] == pytest.approx([s for _, s in ranked])


def test_hit_pairs_map_to_catalog_rows_and_paths() -> None:
    av = make_catalog(seed=7)
    index = SearchIndex(av)
    res = index.search([8, 9], "greedy", k=3, n_pairs=None, mode="exact")
    qrows = set(range(av.offsets[8], av.offsets[10]))
    for h in res.hits:
        rs = av.rows_of(h.index)
        assert h.pairs and all(rs.start <= p.row < rs.stop for p in h.pairs)
        assert all(p.query_row in qrows for p in h.pairs)
        assert all(p.path == av.paths[p.row] and p.query_path == av.paths[p.query_row] for p in h.pairs)
        used = [p.sim for p in h.pairs if p.used]
        assert np.mean(used) == pytest.approx(h.score, abs=1e-6)
    few = index.search(8, "greedy", k=2, n_pairs=1, mode="exact")
    assert all(len(h.pairs) == 1 for h in few.hits)


def test_candidate_stage_and_auto_mode() -> None:
    av = make_catalog(seed=8)
    small = SearchIndex(av, candidate_stage_above=av.n_articles)
    assert small.search(3, "greedy", k=5).mode == "exact"  # up to the limit, "auto" is exhaustive
    small.exact_memory_limit = 1000
    assert small.search(3, "greedy", k=5).mode == "candidates"  # unless the matrix would be too large
    index = SearchIndex(av, candidate_stage_above=100)
    assert index.search(3, "greedy", k=5).mode == "candidates"  # beyond the limit: candidates first
    narrow = index.search(3, "greedy", k=5, exclude=range(4, av.n_articles - 20))
    assert narrow.mode == "exact"  # a narrow filter scores its few articles exactly
    # With a shortlist covering every photo the candidate stage is exact.
    for method in ("greedy", "hungarian", "centroid", "max", "ordered"):
        full = index.search(3, method, k=5, mode="candidates", per_photo=av.n_photos)
        exact = index.search(3, method, k=5, mode="exact")
        assert full.indices == exact.indices


def test_candidate_recall_on_clustered_data() -> None:
    av = make_catalog(n_articles=3000, dim=48, seed=11, max_size=8, cluster=10)
    index = SearchIndex(av)
    queries = list(range(0, 3000, 150))
    for method in ("greedy", "hungarian", "centroid", "max"):
        report = candidate_recall(index, queries, method, k=10)
        print(
            f"candidate recall {method}: {report.recall:.3f} over {len(report.per_query)} queries "
            f"(exact {report.exact_ms:.1f} ms, candidates {report.candidate_ms:.1f} ms)"
        )
        assert report.recall >= 0.9


@pytest.mark.parametrize("views", ["none", "unique", "repeat"])
@pytest.mark.parametrize("threshold,m", OPTIONS)
def test_bound_pruned_paths_stay_exact(views: str, threshold, m) -> None:
    # A first shortlist of k articles forces many prune/extend rounds, so a bound that is too low
    # (or a stop rule that is too eager) shows up as a wrong top K.
    av = make_catalog(n_articles=300, seed=12, views=views, cluster=3)
    index = SearchIndex(av)
    index.refine_first_batch = 1
    pruned = 0
    for method in ("greedy", "hungarian", "ordered"):
        for qa in (0, 50, 150, 299):
            res = index.search(qa, method, k=5, threshold=threshold, max_matches=m, mode="exact")
            rows = av.rows_of(qa)
            brute = brute_force(av, av.vectors[rows], av.views[rows], method, {qa}, threshold, m)
            assert_same_top(res, brute, 5)
            pruned += res.n_exact < res.n_considered
    assert pruned > 0


def test_degenerate_catalogs_and_k() -> None:
    av = make_catalog(n_articles=12, seed=14, empty=(3, 4))
    index = SearchIndex(av)
    for method in ("greedy", "hungarian", "ordered", "centroid", "max"):
        assert index.search(0, method, k=0).hits == []
        res = index.search(0, method, k=50, mode="candidates", per_photo=1)
        assert 0 < len(res) <= 9 and 0 not in res.indices
        assert index.search(0, method, k=5, exclude=range(1, 12)).hits == []
    solo = ArticleVectors.from_groups({"only/one": np.ones((2, 4), dtype=np.float32)})
    assert SearchIndex(solo).search(0, "greedy").hits == []


@pytest.mark.parametrize("views", ["none", "unique", "repeat"])
def test_picks_give_the_exact_ranking_under_every_s_and_m(views: str) -> None:
    # An evaluation matches each query once per method and scores every s and m from the picks: its ranking
    # must be the exhaustive search's, to the tie order, for every path of every pair method.
    av = make_catalog(n_articles=120, seed=21, views=views)
    index = SearchIndex(av)
    for method in ("greedy", "hungarian", "ordered"):
        for qa in (0, 7, 33, 118):  # 0 and 7: no view tags in "unique" catalogs
            ids, chosen = index.picks(qa, method, exclude=(5,))
            assert qa not in ids and 5 not in ids and len(ids) == av.n_articles - 2
            assert np.all(np.diff(np.where(np.isfinite(chosen), chosen, -9), axis=1) <= 0)  # descending
            for threshold, m in [*OPTIONS, (0.5, None), (None, 2)]:
                scores = scores_from_picks(chosen, threshold, m)
                ranked = ids[np.lexsort((ids, -scores))].tolist()
                res = index.search(
                    qa,
                    method,
                    k=av.n_articles,
                    threshold=threshold,
                    max_matches=m,
                    exclude=(5,),
                    mode="exact",
                    ranking_only=True,
                )
                assert ranked == res.indices, (method, qa, threshold, m)
    with pytest.raises(ValueError, match="picks are for"):
        index.picks(0, "centroid")


def test_a_query_of_the_last_querys_first_photos_reuses_its_similarities() -> None:
    av = make_catalog(n_articles=90, seed=8)
    rows = np.arange(av.n_photos)[av.rows_of(3)]
    assert rows.size >= 2
    index, fresh = SearchIndex(av), SearchIndex(av)
    index.search(av.vectors[rows], "greedy", 5, mode="exact")
    for n in (1, 2):  # its first photo(s): rows of the kept block; then another photo: a new block
        one = index.search(av.vectors[rows[:n]], "max", 10, mode="exact")
        assert one.indices == fresh.search(av.vectors[rows[:n]], "max", 10, mode="exact").indices
    assert index._last_block[0].shape[1] == rows.size  # still the whole query's block
    other = index.search(av.vectors[rows[1:2]], "max", 10, mode="exact")
    assert other.indices == fresh.search(av.vectors[rows[1:2]], "max", 10, mode="exact").indices
    assert index._last_block[0].shape[1] == 1


def test_hungarian_picks_are_the_assignment_of_matching_even_when_totals_tie() -> None:
    # One-hot photos make many assignments tie on their total (with other pairs in them); near-duplicates
    # with noise make a unique best. Either way the picks are matching.hungarian's pairs.
    rng = np.random.default_rng(5)
    eye = np.eye(6, dtype=np.float32)
    tied = {f"t/{i}": eye[[(i + j) % 6 for j in range(1 + i % 4)]] for i in range(30)}
    noisy = {f"n/{i}": rng.normal(size=(1 + i % 7, 6)).astype(np.float32) for i in range(40)}
    for groups in (tied, noisy):
        av = ArticleVectors.from_groups(groups)
        index = SearchIndex(av)
        for qa in (0, 3, 6):
            ids, chosen = index.picks(qa, "hungarian")
            Q = av.article_matrix(qa).astype(np.float64)
            for a, row in zip(ids.tolist(), chosen):
                pairs = match("hungarian", Q @ av.article_matrix(a).astype(np.float64).T).pairs
                want = sorted((p.sim for p in pairs), reverse=True)
                assert row[np.isfinite(row)] == pytest.approx(want, abs=1e-6), (qa, a)
    # Two assignments with one total and other pairs ({1, 0} and {0.5, 0.5}): the tie goes to scipy.
    G = np.array([[1.0, 0.5, 0.0, 0.5], [0.5, 0.0, 0.5, 1.0]], dtype=np.float32)  # two 2-photo articles
    block = Block(G, np.array([0, 1]), np.array([2, 2]), np.arange(4))
    for i in range(2):
        assert hungarian_picks(block)[i].tolist() == hungarian_sims(G[:, block.columns(i)]).tolist()
