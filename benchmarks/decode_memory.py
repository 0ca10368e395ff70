"""Peak memory of indexing giant photos: four 9990 x 9990 RGBA PNGs (just under the 100 MP limit).

Each `lookalike index --workers N` runs in a child process of its own, and the child's peak resident set
(ru_maxrss from wait4) is printed. The decode budget (1.5 GB) lets one such photo decode at a time, so the peak
should be about the same with one worker as with four.

    python benchmarks/decode_memory.py [--side 9990] [--photos 4] [--workers 1,4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def make_photos(folder: Path, side: int, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        Image.new("RGBA", (side, side), (40 * i, 90, 200, 128)).save(
            folder / f"giant{i}.png", compress_level=1
        )


def peak_of_index(photos: Path, workers: int, tmp: Path) -> tuple[int, int]:
    """(the index child's peak RSS in MB, its exit status)."""
    db = tmp / f"w{workers}.sqlite"
    argv = [
        sys.executable,
        "-m",
        "desktop_app",
        "index",
        str(photos),
        "--db",
        str(db),
        "--workers",
        str(workers),
    ]
    env = {**os.environ, "LOOKALIKE_HOME": str(tmp / "home")}
    child = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss // 1024, child.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=9990)
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--workers", default="1,4")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lookalike-decode-memory-") as tmp:
        photos = Path(tmp) / "photos"
        make_photos(photos / "giants", args.side, args.photos)
        mp = args.side * args.side / 1e6
        print(f"{args.photos} RGBA PNGs of {args.side} x {args.side} ({mp:.1f} MP each)")
        for workers in (int(w) for w in args.workers.split(",")):
            peak, code = peak_of_index(photos, workers, Path(tmp))
            print(f"  index --workers {workers}: peak RSS {peak:,} MB (exit {code})")


if __name__ == "__main__":
    main()
