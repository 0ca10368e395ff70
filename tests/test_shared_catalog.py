"""A catalog shared by several curators on a real PostgreSQL server (and the same behaviour on SQLite).

The server is a throwaway cluster started by the `pg_server` fixture; concurrency is tested with real
processes: two curators on the same articles, many writers at once, an indexer beside a searcher, a client
killed inside a transaction, two clients migrating at once.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import Conflict
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.settings import UserSettings
from desktop_app.core.similar import Query
from desktop_app.core.storage import Catalog
from tests.conftest import REPO, SAMPLE_PHOTOS, cli


def curator_home(base: Path, name: str) -> Path:
    """A user-data folder of one curator (each curator is another person on another machine)."""
    home = base / f"home-{name}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps({"curator": name}), encoding="utf-8")
    return home


# ----------------------------------------------------------------------------- both backends


def test_index_search_labels_and_undo_on_both_backends(catalog_location, photo_tree, tiny_model):
    summary = index_photos(catalog_location, photo_tree, model=tiny_model)
    assert (summary.articles, summary.photos, summary.embedded) == (3, 7, 7)
    assert index_photos(catalog_location, photo_tree, model=tiny_model).unchanged == 7
    with Engine.open(catalog_location) as engine:
        hits = engine.similar(Query.of_articles("red")).hits
        assert [h.article for h in hits] and hits[0].article != "red"
        engine.set_labels(["red", "green"], "category", "tops")
        engine.set_labels(["shoes/blue"], "category", "shoes")
        assert engine.labels("category") == {
            "red": {"category": "tops"},
            "green": {"category": "tops"},
            "shoes/blue": {"category": "shoes"},
        }
        assert len(engine.undo()) == 1 and len(engine.undo()) == 2 and engine.labels() == {}
        stats = engine.stats()
        assert stats["counts"]["photos"] == 7 and stats["size_bytes"] > 0


# ----------------------------------------------------------------------------- curators


def test_two_curators_on_the_same_article(pg_url, photo_tree, tiny_model, tmp_path):
    alice, bob = curator_home(tmp_path, "alice"), curator_home(tmp_path, "bob")
    assert (
        cli("index", photo_tree, "--db", pg_url, "--model", tiny_model.manifest_path, home=alice).returncode
        == 0
    )
    assert cli("labels", "set", "red", "--value", "tops", "--db", pg_url, home=alice).returncode == 0
    proc = cli("labels", "set", "red", "--value", "shirts", "--db", pg_url, home=bob)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "'tops', set by alice" in proc.stderr and "--force" in proc.stderr
    assert (
        cli("labels", "set", "red", "--value", "shirts", "--force", "--db", pg_url, home=bob).returncode == 0
    )
    assert cli("labels", "set", "green", "--value", "x", "--db", pg_url, home=alice).returncode == 0
    # bob's undo takes back bob's decision, not alice's later one
    undone = json.loads(cli("labels", "undo", "--db", pg_url, "--json", home=bob).stdout)["events"]
    assert [(e["article"], e["curator"]) for e in undone] == [("red", "bob")]
    with Engine.open(pg_url, remember=False) as engine:
        assert engine.labels() == {"red": {"category": "tops"}, "green": {"category": "x"}}
    # alice's undo of her first decision would overwrite a label that changed since: not silently
    assert cli("labels", "undo", "--db", pg_url, home=alice).returncode == 0  # green
    assert cli("labels", "set", "red", "--value", "tees", "--force", "--db", pg_url, home=bob).returncode == 0
    proc = cli("labels", "undo", "--db", pg_url, home=alice)
    assert proc.returncode == 2 and "Cannot undo" in proc.stderr and "bob" in proc.stderr


def _label_many(location: str, home: str, name: str, out, ready, go) -> None:
    os.environ["LOOKALIKE_HOME"] = home
    engine = Engine.open(location, remember=False)
    done = []
    ready.release()
    go.wait(60)
    for i in range(40):
        article = ("red", "green", "shoes/blue")[i % 3]
        seen = engine.labels("category").get(article, {}).get("category")
        value = f"{name}-{i}"
        try:
            if engine.set_label_items(
                [(article, "category", value)], "manual", "set", expected={(article, "category"): seen}
            ):
                done.append(value)
        except Conflict:
            pass
    engine.close()
    out.put(done)


def test_concurrent_curators_lose_nothing_and_apply_nothing_twice(pg_url, photo_tree, tiny_model, tmp_path):
    index_photos(pg_url, photo_tree, model=tiny_model)
    names = ["ana", "ben", "cy", "dee"]
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    procs = [
        ctx.Process(target=_label_many, args=(pg_url, str(curator_home(tmp_path, n)), n, out, ready, go))
        for n in names
    ]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=120)
    go.set()
    reported = [v for _ in procs for v in out.get(timeout=300)]
    for p in procs:
        p.join(60)
    with Engine.open(pg_url, remember=False) as engine:
        events = [e for e in engine.catalog.label_events(10_000) if e["action"] == "set"]
    applied = [e["new_value"] for e in events]
    assert sorted(applied) == sorted(reported)  # every reported decision is there, and only once
    assert len(set(applied)) == len(applied)
    for e in events:  # each decision was made on the value its curator had seen: none overwrote silently
        assert e["curator"] == e["new_value"].split("-")[0]
    assert len(reported) >= 3


def _search_until(location: str, stop, ready, out) -> None:
    engine = Engine.open(location, remember=False)
    engine.similar(Query.of_articles("mh01-gray"))
    ready.set()
    answered = 0
    while not stop.is_set():
        engine.reload()
        try:
            engine.similar(Query.of_articles("mh01-gray"))
            answered += 1
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out.put(f"{type(exc).__name__}: {exc}")
            return
    out.put(answered)


def test_an_indexer_and_a_searcher_at_once(pg_url, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(SAMPLE_PHOTOS, photos)
    first = [p for p in sorted(photos.rglob("*.jpg")) if p.name.startswith("mh01")]
    keep = tmp_path / "later"
    for p in sorted(photos.rglob("*.jpg")):
        if p not in first:
            target = keep / p.relative_to(photos)
            target.parent.mkdir(parents=True, exist_ok=True)
            p.rename(target)
    rule = GroupingRule("pattern", MAGENTO_PATTERN)
    index_photos(pg_url, photos, rule=rule)
    shutil.copytree(keep, photos, dirs_exist_ok=True)
    ctx = mp.get_context("spawn")
    stop, ready, out = ctx.Event(), ctx.Event(), ctx.Queue()
    searcher = ctx.Process(target=_search_until, args=(pg_url, stop, ready, out))
    searcher.start()
    assert ready.wait(120)  # the searcher is answering; now the indexer writes beside it
    summary = index_photos(pg_url, photos, rule=rule)
    stop.set()
    answered = out.get(timeout=120)
    searcher.join(30)
    assert summary.photos == 76 and isinstance(answered, int) and answered > 0, answered


_KILLED_WRITER = r"""
import sys, time
from desktop_app.core.storage import Catalog
cat = Catalog(sys.argv[1], create=False)
with cat.write() as conn:
    from desktop_app.core.storage.labels import _write_label
    for i in range(50):
        _write_label(conn, "red", f"f{i}", "half-done", "manual", time.time())
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_client_killed_inside_a_transaction_leaves_nothing_behind(pg_url, photo_tree, tiny_model):
    index_photos(pg_url, photo_tree, model=tiny_model)
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, pg_url], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert writer.stdout.readline().strip() == "holding"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    start = time.monotonic()
    with Engine.open(pg_url, remember=False) as engine:
        engine.set_labels(["green"], "category", "after")  # the server dropped the dead client's lock
        assert engine.labels() == {"green": {"category": "after"}}  # and none of its half-done rows
    assert time.monotonic() - start < 60


