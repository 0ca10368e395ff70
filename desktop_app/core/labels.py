"""Labels on articles: suggestions from similar labelled articles, and their evaluation (import and export
of label files are in `label_files.py`).

A suggestion is a score-weighted vote of the k most similar labelled articles (by the article similarity
engine), with a confidence (the winning label's share of the votes) and the runners-up. `evaluate` runs
leave-one-out over the labelled articles and reports how accuracy trades against coverage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass, field

import numpy as np

from desktop_app.core.calibration import Calibration, cross_fitted, ece, reliability, why_not_fitted
from desktop_app.core.errors import InputError, UserError
from desktop_app.core.label_evidence import LabelEvidence
from desktop_app.core.search import SearchIndex

DEFAULT_FIELD = "category"


@dataclass
class Neighbour:
    article: str
    score: float
    label: str


@dataclass
class Suggestion:
    article: str
    label: str | None  # None: no suggestion (confidence below the threshold, or no labelled neighbour)
    confidence: float  # how likely the label is right (calibrated), or the raw share when not calibrated
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # top 3 labels with their vote shares
    neighbours: list[Neighbour] = field(default_factory=list)
    raw_confidence: float | None = None  # the best label's share of the score-weighted votes, 0..1
    agreement: float | None = None  # the share of neighbours (unweighted) that carry the suggested label
    # Zero-shot suggestions (`zero_shot`) rest on words, not neighbours: each top label's similarity to the
    # article's photos (the cosine of its words with each photo, averaged). Empty for neighbours' suggestions.
    similarities: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def label_confidences(self) -> list[tuple[str, float]]:
        """The top labels with confidences on one scale: the best label's is `confidence` (calibrated when a
        calibration is fitted); the runners-up share what is left, 1 - confidence, in proportion to their
        votes. Uncalibrated, that is their vote share; calibrated, the figures never add up past 100%."""
        if not self.alternatives:
            return []
        (best, best_share), rest = self.alternatives[0], self.alternatives[1:]
        others = 1.0 - best_share  # the votes of every other label, also those past the top 3
        left = max(0.0, 1.0 - self.confidence)
        scaled = [(a, round(left * share / others, 4) if others > 0 else 0.0) for a, share in rest]
        return [(best, self.confidence), *scaled]

    def evidence(self) -> list[LabelEvidence]:
        """The top labels with their confidence (as `label_confidences`) and what each rests on: the
        neighbours that voted for it (how many, how close the closest of them is), or for a zero-shot
        suggestion the similarity of its words to the photos."""
        out = []
        for label, confidence in self.label_confidences():
            if self.similarities:
                out.append(LabelEvidence(label, confidence, (), 0, self.similarities[label]))
                continue
            ranks = tuple(r for r, n in enumerate(self.neighbours, start=1) if n.label == label)
            out.append(LabelEvidence(label, confidence, ranks, len(self.neighbours)))
        return out


@dataclass
class ReviewData:
    """What the review queue shows: suggestions for unlabelled articles and the photos it needs."""

    suggestions: list[Suggestion]
    photos: dict[str, list[str]]  # article -> photo paths (relative to the photo folder), cover first
    known_labels: list[str]  # every value of the field in the catalog, for completion
    skipped: set[str] = field(default_factory=set)  # articles whose last decision was a skip
    labelled: int = 0  # articles with a label in this field
    note: str = ""  # how the suggestions were made, when not by labelled neighbours (zero-shot)
    unlabelled: int = 0  # articles without one: more than the suggestions when the queue asked for a batch


def check_field(name: str) -> str:
    """A label field name as given, refused when blank: a field nobody can see or type again."""
    if not name or not name.strip():
        raise InputError("A label field needs a name; it is blank.")
    return name


def check_values(labels: dict[str, str], field_name: str) -> None:
    """Suggestions need labelled articles of at least two values: with one, every vote agrees and every
    suggestion would read as certain."""
    values = set(labels.values())
    if len(values) != 1:  # none: the caller says to label some first
        return
    what = (
        f"The one labelled article of {field_name} has"
        if len(labels) == 1
        else f"All {len(labels):,} labelled articles of {field_name} have"
    )
    raise InputError(
        f"{what} one value ({next(iter(values))}); label articles with at least two values before asking "
        "for suggestions."
    )


# ----------------------------------------------------------------------- suggestions


# Votes weigh exp((score - best score) / T). Cosines of one model sit in a narrow band (0.3-1.0 here), so
# weighting by the raw score lets five far neighbours outvote two near-duplicates. Leave-one-out on the
# Magento catalogue (category, greedy, k=10): raw-score weights 86.5% accuracy and 76.5% coverage at 95%
# accuracy; T=0.05 97.9% and 100%; T=0.02 98.3% but less room for confidences between 0 and 1.
VOTE_TEMPERATURE = 0.05


def vote(
    neighbours: list[Neighbour], temperature: float = VOTE_TEMPERATURE
) -> tuple[str | None, float, list[tuple[str, float]]]:
    """Score-weighted vote: (best label, its share, top-3 labels with shares)."""
    weights: dict[str, float] = defaultdict(float)
    finite = [n for n in neighbours if np.isfinite(n.score)]
    if not finite:
        return None, 0.0, []
    top = max(n.score for n in finite)
    for n in finite:
        weights[n.label] += float(np.exp((n.score - top) / temperature))
    total = sum(weights.values())
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    shares = [(label, w / total) for label, w in ranked[:3]]
    return shares[0][0], shares[0][1], shares


# The labelled articles' vectors are copied as float32 up to this size (float16, as stored, beyond).
VOTERS_FLOAT32_BYTES = 512 << 20


class Suggester:
    """Suggests one label field from the labelled articles of a search index."""

    def __init__(
        self,
        index: SearchIndex,
        labels: dict[str, str],
        k: int = 10,
        method: str = "greedy",
        threshold: float | None = None,
        max_matches: int | None = None,
        rejected: dict[str, set[str]] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.index = index
        self.labels = labels  # article id -> label value for this field
        # article -> articles the curator decided are not a match for it: they never vote for it
        self.rejected = rejected or {}
        self.calibration = calibration  # raw vote share -> probability right; None: report the raw share
        self.k = k
        self.method = method
        self.threshold = threshold
        self.max_matches = max_matches
        self._labelled = [i for i, a in enumerate(index.av.articles) if a in labels]
        self._position = {i: p for p, i in enumerate(self._labelled)}  # catalog article -> voter index
        self._voters: SearchIndex | None = None

    def voters(self) -> SearchIndex:
        """A search index of the labelled articles alone, their vectors in one contiguous matrix: gathering
        them from the whole catalog's memory-mapped store for every suggestion took 90% of its time."""
        if self._voters is None:
            av = self.index.av
            rows = int(sum(av.offsets[i + 1] - av.offsets[i] for i in self._labelled))
            dtype = np.float32 if rows * av.dim * 4 <= VOTERS_FLOAT32_BYTES else av.vectors.dtype
            self._voters = SearchIndex(av.take(self._labelled, dtype))
        return self._voters

    def neighbours(self, article: int | str, exclude: tuple[int, ...] = ()) -> list[Neighbour]:
        """The k most similar labelled articles of a catalog article (never itself, nor `exclude`d articles
        or those decided "not a match" with it)."""
        av = self.index.av
        i = av.article_index(article) if isinstance(article, str) else int(article)
        rejected = [av.article_index(a) for a in self.rejected.get(av.articles[i], ()) if a in av]
        skip = [self._position[j] for j in (i, *exclude, *rejected) if j in self._position]
        rows = av.rows_of(i)
        result = self.voters().search(
            np.asarray(av.vectors[rows], dtype=np.float32),
            self.method,
            self.k,
            threshold=self.threshold,
            max_matches=self.max_matches,
            exclude=skip,
            query_views=av.views[rows],
            n_pairs=0,
        )
        return [Neighbour(h.article, h.score, self.labels[h.article]) for h in result.hits]

    def suggest(
        self, article: int | str, min_confidence: float = 0.0, exclude: tuple[int, ...] = ()
    ) -> Suggestion:
        name = article if isinstance(article, str) else self.index.av.articles[article]
        neighbours = self.neighbours(article, exclude)
        label, raw, alternatives = vote(neighbours)
        agreement = sum(n.label == label for n in neighbours) / len(neighbours) if neighbours else 0.0
        confidence = raw
        if self.calibration is not None and label is not None:
            confidence = self.calibration(raw, agreement)
        # Compare the confidence that is reported: a suggestion shown at 0.8162 must pass a 0.8162 threshold.
        confidence = round(confidence, 4)
        if label is not None and confidence < min_confidence:
            label = None
        return Suggestion(
            name,
            label,
            confidence,
            [(a, round(s, 4)) for a, s in alternatives],
            neighbours,
            round(raw, 4),
            round(agreement, 4),
        )


