"""Thumbnails kept in the catalog (schema 8): a curator whose machine cannot read the photos (the share not
mounted there) still sees them. A real PostgreSQL server, real photos, the real CLI for the photo root."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from desktop_app.core import catalog_thumbnails, images, thumbnails
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.images import PhotoError
from desktop_app.core.storage import SCHEMA_VERSION, Catalog
from desktop_app.core.storage.copy import copy_catalog
from desktop_app.core.storage.schema import photo_thumbnails_table
from tests.conftest import run_main, write_photo

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "shoes/blue": (30, 30, 200)}


def mean_colour(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)


def assert_colour(path: Path, colour: tuple[int, int, int]) -> None:
    got = mean_colour(path)
    assert np.abs(got - np.asarray(colour)).max() < 40, (path, got, colour)


def become_another_machine(monkeypatch, tmp_path: Path, name: str) -> Path:
    """Another curator's machine: its own user folder (settings, photo root mapping, thumbnail cache)."""
    home = tmp_path / name
    home.mkdir()
    monkeypatch.setenv("LOOKALIKE_HOME", str(home))
    return home


def stored_paths(location) -> dict[str, tuple[int, int, bytes]]:
    with Catalog(location, create=False) as cat:
        paths = sorted(cat.photo_paths())
        return {p: (t.width, t.height, t.data) for p, t in cat.thumbnails_of(paths).items()}


# ----------------------------------------------------------------------------- the shared catalog


def test_a_client_without_the_photos_gets_thumbnails_from_the_shared_catalog(
    pg_url, photo_tree, tiny_model, tmp_path, monkeypatch, capsys
):
    # Machine A has the photos and indexes them: every photo's thumbnail goes into the catalog with it.
    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    with Catalog(pg_url, create=False) as cat:
        counts = cat.thumbnail_counts()
    assert counts["photos"] == counts["stored"] == 7 and counts["bytes"] > 7 * 300
    # Machine B: another curator, an empty thumbnail cache, the photo share mapped where it is not mounted.
    home_b = become_another_machine(monkeypatch, tmp_path, "machine-b")
    offline = tmp_path / "mnt" / "nothere" / "photos"
    code, _out, err = run_main(capsys, "catalog", "root", str(offline), "--db", pg_url)
    assert code == 0 and "not there yet" in err
    with Engine.open(pg_url, remember=False) as engine:
        assert engine.photo_root() == offline and not engine.photos_online()
        paths = sorted(engine.catalog.photo_paths())
        with pytest.raises(PhotoError) as gone:  # nothing of its own to show
            thumbnails.thumbnail(engine.absolute(paths[0]), 160)
        assert gone.value.reason in thumbnails.UNREADABLE
        got = engine.thumbnails(paths, 160)
        assert sorted(got) == paths
        for rel, file in got.items():
            assert file.is_relative_to(home_b / "thumbnails")  # cached on this machine
            with Image.open(file) as im:
                assert im.size == (64, 48)  # the photo's own size: never enlarged
            assert_colour(file, COLOURS[rel.rsplit("/", 1)[0]])
        # Asked again, they come from this machine's cache: the catalog is not read.
        with monkeypatch.context() as m:
            m.setattr(Catalog, "thumbnails_of", lambda self, paths: pytest.fail("read the catalog"))
            assert engine.thumbnails(paths, 160) == got
        # The views ask for the sizes they show: a smaller one is scaled from the stored thumbnail.
        small = engine.catalog_thumbnails(paths[:1], 32)
        with Image.open(small[paths[0]]) as im:
            assert max(im.size) == 32


def test_a_client_without_the_photos_sees_a_photo_changed_on_the_server_as_it_is_now(
    pg_url, photo_tree, tiny_model, tmp_path, monkeypatch
):
    import os

    model = str(tiny_model.manifest_path)
    index_photos(pg_url, photo_tree, model=model)
    home_a = os.environ["LOOKALIKE_HOME"]
    become_another_machine(monkeypatch, tmp_path, "machine-b")
    with Engine.open(pg_url, remember=False) as engine:
        engine.map_photo_root(tmp_path / "not-mounted")
        red = "red/p0.jpg"
        before = engine.thumbnails([red], 160)[red]
        assert_colour(before, COLOURS["red"])
        # Machine A replaces the photo (a re-shoot) and indexes it: the catalog's thumbnail follows it.
        monkeypatch.setenv("LOOKALIKE_HOME", home_a)
        write_photo(photo_tree / red, (240, 240, 20), size=(80, 60), seed=5)
        assert index_photos(pg_url, photo_tree, model=model).changed == 1
        monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path / "machine-b"))
        # Machine B, still without the photos, shows it as it is now, not as it last saw it.
        after = engine.thumbnails([red], 160)[red]
        assert after != before and before.exists()
        assert_colour(after, (240, 240, 20))
        with Image.open(after) as im:
            assert im.size == (80, 60)
        # Asked again it comes from this machine's cache, and is the photo's last known thumbnail here.
        with monkeypatch.context() as m:
            m.setattr(Catalog, "thumbnails_of", lambda self, paths: pytest.fail("read the catalog"))
            assert engine.thumbnails([red], 160) == {red: after}
        assert_colour(thumbnails.thumbnail(engine.absolute(red), 160), (240, 240, 20))


