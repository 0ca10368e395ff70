"""Faults a curator can meet: no hang, no silent loss, no traceback. Each test reproduces one fault for real
(a FIFO, a full filesystem, a second process holding the catalog, a damaged file, hostile input)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import DiskFull, ModelError
from desktop_app.core.images import DECODE_BUDGET, PhotoError, read_bytes
from desktop_app.core.storage import Catalog
from tests.conftest import IS_ROOT, REPO, cli, make_tiny_model, one_line_exit_2, run_unprivileged, write_photo


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    return db


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "256k"):
    """A real tmpfs of `size` mounted on folder (root only); skips the test where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill a filesystem to the last byte."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)


# ============================================================================ hangs and silent loss


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_device_in_the_photo_tree_is_skipped_not_waited_for(tmp_path, photo_tree, tiny_model):
    os.mkfifo(photo_tree / "red" / "y.jpg")
    (photo_tree / "green" / "zero.jpg").symlink_to("/dev/zero")
    home = tmp_path / "home"
    db = tmp_path / "c.sqlite"
    proc = cli(
        "index", photo_tree, "--db", db, "--model", tiny_model.manifest_path, "--json", home=home, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    skipped = {f["path"]: f["reason"] for f in summary["skipped_files"]}
    assert skipped == {"red/y.jpg": "not_a_file", "green/zero.jpg": "not_a_file"} and summary["embedded"] == 7
    again = json.loads(cli("index", photo_tree, "--db", db, "--json", home=home).stdout)
    assert again["unchanged"] == 7 and again["embedded"] == 0
    one_line_exit_2(
        cli("similar", "--image", photo_tree / "red" / "y.jpg", "--db", db, home=home, timeout=60),
        "named pipe",
    )
    with pytest.raises(PhotoError, match="character device"):
        read_bytes(photo_tree / "green" / "zero.jpg")


def test_huge_files_are_refused_before_they_are_read(tmp_path):
    sparse = tmp_path / "huge.tif"
    with open(sparse, "wb") as fh:
        fh.truncate(3 * 1024**3)  # 3 GB of holes: reading it would take 3 GB of memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(PhotoError, match="over the limit") as err:
        read_bytes(sparse)
    assert err.value.reason == "too_big"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB: nothing was read


def test_big_decodes_share_one_memory_budget(tmp_path, tiny_model, monkeypatch):
    from PIL import Image

    from desktop_app.core.images import preprocess

    paths = []
    for i in range(6):  # 2000x2000 RGBA: small files, 48 MB each at the decode's peak estimate
        path = tmp_path / f"big{i}.png"
        Image.new("RGBA", (2000, 2000), (i * 40, 90, 200, 128)).save(path)
        paths.append(path)
    monkeypatch.setattr(DECODE_BUDGET, "capacity", 100 * 1024 * 1024)
    monkeypatch.setattr(DECODE_BUDGET, "peak", 0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda p: preprocess(read_bytes(p), tiny_model.manifest), paths))
    assert 0 < DECODE_BUDGET.peak <= 100 * 1024 * 1024  # never more than two at once
    assert DECODE_BUDGET.used == 0


def test_two_names_that_printed_alike_are_both_indexed(tmp_path, tiny_model):
    root = tmp_path / "photos"
    write_photo(root / "a" / "p0.jpg", seed=1)
    literal = root / "a" / "x\\xe9.jpg"  # a backslash, an x, an e and a 9
    write_photo(literal, seed=2)
    latin1 = os.fsencode(root / "a") + b"/x\xe9.jpg"  # one byte 0xe9: not UTF-8
    write_photo(Path(os.fsdecode(latin1)), seed=3)
    db = tmp_path / "c.sqlite"
    for _ in range(2):
        summary = index_photos(db, root, model=tiny_model)
        assert summary.skipped == {}
    with Catalog(db) as cat:
        assert len({r.path for r in cat.photo_rows()}) == 3  # each with its own stored path (test_scan_names)


def test_an_export_on_a_full_disk_keeps_the_previous_file(indexed, tmp_path):
    out = tmp_path / "full"
    with small_filesystem(out):
        with Engine.open(indexed) as engine:
            engine.set_labels(["red"], "category", "x" * 100)
            target = out / "labels.csv"
            assert engine.export_labels(target) == 1
            old = target.read_bytes()
            engine.set_labels(["green", "shoes/blue"], "category", "y" * 100_000)
            fill(out)
            with pytest.raises(DiskFull, match="full"):
                engine.export_labels(target)
            assert target.read_bytes() == old  # not cut mid-row
            assert sorted(p.name for p in out.iterdir()) == ["filler", "labels.csv"]  # no temporary left
        proc = cli("labels", "export", target, "--db", indexed, home=tmp_path / "home")
        one_line_exit_2(proc, "is full")