def suggest_unlabelled(
    suggester: Suggester,
    min_confidence: float = 0.0,
    order: str = "certain",
    limit: int | None = None,
    later: set[str] | frozenset[str] = frozenset(),
    progress=None,
) -> list[Suggestion]:
    """Suggestions for the articles without a label in the suggester's field, most certain first (or least):
    every one, or the first `limit` in the catalog's order, those in `later` (skipped ones) last.
    `progress(done, total, note)` after each."""
    articles = suggester.index.av.articles
    todo = [i for i, a in enumerate(articles) if a not in suggester.labels]
    if limit is not None and len(todo) > limit:
        todo = sorted(todo, key=lambda i: articles[i] in later)[:limit]  # stable: catalog order kept
    out = []
    for n, i in enumerate(todo, start=1):
        out.append(suggester.suggest(i, min_confidence))
        if progress is not None:
            progress(n, len(todo), "suggesting")
    out.sort(key=lambda s: (-s.confidence, s.article) if order == "certain" else (s.confidence, s.article))
    return out


# ----------------------------------------------------------------------- evaluation


@dataclass
class CurvePoint:
    threshold: float
    coverage: float
    accuracy: float


@dataclass
class LabelEvaluation:
    field: str
    method: str
    k: int
    n: int  # labelled articles evaluated
    n_labels: int
    accuracy: float  # at full coverage: a suggestion for every article
    coverage_at_95: float  # the largest coverage whose accuracy is >= 95%
    threshold_at_95: float | None
    curve: list[CurvePoint]
    threshold: float | None = None  # the s and m the neighbours were found with
    max_matches: int | None = None
    ece_raw: float = 0.0  # expected calibration error of the raw vote shares
    ece_calibrated: float | None = (
        0.0  # the same of calibrated confidences, fitted on other articles (2 folds)
    )
    reliability: list[dict] = field(default_factory=list)  # per confidence bin, calibrated (cross-fitted)
    reliability_raw: list[dict] = field(default_factory=list)
    calibrated: bool = True  # whether the curve is over calibrated confidences
    raw: list[float] = field(default_factory=list, repr=False)  # each article's raw vote share (for fitting)
    agreement: list[float] = field(default_factory=list, repr=False)  # its neighbours' plain agreement
    right: list[bool] = field(default_factory=list, repr=False)  # whether its suggestion was right
    n_labelled: int = 0  # curator-confirmed labelled articles (n of them were evaluated when there were more)
    n_unconfirmed: int = 0  # labelled by accepting suggestions in bulk: they vote, but are never asked
    not_calibrated: str | None = None  # why no calibration was fitted (then ece_calibrated is None)
    note: str = ""  # set when the adapter in use learned from these labels (the figures are optimistic)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["raw"], out["agreement"], out["right"]
        return out


