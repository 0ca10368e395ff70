"""Where two photos differ, for a curator to see: the cells of the fingerprint grid (`core.fingerprints`) that
differ once the two are compared as the duplicate finder compares them, carried back into each photo's own
frame (through the comparison's order, swap and mirror image), and the part of one photo a crop of it kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core.fingerprints import Fingerprint, _centred, _compare_aligned, _Compared, _compared


@dataclass(frozen=True)
class Changes:
    """Where one photo of a compared pair differs from the other, in the photo's own frame: cells of the
    fingerprint's grid over the whole picture (rows from the top), as a curator sees the photo."""

    cells: np.ndarray  # [GRID, GRID] bool
    # (left, top, right, bottom), relative: the part of this photo the other one shows, when the other is a
    # crop of it; None when both show about the same part
    frame: tuple[float, float, float, float] | None = None


FULL_FRAME = 0.98  # a crop keeping this share of the picture's area or more is not outlined


def changes(a: Fingerprint, b: Fingerprint) -> tuple[Changes, Changes]:
    """Where photos a and b differ, compared as `compare` compares them (aligned, mirrored when that wins,
    the brightness gain taken out): the cells that differ, in groups of two or more, in each photo's own
    frame, and on the photo that shows more of the scene, the part of it the other one shows."""
    _diffs, found, flip, turned = _compared([(a, b)], None)
    found = _fewer_changed(found, (b, a) if turned[0] else (a, b), bool(flip[0]))
    cells, (sx, tx, sy, ty) = _grouped(found.cells[0]), found.fit[0]
    other, frame = _carried(cells, sx, tx, sy, ty), _frame(sx, tx, sy, ty)
    # The comparison's first picture is the one the other was resampled onto: picture b of the (possibly
    # turned) pair when it was swapped, with its columns reversed when the pair was compared mirrored.
    first = Changes(cells)
    second = Changes(other, frame)
    x, y = (second, first) if found.swapped[0] else (first, second)
    if flip[0]:
        y = Changes(y.cells[:, ::-1].copy(), None if y.frame is None else _mirrored(y.frame))
    return (y, x) if turned[0] else (x, y)


def _fewer_changed(found: _Compared, pair: tuple[Fingerprint, Fingerprint], flip: bool) -> _Compared:
    """The comparison of one pair as found, or the photos laid over each other as they are when that leaves
    fewer cells changed. The alignment is fitted to luma profiles, which a recoloured garment changes: two
    colours of one shot can then seem cropped and shifted, and differ in the face and the backdrop too."""
    pa, pb = (_centred(p.picture[None]) for p in pair)
    if flip:
        pb = pb[:, :, ::-1]
    one, zero = np.ones(1), np.zeros(1)
    still = _compare_aligned(pa, pb.copy(), (one, zero, one, zero))
    return still if still.changed[0] < found.changed[0] else found


def _grouped(cells: np.ndarray) -> np.ndarray:
    """The changed cells that touch another (of their 8 neighbours): a lone cell is an edge the alignment
    left a cell off more often than a change a curator would look for."""
    pad = np.pad(cells, 1)
    n = cells.shape[0]
    touching = sum(
        pad[1 + dy : 1 + dy + n, 1 + dx : 1 + dx + n] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx
    )
    return cells & (touching > 0)


def _carried(cells: np.ndarray, sx: float, tx: float, sy: float, ty: float) -> np.ndarray:
    """The changed cells of one picture carried onto the other's grid, x = s * u + t: every cell of the other
    that holds a changed cell's centre, or whose centre lies in a changed cell."""
    n = cells.shape[0]
    centres = (np.arange(n) + 0.5) / n
    out = np.zeros_like(cells)
    u, v = (centres - tx) / sx, (centres - ty) / sy
    rows, cols = np.nonzero(cells & _within(v)[:, None] & _within(u)[None, :])
    out[_cell(v[rows], n), _cell(u[cols], n)] = True
    x, y = sx * centres + tx, sy * centres + ty
    pulled = cells[np.ix_(_cell(y, n), _cell(x, n))]
    return out | (pulled & _within(y)[:, None] & _within(x)[None, :])


def _within(c: np.ndarray) -> np.ndarray:
    return (c >= 0.0) & (c < 1.0)


def _cell(c: np.ndarray, n: int) -> np.ndarray:
    return np.clip(np.floor(c * n), 0, n - 1).astype(np.int64)


def _frame(sx: float, tx: float, sy: float, ty: float) -> tuple[float, float, float, float] | None:
    """Where the first picture's frame lies in the other (relative), when it is clearly a part of it."""
    left, right = np.clip([(0.0 - tx) / sx, (1.0 - tx) / sx], 0.0, 1.0)
    top, bottom = np.clip([(0.0 - ty) / sy, (1.0 - ty) / sy], 0.0, 1.0)
    if (right - left) * (bottom - top) >= FULL_FRAME:
        return None
    return float(left), float(top), float(right), float(bottom)


def _mirrored(frame: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    left, top, right, bottom = frame
    return 1.0 - right, top, 1.0 - left, bottom
