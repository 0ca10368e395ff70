"""Thumbnails kept in the catalog (schema 8) on the real Magento photos: what they weigh, what they cost.

Starts a throwaway PostgreSQL cluster (tools/pg_cluster.py) and prints:
  1. bytes per stored thumbnail (256 px long side) at JPEG qualities 70-85, made as the indexer makes them
     (from the picture decoded for the bundled model);
  2. indexing the 725 photos into PostgreSQL with thumbnails and without (as before schema 8): photos/s;
  3. catalog sizes: PostgreSQL with and without, SQLite without (a single curator's catalog) and with (an
     SQLite copy of the shared catalog);
  4. filling in the thumbnails of a catalog indexed without them (the next `lookalike index` run): photos/s;
  5. a client whose photo folder is not mounted: the catalog's thumbnails of every photo read and cached at
     160 px, per thumbnail, then asked again (from its own cache).

    python benchmarks/catalog_thumbnails.py [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "datasets" / "magento-luma"
QUALITIES = (70, 75, 80, 85)


def thumbnail_bytes() -> dict:
    """Stored thumbnail sizes over the Magento photos at each quality, from the model's decode."""
    from PIL import Image

    from desktop_app.core import catalog_thumbnails as ct
    from desktop_app.core.images import load_photo, read_bytes
    from desktop_app.core.models import default_model

    manifest = default_model("cpu").manifest
    h, w = manifest.input_size
    sizes: dict[int, list[int]] = {q: [] for q in QUALITIES}
    files = sorted((DATA / "photos").rglob("*.jpg"))
    making = 0.0  # seconds spent making the stored thumbnails from the decoded pictures
    for path in files:
        picture = load_photo(read_bytes(path), min_size=(w, h)).image  # as preprocess decodes it
        t0 = time.perf_counter()
        side = ct.stored_thumbnail(picture)
        making += time.perf_counter() - t0
        small = picture.resize((side.width, side.height), Image.Resampling.BICUBIC, reducing_gap=2.0)
        for q in QUALITIES:
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=q)
            sizes[q].append(len(buf.getvalue()))
        assert len(side.data) == sizes[ct.STORED_QUALITY][-1]
    print(
        f"1. stored thumbnails of {len(files)} Magento photos, {ct.STORED_SIDE} px long side, made from the "
        f"model's decode in {making / len(files) * 1000:.1f} ms a photo"
    )
    out: dict = {"make_ms": round(making / len(files) * 1000, 2)}
    for q, values in sizes.items():
        ordered = sorted(values)
        mean, median, p95 = (
            statistics.mean(values),
            statistics.median(values),
            ordered[int(len(values) * 0.95)],
        )
        chosen = "  <- stored" if q == ct.STORED_QUALITY else ""
        print(
            f"  quality {q}: mean {mean / 1024:.1f} KB, median {median / 1024:.1f} KB, p95 {p95 / 1024:.1f} KB{chosen}"
        )
        out[q] = {"mean": round(mean), "median": round(median), "p95": p95}
    return out


def index_magento(location, keep: bool) -> tuple[float, object]:
    """Index the photos (thumbnails kept or not); photos/s end to end and the summary."""
    from desktop_app.core import indexer
    from desktop_app.core.engine import index_photos
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    real = indexer.keeps_thumbnails
    indexer.keeps_thumbnails = real if keep else (lambda catalog: False)
    try:
        t0 = time.perf_counter()
        summary = index_photos(location, DATA / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN))
        return summary.photos / (time.perf_counter() - t0), summary
    finally:
        indexer.keeps_thumbnails = real


def sizes(location) -> dict:
    from desktop_app.core.storage import Catalog

    with Catalog(location, create=False) as cat:
        return {"catalog": cat.size_bytes(), **cat.thumbnail_counts()}


def fill_in(location) -> tuple[float, int]:
    """The next index run of a catalog indexed without thumbnails: photos/s of the fill-in stage."""
    from desktop_app.core.engine import index_photos

    stage: list[float] = []  # when the stage reported, first to last

    def progress(p) -> None:
        if p.note == "storing thumbnails":
            stage.append(time.perf_counter())

    summary = index_photos(location, DATA / "photos", progress=progress)
    return summary.thumbnails_filled / (stage[-1] - stage[0]), summary.thumbnails_filled


