"""Files written where the user says: a symlink is followed, a device or FIFO is refused, modes are those of an
ordinary file, a missing folder is refused (catalogs too), and CSV cells survive an export and import."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import InputError
from desktop_app.core.files import check_output_path, write_text
from tests.conftest import REPO


def cli(*args, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout)  # fmt: skip


def one_line_exit_2(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle.lower() in proc.stderr.lower(), proc.stderr


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    return db


def current_umask() -> int:
    """The process's umask, read without changing it (Linux reports it in /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    pytest.skip("this system does not report the umask in /proc")


# ============================================================================ what a write replaces


def test_an_export_through_a_symlink_writes_the_linked_file_and_keeps_the_link(indexed, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real.name)  # relative, as `ln -s real.csv link.csv` makes it
    proc = cli("labels", "export", link, "--db", indexed, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert real.read_text().startswith("article,field,label,source")


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "made.txt")
    write_text(link, "hello")
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "hello"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_before_any_work_and_stays_a_fifo(indexed, tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    one_line_exit_2(
        cli("labels", "export", fifo, "--db", indexed, home=tmp_path / "home"), "not a regular file"
    )
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(InputError, match="not a regular file"):
        write_text(fifo, "x")  # the writer itself refuses too, not only the check callers make first
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_a_device_is_refused_by_the_path_check():
    # Only the check is run: a test must never write to /dev/null (as root, a bug would replace it).
    with pytest.raises(InputError, match="/dev/null is not a regular file; name a file path"):
        check_output_path("/dev/null", "picture")


# ============================================================================ modes


def test_a_new_file_gets_the_ordinary_mode_and_a_rewrite_keeps_the_old_one(tmp_path):
    fresh = tmp_path / "new.csv"
    write_text(fresh, "a")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~current_umask()
    shared = tmp_path / "shared.csv"
    shared.write_text("old")
    shared.chmod(0o664)
    write_text(shared, "new")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664 and shared.read_text() == "new"
    locked = tmp_path / "locked.csv"
    locked.write_text("old")
    locked.chmod(
        0o444
    )  # read-only to everyone: the rewrite is allowed (the folder is ours) and stays read-only
    write_text(locked, "new")
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444 and locked.read_text() == "new"


def test_an_engine_export_keeps_the_mode_of_the_file_it_replaces(indexed, tmp_path):
    out = tmp_path / "labels.json"
    out.write_text("[]")
    out.chmod(0o640)
    with Engine.open(indexed, remember=False) as engine:
        engine.export_labels(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and json.loads(out.read_text()) == []


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))
