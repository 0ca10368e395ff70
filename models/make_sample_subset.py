"""Make the bundled sample catalogue (desktop_app/bundled/sample/) from the magento-luma dataset.

    python models/make_sample_subset.py [--src DATASET_DIR] [--out DIR]

The sample is what a first-time user (and the tests) can point the app at without a catalogue of their own:
about 30 articles of real studio photos in the shop's own nested layout (photos/<a>/<b>/<file>.jpg),
downscaled so the package stays small, with the dataset's ground-truth manifest.csv for just those rows.

The choice of articles is a fixed list (below), so re-running gives the same files. Whole articles are taken
(every photo of a chosen article), so the n_in_article and colour_consistent columns stay true. The list mixes:
  - articles with 3-5 photos (the main case: an article recognised from several views), spread over all
    thirteen apparel categories and limited to colour-consistent ones so the ground truth is clean;
  - other colours of three of those styles, as single-photo articles: near-duplicate hard negatives;
  - 2-photo articles (two colours of one tee, bags, a fitness item);
  - single-photo gear: watches, two colours of a bag and of a stability ball, and the "wb01" name clash
    (wb01-black_main.jpg is a bra, wb01-black-0.jpg a bag).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image, ImageOps

REPO_ROOT = Path(__file__).resolve().parent.parent
# The shared data folder sits beside the repository checkout.
DEFAULT_SRC = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"
DEFAULT_OUT = REPO_ROOT / "desktop_app" / "bundled" / "sample"

MAX_SIDE = 512
JPEG_QUALITY = 85
LICENCE_FILES = ("LICENSE_OSL.txt", "LICENSE_AFL.txt")

# article id (the dataset's `article` column) -> expected number of photos, as a guard against a changed source
ARTICLES: dict[str, int] = {
    # 3-5 photos, colour-consistent, at least one per apparel category
    "mh01-gray": 3,  # men-hoodies
    "mj03-black": 3,  # men-jackets
    "mp03-black": 3,  # men-pants
    "msh02-black": 3,  # men-shorts
    "mt02-white": 4,  # men-tanks
    "ms02-gray": 3,  # men-tees
    "wb01-gray": 3,  # women-bras
    "wh02-blue": 3,  # women-hoodies
    "wh08-white": 4,  # women-hoodies
    "wj04-white": 4,  # women-jackets
    "wj08-gray": 4,  # women-jackets
    "wp04-blue": 4,  # women-pants
    "wp06-black": 4,  # women-pants
    "wsh04-black": 3,  # women-shorts
    "wt08-black": 3,  # women-tanks
    "ws05-black": 3,  # women-tees
    # hard negatives: the other colours of three of the styles above
    "mh01-black": 1,
    "mh01-orange": 1,
    "wj08-orange": 1,
    "wj08-purple": 1,
    "wb01-black": 1,  # a bra; its file name clashes with the bag wb01-black-0 below
    # 2 photos
    "ms01-blue": 2,  # two colours of one tee: a 2-photo hard-negative pair
    "ms01-brown": 2,
    "mb03-black-0": 2,  # bags
    "wb06-red-0": 2,
    "ug07-bk-0": 2,  # fitness equipment
    # single-photo gear
    "mb02-blue-0": 1,  # bag in two colours
    "mb02-gray-0": 1,
    "wb01-black-0": 1,  # bag
    "mg01-bk-0": 1,  # watches
    "mg02-bk-0": 1,
    "luma-stability-ball-gray": 1,  # fitness equipment in two colours
    "luma-stability-ball-pink": 1,
}


def read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def select_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    chosen = [row for row in rows if row["article"] in ARTICLES]
    found = Counter(row["article"] for row in chosen)
    problems = [
        f"{article}: expected {n} photos, found {found.get(article, 0)}"
        for article, n in ARTICLES.items()
        if found.get(article, 0) != n
    ]
    if problems:
        raise SystemExit(
            "error: the source dataset does not match the sample list:\n  " + "\n  ".join(problems)
        )
    return sorted(chosen, key=lambda row: row["path"])


def downscale(src: Path, dst: Path) -> None:
    """EXIF-upright copy with the longer side at most MAX_SIDE; no EXIF is kept (it is applied)."""
    with Image.open(src) as img:
        icc = img.info.get("icc_profile")
        img = ImageOps.exif_transpose(img)
        if img.mode != "RGB":
            img = img.convert("RGB")
        scale = MAX_SIDE / max(img.size)
        if scale < 1:
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        options = {"quality": JPEG_QUALITY, "optimize": True}
        if icc:
            options["icc_profile"] = icc
        img.save(dst, "JPEG", **options)


def readme_text(rows: list[dict[str, str]], total_bytes: int) -> str:
    articles = defaultdict(int)
    for row in rows:
        articles[row["article"]] += 1
    sizes = Counter(articles.values())
    categories = sorted({row["category"] for row in rows})
    size_text = ", ".join(f"{sizes[n]} with {n}" for n in sorted(sizes, reverse=True))
    return f"""# Sample catalogue

{len(rows)} photos of {len(articles)} articles ({size_text} photo(s)) from {len(categories)} categories of a
sportswear shop's catalogue: apparel on models, bags, watches and fitness gear. Bundled so Lookalike can be
tried, and tested, without a catalogue of one's own.

## Where the photos come from
A subset of the "magento-luma" dataset: the Magento 2 sample data (repository magento/magento2-sample-data,
commit 53807565, folder pub/media/catalog/product). The layout is the shop's own, `photos/<a>/<b>/<file>.jpg`
(`<a>/<b>` are the first two letters of the file name); articles are coded in file names
(`<style>-<colour>_<view>.jpg` for apparel, `<style>-<colour>-0[_alt1].jpg` for gear).
Every photo of a chosen article is included; each was turned upright by its EXIF orientation and
downscaled so its longer side is at most {MAX_SIDE} px (JPEG quality {JPEG_QUALITY}).
`manifest.csv` is the dataset's ground truth for these rows only (same columns: path, article, style, view,
category, n_in_article, colour_consistent). Besides several colours of the same style (near-duplicate
hard negatives) it includes the dataset's name clash: `w/b/wb01-black_main.jpg` is a bra,
`w/b/wb01-black-0.jpg` a bag.

Made by `models/make_sample_subset.py` (a fixed list of articles; re-running gives the same files).
Total size of the photos: {total_bytes / 1e6:.1f} MB.

## Licence
The photos are from the Magento 2 sample data, licensed OSL-3.0 / AFL-3.0: see LICENSE_OSL.txt and
LICENSE_AFL.txt; keep that notice with any copy.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="the magento-luma dataset (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    fields, rows = read_manifest(args.src / "manifest.csv")
    chosen = select_rows(rows)

    photos_out = args.out / "photos"
    if photos_out.exists():
        shutil.rmtree(photos_out)  # a re-run must not leave photos of articles no longer in the list
    total = 0
    for row in chosen:
        dst = photos_out / row["path"]
        downscale(args.src / "photos" / row["path"], dst)
        total += dst.stat().st_size

    with open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(chosen)
    for name in LICENCE_FILES:
        shutil.copyfile(args.src / name, args.out / name)
    (args.out / "README.md").write_text(readme_text(chosen, total), encoding="utf-8")

    print(
        f"wrote {len(chosen)} photos of {len(ARTICLES)} articles to {args.out} ({total / 1e6:.2f} MB of photos)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
