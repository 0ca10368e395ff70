"""Choose the catalog map's categorical colours, and print how far apart they look.

The map colours articles by a label value (up to 16 groups). The palette is chosen here, once, and pasted
into `desktop_app/core/map_picture.py` (PALETTE): from every sRGB colour on a grid of 5/255 steps, keep the
ones a dot can be seen in on both the light and the dark map background (WCAG contrast >= 3:1 on each) and
that are not grey-ish (CIELAB chroma >= 25, the greys are "other" and "unlabelled"); then pick greedily the
candidate farthest (CIEDE2000) from every colour already picked and from the reserved ones (the marks of the
query and its results, the selection ring, the greys, the backgrounds). Greedy farthest-first order means
every prefix of the palette is well spread too, and the map gives N groups the first N colours.

    python tools/map_palette.py          # the figures of the palette in map_picture.py (and the old one)
    python tools/map_palette.py --pick   # choose the palette again and print it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_app.core import map_picture as pic  # noqa: E402
from desktop_app.core.colour_metrics import contrast, delta_e, hex_rgb, lab, min_delta_e  # noqa: E402

BACKGROUNDS = ("#ffffff", "#1f2023")  # the map's background in the light and the dark palette (gui/theme.py)
RINGS = ("#1d1f22", "#e8e8ea")  # the selection ring: the palette's text colour, light and dark
# The palette before this tool, for comparison.
OLD_PALETTE = tuple(
    "#2f6db5 #e07b1a #3a9a3a #c93a3a #8a5cc2 #8c5a4a #d66bb0 #17a2b8 "
    "#b5b51e #1e4f7a #f2a65a #7fc97f #f08080 #b39ddb #5d6d7e #00897b".split()
)
MIN_CONTRAST = 3.0
MIN_CHROMA = 25.0


def reserved() -> tuple[str, ...]:
    return BACKGROUNDS + RINGS + pic.MARK_COLOURS + (pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR)


def pick(n: int = pic.MAX_GROUPS) -> list[str]:
    """The palette: greedy farthest-first over the candidates that pass the contrast and chroma bars."""
    steps = np.arange(0, 256, 5) / 255
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    ok = np.ones(len(grid), dtype=bool)
    for bg in hex_rgb(BACKGROUNDS):
        ok &= contrast(grid, bg) >= MIN_CONTRAST
    labs = lab(grid)
    ok &= np.hypot(labs[:, 1], labs[:, 2]) >= MIN_CHROMA
    cand, labs = grid[ok], labs[ok]
    nearest = delta_e(labs[:, None, :], lab(hex_rgb(reserved()))[None]).min(axis=1)
    chosen: list[int] = []
    for _ in range(n):
        i = int(np.argmax(nearest))
        chosen.append(i)
        nearest = np.minimum(nearest, delta_e(labs, labs[i][None]))
    return ["#" + "".join(f"{int(round(v * 255)):02x}" for v in cand[i]) for i in chosen]


def figures(name: str, palette: tuple[str, ...] | list[str]) -> None:
    spread = "  ".join(f"first {n}: {min_delta_e(palette[:n]):5.1f}" for n in (4, 8, 12, 16))
    to_marks = delta_e(lab(hex_rgb(palette))[:, None], lab(hex_rgb(pic.MARK_COLOURS))[None]).min()
    worst = min(float(contrast(hex_rgb(palette), bg).min()) for bg in hex_rgb(BACKGROUNDS))
    print(
        f"{name}: min CIEDE2000 {spread}  | to the marks {to_marks:5.1f} | min contrast on backgrounds {worst:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pick", action="store_true", help="choose the palette again and print it (default: no)")
    args = ap.parse_args()
    if args.pick:
        chosen = pick()
        print("PALETTE = (\n" + "".join(f'    "{c}",\n' for c in chosen) + ")")
        figures("picked", chosen)
    figures("old    ", OLD_PALETTE)
    figures("current", pic.PALETTE)
    for grey in (pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR):
        shown = ", ".join(
            f"{float(contrast(hex_rgb([grey])[0], hex_rgb([bg])[0])):.2f}" for bg in BACKGROUNDS
        )
        print(f"{grey} contrast on {', '.join(BACKGROUNDS)}: {shown} (the dark view mirrors the light one)")


if __name__ == "__main__":
    main()
