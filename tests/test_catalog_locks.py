"""One process with a catalog open twice must keep its SQLite locks: another process closing its last
connection must not delete the WAL under it (POSIX locks vanish when any descriptor of the file closes)."""

from __future__ import annotations

import multiprocessing as mp

from desktop_app.core.storage import Catalog


def _write_and_close(path: str) -> None:
    with Catalog(path, create=False) as other:
        other.write_raw_settings({"from_other_process": 1})


def test_a_second_catalog_in_one_process_keeps_the_first_ones_view_fresh(tmp_path):
    db = tmp_path / "c.sqlite"
    first = Catalog(db, create=True)
    try:
        assert "from_other_process" not in first.raw_settings()  # connections are open and pooled now
        second = Catalog(db, create=False)  # identifies the file again in this process
        second.close()
        proc = mp.get_context("spawn").Process(target=_write_and_close, args=(str(db),))
        proc.start()
        proc.join(60)
        assert proc.exitcode == 0
        assert (
            tmp_path / "c.sqlite-shm"
        ).exists()  # still shared: the other process did not think it was last
        assert first.raw_settings()["from_other_process"] == 1  # and what it wrote is seen, not a stale file
        assert first.health() == ["ok"]
    finally:
        first.close()
