"""The picture of `labels evaluate --plot`: two panels drawn with Pillow (no plotting library needed).

Left, accuracy against coverage: what a curator keeps at each minimum confidence. Right, the reliability
diagram: per confidence bin, the suggestions' mean confidence against the share of them that were right,
for the raw vote shares and for the calibrated confidences (cross-fitted, as `labels evaluate` reports
them); on the diagonal a confidence means what it says.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.files import write_bytes
from desktop_app.core.labels import LabelEvaluation

SIZE = (1200, 460)  # both panels, the title above them and the legend beside the diagram
CURVE = "#1f6fb2"  # the coverage curve, and the calibrated confidences
RAW = "#e07b00"  # the raw vote shares
TARGET = "#d9534f"  # the 95% accuracy line
GRID, FRAME, INK, FAINT = "#e4e4e4", "#444", "#111", "#888"


@dataclass(frozen=True)
class Axes:
    """A plotting area in pixels and the data ranges it shows (x left to right, y bottom to top)."""

    left: float
    top: float
    width: float
    height: float
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.left + (x - self.x0) / (self.x1 - self.x0) * self.width,
            self.top + (self.y1 - y) / (self.y1 - self.y0) * self.height,
        )

    @property
    def box(self) -> list[float]:
        return [self.left, self.top, self.left + self.width, self.top + self.height]


# Where the two panels are drawn (the coverage panel's accuracy axis starts below its curve, see
# `_accuracy_ticks`; the reliability diagram shows 0..1 both ways).
COVERAGE_AXES = Axes(80, 70, 470, 340)
RELIABILITY_AXES = Axes(660, 70, 340, 340)


def plot_evaluation(ev: LabelEvaluation, path: Path, scope: str = "leave-one-out") -> Path:
    """Both panels as a PNG at `path` (written through `files.write_bytes`); `scope` names the protocol."""
    return write_bytes(path, evaluation_png(ev, scope), what="plot")


def evaluation_png(ev: LabelEvaluation, scope: str = "leave-one-out") -> bytes:
    """Both panels as PNG bytes (the app shows them as they are, `plot_evaluation` writes them)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    d.text(
        (20, 12),
        f"Label suggestions ({ev.field}), {scope}, {ev.method}, k={ev.k}, {ev.n:,} articles",
        fill=INK,
    )
    _coverage_panel(d, COVERAGE_AXES, ev)
    _reliability_panel(d, RELIABILITY_AXES, ev)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _accuracy_ticks(ev: LabelEvaluation) -> tuple[float, float]:
    """The lowest accuracy shown and the grid step: the axis starts just below the curve (and the 95% line),
    since on a good catalogue the whole curve sits above 0.9 and a 0..1 axis flattens it into the top edge."""
    lowest = min([p.accuracy for p in ev.curve] + [0.95]) - 0.01
    for step in (0.025, 0.05, 0.1, 0.25):  # the finest round step that needs at most six grid lines
        lo = max(0.0, float(np.floor(lowest / step) * step))
        if (1 - lo) / step <= 6.001:
            return lo, step
    return 0.0, 0.25


def _coverage_panel(d, ax: Axes, ev: LabelEvaluation) -> None:
    lo, step = _accuracy_ticks(ev)
    ax = Axes(ax.left, ax.top, ax.width, ax.height, y0=lo)
    y_ticks = [lo + i * step for i in range(int(round((1 - lo) / step)) + 1)]
    _grid(d, ax, [0.0, 0.25, 0.5, 0.75, 1.0], y_ticks, "{:.2f}", "{:.3f}" if step < 0.05 else "{:.2f}")
    _, y95 = ax.xy(0, 0.95)
    d.line([ax.left, y95, ax.left + ax.width, y95], fill=TARGET)
    d.text((ax.left + 6, y95 + 4), "95% accuracy", fill=TARGET)
    pts = [ax.xy(p.coverage, p.accuracy) for p in sorted(ev.curve, key=lambda p: p.coverage)]
    if len(pts) > 1:
        d.line(pts, fill=CURVE, width=3)
    best = [p for p in ev.curve if p.accuracy >= 0.95 and p.coverage == ev.coverage_at_95]
    if best:
        bx, by = ax.xy(best[0].coverage, best[0].accuracy)
        d.ellipse([bx - 5, by - 5, bx + 5, by + 5], outline=INK, width=2)
        note = f"{best[0].coverage:.1%} at confidence >= {best[0].threshold:.2f}"
        tw = d.textlength(note)
        # Accuracy falls as coverage grows, so the curve runs up-left and down-right of the marker:
        # the note goes in an empty corner, below-left near the right edge, else above-right.
        spot = (bx - tw - 10, by + 10) if bx + tw + 12 > ax.left + ax.width else (bx + 10, by - 18)
        d.text(spot, note, fill=INK)
    _labels(
        d,
        ax,
        f"Accuracy {ev.accuracy:.1%} at full coverage, {ev.coverage_at_95:.1%} coverage at >= 95%",
        "coverage (share of articles given a suggestion)",
        "accuracy",
    )


