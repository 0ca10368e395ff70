"""How long the similar panel waits for its "same shot" badges: `Engine.photo_relations` on a query photo and
20 result photos of an indexed catalog, with their fingerprints stored in the catalog (as after a duplicate
search) and made from the files (a catalog that never had one), each over several random draws. It stores the
drawn photos' fingerprints in the catalog: the cache a duplicate search keeps there anyway.

    python -m benchmarks.photo_relations --db CATALOG [--draws 8] [--results 20]

Prints the times of each draw, their median, and the ratio of the two medians with the load average (the
badges are painted when the answer comes; the search itself never waits for it).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="an indexed catalog whose photo folder is on this machine")
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--results", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-bench-"))
    from desktop_app.core import fingerprints as fpr
    from desktop_app.core.engine import Engine

    with Engine.open(Path(args.db), remember=False) as engine:
        paths = sorted(engine.catalog.photo_paths())
        rng = random.Random(0)
        draws = [(rng.choice(paths), rng.sample(paths, args.results)) for _ in range(args.draws)]
        # Stored: the fingerprints of every photo drawn, as a duplicate search leaves them.
        drawn = sorted({p for q, hits in draws for p in (q, *hits)})
        made = [
            (h, fpr.fingerprint_file(engine.absolute(p)).to_bytes())
            for p, (h, _) in engine.catalog.photo_prints(drawn, fpr.VERSION).items()
        ]
        engine.catalog.store_fingerprints(made, fpr.VERSION)
        # From the files: the same photos named by their files, which the catalog holds no fingerprint for.
        files = {p: str(engine.absolute(p)) for p in drawn}
        medians = {}
        for name, name_of in (("stored", lambda p: p), ("from the files", files.get)):
            times = []
            for q, hits in draws:
                t0 = time.perf_counter()
                engine.photo_relations([(name_of(q), name_of(h), 0.95) for h in hits])
                times.append(1000 * (time.perf_counter() - t0))
            medians[name] = statistics.median(times)
            print(
                f"{name:>15}: {args.results} results, median {medians[name]:.0f} ms  ({' '.join(f'{t:.0f}' for t in times)})"
            )
    load = os.getloadavg()[0]
    print(f"from the files / stored: {medians['from the files'] / medians['stored']:.1f}x (load {load:.1f})")


if __name__ == "__main__":
    main()
