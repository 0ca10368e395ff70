"""A catalog-adapted embedding: a projection of a model's frozen photo vectors learned from the curator.

What the curator confirmed becomes classes of photos that belong together: the photos of one article, of
articles decided "same product", of one group in a groups CSV. Labels are a weaker hint: the articles of one
label value count as varying less from each other than other articles do (LABEL_WEIGHT), not as one
product, so search keeps following look within a label (benchmarks/adapt_labels.py). Two learners:

- ``whitening``: the closed form. Within-class whitening (WCCN, as in LDA): the regularised inverse square
  root of the within-class scatter, so the directions along which one product's photos vary (view, light,
  colour within a style) count less, then back to unit length.
- ``linear``: a linear map to d <= D trained with a supervised contrastive loss (every photo of a class
  should be nearer its class-mates than the photos of other classes in a batch; "not a match" pairs are
  pushed apart by a margin), started from the whitening map and pulled back towards it by weight decay.
  Plain numpy with Adam; no torch at run time.

`Adapter.apply` maps frozen vectors to adapted ones; switching the adapter off gives back the stored,
frozen vectors untouched. Adapted vectors have DEFAULT_DIM dimensions unless asked otherwise: on Magento
(benchmarks/adapt_magento.py --dim) whitening cut the held-out error by 67% at the model's 1280, 66% at 256
and 65% at 128, so 256 keeps the gain while a search process holds a fifth of the memory and work of the
full width (at a million photos, 0.5 GB of adapted float16 vectors instead of 2.5 GB).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from desktop_app.core.errors import InputError

# The training data lives in its own module; adapt.examples(...) and adapt.Examples stay where callers use them.
from desktop_app.core.training_examples import MAX_TRAIN_PHOTOS, Examples, examples  # noqa: F401
from desktop_app.core.vectors import ArticleVectors

KINDS = ("whitening", "linear")
DEFAULT_DIM = 256  # dimensions of the adapted vectors (fewer when the model has fewer)
# The fewest dimensions `adapt train --dim` takes: below it the projection drops what tells products apart.
# Held-out Magento styles (greedy mAP, frozen 0.927): 0.030 at 1, 0.606 at 8, 0.816 at 16, 0.926 at 32.
MIN_DIM = 32
CHUNK = 8192  # photos per block of the scatter's sums
# Weight of the spread between articles of one label value in the within-class scatter, against the spread
# of one product's photos. On Magento with two thirds of the articles labelled by category (benchmarks/
# adapt_labels.py, 5 seeds), labels as classes of their own ranked by category (category P@10 0.865) and
# squeezed whole categories above 0.99, at style mAP 0.937; as a hint, style mAP went 0.916 / 0.928 / 0.938 /
# 0.944 / 0.953 / 0.955 at weights 0.05 / 0.1 / 0.25 / 0.5 / 1 / 2 and category P@10 0.668 to 0.843 (frozen:
# 0.919 and 0.722). 1 keeps most of the gain in look with scores that still spread.
LABEL_WEIGHT = 1.0
Progress = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Training was cancelled by the caller; nothing was stored."""


