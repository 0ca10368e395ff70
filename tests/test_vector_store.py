"""The local vector store and the candidate stage's graph index stay consistent with the catalog across
added, changed, moved and removed photos and a killed index run; a re-open reads only what changed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from desktop_app.core import ann
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.evaluate import candidate_recall
from desktop_app.core.search import SearchIndex
from desktop_app.core.similar import Query
from desktop_app.core.storage import Catalog, PhotoWrite
from desktop_app.core.vector_store import VectorStore, store_folder
from tests.conftest import REPO, write_photo


def store_of(location, model_id) -> VectorStore:
    with Catalog(location, create=False) as cat:
        return VectorStore(store_folder(cat, model_id))


def assert_matches_catalog(location) -> VectorStore:
    """The store holds exactly the catalog's vectors, each article's photos in consecutive rows, and its
    graph index (when it has one) exactly the store's photos with their projected vectors."""
    with Engine.open(location, remember=False) as engine:
        model_id = engine.vectors_model_id()
        want = engine.catalog.article_vectors(model_id)
        store = VectorStore(store_folder(engine.catalog, model_id))
        assert store.fresh(engine.catalog.vectors_revision(model_id), model_id)
        got = store.open()

    def by_article(av):
        return {
            a: (
                av.paths[av.rows_of(i)],
                av.views[av.rows_of(i)],
                av.photo_ids[av.rows_of(i)].tolist(),
                np.asarray(av.vectors[av.rows_of(i)], np.float32),
            )
            for i, a in enumerate(av.articles)
        }

    g, w = by_article(got), by_article(want)
    assert g.keys() == w.keys()
    for a in w:
        assert g[a][:3] == w[a][:3], a
        assert np.allclose(g[a][3], w[a][3], atol=1e-3), a
    assert np.allclose(
        np.asarray(got.centroids, np.float32)[got.article_index(a)], _unit(w[a][3].mean(axis=0)), atol=2e-3
    )
    if got.ann is not None:
        keys = np.sort(np.asarray(got.ann.index.keys, dtype=np.int64))
        assert np.array_equal(keys, np.sort(got.photo_ids))
        rows = got.rows_of_ids(keys[:50])
        projected = np.asarray(got.vectors[rows], np.float32) @ got.ann.basis
        assert np.allclose(got.ann.index.get(keys[:50].astype(np.uint64)), projected, atol=2e-2)
    return store


def _unit(v):
    return v / np.linalg.norm(v)


def test_index_keeps_the_store_in_step_with_adds_changes_moves_and_removals(
    catalog_location, photo_tree, tiny_model
):
    summary = index_photos(catalog_location, photo_tree, model=tiny_model)
    assert summary.embedded == 7
    assert_matches_catalog(catalog_location)
    write_photo(photo_tree / "green" / "p9.jpg", (10, 250, 10), seed=99)  # added
    write_photo(photo_tree / "red" / "p0.jpg", (250, 250, 0), seed=98)  # changed
    os.rename(photo_tree / "red" / "p1.jpg", photo_tree / "green" / "p8.jpg")  # moved to another article
    os.remove(photo_tree / "shoes" / "blue" / "p1.jpg")  # removed
    index_photos(catalog_location, photo_tree, model=tiny_model)
    assert_matches_catalog(catalog_location)
    with Engine.open(catalog_location, remember=False) as engine:
        report = VectorStore(store_folder(engine.catalog, engine.vectors_model_id())).sync(
            engine.catalog, engine.vectors_model_id()
        )
        assert report.fetched == 0  # nothing changed since the index run's own sync
        hits = engine.similar(Query.of_articles("red")).hits
        assert {h.article for h in hits} == {"green", "shoes/blue"}


