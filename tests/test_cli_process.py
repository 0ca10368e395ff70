"""The CLI as real subprocesses: summaries, JSON, permissions, and a SIGKILL in the middle of indexing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

from tests.conftest import REPO, make_tiny_model, run_unprivileged, write_photo


def run_cli(*args, env=None, check=True):
    cmd = [sys.executable, "-m", "desktop_app", *map(str, args)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=REPO, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_index_stats_similar_json(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    model = tiny_model.manifest_path
    out = json.loads(run_cli("index", photo_tree, "--db", db, "--model", model, "--json").stdout)
    assert (out["articles"], out["photos"], out["new"]) == (3, 7, 7)
    text = run_cli("index", photo_tree, "--db", db, "--model", model).stdout
    assert "unchanged 7" in text and "tiny-test" in text
    stats = json.loads(run_cli("stats", "--db", db, "--json").stdout)
    assert stats["counts"]["photos"] == 7 and stats["grouping"] == {"kind": "folder"}
    sim = json.loads(
        run_cli(
            "similar",
            "--db",
            db,
            "--image",
            photo_tree / "red" / "p0.jpg",
            "--photos",
            "--top",
            "3",
            "--json",
        ).stdout
    )
    assert sim["photos"][0]["path"] == "red/p0.jpg" and sim["photos"][0]["score"] > 0.999


def test_clear_message_for_missing_folder(tmp_path):
    proc = run_cli("index", tmp_path / "nowhere", "--db", tmp_path / "c.sqlite", check=False)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_unreadable_file_is_skipped_with_reason(open_dir, tiny_model):
    from desktop_app.core.indexer import index_folder
    from desktop_app.core.storage import Catalog

    model = make_tiny_model(open_dir / "model")
    root = open_dir / "photos"
    write_photo(root / "a" / "ok.jpg")
    index_folder(Catalog(open_dir / "warm.sqlite"), root, model=model)  # imports everything before the fork
    secret = write_photo(root / "a" / "secret.jpg", seed=2)
    for p in [root, root / "a", *root.rglob("*.jpg"), *(open_dir / "model").iterdir(), open_dir / "model"]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    secret.chmod(0o000)

    def index_as_user():
        # a catalog's folder must exist: only the app's own data folder is made for one
        (open_dir / "user").mkdir()
        cat = Catalog(open_dir / "user" / "c.sqlite")
        summary = index_folder(cat, root, model=model)
        return summary.skipped, cat.skipped(), cat.counts()["photos_ok"]

    status, result = run_unprivileged(index_as_user)
    assert status == "ok", result
    skipped, listed, ok = result
    assert skipped == {"unreadable": 1} and ok == 1
    assert listed == [{"path": "a/secret.jpg", "reason": "unreadable", "message": "permission denied"}]


def test_read_only_catalog_location_gets_clear_message(open_dir):
    from desktop_app.core.storage import Catalog

    locked = open_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    status, message = run_unprivileged(lambda: Catalog(locked / "c.sqlite"))
    assert status == "error"
    assert message.startswith("CatalogError") and "read-only" in message and "--db" in message


CRASH_SCRIPT = """
import sys
from desktop_app.core.storage import Catalog
from desktop_app.core.indexer import IndexOptions, index_folder
from desktop_app.core.models import load_manifest
def progress(p):
    print(p.done, flush=True)
index_folder(Catalog(sys.argv[1]), sys.argv[2], model=load_manifest(sys.argv[3]), progress=progress,
             options=IndexOptions(batch_size=8, workers=2))
print("finished", flush=True)
"""


def test_sigkill_mid_index_loses_at_most_a_batch_and_resumes(tmp_path, tiny_model):
    root = tmp_path / "p"
    n = 240
    for i in range(n):
        write_photo(root / f"art{i // 3:03d}" / f"{i}.jpg", seed=i, size=(160, 120))
    db = tmp_path / "c.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(db), str(root), str(tiny_model.manifest_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    committed_at_kill = 0
    for line in proc.stdout:
        if line.strip().isdigit() and int(line) >= 40:
            committed_at_kill = int(line)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the indexer finished before it could be killed"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        photos = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
        vectors = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    # progress is reported after each commit: everything reported is on disk, at most one batch more
    assert committed_at_kill <= photos <= committed_at_kill + 8
    assert photos == vectors
    out = json.loads(run_cli("index", root, "--db", db, "--model", tiny_model.manifest_path, "--json").stdout)
    assert out["photos"] == n and out["new"] == n - photos and out["unchanged"] == photos
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT path) FROM photos").fetchone() == (n, n)
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == n
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_demo_without_a_screen_shows_a_result(tmp_path):
    """`lookalike demo` on a machine without a screen indexes the bundled sample with the bundled model and
    prints a query's results; the other colour of the sample's stability ball is the nearest article."""
    env = {
        "LOOKALIKE_HOME": str(tmp_path / "home"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
        "QT_QPA_PLATFORM": "",
    }
    out = json.loads(run_cli("demo", "--dir", tmp_path / "demo", "--json", env=env).stdout)
    assert out["hits"][0]["article"] == "luma-stability-ball-pink" and len(out["hits"]) == 5
    text = run_cli("demo", "--no-gui", "--dir", tmp_path / "demo", env=env).stdout
    assert "Most similar to luma-stability-ball-gray" in text and "1. 0.9" in text
    assert "No screen here" not in text  # --no-gui asked for the terminal: nothing to explain
    text = run_cli("demo", "--dir", tmp_path / "demo", env=env).stdout
    assert "No screen here (no DISPLAY or WAYLAND_DISPLAY)" in text and "1. 0.9" in text
