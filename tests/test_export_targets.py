"""No export replaces what it must not: the open catalog and the files beside it, a photo of its photo
folder, another catalog or any file of another kind. Every command that writes a file is walked with each
such target (exit 2, one line, the file unchanged), and writing over an earlier export still works."""

from __future__ import annotations

import argparse
import re
import shutil

import pytest

from desktop_app.cli import build_parser, main
from desktop_app.core.engine import Engine
from desktop_app.core.errors import InputError
from desktop_app.core.files import check_output_path, write_bytes
from tests.conftest import run_main, write_photo

# Every option that writes a file, as `lookalike ...` with {out} for the target; the test below checks that
# this list names every such option the parser has.
EXPORTS = {
    "decide --export": ["decide", "--export", "{out}"],
    "duplicates --csv": ["duplicates", "--no-progress", "--csv", "{out}"],
    "labels export": ["labels", "export", "--format", "csv", "{out}"],
    "labels evaluate --plot": ["labels", "evaluate", "--plot", "{out}"],
    "inspect --csv": ["inspect", "red", "green", "--csv", "{out}"],
    "inspect --png": ["inspect", "red", "green", "--png", "{out}"],
    "map --png": ["map", "--dots", "--png", "{out}"],
}


@pytest.fixture
def catalog(tmp_path, photo_tree, tiny_model):
    """The three folder-articles plus a PNG photo, indexed into a SQLite catalog with a few labels."""
    write_photo(photo_tree / "green" / "p9.png", (40, 190, 40), fmt="PNG", seed=3)
    db = tmp_path / "c.sqlite"
    assert (
        main(["index", str(photo_tree), "--db", str(db), "--model", str(tiny_model.manifest_path), "--json"])
        == 0
    )
    with Engine.open(db) as engine:
        engine.set_labels(["red", "green"], "category", "tops")
        engine.set_labels(["shoes/blue"], "category", "shoes")
    return db


def test_every_option_that_writes_a_file_is_walked():
    found = set()

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    walk(p, f"{name} {sub}".strip())
            elif action.help and re.search(r"(?<!over)\bwrite\b(?! nothing)", action.help):
                found.add(f"{name} {action.option_strings[0]}" if action.option_strings else name)

    walk(build_parser(), "")
    assert found == set(EXPORTS)


def targets(db, photo_tree, tmp_path) -> dict[str, object]:
    other = tmp_path / "other.sqlite"
    shutil.copyfile(db, other)
    return {
        "the catalog": db,
        "its -wal": f"{db}-wal",
        "its -journal": f"{db}-journal",
        "its index lock": f"{db}.index-lock",
        "its vector store": f"{db}.vectors/x.png",
        "a JPEG photo": photo_tree / "red" / "p0.jpg",
        "a PNG photo": photo_tree / "green" / "p9.png",
        "another catalog": other,
    }


@pytest.mark.parametrize("command", list(EXPORTS))
def test_no_export_replaces_the_catalog_its_files_or_a_photo(command, catalog, photo_tree, tmp_path, capsys):
    (tmp_path / "c.sqlite.vectors").mkdir(exist_ok=True)
    for name, target in targets(catalog, photo_tree, tmp_path).items():
        target = str(target)
        before = open(target, "rb").read() if _exists(target) else None
        argv = [a.replace("{out}", target) for a in EXPORTS[command]]
        code, out, err = exit_of(capsys, *argv, "--db", catalog)
        assert code == 2, (name, out, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (name, err)
        after = open(target, "rb").read() if _exists(target) else None
        assert after == before, name
    with Engine.open(catalog) as engine:
        assert len(engine.catalog.photo_rows()) == 8  # the catalog is whole


def test_an_earlier_export_is_replaced_as_before(catalog, tmp_path, capsys):
    for command in EXPORTS:
        out = tmp_path / ("earlier.png" if "png" in command or "plot" in command else "earlier.csv")
        argv = [a.replace("{out}", str(out)) for a in EXPORTS[command]]
        for _ in range(2):  # the second run writes over the first's file
            code, _, err = run_main(capsys, *argv, "--db", catalog)
            assert code == 0, (command, err)


def test_the_open_catalog_is_named_as_such_and_its_photo_folder_takes_new_files(
    catalog, photo_tree, tmp_path
):
    with Engine.open(catalog) as engine:
        with pytest.raises(InputError, match="part of the open catalog"):
            check_output_path(catalog, "decisions export")
        (tmp_path / "link.csv").symlink_to(f"{catalog}-wal")
        with pytest.raises(InputError, match="part of the open catalog"):
            check_output_path(tmp_path / "link.csv", "decisions export")
        with pytest.raises(InputError, match="a picture in the catalog's photo folder"):
            write_bytes(photo_tree / "green" / "p9.png", b"\x89PNG\r\n\x1a\n", what="picture")
        # A photo linked into the folder from elsewhere: its link is refused, and so is a new picture
        # (the next index run would take it for a photo); a CSV beside the photos is no picture.
        elsewhere = tmp_path / "kept-elsewhere.png"
        shutil.copyfile(photo_tree / "green" / "p9.png", elsewhere)
        (photo_tree / "green" / "linked.png").symlink_to(elsewhere)
        before = elsewhere.read_bytes()
        for name in ("linked.png", "map.png"):
            with pytest.raises(InputError, match="photo folder"):
                write_bytes(photo_tree / "green" / name, b"\x89PNG\r\n\x1a\n", what="picture")
        assert elsewhere.read_bytes() == before and not (photo_tree / "green" / "map.png").exists()
        assert engine.export_decisions(photo_tree / "decisions.csv") == 0  # a new file beside the photos
    shutil.copyfile(photo_tree / "green" / "p9.png", tmp_path / "any.png")
    write_bytes(tmp_path / "any.png", b"\x89PNG\r\n\x1a\n", what="picture")  # closed: no longer guarded


def test_a_file_of_another_kind_is_refused_without_any_catalog(tmp_path):
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(InputError, match="ZIP archive"):
        check_output_path(book, "labels export")
    text = tmp_path / "notes.csv"
    text.write_text("a,b\n")
    with pytest.raises(InputError, match="a text file, not a PNG image"):
        write_bytes(text, b"\x89PNG\r\n\x1a\n", what="picture")
    assert check_output_path(text, "labels export") == text
    (tmp_path / "empty.png").write_bytes(b"")
    write_bytes(tmp_path / "empty.png", b"\x89PNG\r\n\x1a\n", what="picture")


def exit_of(capsys, *argv) -> tuple[int, str, str]:
    """run_main, with argparse's own refusal (a '.sqlite' name given as the PNG) as the exit 2 it is."""
    try:
        return run_main(capsys, *argv)
    except SystemExit as exc:
        out, err = capsys.readouterr()
        return int(exc.code), out, err


def _exists(path: str) -> bool:
    import os

    return os.path.isfile(path)
