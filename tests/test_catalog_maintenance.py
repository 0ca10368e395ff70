"""Catalog maintenance from the command line: `catalog recover` keeps every table of the schema (all of it
from a sound catalog, everything readable from a damaged one), `catalog check` reports damage as a
user-facing outcome, and `catalog copy` names the mistake when its target is a folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.catalog_thumbnails import thumbnail_of_file
from desktop_app.core.engine import index_photos
from desktop_app.core.storage import Catalog
from desktop_app.core.storage.recover import NOT_COPIED, recovered_tables
from desktop_app.core.storage.schema import PAGE_SIZE, metadata
from tests.conftest import cli, one_line_exit_2


def table_rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


@pytest.fixture
def full_catalog(tmp_path, photo_tree, tiny_model) -> Path:
    """A catalog with rows in every table a curator's work or an index run fills."""
    db = tmp_path / "cat.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Catalog(db, create=False) as cat:
        cat.write_raw_settings({"search": {"method": "greedy"}})
        cat.set_labels([("red", "category", "tops"), ("green", "category", "tops")], curator="alice")
        cat.decide([("red", "green", "same")], curator="alice", note="same cut, other dye")
        cat.decide([("green", "shoes/blue", "not_match")], curator="bob", note="different soles")
        paths = sorted(row.path for row in cat.photo_rows())
        cat.set_verdicts([(paths[0], paths[1], "duplicate")], curator="alice")
        adapter = cat.save_adapter(tiny_model.manifest.model_id, "linear", {"pairs": 3}, b"adapter-bytes")
        cat.save_layout(tiny_model.manifest.model_id, adapter, "pca", "digest", {"n": 3}, b"layout-bytes")
        cat.set_cover("red", "red/p1.jpg", curator="alice")
        cat.store_fingerprints([("hash-1", b"print-1"), ("hash-2", b"print-2")], version=1)
        # Thumbnails, as an SQLite copy of a shared catalog holds them: two photos have theirs.
        photos = cat.photo_rows()[:2]
        cat.store_thumbnails({p.id: thumbnail_of_file(photo_tree / p.path) for p in photos})
    return db


def test_every_schema_table_is_recovered_or_declared_not_copied():
    # A table added to the schema is recovered by default; leaving one out needs a reason in NOT_COPIED.
    assert set(recovered_tables()) | set(NOT_COPIED) == set(metadata.tables)
    assert not set(recovered_tables()) & set(NOT_COPIED)


def test_recover_of_a_sound_catalog_keeps_every_table(full_catalog, tmp_path):
    home = tmp_path / "home"
    for table in recovered_tables():  # the fixture must fill every table, or this test proves nothing for it
        assert table_rows(full_catalog, table), f"add rows of {table} to the full_catalog fixture"
    copied = tmp_path / "dmg.sqlite"
    assert cli("catalog", "copy", full_catalog, copied, home=home).returncode == 0
    rec = tmp_path / "rec.sqlite"
    proc = cli("catalog", "recover", rec, "--db", copied, home=home)
    assert proc.returncode == 0, proc.stderr
    for table in recovered_tables():
        assert table_rows(rec, table) == table_rows(copied, table), table
        assert any(line.split()[:1] == [table] for line in proc.stdout.splitlines()), (table, proc.stdout)
    assert "meta" in proc.stdout and "rebuilt on demand" in proc.stdout
    listed = cli("decide", "--list", "--db", rec, home=home)
    assert listed.returncode == 0, listed.stderr
    assert "same cut, other dye" in listed.stdout and "different soles" in listed.stdout
    report = json.loads(
        cli("catalog", "recover", tmp_path / "again.sqlite", "--db", copied, "--json", home=home).stdout
    )
    assert report["rows"]["decisions"] == 2 and report["rows"]["adapters"] == 1 and not report["lost"]
    assert (
        report["rows"]["photo_verdicts"] == report["rows"]["article_covers"] == report["rows"]["layouts"] == 1
    )


