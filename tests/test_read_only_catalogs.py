"""A catalog on a read-only folder or medium (a copy on a write-protected share, a mounted archive): every read
works, including reads that would like to store a cache, and a write says in one line what to do."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.engine import index_photos
from tests.conftest import IS_ROOT, NOBODY, run_unprivileged

pytestmark = pytest.mark.skipif(not IS_ROOT or not hasattr(os, "fork"), reason="drops root in a forked child")


def run_cli(*argv) -> tuple[int, str, str]:
    """`lookalike ARGS` in this (forked, unprivileged) process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def freeze(folder: Path) -> None:
    """Readable by everyone, writable by no one (the folder itself too)."""
    for p in [*folder.rglob("*"), folder]:
        p.chmod(0o555 if p.is_dir() else 0o444)


@pytest.fixture
def copied(open_dir, photo_tree, tiny_model, monkeypatch, tmp_path):
    """A WAL catalog with labels, copied without its -shm and -wal (as a file copy takes it) into a folder that
    is then made read-only; the photo folder is readable by everyone."""
    monkeypatch.setenv("LOOKALIKE_HOME", str(open_dir / "home"))
    photos = open_dir / "photos"
    shutil.copytree(photo_tree, photos)
    built = tmp_path / "c.sqlite"
    index_photos(built, photos, model=tiny_model)
    from desktop_app.core.engine import Engine

    with Engine.open(built, remember=False) as engine:
        engine.set_labels(["red", "green"], "category", "tops")
        engine.set_labels(["shoes/blue"], "category", "shoes")
    with sqlite3.connect(built) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    frozen = open_dir / "frozen"
    frozen.mkdir()
    shutil.copy(built, frozen / "c.sqlite")
    assert not Path(f"{frozen}/c.sqlite-shm").exists()
    (open_dir / "home").mkdir(exist_ok=True)
    (open_dir / "home").chmod(0o777)
    freeze(frozen)
    return frozen / "c.sqlite"


READS = (
    ("stats", "--json"),
    ("similar", "red"),
    ("inspect", "red", "green"),
    ("labels", "suggest", "--field", "category"),
    ("labels", "evaluate", "--field", "category"),
    ("evaluate", "--split"),
    ("duplicates",),
    ("map", "--json"),
)


def test_every_read_works_on_a_catalog_in_a_read_only_folder(copied, tmp_path):
    # The unprivileged child cannot read the interpreter's files: the parent imports what the commands need by
    # running them once on a writable copy.
    scratch = tmp_path / "scratch.sqlite"
    shutil.copy(copied, scratch)
    for args in READS:
        assert run_cli(*args, "--db", scratch)[0] == 0, args

    def reads() -> list:
        return [(args[0], *run_cli(*args, "--db", copied)[::2]) for args in READS]

    status, results = run_unprivileged(reads)
    assert status == "ok", results
    assert [r for r in results if r[1] != 0] == [], results
    assert sorted(os.listdir(copied.parent)) == ["c.sqlite"]  # nothing was written beside it


def test_a_write_to_a_catalog_in_a_read_only_folder_is_one_line(copied):
    before = copied.read_bytes()

    def write() -> tuple[int, str]:
        code, _, err = run_cli("labels", "set", "red", "--value", "x", "--db", copied)
        return code, err

    status, (code, err) = run_unprivileged(write)
    assert status == "ok" and code == 2 and err.count("\n") == 1, err
    assert "read-only" in err and "copy it somewhere writable" in err.lower(), err
    assert copied.read_bytes() == before


def test_changes_still_in_the_write_ahead_log_of_a_read_only_copy_are_one_line(copied, tmp_path, open_dir):
    source = tmp_path / "live.sqlite"
    shutil.copy(copied, source)
    holder = sqlite3.connect(source)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("INSERT INTO meta VALUES ('copied', 'yes')")  # a change that stays in the -wal while open
    holder.commit()
    frozen = open_dir / "frozen-with-log"
    frozen.mkdir()
    shutil.copy(source, frozen / "c.sqlite")
    shutil.copy(f"{source}-wal", frozen / "c.sqlite-wal")  # a copy made while the catalog was in use
    holder.close()
    assert (frozen / "c.sqlite-wal").stat().st_size > 0
    freeze(frozen)

    def stats() -> tuple[int, str]:
        code, _, err = run_cli("stats", "--db", frozen / "c.sqlite")
        return code, err

    status, (code, err) = run_unprivileged(stats)
    assert status == "ok" and code == 2 and err.count("\n") == 1, err
    assert "c.sqlite-wal" in err and "copy both files somewhere writable" in err, err


@pytest.fixture
def own_catalog(open_dir, photo_tree, tiny_model, monkeypatch, tmp_path) -> Path:
    """A WAL catalog (closed cleanly: no -wal or -shm beside it) that the unprivileged user owns, in a folder
    that user may write; every command the tests run was run once here first (see `run_unprivileged`)."""
    monkeypatch.setenv("LOOKALIKE_HOME", str(open_dir / "home"))
    (open_dir / "home").mkdir()
    folder = open_dir / "mine"
    folder.mkdir()
    db = folder / "p.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    scratch = tmp_path / "scratch.sqlite"
    shutil.copy(db, scratch)
    for args in (("stats",), ("labels", "set", "red", "--value", "warm")):
        assert run_cli(*args, "--db", scratch)[0] == 0, args
    for p in (open_dir / "home", folder, *folder.rglob("*")):
        os.chown(p, NOBODY, NOBODY)
    assert side_files(db) == []
    return db


def side_files(db: Path) -> list[str]:
    """SQLite's files beside a catalog (its write-ahead log, shared memory, journal)."""
    return sorted(n for n in os.listdir(db.parent) if n.startswith(f"{db.name}-"))


def test_reading_a_read_only_catalog_file_leaves_nothing_beside_it(own_catalog):
    """`chmod 444` then `stats` left a -wal and a -shm with mode 444 beside the catalog; once the file was made
    writable again every write failed ("read-only ... make the file writable") until the -shm was deleted by
    hand."""
    db = own_catalog

    def read_then_write() -> tuple:
        db.chmod(0o444)
        read = run_cli("stats", "--db", db)
        beside = side_files(db)
        db.chmod(0o644)
        return read[0], beside, run_cli("labels", "set", "red", "--value", "warm", "--db", db)

    status, result = run_unprivileged(read_then_write)
    assert status == "ok", result
    read, beside, (wrote, _, err) = result
    assert read == 0 and beside == []
    assert wrote == 0, err


def test_side_files_an_earlier_read_left_read_only_do_not_block_writes(own_catalog):
    """A -wal and -shm made read-only by an earlier program's read (SQLite gives them the catalog's mode) are
    the user's own files: made writable again when the catalog is, instead of refusing every write."""
    db = own_catalog

    def leftovers_then_write() -> tuple:
        db.chmod(0o444)
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)  # as Lookalike 0.x read it
        conn.execute("SELECT count(*) FROM photos").fetchone()
        conn.close()
        left = side_files(db)
        db.chmod(0o644)
        return left, run_cli("labels", "set", "red", "--value", "warm", "--db", db)

    status, result = run_unprivileged(leftovers_then_write)
    assert status == "ok", result
    left, (wrote, _, err) = result
    assert left == ["p.sqlite-shm", "p.sqlite-wal"]
    assert wrote == 0, err
