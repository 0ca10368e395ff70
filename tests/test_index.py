"""Incremental indexing into a real SQLite catalog with a real (tiny) ONNX model."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from desktop_app.core.errors import CatalogError, UserError
from desktop_app.core.indexer import IndexOptions, index_folder
from desktop_app.core.models import vector_identity
from desktop_app.core.scan import GroupingRule
from desktop_app.core.settings import SearchSettings, catalog_settings, update_catalog_settings
from desktop_app.core.storage import SCHEMA_VERSION, Catalog
from tests.conftest import make_tiny_model, write_photo


def _index(catalog, root, model, **kw):
    return index_folder(catalog, root, model=model, options=IndexOptions(batch_size=4, workers=2), **kw)


def _vector_rows(catalog):
    """(vector rows, distinct (photo, model) pairs), read with plain SQL on either backend."""
    import sqlalchemy as sa

    with catalog.engine.connect() as conn:
        q = "SELECT count(*), count(DISTINCT CAST(photo_id AS TEXT) || model_id) FROM vectors"
        return tuple(conn.execute(sa.text(q)).one())


def test_first_run_then_unchanged_costs_nothing(tmp_path, catalog_location, photo_tree, tiny_model):
    cat = Catalog(catalog_location)
    s1 = _index(cat, photo_tree, tiny_model)
    assert (s1.articles, s1.photos, s1.new, s1.embedded) == (3, 7, 7, 7)
    assert sorted(cat.article_keys()) == ["green", "red", "shoes/blue"]
    s2 = _index(cat, photo_tree, tiny_model)
    assert (s2.new, s2.changed, s2.moved, s2.removed, s2.embedded, s2.unchanged) == (0, 0, 0, 0, 0, 7)
    assert s2.device == ""  # the model is not even loaded when nothing changed


def test_changed_moved_and_deleted_files(tmp_path, catalog_location, photo_tree, tiny_model):
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    before = {r.path: r.id for r in cat.photo_rows()}
    # changed content (new size and mtime)
    write_photo(photo_tree / "red" / "p0.jpg", (250, 250, 0), size=(80, 60), seed=99)
    # moved to another article folder
    (photo_tree / "blue2").mkdir()
    shutil.move(photo_tree / "shoes" / "blue" / "p1.jpg", photo_tree / "blue2" / "renamed.jpg")
    # deleted
    (photo_tree / "green" / "p1.jpg").unlink()
    s = _index(cat, photo_tree, tiny_model)
    assert (s.changed, s.moved, s.removed, s.new, s.embedded) == (1, 1, 1, 0, 1)
    after = {r.path: r for r in cat.photo_rows()}
    assert after["blue2/renamed.jpg"].id == before["shoes/blue/p1.jpg"]  # same row, vectors kept
    assert after["blue2/renamed.jpg"].article == "blue2"
    assert "green/p1.jpg" not in after
    total, distinct = _vector_rows(cat)
    assert total == distinct == 6


def test_regrouping_keeps_vectors_and_labels(tmp_path, catalog_location, tiny_model):
    root = tmp_path / "p"
    for name in ["sku1_front", "sku1_back", "sku2_front", "odd"]:
        write_photo(root / f"{name}.jpg", seed=hash(name) % 100)
    cat = Catalog(catalog_location)
    _index(cat, root, tiny_model)
    assert cat.article_keys() == ["p"]
    cat.set_labels([("sku1", "category", "shirts")])
    s = _index(cat, root, tiny_model, rule=GroupingRule("pattern", r"(?P<article>sku\d+)_(?P<view>\w+)"))
    assert s.embedded == 0 and s.unmatched == 1
    assert cat.article_keys() == ["odd", "sku1", "sku2"]
    assert {r.view for r in cat.photos_of("sku1")} == {"front", "back"}
    assert cat.labels()["sku1"]["category"] == "shirts"
    assert catalog_settings(cat).grouping.kind == "pattern"  # the rule is stored with the catalog
    back = _index(
        cat, root, tiny_model, rule=GroupingRule("folder")
    )  # sku1 goes: its label is kept, and said
    assert (
        back.orphaned == {"labelled_articles": 1, "decided_pairs": 0}
        and "1 labelled article" in back.orphaned_text()
    )
    _index(cat, root, tiny_model, rule=GroupingRule("pattern", r"(?P<article>sku\d+)_(?P<view>\w+)"))
    assert _index(cat, root, tiny_model).unchanged == 4  # and reused without repeating it


def test_articles_grouped_by_file_name_lie_in_their_photos_folder(tmp_path, catalog_location, tiny_model):
    """The grid's folder column, the map's colour by folder and its sort need a folder whatever the grouping:
    a pattern-grouped article's is where its first photo is, and follows the photos when they move."""
    root = tmp_path / "p"
    for rel in ["m/h/mh01-gray_main", "m/h/mh01-gray_back", "w/j/wj01-red_main", "top_main"]:
        write_photo(root / f"{rel}.jpg", seed=len(rel))
    cat = Catalog(catalog_location)
    magento = GroupingRule("pattern", r"(?P<article>[^_]+?)(?:_(?P<view>.+))?")
    _index(cat, root, tiny_model, rule=magento)
    folders = lambda: dict(zip(*(cat.article_columns()[c] for c in ("article", "folder"))))  # noqa: E731
    assert folders() == {"mh01-gray": "m/h", "wj01-red": "w/j", "top": ""}
    (root / "w" / "x").mkdir()
    (root / "w/j/wj01-red_main.jpg").rename(root / "w/x/wj01-red_main.jpg")
    _index(cat, root, tiny_model)
    assert folders()["wj01-red"] == "w/x"
    _index(cat, root, tiny_model, rule=GroupingRule("folder"))  # folder grouping: the id's parent path
    assert folders() == {"m/h": "m", "w/x": "w", "p": ""}


