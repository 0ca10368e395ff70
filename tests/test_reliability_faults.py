"""More faults a curator can meet, each reproduced for real: full disks under the catalog, the models folder
and a copy's destination; a copy killed half-way; damage reports; hostile text in exports and on the
terminal; malformed import files."""

from __future__ import annotations

import os

from tests.conftest import run_main, write_photo
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
