"""Importing match decisions from CSV through `lookalike decide --import`: one batch that one undo takes
back, a pair named twice merged or refused before anything is written, notes read and kept, and undo's
--force doing what the conflict message says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine, index_photos
from tests.conftest import run_main


@pytest.fixture
def db(catalog_location, photo_tree, tiny_model) -> str:
    index_photos(catalog_location, photo_tree, model=tiny_model)
    return str(catalog_location)


def listed(capsys, db: str) -> list[dict]:
    code, out, err = run_main(capsys, "decide", "--list", "--json", "--db", db)
    assert code == 0, err
    return json.loads(out)


def test_a_pair_named_twice_with_the_same_decision_is_one_decision(db, tmp_path, capsys):
    csv = tmp_path / "twice.csv"
    csv.write_text(
        "article_a,article_b,decision\nred,green,same\ngreen,red,same product\nred,shoes/blue,alike\n"
    )
    code, out, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 0, err
    assert "Imported 2 decisions" in out
    assert {(r["article_a"], r["article_b"], r["decision"]) for r in listed(capsys, db)} == {
        ("green", "red", "same"),
        ("red", "shoes/blue", "alike"),
    }
    code, out, err = run_main(capsys, "decide", "--undo", "--db", db)
    assert code == 0, err
    assert "Undid 2 decisions" in out
    assert listed(capsys, db) == []


def test_a_pair_named_twice_with_different_decisions_is_refused_before_writing(db, tmp_path, capsys):
    run_main(capsys, "decide", "red", "shoes/blue", "--alike", "--db", db)
    csv = tmp_path / "twice.csv"
    csv.write_text("article_a,article_b,decision\nred,shoes/blue,same\ngreen,red,same\nred,green,not_match\n")
    code, out, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "lines 3 and 4" in err and "red / green" in err and "same and not_match" in err
    assert [r["decision"] for r in listed(capsys, db)] == ["alike"]  # nothing of the file was written


def test_undo_of_an_import_checks_only_decisions_made_after_it_by_others(db, tmp_path, capsys):
    csv = tmp_path / "pairs.csv"
    csv.write_text("article_a,article_b,decision\nred,green,same\nred,shoes/blue,alike\n")
    assert run_main(capsys, "decide", "--import", csv, "--db", db)[0] == 0
    with Engine.open(db) as engine:  # another curator decides one of the pairs again
        engine.catalog.decide([("green", "red", "not_match")], curator="anna", force=True)
    code, out, err = run_main(capsys, "decide", "--undo", "--db", db)
    assert code == 2 and "anna" in err and "--force" in err, err
    code, out, err = run_main(capsys, "decide", "--undo", "--force", "--db", db)
    assert code == 0, err
    # the output says what stayed: the pair anna decided since keeps her decision
    assert "Undid 1 decision: green / red" not in out and "Undid 1 decision: red / shoes/blue" in out
    assert "Kept green / red: anna decided it not_match since, and that stands." in out
    # the import is taken back; what anna decided after it stays
    assert [(r["article_b"], r["decision"], r["curator"]) for r in listed(capsys, db)] == [
        ("red", "not_match", "anna")
    ]


def test_an_import_never_replaces_another_curators_decision_without_force(db, tmp_path, capsys):
    with Engine.open(db) as engine:
        engine.catalog.decide([("green", "red", "alike")], curator="anna", force=True)
    csv = tmp_path / "pairs.csv"
    csv.write_text("article_a,article_b,decision\nred,green,not_match\nred,shoes/blue,same\n")
    code, _, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 2 and "anna" in err and "--force" in err, err
    assert [(r["decision"], r["curator"]) for r in listed(capsys, db)] == [
        ("alike", "anna")
    ]  # nothing written
    assert run_main(capsys, "decide", "--import", csv, "--force", "--db", db)[0] == 0
    assert {r["decision"] for r in listed(capsys, db)} == {"not_match", "same"}


def test_a_pair_of_one_article_is_a_user_error(db, tmp_path, capsys):
    csv = tmp_path / "self.csv"
    csv.write_text("article_a,article_b,decision\nred,green,alike\nred,red,same\n")
    code, out, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "line 3" in err and "two different articles" in err
    code, out, err = run_main(capsys, "decide", "red", "red", "--same", "--db", db)
    assert code == 2 and err.count("\n") == 1 and "two different articles" in err, err
    assert listed(capsys, db) == []


def test_import_reads_notes_and_keeps_them_when_the_file_has_none(db, tmp_path, capsys):
    run_main(capsys, "decide", "red", "green", "--same", "--note", "checked tags", "--db", db)
    exported = tmp_path / "rt.csv"
    assert run_main(capsys, "decide", "--export", exported, "--db", db)[0] == 0
    code, out, err = run_main(capsys, "decide", "--import", exported, "--db", db)
    assert code == 0, err
    assert [r["note"] for r in listed(capsys, db)] == ["checked tags"]  # a round trip keeps the note

    noted = tmp_path / "noted.csv"
    noted.write_text("article_a,article_b,decision,note\nred,shoes/blue,alike,same cut\n")
    assert run_main(capsys, "decide", "--import", noted, "--db", db)[0] == 0
    assert {r["article_b"]: r["note"] for r in listed(capsys, db)} == {
        "red": "checked tags",
        "shoes/blue": "same cut",
    }

    bare = (
        tmp_path / "bare.csv"
    )  # no note column: an unchanged decision keeps its note, a changed one has none
    bare.write_text("article_a,article_b,decision\ngreen,red,same\nred,shoes/blue,not_match\n")
    assert run_main(capsys, "decide", "--import", bare, "--db", db)[0] == 0
    assert {r["article_b"]: (r["decision"], r["note"]) for r in listed(capsys, db)} == {
        "red": ("same", "checked tags"),
        "shoes/blue": ("not_match", None),
    }

    cleared = tmp_path / "cleared.csv"  # a note column with an empty cell clears the note
    cleared.write_text("article_a,article_b,decision,note\ngreen,red,same,\n")
    assert run_main(capsys, "decide", "--import", cleared, "--db", db)[0] == 0
    assert {r["article_b"]: r["note"] for r in listed(capsys, db)}["red"] is None


def test_one_decision_imported_is_said_in_the_singular(db, tmp_path, capsys):
    csv = tmp_path / "one.csv"
    csv.write_text("article_a,article_b,decision\nred,green,same\n")
    code, out, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 0 and "Imported 1 decision " in out, out
    code, out, err = run_main(capsys, "decide", "--undo", "--db", db)
    assert code == 0 and "Undid 1 decision:" in out, out


def test_a_batch_that_names_a_pair_twice_still_undoes(db, capsys):
    # Catalogs written before imports merged repeated pairs hold such batches: their undo must not jam.
    with Engine.open(db) as engine:
        engine.catalog.decide([("red", "green", "same"), ("green", "red", "not_match")], curator="root")
        engine.catalog.decide([("red", "shoes/blue", "alike")], curator="root")
        assert len(engine.catalog.undo_decision(curator="root")) == 1
        assert len(engine.catalog.undo_decision(curator="root")) == 2
        assert engine.decisions() == []


@pytest.fixture
def spaced_db(tmp_path, photo_tree, tiny_model) -> str:
    """The three folder-articles and one whose folder name starts and ends with spaces."""
    from tests.conftest import write_photo

    write_photo(photo_tree / "  spaced  " / "p0.jpg", (120, 120, 40), seed=7)
    db = tmp_path / "spaced.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    return str(db)


def test_an_article_id_with_spaces_round_trips_and_a_spreadsheets_spaces_are_forgiven(
    spaced_db, tmp_path, capsys
):
    db, csv = spaced_db, tmp_path / "out.csv"
    assert run_main(capsys, "decide", "  spaced  ", "red", "--same", "--db", db)[0] == 0
    assert run_main(capsys, "decide", "--export", csv, "--db", db)[0] == 0
    assert run_main(capsys, "decide", "--undo", "--db", db)[0] == 0
    code, out, err = run_main(capsys, "decide", "--import", csv, "--db", db)
    assert code == 0, err
    assert [(r["article_a"], r["article_b"]) for r in listed(capsys, db)] == [("  spaced  ", "red")]
    hand = tmp_path / "hand.csv"  # spaces a spreadsheet or a hand edit left around ids the catalog has bare
    hand.write_text("article_a,article_b,decision\n green , red ,not a match\n spaced,red,alike\n")
    code, out, err = run_main(capsys, "decide", "--import", hand, "--db", db)
    assert code == 2 and "' spaced'" in err  # neither the id as written nor trimmed: named as written
    hand.write_text("article_a,article_b,decision\n green , red ,not a match\nred, red,alike\n")
    code, out, err = run_main(capsys, "decide", "--import", hand, "--db", db)
    assert code == 2 and "two different articles" in err  # ' red' is red: the same article twice
    hand.write_text("article_a,article_b,decision\n green , red ,not a match\n")
    assert run_main(capsys, "decide", "--import", hand, "--db", db)[0] == 0
    assert {(r["article_a"], r["article_b"]) for r in listed(capsys, db)} == {
        ("  spaced  ", "red"),
        ("green", "red"),
    }


def test_labels_of_an_article_id_with_spaces_round_trip(spaced_db, tmp_path):
    from desktop_app.core.label_files import export_labels, plan_csv_labels

    path = tmp_path / "labels.csv"
    with Engine.open(spaced_db) as engine:
        engine.set_labels(["  spaced  "], "category", "tops")
        engine.set_labels(["red"], "category", "warm")
        export_labels(engine.catalog, path)
        path.write_text(path.read_text().replace("\nred,", "\n red ,"))  # a spreadsheet's spaces around 'red'
        plan = plan_csv_labels(engine.catalog, path)
    assert plan.unknown == []
    assert sorted(plan.items) == [("  spaced  ", "category", "tops"), ("red", "category", "warm")]


# ------------------------------------------------------------ a large import: progress, cancel, terminal bar


@pytest.fixture
def many(db, tmp_path) -> tuple[str, Path, int]:
    """The indexed catalog plus 400 articles without photos, and a file of 5,000 decisions between them."""
    import random

    keys = [f"extra/a{i:03d}" for i in range(400)]
    with Engine.open(db) as engine:
        engine.catalog.sync_articles(keys)
    rng = random.Random(3)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < 5000:
        a, b = sorted(rng.sample(keys, 2))
        pairs.add((a, b))
    csv = tmp_path / "many.csv"
    csv.write_text(
        "article_a,article_b,decision\n"
        + "".join(
            f"{a},{b},{('same', 'alike', 'not_match')[i % 3]}\n" for i, (a, b) in enumerate(sorted(pairs))
        )
    )
    return db, csv, len(pairs)


def test_a_large_import_reports_its_progress_up_to_every_row(many):
    db, csv, rows = many
    seen: list[tuple[int, int, str]] = []
    with Engine.open(db) as engine:
        done = engine.import_decisions(csv, progress=lambda d, t, note: seen.append((d, t, note)))
        assert done.imported == rows and len(engine.decisions()) == rows
    assert len(seen) >= 3  # more than a start and an end: the bar moves while the rows are written
    assert all(t == rows for _, t, _ in seen)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1][0] == rows
    assert all(note for _, _, note in seen)


def test_a_cancelled_import_writes_nothing_and_undo_still_takes_back_the_step_before(many, capsys):
    from desktop_app.core.engine.decisions import ImportCancelled

    db, csv, rows = many
    with Engine.open(db) as engine:
        engine.decide("red", "green", "same")
        calls = []

        def cancel_after_some_rows() -> bool:
            return len(calls) >= 2

        with pytest.raises(ImportCancelled):
            engine.import_decisions(
                csv, progress=lambda *p: calls.append(p), should_cancel=cancel_after_some_rows
            )
        assert 0 < calls[-1][0] < rows  # it stopped part of the way through the rows...
        assert [(r["article_a"], r["article_b"]) for r in engine.decisions()] == [
            ("green", "red")
        ]  # ...writing none
        assert [u["article_b"] for u in engine.undo_decision()] == ["red"]
        assert engine.decisions() == []


def test_decide_import_shows_a_progress_bar_on_a_terminal_and_none_in_json(many, tmp_path):
    """The bar goes to stderr when stderr is a terminal (a real pseudo-terminal here); JSON output stays bare."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from tests.conftest import REPO

    db, csv, rows = many
    env = {**os.environ, "LOOKALIKE_HOME": str(tmp_path / "home")}

    def run(*extra: str) -> tuple[int, str, str]:
        main, sub = pty.openpty()
        fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal has a width
        proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "decide", "--import", str(csv), "--db", db, *extra],
            stdout=subprocess.PIPE,
            stderr=sub,
            env=env,
            cwd=REPO,
            text=True,
        )
        os.close(sub)
        err = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            err += chunk
        out = proc.stdout.read()
        os.close(main)
        return proc.wait(timeout=120), out, err.decode(errors="replace")

    code, out, err = run()
    assert code == 0 and f"Imported {rows:,} decisions" in out, (out, err)
    assert "Importing decisions" in err and f"/{rows}" in err, err
    with Engine.open(db) as engine:
        engine.undo_decision()
    code, out, err = run("--json")
    assert code == 0 and json.loads(out) == {"imported": rows, "unchanged": 0}
    assert "Importing" not in err, err