def test_switching_model_never_mixes_vectors(tmp_path, catalog_location, photo_tree, tiny_model):
    other = make_tiny_model(tmp_path / "m2", name="tiny-other", dim=12, seed=5)
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    s = _index(cat, photo_tree, other)
    assert s.reembedded == 7
    a = cat.article_vectors(tiny_model.manifest.model_id)
    b = cat.article_vectors(other.manifest.model_id)
    assert a.vectors.shape == (7, 8) and b.vectors.shape == (7, 12)
    assert cat.counts()["vectors_by_model"] == {tiny_model.manifest.model_id: 7, other.manifest.model_id: 7}


BAD_FILES = {
    "bad/truncated.jpg": "truncated",
    "bad/zero.jpg": "empty",
    "bad/text.jpg": "not_an_image",
    "bad/huge.png": "too_large",
}


def _make_bad_files(root):
    from tests.test_images import _png_header

    good = write_photo(root / "bad" / "good.jpg")
    data = good.read_bytes()
    write_photo(root / "bad" / "big.jpg", size=(400, 300), seed=3)
    (root / "bad" / "truncated.jpg").write_bytes((root / "bad" / "big.jpg").read_bytes()[:2000])
    (root / "bad" / "big.jpg").unlink()
    (root / "bad" / "zero.jpg").write_bytes(b"")
    (root / "bad" / "text.jpg").write_text("not a photo")
    (root / "bad" / "huge.png").write_bytes(_png_header(50_000, 50_000))
    (root / "odd names").mkdir()
    (root / "odd names" / "photo with spaces ü 写真.jpg").write_bytes(data)
    os.makedirs(os.fsencode(root / "odd names"), exist_ok=True)
    with open(os.fsencode(root / "odd names") + b"/caf\xe9-latin1.jpg", "wb") as fh:
        fh.write(write_photo(root / "tmp.jpg", seed=7).read_bytes())
    (root / "tmp.jpg").unlink()


def test_bad_files_are_recorded_and_nothing_is_lost(tmp_path, catalog_location, photo_tree, tiny_model):
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    _make_bad_files(photo_tree)
    s = _index(cat, photo_tree, tiny_model)
    assert s.skipped == {"truncated": 1, "empty": 1, "not_an_image": 1, "too_large": 1}
    skipped = {item["path"]: item["reason"] for item in cat.skipped()}
    assert skipped == BAD_FILES
    paths = {r.path for r in cat.photo_rows() if r.status == "ok"}
    assert "odd names/photo with spaces ü 写真.jpg" in paths
    assert "odd names/caf\\xe9-latin1.jpg" in paths  # undecodable bytes shown escaped
    raw = next(r.raw_path for r in cat.photo_rows() if "caf" in r.path)
    assert (
        Path(catalog_settings(cat).photo_root) / os.fsdecode(raw)
    ).exists()  # and the file can still be opened from the stored bytes
    assert len(paths) == 7 + 3
    # a second run does not retry unchanged bad files and keeps everything
    s2 = _index(cat, photo_tree, tiny_model)
    assert s2.embedded == 0 and s2.unchanged == 7 + 3 + 4
    assert cat.integrity_check() == "ok"


def test_file_deleted_while_indexing(tmp_path, catalog_location, tiny_model):
    root = tmp_path / "p"
    for i in range(12):
        write_photo(root / f"a{i:02d}.jpg", seed=i)
    cat = Catalog(catalog_location)
    deleted = []

    def progress(p):
        if p.done >= 1 and not deleted:
            (root / "a11.jpg").unlink()
            deleted.append(True)

    s = index_folder(
        cat,
        root,
        model=tiny_model,
        progress=progress,
        options=IndexOptions(batch_size=1, workers=1, prefetch_batches=1),
    )
    assert s.skipped == {"vanished": 1}
    assert s.photos == 11 and cat.integrity_check() == "ok"