def test_recover_reads_past_a_damaged_page_row_by_row(full_catalog, tmp_path):
    """Thousands of decisions over many pages; one page in their middle is overwritten. Only the rows of
    that page are lost: those before it and after it are recovered, and the report names the stretch."""
    conn = sqlite3.connect(full_catalog)
    with conn:
        conn.executemany(
            "INSERT INTO decisions (article_a, article_b, decision, note, at, undone) VALUES (?, ?, ?, ?, ?, 0)",
            [(f"a{i:05d}", f"b{i:05d}", "alike", f"NOTE-{i:05d}-" + "x" * 200, 1.0) for i in range(3000)],
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = full_catalog.read_bytes()
    page = data.index(b"NOTE-01500-") // PAGE_SIZE
    with open(full_catalog, "r+b") as fh:
        fh.seek(page * PAGE_SIZE)
        fh.write(np.random.default_rng(1).integers(0, 256, PAGE_SIZE, dtype=np.uint8).tobytes())
    home = tmp_path / "home"
    check = cli("catalog", "check", "--db", full_catalog, home=home)
    one_line_exit_2(check, "catalog recover")
    rec = tmp_path / "rec.sqlite"
    proc = cli("catalog", "recover", rec, "--db", full_catalog, "--json", home=home, timeout=20)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    notes = {
        row[0] for row in sqlite3.connect(rec).execute("SELECT note FROM decisions WHERE note LIKE 'NOTE-%'")
    }
    kept = sorted(int(n[5:10]) for n in notes)
    per_page = PAGE_SIZE // 230
    assert 3000 - 2 * per_page < len(kept) < 3000 and 1500 not in kept
    assert kept[0] == 0 and kept[-1] == 2999  # read before and past the damage
    missing = sorted(set(range(3000)) - set(kept))
    assert missing == list(range(missing[0], missing[-1] + 1))  # one stretch: the damaged page's rows
    [[before, after]] = report["lost"]["decisions"]
    assert before is not None and after is not None and after - before == len(missing) + 1
    for table in ("labels", "adapters", "photo_verdicts", "article_covers", "layouts", "photo_fingerprints"):
        assert table_rows(rec, table) == table_rows(full_catalog, table), table
    text = cli("catalog", "recover", tmp_path / "again.sqlite", "--db", full_catalog, home=home).stdout
    assert f"between rowid {before} and rowid {after}" in text
    assert cli("catalog", "check", "--db", rec, home=home).returncode == 0


def test_catalog_copy_into_a_folder_says_it_is_a_folder(full_catalog, tmp_path):
    folder = tmp_path / "photos"  # the photo folder itself: a likely slip
    one_line_exit_2(
        cli("catalog", "copy", full_catalog, folder, home=tmp_path / "home"), "photos is a folder"
    )
    one_line_exit_2(
        cli("catalog", "recover", folder, "--db", full_catalog, home=tmp_path / "home"), "is a folder"
    )


def test_no_postgresql_server_is_one_line_in_every_url_form(tmp_path, photo_tree, full_catalog):
    pytest.importorskip("psycopg", reason="install the [postgres] extra")
    home = tmp_path / "home"
    nobody = tmp_path / "no-server"  # a socket folder where no server listens
    nobody.mkdir()
    urls = [f"postgresql+psycopg:///lookalike?host={nobody}", "postgresql+psycopg://u@127.0.0.1:9/lookalike"]
    if not Path("/var/run/postgresql/.s.PGSQL.5432").exists():
        urls.append("postgresql+psycopg:///lookalike")  # the default socket, as typed by a curator
    for url in urls:
        for args in (
            ("stats", "--db", url),
            ("index", photo_tree, "--db", url),
            ("catalog", "copy", full_catalog, url),
        ):
            one_line_exit_2(cli(*args, home=home), "cannot reach the postgresql server")