# ============================================================================ damage that goes unnoticed


def test_a_damaged_catalog_is_refused_for_writing_and_recovered_into_a_new_file(tmp_path, sample_copy):
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    db = tmp_path / "c.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with Engine.open(db) as engine:
        engine.set_labels(engine.catalog.article_keys()[:5], "category", "tops")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with open(db, "r+b") as fh:  # 4 KB of garbage in the middle of the file
        fh.seek(size // 2 // 16384 * 16384)  # a page boundary: the page header is destroyed too
        fh.write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    damaged = checksum(db)
    home = tmp_path / "home"
    refused = cli("labels", "set", "mh01-gray", "--value", "x", "--db", db, home=home)
    one_line_exit_2(refused, "catalog recover")
    check = cli("catalog", "check", "--db", db, home=home)
    one_line_exit_2(check, "catalog recover")  # damage found is the user's to act on, not a bug of ours
    told = {
        re.search(r"lookalike catalog recover (--db \S+ NEW\.sqlite|NEW\.sqlite --db \S+)", p.stderr).group(0)
        for p in (refused, check)
    }
    assert told == {f"lookalike catalog recover --db {db} NEW.sqlite"}  # one command, one argument order
    assert "damaged" in check.stdout
    fixed = tmp_path / "fixed.sqlite"
    rec = cli("catalog", "recover", fixed, "--db", db, "--json", home=home)
    assert rec.returncode == 0, rec.stderr
    report = json.loads(rec.stdout)
    assert report["integrity"] == "ok" and report["rows"]["labels"] == 5
    assert checksum(db) == damaged  # never written in place
    assert cli("catalog", "check", "--db", fixed, home=home).returncode == 0
    stats = json.loads(cli("stats", "--db", fixed, "--json", home=home).stdout)
    assert 0 < stats["counts"]["photos"] <= 76
    # an index run puts back what was lost
    assert cli("index", sample_copy, "--db", fixed, home=home).returncode == 0
    assert json.loads(cli("stats", "--db", fixed, "--json", home=home).stdout)["counts"]["photos"] == 76


def test_files_that_are_not_our_catalogs_are_left_byte_identical(tmp_path, indexed, photo_tree):
    home = tmp_path / "home"
    newer = tmp_path / "newer.sqlite"
    newer.write_bytes(indexed.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for db, needle in (
        (newer, "newer Lookalike"),
        (foreign, "not a Lookalike catalog"),
        (empty, "empty file"),
    ):
        before = checksum(db)
        for args in (
            ("stats",),
            ("labels", "set", "red", "--value", "x"),
            ("similar", "--article", "red"),
            ("index", photo_tree),
        ):
            one_line_exit_2(cli(*args, "--db", db, home=home), needle)
        assert checksum(db) == before and not Path(f"{db}-wal").exists()


def test_what_a_file_holds_is_identified_without_writing_to_it(tmp_path, indexed, monkeypatch):
    from desktop_app.core.storage import identify, sqlite

    def seen(path) -> tuple[str, str]:
        found = identify(path)
        return found.kind, found.detail

    assert seen(tmp_path / "nothing.sqlite") == ("missing", "")
    assert seen(tmp_path) == ("foreign", "it is a folder")
    text = tmp_path / "notes.sqlite"
    text.write_text("shopping list")
    assert seen(text) == ("foreign", "it is not an SQLite database")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert seen(other) == ("foreign", "it has no Lookalike tables")
    found = identify(indexed)
    assert found.kind == "catalog" and found.schema_version and found.written_by.startswith("lookalike")
    # A writer holding the whole file (a rollback journal, not the WAL): only a catalog is opened so.
    locked = tmp_path / "locked.sqlite"
    locked.write_bytes(indexed.read_bytes())
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert seen(locked) == ("catalog", "busy")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("version", ["3.1", None])
def test_a_bad_schema_version_is_one_line(tmp_path, indexed, version):
    with contextlib.closing(sqlite3.connect(indexed)) as conn, conn:
        if version is None:
            conn.execute("DELETE FROM meta WHERE key = 'schema_version'")
        else:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    assert not Path(f"{indexed}-wal").exists()  # closed cleanly: SQLite removed its side files
    before = checksum(indexed)
    for args in (("stats",), ("labels", "set", "red", "--value", "x")):
        one_line_exit_2(cli(*args, "--db", indexed, home=tmp_path / "home"), "schema version")
    # Refused and left as it was: no write-ahead log or shared memory left beside it either.
    assert checksum(indexed) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f"{indexed.name}-")] == []


