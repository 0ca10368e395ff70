"""Build the frozen app and check it works: window paints offscreen, CLI indexes and searches the sample.

    python packaging/smoke_test.py [--no-build]

Prints the time from launching the frozen app to its first painted window (LOOKALIKE_SMOKE=1 makes the
app report its first paint and quit), and the frozen CLI's index/search results on the bundled sample.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-build", action="store_true", help="use the existing packaging/dist build")
    args = ap.parse_args()
    if not args.no_build:
        sys.path.insert(0, str(HERE))
        from build import build

        build()
    exe = HERE / "dist" / "lookalike" / ("lookalike.exe" if os.name == "nt" else "lookalike")
    if not exe.exists():
        print(f"no frozen app at {exe}; run python packaging/build.py", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="lookalike-smoke-"))
    env = {**os.environ, "LOOKALIKE_HOME": str(work / "home"), "QT_QPA_PLATFORM": "offscreen"}

    def frozen(*a: str, **kw) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(exe), *a], capture_output=True, text=True, env={**env, **kw}, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"frozen `lookalike {' '.join(a)}` failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    print(frozen("--version").stdout.strip())
    # frozen CLI: index the bundled sample (a copy) and query it
    photos = work / "photos"
    shutil.copytree(ROOT / "desktop_app" / "bundled" / "sample" / "photos", photos)
    db = work / "smoke.sqlite"
    t0 = time.perf_counter()
    summary = json.loads(
        frozen("index", str(photos), "--pattern", "magento", "--db", str(db), "--json").stdout
    )
    index_s = time.perf_counter() - t0
    hits = json.loads(
        frozen("similar", "--db", str(db), "--article", "mh01-gray", "--top", "3", "--json").stdout
    )
    top = [h["article"] for h in hits["hits"]]
    print(
        f"frozen CLI: indexed {summary['photos']} photos / {summary['articles']} articles with "
        f"{summary['model']} in {index_s:.1f} s; similar to mh01-gray: {', '.join(top)}"
    )
    if summary["photos"] < 10 or not top:
        print("FAIL: the frozen CLI gave no results", file=sys.stderr)
        return 1

    # frozen GUI: launch to first painted article grid, three runs (the first also warms the disk cache)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "gui", "--db", str(db)],
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "LOOKALIKE_SMOKE": "1"},
        )
        painted = None
        for line in proc.stderr:
            if "first paint" in line:
                painted = time.perf_counter() - t0
        proc.wait(timeout=120)
        if proc.returncode != 0 or painted is None:
            print(f"FAIL: the frozen GUI did not paint (exit {proc.returncode})", file=sys.stderr)
            return 1
        times.append(painted)
    print(
        "frozen GUI: launch to first painted article grid "
        + ", ".join(f"{t:.2f} s" for t in times)
        + f" (best {min(times):.2f} s)"
    )
    size = sum(p.stat().st_size for p in exe.parent.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"frozen app folder: {size / 1e6:.0f} MB")
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
