"""`lookalike gui` and `lookalike demo`: the desktop app, and the one-command demo on the sample photos."""

from __future__ import annotations

import argparse
import ctypes.util
import os
import shutil
import sys
from pathlib import Path

from desktop_app.cli.common import add_json
from desktop_app.core.errors import InputError, UserError


def register(sub) -> None:
    p = sub.add_parser("gui", help="start the desktop app (the default with no command)")
    p.add_argument("--db", metavar="CATALOG", help="open this catalog (default: the catalog used last)")
    p.set_defaults(handler=run_gui)
    p = sub.add_parser(
        "demo",
        help="index the bundled sample photos into a new catalog and open the app",
        description="Copies 76 sample photos (33 articles of the Magento Luma catalogue), indexes "
        "them with the bundled model, labels half of the articles with their category so the "
        "review queue has work, and opens the app (or, without a screen, prints a query).",
    )
    p.add_argument("--no-gui", action="store_true", help="index and print a query, without the window")
    p.add_argument("--dir", type=Path, help="where to put the demo copy (default: the user data folder)")
    p.add_argument(
        "--db", metavar="CATALOG", help="the demo catalog (default: demo.sqlite in the demo folder)"
    )
    add_json(p)
    p.set_defaults(handler=run_demo)


def has_display() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def missing_qt_system_libs() -> str | None:
    """Qt's X11 plugin aborts the process without libxcb-cursor; say so before that happens."""
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return "No screen found (DISPLAY is not set). Run Lookalike on a desktop, or use the CLI (lookalike --help)."
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt needs the system library libxcb-cursor0 to open a window on X11. Install it "
            "(Debian/Ubuntu: sudo apt-get install libxcb-cursor0) and start Lookalike again."
        )
    xcb_name = ctypes.util.find_library("xcb")
    if xcb_name:
        xcb = ctypes.CDLL(xcb_name)
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(None, None)
        failed = xcb.xcb_connection_has_error(conn)
        xcb.xcb_disconnect(conn)
        if failed:
            return f"Cannot connect to the display {os.environ['DISPLAY']}. Is the desktop session running?"
    return None


def start_gui(db: str | None) -> int:
    problem = missing_qt_system_libs()
    if problem:
        raise UserError(problem)
    try:
        from desktop_app.gui.app import run
    except ImportError as exc:
        # Only the missing Qt binding is the user's to fix; any other import failure is a bug.
        if getattr(exc, "name", "") and str(exc.name).startswith("PySide6"):
            raise UserError(
                f"The desktop app needs PySide6 ({exc}); install it: pip install PySide6-Essentials"
            ) from exc
        raise
    return run(Path(db) if db else None)


def run_gui(args: argparse.Namespace) -> int:
    return start_gui(args.db)


def run_demo(args: argparse.Namespace) -> int:
    """Copy the bundled sample photos, index them, label half of them, and open the app (or print a query)."""
    from desktop_app.cli.index import print_summary
    from desktop_app.core.engine import index_photos
    from desktop_app.core.paths import user_data_dir
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    base = args.dir or user_data_dir() / "demo"
    sample, photos = _demo_photos(base)
    db = Path(args.db) if args.db else base / "demo.sqlite"
    summary = index_photos(db, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    first = _label_half(db, sample)
    if not args.json:
        print_summary(summary)
        print(
            "This model is an ImageNet classifier's features (EfficientNet-Lite0), not CLIP; "
            "see `lookalike models list` for CLIP."
        )
    if not args.no_gui and not has_display():
        if not args.json:
            print(
                "No screen here (no DISPLAY or WAYLAND_DISPLAY): showing a result in the terminal instead. "
                "Run `lookalike gui` on a desktop to browse it."
            )
        args.no_gui = True
    if args.no_gui:
        return _print_query(first, db, args.json)
    return start_gui(str(db))


def _demo_photos(base: Path) -> tuple[Path, Path]:
    """The bundled sample, and its photos copied under `base` (once: a copy already there is used as it is)."""
    from desktop_app.core.models import BUNDLED_DIR

    sample = BUNDLED_DIR / "sample"
    if not (sample / "photos").is_dir():
        raise InputError(f"The bundled sample photos are missing ({sample}); reinstall Lookalike.")
    photos = base / "photos"
    if not photos.exists():
        shutil.copytree(sample / "photos", photos)
        for name in ("README.md", "LICENSE_OSL.txt", "LICENSE_AFL.txt"):
            if (sample / name).exists():
                shutil.copy(sample / name, base / name)
    return sample, photos


def _label_half(db: Path, sample: Path) -> str:
    """Label every other article of a new demo catalog from the sample's ground truth (the rest is left for
    suggestions); the catalog's first article, to query by."""
    import csv

    from desktop_app.core.engine import Engine

    with Engine.open(db) as engine:
        if not engine.labels():
            with open(sample / "manifest.csv", encoding="utf-8") as fh:
                cats = dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))
            engine.set_label_items(
                [(a, "category", c) for a, c in list(cats.items())[::2]], "import", "import"
            )
        return engine.catalog.article_keys()[0]


def _print_query(first: str, db: Path, as_json: bool) -> int:
    """`lookalike similar` of the first article, as text or JSON."""
    # The real parser builds the query's arguments, so `demo` can never drift from `similar`.
    from desktop_app.cli import build_parser
    from desktop_app.cli.similar import run as run_similar

    ns = build_parser().parse_args(["similar", first, "--db", str(db), "--top", "5"] + ["--json"] * as_json)
    if not as_json:
        print(f"\nMost similar to {first}:")
    return run_similar(ns)