# ============================================================================ one line, exit 2


def test_a_catalog_locked_by_another_program(tmp_path, indexed):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(60)",
            str(indexed),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_exit_2(
            cli("labels", "set", "red", "--value", "x", "--db", indexed, home=tmp_path / "h"), "busy"
        )
    finally:
        holder.kill()
        holder.wait()
    assert cli("labels", "set", "red", "--value", "x", "--db", indexed, home=tmp_path / "h").returncode == 0


@pytest.mark.skipif(not IS_ROOT or not hasattr(os, "fork"), reason="drops root in a forked child")
def test_a_read_only_catalog_file(open_dir, photo_tree, tiny_model, monkeypatch):
    monkeypatch.setenv("LOOKALIKE_HOME", str(open_dir / "home"))
    db = open_dir / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    for p in open_dir.rglob("*"):
        p.chmod(0o555 if p.is_dir() else 0o444)  # readable by everyone, writable by no one

    def label() -> int:
        return main(["labels", "set", "red", "--value", "x", "--db", str(db)])

    status, code = run_unprivileged(label)
    assert (status, code) == ("ok", 2)
    status, stats = run_unprivileged(lambda: Engine.open(db, remember=False).stats()["counts"]["photos"])
    assert (status, stats) == ("ok", 7)  # reading still works


