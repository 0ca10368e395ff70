"""Rows per second of `decide --import` on a large file, with and without progress reporting.

A catalog of synthetic articles (no photos: decisions are about articles) gets a CSV of random pairs,
imported through the engine as `lookalike decide --import` does, into a fresh copy of the catalog each time
so every run writes every row. Then the same file again over the imported decisions (every pair unchanged:
the read side alone).

    python benchmarks/decisions_import.py                   # 120,000 rows over 40,000 articles
    python benchmarks/decisions_import.py --rows 20000      # quick look

Wall-clock figures include whatever else the machine is doing: the load average is printed with them, and
the with/without-progress runs alternate so that both see the same load.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_catalog(db: Path, n_articles: int) -> list[str]:
    from desktop_app.core.engine import Engine

    keys = [f"c{i // 10:05d}/a{i:06d}" for i in range(n_articles)]
    with Engine.open(db, create=True, remember=False) as engine:
        engine.catalog.sync_articles(keys)
    return keys


def make_csv(path: Path, keys: list[str], rows: int, seed: int) -> None:
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    kinds = ("same", "alike", "not_match")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("article_a,article_b,decision,note\n")
        while len(seen) < rows:
            a, b = rng.sample(keys, 2)
            pair = (a, b) if a < b else (b, a)
            if pair in seen:
                continue
            seen.add(pair)
            fh.write(f"{a},{b},{rng.choice(kinds)},{'checked' if rng.random() < 0.1 else ''}\n")


def timed_import(db: Path, csv: Path, with_progress: bool) -> tuple[float, int, int]:
    """(seconds, progress calls, rows written) of one import."""
    from desktop_app.core.engine import Engine

    calls = 0

    def progress(done: int, total: int, note: str) -> None:
        nonlocal calls
        calls += 1

    with Engine.open(db, remember=False) as engine:
        t0 = time.perf_counter()
        if with_progress:
            done = engine.import_decisions(csv, progress=progress)
        else:
            done = engine.import_decisions(csv)
        return time.perf_counter() - t0, calls, done.imported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=120_000, help="decisions in the file (default 120000)")
    parser.add_argument(
        "--articles", type=int, default=40_000, help="articles in the catalog (default 40000)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the pairs (default 0)")
    parser.add_argument(
        "--no-progress-arg",
        action="store_true",
        help="never pass a progress callback (for code that does not take one yet; default: alternate)",
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="decisions-import-"))
    os.environ.setdefault("LOOKALIKE_HOME", str(work / "home"))
    try:
        empty = work / "empty.sqlite"
        keys = make_catalog(empty, args.articles)
        csv = work / "decisions.csv"
        make_csv(csv, keys, args.rows, args.seed)
        print(f"{args.rows:,} rows over {args.articles:,} articles; load {os.getloadavg()[0]:.1f}")
        kinds = [False] if args.no_progress_arg else [False, True]
        for run in range(args.repeat):
            for with_progress in kinds:
                db = work / f"run-{run}-{with_progress}.sqlite"
                shutil.copy(empty, db)
                seconds, calls, written = timed_import(db, csv, with_progress)
                again, _, rewritten = timed_import(db, csv, with_progress)
                assert written == args.rows and rewritten == 0, (written, rewritten)
                print(
                    f"{'with' if with_progress else 'without'} progress: {args.rows / seconds:,.0f} rows/s "
                    f"({seconds:.2f} s, {calls} progress calls); the same file again (all unchanged) "
                    f"{args.rows / again:,.0f} rows/s ({again:.2f} s); load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                for f in work.glob(f"run-{run}-{with_progress}.sqlite*"):
                    f.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