@dataclass
class Adapter:
    kind: str
    model_id: str  # the frozen vectors it applies to
    mean: np.ndarray  # [D]
    matrix: np.ndarray  # [D, d]
    info: dict = field(default_factory=dict)
    id: int | None = None  # its row in the catalog, once stored
    # The articles it learned together as groups or same-product decisions: the ground truth it has seen,
    # which an evaluation of it on the same articles would only measure back.
    grouped: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def learned_from(self, protocol: str, articles: Sequence[str] = (), field: str | None = None) -> str:
        """What of an evaluation's ground truth this adapter learned from ("" when nothing): `protocol` is
        "split" (an article's own photos), "groups" (articles whose groups are the truth: a groups file or
        same-product decisions) or "labels" (the labels of `field`)."""
        sources = self.info.get("sources") or {}
        if protocol == "split":
            return "the photos of each article" if sources.get("articles") else ""
        if protocol == "labels":
            same = sources.get("labels") and self.info.get("label_field") == field
            return f"the '{field}' labels" if same else ""
        if not self.grouped and (sources.get("groups") or sources.get("decisions")):
            # stored before adapters recorded their articles: which ones it grouped is not known
            return "groups or same-product decisions that may be these"
        seen = set(self.grouped).intersection(articles)
        return f"the groups of {len(seen):,} of these articles" if seen else ""

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Frozen [N, D] vectors -> adapted, L2-normalised float32 [N, d]."""
        if len(vectors) == 0:
            return np.zeros((0, self.dim), np.float32)
        z = (np.asarray(vectors, np.float32) - self.mean) @ self.matrix
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def apply_to(self, av: ArticleVectors) -> ArticleVectors:
        """The adapted vectors of a whole catalog, a block at a time (float16 when the input is)."""
        out = np.empty((av.n_photos, self.dim), dtype=av.vectors.dtype if av.n_photos else np.float32)
        for start in range(0, av.n_photos, 50_000):
            out[start : start + 50_000] = self.apply(av.vectors[start : start + 50_000])
        return ArticleVectors(
            out,
            av.photo_ids,
            av.offsets,
            av.articles,
            av.views,
            av.paths,
            av.labels,
            f"{av.model_id}+adapter{self.id or ''}",
        )

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            mean=self.mean.astype(np.float32),
            matrix=self.matrix.astype(np.float32),
            grouped=np.asarray(self.grouped, dtype=str),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(
        cls, data: bytes, kind: str, model_id: str, info: dict, ident: int | None = None
    ) -> Adapter:
        with np.load(io.BytesIO(data)) as z:
            grouped = tuple(z["grouped"].tolist()) if "grouped" in z.files else ()  # (older adapters: none)
            return cls(kind, model_id, z["mean"], z["matrix"], info, ident, grouped)


# ============================================================================ learners


def fit_whitening(
    ex: Examples,
    model_id: str,
    dim: int | None = None,
    shrink: float = 0.3,
    label_weight: float = LABEL_WEIGHT,
) -> Adapter:
    """Within-class whitening: the regularised inverse square root of the within-class scatter.

    shrink: weight of the identity in the scatter (a fraction of its mean variance); with few classes and
    D in the thousands the raw scatter is far from full rank and must be pulled towards a sphere.
    label_weight: weight of the labels' hint, the scatter of labelled articles around their label's mean.
    """
    hint = label_weight > 0 and ex.n_hint_classes >= 2
    if ex.n_classes < 2 and not hint:
        raise InputError(
            "Adapting needs at least two classes of photos that belong together (articles with two "
            "or more photos, groups, same-product decisions or labels)."
        )
    X = ex.vectors if ex.n_classes >= 2 else ex.hint_vectors
    mean = _mean(X)
    D = X.shape[1]
    Sw = _within_scatter(ex.vectors, ex.classes) if ex.n_classes >= 2 else np.zeros((D, D))
    if hint:
        Sw += label_weight * _within_scatter(ex.hint_vectors, ex.hint_classes)
    avg = float(np.trace(Sw)) / Sw.shape[0]
    Sw = (1 - shrink) * Sw + shrink * avg * np.eye(Sw.shape[0])
    values, vectors = np.linalg.eigh(Sw)
    W = vectors / np.sqrt(np.maximum(values, 1e-12))
    if dim is not None and dim < W.shape[1]:
        # keep the directions where the classes differ most after whitening (LDA's between-class spread)
        means = _class_means(X, ex.classes if ex.n_classes >= 2 else ex.hint_classes)
        Z = (means - mean) @ W
        spread = (Z**2).sum(axis=0)
        W = W[:, np.argsort(-spread)[:dim]]
    info = {
        "classes": ex.n_classes,
        "photos": len(ex.vectors),
        "shrink": shrink,
        "dim": int(W.shape[1]),
        "label_weight": label_weight if hint else 0.0,
    }
    return Adapter("whitening", model_id, mean.astype(np.float32), W.astype(np.float32), info)


def _within_scatter(X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The scatter of X around its class means, per degree of freedom (float64 [D, D])."""
    means = _class_means(X, classes)
    S = np.zeros((X.shape[1], X.shape[1]))
    for start in range(0, len(X), CHUNK):  # a block at a time, never a float64 copy of all the photos
        centred = X[start : start + CHUNK].astype(np.float64) - means[classes[start : start + CHUNK]]
        S += centred.T @ centred
    return S / max(len(X) - len(means), 1)


