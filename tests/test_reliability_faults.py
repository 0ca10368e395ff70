"""More faults a curator can meet, each reproduced for real: full disks under the catalog, the models folder
and a copy's destination; a copy killed half-way; damage reports; hostile text in exports and on the
terminal; malformed import files."""

from __future__ import annotations

import os

import pytest

from desktop_app.core.errors import DiskFull
from desktop_app.core.files import copy_file
from tests.conftest import cli, make_tiny_model, one_line_exit_2, run_main, write_photo
from tests.test_reliability import fill, small_filesystem


def test_index_on_a_filling_disk_says_full_at_every_size(tmp_path, photo_tree, tiny_model, capsys):
    """From no room at all up to room enough, every run either works or says the disk is full in one line;
    the lock's first write (a catalog that was copied or recovered has no lock file yet) used to be a
    traceback."""
    from desktop_app.core.engine import index_photos

    folder = tmp_path / "small"
    with small_filesystem(folder, "12m"):
        db = folder / "c.sqlite"
        index_photos(db, photo_tree, model=tiny_model)
        os.unlink(f"{db}.index-lock")
        write_photo(photo_tree / "new" / "n.jpg", seed=9)  # work for the next run
        fill(folder)
        filler = folder / "filler"
        size = filler.stat().st_size
        seen = set()
        for free_pages in range(0, 64):
            os.truncate(filler, size - free_pages * 4096)
            code, _, err = run_main(
                capsys, "index", photo_tree, "--db", db, "--model", tiny_model.manifest_path
            )
            if code == 0:
                break
            assert code == 2 and err.count("\n") == 1 and "is full" in err, err
            seen.add(err.split("full", 1)[1])
        assert code == 0
        assert len(seen) >= 2  # it failed at more than one step (opening, the lock, writing) before it worked


def test_a_model_import_on_a_full_disk_keeps_the_installed_model(tmp_path):
    """`models import` on a full disk: one line, no partial file, and an older model of that name is still
    installed whole (its manifest used to be removed before the new file was copied)."""
    import hashlib
    import json

    old = make_tiny_model(tmp_path / "old", name="shop-model", seed=0)
    new = make_tiny_model(tmp_path / "new", name="shop-model", seed=1)
    home = tmp_path / "home"
    with small_filesystem(home, "512k"):
        assert cli("models", "import", old.onnx_path, home=home).returncode == 0
        fill(home)
        for extra in (("--force",), ("--name", "another")):
            proc = cli("models", "import", new.onnx_path, *extra, home=home)
            one_line_exit_2(proc, "is full")
        with pytest.raises(DiskFull, match="is full"):  # what copies a CLIP model's text side
            copy_file(new.onnx_path, home / "models" / "shop-model" / "text.onnx")
        (home / "filler").unlink()
        assert not [p.name for p in home.rglob("*") if ".partial" in p.name or p.name == "another"]
        listed = json.loads(cli("models", "list", "--json", home=home).stdout)
        mine = [m for m in listed["models"] if m["name"] == "shop-model" and not m["problem"]]
        onnx = home / "models" / "shop-model" / "shop-model.onnx"
        assert (
            len(mine) == 1
            and hashlib.sha256(onnx.read_bytes()).hexdigest()
            == hashlib.sha256(old.onnx_path.read_bytes()).hexdigest()
        )
        # with room again the same import works
        assert cli("models", "import", new.onnx_path, "--force", home=home).returncode == 0
