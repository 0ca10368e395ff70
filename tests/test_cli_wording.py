"""What the commands print is words a curator reads: no internal codes (not_a_file, not_match), one unit
convention for sizes, scores with the same decimals down a column, and every skipped file where README says."""

from __future__ import annotations

import json
import os
import re
import socket

import pytest

from desktop_app.core.engine import index_photos
from desktop_app.core.images import MAX_FILE_BYTES, PhotoError, read_bytes
from tests.conftest import REPO, run_main

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # an internal code such as not_a_file or name_clash


@pytest.fixture
def troubled_tree(tmp_path, photo_tree):
    """The photo tree with one file of every kind `index` skips at scan time or when it reads a file."""
    (photo_tree / "red" / "empty.jpg").write_bytes(b"")
    (photo_tree / "red" / "notes.jpg").write_text("not a picture", encoding="utf-8")
    with open(photo_tree / "green" / "huge.jpg", "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: over the limit without taking the room
    os.mkfifo(photo_tree / "red" / "pipe.jpg")
    (photo_tree / "green" / "zero.jpg").symlink_to("/dev/zero")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(photo_tree / "green" / "sock.jpg"))
    yield photo_tree
    sock.close()


SKIPPED_PATHS = {
    "red/empty.jpg",
    "red/notes.jpg",
    "green/huge.jpg",
    "red/pipe.jpg",
    "green/zero.jpg",
    "green/sock.jpg",
}


def test_index_and_stats_say_every_skip_in_words(troubled_tree, tmp_path, tiny_model, capsys):
    db = tmp_path / "c.sqlite"
    code, out, err = run_main(capsys, "index", troubled_tree, "--db", db, "--model", tiny_model.manifest_path)
    assert code == 0, err
    skipped_line = next(line for line in out.splitlines() if line.startswith("Skipped"))
    assert not CODE.search(skipped_line), skipped_line
    assert "3 not regular files (pipes, devices, sockets)" in skipped_line
    assert "1 empty file" in skipped_line and "1 file over the size limit" in skipped_line
    code, out, err = run_main(capsys, "stats", "--db", db)
    assert code == 0, err
    listed = out.split("Skipped", 1)[1]
    for path in SKIPPED_PATHS:
        assert path in listed, (path, listed)
    assert not CODE.search(listed), listed
    code, out, err = run_main(capsys, "stats", "--db", db, "--json")
    reasons = {s["path"]: s["reason"] for s in json.loads(out)["skipped"]}
    assert reasons["red/pipe.jpg"] == "not_a_file"
    # A rerun with nothing new keeps the list: what the scan skipped is said again, not forgotten.
    index_photos(db, troubled_tree, model=tiny_model)
    code, out, err = run_main(capsys, "stats", "--db", db)
    assert all(path in out for path in SKIPPED_PATHS)


def test_the_size_limit_is_said_in_the_units_readme_uses(tmp_path):
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(PhotoError) as err:
        read_bytes(big)
    assert MAX_FILE_BYTES % 1_000_000 == 0  # a limit in decimal megabytes, as every size Lookalike prints
    limit = f"{MAX_FILE_BYTES // 1_000_000} MB"
    assert str(err.value).endswith(f"over the limit of {limit} per photo"), str(err.value)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"over {limit}" in readme and "512 MB" not in readme


def test_a_conflict_names_the_decision_in_words(tmp_path, photo_tree, tiny_model, monkeypatch):
    from desktop_app.core.engine import Engine
    from desktop_app.core.errors import Conflict

    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db) as engine:
        monkeypatch.setattr(type(engine), "curator", lambda self: "ben")
        engine.decide("red", "green", "not_match")
        monkeypatch.setattr(type(engine), "curator", lambda self: "ann")
        with pytest.raises(Conflict) as err:
            engine.decide("red", "green", "same", expected=None)  # ann saw it undecided
    message = str(err.value)
    assert "was decided 'not a match' by ben" in message and not CODE.search(message), message


@pytest.mark.parametrize(
    "url, path", [("sqlite:///tmp/x.sqlite", "/tmp/x.sqlite"), ("sqlite:////srv/c.sqlite", "/srv/c.sqlite")]
)
def test_a_sqlite_url_is_answered_with_the_file_path_to_give(capsys, url, path):
    code, out, err = run_main(capsys, "stats", "--db", url)
    assert code == 2 and err.count("\n") == 1, err
    assert f"--db {path}" in err and "not sqlite" not in err, err


def test_setting_an_empty_label_says_cleared(tmp_path, photo_tree, tiny_model, capsys):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    assert run_main(capsys, "labels", "set", "red", "--value", "tops", "--db", db)[1] == "Updated 1 label\n"
    assert run_main(capsys, "labels", "set", "red", "--value", "", "--db", db)[1] == "Cleared 1 label\n"
    code, out, _ = run_main(capsys, "labels", "set", "red", "--value", "", "--db", db)
    assert out == "Nothing changed: no article had that label.\n"


def test_scores_in_text_have_the_same_decimals_down_the_column(
    tmp_path, photo_tree, tiny_model, capsys, monkeypatch
):
    import shutil

    shutil.copytree(photo_tree / "red", photo_tree / "red2")  # a copy scores exactly 1
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    from desktop_app.core.engine import Engine

    real = Engine.similar

    def rounder_scores(self, *args, **kwargs):  # scores that print short as floats: 1.0, 0.943
        out = real(self, *args, **kwargs)
        out.hits[0].score, out.hits[1].score = 1.0, 0.943
        return out

    monkeypatch.setattr(Engine, "similar", rounder_scores)
    code, out, err = run_main(capsys, "similar", "red", "--db", db)
    assert code == 0, err
    scores = [line.split()[1] for line in out.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert scores[:2] == ["1.0000", "0.9430"] and len(scores) >= 3, out
    assert all(re.fullmatch(r"-?\d\.\d{4}", s) for s in scores), scores
    code, out, err = run_main(capsys, "inspect", "red", "red2", "--db", db)
    assert code == 0, err
    shown = re.findall(r" score (\S+)", out)
    assert shown and all(re.fullmatch(r"-?\d\.\d{4}", s) for s in shown), out
    code, out, err = run_main(capsys, "inspect", "red", "green", "--db", db, "--threshold", "0.99")
    assert "[below s]" in out and not CODE.search(out.split("col 1", 1)[1]), out
    code, out, err = run_main(capsys, "similar", "red", "--db", db, "--json")
    assert json_scores(out)[:2] == [1.0, 0.943]  # JSON stays numeric


def json_scores(out: str) -> list[float]:
    import json

    return [h["score"] for h in json.loads(out)["hits"]]


def test_the_top_level_help_names_every_catalog_subcommand(capsys):
    with pytest.raises(SystemExit):
        run_main(capsys, "--help")
    out = " ".join(capsys.readouterr().out.split())
    line = out.split(" catalog ", 1)[1].split(" gui ", 1)[0]
    assert all(word in line for word in ("check", "recover", "copy", "photos are on this machine")), line


def test_python_m_desktop_app_cli_is_the_lookalike_command(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", "--version"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lookalike "), proc.stderr
