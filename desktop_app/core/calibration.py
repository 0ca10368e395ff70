"""Label-suggestion confidence that means what it says.

A suggestion's raw confidence is its label's share of the neighbours' score-weighted votes. Two things make
it mislead: on a catalogue with near-duplicate siblings it is too modest (a raw 0.55 was right 80% of the
time on Magento), and one very close neighbour can push it to 100% while the other neighbours disagree.
Calibration maps each suggestion to the probability that it is right, learned by leave-one-out on the
catalog's own labelled articles: a logistic fit (Platt scaling) on two features, the weighted share and the
plain share of neighbours that agree. So "confidence >= 0.9" means about 90% of such suggestions were right.
The expected calibration error (ECE) says how far confidences are from that, on articles the fit did not see.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

BINS = 10
# Fewer labelled articles than this say too little to fit on (two folds of 25 for an honest measure).
MIN_FIT = 50


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |x| (NumPy's own: SciPy costs the window 0.4 s to
    import)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def features(raw: np.ndarray, agreement: np.ndarray) -> np.ndarray:
    """[n, 3]: logit of the weighted share, logit of the plain agreement, and 1 (the bias)."""
    raw, agreement = np.atleast_1d(raw), np.atleast_1d(agreement)
    return np.column_stack([_logit(raw), _logit(agreement), np.ones(len(raw))])


IDENTITY = np.array([1.0, 0.0, 0.0])  # coefficients of "the raw share is the probability"


def _penalised_loss(X: np.ndarray, t: np.ndarray, w: np.ndarray, reg: np.ndarray) -> float:
    """Log loss against targets t, plus the ridge pull of w towards the identity."""
    z = X @ w
    # log(1 + e^z) - t z, written without overflow
    loss = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - t * z
    d = w - IDENTITY
    return float(loss.sum() + 0.5 * d @ reg @ d)


def logistic(X: np.ndarray, correct: np.ndarray, ridge: float = 0.1) -> np.ndarray:
    """Coefficients of p = sigmoid(X w), fitted by damped Newton on the log loss with a ridge towards the
    identity (w = [1, 0, 0]: the raw share as it is).

    Platt's targets (a little away from 0 and 1) keep the fit finite when every suggestion was right. The
    ridge and a backtracking line search keep it finite when the features nearly separate right from wrong
    (with an adapter on, most raw shares are exactly 1): a plain Newton step there went to coefficients of
    1e10 and every confidence to 0 or 1."""
    y = np.asarray(correct, float)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    w = IDENTITY.copy()
    reg = ridge * np.eye(X.shape[1])
    reg[-1, -1] = 1e-6  # the bias is barely pulled
    loss = _penalised_loss(X, t, w, reg)
    for _ in range(100):
        p = expit(X @ w)
        grad = X.T @ (p - t) + reg @ (w - IDENTITY)
        hess = (X * (p * (1 - p))[:, None]).T @ X + reg
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-8:  # halve the step until the loss goes down (Armijo)
            trial = w - size * step
            trial_loss = _penalised_loss(X, t, trial, reg)
            if trial_loss <= loss - 1e-4 * size * float(grad @ step):
                break
            size /= 2
        else:
            break  # no step lowers the loss: at the minimum, to rounding
        w, loss = trial, trial_loss
        if np.abs(size * step).max() < 1e-10:
            break
    return w


def log_loss(p: np.ndarray, correct: np.ndarray) -> float:
    """Mean negative log-likelihood of outcomes under probabilities p (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    y = np.asarray(correct, float)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per confidence bin: its range, how many suggestions, their mean confidence and their accuracy."""
    conf = np.asarray(confidence, float)
    ok = np.asarray(correct, float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "n": int(mask.sum()),
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(ok[mask].mean()),
                }
            )
    return rows


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the mean |accuracy - confidence| over equal-width bins, by bin size."""
    rows = reliability(confidence, correct, bins)
    return float(sum(abs(r["accuracy"] - r["confidence"]) * r["n"] for r in rows) / max(len(confidence), 1))


@dataclass
class Calibration:
    """(weighted share, agreement) -> probability that the suggestion is right, for one field and setting."""

    coef: np.ndarray  # [3]
    n: int  # labelled articles it was fitted on
    key: dict = field(default_factory=dict)  # what it was fitted for (field, vectors, settings, k)

    def __call__(self, raw: float | np.ndarray, agreement: float | np.ndarray) -> float | np.ndarray:
        """The probability, never closer to 0 or 1 than n examples can show: (n + 1) / (n + 2) after n right
        answers (Laplace's rule of succession), so a review never reads "100%"."""
        out = np.clip(
            expit(features(raw, agreement) @ self.coef), 1 / (self.n + 2), (self.n + 1) / (self.n + 2)
        )
        return float(out[0]) if np.ndim(raw) == 0 else out

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.asarray(self.coef, float))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, n: int, key: dict) -> Calibration:
        return cls(np.load(io.BytesIO(data)), n, key)


