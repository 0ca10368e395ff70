"""Files the user hands us (CSVs, model manifests, tokenizers, the settings file) are read bounded: a device
such as /dev/zero, a FIFO nobody writes to or an endless pipe never hangs a command or fills memory, and a
manifest given with --model is checked as `models import` checks it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from desktop_app.core.errors import InputError, ModelError
from desktop_app.core.files import read_input
from desktop_app.core.storage import Catalog
from tests.conftest import REPO, cli, make_tiny_model, one_line_exit_2

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")

# Enough address space for the CLI (numpy, onnxruntime, SQLite), far from what reading /dev/zero whole takes:
# a command that reads without bound dies with MemoryError here instead of taking the machine's memory.
ADDRESS_SPACE = 4 * 1024**3


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def cli_bounded(*args, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """`lookalike ARGS` in a child process whose memory is capped."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "LOOKALIKE_HOME": str(home)},
        cwd=REPO,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )


@pytest.fixture
def indexed(tmp_path, photo_tree, tiny_model):
    from desktop_app.core.engine import index_photos

    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    return db


def test_a_device_given_as_an_input_file_is_refused_not_read(tmp_path, indexed, photo_tree, tiny_model):
    zero_csv = tmp_path / "zero.csv"
    zero_csv.symlink_to("/dev/zero")
    zero_manifest = tmp_path / "z.manifest.json"
    zero_manifest.symlink_to("/dev/zero")
    home = tmp_path / "home"
    for args in (
        ("labels", "import", "--csv", zero_csv, "--db", indexed),
        ("decide", "--import", zero_csv, "--db", indexed),
        ("evaluate", "--groups", zero_csv, "--db", indexed),
        ("adapt", "train", "--groups", zero_csv, "--db", indexed),
        ("index", photo_tree, "--db", tmp_path / "new.sqlite", "--model", zero_manifest),
        ("models", "import", tiny_model.onnx_path, "--manifest", zero_manifest),
    ):
        one_line_exit_2(cli_bounded(*args, home=home), "character device")
    assert not (tmp_path / "new.sqlite").exists()


def test_a_fifo_input_is_read_when_written_and_refused_when_nobody_writes(tmp_path, indexed, monkeypatch):
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("article,label\nred,warm\n"))
    writer.start()  # as a shell's `> fifo &`: the writer waits for the reader to open the pipe
    home = tmp_path / "home"
    proc = cli("labels", "import", "--csv", fifo, "--db", indexed, home=home, timeout=60)
    writer.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    with Catalog(indexed) as cat:
        assert cat.labels_with_source()[0]["value"] == "warm"
    # nobody writes: refused after the wait, not waited for for ever
    monkeypatch.setattr("desktop_app.core.files.PIPE_WAIT_S", 0.3)
    with pytest.raises(InputError, match="Nothing was written to the pipe"):
        read_input(fifo, "labels file", 1 << 20)


def test_an_endless_pipe_is_cut_at_the_limit(tmp_path):
    fifo = tmp_path / "endless.csv"
    os.mkfifo(fifo)
    feeder = subprocess.Popen(["sh", "-c", f"yes article,label > '{fifo}'"], stderr=subprocess.DEVNULL)
    try:
        with pytest.raises(InputError, match="over 1 MB"):
            read_input(fifo, "labels file", 1_000_000)  # limits are decimal, as every size printed
    finally:
        feeder.kill()
        feeder.wait()


def test_a_fifo_or_device_as_the_settings_file_does_not_hang_any_command(tmp_path, indexed):
    for name, make in (("fifo", os.mkfifo), ("zero", lambda p: p.symlink_to("/dev/zero"))):
        home = tmp_path / name
        home.mkdir()
        make(home / "settings.json")
        proc = cli_bounded("stats", "--db", indexed, "--json", home=home, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["counts"]["photos"] == 7


def test_a_tokenizer_that_is_a_device_is_refused(tmp_path):
    zero = tmp_path / "t.tokenizer.json"
    zero.symlink_to("/dev/zero")
    code = (
        "import sys\nfrom desktop_app.core.errors import ModelError\n"
        "from desktop_app.core.text_encoder import ClipTokenizer\n"
        "try:\n    ClipTokenizer(sys.argv[1], 77)\nexcept ModelError as exc:\n    print(exc)\n"
    )
    proc = (
        subprocess.run(  # in a child with capped memory: a tokenizer library reading it whole would not stop
            [sys.executable, "-c", code, str(zero)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            preexec_fn=_limit_memory,
        )
    )
    assert proc.returncode == 0 and "character device" in proc.stdout, proc.stderr


# ============================================================================ manifests given with --model


def test_a_manifest_given_with_model_is_checked_like_an_import(tmp_path, photo_tree):
    from desktop_app.core.models import load_manifest

    good = make_tiny_model(tmp_path / "m")
    data = json.loads(good.manifest_path.read_text())
    cases = {
        "escape": ({**data, "name": "x\u001b[2Jy"}, "not a usable model name"),
        "path": ({**data, "name": "../../evil"}, "not a usable model name"),
        "sha": ({**data, "sha256": "abc"}, "sha256 must be 64 lower-case hex digits"),
        "interpolation": ({**data, "interpolation": "lanczos9"}, "Unknown interpolation 'lanczos9'"),
    }
    home = tmp_path / "home"
    for name, (content, needle) in cases.items():
        path = tmp_path / "m" / f"{name}.manifest.json"
        path.write_text(json.dumps(content))
        with pytest.raises(ModelError, match=needle.replace("[", r"\[")):
            load_manifest(path)
        proc = cli("index", photo_tree, "--db", tmp_path / f"{name}.sqlite", "--model", path, home=home)
        one_line_exit_2(proc, needle)
        assert "\x1b" not in proc.stderr
    deep = tmp_path / "m" / "deep.manifest.json"
    deep.write_text("[" * 100_000)
    one_line_exit_2(
        cli("index", photo_tree, "--db", tmp_path / "d.sqlite", "--model", deep, home=home), "nested"
    )