def offline_client(location, work: Path) -> dict:
    """Another machine, its photo folder not mounted: every photo's thumbnail from the catalog, then again."""
    from desktop_app.core.engine import Engine

    os.environ["LOOKALIKE_HOME"] = str(work / "client")
    with Engine.open(location, remember=False) as engine:
        engine.map_photo_root(work / "not-mounted" / "photos")
        paths = sorted(engine.catalog.photo_paths())
        t0 = time.perf_counter()
        first = engine.thumbnails(paths, 160)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        screen = engine.catalog.thumbnails_of(paths[:48])
        one_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = engine.thumbnails(paths, 160)
        warm = time.perf_counter() - t0
    assert len(first) == len(again) == len(paths) and len(screen) == 48
    print(
        f"5. a client without the photos: {len(paths)} thumbnails from the catalog at 160 px in {cold:.2f} s "
        f"({cold / len(paths) * 1000:.1f} ms each, one read), a screenful of 48 read in {one_read * 1000:.0f} ms; "
        f"asked again {warm / len(paths) * 1000:.2f} ms each (this machine's cache)"
    )
    return {
        "cold_ms_each": round(cold / len(paths) * 1000, 2),
        "read_48_ms": round(one_read * 1000, 1),
        "cached_ms_each": round(warm / len(paths) * 1000, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    from desktop_app.core.storage.copy import copy_catalog
    from tools import pg_cluster

    work = Path(tempfile.mkdtemp(prefix="lookalike-thumbs-"))
    os.environ["LOOKALIKE_HOME"] = str(work / "home")
    out: dict = {"bytes": thumbnail_bytes()}
    with pg_cluster.cluster(fsync=True) as server:
        with_db = pg_cluster.create_database(server, "with_thumbnails")
        without_db = pg_cluster.create_database(server, "without_thumbnails")
        index_magento(pg_cluster.create_database(server, "warm_up"), True)  # file cache and model warm
        # Two rounds, alternating, since a loaded machine's speed drifts within a run.
        rate_with, _ = index_magento(with_db, True)
        rate_without, _ = index_magento(without_db, False)
        again_with, _ = index_magento(pg_cluster.create_database(server, "with_again"), True)
        again_without, _ = index_magento(pg_cluster.create_database(server, "without_again"), False)
        print(
            f"2. indexing into PostgreSQL, photos/s keeping thumbnails / without: {rate_with:.1f} / "
            f"{rate_without:.1f}, then {again_with:.1f} / {again_without:.1f}"
        )
        local = work / "local.sqlite"
        index_magento(local, True)  # an SQLite catalog keeps none
        copied = work / "copy.sqlite"
        copy_catalog(with_db, copied)
        size = {
            name: sizes(loc)
            for name, loc in (
                ("pg_with", with_db),
                ("pg_without", without_db),
                ("sqlite", local),
                ("sqlite_copy", copied),
            )
        }
        n = size["pg_with"]["photos"]
        stored = size["pg_with"]["bytes"]
        print(
            f"3. catalog sizes for {n} photos: PostgreSQL {size['pg_with']['catalog'] / 1e6:.1f} MB with thumbnails, "
            f"{size['pg_without']['catalog'] / 1e6:.1f} MB without; thumbnails {stored / 1e6:.2f} MB "
            f"({stored / n / 1024:.1f} KB a photo). SQLite {size['sqlite']['catalog'] / 1e6:.1f} MB without, "
            f"{size['sqlite_copy']['catalog'] / 1e6:.1f} MB with ({size['sqlite_copy']['catalog'] / size['sqlite']['catalog']:.1f}x)"
        )
        fill_rate, filled = fill_in(without_db)
        print(
            f"4. filling in a catalog indexed without thumbnails: {filled} photos at {fill_rate:.0f} photos/s"
        )
        out.update(
            index_photos_per_s={
                "with": [round(rate_with, 1), round(again_with, 1)],
                "without": [round(rate_without, 1), round(again_without, 1)],
            },
            sizes=size,
            fill_photos_per_s=round(fill_rate, 1),
            client=offline_client(with_db, work),
        )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if args.json:
        print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
