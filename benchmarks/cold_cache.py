"""Searches from a cold file cache, with and without reading the vector store ahead, measured in one run.

A large catalog's vector store (a million photos: 3.9 GB with its graph index) is memory-mapped; a search
reads a few thousand scattered rows and graph nodes of it. When the OS file cache does not hold the store
(after a restart, or after other work pushed it out), every search waits for the disk on its own rows. The
app's search process reads the store ahead in a background thread (`read_ahead.ReadAhead`). This evicts
the store's files from the cache (POSIX_FADV_DONTNEED: no privileges needed), then runs the same random
article queries for --seconds in a fresh process, once without and once with the read-ahead, and prints
the latency per 5-second window.

    python -m benchmarks.cold_cache --db CATALOG [--seconds 30]

e.g. on the million-photo catalog of gui_bench.py:
    python benchmarks/gui_bench.py --photos 1000000 --dir /tmp/gui1m
    python -m benchmarks.cold_cache --db /tmp/gui1m/catalog.sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

WINDOW_S = 5.0


def evict(folder: Path) -> int:
    """Drop the store's pages from the OS file cache; returns the bytes asked for."""
    total = 0
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                total += f.stat().st_size
            finally:
                os.close(fd)
    return total


def child(db: Path, seconds: float, read_ahead: bool) -> None:
    """Runs in a fresh interpreter: open, then random article queries until `seconds` have passed."""
    import random
    import time

    from desktop_app.core.engine import Engine
    from desktop_app.core.similar import Query

    t0 = time.perf_counter()
    engine = Engine.open(db, remember=False)
    engine.read_ahead_stores = read_ahead
    keys = engine.catalog.article_keys()
    rng = random.Random(7)
    out = []
    while time.perf_counter() - t0 < seconds:
        start = time.perf_counter()
        engine.similar(Query.of_articles(rng.choice(keys)))
        out.append((start - t0, (time.perf_counter() - start) * 1e3))
    warm = engine._read_ahead
    done = warm is not None and warm.done.is_set()
    print(json.dumps({"queries": out, "read_ahead": warm is not None, "read_ahead_done": done}))
    engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--child", choices=["off", "on"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", str(args.db.parent / "home"))
    if args.child:
        child(args.db, args.seconds, args.child == "on")
        return
    import numpy as np

    folder = Path(f"{args.db}.vectors")
    print(
        f"{args.db}: store {sum(f.stat().st_size for f in folder.rglob('*') if f.is_file()) / 1e9:.2f} GB; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for mode in ("off", "on"):
        evict(folder)
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.cold_cache",
            "--db",
            str(args.db),
            "--seconds",
            str(args.seconds),
            "--child",
            mode,
        ]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        q = res["queries"]
        windows = []
        for w0 in np.arange(0, args.seconds, WINDOW_S):
            lat = [ms for t, ms in q[1:] if w0 <= t < w0 + WINDOW_S]  # the first search also loads: left out
            windows.append(f"{np.median(lat):4.0f}" if lat else "   -")
        first = q[0][1] if q else float("nan")
        print(
            f"  read-ahead {mode:<3}  first search {first:5.0f} ms; then p50 per {WINDOW_S:g} s: "
            f"{' '.join(windows)} ms; {len(q)} searches"
            + ("; read-ahead finished" if res["read_ahead_done"] else "")
        )


if __name__ == "__main__":
    main()