def coverage_curve(confidences: np.ndarray, correct: np.ndarray) -> list[CurvePoint]:
    """Accuracy of the suggestions kept at each confidence threshold, and the share kept."""
    order = np.argsort(-confidences, kind="stable")
    conf, ok = confidences[order], correct[order].astype(np.float64)
    cum = np.cumsum(ok)
    points = []
    n = len(conf)
    # one point per distinct confidence: keeping everything at or above it
    last_of_value = np.flatnonzero(np.r_[conf[1:] != conf[:-1], True])
    for i in last_of_value:
        points.append(CurvePoint(float(conf[i]), float((i + 1) / n), float(cum[i] / (i + 1))))
    return points


# Unlabelled articles a review queue asks suggestions for at once (each is a search: 2,000 take about 18 s
# among 3,000 labelled articles of 60,000 photos); the next ones come when it is refreshed.
REVIEW_BATCH = 2000
# Labelled articles `labels evaluate` asks at most: each is a search (about 80 ms at a million photos).
MAX_QUERIES = 2000


def evaluate_labels(
    index: SearchIndex,
    labels: dict[str, str],
    field_name: str = DEFAULT_FIELD,
    k: int = 10,
    method: str = "greedy",
    target: float = 0.95,
    groups: dict[str, str] | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
    rejected: dict[str, set[str]] | None = None,
    calibrate: bool = True,
    limit: int | None = None,
    seed: int = 0,
    confirmed: Collection[str] | None = None,
) -> LabelEvaluation:
    """Leave-one-out: suggest each labelled article's label from all the other labelled articles (at most
    `limit` of them asked, drawn at random by `seed`; every other labelled article still votes).

    confirmed: the articles whose label the curator confirmed (default: every labelled one). Only those are
    asked: a label accepted in bulk from a suggestion is what suggestions said, not a truth to score them on.

    groups (article -> group, e.g. its style): leave out the query's whole group, not only the query. Other
    colours of one style are near-duplicates with the same label, so plain leave-one-out flatters the
    figures; leaving the group out measures a product with no sibling in the catalog.
    calibrate: report the curve over calibrated confidences, each fitted on the other half of the articles
    (cross-fitting), as a curator would see them; the raw vote shares' calibration error is reported too.
    """
    labelled = [i for i, a in enumerate(index.av.articles) if a in labels]
    present = [i for i in labelled if confirmed is None or index.av.articles[i] in confirmed]
    if len(present) < 2:
        raise UserError(
            f"Leave-one-out needs at least two articles with a '{field_name}' label"
            + (" set, imported or reviewed by a curator." if len(labelled) >= 2 else ".")
        )
    n_labelled = len(present)
    if limit is not None and len(present) > limit:
        present = sorted(np.random.default_rng(seed).choice(present, size=limit, replace=False).tolist())
    suggester = Suggester(
        index, labels, k=k, method=method, threshold=threshold, max_matches=max_matches, rejected=rejected
    )
    members: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(index.av.articles):
        if groups and a in groups:
            members[groups[a]].append(i)
    raw = np.zeros(len(present))
    agreement = np.zeros(len(present))
    correct = np.zeros(len(present), dtype=bool)
    for j, i in enumerate(present):
        group = groups.get(index.av.articles[i]) if groups else None
        siblings = tuple(m for m in members.get(group, []) if m != i) if group is not None else ()
        s = suggester.suggest(i, exclude=siblings)  # the query itself is never among its own neighbours
        raw[j] = s.raw_confidence if s.raw_confidence is not None else s.confidence
        agreement[j] = s.agreement or 0.0
        correct[j] = s.label == labels[index.av.articles[i]]
    asked_values = [labels[index.av.articles[i]] for i in present]
    not_calibrated = why_not_fitted(len(present), n_labelled, asked_values) if calibrate else "not asked for"
    calibrate = not_calibrated is None
    conf = cross_fitted(raw, agreement, correct) if calibrate else raw
    curve = coverage_curve(conf, correct)
    good = [p for p in curve if p.accuracy >= target]
    best = max(good, key=lambda p: p.coverage) if good else None
    out = LabelEvaluation(
        field_name,
        method,
        k,
        len(present),
        len(set(labels.values())),
        float(correct.mean()),
        best.coverage if best else 0.0,
        best.threshold if best else None,
        curve,
        threshold,
        max_matches,
        ece(raw, correct),
        ece(conf, correct) if calibrate else None,
        reliability(conf, correct),
        reliability(raw, correct),
        calibrate,
        raw.tolist(),
        agreement.tolist(),
        correct.tolist(),
        n_labelled,
        len(labelled) - len(present),
        not_calibrated,
    )
    return out


def curve_table(ev: LabelEvaluation, steps=(0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)) -> list[dict]:
    """The curve at round confidence thresholds, for printing; accuracy None where no suggestion is kept."""
    rows = []
    for t in steps:
        kept = [p for p in ev.curve if p.threshold >= t]
        if kept:
            p = min(kept, key=lambda q: q.threshold)
            rows.append({"min_confidence": t, "coverage": p.coverage, "accuracy": p.accuracy})
        else:
            rows.append({"min_confidence": t, "coverage": 0.0, "accuracy": None})  # no suggestion kept
    return rows


# ----------------------------------------------------------------------- import / export
