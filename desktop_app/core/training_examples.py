"""The training data of a catalog-adapted embedding (`core.adapt`): classes of photos that belong together,
from the catalog's own structure and the curator's work, and the labels' weaker hint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.errors import InputError
from desktop_app.core.vectors import ArticleVectors

# Photos a training run reads at most: enough for a 1280-d scatter many times over, and about 130 MB of
# float16 vectors however large the catalog (a million photos would need gigabytes).
MAX_TRAIN_PHOTOS = 50_000
# What an adapter can learn from (`training_sources`).
SOURCES = ("decisions", "groups", "labels")


def training_sources(sources: Sequence[str] | None, groups: Path | None) -> tuple[str, ...]:
    """What a training run learns from: `sources` as asked, each of SOURCES; None for all there are
    (decisions and labels, and groups when a groups file is given). Refused (InputError): a groups file
    with sources that leave groups out (it would be read for nothing, yet recorded as learned from), and
    groups asked for without a file."""
    if sources is None:
        return tuple(s for s in SOURCES if s != "groups" or groups is not None)
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise InputError(f"Unknown training source {', '.join(sorted(unknown))}; use {', '.join(SOURCES)}.")
    if groups is not None and "groups" not in sources:
        raise InputError(
            "--groups is read only when learning from groups: add groups to --from (--from "
            f"{','.join([*sources, 'groups'])}), or leave --groups out."
        )
    if "groups" in sources and groups is None:
        raise InputError("Training from groups needs a groups file: --groups CSV.")
    return tuple(sources)


@dataclass
class Examples:
    """Training photos with a class each, and pairs of classes the curator said do not match."""

    vectors: np.ndarray  # [N, D]
    classes: np.ndarray  # [N] int, 0..C-1
    negatives: list[tuple[int, int]] = field(default_factory=list)  # class pairs decided "not a match"
    sources: dict[str, int] = field(default_factory=dict)  # what the classes came from, counted
    # The labels' hint: the mean vector of each labelled article, and its label value as a class.
    hint_vectors: np.ndarray | None = None  # [H, D]
    hint_classes: np.ndarray | None = None  # [H] int
    grouped: tuple[str, ...] = ()  # the articles in classes of groups or same-product decisions
    warning: str = ""  # what the caller should hear about the data (e.g. a groups file mostly elsewhere)

    @property
    def n_hint_classes(self) -> int:
        return (
            int(self.hint_classes.max()) + 1
            if self.hint_classes is not None and len(self.hint_classes)
            else 0
        )

    @property
    def n_classes(self) -> int:
        return int(self.classes.max()) + 1 if len(self.classes) else 0


def examples(
    av: ArticleVectors,
    groups: dict[str, str] | None = None,
    same: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    rejected: dict[str, set[str]] | None = None,
    articles: set[str] | None = None,
    max_photos: int | None = None,
    seed: int = 0,
) -> Examples:
    """Classes of photos from the catalog's own structure and the curator's work.

    Articles joined by a group (groups CSV) or by same-product decisions (`same`: article -> group) form one
    class; any other article with two or more photos is a class of its own (its photos are one product).
    Labelled articles (`labels`: article -> value) also give the labels' hint (see `Examples`). `articles`
    limits the data (a training split). A large catalog gives at most `max_photos` (MAX_TRAIN_PHOTOS)
    photos: the articles of groups and decisions first, then labelled ones, then the others, each kind drawn
    at random (fixed by `seed`).
    """
    cls_of, tier, size, hinted = _classes_of(av, groups, same, labels, articles)
    cap = MAX_TRAIN_PHOTOS if max_photos is None else max_photos
    if sum(size) > cap:
        cls_of = _sample_classes(cls_of, tier, size, cap, seed)
    sources = {"groups": 0, "decisions": 0, "labels": 0, "articles": 0}
    for c in cls_of.values():
        sources[{"g": "groups", "d": "decisions", "a": "articles"}[c[0]]] += 1
    rows_arr, cls_arr = _class_rows(av, cls_of)
    negatives = _negative_pairs(av, cls_of, rows_arr, cls_arr, rejected) if rejected else []
    ex = Examples(av.vectors[rows_arr], cls_arr.astype(np.int64), negatives, sources)
    ex.grouped = tuple(a for a, c in cls_of.items() if c[0] in "gd")
    if labels and hinted:
        _add_label_hint(ex, av, labels, hinted[: max_photos or MAX_TRAIN_PHOTOS])
    return ex


def _classes_of(
    av: ArticleVectors,
    groups: dict[str, str] | None,
    same: dict[str, str] | None,
    labels: dict[str, str] | None,
    articles: set[str] | None,
) -> tuple[dict[str, str], list[int], list[int], list[int]]:
    """Each article's class name ("g:" group, "d:" decision, "a:" itself), with its sampling tier (0: the
    curator's groups and decisions, 1: labelled, 2: the others) and photo count; and the indices of the
    labelled articles that have photos (the labels' hint)."""
    cls_of: dict[str, str] = {}
    tier: list[int] = []
    size: list[int] = []
    sizes = np.diff(av.offsets)
    hinted: list[int] = []
    for i, a in enumerate(av.articles):
        if articles is not None and a not in articles:
            continue
        if labels and a in labels and sizes[i]:
            hinted.append(i)
        if groups and a in groups:
            cls_of[a], t = f"g:{groups[a]}", 0
        elif same and a in same:
            cls_of[a], t = f"d:{same[a]}", 0
        elif sizes[i] >= 2:
            cls_of[a], t = f"a:{a}", 1 if labels and a in labels else 2
        else:
            continue
        tier.append(t)
        size.append(int(sizes[i]))
    return cls_of, tier, size, hinted


def _sample_classes(
    cls_of: dict[str, str], tier: list[int], size: list[int], cap: int, seed: int
) -> dict[str, str]:
    """The articles that fit in `cap` photos, by tier and at random within a tier, in catalog order."""
    keys = list(cls_of)
    order = np.lexsort((np.random.default_rng(seed).random(len(keys)), tier))
    taken = np.sort(order[np.cumsum(np.asarray(size)[order]) <= cap])  # back in catalog order
    return {keys[k]: cls_of[keys[k]] for k in taken}


def _class_rows(av: ArticleVectors, cls_of: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """The catalog rows of the classes' photos and their class numbers (0..C-1), without the classes
    left with a single photo (nothing to learn from)."""
    names = sorted(set(cls_of.values()))
    index = {n: k for k, n in enumerate(names)}
    rows, classes = [], []
    for a, c in cls_of.items():
        r = av.rows_of(av.article_index(a))
        rows.extend(range(r.start, r.stop))
        classes.extend([index[c]] * (r.stop - r.start))
    counts = np.bincount(np.asarray(classes, dtype=np.int64), minlength=len(names))
    keep = counts[np.asarray(classes, dtype=np.int64)] >= 2 if classes else np.zeros(0, bool)
    rows_arr = np.asarray(rows, dtype=np.int64)[keep]
    cls_arr = np.asarray(classes, dtype=np.int64)[keep]
    _, cls_arr = np.unique(cls_arr, return_inverse=True)
    return rows_arr, cls_arr


def _negative_pairs(
    av: ArticleVectors,
    cls_of: dict[str, str],
    rows_arr: np.ndarray,
    cls_arr: np.ndarray,
    rejected: dict[str, set[str]],
) -> list[tuple[int, int]]:
    """The pairs of classes (low, high) that hold two articles decided "not a match"."""
    class_at_row = dict(zip(rows_arr.tolist(), cls_arr.tolist()))

    def class_of(a: str) -> int | None:
        return class_at_row.get(av.rows_of(av.article_index(a)).start) if a in cls_of else None

    negatives = []
    for a, others in rejected.items():
        for b in others:
            ca, cb = class_of(a), class_of(b)
            if ca is not None and cb is not None and ca != cb:
                negatives.append(tuple(sorted((int(ca), int(cb)))))
    return sorted(set(negatives))


def _add_label_hint(ex: Examples, av: ArticleVectors, labels: dict[str, str], hinted: list[int]) -> None:
    """The labels' hint: the mean vector of each labelled article, its label value as a class."""
    values = [labels[av.articles[i]] for i in hinted]
    _, hint_classes = np.unique(values, return_inverse=True)
    ex.hint_vectors = np.stack([av.vectors[av.rows_of(i)].astype(np.float32).mean(axis=0) for i in hinted])
    ex.hint_classes = hint_classes.astype(np.int64)
    ex.sources["labels"] = len(hinted)
