"""Files written where the user says: a symlink is followed, a device or FIFO is refused, modes are those of an
ordinary file, a missing folder is refused (catalogs too), and CSV cells survive an export and import."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import InputError
from desktop_app.core.files import check_output_folder, check_output_path, write_text
from tests.conftest import REPO, cli, one_line_exit_2, run_unprivileged


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


def test_a_dash_names_standard_output_only_where_it_streams(indexed, tmp_path):
    """`decide --export -` wrote a file literally named '-'; only `labels export -` streams to stdout."""
    home = tmp_path / "home"  # the commands run in the repository's folder, where a '-' would appear
    one_line_exit_2(cli("decide", "--export", "-", "--db", indexed, home=home), "not to standard output")
    one_line_exit_2(cli("duplicates", "--csv", "-", "--db", indexed, home=home), "not to standard output")
    assert not (REPO / "-").exists()
    out = cli("labels", "export", "-", "--db", indexed, home=home)
    assert out.returncode == 0 and out.stdout.startswith("article") and not (REPO / "-").exists()


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


# ============================================================================ where catalogs are made


def test_a_new_catalog_in_a_missing_folder_is_refused_and_no_folder_is_made(indexed, photo_tree, tmp_path):
    home = tmp_path / "home"
    for args, missing in (
        (("index", photo_tree, "--db", tmp_path / "nope1" / "x.db"), tmp_path / "nope1"),
        (("catalog", "copy", indexed, tmp_path / "nope2" / "c.db"), tmp_path / "nope2"),
        (("catalog", "recover", tmp_path / "nope3" / "r.db", "--db", indexed), tmp_path / "nope3"),
    ):
        one_line_exit_2(cli(*args, home=home), "does not exist; create it first")
        assert not missing.exists()


def test_the_default_catalog_folder_is_made_by_the_app(photo_tree, tiny_model, tmp_path, monkeypatch):
    from desktop_app.core.paths import default_catalog_path

    monkeypatch.setenv(
        "LOOKALIKE_HOME", str(tmp_path / "fresh-home")
    )  # not made yet, nor its catalogs folder
    db = default_catalog_path(photo_tree)
    assert not db.parent.exists()
    index_photos(db, photo_tree, model=tiny_model)
    assert db.is_file()


def test_index_leaves_an_empty_file_as_it_is(photo_tree, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    home = tmp_path / "home"
    stats = cli("stats", "--db", empty, home=home)
    one_line_exit_2(stats, "is an empty file, not a Lookalike catalog; it was left untouched")
    index = cli("index", photo_tree, "--db", empty, home=home)
    one_line_exit_2(index, "is an empty file, not a Lookalike catalog; it was left untouched")
    assert index.stderr == stats.stderr
    source = tmp_path / "source.db"
    one_line_exit_2(cli("catalog", "copy", source, empty, home=home), "empty file")
    assert empty.stat().st_size == 0 and not Path(f"{empty}-wal").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_as_the_catalog_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    one_line_exit_2(cli("stats", "--db", fifo, home=tmp_path / "home", timeout=60), "not a regular file")


# ============================================================================ model export folder


def test_models_export_checks_its_out_folder_before_exporting(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    proc = cli("models", "export", tmp_path / "no-checkpoint", "--out", a_file / "m", home=tmp_path / "home")
    one_line_exit_2(proc, "is not a folder")
    assert "a-file" in proc.stderr


def test_models_export_to_a_folder_it_cannot_write_stops_at_once(open_dir):
    from desktop_app.cli import main

    read_only = open_dir / "ro2"
    read_only.mkdir()
    read_only.chmod(0o555)
    out = read_only / "m"
    status, code = run_unprivileged(
        lambda: main(["models", "export", "efficientnet-lite1", "--out", str(out)])
    )
    assert (status, code) == ("ok", 2) and not out.exists()
    assert run_unprivileged(lambda: check_output_folder(open_dir / "new" / "deeper"))[0] == "ok"
    status, message = run_unprivileged(lambda: check_output_folder(read_only))
    assert status == "error" and "No permission to write into" in message


# ============================================================================ CSV cells for spreadsheets


@pytest.fixture
def formula_catalog(tmp_path, tiny_model):
    """Articles whose ids a spreadsheet would run as formulas (folder names are article ids)."""
    from tests.conftest import write_photo

    root = tmp_path / "formula-photos"
    for i, name in enumerate(["=cmd", "+b", "plain"]):
        for j in range(2):
            write_photo(root / name / f"p{j}.jpg", (60 * i + 30, 90, 200 - 60 * i), seed=10 * i + j)
    db = tmp_path / "formula.sqlite"
    index_photos(db, root, model=tiny_model)
    return db


def test_inspect_csv_neutralises_formula_cells(formula_catalog, tmp_path):
    out = tmp_path / "matrix.csv"
    proc = cli("inspect", "=cmd", "+b", "--csv", out, "--db", formula_catalog, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "'=cmd \\ +b"
    assert rows[0][1:] == ["'+b/p0.jpg", "'+b/p1.jpg"]
    assert [r[0] for r in rows[1:]] == ["'=cmd/p0.jpg", "'=cmd/p1.jpg"]


def test_exported_labels_and_decisions_import_back_as_they_were(formula_catalog, tmp_path):
    home, db = tmp_path / "home", formula_catalog

    def run(*args) -> None:
        proc = cli(*args, "--db", db, home=home)
        assert proc.returncode == 0, proc.stderr

    run("labels", "set", "=cmd", "--value", "=SUM(1)")
    run("labels", "set", "+b", "--value", "'=quoted")  # a value that looks escaped already
    run("labels", "export", tmp_path / "labels.csv")
    assert {r["article"]: r["label"] for r in _read(tmp_path / "labels.csv")} == {
        "'=cmd": "'=SUM(1)",
        "'+b": "''=quoted",
    }
    run("labels", "set", "=cmd", "+b", "--value", "changed")
    run("labels", "import", "--csv", tmp_path / "labels.csv")
    with Engine.open(db, remember=False) as engine:
        assert engine.labels() == {"=cmd": {"category": "=SUM(1)"}, "+b": {"category": "'=quoted"}}

    run("decide", "=cmd", "+b", "--same")
    run("decide", "--export", tmp_path / "decisions.csv")
    assert _read(tmp_path / "decisions.csv")[0]["article_a"].startswith("'")
    run("decide", "=cmd", "+b", "--clear")
    run("decide", "--import", tmp_path / "decisions.csv")
    listed = cli("decide", "--list", "--json", "--db", db, home=home)
    assert listed.returncode == 0, listed.stderr
    decided = [({d["article_a"], d["article_b"]}, d["decision"]) for d in json.loads(listed.stdout)]
    assert decided == [({"=cmd", "+b"}, "same")]


def test_spreadsheet_escaping_round_trips_exactly():
    from desktop_app.core.files import spreadsheet_safe, spreadsheet_value

    for value in ["=cmd", "+1", "-1", "@x", "\tx", "\rx", "'=x", "''@x", "plain", "'plain", "", "'", "a=b"]:
        assert spreadsheet_value(spreadsheet_safe(value)) == value
    assert spreadsheet_value("'plain") == "'plain"  # a curator's own apostrophe is kept


@pytest.mark.parametrize(
    "first",
    ["sep=;", "SEP=;", '"sep=;"', "sep=;\r", "sep=\t"],
    ids=["plain", "upper", "quoted", "crlf", "tab"],
)
def test_an_excel_sep_line_names_the_separator_and_is_no_header(tmp_path, first):
    from desktop_app.core.files import read_csv

    path = tmp_path / "labels.csv"
    sep = first.strip('"\r')[-1]
    path.write_bytes(f"\ufeff{first}\nArticle{sep}Label\nred{sep}tops, summer\n".encode())
    assert read_csv(path) == (["article", "label"], [{"article": "red", "label": "tops, summer"}])


def test_a_decisions_file_saved_by_excel_with_its_sep_line_imports(indexed, tmp_path):
    path = tmp_path / "decisions.csv"
    path.write_text("sep=,\narticle_a,article_b,decision\nred,green,not a match\n")
    with Engine.open(indexed) as engine:
        assert engine.import_decisions(path).imported == 1