def test_a_vector_written_with_an_earlier_clock_still_replaces_the_stored_one(
    catalog_location, photo_tree, tiny_model, monkeypatch
):
    """The write time is the indexing machine's clock: a curator whose clock lags (or a catalog restored from
    a backup) writes an older time for a newer vector, and the store must not keep the one it had."""
    import time

    from desktop_app.core.storage import photos

    index_photos(catalog_location, photo_tree, model=tiny_model)
    assert_matches_catalog(catalog_location)
    an_hour_ago = time.time() - 3600
    monkeypatch.setattr(photos.time, "time", lambda: an_hour_ago)
    write_photo(photo_tree / "red" / "p0.jpg", (10, 10, 250), seed=97)
    assert index_photos(catalog_location, photo_tree, model=tiny_model).embedded == 1
    assert_matches_catalog(catalog_location)


def test_search_over_the_store_equals_search_over_the_catalog(tmp_path, sample_copy):
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    db = tmp_path / "c.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with Engine.open(db, remember=False) as engine:
        from_store = SearchIndex(engine.vectors())
        from_catalog = SearchIndex(engine.catalog.article_vectors(engine.vectors_model_id()))
        assert from_store.V.dtype == np.float16 and from_catalog.V.dtype == np.float32
        for method in ("greedy", "hungarian", "ordered", "centroid", "max"):
            for article in ("mh01-gray", "wj08-gray", "luma-stability-ball-gray"):
                a = from_store.search(article, method, 5, n_pairs=0)
                b = from_catalog.search(article, method, 5, n_pairs=0)
                assert [h.article for h in a] == [h.article for h in b], (method, article)
                assert np.allclose([h.score for h in a], [h.score for h in b], atol=2e-3)


def test_a_shared_catalog_is_cached_per_client_and_reopens_reading_only_changes(
    pg_url, photo_tree, tiny_model, tmp_path
):
    index_photos(pg_url, photo_tree, model=tiny_model)
    with Engine.open(pg_url, remember=False) as engine:
        model_id = engine.vectors_model_id()
        assert engine.catalog.path is None and "vector-cache" in str(store_folder(engine.catalog, model_id))
    client = VectorStore(tmp_path / "another-client")  # a second machine: nothing cached yet
    with Catalog(pg_url, create=False) as cat:
        cold = client.sync(cat, model_id)
    assert (cold.fetched, cold.reused) == (7, 0)
    write_photo(photo_tree / "green" / "p9.jpg", (10, 250, 10), seed=99)
    index_photos(pg_url, photo_tree, model=tiny_model)  # on the indexing machine
    with Catalog(pg_url, create=False) as cat:
        warm = client.sync(cat, model_id)
    assert (warm.fetched, warm.reused) == (1, 7)  # only the new photo crosses the network
    assert_matches_catalog(pg_url)


KILLED_INDEX = r"""
import sys, time
from desktop_app.core import ann
from desktop_app.core.engine import index_photos
from desktop_app.core.indexer import IndexOptions
from desktop_app.core.models import load_manifest
ann.MIN_PHOTOS, ann.RANK = 10, 8
def progress(p):
    if (sys.argv[4] == "embedding" and p.done >= 8 and "updating" not in p.note) or (
            sys.argv[4] == "updating" and "candidate index" in p.note):
        print("kill me", flush=True)
        time.sleep(60)
index_photos(sys.argv[1], sys.argv[2], model=load_manifest(sys.argv[3]), options=IndexOptions(batch_size=4),
             progress=progress)
"""


