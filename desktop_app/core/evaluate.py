"""Measuring article search on a catalog: which set-matching method finds the right articles.

Two protocols:
- groups: a CSV maps articles to groups (other colours of one style, two listings of one product, ...);
  every article with other members in its group ranks all other articles; relevant = same group.
- split: every article with enough photos is split into two disjoint halves (fixed seed); the gallery holds
  the second halves (and every other article whole), the first half is the query, and its own other half
  is the one relevant answer.
Metrics: Recall@K = share of queries with a relevant article among the first K; mAP = mean average
precision over the full ranking (with one relevant answer this is the mean reciprocal rank).
A single-photo baseline queries with one photo only (the first of the query set), ranked by best pair.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import InputError
from desktop_app.core.files import check_columns_once, read_csv
from desktop_app.core.search import SearchIndex
from desktop_app.core.set_scores import scores_from_picks
from desktop_app.core.vectors import ArticleVectors

KS = (1, 5, 10)
SINGLE = "single-photo"


@dataclass(frozen=True)
class MethodSpec:
    method: str
    threshold: float | None = None
    max_matches: int | None = None

    @property
    def label(self) -> str:
        parts = [self.method]
        if self.threshold is not None:
            parts.append(f"s={self.threshold:g}")
        if self.max_matches is not None:
            parts.append(f"m={self.max_matches}")
        return " ".join(parts)


@dataclass
class MethodScore:
    method: str
    threshold: float | None
    max_matches: int | None
    queries: int
    recall: dict[int, float]
    map: float

    @property
    def label(self) -> str:
        return MethodSpec(self.method, self.threshold, self.max_matches).label

    def to_dict(self) -> dict:
        d = asdict(self)
        d["recall"] = {f"R@{k}": v for k, v in self.recall.items()}
        d["label"] = self.label
        return d


@dataclass
class Query:
    vectors: np.ndarray  # [q, D]
    views: list[str | None]
    relevant: set[int]  # gallery article indices
    exclude: tuple[int, ...]  # gallery articles not to rank (the query's own article in groups mode)


def _metrics(ranked: np.ndarray, relevant: set[int], ks: Sequence[int]) -> tuple[dict[int, bool], float]:
    """Whether a relevant article is among the first K, per K, and the average precision of a ranking."""
    ranks = np.flatnonzero(np.isin(ranked, np.fromiter(relevant, dtype=np.int64, count=len(relevant)))) + 1
    first = int(ranks[0]) if ranks.size else None
    ap = float((np.arange(1, ranks.size + 1) / ranks).sum() / len(relevant)) if relevant else 0.0
    return {k: first is not None and first <= k for k in ks}, ap


PAIR_METHODS = ("greedy", "hungarian", "ordered")


class _Tally:
    """Recall@K hits and average precisions of one setting, query by query."""

    def __init__(self, spec: MethodSpec, single_photo: bool, ks=KS) -> None:
        self.spec, self.single, self.ks = spec, single_photo, ks
        self.recalls = {k: 0 for k in ks}
        self.aps: list[float] = []

    @property
    def by_picks(self) -> bool:
        """Ranked from the matching's picks (`SearchIndex.picks`), shared by every s and m of its method."""
        return not self.single and self.spec.method in PAIR_METHODS

    def add(self, index: SearchIndex, q: Query, picks: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Rank the catalog for one query (from `picks` when given) and count the ranking."""
        single, spec = self.single, self.spec
        if picks is not None:
            ids, chosen = picks
            scores = scores_from_picks(chosen, spec.threshold, spec.max_matches)
            ranked = ids[np.lexsort((ids, -scores))]  # the order of search(): score, then article index
        else:
            ranked = np.asarray(
                index.search(
                    q.vectors[:1] if single else q.vectors,
                    "max" if single else spec.method,
                    k=index.n_articles,
                    threshold=None if single else spec.threshold,
                    max_matches=None if single else spec.max_matches,
                    exclude=q.exclude,
                    query_views=q.views[:1] if single else q.views,
                    n_pairs=0,
                    mode="exact",
                    ranking_only=True,
                ).indices,
                dtype=np.int64,
            )
        found, ap = _metrics(ranked, q.relevant, self.ks)
        for k in self.ks:
            self.recalls[k] += found[k]
        self.aps.append(ap)

    def score(self) -> MethodScore:
        n = max(len(self.aps), 1)
        return MethodScore(
            SINGLE if self.single else self.spec.method,
            None if self.single else self.spec.threshold,
            None if self.single else self.spec.max_matches,
            len(self.aps),
            {k: self.recalls[k] / n for k in self.ks},
            float(np.mean(self.aps)) if self.aps else 0.0,
        )


def score_queries(
    index: SearchIndex, queries: list[Query], spec: MethodSpec, single_photo: bool = False, ks=KS
) -> MethodScore:
    """Recall@K and mAP of one setting (or of the single-photo baseline)."""
    return evaluate(index, queries, [] if single_photo else [spec], with_single=single_photo, ks=ks)[0]


# ----------------------------------------------------------------------- protocols


def read_groups(path: Path) -> dict[str, str]:
    """article -> group from a CSV with the columns article and group."""
    header, rows = read_csv(path, "groups file")
    check_columns_once(header, {"article", "group"}, path, "groups file")
    if not {"article", "group"} <= set(header):
        raise InputError(
            f"{path} needs the columns 'article' and 'group' (it has: {', '.join(header) or 'none'})."
        )
    return {r["article"]: r["group"] for r in rows if r.get("article") and r.get("group")}


def shared_groups(groups: dict[str, str], articles: Container[str]) -> dict[str, str]:
    """The groups file's rows whose article is one of `articles` (the catalog's, with vectors) and shares
    its group with another of them: what evaluation and training can use. A file that gives none is
    refused (InputError), the same way for evaluate, tune and adapt train."""
    inside = {a: g for a, g in groups.items() if a in articles}
    sizes = Counter(inside.values())
    shared = {a: g for a, g in inside.items() if sizes[g] >= 2}
    if not shared:
        raise InputError(
            "No article of the catalog shares a group with another; check the groups file"
            + (
                f" (none of its {len(groups):,} articles is in the catalog)."
                if groups and not inside
                else "."
            )
        )
    return shared


def group_queries(
    av: ArticleVectors, groups: dict[str, str], apart: Mapping[str, set[str]] | None = None
) -> tuple[SearchIndex, list[Query]]:
    """One query per article that shares its group: relevant are the group's other articles. `apart`: for an
    article, group mates whose relation is in dispute (decided "not a match" inside a same-product group);
    they are neither relevant nor ranked for it, so they count neither way."""
    groups = shared_groups(groups, set(av.articles))
    members: dict[str, set[int]] = {}
    for i, a in enumerate(av.articles):
        if a in groups:
            members.setdefault(groups[a], set()).add(i)
    row_of = {a: i for i, a in enumerate(av.articles)} if apart else {}
    queries = []
    for i, a in enumerate(av.articles):
        g = groups.get(a)
        if g is None or len(members[g]) < 2:
            continue
        disputed = {row_of[x] for x in (apart or {}).get(a, ()) if x in row_of}
        relevant = members[g] - {i} - disputed
        if not relevant:
            continue
        rows = av.rows_of(i)
        queries.append(Query(av.vectors[rows], av.views[rows], relevant, (i, *sorted(disputed))))
    if not queries:
        raise InputError("No article of the catalog shares a group with another; check the groups file.")
    return SearchIndex(av), queries


def split_queries(av: ArticleVectors, min_photos: int = 2, seed: int = 0) -> tuple[SearchIndex, list[Query]]:
    """Split articles with >= min_photos photos; the gallery keeps their second halves."""
    rng = np.random.default_rng(seed)
    groups: dict[str, np.ndarray] = {}
    views: dict[str, list] = {}
    queries_src = []
    for i, a in enumerate(av.articles):
        rows = np.arange(av.offsets[i], av.offsets[i + 1])
        if len(rows) >= min_photos:
            perm = rng.permutation(rows)
            half = len(perm) // 2
            q_rows, g_rows = np.sort(perm[:half]), np.sort(perm[half:])
            queries_src.append((i, q_rows))
        else:
            g_rows = rows
        groups[a] = av.vectors[g_rows]
        views[a] = [av.views[r] for r in g_rows]
    if not queries_src:
        raise InputError(f"No article has {min_photos} or more photos to split.")
    gallery = ArticleVectors.from_groups(groups, views, model_id=av.model_id)
    queries = [Query(av.vectors[q], [av.views[r] for r in q], {i}, ()) for i, q in queries_src]
    return SearchIndex(gallery), queries


# Queries an evaluation draws at most: each ranks the whole catalog under every setting, so a catalog of
# 15,000 articles took over 5 minutes per method with all of its 11,000 queries.
MAX_QUERIES = 1000


def default_specs() -> list[MethodSpec]:
    return [MethodSpec(m) for m in ("greedy", "hungarian", "ordered", "centroid", "max")]


def tuning_grid(thresholds=(None, 0.3, 0.5, 0.6, 0.7), max_matches=(None, 1, 2, 3)) -> list[MethodSpec]:
    grid = [
        MethodSpec(m, s, k)
        for m, s, k in itertools.product(("greedy", "hungarian", "ordered"), thresholds, max_matches)
    ]
    return grid + [MethodSpec("centroid"), MethodSpec("max")]


def evaluate(
    index: SearchIndex,
    queries: list[Query],
    specs: list[MethodSpec],
    with_single: bool = True,
    progress=None,
    ks=KS,
) -> list[MethodScore]:
    """Every setting over every query; `progress(done, total, setting)` counts searches (a query under one
    setting ranks the whole catalog, so a large catalog takes a while per query). A query goes through every
    setting before the next one: the search index computes its similarities with the catalog once, and each
    pair method matches it with every article once, whatever number of s and m settings it is tried with."""
    tallies = [_Tally(spec, False, ks) for spec in specs]
    if with_single:
        tallies.append(_Tally(MethodSpec("max"), True, ks))
    total, done = len(queries) * len(tallies), 0
    for q in queries:
        picks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for tally in tallies:
            if tally.by_picks:
                method = tally.spec.method
                if method not in picks:
                    picks[method] = index.picks(q.vectors, method, exclude=q.exclude, query_views=q.views)
                tally.add(index, q, picks[method])
            else:
                tally.add(index, q)
            done += 1
            if progress:
                progress(done, total, SINGLE if tally.single else tally.spec.label)
    return [t.score() for t in tallies]


def sample(queries: list[Query], limit: int | None, seed: int = 0) -> list[Query]:
    """At most `limit` of the queries, drawn at random (fixed by `seed`, in their order); all when None."""
    if limit is None or len(queries) <= limit:
        return queries
    keep = np.sort(np.random.default_rng(seed).choice(len(queries), size=limit, replace=False))
    return [queries[i] for i in keep]


def best(scores: list[MethodScore], current: MethodSpec | None = None) -> MethodScore:
    """Highest mAP, then Recall@1; among settings that tie on both, the current one if it is among them
    (a tie is no reason to change), else the simplest. Single-photo baselines are not a catalog setting."""
    candidates = [s for s in scores if s.method != SINGLE]
    now = current.label if current is not None else None
    return max(
        candidates,
        key=lambda s: (round(s.map, 6), round(s.recall.get(1, 0.0), 6), s.label == now, -len(s.label)),
    )


# Fewer queries than this measure too little to choose settings by: `tune` shows them and stores nothing.
MIN_TUNING_QUERIES = 20


# ----------------------------------------------------------------------- the candidate stage


@dataclass
class RecallReport:
    """How many of the exhaustive top K the candidate stage also returns."""

    method: str
    k: int
    recall: float  # mean over queries of |candidate top K & exact top K| / |exact top K|
    per_query: list[float]
    exact_ms: float  # mean latency of the exhaustive search
    candidate_ms: float  # mean latency with the candidate stage


def candidate_recall(
    index: SearchIndex,
    queries: Sequence[Any],
    method: str = "greedy",
    k: int = 10,
    **kwargs: Any,
) -> RecallReport:
    """Recall of the candidate stage against the exhaustive search over the same queries."""
    per_query: list[float] = []
    exact_ms: list[float] = []
    cand_ms: list[float] = []
    for q in queries:
        ex = index.search(q, method, k, mode="exact", n_pairs=0, **kwargs)
        ca = index.search(q, method, k, mode="candidates", n_pairs=0, **kwargs)
        exact_ms.append(ex.elapsed_ms)
        cand_ms.append(ca.elapsed_ms)
        want = set(ex.indices)
        if want:
            per_query.append(len(want & set(ca.indices)) / len(want))
    recall = float(np.mean(per_query)) if per_query else 1.0
    return RecallReport(
        method=method,
        k=k,
        recall=recall,
        per_query=per_query,
        exact_ms=float(np.mean(exact_ms)) if exact_ms else 0.0,
        candidate_ms=float(np.mean(cand_ms)) if cand_ms else 0.0,
    )
