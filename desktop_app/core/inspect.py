"""The match between two articles laid open: the pairwise similarity matrix and each method's pairs.

The GUI's match inspector and `lookalike inspect` both read an `Inspection`; the scoring always comes from
`desktop_app.core.matching`, never re-implemented here. `render_png` draws the same view with Pillow so
the CLI can export a picture without Qt.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from desktop_app.core import matching
from desktop_app.core.errors import InputError, NoVectors
from desktop_app.core.export_targets import PNG
from desktop_app.core.files import SpreadsheetWriter, atomic_writer, check_output_path, write_bytes
from desktop_app.core.vectors import ArticleVectors
from desktop_app.core.wording import plural, quoted

INSPECT_METHODS = ("greedy", "hungarian", "ordered", "centroid", "max")


@dataclass
class Inspection:
    article_a: str
    article_b: str
    matrix: np.ndarray  # [n_a, n_b] cosine similarities
    paths_a: list[str]
    paths_b: list[str]
    views_a: list[str | None]
    views_b: list[str | None]
    threshold: float | None
    max_matches: int | None
    results: dict[str, matching.MatchResult] = field(default_factory=dict)
    missing_a: list[str] = field(default_factory=list)  # photos without a vector (failed to embed)
    missing_b: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # photo path -> why it has no vector

    def to_dict(self) -> dict:
        def pairs(res: matching.MatchResult) -> list[dict]:
            return [
                {
                    "row": p.row,
                    "col": p.col,
                    "query_path": self.paths_a[p.row],
                    "path": self.paths_b[p.col],
                    "sim": round(p.sim, 4),
                    "rank": p.rank,
                    "used": p.used,
                    "reason": p.reason,
                }
                for p in res.pairs
            ]

        return {
            "article_a": self.article_a,
            "article_b": self.article_b,
            "paths_a": self.paths_a,
            "paths_b": self.paths_b,
            "views_a": self.views_a,
            "views_b": self.views_b,
            "threshold": self.threshold,
            "max_matches": self.max_matches,
            "matrix": np.round(self.matrix, 4).tolist(),
            "methods": {
                m: {"score": _finite(r.score), "passed": r.passed, "fallback": r.fallback, "pairs": pairs(r)}
                for m, r in self.results.items()
            },
            "comparison": compare_line(self),
            "missing_a": self.missing_a,
            "missing_b": self.missing_b,
        }

    def write_csv(self, path: Path) -> None:
        with atomic_writer(path, "w", newline="", what="matrix CSV") as fh:
            w = SpreadsheetWriter(fh)
            w.writerow([f"{self.article_a} \\ {self.article_b}", *self.paths_b])
            for path_a, row in zip(self.paths_a, self.matrix):
                w.writerow([path_a, *(float(v) for v in row)])


def _finite(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None


def inspect_articles(
    av: ArticleVectors,
    a: str,
    b: str,
    threshold: float | None = None,
    max_matches: int | None = None,
    missing: dict[str, list[str]] | None = None,
) -> Inspection:
    """Compare two catalog articles with every method. Raises NoVectors when one has no vectors."""
    missing = missing or {}
    for art in (a, b):
        if art not in av:
            extra = f" ({len(missing.get(art, []))} photos failed to embed)" if missing.get(art) else ""
            raise NoVectors(
                f"Article {quoted(art)} has no embedded photo{extra}, so there is nothing to compare."
            )
    ia, ib = av.article_index(a), av.article_index(b)
    ra, rb = av.rows_of(ia), av.rows_of(ib)
    va, vb = av.vectors[ra], av.vectors[rb]
    ins = Inspection(
        a,
        b,
        matching.similarity_matrix(va, vb),
        av.paths[ra],
        av.paths[rb],
        av.views[ra],
        av.views[rb],
        threshold,
        max_matches,
        missing_a=missing.get(a, []),
        missing_b=missing.get(b, []),
    )
    rescore(ins, va, vb)
    return ins


def rescore(ins: Inspection, va: np.ndarray | None = None, vb: np.ndarray | None = None) -> None:
    """(Re)compute every method's result for the current threshold and m; centroid needs the vectors."""
    for m in INSPECT_METHODS:
        if m == "centroid":
            if va is not None and vb is not None:
                ins.results[m] = matching.centroid(va, vb)
            continue
        ins.results[m] = matching.match(
            m, ins.matrix, ins.views_a, ins.views_b, ins.threshold, ins.max_matches
        )


def compare_line(ins: Inspection) -> str:
    """One sentence on how greedy and Hungarian differ for this pair of articles."""
    g, h = ins.results.get("greedy"), ins.results.get("hungarian")
    if g is None or h is None or not g.used_pairs or not h.used_pairs:
        return "No pair passes the threshold for greedy or Hungarian."
    gt = sum(p.sim for p in g.used_pairs)
    ht = sum(p.sim for p in h.used_pairs)
    gw = min(p.sim for p in g.used_pairs)
    hw = min(p.sim for p in h.used_pairs)
    if {(p.row, p.col) for p in g.used_pairs} == {(p.row, p.col) for p in h.used_pairs}:
        n = len(g.used_pairs)
        same = "the same pair" if n == 1 else f"the same {n} pairs"
        return f"Greedy and Hungarian choose {same} (total {gt:.2f})."
    return f"Hungarian total {ht:.2f} vs greedy {gt:.2f}; its worst pair {hw:.3f} vs greedy's {gw:.3f}."