@pytest.mark.parametrize("when", ["embedding", "updating"])
def test_a_killed_index_run_then_a_resumed_one_leave_store_index_and_catalog_consistent(
    tmp_path, tiny_model, monkeypatch, when
):
    """SIGKILL while photos are embedded, or while the store and its graph index are being updated after
    new articles were embedded; the next run resumes and everything matches the catalog."""
    monkeypatch.setattr(ann, "MIN_PHOTOS", 10)
    monkeypatch.setattr(ann, "RANK", 8)
    root = tmp_path / "photos"
    for i in range(20):
        write_photo(root / f"a{i % 5}" / f"p{i}.jpg", (i * 6, 80, 200 - i * 4), seed=i)
    db = tmp_path / "c.sqlite"
    if when == "updating":
        index_photos(db, root, model=tiny_model)
        assert store_of(db, _model_id(db)).state()["ann"]["size"] == 20
    for i in range(20, 40):
        write_photo(root / f"a{i % 10}" / f"p{i}.jpg", (i * 6, 80, 200 - i * 4), seed=i)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_INDEX, str(db), str(root), str(tiny_model.manifest_path), when],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    for line in proc.stdout:
        if "kill me" in line:
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait() == -signal.SIGKILL
    index_photos(db, root, model=tiny_model)  # resume
    store = assert_matches_catalog(db)
    assert store.state()["ann"]["size"] == 40
    assert sorted(f.name for f in store.folder.iterdir()) == sorted(
        [
            "state.json",
            *(store.state()[k] for k in ("vectors", "centroids", "meta")),
            store.state()["ann"]["file"],
            store.state()["ann"]["basis"],
        ]
    )  # (a killed sync's files are gone)
    with Catalog(db) as cat:
        assert len(cat.photo_rows()) == 40


def _model_id(db):
    with Engine.open(db, remember=False) as engine:
        return engine.vectors_model_id()


@pytest.fixture
def small_graphs(monkeypatch):
    """A graph index from 1,000 photos (not 50,000), over a 16-d projection: small catalogs get one."""
    monkeypatch.setattr(ann, "MIN_PHOTOS", 1000)
    monkeypatch.setattr(ann, "RANK", 16)


def synthetic_catalog(
    location, tiny_model, n_articles: int, per: int = 4, dim: int = 32, seed: int = 0, first: int = 0
):
    """Articles first..n_articles-1 of synthetic families of vectors, written as an index run would."""
    from desktop_app.core.models import vector_identity

    rng = np.random.default_rng(seed)
    engine = Engine.open(location, create=True, remember=False)
    engine.update_settings(model=tiny_model.manifest.name, model_manifest=str(tiny_model.manifest_path))
    model_id = vector_identity(tiny_model.manifest, None, False)
    keys = [f"f{a % 50:02d}/a{a:05d}" for a in range(first, n_articles)]
    ids = engine.catalog.sync_articles(keys)
    families = rng.normal(size=(50, dim))
    writes = []
    for a, key in enumerate(keys):
        centre = families[a % 50] + 0.5 * rng.normal(size=dim)
        for v in range(per):
            vec = centre + 0.4 * rng.normal(size=dim)
            rel = f"{key}/{v}.jpg"
            writes.append(
                PhotoWrite(
                    ids[key], rel, rel.encode(), 1, 1, None, hash=rel, vector=vec / np.linalg.norm(vec)
                )
            )
    engine.catalog.write_photos(writes, model_id)
    return engine, model_id


