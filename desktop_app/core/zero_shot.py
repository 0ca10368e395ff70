"""Zero-shot label suggestions: score each article against the label names alone, with CLIP's text side.

Each label becomes text through prompts ("a product photo of {}"); several prompts are averaged into one
vector per label (CLIP's prompt ensembling). An article's score for a label is CLIP's logit, the model's
logit scale times the cosine, averaged over the article's photos, and its label probabilities are the
softmax over the labels. CLIP's raw probabilities are badly calibrated for a given catalogue (its temperature
was learnt on web captions), so where articles of the field are labelled already, one temperature is fitted
on them (temperature scaling: the maximum of their likelihood, with a weak pull towards CLIP's own scale so
that a handful of examples cannot make it extreme) and the confidence shown is the calibrated probability.
The zero-shot accuracy on those labelled articles is reported with it, so a curator sees how far to trust it.

The temperature is fitted only on labels the curator confirmed (`label_sources`: not zero-shot suggestions
accepted in bulk, which would make the model its own ground truth), and only when they hold at least two of
the label names: on one name alone, the likelihood only asks "be more confident" and every suggestion comes
out as that name at 0.98. Otherwise CLIP's own confidences stand, and the note says why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from desktop_app.core.errors import InputError
from desktop_app.core.labels import Suggestion
from desktop_app.core.text_encoder import has_words
from desktop_app.core.vectors import ArticleVectors

DEFAULT_PROMPT = "a product photo of {}"
FEW_LABELLED = 20  # below this many labelled articles the review queue offers zero-shot suggestions
MIN_CALIBRATION = 5  # curator-confirmed labelled articles needed before a temperature is fitted
MIN_CALIBRATION_VALUES = 2  # label names they must hold between them (one name only teaches overconfidence)
PRIOR = 1.0  # weight of (log T)^2 against the summed log-likelihood: keeps T near 1 with few examples
LOG_T_RANGE = (-4.0, 4.0)


@dataclass(frozen=True)
class LabelChoice:
    value: str  # the label as stored
    words: str  # what the prompt says for it


@dataclass
class Calibration:
    n: int  # labelled articles the temperature was fitted on
    temperature: float  # the logits are divided by it (1 = CLIP's own scale)
    accuracy: float  # share of them whose zero-shot label is right
    mean_confidence_raw: float  # mean top probability on them with CLIP's own scale
    mean_confidence: float  # the same after calibration (close to the accuracy when calibration works)


@dataclass
class ZeroShot:
    field: str
    choices: list[LabelChoice]
    prompts: list[str]
    suggestions: list[Suggestion]
    n_labelled: int  # articles of the field the curator confirmed a label among the choices for
    calibration: Calibration | None
    not_calibrated: str | None = None  # why no temperature was fitted (None when one was)
    n_unconfirmed: int = 0  # articles labelled among the choices by accepting suggestions in bulk (not used)

    def describe(self) -> str:
        """One line for the review queue and the command line."""
        head = f"zero-shot from {len(self.choices)} label names (CLIP, prompt “{self.prompts[0]}”"
        head += f" and {len(self.prompts) - 1} more)" if len(self.prompts) > 1 else ")"
        skipped = (
            f" ({self.n_unconfirmed} labels accepted in bulk from suggestions are not counted)"
            if self.n_unconfirmed
            else ""
        )
        c = self.calibration
        if c is None:
            return f"{head}; confidence not calibrated: {self.not_calibrated}{skipped}"
        return (
            f"{head}; confidence calibrated on {c.n} labelled articles, where zero-shot is right "
            f"{c.accuracy:.0%} of the time{skipped}"
        )

    def to_dict(self) -> dict:
        return {
            "field": self.field,
            "labels": [asdict(c) for c in self.choices],
            "prompts": self.prompts,
            "labelled": self.n_labelled,
            "unconfirmed": self.n_unconfirmed,
            "calibration": asdict(self.calibration) if self.calibration else None,
            "not_calibrated": self.not_calibrated,
            "suggestions": [s.to_dict() for s in self.suggestions],
        }


def parse_labels(items: Sequence[str], given: bool = True) -> list[LabelChoice]:
    """Label names, each "value" or "value=words to say it with"; blanks dropped, a value named twice kept once.

    CLIP reads words in lower case, so two labels said with the same words but for case are one label to it:
    names the curator gave (`given`) are refused then, and a field's own values that differ only in case are
    taken as one (the first). A name with nothing visible in it (zero-width spaces, control characters) is
    refused: the model would read it as nothing."""
    out: dict[str, LabelChoice] = {}
    said: dict[str, tuple[str, str]] = {}  # the words as the model reads them -> (value, words) said so
    for item in items:
        value, _, words = str(item).partition("=")
        value, words = value.strip(), words.strip()
        if not value and not words:
            continue
        for part in (value, words):
            if part and not has_words(part):
                raise InputError(
                    f"The label name {part!r} has no visible characters (only invisible or control ones); "
                    "give it in words."
                )
        if not value or value in out:
            continue
        words = words or value
        key = " ".join(words.casefold().split())
        if key in said:
            if given:
                raise InputError(_same_words(*said[key], value, words))
            continue
        said[key] = (value, words)
        out[value] = LabelChoice(value, words)
    return list(out.values())


def _same_words(value_a: str, words_a: str, value_b: str, words_b: str) -> str:
    how = (
        f"are both said as '{words_a}'"
        if words_a == words_b
        else f"differ only in case ('{words_a}', '{words_b}'), which the model does not see (it reads lower case)"
    )
    return (
        f"The labels '{value_a}' and '{value_b}' {how}; give one of them, or say one in other words "
        f"({value_b}=other words)."
    )


def check_prompts(prompts: Sequence[str]) -> tuple[str, ...]:
    prompts = tuple(p.strip() for p in prompts if p and p.strip())
    if not prompts:
        raise InputError(f"Give a prompt with {{}} where the label goes, e.g. “{DEFAULT_PROMPT}”.")
    for p in prompts:
        if p.count("{}") != 1 or p.replace("{}", "").count("{") or p.replace("{}", "").count("}"):
            raise InputError(
                f"The prompt “{p}” must hold {{}} once, where the label goes (e.g. “{DEFAULT_PROMPT}”)."
            )
    return prompts


def label_vectors(text_vectors: np.ndarray, n_labels: int, n_prompts: int) -> np.ndarray:
    """[n_labels, D]: each label's prompt vectors (label-major order) averaged and normalised."""
    mean = text_vectors.reshape(n_labels, n_prompts, -1).mean(axis=1)
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def article_similarities(av: ArticleVectors, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices of articles with photos, their similarities [n, L]): the cosine of each label's vector with
    each photo, averaged over the article's photos. CLIP's logit is the model's logit scale times it."""
    sizes = np.diff(np.asarray(av.offsets))
    present = np.flatnonzero(sizes > 0)
    per_photo = av.vectors @ labels.T
    sums = np.add.reduceat(per_photo, np.asarray(av.offsets)[present], axis=0)
    return present, sums / sizes[present][:, None]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature T that maximises the likelihood of the true labels under softmax(logits / T),
    with a weak prior on log T around 0."""

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        nll = -(z[np.arange(len(truth)), truth] - np.log(np.exp(z).sum(axis=1))).sum()
        return float(nll + PRIOR * log_t**2)

    from scipy.optimize import (
        minimize_scalar,
    )  # SciPy is imported when needed: the window process never needs it

    best = minimize_scalar(loss, bounds=LOG_T_RANGE, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(best.x))


def calibrate(logits: np.ndarray, truth: np.ndarray) -> Calibration:
    temperature = fit_temperature(logits, truth)
    raw, cal = softmax(logits), softmax(logits / temperature)
    accuracy = float((raw.argmax(axis=1) == truth).mean())
    return Calibration(
        len(truth),
        round(temperature, 4),
        accuracy,
        float(raw.max(axis=1).mean()),
        float(cal.max(axis=1).mean()),
    )


def why_not_calibrated(truth: np.ndarray, choices: Sequence[LabelChoice]) -> str | None:
    """Why a temperature cannot be fitted on these true label indices, in plain words (None: it can)."""
    values = np.unique(truth)
    if len(truth) == 0:
        return "no labelled article has one of these labels yet"
    if len(truth) < MIN_CALIBRATION:
        return (
            f"only {len(truth)} labelled articles have one of these labels, and {MIN_CALIBRATION} are needed"
        )
    if len(values) < MIN_CALIBRATION_VALUES:
        return (
            f"the {len(truth)} labelled articles with one of these labels are all '{choices[int(values[0])].value}', "
            f"and calibration needs examples of at least two of them"
        )
    return None


def suggest(
    av: ArticleVectors,
    known: dict[str, str],
    choices: list[LabelChoice],
    labels: np.ndarray,
    scale: float,
    field: str,
    prompts: list[str],
    confirmed: Collection[str] | None = None,
) -> ZeroShot:
    """Zero-shot suggestions for every article with photos and no label in `known`, most certain first.

    confirmed: the articles whose label the curator confirmed (default: all of `known`); only those are
    ground truth for the temperature."""
    present, similarities = article_similarities(av, labels)
    logits = scale * similarities
    index = {c.value: i for i, c in enumerate(choices)}
    articles = [av.articles[i] for i in present.tolist()]
    among = [j for j, a in enumerate(articles) if known.get(a) in index]
    labelled = [j for j in among if confirmed is None or articles[j] in confirmed]
    truth = np.array([index[known[articles[j]]] for j in labelled], dtype=int)
    reason = why_not_calibrated(truth, choices)
    calibration = None if reason else calibrate(logits[labelled], truth)
    probs = softmax(logits / (calibration.temperature if calibration else 1.0))
    out = []
    for j, article in enumerate(articles):
        if article in known:
            continue
        top = np.argsort(-probs[j], kind="stable")[:3]
        shares = [(choices[k].value, round(float(probs[j, k]), 4)) for k in top]
        similar = {choices[k].value: round(float(similarities[j, k]), 4) for k in top}
        out.append(Suggestion(article, shares[0][0], shares[0][1], shares, [], similarities=similar))
    out.sort(key=lambda s: (-s.confidence, s.article))
    return ZeroShot(
        field, choices, prompts, out, len(labelled), calibration, reason, len(among) - len(labelled)
    )