def _reliability_panel(d, ax: Axes, ev: LabelEvaluation) -> None:
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    _grid(d, ax, ticks, ticks, "{:.1f}", "{:.1f}")
    _dashed(d, [ax.xy(0, 0), ax.xy(1, 1)], FAINT)
    series = [(ev.reliability_raw, RAW, f"raw vote shares: {ev.ece_raw:.3f}")]
    if ev.not_calibrated is None and ev.ece_calibrated is not None:
        series.append((ev.reliability, CURVE, f"calibrated confidences: {ev.ece_calibrated:.3f}"))
    largest = max([b["n"] for rows, _, _ in series for b in rows] + [1])
    for rows, colour, _ in series:
        pts = [ax.xy(b["confidence"], b["accuracy"]) for b in rows]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for (x, y), b in zip(pts, rows):
            r = 3 + 6 * (b["n"] / largest) ** 0.5  # the area grows with the bin's suggestions
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline="white")
    # The legend goes beside the diagram: inside, it would hide the points of an under- or over-confident
    # series, which lie above or below the diagonal.
    x, y = ax.left + ax.width + 16, ax.top
    for _, colour, text in series:
        d.rectangle([x, y + 2, x + 10, y + 12], fill=colour)
        name, figure = text.split(": ")
        d.text((x + 16, y), name, fill=INK)
        d.text((x + 16, y + 15), f"expected calibration error {figure.removeprefix('ECE ')}", fill=INK)
        y += 40
    _dashed(d, [(x, y + 7), (x + 10, y + 7)], FAINT)
    d.text((x + 16, y), "a confidence that means", fill=FAINT)
    d.text((x + 16, y + 15), "what it says", fill=FAINT)
    if ev.not_calibrated:
        d.text((x, y + 45), "no calibration fitted:", fill=FAINT)
        d.text((x, y + 60), ev.not_calibrated[:30], fill=FAINT)
    _labels(
        d,
        ax,
        "Reliability: suggestions binned by confidence (dot area: how many)",
        "confidence (mean of the bin)",
        "share right",
    )


def _grid(d, ax: Axes, xs: list[float], ys: list[float], x_format: str, y_format: str) -> None:
    for v in xs:
        x, _ = ax.xy(v, ax.y1)
        d.line([x, ax.top, x, ax.top + ax.height], fill=GRID)
        d.text((x - 10, ax.top + ax.height + 6), x_format.format(v), fill="#333")
    for a in ys:
        _, y = ax.xy(ax.x0, a)
        d.line([ax.left, y, ax.left + ax.width, y], fill=GRID)
        d.text((ax.left - 40, y - 6), y_format.format(a), fill="#333")
    d.rectangle(ax.box, outline=FRAME)  # over the grid's ends


def _labels(d, ax: Axes, title: str, x_label: str, y_label: str) -> None:
    d.text((ax.left, ax.top - 34), title, fill=INK)
    d.text((ax.left + ax.width / 2 - d.textlength(x_label) / 2, ax.top + ax.height + 26), x_label, fill=INK)
    d.text((ax.left - 40, ax.top - 18), y_label, fill=INK)


def _dashed(d, ends: list[tuple[float, float]], colour: str, dash: float = 6.0) -> None:
    (xa, ya), (xb, yb) = ends
    length = float(np.hypot(xb - xa, yb - ya))
    steps = int(length // dash)
    for i in range(0, steps, 2):
        t0, t1 = i * dash / length, min((i + 1) * dash / length, 1.0)
        d.line(
            [xa + (xb - xa) * t0, ya + (yb - ya) * t0, xa + (xb - xa) * t1, ya + (yb - ya) * t1], fill=colour
        )