def test_csv_files_in_other_encodings_or_malformed(tmp_path, indexed):
    home = tmp_path / "home"
    cases = {
        "latin1.csv": ("article,label\nred,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        "utf16.csv": ("article,label\nred,x\n".encode("utf-16"), "UTF-16"),
        "binary.csv": (bytes(range(256)) * 4, "binary"),
        "huge.csv": (b'article,label\nred,"' + b"x" * 200_000 + b'"\n', "not a readable CSV"),
    }
    for name, (data, needle) in cases.items():
        (tmp_path / name).write_bytes(data)
        one_line_exit_2(cli("labels", "import", "--csv", tmp_path / name, "--db", indexed, home=home), needle)
    groups = tmp_path / "latin1.csv"
    one_line_exit_2(cli("evaluate", "--groups", groups, "--db", indexed, home=home), "not UTF-8")


def test_bad_model_manifests(tmp_path, photo_tree):
    from desktop_app.core.models import load_manifest

    good = make_tiny_model(tmp_path / "m")
    data = json.loads(good.manifest_path.read_text())
    cases = {
        "list": ([data], "JSON object"),
        "nan": ({**data, "mean": [float("nan")] * 3, "std": [0, 0, 0]}, "std above 0"),
        "escape": ({**data, "file": "../../../../etc/passwd"}, "plain file name"),
        # each malformed field is named, with what was expected
        "size": (
            {**data, "input_size": 224},
            "input_size must be two whole numbers [height, width], not 224",
        ),
        "mean": ({**data, "mean": "0.5"}, "mean must be three numbers"),
        "dim": ({**data, "dim": "512"}, "dim must be a whole number"),
        "name": ({**data, "name": 7}, "name must be a text"),
        "missing": ({k: v for k, v in data.items() if k != "output_name"}, "no output_name field"),
        "text": (
            {
                **data,
                "text": {
                    "file": "t.onnx",
                    "sha256": "",
                    "tokenizer": "t.json",
                    "tokenizer_sha256": "",
                    "context_length": [77],
                },
            },
            "context_length must be a whole number",
        ),
    }
    home = tmp_path / "home"
    for name, (content, needle) in cases.items():
        path = tmp_path / "m" / f"{name}.manifest.json"
        path.write_text(json.dumps(content))
        with pytest.raises(ModelError, match=re.escape(needle)):
            load_manifest(path)
        proc = cli("index", photo_tree, "--db", tmp_path / f"{name}.sqlite", "--model", path, home=home)
        one_line_exit_2(proc, needle)
        assert not (tmp_path / f"{name}.sqlite").exists()


def test_a_model_with_external_weights_is_imported_whole(tmp_path):
    import onnx

    from desktop_app.core.encoder import Encoder
    from desktop_app.core.model_files import external_data_files
    from desktop_app.core.zoo import import_model

    src = make_tiny_model(tmp_path / "src", name="ext-model")
    model = onnx.load(src.onnx_path)
    onnx.save(
        model,
        src.onnx_path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext-model.onnx.data",
        size_threshold=0,
    )
    assert external_data_files(src.onnx_path) == ["ext-model.onnx.data"]
    manifest = src.manifest_path
    data = json.loads(manifest.read_text())
    data["sha256"] = hashlib.sha256(src.onnx_path.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(data))
    installed = import_model(src.onnx_path, manifest)
    assert (installed.onnx_path.parent / "ext-model.onnx.data").is_file()
    vec = Encoder(installed).encode(np.zeros((1, 3, 32, 32), np.float32))
    assert vec.shape == (1, 8) and np.isfinite(vec).all()
    (src.onnx_path.parent / "ext-model.onnx.data").unlink()
    with pytest.raises(ModelError, match="not beside it"):
        import_model(src.onnx_path, manifest, name="ext-two")


# ============================================================================ hostile input


def test_label_exports_are_safe_in_spreadsheets(indexed, tmp_path):
    evil = ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", '=HYPERLINK("http://x")', "+1", "-1", "\tx"]
    with Engine.open(indexed) as engine:
        engine.set_label_items(
            [(a, f"f{i}", v) for i, v in enumerate(evil) for a in ["red"]], "manual", "set"
        )
        engine.export_labels(tmp_path / "safe.csv")
        engine.export_labels(tmp_path / "raw.csv", raw=True)
    import csv

    safe = [r["label"] for r in csv.DictReader(open(tmp_path / "safe.csv", encoding="utf-8"))]
    raw = [r["label"] for r in csv.DictReader(open(tmp_path / "raw.csv", encoding="utf-8"))]
    assert sorted(raw) == sorted(evil)
    assert all(v.startswith("'") for v in safe) and sorted(v[1:] for v in safe) == sorted(evil)


def test_escape_sequences_are_not_sent_to_the_terminal(tmp_path, photo_tree, tiny_model):
    os.rename(photo_tree / "green", photo_tree / "gr\x1b[31meen")
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    home = tmp_path / "home"
    with Engine.open(db) as engine:
        engine.set_labels(["red"], "category", "\x1b]0;pwned\x07")
    for args in (("similar", "--article", "red"), ("labels", "suggest"), ("stats",)):
        out = cli(*args, "--db", db, home=home).stdout
        assert "\x1b" not in out and "\x07" not in out, args
    assert "\\x1b[31m" in cli("similar", "--article", "red", "--db", db, home=home).stdout
    hits = json.loads(cli("similar", "--article", "red", "--db", db, "--json", home=home).stdout)["hits"]
    assert "gr\x1b[31meen" in [h["article"] for h in hits]  # JSON stays exact


# ============================================================================ small


def test_stats_counts_the_write_ahead_log(indexed):
    with Engine.open(indexed) as engine:
        engine.set_labels(["red"], "category", "x")
        wal = Path(f"{indexed}-wal")
        assert wal.exists() and engine.stats()["size_bytes"] == indexed.stat().st_size + wal.stat().st_size


# Every way onnxruntime gets loaded: an encoder, and the graph index of a large catalog's vector store (which
# loads it first for another reason, see `ann.usearch_index`).
LOADS_ONNXRUNTIME = {
    "encoder": "from desktop_app.core.encoder import Encoder\nfrom desktop_app.core.models import load_manifest\n"
    "import numpy as np, sys\nEncoder(load_manifest(sys.argv[1])).encode(np.zeros((1, 3, 32, 32), np.float32))\n",
    "graph index": "from desktop_app.core.ann import usearch_index\nusearch_index()\n",
}


@pytest.mark.parametrize("code", LOADS_ONNXRUNTIME.values(), ids=LOADS_ONNXRUNTIME.keys())
def test_the_encoder_writes_nothing_outside_our_folders(tmp_path, tiny_model, code):
    home = tmp_path / "user-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "XDG_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model.manifest_path)],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(home)},
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(home.rglob("*")) == []


def test_a_full_disk_under_the_catalog_says_so(tmp_path, indexed):
    folder = tmp_path / "small"
    with small_filesystem(folder, "2m"):
        db = folder / "c.sqlite"
        db.write_bytes(indexed.read_bytes())
        fill(folder)
        home = tmp_path / "home"
        one_line_exit_2(cli("labels", "set", "red", "--value", "x" * 50_000, "--db", db, home=home), "full")
        stats = cli("stats", "--db", db, home=home)
        assert stats.returncode == 0 or "full" in stats.stderr, stats.stderr
