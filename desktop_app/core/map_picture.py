"""The catalog map's colours (shared by the app's map view and the picture) and the map as a PNG.

Articles are coloured by a label field (the most common values get their own colour, the rest "other"),
by folder, or by whether they are labelled at all. The picture is drawn with Pillow: cover thumbnails
framed in their colour when the photos are reachable and there is room for them, dots otherwise, with a
legend placed where it covers no article (a corner they leave free, or a column or band of its own).
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.errors import InputError
from desktop_app.core.layout import MapLayout

BY_FOLDER = "folder"
BY_UNLABELLED = "unlabelled"
UNLABELLED = "(unlabelled)"
OTHER = "(other)"
MAX_GROUPS = 16  # distinct colours a curator can tell apart on a map; rarer values share "other"
# The marks of the similar panel's search on the map (rings in the app): reserved, no group gets them.
MARK_RESULT = "#ff7a00"
MARK_QUERY = "#d0021b"
MARK_COLOURS = (MARK_RESULT, MARK_QUERY)
# Chosen by tools/map_palette.py (which prints the figures): every colour reads as a dot on the light and
# the dark map background (>= 3:1), keeps away from the marks and the greys, and is picked farthest-first,
# so the first N colours, which N groups get, are as far apart as they can be (CIEDE2000 >= 16 over all
# sixteen, >= 21 over the first eight; the old hand-picked ones: 11 and 15).
PALETTE = (
    "#d200ff",
    "#00aa00",
    "#0f78ff",
    "#aa9100",
    "#fa5a8c",
    "#009182",
    "#965f28",
    "#915a82",
    "#5f7332",
    "#00a0c8",
    "#9b8cc8",
    "#be8273",
    "#6e5abe",
    "#7d9b73",
    "#19738c",
    "#d2005a",
)
# "other" and "unlabelled" are greys, meant to recede but still be seen: >= 3:1 on white (the dark view
# gives them the same contrast on its background), and apart from each other.
OTHER_COLOUR = "#6b6b6b"
UNLABELLED_COLOUR = "#949494"
MIN_THUMB_PX = 24  # below this a cover says nothing; the picture shows dots


@dataclass
class Colouring:
    """Colour group of each article (an index into `legend`) and the legend: (value, colour, count)."""

    codes: np.ndarray
    legend: list[tuple[str, str, int]]
    own: dict[str, str] = field(default_factory=dict)  # value -> its colour, for the values with their own

    def colour_of(self, i: int) -> str:
        return self.legend[int(self.codes[i])][1]


def preferred_slot(value: str, slots: int = len(PALETTE)) -> int:
    """The palette colour (of the first `slots`) a value asks for first: the same in every run, picture and
    app (not hash(), which Python salts per process)."""
    return zlib.crc32(value.encode("utf-8")) % max(1, min(slots, len(PALETTE)))


def assign_colours(values: Sequence[str], keep: dict[str, str] | None = None) -> dict[str, str]:
    """A colour for each value: the one it had in `keep` if still free, else the first free one of the
    palette's first len(values) from its preferred slot on. N groups share the first N colours, the ones
    farthest apart; a value's colour follows the value, not its rank in the legend, so labelling some
    articles (which reorders the counts) does not repaint every group."""
    keep = keep or {}
    out: dict[str, str] = {}
    used: set[str] = set()
    for v in values:
        colour = keep.get(v)
        if colour in PALETTE and colour not in used:
            out[v] = colour
            used.add(colour)
    slots = min(len(PALETTE), max(1, len(values)))
    for v in sorted(values):  # by name, not by count: the same values get the same colours at any counts
        if v in out:
            continue
        start = preferred_slot(v, slots)
        order = [PALETTE[(start + step) % slots] for step in range(slots)] + list(PALETTE[slots:])
        colour = next((c for c in order if c not in used), None)
        if colour is not None:
            out[v] = colour
            used.add(colour)
    return out


def colour_values(
    by: str, articles: Sequence[str], labels: dict[str, dict[str, str]], folders: dict[str, str]
) -> list[str | None]:
    """The value each article is coloured by: a label field's value, its folder, or labelled/unlabelled."""
    if by == BY_FOLDER:
        return [folders.get(a) or "(top folder)" for a in articles]
    if by == BY_UNLABELLED:
        return ["labelled" if labels.get(a) else None for a in articles]
    return [labels.get(a, {}).get(by) or None for a in articles]


