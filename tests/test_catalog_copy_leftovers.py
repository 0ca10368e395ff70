"""What a killed `catalog copy` or `catalog recover` leaves beside its target (the hidden `.NAME.partial`
file it was building and its `.NAME.lock`) is swept by the next open of a catalog in that folder and by the
next copy or recovery into it, whatever its target; a copy that is still running (its lock held) keeps its
file. Real child processes, killed with SIGKILL or stopped with SIGSTOP while they hold the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine
from desktop_app.core.storage.building import sweep_stale_builds
from tests.conftest import REPO, cli
from tests.test_reliability_faults import big_catalog, wait_for


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def start(args: list, home: Path) -> subprocess.Popen:
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def copy_args(command: str, src: Path, dst: Path) -> list:
    return ["catalog", "copy", src, dst] if command == "copy" else ["catalog", "recover", dst, "--db", src]


def killed_half_way(command: str, src: Path, dst: Path, home: Path) -> None:
    child = start(copy_args(command, src, dst), home)
    try:
        wait_for(lambda: (dst.parent / f".{dst.name}.partial").exists(), f"the {command} to start")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert f".{dst.name}.partial" in leftovers(dst.parent) and f".{dst.name}.lock" in leftovers(dst.parent)


@pytest.fixture
def src(tmp_path, photo_tree, tiny_model) -> Path:
    return big_catalog(tmp_path, photo_tree, tiny_model)


@pytest.mark.parametrize("command", ["copy", "recover"])
def test_the_next_open_of_a_catalog_in_the_folder_sweeps_a_killed_runs_leftovers(src, tmp_path, command):
    home = tmp_path / "home"
    killed_half_way(command, src, tmp_path / "new.sqlite", home)
    proc = cli("stats", "--db", src, "--json", home=home)  # another catalog of that folder, read only
    assert proc.returncode == 0, proc.stderr
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "new.sqlite").exists()


def test_a_copy_into_the_folder_sweeps_what_a_killed_copy_to_another_name_left(src, tmp_path):
    home = tmp_path / "home"
    out = tmp_path / "out"
    out.mkdir()
    killed_half_way("copy", src, out / "first.sqlite", home)
    proc = cli("catalog", "copy", src, out / "second.sqlite", "--json", home=home)
    assert proc.returncode == 0 and json.loads(proc.stdout)["verified"], proc.stderr
    assert leftovers(out) == [] and sorted(p.name for p in out.iterdir()) == ["second.sqlite"]


def test_a_running_copy_keeps_its_partial_file_and_finishes(src, tmp_path):
    """The copy is stopped (SIGSTOP) while it writes, holding its lock: opening the folder's catalog then,
    in this process and in another, must leave its file alone; continued, it finishes and verifies."""
    home = tmp_path / "home"
    dst = tmp_path / "new.sqlite"
    child = start(["catalog", "copy", src, dst, "--json"], home)
    try:
        partial = tmp_path / f".{dst.name}.partial"
        wait_for(lambda: partial.exists() and partial.stat().st_size > 0, "the copy to write")
        child.send_signal(signal.SIGSTOP)
        before = leftovers(tmp_path)
        with Engine.open(src, remember=False):
            pass
        proc = cli("stats", "--db", src, "--json", home=home)
        assert proc.returncode == 0, proc.stderr
        assert sweep_stale_builds(tmp_path) == []
        assert leftovers(tmp_path) == before and f".{dst.name}.partial" in before
    finally:
        child.send_signal(signal.SIGCONT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0 and json.loads(out)["verified"], err
    assert leftovers(tmp_path) == []


def test_only_lookalikes_own_leftovers_are_swept(tmp_path):
    """A hidden `.x.partial` that is not an SQLite file, and a `.x.lock` of another program (no partial
    catalog beside it), are someone else's: they stay. An empty partial is what a run killed before its
    first write left, with its lock."""
    (tmp_path / ".download.partial").write_bytes(b"half a video")
    (tmp_path / ".editor.lock").write_text("4711")
    (tmp_path / ".early.sqlite.partial").write_bytes(b"")
    (tmp_path / ".early.sqlite.lock").write_bytes(b"")
    (tmp_path / ".gone.sqlite.partial-journal").write_bytes(b"\0" * 512)  # its database already removed
    removed = sweep_stale_builds(tmp_path)
    assert sorted(p.name for p in removed) == [
        ".early.sqlite.lock",
        ".early.sqlite.partial",
        ".gone.sqlite.partial-journal",
    ]
    assert leftovers(tmp_path) == [".download.partial", ".editor.lock"]


def test_a_lock_taken_on_a_lock_file_removed_meanwhile_does_not_count(tmp_path, monkeypatch):
    """A sweep (or a finished copy) removes the lock file it holds, then lets go; whoever opened that file
    just before must not take the lock on it, or a third run, opening the path afresh, would build the same
    file at the same time."""
    from desktop_app.core.storage import locks

    path = tmp_path / ".new.sqlite.lock"
    holder = locks.FileLock(path)
    assert holder.acquire()
    real = locks._try_lock

    def holder_tidies_up_meanwhile(fh, wait=False):
        if holder._fh is not None:  # between the second one's open and its lock
            path.unlink()
            holder.release()
        return real(fh, wait)

    monkeypatch.setattr(locks, "_try_lock", holder_tidies_up_meanwhile)
    second = locks.FileLock(path)
    assert second.acquire()
    monkeypatch.undo()
    assert os.fstat(second._fh.fileno()).st_ino == path.stat().st_ino  # it holds the file at the path
    assert not locks.FileLock(path).acquire()  # so a third finds it held
    second.release()