# ----------------------------------------------------------------------- picture


def _colour(v: float, lo: float, hi: float) -> tuple[int, int, int]:
    """A white -> blue scale: higher similarity, darker blue."""
    t = 0.0 if hi <= lo else min(max((v - lo) / (hi - lo), 0.0), 1.0)
    return (int(255 - t * 225), int(255 - t * 160), int(255 - t * 60))


def render_png(
    ins: Inspection, method: str, out: Path, photo_root: Path | None = None, cell: int = 72
) -> Path:
    """The matrix as a heatmap with thumbnails as headers and the method's pairs marked, as a PNG.

    `method` may name several methods separated by commas ("greedy,hungarian"): their panels are drawn side
    by side, like the GUI inspector's two panes. With the photos offline the picture says so in a line above
    them (`photos_note`), and names the photos instead of showing them.
    """
    from PIL import Image, ImageDraw

    check_output_path(out, "matrix picture", PNG)
    methods = [m.strip() for m in str(method).split(",") if m.strip()]
    if not methods:
        raise InputError("Name at least one method to draw.")
    note = photos_note(ins, photo_root)
    panels = [_render_panel(ins, m, None if note else photo_root, cell) for m in methods]
    gap = 16
    band = NOTE_BAND if note else 0
    img = Image.new(
        "RGB",
        (sum(p.width for p in panels) + gap * (len(panels) - 1), max(p.height for p in panels) + band),
        "white",
    )
    x = 0
    for panel in panels:
        img.paste(panel, (x, band))
        x += panel.width + gap
    if note:
        ImageDraw.Draw(img).text((4, 4), note, fill="#a04000")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return write_bytes(out, buf.getvalue(), what="matrix picture")


def _render_panel(ins: Inspection, method: str, photo_root: Path | None, cell: int):
    from PIL import Image, ImageDraw

    res = ins.results.get(method)
    if res is None:
        raise InputError(f"Unknown method {method!r}; choose from {', '.join(ins.results)}.")
    n_a, n_b = ins.matrix.shape
    head = cell
    legend_h = 64
    w, h = max(head + n_b * cell + 20, 560), head + n_a * cell + legend_h + 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    lo, hi = float(ins.matrix.min()), float(ins.matrix.max())
    lo = min(lo, hi - 1e-6)
    _draw_headers(img, d, ins, photo_root, cell)
    _draw_cells(d, ins, res, lo, hi, cell)
    _draw_legend(d, method, res, lo, hi, head, head + n_a * cell + 12)
    # the title gets a band of its own above the column photos
    framed = Image.new("RGB", (w, h + TITLE_BAND), "white")
    framed.paste(img, (0, TITLE_BAND))
    ImageDraw.Draw(framed).text((4, 5), f"{ins.article_a} (rows) vs {ins.article_b} (columns)", fill="#111")
    return framed


def photos_note(ins: Inspection, photo_root: Path | None) -> str | None:
    """One line when the picture can show no thumbnails: no photo folder is known on this machine, or it is
    offline (none of the compared photos is in it: an unplugged drive, an unmounted share); else None."""
    from desktop_app.core.paths import ROOT_SAMPLE, folder_reachable

    if photo_root is not None and folder_reachable(photo_root, [*ins.paths_a, *ins.paths_b][:ROOT_SAMPLE]):
        return None
    where = (
        f"{photo_root} is not reachable here" if photo_root else "no photo folder is known on this machine"
    )
    return f"The photos are offline ({where}), so no thumbnails: rows and columns are named by view or file."


NOTE_BAND = 20  # pixels above the panels for the line that says the photos are offline


def _thumbnail(photo_root: Path | None, rel: str, cell: int):
    """A photo's thumbnail to fit a header cell; None without a photo folder or when it cannot be read."""
    from desktop_app.core.images import PhotoError, fit_within, load_photo, read_bytes
    from desktop_app.core.paths import photo_file

    if photo_root is None:
        return None
    try:
        return load_photo(
            read_bytes(photo_file(photo_root, rel)), min_size=(cell, cell), shrink=fit_within(cell - 6)
        ).image
    except (PhotoError, OSError):
        return None  # a photo gone or unreadable costs its thumbnail (its name is drawn), not the picture


