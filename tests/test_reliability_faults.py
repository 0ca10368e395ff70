"""More faults a curator can meet, each reproduced for real: full disks under the catalog, the models folder
and a copy's destination; a copy killed half-way; damage reports; hostile text in exports and on the
terminal; malformed import files."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest

from desktop_app.core.errors import DiskFull
from desktop_app.core.files import copy_file
from desktop_app.core.storage.schema import PAGE_SIZE
from tests.conftest import cli, make_tiny_model, one_line_exit_2, run_main, write_photo
from tests.test_reliability import fill, small_filesystem


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model) -> Path:
    from desktop_app.core.engine import index_photos

    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    return db


def test_index_on_a_filling_disk_says_full_at_every_size(tmp_path, photo_tree, tiny_model, capsys):
    """From no room at all up to room enough, every run either works or says the disk is full in one line;
    the lock's first write (a catalog that was copied or recovered has no lock file yet) used to be a
    traceback."""
    from desktop_app.core.engine import index_photos

    folder = tmp_path / "small"
    with small_filesystem(folder, "12m"):
        db = folder / "c.sqlite"
        index_photos(db, photo_tree, model=tiny_model)
        os.unlink(f"{db}.index-lock")
        write_photo(photo_tree / "new" / "n.jpg", seed=9)  # work for the next run
        fill(folder)
        filler = folder / "filler"
        size = filler.stat().st_size
        seen = set()
        # Room is given back one catalog page (16 KB) at a time. Given back 4 KB at a time, a failed run that
        # left write-ahead log frames behind (which cannot be checkpointed into a file that cannot grow) had
        # the small records of each later run (marked interrupted, started, failed) take every page freed,
        # so that no run ever found the pages in a row it needs: whether a run left frames turned on where
        # in the file its pages fell, and one more table (schema 8) moved that.
        for free_pages in range(0, 64):
            os.truncate(filler, size - free_pages * PAGE_SIZE)
            code, _, err = run_main(
                capsys, "index", photo_tree, "--db", db, "--model", tiny_model.manifest_path
            )
            if code == 0:
                break
            assert code == 2 and err.count("\n") == 1 and "is full" in err, err
            seen.add(err.split("full", 1)[1])
        assert code == 0
        assert len(seen) >= 2  # it failed at more than one step (opening, the lock, writing) before it worked


def test_a_model_import_on_a_full_disk_keeps_the_installed_model(tmp_path):
    """`models import` on a full disk: one line, no partial file, and an older model of that name is still
    installed whole (its manifest used to be removed before the new file was copied)."""
    import hashlib

    old = make_tiny_model(tmp_path / "old", name="shop-model", seed=0)
    new = make_tiny_model(tmp_path / "new", name="shop-model", seed=1)
    home = tmp_path / "home"
    with small_filesystem(home, "512k"):
        assert cli("models", "import", old.onnx_path, home=home).returncode == 0
        fill(home)
        for extra in (("--force",), ("--name", "another")):
            proc = cli("models", "import", new.onnx_path, *extra, home=home)
            one_line_exit_2(proc, "is full")
        with pytest.raises(DiskFull, match="is full"):  # what copies a CLIP model's text side
            copy_file(new.onnx_path, home / "models" / "shop-model" / "text.onnx")
        (home / "filler").unlink()
        assert not [p.name for p in home.rglob("*") if ".partial" in p.name or p.name == "another"]
        listed = json.loads(cli("models", "list", "--json", home=home).stdout)
        mine = [m for m in listed["models"] if m["name"] == "shop-model" and not m["problem"]]
        onnx = home / "models" / "shop-model" / "shop-model.onnx"
        assert (
            len(mine) == 1
            and hashlib.sha256(onnx.read_bytes()).hexdigest()
            == hashlib.sha256(old.onnx_path.read_bytes()).hexdigest()
        )
        # with room again the same import works
        assert cli("models", "import", new.onnx_path, "--force", home=home).returncode == 0


# ============================================================================ catalog copy and recover


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "filler")


@pytest.mark.parametrize("command", ["copy", "recover"])
def test_a_copy_or_recovery_on_a_full_disk_leaves_nothing_and_can_be_run_again(tmp_path, indexed, command):
    """No room at all, then some room but not enough: one line that says the copy was not finished, and no
    file (empty or partial) at the destination that a second try would refuse; with room it works."""
    folder = tmp_path / "small"
    home = tmp_path / "home"
    with small_filesystem(folder, "2m"):
        dst = folder / "new.sqlite"
        args = (
            ("catalog", "copy", indexed, dst)
            if command == "copy"
            else ("catalog", "recover", dst, "--db", indexed)
        )
        fill(folder)
        filler = folder / "filler"
        size = filler.stat().st_size
        what = "copy" if command == "copy" else "recovery"
        for room in (0, 400_000):
            os.truncate(filler, size - room)
            proc = cli(*args, home=home)
            one_line_exit_2(proc, f"is full, so the {what} was not finished")
            assert "nothing was lost" not in proc.stderr and "new.sqlite was not created" in proc.stderr
            assert hidden_leftovers(folder) == []
        filler.unlink()
        proc = cli(*args, home=home)
        assert proc.returncode == 0, proc.stderr
        assert hidden_leftovers(folder) == ["new.sqlite"]
        assert cli("catalog", "check", "--db", dst, home=home).returncode == 0


def test_a_new_catalog_on_a_full_disk_leaves_no_file(tmp_path, photo_tree, tiny_model, capsys):
    folder = tmp_path / "small"
    with small_filesystem(folder):
        fill(folder)
        db = folder / "new.sqlite"
        code, _, err = run_main(capsys, "index", photo_tree, "--db", db, "--model", tiny_model.manifest_path)
        assert code == 2 and "cannot be made there" in err and err.count("\n") == 1, err
        assert hidden_leftovers(folder) == []  # not an empty file the next run would refuse


def big_catalog(tmp_path, photo_tree, tiny_model, rows: int = 300_000) -> Path:
    """A catalog whose copy takes a few seconds: many labels (written directly, for speed)."""
    import sqlite3

    from desktop_app.core.engine import index_photos

    db = tmp_path / "big.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO labels (article, field, value, source, updated_at) VALUES (?, 'category', ?, 'import', 0)",
            ((f"article-{i}", f"value {i % 97}") for i in range(rows)),
        )
    return db


def wait_for(condition, what: str, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_copy_killed_half_way_leaves_no_destination_and_runs_again(
    tmp_path, photo_tree, tiny_model, catalog_location
):
    import signal
    import subprocess
    import sys

    from desktop_app.core.storage import identify
    from tests.conftest import REPO

    src = big_catalog(tmp_path, photo_tree, tiny_model)
    home = tmp_path / "home"
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "catalog", "copy", str(src), str(catalog_location)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if isinstance(catalog_location, Path):
            partial = catalog_location.parent / f".{catalog_location.name}.partial"
            wait_for(partial.exists, "the copy to start")
        else:
            wait_for(lambda: identify(catalog_location).kind == "catalog", "the copy to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL  # killed half-way, not finished
    if isinstance(catalog_location, Path):
        assert not catalog_location.exists()
    again = cli("catalog", "copy", src, catalog_location, "--json", home=home, timeout=300)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["verified"] and report["rows"]["labels"] == 300_000
    if isinstance(catalog_location, Path):
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{catalog_location.name}")]


def test_a_failed_copy_into_a_database_drops_what_it_made(tmp_path, indexed, pg_url, monkeypatch):
    from desktop_app.core.storage import copy as copying
    from desktop_app.core.storage import identify

    def fail_half_way(rconn, wconn, table, *rest):
        if table.name == "photos":
            raise OSError("the network cable was pulled")
        return real(rconn, wconn, table, *rest)

    real = copying._copy_table
    monkeypatch.setattr(copying, "_copy_table", fail_half_way)
    with pytest.raises(OSError, match="cable"):
        copying.copy_catalog(indexed, pg_url)
    assert identify(pg_url).kind == "empty"
    monkeypatch.undo()
    assert copying.copy_catalog(indexed, pg_url).verified


# ============================================================================ damage


def damage_many_pages(db: Path, out: Path) -> Path:
    """A copy of `db` whose last pages have 6 KB of nonsense in their middle: quick_check finds 100+ problems,
    which SQLite returns as one row of many lines."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO labels (article, field, value, source, updated_at) VALUES (?, 'category', ?, 'import', 0)",
            ((f"a-{i}", f"v {i}") for i in range(20_000)),
        )
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    pages = len(data) // 16384
    for page in range(pages - 20, pages - 2):
        data[page * 16384 + 2000 : page * 16384 + 8000] = b"\x07" * 6000
    out.write_bytes(bytes(data))
    return out


