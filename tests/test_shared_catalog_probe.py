"""Defects a probe of shared catalogs found (issue 14): an empty mount point taken for the photo folder, a
mount point refused before the share is mounted, passwords that leaked from one catalog to another, "refused
the password" when none was given, copied history credited to the laptop's login, and the inspector's
picture with every row named alike when the photos are offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.overview import load_snapshot
from desktop_app.core.paths import folder_reachable
from tests.conftest import cli

# ----------------------------------------------------------------------------- where the photos are


def test_an_empty_mount_point_is_not_the_photo_folder(catalog_location, photo_tree, tiny_model, tmp_path):
    index_photos(catalog_location, photo_tree, model=tiny_model)
    mount = tmp_path / "mnt" / "catalog"
    mount.mkdir(parents=True)  # what an unmounted share looks like: a folder, and nothing in it
    with Engine.open(catalog_location, remember=False) as engine:
        sample = engine.root_sample()
        assert sample and set(sample) <= engine.catalog.photo_paths()
        assert folder_reachable(photo_tree, sample) and not folder_reachable(mount, sample)
        engine.map_photo_root(mount)
        snap = load_snapshot(engine)
        assert snap.root_ok is False and snap.root_sample == sample
        assert snap.index_state()[0] == "photos offline"
        (photo_tree / "red" / "p0.jpg").unlink()  # a photo removed is not the folder gone
        engine.map_photo_root(photo_tree)
        assert load_snapshot(engine).root_ok is True
    home = Path(os.environ["LOOKALIKE_HOME"])
    proc = cli("catalog", "root", mount, "--db", catalog_location, "--json", home=home)
    shown = json.loads(proc.stdout)
    assert shown["online"] is False and shown["photos_found"] == {"found": 0, "checked": len(sample)}


def test_an_empty_mount_point_shows_the_offline_banner_until_the_share_is_mounted(
    qtbot, window, pg_url, photo_tree, tiny_model, tmp_path
):
    import shutil

    from tests.test_gui import T

    index_photos(pg_url, photo_tree, model=str(tiny_model.manifest_path))
    mount = tmp_path / "mnt" / "catalog"
    mount.mkdir(parents=True)  # the share is not mounted: its mount point is an empty folder
    with Engine.open(pg_url, remember=False) as engine:
        engine.map_photo_root(mount)
    w = window()
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_catalog(pg_url)
    assert w.snapshot.root_ok is False and w.root_frame.isVisible()
    w.root_frame.recheck.emit(w.root_frame.missing)  # what the 5-second timer does: still nothing there
    qtbot.waitUntil(lambda: not w.catalogs.busy(), timeout=T)
    assert w.root_frame.isVisible()
    mount.rmdir()
    shutil.copytree(photo_tree, mount)  # mounted
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.root_frame.recheck.emit(w.root_frame.missing)
    assert w.snapshot.root_ok and not w.root_frame.isVisible()


def test_a_folder_whose_sampled_photos_moved_is_still_the_photo_folder(tmp_path):
    # Renamed or reorganised photos (none of the sample where it was) in a folder that holds files: the
    # folder is there, and an index run must be able to find what moved. Only an empty folder (or one with
    # hidden entries alone, as a file manager leaves them) reads as an unmounted share.
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"")
    sample = ("red/p0.jpg", "blue/p1.jpg")
    assert not folder_reachable(folder, sample)
    (folder / "reshoot").mkdir()
    assert folder_reachable(folder, sample)


def test_a_new_catalog_without_photos_yet_is_reachable_when_its_folder_is(tmp_path):
    with Engine.open(tmp_path / "new.sqlite", create=True, remember=False) as engine:
        assert engine.root_sample() == ()
    assert folder_reachable(tmp_path, ()) and not folder_reachable(tmp_path / "absent", ())


def test_a_mount_point_not_mounted_yet_is_accepted_with_a_warning(pg_url, photo_tree, tiny_model, tmp_path):
    index_photos(pg_url, photo_tree, model=tiny_model)
    home = tmp_path / "home"
    absent = tmp_path / "Volumes" / "catalog" / "photos"
    proc = cli("catalog", "root", absent, "--db", pg_url, home=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("\n") == 1 and "not there yet" in proc.stderr and str(absent) in proc.stderr
    assert "offline" in proc.stdout
    shown = json.loads(cli("catalog", "root", "--db", pg_url, "--json", home=home).stdout)
    assert shown["photo_root"] == str(absent) and shown["online"] is False
    a_file = tmp_path / "photos.txt"
    a_file.write_text("not a folder")
    proc = cli("catalog", "root", a_file, "--db", pg_url, home=home)
    assert proc.returncode == 2 and "is a file" in proc.stderr and "Traceback" not in proc.stderr
    absent.mkdir(parents=True)  # the share is mounted: its photos appear
    for rel in ("red/p0.jpg", "green/p0.jpg", "shoes/blue/p0.jpg"):
        (absent / rel).parent.mkdir(parents=True, exist_ok=True)
        (absent / rel).write_bytes((photo_tree / rel).read_bytes())
    shown = json.loads(cli("catalog", "root", "--db", pg_url, "--json", home=home).stdout)
    assert shown["online"] is True


# ----------------------------------------------------------------------------- passwords


def _pw_catalog(pg_server: str, name: str) -> str:
    """A database owned by pwuser (password secret-pw), which the server asks a password of."""
    from tools import pg_cluster

    pg_cluster.create_database(pg_server, name, owner="pwuser")
    return pg_server.replace("postgres@", "pwuser@") + f"/{name}"


def test_no_password_at_all_says_one_is_needed_and_a_wrong_one_that_it_was_refused(pg_server, tmp_path):
    url = _pw_catalog(pg_server, f"needpw{os.getpid()}")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    none = {**env, "HOME": str(tmp_path), "PGPASSFILE": str(tmp_path / "no-pgpass")}
    proc = cli("stats", "--db", url, home=home, env=none)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "needs a password for pwuser" in proc.stderr and "refused" not in proc.stderr
    assert "PGPASSWORD" in proc.stderr and "~/.pgpass" in proc.stderr
    proc = cli("stats", "--db", url, home=home, env={**none, "PGPASSWORD": "wrong"})
    assert proc.returncode == 2 and "refused the password of pwuser" in proc.stderr, proc.stderr


def test_a_typed_password_is_for_its_catalog_only_and_never_in_the_environment(
    pg_server, photo_tree, tiny_model, tmp_path, monkeypatch
):
    from desktop_app.core.engine_process import EngineProcess
    from desktop_app.core.storage.passwords import (
        forget_passwords,
        login_key,
        remember_password,
        typed_password,
    )
    from desktop_app.core.storage.postgres import PasswordNeeded

    first = _pw_catalog(pg_server, f"pwa{os.getpid()}")
    second = _pw_catalog(pg_server, f"pwb{os.getpid()}")  # the same user on the same server, another catalog
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    assert login_key(first) == f"pwuser@127.0.0.1:{first.rsplit(':', 1)[1].split('/')[0]}/pwa{os.getpid()}"
    try:
        remember_password(first, "secret-pw")  # what the app's prompt does
        assert "PGPASSWORD" not in os.environ
        index_photos(first, photo_tree, model=tiny_model)
        with Engine.open(first, remember=False) as engine:
            assert "secret-pw" not in engine.location
        with pytest.raises(PasswordNeeded, match="needs a password"):  # not sent to the other catalog
            Engine.open(second, create=True, remember=False)
        child = EngineProcess()  # the app's search process gets the typed password, not the environment
        try:
            assert child.open(first).n_photos == 7
        finally:
            child.close()
        # A password typed for one catalog does not override ~/.pgpass for another.
        pgpass = tmp_path / "pgpass"
        port = first.rsplit(":", 1)[1].split("/")[0]
        pgpass.write_text(f"127.0.0.1:{port}:pwb{os.getpid()}:pwuser:secret-pw\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        remember_password(first, "typed-wrong")
        Engine.open(second, create=True, remember=False).close()
        with pytest.raises(PasswordNeeded, match="refused the password") as refused:
            Engine.open(first, remember=False)
        assert not refused.value.in_url  # a typed one: asking again makes sense
        assert typed_password(first) is None  # and the refused one is not handed on to child processes
    finally:
        forget_passwords()
    assert (
        not (Path(os.environ["LOOKALIKE_HOME"]) / "settings.json").exists()
        or "secret-pw" not in (Path(os.environ["LOOKALIKE_HOME"]) / "settings.json").read_text()
    )


# ----------------------------------------------------------------------------- moving a catalog


def test_a_copy_credits_the_laptops_history_to_the_curator_on_the_server(
    pg_server, photo_tree, tiny_model, tmp_path
):
    import getpass

    ana = _pw_catalog(pg_server, f"moved{os.getpid()}").replace("pwuser@", "pwuser:secret-pw@")

    laptop = tmp_path / "laptop.sqlite"
    index_photos(laptop, photo_tree, model=tiny_model)
    with Engine.open(laptop, remember=False) as engine:  # the laptop's login name is the curator
        engine.set_labels(["red", "green"], "category", "tops")
        engine.decide("red", "green", "alike")
    home = Path(os.environ["LOOKALIKE_HOME"])
    proc = cli("catalog", "copy", laptop, ana, "--curator-as", "bad\x1bname", home=home)
    assert proc.returncode == 2 and "curator" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("catalog", "copy", laptop, ana, "--curator-as", "pwuser", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verified"] and report["curator_as"] == "pwuser"
    assert report["recredited"] == {"label_events": 2, "decisions": 1}
    with Engine.open(ana, remember=False) as engine:
        assert engine.curator() == "pwuser"
        assert {d["curator"] for d in engine.decisions()} == {"pwuser"}
        assert len(engine.undo_decision()) == 1  # her own history: undo takes it back
        assert len(engine.undo()) == 2 and engine.labels() == {}
    with Engine.open(laptop, remember=False) as engine:  # the source is never changed
        assert {d["curator"] for d in engine.decisions()} == {getpass.getuser()}


# ----------------------------------------------------------------------------- the inspector's picture


def test_header_labels_are_distinct_and_keep_the_end_that_tells_them_apart():
    from desktop_app.core.inspect import header_labels

    paths = ["m/h/mh01-gray_main.jpg", "m/h/mh01-gray_back.jpg", "m/h/mh01-gray_alt1.jpg"]
    assert header_labels(paths, ["main", "back", "alt1"], 10) == ["main", "back", "alt1"]
    by_name = header_labels(paths, [None, None, None], 10)
    assert by_name == ["…gray_main", "…gray_back", "…gray_alt1"]
    same_view = header_labels(["a/p0.jpg", "b/p0.jpg"], ["front", "front"], 10)
    assert len(set(same_view)) == 2 and all(len(label) <= 10 for label in same_view)
    long_alike = ["x/very-long-article-name-front-1.jpg", "y/another-long-name-front-1.jpg"]
    labels = header_labels(long_alike, [None, None], 10)
    assert len(set(labels)) == 2 and all(len(label) <= 10 for label in labels)


def test_inspect_with_the_photos_offline_says_so_and_names_rows_apart(sample_copy, tiny_model, tmp_path):
    from PIL import Image

    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    db = tmp_path / "c.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN), model=tiny_model)
    home = Path(os.environ["LOOKALIKE_HOME"])
    online_png, offline_png = tmp_path / "online.png", tmp_path / "offline.png"
    pair = ("inspect", "mh01-gray", "mh01-black", "--db", db)
    proc = cli(*pair, "--png", online_png, home=home)
    assert proc.returncode == 0 and "offline" not in proc.stdout, proc.stderr
    sample_copy.rename(tmp_path / "unmounted")
    sample_copy.mkdir()  # the mount point, with the share not mounted
    proc = cli(*pair, "--png", offline_png, home=home)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stdout.splitlines() if "offline" in line]
    assert len(notes) == 1 and "no thumbnails" in notes[0] and str(sample_copy) in notes[0]
    shown = json.loads(cli(*pair, "--png", offline_png, "--json", home=home).stdout)
    assert "offline" in shown["png_note"]
    with Image.open(online_png) as on, Image.open(offline_png) as off:
        assert off.height > on.height and off.width == on.width  # a band of its own for the note