def test_thumbnails_are_stored_from_the_decode_the_model_needed(pg_url, photo_tree, tiny_model, monkeypatch):
    decodes: list[int] = []
    real = images.decoded

    def counting(*args, **kwargs):
        decodes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "decoded", counting)
    summary = index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    assert summary.embedded == 7 and len(decodes) == 7  # one decode per photo, thumbnail included
    assert summary.thumbnails_filled == 0  # none was missing


def test_thumbnails_follow_their_photos(pg_url, photo_tree, tiny_model):
    model = str(tiny_model.manifest_path)
    index_photos(pg_url, photo_tree, model=model)
    before = stored_paths(pg_url)
    # Edited (new content): a new thumbnail; deleted: its thumbnail goes; moved: it keeps its thumbnail.
    write_photo(photo_tree / "red" / "p0.jpg", (240, 240, 20), size=(80, 60), seed=5)
    (photo_tree / "green" / "p1.jpg").unlink()
    (photo_tree / "green" / "p0.jpg").rename(photo_tree / "green" / "p0-renamed.jpg")
    summary = index_photos(pg_url, photo_tree, model=model)
    assert (summary.changed, summary.removed, summary.moved) == (1, 1, 1)
    after = stored_paths(pg_url)
    assert "green/p1.jpg" not in after and "green/p0.jpg" not in after
    assert after["green/p0-renamed.jpg"] == before["green/p0.jpg"]
    assert after["red/p0.jpg"][:2] == (80, 60) and after["red/p0.jpg"] != before["red/p0.jpg"]
    with Catalog(pg_url, create=False) as cat, cat.read() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(photo_thumbnails_table)).scalar_one()
    assert rows == len(after) == 6


def test_photos_indexed_before_get_their_thumbnails_in_batches(pg_url, photo_tree, tiny_model, monkeypatch):
    model = str(tiny_model.manifest_path)
    index_photos(pg_url, photo_tree, model=model)
    with Catalog(pg_url, create=False) as cat, cat.write() as conn:  # as a catalog of schema 7 had none
        conn.execute(photo_thumbnails_table.delete())
    monkeypatch.setattr(catalog_thumbnails, "FILL_BATCH", 2)
    notes: list[tuple[int, int, str]] = []

    def cancel_after_first_batch() -> bool:
        return any(done > 0 for done, _total, note in notes if note == catalog_thumbnails.FILLING)

    first = index_photos(
        pg_url,
        photo_tree,
        progress=lambda p: notes.append((p.done, p.total, p.note)),
        should_cancel=cancel_after_first_batch,
    )
    assert first.cancelled and first.thumbnails_filled == 2 and first.embedded == 0
    assert [n for n in notes if n[2] == catalog_thumbnails.FILLING] == [
        (0, 7, "storing thumbnails"),
        (2, 7, "storing thumbnails"),
    ]
    assert len(stored_paths(pg_url)) == 2  # the batch written before the cancel is kept
    second = index_photos(pg_url, photo_tree)
    assert not second.cancelled and second.thumbnails_filled == 5 and second.thumbnails_unreadable == 0
    stored = stored_paths(pg_url)
    assert len(stored) == 7
    for w, h, data in stored.values():
        assert (w, h) == (64, 48) and data[:2] == b"\xff\xd8"  # a JPEG
    third = index_photos(pg_url, photo_tree)
    assert third.thumbnails_filled == 0


def test_a_photo_that_cannot_be_read_while_filling_in_is_asked_for_again(
    pg_url, photo_tree, tiny_model, monkeypatch
):
    model = str(tiny_model.manifest_path)
    index_photos(pg_url, photo_tree, model=model)
    with Catalog(pg_url, create=False) as cat, cat.write() as conn:
        conn.execute(photo_thumbnails_table.delete())
    real = catalog_thumbnails.thumbnail_of_file

    def green_unreadable(path: Path):
        if path.parent.name == "green":
            raise PhotoError("unreadable", "permission denied")
        return real(path)

    with monkeypatch.context() as m:
        m.setattr(catalog_thumbnails, "thumbnail_of_file", green_unreadable)
        summary = index_photos(pg_url, photo_tree)
    assert (summary.thumbnails_filled, summary.thumbnails_unreadable) == (5, 2) and not summary.cancelled
    again = index_photos(pg_url, photo_tree)
    assert (again.thumbnails_filled, again.thumbnails_unreadable) == (2, 0)
    assert len(stored_paths(pg_url)) == 7


# ----------------------------------------------------------------------------- SQLite catalogs


