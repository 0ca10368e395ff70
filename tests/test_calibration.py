"""Calibrated label confidence: on data where the raw vote share is known to mislead, the calibrated
confidence matches how often suggestions are right; the engine stores and uses a calibration per field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.core import calibration as cal
from desktop_app.core.engine import Engine, index_photos


def misleading(n: int = 4000, seed: int = 0):
    """Raw shares that are too modest when neighbours agree and too sure when one neighbour dominates."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.3, 1.0, n)
    agreement = np.clip(raw + rng.normal(0, 0.25, n), 0.05, 1.0)
    logit = np.log(agreement / (1 - agreement + 1e-9) + 1e-9)
    truth = 1 / (1 + np.exp(-(1.5 * logit - 0.5)))  # being right depends on agreement, not the raw share
    right = rng.uniform(size=n) < truth
    return raw, agreement, right


def test_calibrated_confidence_says_how_often_suggestions_are_right():
    raw, agreement, right = misleading()
    calibrated = cal.cross_fitted(raw, agreement, right)
    assert cal.ece(raw, right) > 0.05
    assert cal.ece(calibrated, right) < 0.03 and cal.ece(calibrated, right) < cal.ece(raw, right) / 2
    sure = calibrated >= 0.9
    assert sure.any() and right[sure].mean() == pytest.approx(calibrated[sure].mean(), abs=0.04)
    fitted = cal.fit(raw, agreement, right)
    restored = cal.Calibration.from_bytes(fitted.to_bytes(), fitted.n, {})
    assert restored(0.99, 0.1) < 0.6 < restored(0.6, 1.0)  # one dominant neighbour is not sure at all


def nearly_separable(seed: int, n: int = 300):
    """Suggestions as an adapter makes them: most raw shares exactly 1 and nearly all of those right, the rest
    split and right only when enough neighbours agree (the features nearly separate right from wrong)."""
    rng = np.random.default_rng(seed)
    unanimous = rng.uniform(size=n) < 0.85
    raw = np.where(unanimous, 1.0, rng.choice([0.4, 0.5, 0.6], n))
    agreement = rng.choice(np.arange(1, 11) / 10, n)
    right = np.where(unanimous, rng.uniform(size=n) < 0.97, (rng.uniform(size=n) < 0.5) & (agreement > 0.3))
    return raw, agreement, right


@pytest.mark.parametrize("seed", range(5))
def test_calibration_stays_finite_and_no_worse_than_raw_on_nearly_separable_suggestions(seed):
    """An undamped Newton fit went to coefficients of 1e10 on such data and put confidences of suggestions
    that were right 90% of the time at 0.7% (ECE 0.49 against 0.05 raw on Magento with an adapter)."""
    raw, agreement, right = nearly_separable(seed)
    assert np.abs(cal.logistic(cal.features(raw, agreement), right)).max() < 100
    calibrated = cal.cross_fitted(raw, agreement, right)
    assert cal.ece(calibrated, right) <= cal.ece(raw, right) + 0.02
    wrongly_unsure = (calibrated < 0.1) & right
    assert wrongly_unsure.mean() < 0.02


def test_a_fit_that_predicts_worse_than_the_raw_shares_is_not_kept():
    """Outcomes that do not depend on the features: the fit only learns noise, so the raw shares stay."""
    rng = np.random.default_rng(3)
    raw, agreement = rng.uniform(0.2, 1.0, 80), rng.uniform(0.2, 1.0, 80)
    right = rng.uniform(size=80) < raw  # the raw share is already the probability
    fitted = cal.fit(raw, agreement, right)
    assert fitted(0.7, 0.2) == pytest.approx(0.7, abs=0.1)


def test_a_calibration_never_claims_certainty_its_examples_cannot_show():
    """Fitted on 60 suggestions that were all right, a near-unanimous one is at most 61/62 (Laplace's rule
    of succession), never "100%"; likewise never 0."""
    rng = np.random.default_rng(1)
    raw, agreement = rng.uniform(0.5, 1.0, 60), rng.uniform(0.5, 1.0, 60)
    fitted = cal.fit(raw, agreement, np.ones(60, bool))
    assert fitted(0.999, 0.999) == pytest.approx(61 / 62) and fitted(0.999, 0.999) < 1.0
    assert fitted(0.001, 0.001) >= 1 / 62


def test_reliability_bins_and_ece_of_a_perfect_confidence():
    conf = np.repeat([0.15, 0.55, 0.95], 1000)
    right = np.concatenate([np.arange(1000) < 150, np.arange(1000) < 550, np.arange(1000) < 950])
    assert cal.ece(conf, right) == pytest.approx(0.0, abs=1e-9)
    assert [b["n"] for b in cal.reliability(conf, right)] == [1000, 1000, 1000]


def test_labels_evaluate_stores_a_calibration_that_suggest_uses(tmp_path, sample_copy, capsys, monkeypatch):
    import csv

    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
    from tests.conftest import SAMPLE

    monkeypatch.setattr(cal, "MIN_FIT", 10)  # the sample catalog is small; the rule is the same
    db = tmp_path / "c.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as fh:
        truth = dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", c) for a, c in list(truth.items())[:26]], "import", "import")

    assert main(["labels", "evaluate", "--db", str(db), "--json", "--k", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"ece_raw", "ece_calibrated", "reliability"} <= set(report) and report["reliability"]
    with Engine.open(db) as engine:
        assert engine.catalog.adapters(kind="calibration")  # stored for this field and setting
        ticks: list[tuple[int, int]] = []
        suggestions = engine.suggest("category", k=5, progress=lambda d, t, _note: ticks.append((d, t)))
        assert suggestions and all(s.raw_confidence is not None for s in suggestions)
        assert ticks == [(n, len(suggestions)) for n in range(1, len(suggestions) + 1)]  # one step each
        assert any(abs(s.confidence - s.raw_confidence) > 1e-3 for s in suggestions)
    assert main(["labels", "evaluate", "--db", str(db), "--k", "5"]) == 0
    assert "expected calibration error" in capsys.readouterr().out
