"""Screenshots of the real desktop app for the README: python packaging/screenshots.py [--out DIR].

Runs the app on X virtual framebuffers (Xvfb, one per screen size) with a fresh user-data folder, on a copy
of the Magento sample photos (/work/shared/datasets/magento-luma, licence notice kept with the copy; or
--photos DIR, default the bundled sample when the dataset is absent), and drives it as a curator would:
open the folder, index it, browse, search, decide, inspect, review, compare. Three rounds:

  <name>-1920.png  light palette on a 1920x1080 screen (every screen of the app)
  <name>-1366.png  light palette on a 1366x768 screen (everything must fit and be usable)
  <name>-dark.png  dark palette on a 1920x1080 screen

docs/screenshots/README.md lists what each one shows. Debian packages needed: xvfb libxcb-icccm4
libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 (and a font such as fonts-dejavu-core).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASET = Path("/work/shared/datasets/magento-luma")
SAMPLE = REPO / "desktop_app" / "bundled" / "sample"
ROUNDS = (
    ("1920", "1920x1080", "light", "full"),
    ("1366", "1366x768", "light", "main"),
    ("dark", "1920x1080", "dark", "main"),
)


def start_xvfb(size: str) -> subprocess.Popen:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit(
            "Xvfb is not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 "
            "libxkbcommon-x11-0)."
        )
    for display in range(91, 140):
        if Path(f"/tmp/.X11-unix/X{display}").exists() or Path(f"/tmp/.X{display}-lock").exists():
            continue
        proc = subprocess.Popen(
            [xvfb, f":{display}", "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{display}").exists():
                os.environ["DISPLAY"] = f":{display}"
                os.environ["QT_QPA_PLATFORM"] = "xcb"
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
    sys.exit("Could not start Xvfb.")


def prepare(work: Path, photos: Path) -> tuple[Path, Path, Path]:
    """A writable copy of the photos (with its licence notice), and labels/groups CSVs from its manifest."""
    root = photos if (photos / "photos").is_dir() else photos.parent
    shop = work / "luma-shop"
    shutil.copytree(root / "photos" if (root / "photos").is_dir() else photos, shop)
    for notice in ("LICENSE_AFL.txt", "LICENSE_OSL.txt", "README.md"):
        if (root / notice).exists():
            shutil.copy(root / notice, work / notice)
    labels, groups = work / "labels.csv", work / "styles.csv"
    manifest = root / "manifest.csv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8"))) if manifest.exists() else []
    categories = {r["article"]: r.get("category", "") for r in rows}
    styles = {r["article"]: r.get("style", r["article"]) for r in rows}
    with labels.open("w", newline="", encoding="utf-8") as fh:  # every other article: the rest to review
        w = csv.writer(fh)
        w.writerow(["article", "label"])
        for i, (a, c) in enumerate(sorted(categories.items())):
            if c and i % 2 == 0:
                w.writerow([a, c])
    with groups.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["article", "group"])
        w.writerows(sorted(styles.items()))
    return shop, labels, groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    default = DATASET if DATASET.is_dir() else SAMPLE
    parser.add_argument("--photos", type=Path, default=default, help=f"photo dataset (default: {default})")
    parser.add_argument("--round", help=argparse.SUPPRESS)  # internal: one round in a child process
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.round:
        return run_round(args)
    work = Path(tempfile.mkdtemp(prefix="lookalike-shots-"))
    try:
        prepare(work, args.photos)
        for name, size, theme, tour in ROUNDS:
            print(f"--- {name}: {size}, {theme}, {tour}", flush=True)
            code = subprocess.call(
                [
                    sys.executable,
                    __file__,
                    "--out",
                    str(args.out),
                    "--photos",
                    str(args.photos),
                    "--work",
                    str(work),
                    "--round",
                    f"{name}:{size}:{theme}:{tour}",
                ]
            )
            if code:
                return code
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run_round(args) -> int:
    name, size, theme, tour = args.round.split(":")
    xvfb = start_xvfb(size)
    os.environ["LOOKALIKE_HOME"] = str(args.work / "home")  # one profile for the three rounds: one catalog
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from screenshot_tour import Tour

        tour_ = Tour(args.out, args.work, name, theme, size)
        return tour_.run(full=tour == "full")
    finally:
        xvfb.terminate()
        xvfb.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
