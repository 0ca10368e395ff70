"""Confidence calibration learns only from labels the curator confirmed, and only when they show at least two
values: a probe met a zero-shot calibration fitted on eleven "bags" (one class: "be more confident"), every
suggestion then read "bags 0.98", a bulk accept took all 156, and the next calibration was fitted on those
accepted labels, its own output as ground truth. Labels record where they came from; calibration (zero-shot
and from labelled neighbours) skips labels accepted in bulk, and says in one sentence why it did not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.core import calibration as cal
from desktop_app.core import label_sources as src
from desktop_app.core import zero_shot as zs
from desktop_app.core.engine import Engine
from desktop_app.core.storage import SCHEMA_VERSION, Catalog
from desktop_app.core.vectors import ArticleVectors
from tests.conftest import index_sample, run_main


def sources(engine: Engine, field: str = "category") -> dict[str, str]:
    return {r["article"]: r["source"] for r in engine.catalog.labels_with_source() if r["field"] == field}


# ----------------------------------------------------------------------------- zero-shot


@pytest.fixture
def clip_catalog(clip_model, tmp_path):
    pytest.importorskip("torch")
    return index_sample(tmp_path / "catalog.sqlite", "tiny-clip")


def test_zero_shot_does_not_calibrate_on_one_class(clip_catalog):
    """The probe: the only labelled articles among the choices are all "bags"."""
    with Engine.open(clip_catalog) as engine:
        articles = sorted(engine.catalog.article_keys())
        raw = {
            s.article: s.confidence
            for s in engine.zero_shot("category", ["hoodies", "pants", "bags"]).suggestions
        }
        engine.set_labels(articles[:11], "category", "bags", source="import", action="import")
        result = engine.zero_shot("category", ["hoodies", "pants", "bags"])
    assert result.calibration is None
    # raw confidences stand
    assert {s.article: s.confidence for s in result.suggestions} == {a: raw[a] for a in articles[11:]}
    note = result.describe()
    assert "not calibrated" in note and "all 'bags'" in note and "at least two" in note
    assert note.count(". ") == 0  # one plain sentence after the head


def test_zero_shot_does_not_calibrate_on_its_own_accepted_suggestions(clip_catalog, capsys):
    with Engine.open(clip_catalog) as engine:
        articles = sorted(engine.catalog.article_keys())
        engine.set_labels(articles[:3], "category", "tops")
        engine.set_labels(articles[3:6], "category", "bottoms")
        before = engine.zero_shot("category")
        assert before.calibration is not None and before.calibration.n == 6
        accepted = engine.accept_zero_shot("category", min_confidence=0.0)
        assert accepted == len(articles) - 6
        assert {sources(engine)[a] for a in articles[6:]} == {src.ZERO_SHOT_ACCEPTED}
        after = engine.zero_shot("category")
        # fitted on the six the curator set, as before: not on the 27 it accepted from itself
        assert after.calibration is not None and after.calibration.n == 6
        assert after.calibration.temperature == before.calibration.temperature
        assert after.n_unconfirmed == len(articles) - 6
        assert (
            f"{len(articles) - 6} labels accepted in bulk from suggestions are not counted"
            in after.describe()
        )
        # the curator confirms one (same value, by hand) and corrects another: both count from then on
        a, b = articles[6], articles[7]
        value = engine.field_labels("category")[a]
        other = "tops" if engine.field_labels("category")[b] == "bottoms" else "bottoms"
        assert engine.set_labels([a], "category", value) == 1  # a decision of its own
        assert engine.set_labels([b], "category", other) == 1
        assert sources(engine)[a] == sources(engine)[b] == src.MANUAL
        assert engine.zero_shot("category").calibration.n == 8
        assert engine.undo("category")  # b's correction, then a's confirmation: a is bulk-accepted again
        assert engine.undo("category")
        assert sources(engine)[a] == src.ZERO_SHOT_ACCEPTED and engine.field_labels("category")[a] == value
        assert engine.zero_shot("category").calibration.n == 6
    code, out, err = run_main(capsys, "labels", "suggest", "--zero-shot", "--json", "--db", str(clip_catalog))
    assert code == 0, err
    data = json.loads(out)
    assert data["labelled"] == 6 and data["unconfirmed"] == len(articles) - 6


def synthetic(n: int = 40, seed: int = 0) -> tuple[ArticleVectors, np.ndarray, list[zs.LabelChoice]]:
    """n one-photo articles and three label vectors; article i leans towards label i % 3."""
    rng = np.random.default_rng(seed)
    labels = rng.normal(size=(3, 16)).astype(np.float32)
    labels /= np.linalg.norm(labels, axis=1, keepdims=True)
    vectors = labels[np.arange(n) % 3] + 0.9 * rng.normal(size=(n, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    av = ArticleVectors(
        vectors, np.arange(n), np.arange(n + 1), [f"a{i:02d}" for i in range(n)], [None] * n, [""] * n
    )
    return av, labels, zs.parse_labels(["hoodies", "pants", "bags"])


def test_zero_shot_fits_only_on_confirmed_labels_of_two_values_or_more():
    av, labels, choices = synthetic()
    names = ["hoodies", "pants", "bags"]
    args = (choices, labels, 20.0, "category", [zs.DEFAULT_PROMPT])
    bags = {f"a{i:02d}": "bags" for i in range(2, 35, 3)}  # eleven, one class
    assert len(bags) == 11
    one_class = zs.suggest(av, bags, *args)
    assert one_class.calibration is None and "all 'bags'" in one_class.not_calibrated
    truth = {f"a{i:02d}": names[i % 3] for i in range(12)}
    two = zs.suggest(av, truth, *args)
    assert two.calibration is not None and two.calibration.n == 12
    # the same labels, accepted in bulk: taken as labels (no suggestion for them), never as ground truth
    trusted = zs.suggest(av, truth, *args, confirmed=set(list(truth)[:6]))
    assert trusted.calibration is not None and trusted.calibration.n == 6 and trusted.n_unconfirmed == 6
    assert {s.article for s in trusted.suggestions} == {s.article for s in two.suggestions}
    few = zs.suggest(av, truth, *args, confirmed={"a00", "a01"})
    assert few.calibration is None and f"{zs.MIN_CALIBRATION} are needed" in few.not_calibrated


# ----------------------------------------------------------------------------- from labelled neighbours


def test_bulk_accepted_labels_are_not_asked_when_calibrating(magento, monkeypatch):
    monkeypatch.setattr(cal, "MIN_FIT", 10)  # the sample catalog is small; the rule is the same
    db, truth = magento
    articles = list(truth)
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", truth[a]) for a in articles[:20]], "import", "import")
        first = engine.calibration("category", k=5)
        assert first is not None and first.n == 20
        assert engine.accept("category", min_confidence=0.0, k=5) == len(articles) - 20
        assert {sources(engine)[a] for a in articles[20:]} == {src.BULK_ACCEPTED}
        again = engine.calibration("category", k=5)
        # the accepted labels vote, but are never asked as if they were the truth
        assert again is not None and again.n == 20
        evaluation = engine.evaluate_labels("category", k=5)
        assert evaluation.n == 20 and evaluation.n_unconfirmed == len(articles) - 20


def test_no_calibration_when_the_confirmed_labels_have_one_value(magento, monkeypatch):
    """Curator-confirmed labels all one value (others voting, but accepted in bulk): nothing to calibrate on."""
    monkeypatch.setattr(cal, "MIN_FIT", 3)
    db, truth = magento
    bags = [a for a, v in truth.items() if v == "bags"]
    others = [a for a, v in truth.items() if v != "bags"][:10]
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", "bags") for a in bags], "import", "import")
        engine.set_label_items([(a, "category", truth[a]) for a in others], src.BULK_ACCEPTED, "accept")
        assert engine.calibration("category", k=5) is None
        evaluation = engine.evaluate_labels("category", k=5)
        assert evaluation.ece_calibrated is None and "all 'bags'" in evaluation.not_calibrated
        assert all(s.confidence == s.raw_confidence for s in engine.suggest("category", k=5))


def test_cli_accept_records_its_source_and_redo_keeps_it(magento, capsys):
    db, truth = magento
    articles = list(truth)
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", truth[a]) for a in articles[:20]], "import", "import")
    code, _out, err = run_main(
        capsys, "labels", "accept", "--min-confidence", "0", "--k", "5", "--db", str(db)
    )
    assert code == 0, err
    with Engine.open(db) as engine:
        assert {sources(engine)[a] for a in articles[20:]} == {src.BULK_ACCEPTED}
        last = engine.last_label_decision("category")
        assert last["action"] == "accept" and last["new_source"] == src.BULK_ACCEPTED
        # Edit ▸ Undo then Redo writes the bulk accept again as it was: still not the curator's truth
        from desktop_app.gui.history import redo_step, undo_newest

        step = undo_newest(engine)
        assert step is not None and not set(articles[20:]) & set(engine.field_labels("category"))
        redo_step(engine, step)
        assert {sources(engine)[a] for a in articles[20:]} == {src.BULK_ACCEPTED}


def test_an_exported_file_imported_back_does_not_confirm_bulk_accepts(magento, capsys, tmp_path):
    # A curator exports the labels, fixes one in a spreadsheet and imports the file back: the fixed label is
    # theirs, the bulk accepts in the same file stay bulk accepts (not ground truth for calibration).
    db, truth = magento
    articles = list(truth)
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", truth[a]) for a in articles[:20]], "import", "import")
        engine.accept("category", min_confidence=0.0, k=5)
        assert {sources(engine)[a] for a in articles[20:]} == {src.BULK_ACCEPTED}
    exported = tmp_path / "labels.csv"
    assert run_main(capsys, "labels", "export", str(exported), "--db", str(db))[0] == 0
    rows = exported.read_text(encoding="utf-8").splitlines()
    fixed = articles[20]
    rows = [r.replace(r.split(",")[2], "fixed-by-hand", 1) if r.startswith(fixed + ",") else r for r in rows]
    exported.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, _out, err = run_main(capsys, "labels", "import", "--csv", str(exported), "--db", str(db))
    assert code == 0, err
    with Engine.open(db) as engine:
        assert engine.field_labels("category")[fixed] == "fixed-by-hand"
        assert sources(engine)[fixed] == src.IMPORT
        assert {sources(engine)[a] for a in articles[21:]} == {src.BULK_ACCEPTED}


# ----------------------------------------------------------------------------- older catalogs


def test_migration_marks_the_bulk_accepts_of_older_catalogs(catalog_location):
    """Schema 6 wrote "accepted" for a bulk accept and for one suggestion accepted in the queue alike; their
    log tells them apart: a bulk accept is one decision of several "accept" events. Labels changed since keep
    their own source; undone accepts are marked in the log too (Redo writes them again as they were)."""
    arts = [f"a{i:02d}" for i in range(12)]
    with Catalog(catalog_location) as cat:
        cat.set_labels([(a, "category", "bags") for a in arts[:4]], "import", "import")
        cat.set_labels([(a, "category", "tops") for a in arts[4:8]], "accepted", "accept")  # a bulk accept
        cat.set_labels([(arts[8], "category", "tops")], "accepted", "accept")  # one reviewed in the queue
        cat.set_labels([(arts[7], "category", "pants")], "manual", "set")  # corrected since
        cat.set_labels([(a, "category", "hats") for a in arts[9:]], "accepted", "accept")
        cat.undo_last_decision()  # the last bulk accept, undone
        with cat.write() as conn:
            conn.exec_driver_sql("ALTER TABLE label_events DROP COLUMN new_source")
            conn.exec_driver_sql("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    with Catalog(catalog_location) as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        got = {r["article"]: r["source"] for r in cat.labels_with_source()}
        assert got == {
            **{a: "import" for a in arts[:4]},
            **{a: src.BULK_ACCEPTED for a in arts[4:7]},
            arts[7]: "manual",
            arts[8]: src.REVIEWED,
        }
        assert set(cat.labels("category", confirmed_only=True)) == {*arts[:4], arts[7], arts[8]}
        events = {(e["article"], e["new_value"]): e["new_source"] for e in cat.label_events(100)}
        assert events[(arts[9], "hats")] == src.BULK_ACCEPTED and events[(arts[8], "tops")] == src.REVIEWED
        assert events[(arts[0], "bags")] is None  # only accepts are told apart; other sources stand in labels