def test_a_single_curators_sqlite_catalog_keeps_no_thumbnails(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    summary = index_photos(db, photo_tree, model=str(tiny_model.manifest_path))
    assert summary.embedded == 7 and summary.thumbnails_filled == 0
    with Catalog(db, create=False) as cat:
        assert cat.thumbnail_counts() == {"photos": 7, "stored": 0, "bytes": 0}
        assert not catalog_thumbnails.keeps_thumbnails(cat)


def test_copies_carry_thumbnails_both_ways_and_a_copy_keeps_them_complete(
    pg_url, pg_server, photo_tree, tiny_model, tmp_path
):
    from tools import pg_cluster

    model = str(tiny_model.manifest_path)
    index_photos(pg_url, photo_tree, model=model)
    shared = stored_paths(pg_url)
    local = tmp_path / "laptop.sqlite"
    report = copy_catalog(pg_url, local)
    assert report.verified and report.rows["photo_thumbnails"] == 7 and "photo_thumbnails" in report.checksums
    assert stored_paths(local) == shared
    # The SQLite copy holds thumbnails, so its index runs keep them complete.
    write_photo(photo_tree / "red" / "p7.jpg", (210, 20, 20), seed=77)
    index_photos(local, photo_tree, model=model)
    copied = stored_paths(local)
    assert len(copied) == 8 and copied["red/p7.jpg"][:2] == (64, 48)
    # And back to a new shared catalog, checked row by row.
    back = pg_cluster.create_database(pg_server, pg_url.rsplit("/", 1)[1] + "_back")
    report = copy_catalog(local, back)
    assert report.verified and report.rows["photo_thumbnails"] == 8
    assert stored_paths(back) == copied


# ----------------------------------------------------------------------------- older catalogs


def test_a_schema_7_catalog_migrates_and_its_next_index_run_fills_in(
    catalog_location, photo_tree, tiny_model
):
    model = str(tiny_model.manifest_path)
    index_photos(catalog_location, photo_tree, model=model)
    with Catalog(catalog_location, create=False) as cat:
        counts = cat.counts()
        with cat.write() as conn:  # back to schema 7
            conn.exec_driver_sql("DROP TABLE photo_thumbnails")
            conn.exec_driver_sql("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with Catalog(catalog_location, create=False) as cat:
        assert cat.schema_version() == SCHEMA_VERSION == 8
        assert cat.counts() == counts
        assert cat.thumbnail_counts()["stored"] == 0
    summary = index_photos(catalog_location, photo_tree)
    shared = not isinstance(catalog_location, Path)
    assert summary.thumbnails_filled == (7 if shared else 0)  # SQLite: a single curator's catalog
    assert len(stored_paths(catalog_location)) == (7 if shared else 0)


def test_a_sqlite_file_of_schema_7_migrates_with_plain_sqlite(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "old.sqlite"
    index_photos(db, photo_tree, model=str(tiny_model.manifest_path))
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE photo_thumbnails")
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with Engine.open(db, remember=False) as engine:
        assert engine.catalog.schema_version() == SCHEMA_VERSION
        assert engine.catalog_thumbnails(sorted(engine.catalog.photo_paths()), 96) == {}
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(photo_thumbnails)")]
    assert cols == ["photo_id", "width", "height", "data"]


def test_the_cli_says_what_it_filled_in_and_stats_counts_the_thumbnails(
    pg_url, photo_tree, tiny_model, capsys
):
    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    with Catalog(pg_url, create=False) as cat, cat.write() as conn:
        conn.execute(photo_thumbnails_table.delete().where(photo_thumbnails_table.c.photo_id > 2))
    code, out, err = run_main(capsys, "index", str(photo_tree), "--db", pg_url)
    assert code == 0, err
    assert "Thumbnails stored for 5 photos indexed before" in out
    code, out, err = run_main(capsys, "stats", "--db", pg_url)
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("Thumbnails"))
    assert line.startswith("Thumbnails 7 of 7 usable photos in the catalog, ") and line.endswith(" KB each")
    code, out, _ = run_main(capsys, "stats", "--db", pg_url, "--json")
    state = json.loads(out)["thumbnails"]
    assert state["kept"] and state["stored"] == state["photos"] == 7 and state["bytes"] > 0


def _fill_and_die(url: str, photos: str, home: str) -> None:
    """An index run that is SIGKILLed as it starts writing the third batch of thumbnails (child process)."""
    import os
    import signal

    os.environ["LOOKALIKE_HOME"] = home
    catalog_thumbnails.FILL_BATCH = 2
    real = Catalog.store_thumbnails
    calls = []

    def store(self, thumbs):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, thumbs)

    Catalog.store_thumbnails = store
    index_photos(url, Path(photos))


def test_a_fill_in_killed_keeps_the_batches_written(pg_url, photo_tree, tiny_model, isolated_home):
    import multiprocessing as mp

    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    with Catalog(pg_url, create=False) as cat, cat.write() as conn:
        conn.execute(photo_thumbnails_table.delete())
    child = mp.get_context("spawn").Process(
        target=_fill_and_die, args=(pg_url, str(photo_tree), str(isolated_home))
    )
    child.start()
    child.join(120)
    assert child.exitcode == -9
    assert len(stored_paths(pg_url)) == 4  # two batches of two were committed before the kill
    summary = index_photos(pg_url, photo_tree)
    assert summary.thumbnails_filled == 3 and len(stored_paths(pg_url)) == 7