def _draw_headers(img, d, ins: Inspection, photo_root: Path | None, cell: int) -> None:
    """The column photos along the top and the row photos down the left: thumbnails, else their names."""
    head = cell
    width = label_chars(cell)
    names_b = header_labels(ins.paths_b, ins.views_b, width)
    for j, rel in enumerate(ins.paths_b):
        t = _thumbnail(photo_root, rel, cell)
        x0 = head + j * cell
        if t:
            img.paste(t, (x0 + (cell - t.width) // 2, (head - t.height) // 2))
        else:
            d.text((x0 + 4, head // 2), _drawable(d, names_b[j]), fill="#333")
    names_a = header_labels(ins.paths_a, ins.views_a, width)
    for i, rel in enumerate(ins.paths_a):
        t = _thumbnail(photo_root, rel, cell)
        y0 = head + i * cell
        if t:
            img.paste(t, ((head - t.width) // 2, y0 + (cell - t.height) // 2))
        else:
            d.text((4, y0 + cell // 2), _drawable(d, names_a[i]), fill="#333")


def label_chars(cell: int) -> int:
    """How many characters of the picture's font fit a header cell of `cell` pixels (about 6 px each)."""
    return max(4, (cell - 8) // 6)


def header_labels(paths: list[str], views: list[str | None], width: int) -> list[str]:
    """Names for the photos along one side of the matrix when no thumbnail is drawn, each distinct and at
    most `width` characters: the view tags when they tell the photos apart, else the file names, else the
    stored paths; cut at the front ("…gray_back"), since photos of one article differ at the end."""
    names = _telling_names(paths, views)
    labels = [_elided(name, width) for name in names]
    if len(set(labels)) < len(labels):  # alike once cut (they differ in the middle): numbered
        labels = [f"{k} {_elided(name, width - len(str(k)) - 1)}" for k, name in enumerate(names, 1)]
    return labels


def _telling_names(paths: list[str], views: list[str | None]) -> list[str]:
    if all(views) and len(set(views)) == len(views):
        return [str(v) for v in views]
    stems = [PurePosixPath(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [str(PurePosixPath(p).with_suffix("")) for p in paths]


def _elided(text: str, width: int) -> str:
    return text if len(text) <= width else ELLIPSIS + text[len(text) - width + 1 :]


ELLIPSIS = "…"


def _drawable(d, text: str) -> str:
    """Pillow's bitmap font (without FreeType) has no "…": two dots instead."""
    from PIL import ImageFont

    return text if isinstance(d.getfont(), ImageFont.FreeTypeFont) else text.replace(ELLIPSIS, "..")


def _draw_cells(d, ins: Inspection, res: matching.MatchResult, lo: float, hi: float, cell: int) -> None:
    """Every similarity as a coloured cell with its value, and the method's pairs marked."""
    head = cell
    n_a, n_b = ins.matrix.shape
    chosen = {(p.row, p.col): p for p in res.pairs}
    # Greyed like the GUI: a photo the method paired with nothing (pairs left out by s or m keep their mark).
    paired_rows = {p.row for p in res.pairs}
    paired_cols = {p.col for p in res.pairs}
    for i in range(n_a):
        for j in range(n_b):
            x0, y0 = head + j * cell, head + i * cell
            v = float(ins.matrix[i, j])
            fill = _colour(v, lo, hi)
            if res.pairs and (i not in paired_rows or j not in paired_cols):
                fill = tuple(int(c * 0.55 + 200 * 0.45) for c in fill)  # unpaired row and column: greyed
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=fill, outline="#ffffff")
            ink = "#ffffff" if sum(fill) < 420 else "#111111"
            d.text((x0 + cell // 2 - 12, y0 + cell // 2 - 6), f"{v:.3f}", fill=ink)
            p = chosen.get((i, j))
            if p is not None:
                _draw_pair_mark(d, p, x0, y0, cell)


def _draw_pair_mark(d, p: matching.Pair, x0: int, y0: int, cell: int) -> None:
    """A chosen pair's frame and rank (orange when used), struck through below s, "m" beyond m."""
    colour = "#e07b00" if p.used else "#888888"
    d.rectangle([x0 + 2, y0 + 2, x0 + cell - 3, y0 + cell - 3], outline=colour, width=3)
    d.text((x0 + 5, y0 + 4), f"({p.rank})", fill=colour)
    if p.reason == matching.BELOW_THRESHOLD:
        d.line([x0 + 6, y0 + cell // 2, x0 + cell - 6, y0 + cell // 2], fill="#c0392b", width=2)
    elif p.reason == matching.BEYOND_M:
        d.text((x0 + cell - 16, y0 + 4), "m", fill="#c0392b")


def _draw_legend(d, method: str, res: matching.MatchResult, lo: float, hi: float, x: int, y: int) -> None:
    """The colour scale from lo to hi, and the method's score."""
    for k in range(200):
        v = lo + (hi - lo) * k / 199
        d.line([x + k, y, x + k, y + 14], fill=_colour(v, lo, hi))
    d.text((x, y + 18), f"{lo:.3f}", fill="#333")
    d.text((x + 170, y + 18), f"{hi:.3f}", fill="#333")
    score = "n/a" if not np.isfinite(res.score) else f"{res.score:.3f}"
    d.text((x + 220, y), f"{method}: score {score}, {plural(res.passed, 'pair')} used", fill="#111")


TITLE_BAND = 22  # pixels above a method's panel for its title
