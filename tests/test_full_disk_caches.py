"""A full disk stops what the curator asked to save, never an answer: a read that would also like to keep a
cache (photo fingerprints, the map layout, a label calibration, the local vector store) gives its answer,
stores nothing and says so in one line. Each test fills a real tmpfs (root only; skipped elsewhere)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import DiskFull
from desktop_app.core.storage import Catalog
from tests.conftest import bundled_sample_photos, cli, one_line_exit_2, write_photo
from tests.test_reliability import small_filesystem


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the filesystem of `folder` until about `leave` bytes are free (0: to the last byte)."""
    with open(folder / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize > leave + 4096:
            fh.write(b"\0" * 4096)
        if not leave:
            while True:
                fh.write(b"\0" * 512)


def not_stored_line(stderr: str, what: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert what in lines[0].lower() and "not stored" in lines[0] and "full" in lines[0], stderr


@pytest.fixture
def full_catalog(tmp_path, tiny_model):
    """The sample photos indexed into a catalog on a 4 MB tmpfs, then filled up to 40 KB: room to open the
    catalog (SQLite's shared-memory and log files) but not to store a cache in it."""
    disk = tmp_path / "disk"
    with small_filesystem(disk, "4m"):
        photos = tmp_path / "photos"
        shutil.copytree(bundled_sample_photos(), photos)
        from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

        db = disk / "cat.sqlite"
        index_photos(db, photos, model=tiny_model, rule=GroupingRule("pattern", MAGENTO_PATTERN))
        fill(disk, leave=40_000)
        yield db


def test_duplicates_and_map_answer_on_a_full_disk_and_say_what_was_not_stored(full_catalog, tmp_path):
    home = tmp_path / "home"
    proc = cli("duplicates", "--db", full_catalog, "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert '"pairs"' in proc.stdout
    not_stored_line(proc.stderr, "fingerprints")
    png = tmp_path / "map.png"
    proc = cli("map", "--method", "pca", "--png", png, "--db", full_catalog, home=home)
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 0
    not_stored_line(proc.stderr, "map layout")
    with Catalog(full_catalog) as cat:  # nothing half-stored
        assert cat.fingerprints([r.hash for r in cat.photo_rows()], 1) == {}
        article = cat.article_keys()[0]
    # What the curator asks to save still fails, in one line.
    one_line_exit_2(
        cli(
            "labels",
            "set",
            article,
            "--field",
            "category",
            "--value",
            "x" * 60_000,
            "--db",
            full_catalog,
            home=home,
        ),
        "is full",
    )


def test_the_vector_store_is_not_kept_on_a_full_disk_and_search_reads_the_catalog(full_catalog, caplog):
    shutil.rmtree(f"{full_catalog}.vectors")
    with Engine.open(full_catalog) as engine:
        fill(full_catalog.parent)
        with caplog.at_level(logging.WARNING):
            assert engine.vectors().n_photos == 76
        said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "search cache" in said[0].lower() and "not stored" in said[0], said


def test_a_label_calibration_is_computed_but_not_stored_on_a_full_disk(tmp_path, tiny_model, caplog):
    photos = tmp_path / "photos"
    for i in range(60):  # calibration needs 50 labelled articles
        write_photo(photos / f"a{i:02d}" / "p.jpg", ((i * 37) % 256, (i * 91) % 256, 90), seed=i)
    disk = tmp_path / "disk"
    with small_filesystem(disk, "4m"):
        db = disk / "cat.sqlite"
        index_photos(db, photos, model=tiny_model)
        with Engine.open(db) as engine:
            keys = engine.catalog.article_keys()
            engine.set_labels(keys[:30], "category", "warm")
            engine.set_labels(keys[30:55], "category", "cool")
            fill(disk)
            with caplog.at_level(logging.WARNING):
                first = engine.suggest("category")
                again = engine.suggest("category")  # computed again, said once
            assert first and [s.to_dict() for s in first] == [s.to_dict() for s in again]
            said = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
            assert len(said) == 1 and "calibration" in said[0] and "full" in said[0], said
            with pytest.raises(DiskFull):  # a label is the curator's work: still refused
                engine.set_labels(keys[55:], "category", "y" * 50_000)
            (disk / "filler").unlink()
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                engine.suggest("category")
            assert not [r for r in caplog.records if "not stored" in r.getMessage()]
