"""Screenshots of the real desktop app for the README: python packaging/screenshots.py [--out DIR].

Runs the app on an X virtual framebuffer (Xvfb; started here when no DISPLAY is set) with a fresh user-data
folder, opens a copy of the bundled sample photos, indexes them with the bundled model and saves:

  welcome.png   the first screen
  grouping.png  the grouping dialog with its live preview
  indexing.png  the window while indexing (progress, rate, ETA, Cancel)
  browser.png   the article grid with the similar panel for a selected article
  detail.png    the article detail with its photos
  settings.png  the settings dialog

Debian packages needed for the virtual screen: xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
libxkbcommon-x11-0 (and a font such as fonts-dejavu-core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "desktop_app" / "bundled" / "sample" / "photos"
SIZE = (1360, 860)


def start_xvfb() -> subprocess.Popen | None:
    """A private virtual screen unless one is already there."""
    if os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb":
        return None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit(
            "Xvfb is not installed (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 "
            "libxkbcommon-x11-0)."
        )
    for display in range(91, 120):
        if Path(f"/tmp/.X11-unix/X{display}").exists():
            continue
        proc = subprocess.Popen(
            [xvfb, f":{display}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
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


class Driver:
    """Drives the window like a curator would, waiting on its signals rather than on the clock."""

    def __init__(self, out: Path) -> None:
        from PySide6.QtWidgets import QApplication

        self.out = out
        self.app = QApplication.instance()

    def pump(self, seconds: float = 0.15) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def until(self, cond, timeout: float = 120.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what or cond}")
            self.app.processEvents()
            time.sleep(0.01)

    def shoot(self, widget, name: str, settle: bool = True) -> Path:
        if settle:
            self.pump(0.3)
        path = self.out / name
        widget.grab().save(str(path))
        print(f"saved {path}")
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument(
        "--photos", type=Path, default=SAMPLE, help="photo folder to show (default: the sample)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    work = Path(tempfile.mkdtemp(prefix="lookalike-shots-"))
    os.environ["LOOKALIKE_HOME"] = str(work / "home")  # a fresh profile: no recent catalogs, default settings
    sys.path.insert(0, str(REPO))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)


def _run(args, work: Path) -> int:
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
    from desktop_app.core.settings import UserSettings
    from desktop_app.gui.app import make_app
    from desktop_app.gui.mainwindow import MainWindow

    app = make_app(["lookalike"])
    app.setStyle("Fusion")  # the same look on every machine the screenshots are made on
    photos = work / "sample-shop"
    shutil.copytree(args.photos, photos)
    d = Driver(args.out)

    w = MainWindow(UserSettings(batch_size=4))  # small batches: several progress reports on 76 photos
    w.resize(*SIZE)
    w.show()
    d.until(lambda: w.isVisible())
    d.shoot(w, "welcome.png")

    w.open_folder(photos)
    d.until(lambda: w.catalogs.grouping_dialog is not None, what="grouping dialog")
    dialog = w.catalogs.grouping_dialog
    d.until(lambda: dialog.model.rowCount() > 0, what="preview")
    dialog.editor.set_rule(GroupingRule("pattern", MAGENTO_PATTERN))
    d.until(lambda: any(r[2] for r in dialog.model.rows), what="pattern preview")
    d.shoot(dialog, "grouping.png")
    finished = []
    w.index_finished.connect(finished.append)
    shot = []

    def progress(p) -> None:
        # Photograph the window from inside the progress slot, a third of the way through the real run.
        if not shot and p.total and p.done >= p.total // 3:
            shot.append(d.shoot(w, "indexing.png", settle=False))

    w.index_progress.connect(progress)
    dialog.ok.click()
    d.until(lambda: bool(shot), what="indexing progress")
    d.until(lambda: bool(finished), what="indexing to finish")
    d.until(lambda: w.search.info is not None, what="search engine")
    w.banner.hide()

    target = "mh01-gray" if w.grid_model.row_of("mh01-gray") >= 0 else w.grid_model.article_at(0)
    shown = []
    w.results_shown.connect(shown.append)
    w.select_article(target)
    d.until(lambda: bool(shown), what="similar results")
    d.until(lambda: w.thumbs.pending() == 0, what="thumbnails")
    d.pump(0.5)
    d.until(lambda: w.thumbs.pending() == 0, what="thumbnails")
    d.shoot(w, "browser.png")

    loaded = []
    w.detail_loaded.connect(loaded.append)
    w.open_detail(target)
    d.until(lambda: bool(loaded), what="detail")
    d.pump(0.5)
    d.until(lambda: w.thumbs.pending() == 0, what="thumbnails")
    d.shoot(w, "detail.png")
    w.close_detail()

    w.open_settings()
    sd = w.settings_dialog
    d.until(lambda: sd.model_combo.isEnabled(), what="model list")
    d.shoot(sd, "settings.png")
    sd.reject()

    w.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