def test_the_graph_index_finds_what_the_exhaustive_search_finds_and_follows_every_change(
    tmp_path, tiny_model, small_graphs
):
    db = tmp_path / "c.sqlite"
    engine, model_id = synthetic_catalog(db, tiny_model, n_articles=1500)
    av = engine.vectors()
    assert av.ann is not None and len(av.ann) == 6000 and av.ann.basis.shape == (32, 16)
    index = SearchIndex(av)
    queries = list(range(0, 1500, 75))
    for method in ("greedy", "max", "centroid"):
        report = candidate_recall(index, queries, method, k=10)
        print(f"{method}: candidate recall@10 {report.recall:.3f}")
        assert report.recall >= 0.95
    assert index.search(queries[1], "greedy", 10).mode == "candidates"
    one_photo = np.asarray(av.vectors[7:8], dtype=np.float32)  # a single query vector (a photo query)
    assert 7 in index.knn_rows(one_photo, 5).tolist()
    engine.close()
    assert_matches_catalog(db)

    # New articles: appended to the store, added to the graph (no rebuild), nothing else read.
    more, _ = synthetic_catalog(db, tiny_model, n_articles=1510, seed=1, first=1500)
    store = VectorStore(store_folder(more.catalog, model_id))
    report = store.sync(more.catalog, model_id)
    assert (report.how, report.ann, report.fetched, report.reused) == ("appended", "updated", 40, 6000)
    assert store.state()["ann"]["fitted_on"] == 6000  # the same projection
    assert_matches_catalog(db)

    # Re-embedded, moved and removed photos: the store is rewritten, the graph changed by the difference.
    cat = more.catalog
    rows = cat.vector_meta(model_id)
    changed = [r[1] for r in rows[:30]]
    vec = np.ones(32) / np.sqrt(32)
    with cat.write() as conn:
        import sqlalchemy as sa

        from desktop_app.core.storage.schema import photos_table

        conn.execute(sa.delete(photos_table).where(photos_table.c.id.in_([r[1] for r in rows[100:110]])))
    other = cat.sync_articles(["f07/a00007"])["f07/a00007"]
    cat.write_photos(
        [
            PhotoWrite(
                other,
                r[2],
                r[2].encode(),
                2,
                2,
                None,
                existing_id=r[1],
                content_changed=True,
                hash="x" + r[2],
                vector=vec,
            )
            for r in rows[:30]
        ],
        model_id,
    )
    report = store.sync(cat, model_id)
    assert (report.how, report.ann) == ("rewritten", "updated") and report.fetched == 30
    more.close()
    got = assert_matches_catalog(db).open()
    assert len(got.ann) == 6040 - 10 and got.ann.info["removed"] == 40
    assert set(changed) <= set(got.photo_ids[got.rows_of(got.article_index("f07/a00007"))].tolist())


def test_without_a_writable_place_search_reads_the_catalog(open_dir, photo_tree, tiny_model):
    db = open_dir / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db, remember=False) as engine:
        folder = store_folder(engine.catalog, engine.vectors_model_id())
    shutil.rmtree(folder.parent)
    folder.parent.write_text("not a folder")  # the store cannot be made here
    with Engine.open(db, remember=False) as engine:
        assert engine.similar(Query.of_articles("red")).hits


