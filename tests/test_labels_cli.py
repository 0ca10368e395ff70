"""`lookalike labels ...` as a curator types it: undo --force as its conflict message offers, folder levels
checked and reported for what they are, evaluations of small catalogs that say what they did not fit, and
counts in the singular when there is one."""

from __future__ import annotations

import csv
import json

import pytest

from desktop_app.cli import main
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from tests.conftest import SAMPLE, run_main


@pytest.fixture
def db(catalog_location, photo_tree, tiny_model) -> str:
    index_photos(catalog_location, photo_tree, model=tiny_model)
    return str(catalog_location)


def test_undo_force_takes_back_the_rest_and_keeps_the_newer_label(db, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("article,label\nred,tops\ngreen,tops\n")
    assert run_main(capsys, "labels", "import", "--csv", labels, "--db", db)[0] == 0
    with Engine.open(db) as engine:  # another curator corrects one of the imported labels
        engine.catalog.set_labels([("red", "category", "coats")], curator="anna", force=True)
    code, out, err = run_main(capsys, "labels", "undo", "--db", db)
    assert code == 2 and "anna" in err and "--force" in err, err
    code, out, err = run_main(capsys, "labels", "undo", "--force", "--db", db)
    assert code == 0, err
    # what was taken back, and what stayed because anna changed it since
    assert "Undid one import decision on 1 article." in out
    assert "Kept red (category) = coats: anna changed it since, and that stands." in out
    with Engine.open(db) as engine:
        assert engine.labels("category") == {"red": {"category": "coats"}}  # green back to none, anna's stays


def test_folder_level_is_checked_and_articles_without_one_are_said_so(db, capsys):
    with pytest.raises(SystemExit) as stop:  # refused while the options are read: nothing is opened
        main(["labels", "import", "--folder-level", "-1", "--db", db])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "--folder-level must be 0 or more" in err, err
    code, out, err = run_main(capsys, "labels", "import", "--folder-level", "5", "--db", db)
    assert code == 0, err
    assert "Applied 0 labels. 3 have no folder at level 5: " in out and "not in the catalog" not in out
    code, out, err = run_main(
        capsys, "labels", "import", "--folder-level", "1", "--field", "colour", "--db", db
    )
    assert code == 0, err
    assert "Applied 1 label. 2 have no folder at level 1: green, red." in out
    code, out, err = run_main(capsys, "labels", "import", "--folder-level", "5", "--json", "--db", db)
    report = json.loads(out)
    assert report["applied"] == 0 and report["unknown"] == [] and len(report["no_folder"]) == 3


def test_evaluate_on_a_small_catalog_says_what_it_did_not_fit(tmp_path, sample_copy, capsys):
    db = tmp_path / "c.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with open(SAMPLE / "manifest.csv", encoding="utf-8") as fh:
        truth = dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))
    with Engine.open(db) as engine:  # labels no look predicts: no suggestion is ever sure, none reaches 1.0
        engine.set_label_items(
            [(a, "category", f"x{i % 3}") for i, a in enumerate(truth)], "import", "import"
        )

    code, out, err = run_main(capsys, "labels", "evaluate", "--json", "--db", db)
    assert code == 0, err
    report = json.loads(out)  # strict JSON: no NaN
    assert report["ece_calibrated"] is None
    assert report["not_calibrated"] == "needs at least 50 labelled articles, has 33"
    empty = [r for r in report["table"] if r["coverage"] == 0.0]
    assert empty and all(r["accuracy"] is None for r in empty)  # no suggestion kept: no accuracy

    code, out, err = run_main(capsys, "labels", "evaluate", "--db", db)
    assert code == 0, err
    assert "nan" not in out.lower()
    assert "no calibration fitted (needs at least 50 labelled articles, has 33)" in out
    assert "calibrated confidences" not in out

    code, out, err = run_main(capsys, "labels", "evaluate", "--queries", "10", "--json", "--db", db)
    assert json.loads(out)["not_calibrated"] == "needs at least 50 labelled articles asked, 10 were"


def test_labels_export_to_standard_output(db, tmp_path, capsys):
    """`labels export -` writes to stdout for a pipe (no file named "-"); the count goes to stderr."""
    with Engine.open(db) as engine:
        engine.set_labels(["red"], "category", "=tops")
    code, out, err = run_main(capsys, "labels", "export", "-", "--db", db)
    assert code == 0 and out.splitlines() == ["article,field,label,source", "red,category,'=tops,manual"]
    assert "Wrote 1 label" in err and not (tmp_path / "-").exists()