def _class_means(X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    C = int(classes.max()) + 1
    sums = np.zeros((C, X.shape[1]))
    for start in range(0, len(X), CHUNK):
        np.add.at(sums, classes[start : start + CHUNK], X[start : start + CHUNK].astype(np.float64))
    return sums / np.bincount(classes, minlength=C)[:, None]


def _mean(X: np.ndarray) -> np.ndarray:
    total = np.zeros(X.shape[1])
    for start in range(0, len(X), CHUNK):
        total += X[start : start + CHUNK].sum(axis=0, dtype=np.float64)
    return total / len(X)


def fit_linear(
    ex: Examples,
    model_id: str,
    dim: int | None = None,
    epochs: int = 40,
    batch: int = 256,
    temperature: float = 0.1,
    lr: float = 3e-3,
    decay: float = 1e-3,
    margin: float = 0.3,
    seed: int = 0,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
    label_weight: float = LABEL_WEIGHT,
) -> Adapter:
    """A linear map trained with a supervised contrastive loss, from the whitening map (see module doc).

    The map is W0 (I + A): the whitening map W0 followed by a learned square matrix, so the optimiser works
    in whitened coordinates, where one learning rate suits every direction; weight decay pulls A to 0.
    """
    start = fit_whitening(ex, model_id, dim, label_weight=label_weight)
    if ex.n_classes < 2:  # only the labels' hint: nothing for the contrastive loss to pull together
        return start
    rng = np.random.default_rng(seed)
    W0 = start.matrix.astype(np.float32)
    Xw = (ex.vectors.astype(np.float32) - start.mean) @ W0  # whitened training photos
    d = W0.shape[1]
    eye = np.eye(d, dtype=np.float32)
    A = np.zeros((d, d), dtype=np.float32)
    m, v = np.zeros_like(A), np.zeros_like(A)
    by_class = [np.flatnonzero(ex.classes == c) for c in range(ex.n_classes)]
    neg_pairs = np.asarray(ex.negatives, dtype=np.int64).reshape(-1, 2)
    step = 0
    steps_per_epoch = max(1, len(Xw) // batch)
    total = epochs * steps_per_epoch
    losses: list[float] = []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            if should_cancel and should_cancel():
                raise Cancelled()
            idx = _batch(rng, by_class, batch)
            M = eye + A
            loss, grad = _supcon(Xw[idx], ex.classes[idx], M, temperature)
            if len(neg_pairs):
                nl, ng = _negative_margin(Xw, by_class, neg_pairs, M, margin, rng)
                loss, grad = loss + nl, grad + ng
            grad += decay * A
            step += 1
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            A -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
            losses.append(float(loss))
        if progress:
            progress(
                step, total, f"epoch {epoch + 1}/{epochs}, loss {np.mean(losses[-steps_per_epoch:]):.3f}"
            )
    info = {
        **start.info,
        "epochs": epochs,
        "temperature": temperature,
        "lr": lr,
        "decay": decay,
        "negative_pairs": int(len(neg_pairs)),
        "final_loss": round(float(np.mean(losses[-steps_per_epoch:])), 4),
    }
    return Adapter("linear", model_id, start.mean, (W0 @ (eye + A)).astype(np.float32), info)


def _batch(rng: np.random.Generator, by_class: list[np.ndarray], size: int) -> np.ndarray:
    """Photos of random classes, two or more of each, so every anchor has a positive."""
    picked: list[int] = []
    for c in rng.permutation(len(by_class)):
        members = by_class[c]
        take = min(len(members), 4)
        picked.extend(rng.choice(members, take, replace=False).tolist())
        if len(picked) >= size:
            break
    return np.asarray(picked[:size] if len(picked) > size else picked, dtype=np.int64)


def _normalised(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    return Z / norms, norms


def _back_through_norm(U: np.ndarray, norms: np.ndarray, dU: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. Z of a loss whose gradient w.r.t. U = Z / |Z| is dU."""
    return (dU - U * (U * dU).sum(axis=1, keepdims=True)) / norms


def _supcon(Xb: np.ndarray, yb: np.ndarray, W: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """Supervised contrastive loss of a batch and its gradient w.r.t. W."""
    U, norms = _normalised(Xb @ W)
    S = U @ U.T / tau
    np.fill_diagonal(S, -np.inf)
    S_max = S.max(axis=1, keepdims=True)
    P = np.exp(S - S_max)
    P /= P.sum(axis=1, keepdims=True)
    pos = (yb[:, None] == yb[None, :]) & ~np.eye(len(yb), dtype=bool)
    n_pos = pos.sum(axis=1)
    ok = n_pos > 0
    target = np.where(pos, 1.0 / np.maximum(n_pos[:, None], 1), 0.0)
    logp = np.where(np.isfinite(S), S - S_max - np.log(np.exp(S - S_max).sum(axis=1, keepdims=True)), 0.0)
    loss = float(-(target * logp).sum(axis=1)[ok].mean()) if ok.any() else 0.0
    G = np.where(ok[:, None], P - target, 0.0) / max(int(ok.sum()), 1)
    dU = (G + G.T) @ U / tau
    dZ = _back_through_norm(U, norms, dU)
    return loss, (Xb.T @ dZ).astype(np.float32)


def _negative_margin(X, by_class, pairs, W, margin, rng) -> tuple[float, np.ndarray]:
    """Push photos of class pairs decided "not a match" below a cosine margin."""
    a = np.array([rng.choice(by_class[i]) for i in pairs[:, 0]])
    b = np.array([rng.choice(by_class[j]) for j in pairs[:, 1]])
    Ua, na = _normalised(X[a] @ W)
    Ub, nb = _normalised(X[b] @ W)
    cos = (Ua * Ub).sum(axis=1)
    active = cos > margin
    if not active.any():
        return 0.0, np.zeros_like(W)
    scale = active[:, None] / len(pairs)
    dZa = _back_through_norm(Ua, na, Ub * scale)
    dZb = _back_through_norm(Ub, nb, Ua * scale)
    loss = float(np.maximum(cos - margin, 0).sum() / len(pairs))
    return loss, (X[a].T @ dZa + X[b].T @ dZb).astype(np.float32)


def train(
    ex: Examples,
    model_id: str,
    kind: str = "whitening",
    dim: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
    label_weight: float = LABEL_WEIGHT,
) -> Adapter:
    if kind not in KINDS:
        raise InputError(f"Unknown adapter kind {kind!r}; use one of {', '.join(KINDS)}.")
    t0 = time.perf_counter()
    width = ex.vectors.shape[1]
    if dim is not None and dim > width:  # a projection cannot add dimensions: refused, not quietly capped
        raise InputError(
            f"The model's vectors have {width} dimensions, so adapted ones can have at most that many "
            f"(asked: --dim {dim}); give --dim {width} or less, or leave it out (default: "
            f"{min(DEFAULT_DIM, width)})."
        )
    dim = DEFAULT_DIM if dim is None else dim
    if kind == "whitening":
        adapter = fit_whitening(ex, model_id, dim, label_weight=label_weight)
        if progress:
            progress(1, 1, "whitening")
    else:
        adapter = fit_linear(
            ex,
            model_id,
            dim,
            seed=seed,
            progress=progress,
            should_cancel=should_cancel,
            label_weight=label_weight,
        )
    adapter.info.update(seconds=round(time.perf_counter() - t0, 2), sources=ex.sources)
    adapter.grouped = ex.grouped
    return adapter


# ============================================================================ evaluation protocol


def split_groups(groups: dict[str, str], fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """Whole groups to the training side or the test side, never one group on both."""
    names = sorted(set(groups.values()))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    n_train = int(round(len(names) * fraction))
    train_groups = {names[i] for i in order[:n_train]}
    train = {a for a, g in groups.items() if g in train_groups}
    return train, set(groups) - train


def subset(av: ArticleVectors, articles: Sequence[str]) -> ArticleVectors:
    """The photos of some articles, as their own ArticleVectors (in the catalog's order)."""
    return av.take(sorted(av.article_index(a) for a in set(articles) if a in av))