def _open_once(location: str, out) -> None:
    try:
        with Catalog(location, create=False) as cat:
            out.put(cat.schema_version())
    except Exception as exc:  # noqa: BLE001
        out.put(f"{type(exc).__name__}: {exc}")


def test_two_clients_migrating_at_once_migrate_once(pg_url, photo_tree, tiny_model):
    index_photos(pg_url, photo_tree, model=tiny_model)
    with Catalog(pg_url) as cat, cat.write() as conn:  # back to schema 4: without the v5 tables
        for table in ("article_covers", "decisions", "photo_verdicts", "adapters", "layouts"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_open_once, args=(pg_url, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    from desktop_app.core.storage import SCHEMA_VERSION

    assert results == [SCHEMA_VERSION] * 3, results
    with Catalog(pg_url) as cat, cat.read() as conn:
        assert "decisions" in sa.inspect(conn).get_table_names()


# ----------------------------------------------------------------------------- moving and mounting


def test_catalog_copy_round_trip(pg_url, tmp_path, sample_copy):
    first = tmp_path / "a.sqlite"
    index_photos(first, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with Engine.open(first, remember=False) as engine:
        engine.set_labels(["mh01-gray", "mh01-black"], "category", "hoodies")
    home = tmp_path / "home"
    there = cli("catalog", "copy", first, pg_url, "--json", home=home)
    assert there.returncode == 0, there.stderr
    report = json.loads(there.stdout)
    assert report["verified"] and report["rows"]["photos"] == 76 and report["rows"]["vectors"] == 76
    back = tmp_path / "b.sqlite"
    again = json.loads(cli("catalog", "copy", pg_url, back, "--json", home=home).stdout)
    assert again["checksums"] == report["checksums"]
    answers = []
    for db in (first, pg_url, back):
        with Engine.open(db, remember=False) as engine:
            answers.append(
                [(h.article, round(h.score, 5)) for h in engine.similar(Query.of_articles("mh01-gray")).hits]
            )
            assert engine.labels()["mh01-black"] == {"category": "hoodies"}
    assert answers[0] == answers[1] == answers[2]
    proc = cli("catalog", "copy", first, back, home=home)  # never into a catalog that holds data
    assert proc.returncode == 2 and "already holds data" in proc.stderr


def test_each_machine_maps_the_photo_folder(pg_url, photo_tree, tiny_model, tmp_path):
    index_photos(pg_url, photo_tree, model=tiny_model)
    other_home = curator_home(tmp_path, "remote")
    mount = tmp_path / "mnt" / "catalog"
    shutil.copytree(photo_tree, mount)
    shutil.rmtree(photo_tree)  # the indexing machine's folder is not here
    root = json.loads(cli("catalog", "root", "--db", pg_url, "--json", home=other_home).stdout)
    assert root["online"] is False
    sim = cli("similar", "--article", "red", "--db", pg_url, "--json", home=other_home)
    assert sim.returncode == 0 and json.loads(sim.stdout)["hits"]  # browsing and search work offline
    mapped = json.loads(cli("catalog", "root", mount, "--db", pg_url, "--json", home=other_home).stdout)
    assert mapped["online"] and mapped["photo_root"] == str(mount.resolve())
    os.environ["LOOKALIKE_HOME"] = str(other_home)
    with Engine.open(pg_url, remember=False) as engine:
        assert engine.absolute("red/p0.jpg") == mount.resolve() / "red" / "p0.jpg"
    assert UserSettings.load().photo_root(pg_url) == str(mount.resolve())


def test_the_password_comes_from_libpq_or_a_clear_message(pg_server, tmp_path, photo_tree, tiny_model):
    from tools import pg_cluster

    pg_cluster.create_database(pg_server, "pwcat", owner="pwuser")
    url = pg_server.replace("postgres@", "pwuser@") + "/pwcat"
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    index = ("index", photo_tree, "--db", url, "--model", tiny_model.manifest_path)
    proc = cli(*index, home=home, env={**env, "HOME": str(tmp_path), "PGPASSWORD": ""})
    assert proc.returncode == 2 and "PGPASSWORD" in proc.stderr and "secret-pw" not in proc.stderr
    proc = cli(*index, home=home, env={"PGPASSWORD": "secret-pw"})
    assert proc.returncode == 0, proc.stderr
    pgpass = tmp_path / ".pgpass"
    pgpass.write_text("127.0.0.1:*:pwcat:pwuser:secret-pw\n")
    pgpass.chmod(0o600)
    proc = cli("stats", "--db", url, "--json", home=home, env={"HOME": str(tmp_path), "PGPASSWORD": ""})
    assert proc.returncode == 0, proc.stderr
    assert "secret-pw" not in (home / "settings.json").read_text()  # never stored
