"""Label defects a tester found, each as the curator met it: a confidence calibration kept after the labels
it was fitted on changed, imports that overwrote another curator's label or took no path but the stored
one, blank field names, suggestions from a field with one value, a JSON file given as CSV, and undo steps
for decisions that changed nothing."""

from __future__ import annotations

import pytest

from desktop_app.core import calibration as cal
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import InputError
from tests.conftest import run_main


@pytest.fixture
def db(catalog_location, photo_tree, tiny_model) -> str:
    """Articles red, green and shoes/blue (one per folder of photo_tree)."""
    index_photos(catalog_location, photo_tree, model=tiny_model)
    return str(catalog_location)


# ----------------------------------------------------------------------------- 1. calibration and labels


def test_a_calibration_is_refitted_when_the_labels_change(magento, monkeypatch):
    """Fitted on 26 true labels, then on the same plus 7 wrong ones; after undoing the wrong ones the
    confidences come from a fit on the 26 again, not from the one the mistake left behind."""
    monkeypatch.setattr(cal, "MIN_FIT", 10)  # the sample catalog is small; the rule is the same
    db, truth = magento
    articles = list(truth)
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", truth[a]) for a in articles[:26]], "import", "import")
        first = engine.calibration("category", k=5)
        assert first is not None and first.n == 26
        engine.set_label_items([(a, "category", "img") for a in articles[26:]], "folder", "import")
        mistaken = engine.calibration("category", k=5)
        assert mistaken is not None and mistaken.n == 33  # refitted on the labels as they are now
        assert engine.undo("category")
        again = engine.calibration("category", k=5)
        assert again is not None and again.n == 26 and again.coef.tolist() == first.coef.tolist()
        suggestions = {s.article: s for s in engine.suggest("category", k=5)}
        assert set(suggestions) == set(articles[26:])
        for s in suggestions.values():
            assert s.confidence == pytest.approx(
                again(s.raw_confidence, s.agreement), abs=2e-3
            )  # of rounded shares
        # One row per field and setting: refits replace it, stale ones are never read.
        assert len(engine.catalog.adapters(kind="calibration")) == 1


def test_a_calibration_is_not_fitted_when_every_suggestion_was_wrong(magento, monkeypatch, capsys):
    """Every article its own value: leave-one-out is never right, and a fit on that would call every
    suggestion 1/(n+2) likely. Confidences stay the raw vote shares."""
    monkeypatch.setattr(cal, "MIN_FIT", 10)
    db, truth = magento
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "sku", a) for a in list(truth)[:20]], "import", "import")
        assert engine.calibration("sku", k=5) is None
        suggestions = engine.suggest("sku", k=5)
        assert suggestions and all(s.confidence == s.raw_confidence for s in suggestions)
        assert max(s.confidence for s in suggestions) > 0.3
    code, out, err = run_main(capsys, "labels", "evaluate", "--field", "sku", "--k", "5", "--db", db)
    assert code == 0, err
    with Engine.open(db) as engine:
        assert engine.calibration("sku", k=5) is None  # evaluate stored no fit either


# ----------------------------------------------------------------------------- 2. other curators' labels


def test_import_does_not_overwrite_another_curators_label_without_force(db, tmp_path, capsys):
    with Engine.open(db) as engine:
        engine.catalog.set_labels([("red", "category", "ana-value")], curator="ana")
    path = tmp_path / "ben.csv"
    path.write_text("article,label\nred,ben-value\ngreen,ben-green\n", encoding="utf-8")
    code, out, err = run_main(capsys, "labels", "import", "--csv", path, "--db", db)
    assert code == 2 and err.count("\n") == 1, err
    assert "red" in err and "'ana-value'" in err and "ana" in err and "--force" in err
    with Engine.open(db) as engine:  # nothing written: not even the label nobody had set
        assert engine.labels("category") == {"red": {"category": "ana-value"}}
    code, out, err = run_main(capsys, "labels", "import", "--csv", path, "--force", "--db", db)
    assert code == 0, err
    assert out.startswith("Applied 2 labels.")
    with Engine.open(db) as engine:
        assert engine.labels("category") == {
            "red": {"category": "ben-value"},
            "green": {"category": "ben-green"},
        }


# ----------------------------------------------------------------------------- 3. paths as users type them


