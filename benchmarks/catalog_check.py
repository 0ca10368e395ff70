"""What `lookalike catalog check` costs on a large catalog: SQLite's full integrity check, and the check of
every stored vector (finite numbers of unit length) that finds bytes damaged on disk, which SQLite's check
cannot see. Writes a catalog of N synthetic 1280-d unit vectors through the catalog's own API (reused when
present), then times each check on it.

    python benchmarks/catalog_check.py [--photos 50000] [--db /tmp/catalog-check.sqlite]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.storage import Catalog, PhotoWrite  # noqa: E402

DIM = 1280  # the bundled model's vectors
PER_ARTICLE = 5
BLOCK = 5_000


def make_catalog(db: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    with Catalog(db) as catalog:
        ids = catalog.sync_articles(f"a{i // PER_ARTICLE:07d}" for i in range(n))
        for start in range(0, n, BLOCK):
            vectors = rng.standard_normal((min(BLOCK, n - start), DIM), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            writes = []
            for i, vector in enumerate(vectors, start):
                rel = f"a{i // PER_ARTICLE:07d}/{i}.jpg"
                writes.append(
                    PhotoWrite(
                        ids[f"a{i // PER_ARTICLE:07d}"],
                        rel,
                        rel.encode(),
                        1,
                        1,
                        None,
                        hash=rel,
                        vector=vector,
                    )
                )
            catalog.write_photos(writes, "synthetic@1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=50_000, help="vectors in the catalog (default 50,000)")
    ap.add_argument("--db", type=Path, default=Path("/tmp/catalog-check.sqlite"), help="the catalog file")
    args = ap.parse_args()
    db = args.db.with_name(f"{args.db.stem}-{args.photos}{args.db.suffix}")
    if not db.exists():
        make_catalog(db, args.photos)
    with Catalog(db) as catalog:
        started = time.perf_counter()
        problems = catalog.health()
        integrity = time.perf_counter() - started
        started = time.perf_counter()
        damaged = catalog.damaged_vectors()
        vectors = time.perf_counter() - started
    print(f"{args.photos:,} vectors of {DIM} dimensions, catalog {db.stat().st_size / 1e6:,.0f} MB")
    print(f"  integrity_check    {integrity:6.2f} s  ({problems[0]})")
    print(
        f"  vector check       {vectors:6.2f} s  ({len(damaged)} damaged; {vectors / integrity:.1f}x the integrity check)"
    )


if __name__ == "__main__":
    main()
