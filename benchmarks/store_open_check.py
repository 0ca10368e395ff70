"""What the vector store's file check costs at open: stat stamps that match, against no stamps at all.

Takes an existing store folder (e.g. the million-photo one `search_latency.py --store /tmp/scale` builds,
under `<catalog>.vectors/<model key>/`), works on a copy of it made of hard links (its data files are only
read; only the copy's own state.json is written), and times, best of --repeat:

- `VectorStore.open()` with the state as the store was written before stamps (the check is then sizes and
  the metadata's headers only, as before),
- stamping the files once (what a sync adds after rewriting them; a store made before stamps gets this once),
- stamping after an append (vectors and centroids grow in place: their earlier blocks keep their CRCs),
- `VectorStore.open()` with matching stamps (a stat per file more),
- the check when one file's stamp no longer matches (a folder copied or restored): the vectors file's
  blocks are read and compared instead of rebuilding.

    python benchmarks/store_open_check.py /tmp/scale/catalog.sqlite.vectors/49c4c670933edd17
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.vector_store import VectorStore  # noqa: E402
from desktop_app.core.vector_store_check import check_files, stamp_files  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def linked_copy(folder: Path, into: Path) -> Path:
    """The store's files as hard links (never written through), its state.json a real copy without stamps."""
    copy = into / "store"
    copy.mkdir()
    for f in folder.iterdir():
        if f.name != "state.json":
            os.link(f, copy / f.name)
    state = json.loads((folder / "state.json").read_text())
    state.pop("files", None)
    (copy / "state.json").write_text(json.dumps(state))
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="a vector store folder (the one holding state.json)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs of each, the best is shown (default 5)"
    )
    args = parser.parse_args(argv)
    # Hard links need the same file system: the temporary folder goes beside the store's own folder.
    work = Path(tempfile.mkdtemp(prefix=".store-open-check-", dir=args.folder.parent))
    try:
        folder = linked_copy(args.folder, work)
        store = VectorStore(folder)
        state = store.state()
        size = sum((folder / n).stat().st_size for n in os.listdir(folder))
        print(
            f"{state['n']:,} photos, D = {state['dim']}, {size / 2**30:.2f} GiB; load {os.getloadavg()[0]:.1f}"
        )
        legacy = best(lambda: store.open(), args.repeat)
        print(f"open, no stamps (as before):    {legacy * 1000:8.1f} ms")
        t0 = time.perf_counter()
        stamped = dict(state, files=stamp_files(folder, state))
        print(f"stamping the files once:        {(time.perf_counter() - t0) * 1000:8.1f} ms")
        store._write_state(stamped)
        after_append = dict(
            stamped,
            files={k: v for k, v in stamped["files"].items() if k in (state["vectors"], state["centroids"])},
        )
        t0 = time.perf_counter()
        stamp_files(folder, after_append)
        print(
            f"stamping after an append:       {(time.perf_counter() - t0) * 1000:8.1f} ms "
            "(vectors and centroids: their last block; metadata and graph: whole, they are new files)"
        )
        now = best(lambda: store.open(), args.repeat)
        check = best(lambda: check_files(folder, stamped), args.repeat)
        print(
            f"open, stamps match:             {now * 1000:8.1f} ms (of which the file check {check * 1000:.2f} ms)"
        )
        stale = json.loads(json.dumps(stamped))
        stale["files"][state["vectors"]]["stat"][1] -= 1  # as if the file had been copied or touched
        t0 = time.perf_counter()
        damage = check_files(folder, stale)
        print(
            f"check, the vectors file's stamp changed: {(time.perf_counter() - t0) * 1000:8.1f} ms "
            f"(its blocks read and compared; whole: {damage.touched == [state['vectors']] and not damage})"
        )
        print(f"load {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
