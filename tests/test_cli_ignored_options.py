"""Options a command would silently ignore are refused: one line naming the option, why it does nothing
and the fix, exit 2. Each was accepted with exit 0 and changed nothing (`map --dots` without `--png`, the
audit's case, and the same pattern found across the subcommands)."""

from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.core.storage import Catalog


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    argv = ["index", str(photo_tree), "--db", str(db), "--model", str(tiny_model.manifest_path), "--json"]
    assert main(argv) == 0
    return db


def refused(capsys, *argv, needle: str) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and needle in err, err
    return err


@pytest.mark.parametrize(
    "options,needle",
    [
        (["--dots"], "--dots does nothing without --png FILE: add --png FILE, or leave it out"),
        (["--size", "800x600"], "--size does nothing without --png FILE"),
        (["--dots", "--size", "800x600"], "--dots and --size do nothing without --png FILE"),
        (["--color-by", "folder"], "--color-by does nothing without --png FILE or --json"),
    ],
)
def test_map_picture_options_without_a_picture(indexed, capsys, options, needle):
    refused(capsys, "map", *options, "--method", "pca", "--db", indexed, needle=needle)
    with Catalog(indexed) as catalog:
        assert catalog.layout(*_key(indexed)) is None  # refused before any layout was computed


def _key(db) -> tuple[str, None]:
    from desktop_app.core.engine import Engine

    with Engine.open(db, remember=False) as engine:
        return engine.map_key()


def test_map_options_that_apply_are_taken(indexed, tmp_path, capsys):
    out = tmp_path / "map.png"
    argv = ["map", "--method", "pca", "--db", str(indexed)]
    assert main([*argv, "--png", str(out), "--dots", "--size", "400x300", "--color-by", "folder"]) == 0
    assert out.exists()
    capsys.readouterr()
    assert main([*argv, "--color-by", "folder", "--json"]) == 0  # the JSON carries the colours
    assert {p["color_value"] for p in json.loads(capsys.readouterr().out)["points"]} == {
        "(top folder)",
        "shoes",
    }


def test_map_seed_of_a_stored_layout_needs_recompute(indexed, capsys):
    argv = ["map", "--method", "pca", "--db", str(indexed)]
    assert main([*argv, "--seed", "3"]) == 0  # nothing stored yet: the seed lays out the new map
    capsys.readouterr()
    refused(capsys, *argv, "--seed", "4", needle="--seed does nothing while the stored map is reused")
    assert main([*argv, "--seed", "4", "--recompute"]) == 0
    assert main(argv) == 0  # no seed: the stored map, as before


def test_inspect_method_without_png(indexed, capsys):
    refused(
        capsys,
        *("inspect", "red", "green", "--method", "greedy", "--db", indexed),
        needle="--method does nothing without --png FILE (the text and JSON show every method)",
    )


@pytest.mark.parametrize("command", ["evaluate", "tune"])
def test_min_photos_without_split(indexed, tmp_path, capsys, command):
    groups = tmp_path / "g.csv"
    groups.write_text("article,group\nred,x\ngreen,x\n")
    needle = "--min-photos does nothing with --groups (it chooses the articles --split halves)"
    refused(capsys, command, "--groups", groups, "--min-photos", "3", "--db", indexed, needle=needle)
    needle = "--min-photos does nothing with --decisions"
    refused(capsys, command, "--decisions", "--min-photos", "3", "--db", indexed, needle=needle)
    assert main([command, "--split", "--min-photos", "3", "--db", str(indexed), "--json"]) in (0, 2)
    assert "--min-photos does nothing" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["suggest", "accept"])
@pytest.mark.parametrize(
    "options,needle",
    [
        (["--k", "5"], "--k does nothing with --zero-shot"),
        (
            ["--method", "hungarian", "--threshold", "0.5"],
            "--method and --threshold do nothing with --zero-shot",
        ),
        (["--max-matches", "2"], "--max-matches does nothing with --zero-shot"),
    ],
)
def test_neighbour_options_with_zero_shot(indexed, capsys, command, options, needle):
    """Checked before the model: the tiny model has no text side, which would be the message otherwise."""
    refused(capsys, "labels", command, "--zero-shot", *options, "--db", indexed, needle=needle)


def test_article_options_with_photos(indexed, capsys):
    needle = "--threshold, --label and --folder do nothing with --photos"
    argv = ["similar", "red", "--photos", "--db", indexed]
    err = refused(capsys, *argv, "--threshold", "0.5", "--label", "x", "--folder", "shoes", needle=needle)
    assert "search articles (without --photos)" in err
    refused(capsys, *argv, "--show-rejected", needle="--show-rejected does nothing with --photos")
    assert main([str(a) for a in argv] + ["--top", "2", "--json"]) == 0


def test_raw_in_a_json_labels_export(indexed, tmp_path, capsys):
    needle = "--raw does nothing in a JSON export"
    refused(capsys, "labels", "export", tmp_path / "l.json", "--raw", "--db", indexed, needle=needle)
    refused(capsys, "labels", "export", "-", "--format", "json", "--raw", "--db", indexed, needle=needle)
    assert not (tmp_path / "l.json").exists()
    assert main(["labels", "export", str(tmp_path / "l.csv"), "--raw", "--db", str(indexed)]) == 0


def test_clip_export_options_with_an_efficientnet(capsys):
    """The EfficientNet export script takes --out and --photos only: --int8 exported a float model."""
    err = refused(
        capsys,
        *("models", "export", "efficientnet-lite2", "--int8", "--name", "small"),
        needle="--int8 and --name do nothing with efficientnet-lite2",
    )
    assert "efficientnet-lite2-imagenet" in err


def test_force_with_a_text_side(tmp_path, capsys):
    """A text side given again always replaces the installed one: --force changed nothing."""
    refused(
        capsys,
        *(
            "models",
            "import",
            tmp_path / "text.onnx",
            "--text-for",
            "clip",
            "--tokenizer",
            tmp_path / "t.json",
        ),
        "--force",
        needle="--text-for NAME takes the text model as FILE and its --tokenizer, nothing else",
    )