def test_the_graph_index_and_the_encoder_load_in_either_order():
    # usearch's native module loaded before onnxruntime's made the search process die (SIGSEGV) when it
    # opened a large catalog and then its encoder; ann.usearch_index() loads them in the order that works.
    code = "from desktop_app.core import ann; ann.usearch_index(); import onnxruntime; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_an_adapter_has_its_own_store_and_graph_index_kept_in_step_with_the_catalog(
    tmp_path, tiny_model, small_graphs
):
    db = tmp_path / "c.sqlite"
    engine, model_id = synthetic_catalog(db, tiny_model, n_articles=1500)
    groups = tmp_path / "groups.csv"
    groups.write_text(
        "article,group\n" + "".join(f"f{a % 50:02d}/a{a:05d},f{a % 50:02d}\n" for a in range(300))
    )
    adapter = engine.train_adapter(("groups",), groups, "whitening", dim=16)  # switched on: store made now
    frozen_folder = store_folder(engine.catalog, model_id)
    folder = frozen_folder.with_name(f"{frozen_folder.name}-adapter{adapter.id}")
    state = VectorStore(folder, adapter).state()
    assert state["model_id"] == f"{model_id}+adapter{adapter.id}" and state["dim"] == 16 and state["ann"]
    av = engine.vectors()
    assert av.ann is not None and av.dim == 16 and av.n_photos == 6000
    frozen = engine.frozen_vectors()
    assert np.allclose(np.asarray(av.vectors, np.float32), adapter.apply(frozen.vectors), atol=3e-3)
    index = SearchIndex(av)
    for method in ("greedy", "max", "centroid"):
        assert candidate_recall(index, list(range(0, 1500, 75)), method, k=10).recall >= 0.95
    engine.close()

    # An index run adds articles: its store update appends them to the adapted store and its graph too.
    more, _ = synthetic_catalog(db, tiny_model, n_articles=1510, seed=1, first=1500)
    more.sync_vectors()
    after = VectorStore(folder, adapter).state()
    assert after["n"] == 6040 and after["vectors"] == state["vectors"]  # appended, not rewritten
    assert "f00/a01500" in more.vectors() and len(more.vectors().ann) == 6040
    hits = [h.article for h in more.similar(Query.of_articles("f00/a01500")).hits[:5]]
    new_av = more.vectors()
    exact = SearchIndex(new_av).search(new_av.article_index("f00/a01500"), "greedy", 5, mode="exact")
    assert hits == [new_av.articles[i] for i in exact.indices]

    # A new adapter: the old one's store is dropped; off: the frozen store, untouched.
    second = more.train_adapter(("groups",), groups, "whitening", dim=8)
    assert (
        not folder.exists() and frozen_folder.with_name(f"{frozen_folder.name}-adapter{second.id}").exists()
    )
    more.use_adapter(False)
    assert more.vectors().dim == 32 and more.vectors().n_photos == 6040

    # Switching the first one on again prepares its vectors (with progress) before the switch is recorded;
    # stopped half-way (a cancel raises from progress), search stays as it was.
    class Stop(Exception):
        pass

    def stop(done, total, note=""):
        raise Stop()

    with pytest.raises(Stop):
        more.use_adapter(True, adapter.id, stop)
    assert more.adapter_status()["active"] is None and more.vectors().dim == 32
    steps = []
    assert more.use_adapter(True, adapter.id, lambda d, t, note="": steps.append(note))["id"] == adapter.id
    assert "candidate index" in steps and VectorStore(folder, adapter).state()["n"] == 6040
    assert more.adapter_status()["active"]["id"] == adapter.id and more.vectors().dim == 16
    more.close()
    assert_matches_catalog(db)


def test_a_search_process_reads_a_large_store_ahead_once_and_only_when_it_fits(
    tmp_path, tiny_model, small_graphs, monkeypatch
):
    from desktop_app.core import vector_store as vs

    db = tmp_path / "c.sqlite"
    engine, model_id = synthetic_catalog(db, tiny_model, n_articles=300)
    engine.close()
    small, _ = synthetic_catalog(tmp_path / "small.sqlite", tiny_model, n_articles=20)
    small.read_ahead_stores = True
    small.vectors()
    assert small._read_ahead is None  # no graph index: a search reads most of it anyway
    small.close()

    read: list[str] = []
    real_open = open

    def spy(path, *args, **kwargs):
        if "read-ahead" in threading.current_thread().name:
            read.append(os.path.basename(str(path)))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    short = Engine.open(db, remember=False)  # a command: never reads ahead
    short.vectors()
    assert short._read_ahead is None
    short.close()
    engine = Engine.open(db, remember=False)
    engine.read_ahead_stores = True
    hits = engine.similar(Query.of_articles("f00/a00000")).hits
    warm = engine._read_ahead
    assert warm is not None and warm.done.wait(30)
    folder = store_folder(engine.catalog, model_id)
    state = VectorStore(folder).state()
    assert read == [
        state["ann"]["file"],
        state["ann"]["basis"],
        state["centroids"],
        state["vectors"],
        state["meta"],
    ]
    engine.reload()  # after an index run: the same store folder, its pages still cached
    assert engine.similar(Query.of_articles("f00/a00000")).hits == hits and engine._read_ahead is warm
    engine.close()
    # Larger than half of the memory available, or memory not known: left alone.
    monkeypatch.setattr(vs, "available_memory", lambda: 1000)
    assert VectorStore(folder).read_ahead() is None
    monkeypatch.setattr(vs, "available_memory", lambda: None)
    assert VectorStore(folder).read_ahead() is None
