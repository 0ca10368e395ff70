"""Vectors whose bytes were damaged on disk: SQLite's own checks cannot see them (a blob is any bytes), so
`catalog check` judges every stored vector by the rule that refuses such vectors at write time (finite
numbers of unit length), `catalog recover` leaves them out instead of calling the copy healthy, and the next
index run embeds their photos again. Also: a recovery never takes tables it could not find in a damaged
schema for tables an older version did not have."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.engine import index_photos
from desktop_app.core.errors import CatalogError
from desktop_app.core.storage import Catalog, PhotoWrite
from desktop_app.core.storage.recover import recover
from desktop_app.core.vectors import sound_rows
from tests.conftest import cli, one_line_exit_2

VICTIM = "red/p1.jpg"


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model) -> Path:
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    return db


def stored_blob(db: Path, path: str) -> tuple[int, bytes]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT v.dim, v.data FROM vectors v JOIN photos p ON p.id = v.photo_id WHERE p.path = ?", (path,)
        ).fetchone()


def garbage_through_sqlite(db: Path) -> None:
    """The victim's vector holds NaN and a huge value, as the audit's damaged copy did."""
    dim, blob = stored_blob(db, VICTIM)
    values = np.frombuffer(blob, "<f2").copy()
    values[0], values[1] = np.nan, 60000.0
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "UPDATE vectors SET data = ? WHERE photo_id = (SELECT id FROM photos WHERE path = ?)",
            (values.tobytes(), VICTIM),
        )


def garbage_on_disk(db: Path) -> None:
    """Random bytes written over the victim's vector in the file itself, past SQLite (as dd does)."""
    _, blob = stored_blob(db, VICTIM)
    content = db.read_bytes()
    assert content.count(blob) == 1
    with open(db, "r+b") as fh:
        fh.seek(content.index(blob))
        fh.write(np.random.default_rng(7).integers(0, 256, len(blob), dtype=np.uint8).tobytes())


def test_the_rule_accepts_unit_vectors_in_float16_and_refuses_the_rest():
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(200, 1280)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    assert sound_rows(unit.astype(np.float16)).all()  # as stored: float16 rounding is within tolerance
    bad = unit[:5].copy()
    bad[0, 3] = np.nan
    bad[1, 0] = 60000.0
    bad[2] *= 1.5
    bad[3] = 0.0
    bad[4, 9] = np.inf
    assert not sound_rows(bad).any()


@pytest.mark.parametrize("damage", [garbage_through_sqlite, garbage_on_disk], ids=["sqlite", "on-disk"])
def test_a_damaged_vector_is_reported_left_out_by_recover_and_embedded_again(
    indexed, photo_tree, tmp_path, damage
):
    home = tmp_path / "home"
    damage(indexed)
    assert cli("stats", "--db", indexed, home=home).returncode == 0  # nothing SQLite could see
    with closing(sqlite3.connect(indexed)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = indexed.read_bytes()

    check = cli("catalog", "check", "--db", indexed, home=home)
    one_line_exit_2(check, "catalog recover")
    assert VICTIM in check.stdout and "not a unit vector of finite numbers" in check.stdout
    as_json = json.loads(cli("catalog", "check", "--db", indexed, "--json", home=home).stdout)
    assert not as_json["ok"] and [v["path"] for v in as_json["damaged_vectors"]] == [VICTIM]

    fixed = tmp_path / "fixed.sqlite"
    told = cli("catalog", "recover", fixed, "--db", indexed, home=home)
    assert told.returncode == 0, told.stderr
    assert "1 vector(s) left out whose bytes are damaged" in told.stdout
    fixed.unlink()
    rec = cli("catalog", "recover", fixed, "--db", indexed, "--json", home=home)
    report = json.loads(rec.stdout)
    assert report["integrity"] == "ok" and report["damaged_vectors"] == 1
    assert report["rows"]["vectors"] == report["rows"]["photos"] - 1 and not report["rejected"]
    assert cli("catalog", "check", "--db", fixed, home=home).returncode == 0
    # The damaged catalog was only read: as it was, and nothing of SQLite's left beside it.
    assert indexed.read_bytes() == before
    assert [p.name for p in indexed.parent.iterdir() if p.name.startswith(f"{indexed.name}-")] == []

    # The photo keeps its row, so the next index run finds it without a vector and embeds it again.
    index = cli("index", photo_tree, "--db", fixed, "--json", home=home)
    assert index.returncode == 0, index.stderr
    summary = json.loads(index.stdout)
    assert (summary["reembedded"], summary["new"], summary["embedded"]) == (1, 0, 1)
    dim, blob = stored_blob(fixed, VICTIM)
    assert sound_rows(np.frombuffer(blob, "<f2"))[0]
    similar = cli("similar", "red", "--db", fixed, home=home)
    assert similar.returncode == 0 and "Warning" not in similar.stderr, similar.stderr


def test_the_catalog_refuses_to_store_a_vector_that_is_not_a_unit_vector(indexed):
    with Catalog(indexed) as catalog:
        row = next(r for r in catalog.photo_rows() if r.path == VICTIM)
        write = PhotoWrite(
            1, VICTIM, VICTIM.encode(), row.size, row.mtime_ns, None, existing_id=row.id, vector=np.ones(8)
        )
        with pytest.raises(ValueError, match="not a finite unit vector"):
            catalog.write_photos([write], "some-model")


def test_a_damaged_list_of_tables_is_unreadable_not_an_older_version(indexed, tmp_path):
    """Garbage over the second half of the first page (the list of tables): the tables are unknown to SQLite
    then. They were called absent (as if an older version had made the catalog), and the recovery, an empty
    catalog, said integrity ok."""
    page = 16384
    with open(indexed, "r+b") as fh:
        fh.seek(page // 2)
        fh.write(np.random.default_rng(3).integers(0, 256, page // 2, dtype=np.uint8).tobytes())
    target = tmp_path / "fixed.sqlite"
    with pytest.raises(CatalogError, match="list of tables, on the first page, is damaged"):
        recover(indexed, target)
    assert not target.exists()
