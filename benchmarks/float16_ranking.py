"""How much storing vectors as float16 changes the ranking, on the real Magento photos with the bundled model.

The catalog and the vector store keep float16. This indexes the Magento photos, embeds every photo again
in float32 straight from the encoder, and evaluates both protocols (groups and split, as
benchmarks/evaluate_magento.py) twice: on the float32 vectors and on the same vectors rounded to float16.
It prints R@1 and mAP of each method in both precisions and the largest difference (goal: within 0.005).

    python benchmarks/float16_ranking.py [--json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from desktop_app.core import evaluate as ev
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-f16-home-"))
    db = Path(tempfile.mkdtemp(prefix="lookalike-f16-")) / "magento.sqlite"
    index_photos(db, args.data / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN))
    rows = list(csv.DictReader(open(args.data / "manifest.csv", encoding="utf-8")))
    style = {r["article"]: r["style"] for r in rows}
    with Engine.open(db, remember=False) as engine:
        av = engine.vectors()
        files = [engine.absolute(p) for p in av.paths]
        v32, done, failed = engine.embed(files)
    if len(done) != len(files) or failed:
        raise SystemExit(f"{len(failed)} photos could not be embedded again")
    v32 = v32 / np.linalg.norm(v32, axis=1, keepdims=True)
    variants = {
        "float32": dataclasses.replace(
            av, vectors=np.ascontiguousarray(v32, dtype=np.float32), centroids=None
        ),
        "float16": dataclasses.replace(av, vectors=v32.astype(np.float16), centroids=None),
    }
    out: dict = {}
    worst = 0.0
    print(f"{len(av.articles)} articles, {len(files)} photos")
    for proto in ("groups", "split"):
        scores = {}
        for name, vectors in variants.items():
            index, queries = (
                ev.group_queries(vectors, style)
                if proto == "groups"
                else ev.split_queries(vectors, 3, seed=0)
            )
            scores[name] = {s.label: s for s in ev.evaluate(index, queries, ev.default_specs())}
        print(
            f"\n{proto} protocol\n| method | R@1 f32 | R@1 f16 | mAP f32 | mAP f16 |\n|---|---:|---:|---:|---:|"
        )
        for label, s32 in scores["float32"].items():
            s16 = scores["float16"][label]
            d = max(abs(s32.recall[1] - s16.recall[1]), abs(s32.map - s16.map))
            worst = max(worst, d)
            print(f"| {label} | {s32.recall[1]:.4f} | {s16.recall[1]:.4f} | {s32.map:.4f} | {s16.map:.4f} |")
            out.setdefault(proto, {})[label] = {
                "r1_f32": s32.recall[1],
                "r1_f16": s16.recall[1],
                "map_f32": s32.map,
                "map_f16": s16.map,
            }
    print(f"\nlargest change of R@1 or mAP from float32 to float16: {worst:.4f} (goal <= 0.005)")
    out["largest_change"] = worst
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
