"""The server's candidate index (`lookalike catalog pgvector`): a shared catalog's vectors in pgvector's HNSW
index on a real PostgreSQL server with the extension, kept in step with the catalog, answering search.

The server is the pgserver wheel's PostgreSQL 16 build with pgvector (the dev extra), started as a throwaway
cluster like Debian's server in the other shared-catalog tests; Debian's server (no pgvector) shows what a
server without it says.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import sqlalchemy as sa

from desktop_app.core import ann
from desktop_app.core.ann import AnnIndex, ServerAnn
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.overview import load_snapshot
from desktop_app.core.similar import Query
from desktop_app.core.vector_store import VectorStore, store_folder
from desktop_app.gui.about import about_sections
from tests.conftest import cli, one_line_exit_2, write_photo


def server_rows(url: str) -> dict[int, np.ndarray]:
    """photo id -> the vector the server index holds for it."""
    with sa.create_engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT photo_id, embedding::text FROM server_ann")).all()
    return {int(pid): np.array(json.loads(text), dtype=np.float32) for pid, text in rows}


def catalog_vectors(engine: Engine) -> dict[int, np.ndarray]:
    av = engine.catalog.article_vectors(engine.vectors_model_id())
    return {int(pid): av.vectors[i] for i, pid in enumerate(av.photo_ids)}


def assert_in_step(url: str) -> None:
    with Engine.open(url, remember=False) as engine:
        want = catalog_vectors(engine)
    got = server_rows(url)
    assert sorted(got) == sorted(want)
    for pid, vector in want.items():
        np.testing.assert_allclose(got[pid], vector, atol=1e-6)


def test_switched_on_the_server_answers_every_search_as_exhaustive_search_does(
    pgvector_url, photo_tree, tiny_model, tmp_path
):
    home = tmp_path / "home"
    assert (
        cli(
            "index", photo_tree, "--db", pgvector_url, "--model", tiny_model.manifest_path, home=home
        ).returncode
        == 0
    )
    offered = cli("catalog", "pgvector", "--db", pgvector_url, home=home)
    assert (
        offered.returncode == 0 and "offers pgvector 0.6" in offered.stdout and "--enable" in offered.stdout
    )
    stats = cli("stats", "--db", pgvector_url, home=home).stdout
    assert "Server    offers pgvector 0.6.2 (lookalike catalog pgvector --enable)" in stats
    with Engine.open(pgvector_url, remember=False) as engine:
        before = engine.similar(Query.of_articles("red"))
        assert before.mode == "exact" and engine.vectors().ann is None

    on = cli("catalog", "pgvector", "--enable", "--db", pgvector_url, "--json", home=home)
    assert on.returncode == 0, on.stderr
    state = json.loads(on.stdout)
    assert (state["enabled"], state["photos"], state["dim"], state["pgvector_installed"]) == (
        True,
        7,
        8,
        "0.6.2",
    )
    assert_in_step(pgvector_url)
    with Engine.open(pgvector_url, remember=False) as engine:
        after = engine.similar(Query.of_articles("red"))
        assert isinstance(engine.vectors().ann, ServerAnn)
    assert after.mode == "candidates"
    assert [(h.article, round(h.score, 5)) for h in after.hits] == [
        (h.article, round(h.score, 5)) for h in before.hits
    ]
    shown = cli("catalog", "pgvector", "--db", pgvector_url, home=home)
    assert "The server answers the candidate stage" in shown.stdout and "7 photos" in shown.stdout
    stats = cli("stats", "--db", pgvector_url, home=home).stdout
    assert "Server    pgvector 0.6.2 answers search's candidate stage (7 photos)" in stats
    with Engine.open(pgvector_url, remember=False) as engine:
        about = dict(about_sections(load_snapshot(engine), None))
    assert "Search's nearest-photo stage: the server's pgvector 0.6.2 index (7 photos)." in about["Catalog"]

    off = cli("catalog", "pgvector", "--disable", "--db", pgvector_url, "--json", home=home)
    assert off.returncode == 0 and json.loads(off.stdout)["enabled"] is False
    with Engine.open(pgvector_url, remember=False) as engine:
        assert engine.similar(Query.of_articles("red")).mode == "exact" and engine.vectors().ann is None


def test_index_runs_keep_it_in_step_with_photos_added_changed_and_removed(
    pgvector_url, photo_tree, tiny_model
):
    index_photos(pgvector_url, photo_tree, model=tiny_model)
    with Engine.open(pgvector_url, remember=False) as engine:
        assert engine.enable_server_index() == 7
    write_photo(photo_tree / "green" / "p9.jpg", (40, 180, 90), seed=99)  # added
    write_photo(photo_tree / "red" / "p0.jpg", (250, 250, 20), seed=98)  # changed
    (photo_tree / "shoes" / "blue" / "p1.jpg").unlink()  # removed
    summary = index_photos(pgvector_url, photo_tree, model=tiny_model)
    assert (summary.new, summary.changed, summary.removed) == (1, 1, 1)
    assert_in_step(pgvector_url)
    with Engine.open(pgvector_url, remember=False) as engine:
        av = engine.vectors()
        new_row = av.paths.index("green/p9.jpg")
        # the new photo's own vector finds it through the server
        rows = av.ann.knn_rows(
            av.vectors, av.rows_of_ids, np.asarray(av.vectors[new_row : new_row + 1], np.float32), 1
        )
        assert rows.tolist() == [new_row]


def test_a_search_brings_a_server_index_left_behind_up_to_date(pgvector_url, photo_tree, tiny_model):
    index_photos(pgvector_url, photo_tree, model=tiny_model)
    with Engine.open(pgvector_url, remember=False) as engine:
        engine.enable_server_index()
    # as a client that knows nothing of the server index leaves it: a row missing, one of no photo, and
    # the revision it was synced at no longer the catalog's
    with sa.create_engine(pgvector_url).begin() as conn:
        conn.execute(
            sa.text("DELETE FROM server_ann WHERE photo_id = (SELECT min(photo_id) FROM server_ann)")
        )
        conn.execute(sa.text("INSERT INTO server_ann SELECT 999999, 0, embedding FROM server_ann LIMIT 1"))
        conn.execute(sa.text("UPDATE server_ann_state SET revision = ''"))
    with Engine.open(pgvector_url, remember=False) as engine:
        outcome = engine.similar(Query.of_articles("green"))
    assert outcome.mode == "candidates" and outcome.hits
    assert_in_step(pgvector_url)


def test_two_clients_syncing_at_once_copy_each_photo_once(pgvector_url, photo_tree, tiny_model):
    index_photos(pgvector_url, photo_tree, model=tiny_model)
    with Engine.open(pgvector_url, remember=False) as engine:
        engine.enable_server_index()
    with sa.create_engine(pgvector_url).begin() as conn:
        conn.execute(sa.text("DELETE FROM server_ann WHERE photo_id % 2 = 0"))
        conn.execute(sa.text("UPDATE server_ann_state SET revision = ''"))
    engines = [Engine.open(pgvector_url, remember=False) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            counts = list(pool.map(lambda e: e.server_candidates(e.vectors_model_id()).photos, engines))
    finally:
        for engine in engines:
            engine.close()
    assert counts == [7, 7]
    assert_in_step(pgvector_url)


def test_with_it_on_no_machine_keeps_a_graph_of_its_own(pgvector_url, photo_tree, tiny_model, monkeypatch):
    monkeypatch.setattr(ann, "MIN_PHOTOS", 3)  # the local graph index from 3 photos instead of 50,000
    index_photos(pgvector_url, photo_tree, model=tiny_model)
    with Engine.open(pgvector_url, remember=False) as engine:
        assert isinstance(engine.vectors().ann, AnnIndex)
        folder = store_folder(engine.catalog, engine.vectors_model_id())
        engine.enable_server_index()
        assert isinstance(engine.vectors().ann, ServerAnn)
        assert VectorStore(folder).state()["ann"] is None and not list(folder.glob("ann-*"))
        engine.disable_server_index()
        assert isinstance(engine.vectors().ann, AnnIndex)


def test_a_server_or_catalog_that_cannot_keep_it_says_why_in_one_line(
    pg_url, photo_tree, tiny_model, tmp_path
):
    home = tmp_path / "home"
    index_photos(pg_url, photo_tree, model=tiny_model)
    shown = cli("catalog", "pgvector", "--db", pg_url, home=home)  # Debian 12's server: no pgvector
    assert shown.returncode == 0 and "has no pgvector" in shown.stdout
    one_line_exit_2(cli("catalog", "pgvector", "--enable", "--db", pg_url, home=home), "pgvector")
    assert (
        "apt-get install postgresql-NN-pgvector"
        in cli("catalog", "pgvector", "--enable", "--db", pg_url, home=home).stderr
    )
    sqlite = tmp_path / "c.sqlite"
    index_photos(sqlite, photo_tree, model=tiny_model)
    one_line_exit_2(cli("catalog", "pgvector", "--enable", "--db", sqlite, home=home), "SQLite file")
    assert "is a SQLite file" in cli("catalog", "pgvector", "--db", sqlite, home=home).stdout


def test_only_a_superuser_installs_the_extension_and_the_message_says_so(
    pgvector_server, photo_tree, tiny_model, tmp_path
):
    from tools import pg_cluster

    pg_cluster.create_database(pgvector_server, "pwvec", owner="pwuser")
    url = pgvector_server.replace("postgres@", "pwuser@") + "/pwvec"
    env = {"PGPASSWORD": pg_cluster.PASSWORD_ROLE[1]}
    home = tmp_path / "home"
    assert (
        cli(
            "index", photo_tree, "--db", url, "--model", tiny_model.manifest_path, home=home, env=env
        ).returncode
        == 0
    )
    refused = cli("catalog", "pgvector", "--enable", "--db", url, home=home, env=env)
    one_line_exit_2(refused, "only a superuser may install it")
    assert "-c 'CREATE EXTENSION vector'" in refused.stderr
    with sa.create_engine(pgvector_server + "/pwvec").begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION vector"))
    on = cli("catalog", "pgvector", "--enable", "--db", url, "--json", home=home, env=env)
    assert on.returncode == 0 and json.loads(on.stdout)["photos"] == 7


def test_a_copy_of_the_catalog_leaves_the_server_index_behind(pgvector_url, photo_tree, tiny_model, tmp_path):
    index_photos(pgvector_url, photo_tree, model=tiny_model)
    with Engine.open(pgvector_url, remember=False) as engine:
        engine.enable_server_index()
    copy = tmp_path / "copy.sqlite"
    done = cli("catalog", "copy", pgvector_url, copy, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    with Engine.open(copy, remember=False) as engine:
        assert engine.similar(Query.of_articles("red")).mode == "exact"
        assert not engine.server_index_status().server
