"""A damaged search cache (the vector store beside the catalog) is rebuilt, never a traceback at every search.

Each file of the store is cut short, emptied or overwritten with its state.json left intact; `similar` then
answers as before the damage (a line on stderr says the cache was rebuilt), and the store is whole again.
The same holds for an adapter's store, for the app's search process, and for `similar` run as a command.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core import ann
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.engine_process import EngineProcess
from desktop_app.core.similar import Query
from desktop_app.core.vector_store import VectorStore, store_folder
from desktop_app.core.vector_store_check import check_files
from tests.conftest import cli, make_tiny_model, run_main, write_photo
from tests.test_vector_store import assert_matches_catalog

ARTICLES = 10


@pytest.fixture
def graphs(monkeypatch):
    """Catalogs of 10+ photos get a graph index (over an 8-d projection), so its files can be damaged too."""
    monkeypatch.setattr(ann, "MIN_PHOTOS", 10)
    monkeypatch.setattr(ann, "RANK", 8)


@pytest.fixture
def indexed(tmp_path, tiny_model, graphs) -> Path:
    return catalog_of(tmp_path, tiny_model)


def catalog_of(tmp_path: Path, model) -> Path:
    """A catalog of 10 articles of 4 photos, its store (with a graph index) made by the index run."""
    root = tmp_path / "photos"
    for i in range(ARTICLES * 4):
        a = i % ARTICLES
        write_photo(root / f"a{a}" / f"p{i}.jpg", (a * 25, 120 + (i % 3) * 30, 250 - a * 20), seed=i)
    db = tmp_path / "c.sqlite"
    index_photos(db, root, model=model)
    return db


def store_and_state(db: Path, adapter: bool = False) -> tuple[VectorStore, dict]:
    with Engine.open(db, remember=False) as engine:
        folder = store_folder(engine.catalog, engine.vectors_model_id())
        if adapter:
            folder = folder.with_name(f"{folder.name}-adapter{engine.adapter().id}")
    store = VectorStore(folder)
    return store, store.state()


def file_of(state: dict, kind: str) -> str:
    return state["ann"][kind[4:]] if kind.startswith("ann-") else state[kind]


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    mtime_ns = path.stat().st_mtime_ns
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # overwritten: the same size, 256 bytes in the middle replaced
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes(range(256)) + data[mid + 256 :])
        if how == "overwritten, its time put back":  # as `cp -p` or `touch -r` leave it
            before = path.stat()
            os.utime(path, ns=(before.st_atime_ns, mtime_ns))


def similar(capsys, db: Path, article: str) -> tuple[list, str]:
    code, out, err = run_main(capsys, "similar", "--article", article, "--db", db, "--json")
    assert code == 0, err
    return [(h["article"], round(h["score"], 4)) for h in json.loads(out)["hits"]], err


def assert_whole(db: Path, adapter: bool = False) -> None:
    store, state = store_and_state(db, adapter)
    assert not check_files(store.folder, state) and not state.get("damaged")
    assert state.get("ann")  # the graph index is back too
    named = {"state.json", state["vectors"], state["centroids"], state["meta"], *state["ann"].values()}
    assert {f.name for f in store.folder.iterdir()} <= named  # the damaged files are gone
    if not adapter:
        assert_matches_catalog(db)


@pytest.mark.parametrize(
    "kind, how",
    [
        ("vectors", "truncated"),
        ("vectors", "emptied"),
        ("centroids", "truncated"),
        ("meta", "truncated"),
        ("meta", "emptied"),
        ("meta", "overwritten"),
        ("vectors", "overwritten"),
        ("vectors", "overwritten, its time put back"),
        ("centroids", "overwritten"),
        ("ann-file", "truncated"),
        ("ann-file", "emptied"),
        ("ann-file", "overwritten"),
        ("ann-basis", "truncated"),
    ],
)
def test_a_damaged_store_file_is_rebuilt_and_search_answers_as_before(indexed, capsys, caplog, kind, how):
    before, _ = similar(capsys, indexed, "a3")
    store, state = store_and_state(indexed)
    damage(store.folder / file_of(state, kind), how)
    with caplog.at_level(logging.WARNING):
        after, _ = similar(capsys, indexed, "a3")
    assert after == before
    assert any("damaged" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records) or any(
        "damaged" in r.getMessage() and "building it again" in r.getMessage() for r in caplog.records
    )
    assert_whole(indexed)
    _, new_state = store_and_state(indexed)
    if kind.startswith("ann-"):  # the vectors were kept: only the graph was built again
        assert new_state["vectors"] == state["vectors"]
    else:
        assert new_state["vectors"] != state["vectors"]  # written anew, under a new name
    assert similar(capsys, indexed, "a3")[0] == before  # and it stays whole: no rebuild the next time
    assert store_and_state(indexed)[1] == new_state


@pytest.mark.parametrize("how", ["copied back", "touched", "rows left past the end"])
def test_store_files_whose_bytes_are_whole_are_kept_not_rebuilt(indexed, capsys, caplog, how):
    """What changes a file's time or inode but not its valid bytes (a backup restored, a folder copied, a
    sync killed while appending rows past the valid end) costs a read of the file, not a rebuild."""
    before, _ = similar(capsys, indexed, "a3")
    store, state = store_and_state(indexed)
    for kind in ("vectors", "centroids", "ann-file"):
        path = store.folder / file_of(state, kind)
        if how == "copied back":
            copy = path.with_name("copy")
            shutil.copy(path, copy)
            os.replace(copy, path)
        elif how == "touched":
            os.utime(path)
        elif kind != "ann-file":
            with open(path, "ab") as fh:
                fh.write(bytes(range(256)) * 8)
    with caplog.at_level(logging.WARNING):
        assert similar(capsys, indexed, "a3")[0] == before
    assert not [r for r in caplog.records if "damaged" in r.getMessage()]
    after = store.state()
    assert {k: after[k] for k in ("vectors", "centroids", "ann")} == {
        k: state[k] for k in ("vectors", "centroids", "ann")
    }  # the same files, kept
    assert not check_files(store.folder, after).touched  # and recorded as they are now: no second read


def test_a_sync_after_new_photos_never_appends_to_a_cut_file(indexed, tiny_model, capsys):
    """Appending new articles to a vectors file that was cut short would leave zeros where the lost rows
    were; the sync sees the damage and rewrites the store instead."""
    store, state = store_and_state(indexed)
    damage(store.folder / state["vectors"], "truncated")
    root = indexed.parent / "photos"
    for i in range(3):
        write_photo(root / "b-new" / f"q{i}.jpg", (10, 250, 10), seed=100 + i)
    index_photos(indexed, root, model=tiny_model)
    assert_whole(indexed)
    with Engine.open(indexed, remember=False) as engine:
        av = engine.vectors()
        norms = np.linalg.norm(np.asarray(av.vectors, np.float32), axis=1)
        assert av.n_photos == 43 and np.allclose(norms, 1, atol=1e-2)


def test_an_adapters_damaged_store_is_rebuilt(indexed, tmp_path):
    groups = tmp_path / "groups.csv"
    groups.write_text("article,group\n" + "".join(f"a{a},g{a % 3}\n" for a in range(ARTICLES)))
    with Engine.open(indexed, remember=False) as engine:
        engine.train_adapter(("groups",), groups, "whitening", dim=4)
        before = [h.article for h in engine.similar(Query.of_articles("a3")).hits]
    store, state = store_and_state(indexed, adapter=True)
    assert state["dim"] == 4
    for kind in ("vectors", "meta", "ann-file"):
        damage(store.folder / file_of(store.state(), kind), "truncated")
        with Engine.open(indexed, remember=False) as engine:
            assert [h.article for h in engine.similar(Query.of_articles("a3")).hits] == before, kind
        assert_whole(indexed, adapter=True)


def test_the_apps_search_process_rebuilds_a_damaged_store(indexed):
    with Engine.open(indexed, remember=False) as engine:
        before = [h.article for h in engine.similar(Query.of_articles("a3")).hits]
    store, state = store_and_state(indexed)
    damage(store.folder / state["vectors"], "truncated")
    damage(store.folder / state["meta"], "truncated")
    child = EngineProcess()
    try:
        info = child.open(indexed)
        assert (info.n_articles, info.n_photos) == (ARTICLES, ARTICLES * 4)
        assert [h.article for h in child.call("similar", Query.of_articles("a3")).hits] == before
    finally:
        child.close()
    assert not check_files(store.folder, store.state())


def test_similar_as_a_command_rebuilds_a_damaged_store_and_says_so(indexed, tmp_path):
    home = tmp_path / "home"
    first = cli("similar", "--article", "a3", "--db", indexed, "--json", home=home)
    assert first.returncode == 0, first.stderr
    store, state = store_and_state(indexed)
    damage(store.folder / state["centroids"], "truncated")
    proc = cli("similar", "--article", "a3", "--db", indexed, "--json", home=home)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "damaged" in proc.stderr and state["centroids"] in proc.stderr
    assert json.loads(proc.stdout)["hits"] == json.loads(first.stdout)["hits"]


def test_a_damaged_store_on_a_full_disk_leaves_search_reading_the_catalog(tmp_path, capsys, graphs):
    """The rebuild needs more room than the damaged files freed: search reads the catalog instead, and the
    store is rebuilt by a later search once there is room."""
    from tests.test_reliability import fill, small_filesystem

    wide = make_tiny_model(tmp_path / "wide", name="wide", dim=512)  # 40 photos: 40 KB of vectors
    db = catalog_of(tmp_path, wide)
    before, _ = similar(capsys, db, "a3")
    store, state = store_and_state(db)
    saved = tmp_path / "saved-store"
    shutil.copytree(store.folder.parent, saved)
    shutil.rmtree(store.folder.parent)
    with small_filesystem(store.folder.parent, "1m"):
        shutil.copytree(saved, store.folder.parent, dirs_exist_ok=True)
        damage(store.folder / state["vectors"], "truncated")
        fill(store.folder.parent)
        assert similar(capsys, db, "a3")[0] == before
        (store.folder.parent / "filler").unlink()
        assert similar(capsys, db, "a3")[0] == before
        assert_whole(db)


def test_a_stamp_whose_block_list_does_not_fit_the_file_reads_as_damage_not_a_crash(tmp_path):
    from desktop_app.core.vector_store_check import _block_crcs, _changed_blocks

    f = tmp_path / "vectors-1.f16"
    f.write_bytes(b"\x01" * 1000)
    crcs = _block_crcs(f, 0, 1000)
    assert _changed_blocks(f, {"used": 1000, "crc": crcs}) is None
    said = _changed_blocks(f, {"used": 1000, "crc": [*crcs, 7]})  # a state.json edited or cut by hand
    assert said is not None and "overwritten" in said