def test_cancel_keeps_committed_batches_and_resume_finishes(tmp_path, catalog_location, tiny_model):
    root = tmp_path / "p"
    for i in range(20):
        write_photo(root / f"x{i // 2}" / f"{i}.jpg", seed=i)
    cat = Catalog(catalog_location)
    calls = []
    s = index_folder(
        cat,
        root,
        model=tiny_model,
        options=IndexOptions(batch_size=4, workers=1),
        should_cancel=lambda: len(calls) > 0,
        progress=lambda p: calls.append(p.done) if p.done else None,
    )
    assert s.cancelled and 0 < cat.counts()["photos"] < 20
    s2 = _index(cat, root, tiny_model)
    assert not s2.cancelled and s2.photos == 20 and s2.new == 20 - s.new
    assert _vector_rows(cat) == (20, 20)


def test_missing_empty_folder_and_file_instead_of_folder(tmp_path, catalog_location, tiny_model):
    cat = Catalog(catalog_location)
    with pytest.raises(UserError, match="does not exist"):
        _index(cat, tmp_path / "nope", tiny_model)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="No photos found"):
        _index(cat, tmp_path / "empty", tiny_model)
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="not a folder"):
        _index(cat, tmp_path / "file.jpg", tiny_model)


def test_emptied_folder_does_not_wipe_the_catalog(tmp_path, catalog_location, photo_tree, tiny_model):
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    shutil.rmtree(photo_tree)
    photo_tree.mkdir()  # e.g. an unmounted drive leaves an empty mount point
    with pytest.raises(UserError):
        _index(cat, photo_tree, tiny_model)
    assert cat.counts()["photos"] == 7


def _file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_catalog_is_refused_untouched(tmp_path):
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    digest = _file_digest(path)
    with pytest.raises(CatalogError, match="newer Lookalike"):
        Catalog(path)
    assert _file_digest(path) == digest


