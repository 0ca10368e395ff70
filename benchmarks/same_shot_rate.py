"""How often the "same shot" rule (`core.duplicates.same_shot`: DCT hashes within EDIT_MAX_HAMMING bits,
mirror-aware) holds on the real Magento photos: between the main photos of one style's colours (the
colourways a curator sees first among the results, mostly one shot recoloured) and between the main photos
of two different styles (random pairs). The first share is how often a result card says "same shot" for a
colourway; the second, how often it would say so of an unrelated product.

    python -m benchmarks.same_shot_rate [--data DIR] [--pairs 3000]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=DATA, help="the magento-luma dataset (manifest.csv, photos/)"
    )
    ap.add_argument("--pairs", type=int, default=3000, help="random pairs of different styles")
    args = ap.parse_args()
    from desktop_app.core import duplicates as dup
    from desktop_app.core import fingerprints as fpr

    with open(args.data / "manifest.csv", encoding="utf-8") as fh:
        mains = [r for r in csv.DictReader(fh) if r["view"] == "main"]
    prints = {r["path"]: fpr.fingerprint_file(args.data / "photos" / r["path"]) for r in mains}
    style = {r["path"]: r["style"] for r in mains}
    by_style: dict[str, list[str]] = {}
    for r in mains:
        by_style.setdefault(r["style"], []).append(r["path"])
    colours = [pair for paths in by_style.values() for pair in itertools.combinations(paths, 2)]
    rng = random.Random(0)
    paths = sorted(prints)
    others = [
        p for p in (tuple(rng.sample(paths, 2)) for _ in range(args.pairs)) if style[p[0]] != style[p[1]]
    ]
    for name, pairs in (("colours of one style", colours), ("different styles", others)):
        same = sum(dup.same_shot(prints[a], prints[b]) for a, b in pairs)
        print(f"{name:>22}: {same} of {len(pairs)} main-photo pairs are one shot ({same / len(pairs):.1%})")


if __name__ == "__main__":
    main()
