"""Mistakes a new user makes on the command line: each gets one line naming the cause and the fix, exit 2."""

from __future__ import annotations

import argparse
import json

import pytest

from desktop_app.cli import build_parser, main
from desktop_app.core.storage import Catalog
from tests.conftest import write_photo


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    assert (
        main(["index", str(photo_tree), "--db", str(db), "--model", str(tiny_model.manifest_path), "--json"])
        == 0
    )
    return db


def fails(capsys, *argv: str, needle: str) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert needle in err, err
    return err


def test_a_query_given_twice(indexed, capsys):
    fails(capsys, "similar", "red", "--article", "green", "--db", indexed, needle="Give the query once")
    fails(capsys, "similar", "red", "--image", indexed, "--db", indexed, needle="Give the query once")


def test_output_files_in_a_missing_folder_or_on_a_folder(indexed, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    for flag, name in (("--png", "out.png"), ("--csv", "out.csv")):
        fails(
            capsys, "inspect", "red", "green", "--db", indexed, flag, missing / name, needle="does not exist"
        )
        fails(capsys, "inspect", "red", "green", "--db", indexed, flag, tmp_path, needle="is a folder")
    fails(capsys, "labels", "export", missing / "labels.csv", "--db", indexed, needle="does not exist")
    fails(capsys, "labels", "export", tmp_path, "--db", indexed, needle="is a folder")
    Catalog(indexed).set_labels([("red", "category", "a"), ("green", "category", "b")])
    fails(
        capsys,
        "labels",
        "evaluate",
        "--db",
        indexed,
        "--plot",
        missing / "curve.png",
        needle="does not exist",
    )
    assert not missing.exists()  # nothing creates folders behind the user's back


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["similar", "--article", "red", "--top", "0"], "--top must be 1 or more"),
        (["similar", "--article", "red", "--top", "-3"], "--top must be 1 or more"),
        (["similar", "--article", "red", "--threshold", "2"], "--threshold must be between -1 and 1"),
        (["similar", "--article", "red", "--max-matches", "0"], "leave it out to count every pair"),
        (["similar", "--article", "red", "--method", "best"], "invalid choice"),
        (["labels", "suggest", "--k", "0"], "--k must be 1 or more"),
        (["labels", "accept", "--min-confidence", "1.5"], "between 0 and 1"),
        (["evaluate", "--split", "--seed", "-1"], "--seed must be 0 or more"),
        (["tune", "--split", "--seed", "-1"], "--seed must be 0 or more"),
        (["map", "--seed", "-1"], "--seed must be 0 or more"),
        (["evaluate", "--split", "--min-photos", "1"], "--min-photos must be 2 or more"),
        (["map", "--png", "map.jpg"], "does not end in .png"),
        (["catalog", "root", ""], "the folder is empty"),
        (["inspect", "red", "green", "--png", "m.jpeg"], "does not end in .png"),
        (["labels", "evaluate", "--plot", "curve.txt"], "does not end in .png"),
    ],
)
def test_option_values_out_of_range(indexed, capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--db", str(indexed)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "max_matches" not in err, err


def test_option_errors_reach_json_readers_on_stdout(indexed, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["similar", "red", "--top", "0", "--json", "--db", str(indexed)])
    out = capsys.readouterr().out
    assert exit_.value.code == 2 and "--top must be 1 or more" in json.loads(out)["error"]


@pytest.mark.parametrize("option", ["--batch-size", "--workers"])
def test_index_worker_options_out_of_range(photo_tree, tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        main(["index", str(photo_tree), "--db", str(tmp_path / "c.sqlite"), option, "0"])
    assert exit_.value.code == 2 and f"{option} must be 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "c.sqlite").exists()


def test_query_photo_that_never_existed(indexed, tmp_path, capsys):
    err = fails(capsys, "similar", "--image", tmp_path / "nope.jpg", "--db", indexed, needle="does not exist")
    assert "disappeared" not in err
    fails(capsys, "similar", "--article", "no-such-article", "--db", indexed, needle="There is no article")


def test_every_option_says_what_it_does_and_its_default():
    """Every option and argument has help; every option that takes a value says its default."""
    parser = build_parser()
    seen, missing = 0, []

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        nonlocal seen
        text = p.format_help()
        assert "{'option_strings'" not in text, name  # a stray % in a help text
        # one of several alternatives (what to search for, where the groups come from) has no default
        alternatives = {id(a) for g in p._mutually_exclusive_groups for a in g._group_actions}
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")
                continue
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            seen += 1
            where = f"{name} {action.option_strings or action.dest}"
            if not action.help:
                missing.append(f"{where}: no help")
            elif (
                action.option_strings
                and action.nargs != 0
                and id(action) not in alternatives
                and not action.required
                and "default" not in action.help.lower()
            ):
                missing.append(f"{where}: no default in help")

    walk(parser, "lookalike")
    assert seen > 40 and not missing, "\n".join(missing)


def test_labels_help_is_plain_text(capsys):
    with pytest.raises(SystemExit):
        main(["labels", "--help"])
    out = capsys.readouterr().out
    assert "option_strings" not in out and "evaluate" in out


def test_nothing_to_embed_says_so_and_stats_names_precision_and_device(
    indexed, photo_tree, tiny_model, capsys
):
    assert (
        main(["index", str(photo_tree), "--db", str(indexed), "--model", str(tiny_model.manifest_path)]) == 0
    )
    out = capsys.readouterr().out
    assert "nothing needed embedding" in out and "on not needed" not in out
    assert main(["stats", "--db", str(indexed)]) == 0
    out = capsys.readouterr().out
    assert "tiny-test (fp32, 8-d, last run on CPU)" in out
    assert main(["stats", "--db", str(indexed), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert model["precision"] == "fp32" and model["device"] == "CPU"


def test_folder_grouping_of_a_shop_tree_suggests_the_pattern(tmp_path, tiny_model, capsys):
    # Magento's media layout: w/b/wb01-blue_main.jpg, files sorted into folders by their first letters.
    root = tmp_path / "media"
    n = 0
    for style in range(20):
        for colour in ("blue", "red"):
            for view in ("main", "back", "alt1"):
                name = f"wb{style:02d}-{colour}_{view}.jpg"
                write_photo(root / name[0] / name[1] / name, (20 * style, 90, 40 * (colour == "red")), seed=n)
                n += 1
    assert (
        main(
            ["index", str(root), "--db", str(tmp_path / "c.sqlite"), "--model", str(tiny_model.manifest_path)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Hint" in out and "--pattern magento" in out and "1 articles of about 120 photos" in out
    assert (
        main(
            [
                "index",
                str(root),
                "--db",
                str(tmp_path / "p.sqlite"),
                "--model",
                str(tiny_model.manifest_path),
                "--pattern",
                "magento",
            ]
        )
        == 0
    )
    assert "Hint" not in capsys.readouterr().out


def test_tune_is_quiet_with_json_and_reports_progress(indexed, tmp_path, capsys):
    from desktop_app.core import evaluate as ev
    from desktop_app.core.engine import Engine

    groups = tmp_path / "g.csv"
    groups.write_text("article,group\nred,a\ngreen,a\nshoes/blue,b\n", encoding="utf-8")
    calls = []
    with Engine.open(indexed) as engine:
        engine.tune(groups, progress=lambda done, total, note: calls.append((done, total)), store=False)
    # one call per search (each query under each setting of the grid, then the single-photo baseline)
    assert calls and calls[-1][0] == calls[-1][1] == len(calls) == 2 * (len(ev.tuning_grid()) + 1)
    assert main(["tune", "--groups", str(groups), "--db", str(indexed), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["best"]["method"]


def test_evaluate_draws_at_most_the_queries_asked_for(indexed, tmp_path, capsys):
    groups = tmp_path / "g.csv"
    groups.write_text("article,group\nred,a\ngreen,a\nshoes/blue,b\n", encoding="utf-8")
    base = ["evaluate", "--groups", str(groups), "--db", str(indexed), "--method", "greedy", "--json"]
    assert main([*base, "--queries", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert (one["queries"], one["queries_available"]) == (1, 2) and "1 of its 2 queries" in one["protocol"]
    assert main([*base, "--queries", "all"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert (every["queries"], every["queries_available"]) == (2, 2) and "drawn" not in every["protocol"]
    with pytest.raises(SystemExit) as refused:
        main([*base, "--queries", "0"])
    assert refused.value.code == 2 and "--queries must be 1 or more" in capsys.readouterr().err


def test_indexing_another_folder_into_a_catalog_is_refused(indexed, photo_tree, tmp_path, capsys):
    """A typo, a subfolder or another folder given with --db would remove most of the catalog's photos;
    a moved copy of the same photos is indexed as usual, and --new-root makes the switch deliberate."""
    import shutil

    write_photo(tmp_path / "other" / "x" / "p.jpg", (9, 9, 9), seed=1)
    fails(capsys, "index", tmp_path / "other", "--db", indexed, needle="would remove 7 of them")
    fails(capsys, "index", photo_tree / "shoes", "--db", indexed, needle="add --new-root")
    with Catalog(indexed) as catalog:
        assert len(catalog.photo_paths()) == 7
    shutil.copytree(photo_tree, tmp_path / "moved")
    assert main(["index", str(tmp_path / "moved"), "--db", str(indexed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == 0
    assert main(["index", str(tmp_path / "other"), "--db", str(indexed), "--new-root", "--json"]) == 0
    with Catalog(indexed) as catalog:
        assert catalog.photo_paths() == {"x/p.jpg"}


def test_contradictory_options_are_refused(indexed, tmp_path, capsys):
    fails(capsys, "settings", "--threshold", "0.5", "--no-threshold", "--db", indexed, needle="not both")
    fails(capsys, "settings", "--max-matches", "2", "--all-pairs", "--db", indexed, needle="not both")
    fails(capsys, "catalog", "root", tmp_path, "--forget", "--db", indexed, needle="not both")


def test_mapping_the_photo_root_to_a_folder_without_its_photos_warns(indexed, photo_tree, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["catalog", "root", str(tmp_path / "empty"), "--db", str(indexed)]) == 0
    assert "only 0 of 7 of the catalog's photos checked" in capsys.readouterr().out
    assert main(["catalog", "root", str(photo_tree), "--db", str(indexed)]) == 0
    assert "Note" not in capsys.readouterr().out


def test_a_search_that_filters_everything_out_says_why(indexed, capsys):
    assert main(["similar", "red", "--label", "colour=blue", "--db", str(indexed)]) == 0
    assert "No article has the label colour=blue." in capsys.readouterr().out
    assert main(["similar", "red", "--folder", "/elsewhere/shoes", "--db", str(indexed)]) == 0
    assert "No article lies under the folder '/elsewhere/shoes'" in capsys.readouterr().out
    assert main(["similar", "red", "--folder", "shoes", "--db", str(indexed), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [h["article"] for h in out["hits"]] == ["shoes/blue"] and out["note"] == ""
    assert main(["similar", "red", "--method", "centroid", "--threshold", "0.9", "--db", str(indexed)]) == 0
    assert "do not apply to it" in capsys.readouterr().out


def test_settings_the_user_asked_for_are_never_reported_saved_when_they_were_not(indexed, photo_tree, capsys):
    import os
    from pathlib import Path

    from desktop_app.core.settings import UserSettings

    settings_file = Path(os.environ["LOOKALIKE_HOME"]) / "settings.json"
    settings_file.unlink(missing_ok=True)
    settings_file.mkdir()  # cannot be written as a file
    fails(capsys, "settings", "--curator", "Alice", needle="settings file")
    fails(capsys, "catalog", "root", photo_tree, "--db", indexed, needle="settings file")
    assert UserSettings.load().curator == ""
    # Conveniences (the catalog used last) still never stop the work they come with.
    assert main(["stats", "--db", str(indexed), "--json"]) == 0


def test_reindexing_with_a_model_whose_file_is_broken_changes_nothing(indexed, photo_tree, tmp_path, capsys):
    """The new model, grouping and preprocessing are stored only once the model is known to load."""
    from tests.conftest import make_tiny_model

    broken = make_tiny_model(tmp_path / "broken", name="tiny-broken")
    broken.onnx_path.write_bytes(b"not an ONNX file")
    with Catalog(indexed) as catalog:
        settings, runs = catalog.raw_settings(), catalog.recent_runs()
    fails(
        capsys,
        "index",
        photo_tree,
        "--db",
        indexed,
        "--model",
        broken.manifest_path,
        "--pattern",
        r"(?P<article>p\d)",
        needle="cannot be loaded",
    )
    with Catalog(indexed) as catalog:
        assert catalog.raw_settings() == settings
        assert catalog.recent_runs() == runs


def test_stats_of_a_catalog_without_a_photo_folder_says_so_and_how_to_set_one(tmp_path, capsys):
    db = tmp_path / "new.sqlite"
    Catalog(db, create=True).close()  # made, never indexed: no photo folder, no model chosen yet
    assert main(["stats", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "None" not in out, out
    line = next(x for x in out.splitlines() if x.startswith("Photos"))
    assert "no photo folder yet" in line and "lookalike index PHOTOS" in line
    assert "lookalike catalog root FOLDER" in line
    model_line = next(x for x in out.splitlines() if x.startswith("Model"))
    assert "efficientnet-lite0-imagenet" in model_line and "default" in model_line