def colouring(
    values: Sequence[str | None], max_groups: int = MAX_GROUPS, keep: dict[str, str] | None = None
) -> Colouring:
    """Colour groups: the most common values first (ties by name), rarer ones "other", none "unlabelled".

    Each value's colour is stable (see `assign_colours`); `keep` is what a view showed before, so a value
    keeps its colour for the session even when a new value would have asked for the same one."""
    counts = Counter(v for v in values if v)
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    own = ranked[:max_groups] if len(ranked) <= max_groups else ranked[: max_groups - 1]
    code_of = {v: i for i, v in enumerate(own)}
    colour = assign_colours(own, keep)
    legend = [(v, colour[v], counts[v]) for v in own]
    other_code = unlabelled_code = -1
    n_other = sum(counts[v] for v in ranked[len(own) :])
    if n_other:
        other_code = len(legend)
        legend.append((f"{OTHER} {len(ranked) - len(own)} values", OTHER_COLOUR, n_other))
    n_none = sum(1 for v in values if not v)
    if n_none:
        unlabelled_code = len(legend)
        legend.append((UNLABELLED, UNLABELLED_COLOUR, n_none))
    codes = np.array([code_of.get(v, other_code) if v else unlabelled_code for v in values], dtype=np.int32)
    return Colouring(codes, legend, colour)


# ============================================================================ the picture


def parse_size(text: str) -> tuple[int, int]:
    """ "2000x2000" -> (2000, 2000); between 200 and 16000 pixels a side."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"A size is WIDTHxHEIGHT in pixels, e.g. 2000x2000 (got {text!r}).") from None
    if not (200 <= w <= 16000 and 200 <= h <= 16000):
        raise InputError(f"Each side of the picture must be 200 to 16000 pixels (got {text}).")
    return w, h


@dataclass
class PictureStats:
    thumbnails: int  # covers drawn
    dots: int  # articles drawn as dots (no room, or their photo could not be read)
    thumb_px: int  # side of a cover; 0 when the picture is all dots
    legend: str = "inset"  # where the legend went: "inset" (a corner no article reaches), "column" (beside
    # the map), "band" (above it), "none" (no room for both)
    legend_box: tuple[int, int, int, int] | None = None  # left, top, right, bottom; None without a legend


@dataclass
class PicturePlan:
    """Where everything goes: each article's centre, the side of a cover (0: dots), a dot's radius, and the
    legend's place and box."""

    pos: np.ndarray
    thumb: int
    radius: float
    legend: str
    legend_box: tuple[int, int, int, int] | None


