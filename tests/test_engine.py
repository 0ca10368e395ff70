"""The engine: one store of search settings that every command follows, decisions made in one transaction,
and index runs that fail before they touch a catalog."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import CatalogBusy, InputError
from desktop_app.core.settings import SearchSettings, UserSettings, last_catalog
from desktop_app.core.similar import Query
from desktop_app.core.storage import SCHEMA_VERSION, Catalog, IndexLock
from tests.conftest import IS_ROOT, REPO, SAMPLE, SAMPLE_PHOTOS, make_tiny_model, run_unprivileged

TUNED = SearchSettings("hungarian", 0.6, 2, 7)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    base = tmp_path_factory.mktemp("sample")
    photos = base / "photos"
    shutil.copytree(SAMPLE_PHOTOS, photos)
    db = base / "c.sqlite"
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    index_photos(db, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    return db


@pytest.fixture
def tuned_db(sample_db, tmp_path):
    db = tmp_path / "c.sqlite"
    shutil.copy(sample_db, db)
    with Engine.open(db) as engine:
        truth = {r["article"]: r["category"] for r in _manifest()}
        engine.set_label_items([(a, "category", c) for a, c in list(truth.items())[::2]], "import", "import")
        engine.update_settings(search=TUNED)
    return db


def _manifest() -> list[dict]:
    import csv

    with open(SAMPLE / "manifest.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_json(capsys, *argv) -> dict:
    assert main([str(a) for a in argv] + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------- one store of search settings


def test_tune_stores_what_similar_inspect_and_labels_then_use(sample_db, tmp_path, capsys):
    db = tmp_path / "c.sqlite"
    shutil.copy(sample_db, db)
    groups = tmp_path / "styles.csv"
    groups.write_text(
        "article,group\n" + "".join(f"{r['article']},{r['style']}\n" for r in _manifest()), "utf-8"
    )
    best = run_json(capsys, "tune", "--groups", groups, "--db", db)["best"]
    stored = (best["method"], best["threshold"], best["max_matches"])
    with Engine.open(db) as engine:
        assert (
            engine.settings().search.method,
            engine.settings().search.threshold,
            engine.settings().search.max_matches,
        ) == stored
    sim = run_json(capsys, "similar", "--article", "mh01-gray", "--db", db)
    assert (sim["method"], sim["threshold"], sim["max_matches"]) == stored


def test_similar_inspect_and_every_labels_command_follow_the_stored_settings(tuned_db, capsys, monkeypatch):
    sim = run_json(capsys, "similar", "--article", "mh01-gray", "--db", tuned_db)
    assert (sim["method"], sim["threshold"], sim["max_matches"], sim["top"]) == ("hungarian", 0.6, 2, 7)
    assert len(sim["hits"]) <= 7 and all(sum(p["used"] for p in h["pairs"]) <= 2 for h in sim["hits"])
    ins = run_json(capsys, "inspect", "mh01-gray", "mh01-black", "--db", tuned_db)
    assert (ins["threshold"], ins["max_matches"]) == (0.6, 2)
    ev = run_json(capsys, "labels", "evaluate", "--db", tuned_db, "--k", "3")
    assert (ev["method"], ev["threshold"], ev["max_matches"]) == ("hungarian", 0.6, 2)
    # suggest and accept: the suggester they build gets the stored settings
    from desktop_app.core import labels

    made = []
    real = labels.Suggester.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        made.append((self.method, self.threshold, self.max_matches))

    monkeypatch.setattr(labels.Suggester, "__init__", spy)
    run_json(capsys, "labels", "suggest", "--db", tuned_db)
    run_json(capsys, "labels", "accept", "--db", tuned_db, "--min-confidence", "0.99")
    assert made == [("hungarian", 0.6, 2)] * 2
    # and an option given on the command line wins for that call only
    sim = run_json(capsys, "similar", "--article", "mh01-gray", "--db", tuned_db, "--method", "greedy")
    assert (sim["method"], sim["threshold"]) == ("greedy", 0.6)


def test_settings_command_shows_and_changes_the_store(tuned_db, capsys):
    shown = run_json(capsys, "settings", "--db", tuned_db)
    assert {k: shown[k] for k in TUNED.to_dict()} == TUNED.to_dict()
    out = run_json(capsys, "settings", "--db", tuned_db, "--no-threshold", "--all-pairs", "--method", "max")
    assert (out["method"], out["threshold"], out["max_matches"]) == ("max", None, None)


def test_older_catalogs_keep_what_tune_stored(tmp_path):
    # Schema 3 kept tune's choice at the top level and the app's in "search": the migration merges them.
    db = tmp_path / "old.sqlite"
    Catalog(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.executemany(
            "INSERT INTO settings VALUES (?, ?)",
            [
                ("method", '"hungarian"'),
                ("threshold", "0.6"),
                ("max_matches", "2"),
                ("search", json.dumps({"method": "greedy", "threshold": 0.0, "max_matches": 0})),
            ],
        )
    with Engine.open(db) as engine:
        assert engine.catalog.schema_version() == SCHEMA_VERSION
        assert engine.settings().search == SearchSettings("hungarian", 0.6, 2)
        assert not {"method", "threshold", "max_matches"} & set(engine.catalog.raw_settings())


# ----------------------------------------------------------------------------- decisions


def test_a_bulk_accept_is_one_decision(tuned_db):
    with Engine.open(tuned_db) as engine:
        before = engine.labels("category")
        n = engine.accept("category", min_confidence=0.0, params=SearchSettings())
        assert n > 5 and len(engine.labels("category")) == len(before) + n
        undone = engine.undo("category")
        assert len(undone) == n and {e["action"] for e in undone} == {"accept"}
        assert engine.labels("category") == before
        # the import before it is the next decision, also whole
        assert len(engine.undo("category")) == len(before) and engine.labels("category") == {}


def _undo_until_empty(db: str, out, ready, go) -> None:
    engine = Engine.open(db, remember=False)
    ready.release()
    go.wait(60)
    ids = []
    while True:
        undone = engine.undo()
        if not undone:
            break
        ids.extend(e["id"] for e in undone)
        time.sleep(0.002)  # let the other process in: SQLite's lock is not fair
    engine.close()
    out.put(ids)


def test_two_processes_never_undo_the_same_decision(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db) as engine:
        for i in range(200):
            engine.set_labels(["red", "green"], "category", f"v{i}")
        events = {e["id"] for e in engine.catalog.label_events(1000)}
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_undo_until_empty, args=(str(db), out, ready, go)) for _ in range(2)]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=120)
    go.set()  # both start undoing at the same moment
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    undone = got[0] + got[1]
    assert sorted(undone) == sorted(events)  # every event undone once, none twice
    assert got[0] and got[1]  # both really worked at the same time
    with Engine.open(db) as engine:
        assert engine.labels() == {}


# ----------------------------------------------------------------------------- index runs that fail early


def cli(*args, home):
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_a_failed_index_creates_no_catalog_and_keeps_the_last_one(tmp_path, photo_tree, tiny_model):
    home = tmp_path / "home"
    good = tmp_path / "good.sqlite"
    assert (
        cli("index", photo_tree, "--db", good, "--model", tiny_model.manifest_path, home=home).returncode == 0
    )
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.jpg").write_bytes(b"x")
    broken = make_tiny_model(tmp_path / "broken", name="tiny-broken")
    broken.onnx_path.write_bytes(b"not an ONNX file")  # its manifest loads; the model does not
    for args in (
        ("index", tmp_path / "empty"),
        ("index", tmp_path / "file.jpg"),
        ("index", tmp_path / "nowhere"),
        ("index", photo_tree, "--model", "no-such-model"),
        ("index", photo_tree, "--model", broken.manifest_path),
    ):
        new = tmp_path / "new.sqlite"
        proc = cli(*args, "--db", new, home=home)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert not new.exists()
        proc = cli(*args, home=home)  # the default catalog in the user data folder
        assert proc.returncode == 2 and not list((home / "catalogs").glob("*.sqlite"))
        stats = cli("stats", "--json", home=home)
        assert json.loads(stats.stdout)["catalog"] == str(
            good.resolve()
        )  # the catalog used next is unchanged


def test_a_second_index_run_is_refused_while_one_runs(tmp_path, photo_tree, tiny_model, capsys):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with IndexLock(db):
        with pytest.raises(CatalogBusy, match="Another index run"):
            index_photos(db, photo_tree, model=tiny_model)
        assert main(["index", str(photo_tree), "--db", str(db)]) == 2
        assert "Another index run" in capsys.readouterr().err
    assert index_photos(db, photo_tree, model=tiny_model).unchanged == 7


def test_killed_runs_are_marked_interrupted(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Catalog(db) as cat:
        cat.start_run("m")  # a run whose process died: nobody holds the index lock
    with Catalog(db) as cat:
        assert cat.last_run()["status"] == "interrupted"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork to drop privileges")
def test_an_unreadable_subfolder_keeps_its_photos(open_dir, photo_tree, tiny_model):
    photos = open_dir / "photos"
    shutil.copytree(photo_tree, photos)
    for path in [photos, *photos.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    db = open_dir / "c.sqlite"
    index_photos(db, photos, model=tiny_model)
    os.chmod(db, 0o666)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.chmod(f"{db}{suffix}", 0o666)
    with Catalog(db) as cat:
        cat.set_labels([("red", "category", "tops")])
        before = {r.path for r in cat.photo_rows()}
    (photos / "red").chmod(0)
    try:
        status, summary = run_unprivileged(lambda: index_photos(db, photos, model=tiny_model))
    finally:
        (photos / "red").chmod(0o777)
    assert status == "ok", summary
    if IS_ROOT or not os.access(photos / "red", os.R_OK):
        assert [f["path"] for f in summary.skipped_folders] == ["red"] and summary.removed == 0
    with Catalog(db) as cat:
        assert {r.path for r in cat.photo_rows()} == before and cat.labels() == {"red": {"category": "tops"}}
    again = index_photos(db, photos, model=tiny_model)
    assert again.embedded == 0 and again.unchanged == 7  # readable again: nothing to re-embed


def test_user_settings_survive_and_ignore_junk(tmp_path):
    s = UserSettings.load()
    s.device, s.curator = "cpu", "ana"
    s.remember(tmp_path / "a.sqlite")
    s.save()
    again = UserSettings.load()
    assert (again.device, again.curator, again.recent) == (
        "cpu",
        "ana",
        [str((tmp_path / "a.sqlite").resolve())],
    )
    path = tmp_path / "home-settings.json"
    from desktop_app.core.settings import user as settings

    settings._settings_file().write_text('["not", "a", "dict"]', encoding="utf-8")
    assert UserSettings.load() == UserSettings()
    settings._settings_file().write_text('{"device": "quantum", "batch_size": "many"}', encoding="utf-8")
    assert UserSettings.load().device == "auto"
    assert not path.exists() and last_catalog() is None


def test_preferences_copied_from_the_dialog_keep_what_the_app_remembers(tmp_path):
    from dataclasses import fields

    stored = UserSettings(roots={"/cat.sqlite": "/photos"}, window={"main": "AAAA"})
    stored.remember(tmp_path / "a.sqlite")
    edited = UserSettings(device="cpu", batch_size=8, thumb_size=96, theme="dark", model="m", curator="ana")
    merged = stored.with_preferences_of(edited)
    remembered = {"recent", "roots", "window", "views", "export_folder"}
    for f in fields(UserSettings):
        source = stored if f.name in remembered else edited
        assert getattr(merged, f.name) == getattr(source, f.name), f.name
    # Every field is either a preference or something remembered: a new field must be put on one side.
    assert {f.name for f in fields(UserSettings)} - remembered == {
        "device",
        "batch_size",
        "thumb_size",
        "theme",
        "model",
        "curator",
    }


def test_search_settings_reject_nonsense():
    for bad in (dict(method="best"), dict(threshold=2.0), dict(max_matches=0), dict(top_k=0)):
        with pytest.raises(InputError):
            SearchSettings(**bad)
    assert (
        SearchSettings.from_dict({"method": "nope", "threshold": "x", "max_matches": 0}) == SearchSettings()
    )


def test_covers_prefer_the_main_view_and_the_curators_choice(sample_db, tmp_path):
    db = tmp_path / "c.sqlite"
    shutil.copy(sample_db, db)
    with Engine.open(db) as engine:
        covers = {r["article"]: r["cover"] for r in engine.catalog.articles_overview()}
        assert covers["wj08-gray"] == "w/j/wj08-gray_main.jpg"  # not the alphabetically first, _alt1
        hit = next(
            h for h in engine.similar(Query.of_articles("wj08-orange")).hits if h.article == "wj08-gray"
        )
        assert hit.cover == "w/j/wj08-gray_main.jpg"
        engine.set_cover("wj08-gray", "w/j/wj08-gray_back.jpg")
        with pytest.raises(InputError):
            engine.set_cover("wj08-gray", "m/h/mh01-gray_main.jpg")
        hit = next(
            h for h in engine.similar(Query.of_articles("wj08-orange")).hits if h.article == "wj08-gray"
        )
        assert hit.cover == "w/j/wj08-gray_back.jpg"
    index_photos(db, Path(engine.settings().photo_root))  # survives an index run
    with Engine.open(db) as engine:
        covers = {r["article"]: r["cover"] for r in engine.catalog.articles_overview()}
        assert covers["wj08-gray"] == "w/j/wj08-gray_back.jpg"


def test_set_cover_says_what_it_replaced_and_refuses_a_cover_changed_since(sample_db, tmp_path):
    from desktop_app.core.errors import Conflict

    db = tmp_path / "c.sqlite"
    shutil.copy(sample_db, db)
    with Engine.open(db) as engine:
        first = engine.set_cover("wj08-gray", "w/j/wj08-gray_back.jpg")
        assert (first.article, first.before, first.after) == ("wj08-gray", None, "w/j/wj08-gray_back.jpg")
        second = engine.set_cover("wj08-gray", "w/j/wj08-gray_alt1.jpg")
        assert (second.before, second.after) == ("w/j/wj08-gray_back.jpg", "w/j/wj08-gray_alt1.jpg")
        assert second.at >= first.at
        # An undo that expects the back view finds alt1: refused, nothing written.
        with pytest.raises(Conflict) as refused:
            engine.set_cover("wj08-gray", None, expected="w/j/wj08-gray_back.jpg")
        assert refused.value.conflicts[0]["field"] == "cover"
        assert engine.chosen_cover("wj08-gray") == "w/j/wj08-gray_alt1.jpg"
        back = engine.set_cover("wj08-gray", second.before, expected=second.after)
        assert (back.before, back.after) == ("w/j/wj08-gray_alt1.jpg", "w/j/wj08-gray_back.jpg")
        auto = engine.set_cover("wj08-gray", None, expected="w/j/wj08-gray_back.jpg")
        assert auto.after is None and engine.chosen_cover("wj08-gray") is None
        with pytest.raises(Conflict):  # expects the automatic cover: someone chose one meanwhile
            engine.set_cover("wj08-gray", "w/j/wj08-gray_back.jpg", expected="w/j/wj08-gray_alt1.jpg")