def fit(raw: np.ndarray, agreement: np.ndarray, correct: np.ndarray, key: dict | None = None) -> Calibration:
    """A calibration from leave-one-out suggestions: their two shares and whether each was right.

    The fit is kept only when it predicts better than the raw shares on examples it did not see (two
    halves, each fitted on the other); otherwise the calibration is the identity and confidences stay the
    raw shares (bounded as every calibration is)."""
    raw, agreement, correct = np.asarray(raw, float), np.asarray(agreement, float), np.asarray(correct)
    X = features(raw, agreement)
    if not _beats_raw(X, correct):
        return Calibration(IDENTITY.copy(), len(raw), dict(key or {}))
    return Calibration(logistic(X, correct), len(raw), dict(key or {}))


def _beats_raw(X: np.ndarray, correct: np.ndarray, seed: int = 0) -> bool:
    """Whether a logistic fit beats the identity on held-out halves (by log loss, summed over both)."""
    half = np.random.default_rng(seed).permutation(len(X)) % 2 == 0
    fitted = identity = 0.0
    for held in (half, ~half):
        if held.all() or not held.any() or len(np.unique(correct[~held])) < 2:
            return True  # too few to check: the ridge keeps the fit near the identity anyway
        w = logistic(X[~held], correct[~held])
        fitted += log_loss(expit(X[held] @ w), correct[held]) * held.sum()
        identity += log_loss(expit(X[held] @ IDENTITY), correct[held]) * held.sum()
    return fitted < identity


def why_not_fitted(asked: int, labelled: int, values: Collection[str] = ()) -> str | None:
    """Why a calibration that asked `asked` of `labelled` curator-confirmed labelled articles, whose labels
    are `values`, fits nothing (too few, or all of one value), or None when it fits one.

    Articles of one value say how often suggestions are right for that value only, and teach every other
    suggestion the same confidence: at least two values are needed (when `values` are given)."""
    if asked < MIN_FIT:
        if labelled > asked:
            return f"needs at least {MIN_FIT} labelled articles asked, {asked} were"
        return f"needs at least {MIN_FIT} labelled articles, has {labelled}"
    distinct = set(values)
    if len(distinct) == 1:
        return (
            f"the {asked} labelled articles asked are all '{next(iter(distinct))}', and calibration needs "
            "examples of at least two values"
        )
    return None


def cross_fitted(
    raw: np.ndarray, agreement: np.ndarray, correct: np.ndarray, folds: int = 2, seed: int = 0
) -> np.ndarray:
    """Calibrated confidences where each article's comes from a fit on the other folds: an honest measure
    of calibration on articles it was not fitted on."""
    raw, agreement, correct = np.asarray(raw, float), np.asarray(agreement, float), np.asarray(correct)
    out = np.empty_like(raw)
    fold = np.random.default_rng(seed).integers(0, folds, len(raw))
    for f in range(folds):
        held = fold == f
        if held.all() or not held.any():
            out[held] = raw[held]
            continue
        out[held] = fit(raw[~held], agreement[~held], correct[~held])(raw[held], agreement[held])
    return out