def test_damage_is_told_in_one_short_line_with_the_way_out(tmp_path, indexed):
    home = tmp_path / "home"
    damaged = damage_many_pages(indexed, tmp_path / "damaged.sqlite")
    for args in (("labels", "set", "red", "--value", "x"), ("catalog", "check")):
        proc = cli(*args, "--db", damaged, home=home)
        one_line_exit_2(proc, "catalog recover")
        assert len(proc.stderr) < 500 and "100+ problems, the first: On tree page" in proc.stderr, proc.stderr
    check = cli("catalog", "check", "--db", damaged, home=home)
    assert "... and 80 more problems" in check.stdout  # the first 20 are listed, one a line


def test_a_catalog_cut_short_is_not_recovered_into_an_empty_file(tmp_path, indexed):
    home = tmp_path / "home"
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(indexed.read_bytes()[: 3 * 16384])  # the first pages of a copy stopped early
    check = cli("catalog", "check", "--db", cut, home=home)
    one_line_exit_2(check, "catalog recover")
    rec = cli("catalog", "recover", tmp_path / "new.sqlite", "--db", cut, home=home)
    one_line_exit_2(rec, "Nothing could be read from")
    assert not (tmp_path / "new.sqlite").exists()
    half = tmp_path / "half.sqlite"
    data = indexed.read_bytes()
    half.write_bytes(data[: len(data) // 2 // 16384 * 16384])
    rec = cli("catalog", "recover", tmp_path / "new.sqlite", "--db", half, "--json", home=home)
    assert rec.returncode == 0, rec.stderr  # a file cut in half: the pages that are there are read
    assert json.loads(rec.stdout)["rows"]["settings"] > 0


# ============================================================================ hostile text


FORMULA = '=HYPERLINK("http://evil")'


def hostile_catalog(tmp_path, tiny_model) -> Path:
    """Article ids, photo names, a label, a note and the curator's own name that a spreadsheet would run."""
    import shutil

    from desktop_app.core.engine import Engine, index_photos
    from desktop_app.core.settings import UserSettings

    root = tmp_path / "hostile"
    write_photo(root / "=cmd" / "@p0.jpg", seed=1)
    write_photo(root / "=cmd" / "p1.jpg", seed=2)
    (root / "+evil").mkdir(parents=True)
    shutil.copy(root / "=cmd" / "@p0.jpg", root / "+evil" / "-p0.jpg")  # a duplicate photo
    write_photo(root / "+evil" / "p1.jpg", seed=2)
    db = tmp_path / "hostile.sqlite"
    index_photos(db, root, model=tiny_model)
    settings = UserSettings.load()
    settings.curator = FORMULA
    settings.save(strict=True)
    with Engine.open(db, remember=False) as engine:
        engine.set_labels(["=cmd"], "@field", "-2+3+cmd|' /C calc'!A0")
        engine.decide("=cmd", "+evil", "same", note="\t=1+1")
    return db


def unsafe_cells(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would take for a formula (a plain number, even a negative one, is a number)."""
    import re

    number = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
    return [
        c
        for row in rows
        for c in row
        if c.startswith(("=", "+", "-", "@", "\t", "\r")) and not number.fullmatch(c)
    ]


def test_every_cell_of_every_spreadsheet_export_is_safe(tmp_path, tiny_model):
    import csv

    from desktop_app.core.engine import Engine
    from desktop_app.core.similar import Query, results_text, write_results_csv

    db = hostile_catalog(tmp_path, tiny_model)
    out = tmp_path / "out"
    out.mkdir()
    with Engine.open(db, remember=False) as engine:
        assert engine.export_decisions(out / "decisions.csv") == 1
        engine.export_labels(out / "labels.csv")
        for level in ("photo", "article"):
            report = engine.find_duplicates(level, min_score=0.0, include_decided=True)
            assert report.pairs
            engine.export_duplicates(report, out / f"duplicates-{level}.csv")
        outcome = engine.similar(Query.of_articles("=cmd"))
        write_results_csv(outcome, out / "results.csv")
        clipboard = results_text(outcome)
        engine.inspect("=cmd", "+evil").write_csv(out / "matrix.csv")
    tables = {p.name: list(csv.reader(p.open(encoding="utf-8", newline=""))) for p in out.iterdir()}
    tables["clipboard"] = list(csv.reader(clipboard.splitlines(), delimiter="\t"))
    assert FORMULA in "".join(tables["decisions.csv"][1])  # the curator was written, and only escaped
    for name, rows in tables.items():
        assert len(rows) > 1 and unsafe_cells(rows) == [], (name, rows)


def test_bidi_overrides_and_other_invisible_characters_are_shown_escaped(tmp_path, tiny_model):
    """U+202E makes `photo\\u202egpj.exe` print as `photoexe.jpg`; every Unicode format character (Cf) is
    shown as \\uNNNN in terminal output like control characters, joiners (emoji, Persian) stay, JSON is exact."""
    from desktop_app.cli.common import safe
    from desktop_app.core.engine import Engine, index_photos

    assert (
        safe("a\u202eb\u200e\u200f\u202a\u2066\u2069\ufeffc")
        == "a\\u202eb\\u200e\\u200f\\u202a\\u2066\\u2069\\ufeffc"
    )
    assert safe("tag\U000e0041") == "tag\\U000e0041" and safe("👨\u200d👩 é 中") == "👨\u200d👩 é 中"
    root = tmp_path / "photos"
    evil = "cheap\u202egnp.exe"
    for i, name in enumerate([evil, "plain", "other"]):
        for j in range(2):
            write_photo(root / name / f"p\u2067{j}.jpg", seed=3 * i + j)
    write_photo(root / "dup" / "x.jpg", seed=0)  # the same photo as the first of `evil`
    db = tmp_path / "c.sqlite"
    index_photos(db, root, model=tiny_model)
    with Engine.open(db, remember=False) as engine:
        engine.set_labels(["plain"], "category", "\u202dsale\u202c")
        engine.set_labels(["other"], "category", "full price")
    home = tmp_path / "home"
    for args in (
        ("similar", "--article", "plain"),
        ("duplicates", "--min-score", "0"),
        ("labels", "suggest"),
    ):
        proc = cli(*args, "--db", db, home=home)
        assert proc.returncode == 0, proc.stderr
        shown = proc.stdout + proc.stderr
        assert not [c for c in shown if unicodedata.category(c) == "Cf"], (args, shown)
    assert "cheap\\u202egnp.exe" in cli("similar", "--article", "plain", "--db", db, home=home).stdout
    hits = json.loads(cli("similar", "--article", "plain", "--db", db, "--json", home=home).stdout)["hits"]
    assert evil in [h["article"] for h in hits]  # JSON stays exact
    missing = cli("similar", "--article", "no\u202esuch", "--db", db, home=home)
    assert "\u202e" not in missing.stderr and "no\\u202esuch" in missing.stderr  # error lines too


# ============================================================================ malformed import files


@pytest.mark.parametrize(
    "command, content, needle",
    [
        (("labels", "import", "--csv"), "article,label,label\nred,x,y\n", "two columns named 'label'"),
        (
            ("labels", "import", "--csv"),
            "Article,article,label\nred,green,x\n",
            "two columns named 'article'",
        ),
        (
            ("decide", "--import"),
            "article_a,article_b,decision,decision\nred,green,same,\n",
            "named 'decision'",
        ),
        (
            ("decide", "--import"),
            "article_a,article_b,decision\nred,green\n",
            "line 2: the decision cell is empty",
        ),
        (
            ("decide", "--import"),
            "article_a,article_b,decision\nred,,same\n",
            "line 2: the article_b cell is empty",
        ),
        (("labels", "import", "--csv"), "article,label\nred,x\n".encode("utf-32"), "holds UTF-32 text"),
        (
            ("decide", "--import"),
            b"\x00\x00\xfe\xff" + "article_a,article_b,decision\n".encode("utf-32-be"),
            "holds UTF-32 text",
        ),
    ],
)
def test_malformed_import_files_are_named_in_one_line(indexed, tmp_path, capsys, command, content, needle):
    path = tmp_path / "in.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run_main(capsys, *command, path, "--db", indexed)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
