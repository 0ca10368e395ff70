"""Drive the real app with random clicks, drags, wheel turns and keys under Xvfb, and report what it wrote to
stderr: a traceback, a Qt warning or a message from the system is a thing to look at.

A probe, not a test: it has no expectations beyond "no traceback", and it found what tests had not (Open and
Show in file manager doing nothing on a system without a viewer). It works on a copy of the catalog with a
fresh user-data folder, so nothing of yours changes; the photos are only read. Needs Debian's `xvfb xdotool
libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0`.

    python tools/gui_monkey.py --db CATALOG [--steps 1000] [--seed 1] [--size 1920x1080] [--display 91]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Keys a curator uses, and a few they hit by mistake; Ctrl+Q is left out (it would end the run).
KEYS = (
    "space Return Escape Tab shift+Tab Left Right Up Down Home End Page_Down ctrl+z ctrl+shift+z ctrl+i F1 ctrl+f "
    "ctrl+a ctrl+c ctrl+u ctrl+shift+d ctrl+m ctrl+w ctrl+Tab ctrl+plus ctrl+minus ctrl+1 ctrl+2 plus minus "
    "Delete BackSpace alt+v alt+e alt+m alt+l alt+h F5 a d h n s w x 1 2 3"
).split()
QUIET = ("propagateSizeHints",)  # what the offscreen platform says about itself, not about the app


def xdotool(display: str, *args: str) -> None:
    env = dict(os.environ, DISPLAY=display)
    subprocess.run(["xdotool", *args], env=env, capture_output=True, timeout=10, check=False)


def one_step(rng: random.Random, display: str, width: int, height: int) -> tuple:
    """One random action of a person at the keyboard and mouse; what it was."""
    x, y = str(rng.randrange(width)), str(rng.randrange(height))
    r = rng.random()
    if r < 0.35:
        xdotool(display, "mousemove", x, y, "click", "1")
        return ("click", x, y)
    if r < 0.45:
        xdotool(display, "mousemove", x, y, "click", "--repeat", "2", "1")
        return ("double-click", x, y)
    if r < 0.52:
        xdotool(display, "mousemove", x, y, "click", "3")
        return ("right-click", x, y)
    if r < 0.57:
        x2, y2 = str(rng.randrange(width)), str(rng.randrange(height))
        xdotool(display, "mousemove", x, y, "mousedown", "1", "mousemove", x2, y2, "mouseup", "1")
        return ("drag", x, y, x2, y2)
    if r < 0.62:
        xdotool(display, "mousemove", x, y, "click", rng.choice(("4", "5")))
        return ("wheel", x, y)
    key = rng.choice(KEYS)
    xdotool(display, "key", key)
    return ("key", key)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="the catalog to copy and open")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--display", default="91", help="the Xvfb display number to use")
    args = ap.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed; see this script's docstring for the Debian packages.")
    width, height = (int(v) for v in args.size.split("x"))
    display = f":{args.display}"
    work = Path(tempfile.mkdtemp(prefix="lookalike-monkey-"))
    (work / "home").mkdir()
    db = work / args.db.name
    shutil.copy2(args.db, db)
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{args.size}x24"], stderr=subprocess.DEVNULL)
    env = dict(os.environ, HOME=str(work / "home"), DISPLAY=display, QT_QPA_PLATFORM="xcb")
    with open(work / "app.err", "w") as err:
        app = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "gui", "--db", str(db)], env=env, stdout=err, stderr=err
        )
    rng = random.Random(args.seed)
    steps = []
    try:
        time.sleep(8)  # the window up and the catalog open
        for step in range(args.steps):
            if app.poll() is not None:
                print(f"the app ended at step {step} with exit code {app.returncode}")
                break
            steps.append(one_step(rng, display, width, height))
            time.sleep(rng.choice((0.05, 0.2, 0.5)))
            if rng.random() < 0.08:
                xdotool(display, "key", "Escape")  # out of a dialog now and then
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
        xvfb.terminate()
    said = [line for line in (work / "app.err").read_text().splitlines() if not any(q in line for q in QUIET)]
    (work / "steps.txt").write_text("\n".join(" ".join(map(str, s)) for s in steps) + "\n")
    print(f"{len(steps)} steps (seed {args.seed}); the app wrote {len(said)} lines to stderr; work in {work}")
    for line in said[:40]:
        print("  " + line)
    return 1 if any("Traceback" in line for line in said) else 0


if __name__ == "__main__":
    sys.exit(main())
