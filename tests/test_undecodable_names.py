"""Names that are not UTF-8 (a Latin-1 folder or file name, or such bytes typed on the command line): the
catalog stores them with \\xNN escapes, a command line finds them by their bytes, and every reader opens the
file the stored path stands for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.photo_edits import make_copy
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.paths import photo_file, relative_to_root
from desktop_app.core.scan import path_text
from tests.conftest import REPO
from tests.test_duplicates import product_photo

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file names are bytes on POSIX only")

CAFE = b"caf\xe9"  # Latin-1: not UTF-8


def cli_bytes(*args: str | bytes | Path, home: Path) -> subprocess.CompletedProcess:
    """`lookalike ARGS` with arguments passed as the bytes given (as a shell passes what the user typed)."""
    argv = [
        sys.executable,
        "-m",
        "desktop_app",
        *(a if isinstance(a, bytes) else os.fsencode(a) for a in args),
    ]
    return subprocess.run(
        argv,
        capture_output=True,
        env={**os.environ, "LOOKALIKE_HOME": str(home)},
        cwd=REPO,
        timeout=120,
    )


def one_line_2(proc: subprocess.CompletedProcess, needle: str) -> None:
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert needle in err, err


@pytest.fixture
def latin1_tree(tmp_path) -> Path:
    """An article folder and a photo whose names are Latin-1 bytes, and a resized copy of that photo."""
    root = tmp_path / "photos"
    cafe = Path(os.fsdecode(os.fsencode(root) + b"/" + CAFE))
    cafe.mkdir(parents=True)
    source = tmp_path / "source.jpg"
    product_photo(1).save(source, quality=95)
    (cafe / os.fsdecode(CAFE + b"_main.jpg")).write_bytes(source.read_bytes())
    product_photo(2, garment=(200, 60, 60)).save(cafe / "b_back.jpg", quality=95)
    (root / "red").mkdir()
    make_copy(source, root / "red" / "copy_main.jpg", "resize")
    product_photo(3, garment=(30, 160, 60)).save(root / "green_main.jpg", quality=95)
    return root


@pytest.fixture
def indexed(latin1_tree, tmp_path, tiny_model) -> Path:
    db = tmp_path / "c.sqlite"
    index_photos(db, latin1_tree, model=tiny_model)
    return db


def test_stored_paths_map_back_to_their_files(latin1_tree, indexed):
    stored = "caf\\xe9/caf\\xe9_main.jpg"
    with Engine.open(indexed, remember=False) as engine:
        assert stored in engine.catalog.photo_paths()
        assert engine.absolute(stored).is_file()  # the file the escaped path stands for
        assert "caf\\xe9" in engine.catalog.article_keys()
    typed = Path(os.fsdecode(os.fsencode(latin1_tree) + b"/" + CAFE + b"/" + CAFE + b"_main.jpg"))
    assert relative_to_root(typed, latin1_tree) == stored  # a path given to us is named as stored
    # a name that spells an escape literally is its own file when it exists
    literal = latin1_tree / "red" / "x\\xe9.jpg"
    literal.write_bytes(b"")
    assert photo_file(latin1_tree, "red/x\\xe9.jpg") == literal
    assert path_text(os.fsdecode(b"red/x\xe9.jpg")) == "red/x\\xe9.jpg"


def test_duplicates_inspect_and_thumbnails_read_latin1_named_photos(latin1_tree, indexed, tmp_path):
    from desktop_app.core import thumbnails
    from desktop_app.core.inspect import render_png

    home = tmp_path / "home"
    proc = cli_bytes("duplicates", "--json", "--db", indexed, home=home)
    assert proc.returncode == 0, proc.stderr.decode()
    pairs = {tuple(sorted((p["a"], p["b"]))) for p in json.loads(proc.stdout)["pairs"]}
    assert (
        "caf\\xe9/caf\\xe9_main.jpg",
        "red/copy_main.jpg",
    ) in pairs  # found by fingerprints from the files
    with Engine.open(indexed, remember=False) as engine:
        cover = engine.absolute("caf\\xe9/caf\\xe9_main.jpg")
        assert thumbnails.thumbnail(cover, 128, root=tmp_path / "thumbs").is_file()
        ins = engine.inspect("caf\\xe9", "red")
        drawn = render_png(ins, "greedy", tmp_path / "drawn.png", photo_root=latin1_tree).read_bytes()
        cover.rename(cover.with_name("gone.jpg"))
        names_only = render_png(ins, "greedy", tmp_path / "names.png", photo_root=latin1_tree).read_bytes()
    assert drawn != names_only  # the photo was drawn, not just its name


def test_arguments_that_are_not_utf8_find_stored_names_or_say_why(latin1_tree, indexed, tmp_path):
    home = tmp_path / "home"
    db = ("--db", indexed)
    cafe, nope = CAFE, b"nop\xe9"
    photo = os.fsencode(latin1_tree) + b"/" + cafe + b"/" + cafe + b"_main.jpg"
    for args in (
        ("similar", "--image", photo),
        ("labels", "set", cafe, "--value", "warm"),
        ("similar", cafe),
        ("similar", "--article", cafe),
        ("decide", "--same", "red", cafe),
        ("inspect", "red", cafe),
        ("duplicates", "--mark", b"caf\xe9/caf\xe9_main.jpg", "red/copy_main.jpg", "--not-duplicate"),
    ):
        proc = cli_bytes(*args, *db, home=home)
        assert proc.returncode == 0, (args, proc.stderr.decode("utf-8", "backslashreplace"))
    with Engine.open(indexed, remember=False) as engine:
        assert engine.catalog.labels_with_source()[0]["article"] == "caf\\xe9"
    # named as stored and as typed (one backslash), not as repr shows it
    one_line_2(cli_bytes("similar", nope, *db, home=home), "no article 'nop\\xe9' ")
    one_line_2(cli_bytes("inspect", "red", nope, *db, home=home), "is not in this catalog")
    for args in (
        ("labels", "set", "red", "--value", cafe),
        ("labels", "suggest", "--field", cafe),
        ("decide", "--same", "red", "green_main", "--note", cafe),
    ):
        one_line_2(cli_bytes(*args, *db, home=home), "'caf\\xe9' (given for ")