def test_import_takes_absolute_dot_and_current_folder_paths(db, photo_tree, tmp_path, capsys, monkeypatch):
    path = tmp_path / "paths.csv"
    path.write_text(
        f"path,label\n{photo_tree / 'red' / 'p0.jpg'},warm\n./green/p1.jpg,fresh\nphotos/shoes/blue/p0.jpg,cool\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(photo_tree.parent)  # photos/shoes/... is relative to here
    code, out, err = run_main(capsys, "labels", "import", "--csv", path, "--db", db)
    assert code == 0, err
    assert out.strip() == "Applied 3 labels."
    with Engine.open(db) as engine:
        assert {a: d["category"] for a, d in engine.labels("category").items()} == {
            "red": "warm",
            "green": "fresh",
            "shoes/blue": "cool",
        }


def test_an_import_none_of_whose_paths_is_known_says_what_they_are_relative_to(
    db, photo_tree, tmp_path, capsys
):
    path = tmp_path / "elsewhere.csv"
    path.write_text("path,label\n/nowhere/red/p0.jpg,warm\nmissing/p9.jpg,x\n", encoding="utf-8")
    code, out, err = run_main(capsys, "labels", "import", "--csv", path, "--db", db)
    assert code == 2 and err.count("\n") == 1, err
    assert "None of the 2 rows" in err and f"relative to the photo folder {photo_tree}" in err
    with Engine.open(db) as engine:
        assert engine.labels() == {} and engine.last_label_decision() is None


# ----------------------------------------------------------------------------- 4. blank field names


@pytest.mark.parametrize(
    "argv",
    [
        ["set", "red", "--value", "-", "--field", "  "],
        ["import", "--folder-level", "0", "--field", " "],
        ["suggest", "--field", "\t"],
        ["accept", "--field", " "],
        ["evaluate", "--field", ""],
    ],
)
def test_a_blank_field_name_is_refused(db, capsys, argv):
    with Engine.open(db) as engine:
        engine.set_label_items([("red", "category", "a"), ("green", "category", "b")], "import", "import")
    code, out, err = run_main(capsys, "labels", *argv, "--db", db)
    assert code == 2 and err.count("\n") == 1 and "field needs a name" in err, err
    with Engine.open(db) as engine:
        assert set(engine.labels()) == {"red", "green"} and all(
            set(d) == {"category"} for d in engine.labels().values()
        )


# ----------------------------------------------------------------------------- 5. one value in a field


def test_suggestions_from_a_field_with_one_value_are_refused(magento, capsys):
    db, truth = magento
    with Engine.open(db) as engine:
        engine.set_label_items([(a, "category", "hoodies") for a in list(truth)[:5]], "import", "import")
        engine.set_label_items([(list(truth)[0], "material", "cotton")], "import", "import")
        with pytest.raises(InputError, match="two values"):
            engine.review("category")
    wanted = (
        "All 5 labelled articles of category have one value (hoodies); label articles with at least two values "
        "before asking for suggestions."
    )
    for argv in (["suggest"], ["accept", "--min-confidence", "0.5"], ["evaluate"]):
        code, out, err = run_main(capsys, "labels", *argv, "--db", db)
        assert code == 2 and err.strip().endswith(wanted) and err.count("\n") == 1, (argv, err)
    code, out, err = run_main(capsys, "labels", "suggest", "--field", "material", "--db", db)
    assert code == 2 and "The one labelled article of material has one value (cotton)" in err, err
    with Engine.open(db) as engine:
        assert len(engine.labels("category")) == 5  # accept labelled nothing


# ----------------------------------------------------------------------------- 6. JSON given as CSV


def test_a_json_export_given_to_import_is_named_as_json(db, tmp_path, capsys):
    with Engine.open(db) as engine:
        engine.set_label_items([("red", "category", "a")], "import", "import")
    exported = tmp_path / "rt.json"
    assert run_main(capsys, "labels", "export", exported, "--db", db)[0] == 0
    code, out, err = run_main(capsys, "labels", "import", "--csv", exported, "--db", db)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{exported} is JSON; import takes CSV (labels export FILE.csv writes one)." in err


# ----------------------------------------------------------------------------- 7. decisions that change nothing


def test_a_decision_that_changes_nothing_logs_no_undo_step(db, tmp_path, capsys):
    path = tmp_path / "labels.csv"
    path.write_text("article,label\nred,tops\ngreen,pants\n", encoding="utf-8")
    assert run_main(capsys, "labels", "import", "--csv", path, "--db", db)[0] == 0
    code, out, err = run_main(capsys, "labels", "import", "--csv", path, "--db", db)
    assert code == 0, err
    assert out.strip() == f"Nothing changed: every label in {path} is already set so."
    code, out, err = run_main(capsys, "labels", "set", "red", "--value", "tops", "--db", db)
    assert code == 0 and out.strip() == "Nothing changed: every article already has that label.", out
    with Engine.open(db) as engine:
        assert len(engine.catalog.label_events()) == 2  # the first import's two events, nothing else
    code, out, err = run_main(capsys, "labels", "undo", "--db", db)
    assert code == 0 and "Undid one import decision on 2 articles." in out, out
    with Engine.open(db) as engine:
        assert engine.labels() == {}  # the undo took back what the import did
    code, out, err = run_main(capsys, "labels", "undo", "--db", db)
    assert out.strip() == "Nothing to undo."


def test_accepting_nothing_says_nothing_about_undo(db, capsys):
    with Engine.open(db) as engine:
        engine.set_label_items([("red", "category", "a"), ("green", "category", "b")], "import", "import")
    code, out, err = run_main(capsys, "labels", "accept", "--min-confidence", "1", "--db", db)
    assert code == 0, err
    assert out.strip() == "Accepted 0 suggestions with confidence >= 1.00" and "undo" not in out


def test_the_import_dialog_names_another_curators_label_and_overwrites_only_when_told(
    qtbot, catalog_location, photo_tree, tiny_model, tmp_path
):
    from PySide6.QtCore import Qt

    from desktop_app.gui.labels_import_dialog import ImportLabelsDialog

    index_photos(catalog_location, photo_tree, model=tiny_model)
    path = tmp_path / "ben.csv"
    path.write_text("article,label\nred,ben-value\ngreen,ben-green\n", encoding="utf-8")
    with Engine.open(catalog_location, remember=False) as engine:
        engine.catalog.set_labels([("red", "category", "ana-value")], curator="ana")
        dlg = ImportLabelsDialog(engine, "category")
        qtbot.addWidget(dlg)
        dlg.set_csv(path)
        qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
        box = dlg.conflict_box
        assert box is not None and box.isVisible() and dlg.report is None
        assert "ana" in box.informativeText() and "ana-value" in box.informativeText()
        assert engine.labels("category") == {"red": {"category": "ana-value"}}  # nothing written
        mine = next(b for b in box.buttons() if b.text() == "Use mine")
        with qtbot.waitSignal(dlg.accepted):
            qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
        assert dlg.report is not None and dlg.report.applied == 2
        assert engine.labels("category") == {
            "red": {"category": "ben-value"},
            "green": {"category": "ben-green"},
        }