def plan_picture(
    layout: MapLayout, colours: Colouring, size: tuple[int, int], title: str, covers: bool, draw=None
) -> PicturePlan:
    """Lay the picture out so that the legend covers no article: over a corner no article reaches, in a
    column on the right or in a band at the top, whichever leaves the map the largest; without a legend
    when the map would be left too small beside it."""
    from PIL import Image, ImageDraw

    draw = draw or ImageDraw.Draw(Image.new("RGB", (1, 1)))
    w, h = size
    margin = max(24, min(w, h) // 30)
    gap = margin // 2
    legend_w, legend_h = _legend_size(draw, colours, title)
    legend_h = min(legend_h, h - margin)  # a legend taller than the picture is cut ("… N more")
    candidates = [
        ("inset", (0, 0, w, h), (gap, gap)),
        ("column", (0, 0, w - legend_w - gap, h), (w - legend_w - gap, gap)),
        ("band", (0, legend_h + gap, w, h), (gap, gap)),
    ]
    best: PicturePlan | None = None
    best_scale = 0.0
    for kind, area, at in candidates:
        x0, y0, x1, y1 = area
        if min(x1 - x0, y1 - y0) < MIN_MAP_PX:
            continue
        pos, scale = _fit(layout.xy, area, margin)
        thumb, radius = _mark_size(len(layout), area, margin, covers)
        box = (at[0], at[1], at[0] + legend_w, at[1] + legend_h)
        if kind == "inset" and _covers_any(pos, box, max(thumb / 2 + 3, radius) + gap):
            continue
        if best is None or scale > best_scale:
            best, best_scale = PicturePlan(pos, thumb, radius, kind, box), scale
    if best is None:
        pos, _ = _fit(layout.xy, (0, 0, w, h), margin)
        thumb, radius = _mark_size(len(layout), (0, 0, w, h), margin, covers)
        best = PicturePlan(pos, thumb, radius, "none", None)
    return best


def render_png(
    layout: MapLayout,
    colours: Colouring,
    size: tuple[int, int] = (2000, 2000),
    cover_of: Callable[[str], Path | None] | None = None,
    title: str = "",
) -> tuple[bytes, PictureStats]:
    """The map as PNG bytes. `cover_of(article)` gives a cover photo's file (None: no photo): covers are drawn
    when given and there is room for them (at least MIN_THUMB_PX), dots otherwise. The legend covers no
    article (see `plan_picture`)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    plan = plan_picture(layout, colours, size, title, cover_of is not None, draw)
    pos, thumb, radius = plan.pos, plan.thumb, plan.radius
    order = np.argsort(pos[:, 1], kind="stable")  # lower ones drawn last, over the ones above
    drawn = dots = 0
    for i in order:
        x, y = float(pos[i, 0]), float(pos[i, 1])
        colour = colours.colour_of(i)
        tile = _cover_tile(cover_of(layout.articles[i]), thumb) if thumb else None
        if tile is None:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline="white")
            dots += 1
            continue
        tw, th = tile.size
        left, top = int(x - tw / 2), int(y - th / 2)
        draw.rectangle([left - 3, top - 3, left + tw + 2, top + th + 2], fill=colour)
        img.paste(tile, (left, top))
        drawn += 1
    if plan.legend_box is not None:
        _legend(draw, colours, title, plan.legend_box)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue(), PictureStats(drawn, dots, thumb, plan.legend, plan.legend_box)


def _mark_size(n: int, area: tuple[int, int, int, int], margin: int, covers: bool) -> tuple[int, float]:
    """The side of a cover (0: dots) and a dot's radius for n articles in an area."""
    x0, y0, x1, y1 = area
    # Room per article if they were spread evenly; t-SNE packs them into clusters, hence the 0.7.
    cell = float(np.sqrt(max(1, x1 - x0 - 2 * margin) * max(1, y1 - y0 - 2 * margin) / max(1, n))) * 0.7
    thumb = int(min(128, cell)) if covers and cell >= MIN_THUMB_PX else 0
    return thumb, float(np.clip(cell * 0.18, 2.0, 7.0))


def _covers_any(pos: np.ndarray, box: tuple[int, int, int, int], reach: float) -> bool:
    """Whether any article (reaching this far from its centre) would be drawn under the box."""
    if pos.shape[0] == 0:
        return False
    left, top, right, bottom = box
    return bool(
        (
            (pos[:, 0] + reach >= left)
            & (pos[:, 0] - reach <= right)
            & (pos[:, 1] + reach >= top)
            & (pos[:, 1] - reach <= bottom)
        ).any()
    )


def _fit(xy: np.ndarray, area: tuple[int, int, int, int], margin: int) -> tuple[np.ndarray, float]:
    """Layout units to pixels in an area (left, top, right, bottom): the same scale on both axes, centred;
    and that scale."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape[0] == 0:
        return xy, 1.0
    x0, y0, x1, y1 = area
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    scale = float(min((x1 - x0 - 2 * margin) / span[0], (y1 - y0 - 2 * margin) / span[1]))
    centre = (lo + hi) / 2
    return (xy - centre) * scale + np.array([(x0 + x1) / 2, (y0 + y1) / 2]), scale


def _cover_tile(path: Path | None, size: int):
    from PIL import Image

    from desktop_app.core import thumbnails
    from desktop_app.core.images import PhotoError

    if path is None:
        return None
    try:
        made = thumbnails.thumbnail(path, thumbnails.DEFAULT_SIZE if size <= 160 else 256)
        with Image.open(made) as im:
            tile = im.convert("RGB")
    except (PhotoError, OSError):
        return None
    tile.thumbnail((size, size))
    return tile


LEGEND_LINE = 18  # pixels per legend row
MIN_MAP_PX = 160  # narrower than this beside a legend column, the map goes without the legend


def _legend_size(draw, colours: Colouring, title: str) -> tuple[int, int]:
    rows = colours.legend
    width = max([draw.textlength(f"{v} ({c})") for v, _, c in rows] + [draw.textlength(title)]) + 40
    return int(width), LEGEND_LINE * (len(rows) + (1 if title else 0)) + 12


def _legend(draw, colours: Colouring, title: str, box: tuple[int, int, int, int]) -> None:
    """The legend in its box, its rows cut to what fits ("… N more" for the rest)."""
    x0, y0, x1, bottom = box
    fit = max(1, (bottom - y0 - 12) // LEGEND_LINE - (1 if title else 0))
    rows = list(colours.legend)
    if len(rows) > fit:
        rest = rows[fit - 1 :]
        rows = rows[: fit - 1] + [(f"… {len(rest)} more", "#ffffff", sum(c for _, _, c in rest))]
    height = LEGEND_LINE * (len(rows) + (1 if title else 0)) + 12
    draw.rectangle([x0, y0, x1, y0 + height], fill="#ffffffe0", outline="#bbbbbb")
    y = y0 + 6
    if title:
        draw.text((x0 + 8, y), title, fill="#111111")
        y += LEGEND_LINE
    for value, colour, count in rows:
        draw.ellipse([x0 + 8, y + 3, x0 + 18, y + 13], fill=colour)
        draw.text((x0 + 26, y), f"{value} ({count})", fill="#222222")
        y += LEGEND_LINE