def test_migration_from_schema_1_keeps_labels(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE articles (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, folder TEXT NOT NULL,
                                   added_at FLOAT NOT NULL);
            CREATE TABLE photos (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
                path TEXT NOT NULL UNIQUE, raw_path BLOB NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, hash TEXT, width INTEGER, height INTEGER, view TEXT,
                status TEXT NOT NULL, error TEXT, added_at FLOAT NOT NULL, updated_at FLOAT NOT NULL);
            CREATE TABLE vectors (photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
                model_id TEXT NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (photo_id, model_id));
            CREATE TABLE labels (article TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                updated_at FLOAT NOT NULL, PRIMARY KEY (article, field));
            INSERT INTO labels VALUES ('sku1', 'category', 'bags', 0);
        """)
    cat = Catalog(path)
    assert cat.schema_version() == SCHEMA_VERSION
    assert cat.labels() == {"sku1": {"category": "bags"}}
    run = cat.start_run("m")  # the table v2 added works
    cat.finish_run(run, "done", {})
    assert cat.last_run()["status"] == "done"
    cat.set_labels([("sku1", "category", "shoes")])  # and so does v3's decision log
    assert cat.undo_last_decision()[0]["new_value"] == "shoes"
    assert cat.labels() == {"sku1": {"category": "bags"}}


def test_not_a_catalog_and_missing_catalog(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(CatalogError):
        Catalog(junk)
    with pytest.raises(CatalogError, match="No catalog"):
        Catalog(tmp_path / "none.sqlite", create=False)


def test_catalog_settings_pragma_and_page_size(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    update_catalog_settings(cat, search=SearchSettings("hungarian", 0.5, 2))
    assert catalog_settings(cat).search == SearchSettings("hungarian", 0.5, 2)
    with sqlite3.connect(cat.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 16384


def test_preprocessing_is_stored_with_the_catalog_and_queries_follow_it(
    tmp_path, catalog_location, photo_tree, tiny_model
):
    from desktop_app.core.encoder import Encoder
    from desktop_app.core.indexer import embed_files

    def catalog_model_id(cat, model):
        s = catalog_settings(cat)
        return vector_identity(model.manifest, s.resize, s.mirror)

    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    plain = catalog_model_id(cat, tiny_model)
    s = index_folder(cat, photo_tree, model=tiny_model, options=IndexOptions(resize="letterbox", mirror=True))
    assert s.reembedded == 7  # a new vector set: nothing is mixed with the cropped vectors
    assert (catalog_settings(cat).resize, catalog_settings(cat).mirror) == ("letterbox", True)
    assert _index(cat, photo_tree, tiny_model).unchanged == 7  # the catalog remembers the choice
    mid = catalog_model_id(cat, tiny_model)
    assert mid != plain and mid.endswith("|letterbox|mirror")
    # a photo given as a query file is preprocessed the same way, so it finds itself exactly
    av = cat.article_vectors(mid)
    q, used, problems = embed_files(Encoder(tiny_model), [photo_tree / "red" / "p0.jpg"], "letterbox", True)
    assert used and not problems
    assert float((av.vectors @ q[0]).max()) > 0.9999
    # and "model" goes back to the manifest's own crop, whose vectors are still there
    s = index_folder(cat, photo_tree, model=tiny_model, options=IndexOptions(resize="model", mirror=False))
    assert s.embedded == 0 and catalog_model_id(cat, tiny_model) == plain


def _broken_models(folder):
    """Models whose manifests load but whose ONNX file cannot: garbage bytes, and no file at all."""
    garbage = make_tiny_model(folder / "garbage", name="tiny-garbage")
    garbage.onnx_path.write_bytes(b"this is not an ONNX file")
    missing = make_tiny_model(folder / "missing", name="tiny-missing")
    missing.onnx_path.unlink()
    return {"garbage": garbage, "missing": missing}


@pytest.mark.parametrize("broken", ["garbage", "missing", "unknown name"])
def test_a_model_that_cannot_load_changes_nothing(tmp_path, catalog_location, photo_tree, tiny_model, broken):
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    settings_before = cat.raw_settings()
    runs_before = cat.recent_runs()
    photos_before = cat.photo_rows()
    model = _broken_models(tmp_path / "models").get(broken, "no-such-model")
    with pytest.raises(UserError):
        index_folder(
            cat,
            photo_tree,
            rule=GroupingRule("pattern", r"(?P<article>p\d)"),
            model=model,
            options=IndexOptions(batch_size=4, workers=2, resize="letterbox", mirror=True),
        )
    assert cat.raw_settings() == settings_before  # model, grouping and preprocessing as they were
    assert cat.recent_runs() == runs_before  # no run was started, so none is left "running"
    assert cat.photo_rows() == photos_before
    again = _index(cat, photo_tree, tiny_model)
    assert (again.unchanged, again.embedded) == (7, 0)


def test_a_model_its_manifest_misdescribes_is_refused_before_any_write(
    tmp_path, catalog_location, photo_tree, tiny_model
):
    """A model that loads but returns vectors its manifest does not describe is found out when it loads
    (one blank run): no index run starts, and the catalog keeps its model, settings and photos."""
    import json

    from desktop_app.core.models import load_manifest

    wrong_dim = make_tiny_model(tmp_path / "m", name="tiny-wrong-dim", dim=8)
    data = json.loads(wrong_dim.manifest_path.read_text(encoding="utf-8"))
    wrong_dim.manifest_path.write_text(json.dumps({**data, "dim": 12}), encoding="utf-8")
    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    before = (catalog_settings(cat), cat.recent_runs(), cat.photo_rows())
    with pytest.raises(UserError, match="manifest says dim 12"):
        _index(cat, photo_tree, load_manifest(wrong_dim.manifest_path))
    assert (catalog_settings(cat), cat.recent_runs(), cat.photo_rows()) == before


def test_a_model_that_fails_while_embedding_leaves_a_failed_run(
    catalog_location, photo_tree, tiny_model, monkeypatch
):
    """A model that fails on its first batch (after loading well) stops the run: the run is recorded as
    failed with the error, and the app says so instead of "up to date" (as it does when the photo folder is
    offline)."""
    from desktop_app.core.encoder import Encoder
    from desktop_app.core.engine import Engine
    from desktop_app.core.errors import ModelError
    from desktop_app.core.overview import load_snapshot

    def fail(self, batch):
        raise ModelError("The model ran out of memory on a batch of 4 photos.")

    cat = Catalog(catalog_location)
    _index(cat, photo_tree, tiny_model)
    write_photo(photo_tree / "red" / "new.jpg", (210, 40, 40), seed=99)
    with monkeypatch.context() as patch:
        patch.setattr(Encoder, "encode", fail)
        with pytest.raises(UserError, match="out of memory"):
            _index(cat, photo_tree, tiny_model)
    run = cat.last_run()
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert "out of memory" in run["summary"]["error"] and run["summary"]["new"] == 0
    assert load_snapshot(Engine(cat)).index_state()[0] == "failed"
    again = _index(cat, photo_tree, tiny_model)
    assert (again.new, again.unchanged) == (1, 7) and cat.last_run()["status"] == "done"
    assert load_snapshot(Engine(cat)).index_state()[0] == "up to date"
    # A photo folder that is not reachable cannot be up to date: the status bar says it is offline.
    photo_tree.rename(photo_tree.with_name("unplugged"))
    assert load_snapshot(Engine(cat)).index_state()[0] == "photos offline"
