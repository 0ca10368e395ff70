"""Small signatures of photos that tell "the same picture" from "the same kind of picture", and their comparison.

The embedding says two photos look alike; it cannot tell a re-export of one photo from the same shot
recoloured for another colourway (a catalogue's other colours are often exactly that). A `Fingerprint` keeps
what the second signal needs: a 64-bit DCT hash (pHash: the signs of the 8x8 lowest frequencies of a 32x32
grey picture against their median; a mirrored copy has its own hash) and a GRID x GRID picture in luma and
chroma (Y, Cb, Cr). `compare` aligns two such pictures (scale and shift per axis, from their row and column
profiles, so a crop of a few percent lines up; as they are and mirrored, the hashes being no guide once a
crop has shifted the picture), takes out one global brightness gain, and measures which share of the
picture still differs in luma and in chroma, and in chroma where both show the subject rather than the
backdrop. A resize or a recompression leaves almost nothing, a brightness change is taken out by the gain
(the darker picture brightened onto the brighter, so that a white backdrop clipped in both stays white in
both), a small overlay changes a sliver (on the backdrop, for a sticker in a corner), and a recoloured
garment changes chroma on the subject. The answer is the same whichever photo comes first.

Own numpy code, not the `imagehash` library: on the Magento test corpus both separate duplicates from other
photos identically (the same distance percentiles per transformation) and differ by about one bit of 64
(imagehash resizes with Lanczos and puts the DC term into its median); ours adds no dependency, and
imagehash has no mirror hash or colour picture (`benchmarks/duplicates_eval.py --compare-hashes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.images import decoded, read_bytes

VERSION = 1  # stored with each fingerprint: a new layout makes old ones be computed again
GRID = 48  # the colour picture's side (GRID x GRID cells, about 2% of a side each)
HASH_SIZE = 32  # pHash input: a HASH_SIZE x HASH_SIZE grey picture
# Alignment search: relative scale and shift between the two pictures, per axis (a crop of up to ~10%).
_SCALES = np.linspace(0.88, 1.12, 13)
_SHIFTS = np.linspace(-0.09, 0.09, 19)
_FINE_SCALES = np.linspace(-0.015, 0.015, 7)
_FINE_SHIFTS = np.linspace(-0.0075, 0.0075, 7)
MIN_OVERLAP = 0.8  # of each axis: below it two pictures are not one picture cropped
WHITE = 250.0  # luma at or above this is clipped background: useless for fitting a gain
LUMA_CHANGED = 20.0  # a cell "differs in luma" beyond this (0-255 scale), after the gain is taken out
CHROMA_CHANGED = 10.0  # a cell "differs in colour" beyond this in Cb or Cr
# Share of cells by which the mirror image must differ less than the picture as it is to be taken for one: a
# symmetric product's mirror image is hardly different from it, and is then compared as it is.
MIRROR_MARGIN = 0.01
GAIN_MAX = 1.18  # brightness edits taken out up to this gain either way; a larger one is a recolour


@dataclass(frozen=True)
class Fingerprint:
    """What the duplicate finder keeps of one photo (a few KB, stored per content hash)."""

    phash: int  # 64-bit
    phash_mirror: int  # the pHash of the mirror image
    picture: np.ndarray  # [GRID, GRID, 3] uint8: Y, Cb + 128, Cr + 128

    def to_bytes(self) -> bytes:
        head = self.phash.to_bytes(8, "little") + self.phash_mirror.to_bytes(8, "little")
        return head + np.ascontiguousarray(self.picture, dtype=np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        if len(data) != 16 + GRID * GRID * 3:
            raise ValueError(f"a fingerprint of {len(data)} bytes is not of this version")
        pic = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(GRID, GRID, 3)
        return cls(int.from_bytes(data[:8], "little"), int.from_bytes(data[8:16], "little"), pic)


@dataclass(frozen=True)
class Difference:
    """How two photos differ once aligned (see `compare`)."""

    hamming: int  # pHash bits that differ, in the closer of the two orientations (mirror-aware)
    mirrored: bool  # compared as mirror images: the orientation in which fewer cells differ
    gain: float  # the brightness gain taken out (1: none)
    luma_changed: float  # share of the compared cells whose luma differs beyond LUMA_CHANGED
    chroma_changed: float  # share whose colour differs beyond CHROMA_CHANGED
    overlap: float  # share of the picture the two have in common after alignment
    # share of the compared cells whose colour differs where both photos show the subject, not the backdrop
    # (a sticker or a watermark on the backdrop adds colour there; a recoloured product changes it here)
    subject_chroma_changed: float = 0.0


# ============================================================================ making fingerprints


def _bits(values: np.ndarray) -> int:
    return int.from_bytes(np.packbits(values.astype(np.uint8)).tobytes(), "big")


def _dct_rows(n: int, k: int) -> np.ndarray:
    """The first k rows of the orthonormal DCT-II matrix of size n."""
    rows = np.cos(np.pi * np.outer(np.arange(k), 2 * np.arange(n) + 1) / (2 * n)) * np.sqrt(2.0 / n)
    rows[0] /= np.sqrt(2.0)
    return rows


_DCT8 = _dct_rows(HASH_SIZE, 8)


def phash_of(grey: np.ndarray) -> int:
    """pHash of a HASH_SIZE x HASH_SIZE grey array: the 8x8 lowest DCT frequencies above their median (the
    orthonormal 2-D DCT-II by its matrix, so that the window process, which compares photos for the
    lightbox, needs no SciPy)."""
    coeffs = (_DCT8 @ grey.astype(np.float64) @ _DCT8.T).ravel()
    return _bits(coeffs > np.median(coeffs[1:]))


def luma_chroma(rgb: np.ndarray) -> np.ndarray:
    """float32 [..., 3]: Y (0-255), Cb and Cr (centred on 0), as in JPEG (ITU-R BT.601)."""
    f = rgb.astype(np.float32)
    y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    return np.stack([y, (f[..., 2] - y) * 0.564, (f[..., 0] - y) * 0.713], axis=-1)


def fingerprint_image(image: Image.Image) -> Fingerprint:
    """The fingerprint of an RGB picture (any size; the whole frame, aspect ignored)."""
    rgb = image.convert("RGB")
    grey = np.asarray(rgb.convert("L").resize((HASH_SIZE, HASH_SIZE), Image.Resampling.BOX), np.float32)
    small = np.asarray(rgb.resize((GRID, GRID), Image.Resampling.BOX))
    ycc = luma_chroma(small)
    ycc[..., 1:] += 128.0
    picture = np.clip(np.rint(ycc), 0, 255).astype(np.uint8)
    return Fingerprint(phash_of(grey), phash_of(grey[:, ::-1]), picture)


def fingerprint_file(path: Path) -> Fingerprint:
    """Read and decode a photo (JPEGs at reduced size) and fingerprint it; raises images.PhotoError."""
    with decoded(read_bytes(path), min_size=(2 * GRID, 2 * GRID)) as loaded:  # in the decode's memory budget
        return fingerprint_image(loaded.image)


def product_colour(fp: Fingerprint) -> np.ndarray | None:
    """The median Y, Cb, Cr of a photo's subject: the cells that differ from the background, taken as the
    median colour of the picture's border (catalogue photos are shot on a plain backdrop). None when
    nothing stands out from it."""
    pic = fp.picture.astype(np.float32)
    border = np.concatenate([pic[0], pic[-1], pic[1:-1, 0], pic[1:-1, -1]])
    backdrop = np.median(border, axis=0)
    cells = pic.reshape(-1, 3)
    off = np.abs(cells - backdrop)
    subject = cells[(off[:, 0] > LUMA_CHANGED) | (off[:, 1:] > CHROMA_CHANGED).any(axis=1)]
    return np.median(subject, axis=0) if len(subject) >= 8 else None


def same_colour(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two photos show their subject in about the same colour (other shots allowed): the medians of
    the subjects agree within a cell's luma and colour tolerance. A black and a white trouser of one cut, or
    a blue and a yellow shirt, do not."""
    ca, cb = product_colour(a), product_colour(b)
    if ca is None or cb is None:
        return False
    return bool(abs(ca[0] - cb[0]) <= LUMA_CHANGED and np.all(np.abs(ca[1:] - cb[1:]) <= CHROMA_CHANGED))


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


# ============================================================================ comparing pairs


def _sample(profiles: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Linear interpolation of profiles [B, n] at relative coordinates [B, ...] in [0, 1] (cell centres at
    (i + .5) / n)."""
    n = profiles.shape[1]
    pos = np.clip(coords * n - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = pos - lo
    flat = lambda idx: np.take_along_axis(profiles, idx.reshape(len(profiles), -1), axis=1).reshape(idx.shape)  # noqa: E731
    return flat(lo) * (1 - w) + flat(hi) * w


def _best_fit(
    pa: np.ndarray, pb: np.ndarray, scales: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per pair, the (s, t) among scales [B, S] x shifts [B, T] with x_a = s * u_b + t that best correlates
    profile b with profile a [B, n] over their overlap."""
    n = pa.shape[1]
    x = (np.arange(n) + 0.5) / n
    u = (x[None, None, None, :] - shifts[:, None, :, None]) / scales[:, :, None, None]  # [B, S, T, n]
    valid = (u >= 0) & (u <= 1)
    pbs = _sample(pb, u)
    count = np.maximum(valid.sum(-1, keepdims=True), 1)
    pa_full = np.broadcast_to(pa[:, None, None, :], pbs.shape)
    da = np.where(valid, pa_full - np.where(valid, pa_full, 0).sum(-1, keepdims=True) / count, 0)
    db = np.where(valid, pbs - np.where(valid, pbs, 0).sum(-1, keepdims=True) / count, 0)
    corr = (da * db).sum(-1) / np.sqrt((da * da).sum(-1) * (db * db).sum(-1) + 1e-6)
    corr = np.where(valid.mean(-1) >= MIN_OVERLAP, corr, -np.inf).reshape(len(pa), -1)
    best = np.argmax(corr, axis=1)
    i, j = np.divmod(best, shifts.shape[1])
    rows = np.arange(len(pa))
    return scales[rows, i], shifts[rows, j]


_COARSE: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _coarse_resamplers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (scale, shift) of the coarse grid, the [n, n] matrix that resamples a profile of b onto a's
    cells (rows outside b are zero), stacked [n, K * n]; the grid's scales and shifts [K]."""
    global _COARSE
    if _COARSE is None or _COARSE[0].shape[0] != n:
        x = (np.arange(n) + 0.5) / n
        ss, tt = (g.ravel() for g in np.meshgrid(_SCALES, _SHIFTS, indexing="ij"))
        mats = np.zeros((ss.size, n, n), dtype=np.float32)
        for k, (sk, tk) in enumerate(zip(ss, tt)):
            u = (x - tk) / sk
            pos = np.clip(u * n - 0.5, 0, n - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, n - 1)
            w = (pos - lo).astype(np.float32)
            ok = (u >= 0) & (u <= 1)
            rows = np.arange(n)[ok]
            np.add.at(mats[k], (rows, lo[ok]), 1 - w[ok])
            np.add.at(mats[k], (rows, hi[ok]), w[ok])
        stacked = np.ascontiguousarray(mats.transpose(2, 0, 1).reshape(n, -1))
        _COARSE = (stacked, ss, tt)
    return _COARSE


def _coarse_fit(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_best_fit` over the coarse grid, the same for every pair: one matrix product resamples all of b's
    profiles, and the correlations come from sums (a few passes instead of a gather per grid point)."""
    B, n = pa.shape
    stacked, ss, tt = _coarse_resamplers(n)
    K = ss.size
    pbs = (pb.astype(np.float32) @ stacked).reshape(B, K, n)  # zero on a's cells that b does not cover
    valid = (np.abs(stacked).reshape(n, K, n).sum(axis=0) > 0).astype(np.float32)  # [K, n]
    count = np.maximum(valid.sum(-1), 1.0)
    pa = pa.astype(np.float32)
    s_a, s_aa = pa @ valid.T, (pa * pa) @ valid.T  # [B, K]
    s_b, s_bb = pbs.sum(-1), np.einsum("bkn,bkn->bk", pbs, pbs)
    s_ab = np.einsum("bkn,bn->bk", pbs, pa)
    cov = s_ab - s_a * s_b / count
    var = np.maximum(s_aa - s_a * s_a / count, 0) * np.maximum(s_bb - s_b * s_b / count, 0)
    corr = cov / np.sqrt(var + 1e-6)
    corr[:, valid.mean(-1) < MIN_OVERLAP] = -np.inf
    best = np.argmax(corr, axis=1)
    return ss[best], tt[best]


def _align_axis(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, t = _coarse_fit(pa, pb)
    return _best_fit(pa, pb, s[:, None] + _FINE_SCALES, t[:, None] + _FINE_SHIFTS)  # fine, around it


@dataclass(frozen=True)
class _Geometry:
    """Where each cell of picture a falls in picture b [B, n] per axis (x_a = s * u_b + t): the two cells of b
    it is interpolated from, their weights, the nearest of them, and which cells of a fall inside b."""

    x0: np.ndarray
    x1: np.ndarray
    wx: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    wy: np.ndarray
    inside: np.ndarray  # [B, n, n]

    @classmethod
    def of(cls, n: int, sx, tx, sy, ty) -> _Geometry:
        x = (np.arange(n) + 0.5) / n
        u = (x[None, :] - tx[:, None]) / sx[:, None]
        v = (x[None, :] - ty[:, None]) / sy[:, None]
        inside = ((v >= 0) & (v <= 1))[:, :, None] & ((u >= 0) & (u <= 1))[:, None, :]

        def taps(c: np.ndarray):
            pos = np.clip(c * n - 0.5, 0, n - 1)
            lo = np.floor(pos).astype(np.int64)
            return lo, np.minimum(lo + 1, n - 1), (pos - lo).astype(np.float32)

        return cls(*taps(u), *taps(v), inside)

    def interpolate(self, pictures: np.ndarray) -> np.ndarray:
        """pictures [B, n, n, c] of b resampled (bilinear) onto a's cells."""
        b = np.arange(len(pictures))[:, None]
        wy, wx = self.wy[:, :, None, None], self.wx[:, :, None, None]
        rows = pictures[b, self.y0] * (1 - wy) + pictures[b, self.y1] * wy
        out = rows[b, :, self.x0] * (1 - wx) + rows[b, :, self.x1] * wx
        return out.transpose(0, 2, 1, 3)

    def nearest(self, pictures: np.ndarray) -> np.ndarray:
        """pictures [B, n, n, c] of b taken onto a's cells from the nearest cell of b."""
        b = np.arange(len(pictures))[:, None]
        xn = np.where(self.wx < 0.5, self.x0, self.x1)
        yn = np.where(self.wy < 0.5, self.y0, self.y1)
        return pictures[b, yn][b, :, xn].transpose(0, 2, 1, 3)


def _local_range(pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of pictures [B, n, n, c], the least and greatest value (per channel) of its 3 x 3
    neighbourhood: taken over the rows, then over the columns (the same values in fewer passes)."""
    n = pictures.shape[1]
    pad = np.pad(pictures, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    out = []
    for pick in (np.minimum, np.maximum):
        rows = pick(pick(pad[:, 0:n], pad[:, 1 : n + 1]), pad[:, 2 : n + 2])  # [B, n, n + 2, c]
        out.append(pick(pick(rows[:, :, 0:n], rows[:, :, 1 : n + 1]), rows[:, :, 2 : n + 2]))
    return out[0], out[1]


def _gains(a_luma: np.ndarray, b_luma: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per pair, the brightness gain g with a ~ g * b on unclipped cells, kept within 1 / GAIN_MAX to GAIN_MAX.

    The same fit whichever photo comes first: g = sqrt(sum a^2 / sum b^2), the geometric mean of the
    least-squares fits of a on b and of b on a, so swapping the photos gives exactly 1 / g."""
    use = mask & (a_luma < WHITE) & (b_luma < WHITE)
    aa = np.where(use, a_luma * a_luma, 0).sum(axis=(1, 2))
    bb = np.where(use, b_luma * b_luma, 0).sum(axis=(1, 2))
    ok = (use.sum(axis=(1, 2)) >= 20) & (aa > 0) & (bb > 0)
    g = np.where(ok, np.sqrt(aa / np.maximum(bb, 1e-6)), 1.0)
    return np.clip(g, 1.0 / GAIN_MAX, GAIN_MAX)


def _brighten(pictures: np.ndarray, gain: np.ndarray) -> None:
    """Scale the pictures [B, n, n, 3] (luma and centred chroma) whose gain is above 1, in place, as a
    brightness edit does: every RGB channel times the gain, clipped at white (a saturated red's red channel
    clips first, so its colour shifts as the edited photo's did)."""
    rows = np.flatnonzero(gain > 1.0)
    if rows.size == 0:
        return
    part = pictures[rows]
    y, cb, cr = part[..., 0], part[..., 1] / 0.564, part[..., 2] / 0.713
    r, b = y + cr, y + cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    k = gain[rows, None, None]
    r, g, b = (np.minimum(c * k, 255.0) for c in (r, g, b))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    pictures[rows] = np.stack([y, (b - y) * 0.564, (r - y) * 0.713], axis=-1)


def _colour_off(off: np.ndarray) -> np.ndarray:
    """The larger of the two colour channels of per-cell differences [..., 3] (luma, Cb, Cr): an elementwise
    maximum, since NumPy's max over a last axis of two is many times slower on these arrays."""
    return np.maximum(off[..., 1], off[..., 2])


def _backdrop(pictures: np.ndarray) -> np.ndarray:
    """Per cell of pictures [B, n, n, 3] (luma, centred chroma), whether it shows the backdrop: within a
    cell's tolerance of the median of the picture's border (catalogue photos are shot on a plain one)."""
    border = np.concatenate(
        [pictures[:, 0], pictures[:, -1], pictures[:, 1:-1, 0], pictures[:, 1:-1, -1]], axis=1
    )
    off = np.abs(pictures - np.median(border, axis=1)[:, None, None, :])
    return (off[..., 0] <= LUMA_CHANGED) & (_colour_off(off) <= CHROMA_CHANGED)


def _covered(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Share of picture b's axis that picture a covers, when x_a = s * u_b + t."""
    return np.clip(np.minimum(1.0, (1.0 - t) / s) - np.maximum(0.0, -t / s), 0.0, 1.0)


def compare_many(
    pairs: list[tuple[Fingerprint, Fingerprint]],
    batch: int = 64,
    mirror_wanted: Callable[[int, Difference], bool] | None = None,
) -> list[Difference]:
    """`compare` for many pairs, vectorised over batches (the same results, several times faster).

    mirror_wanted(k, as_is): whether the caller can use pair k's mirrored comparison, given how the pair
    differs as it is; a caller that classifies pairs skips the second comparison where no outcome of it
    would change the class. None: the mirror image is compared wherever it could win."""
    out: list[Difference] = []
    for start in range(0, len(pairs), batch):
        wanted = None if mirror_wanted is None else (lambda k, d, at=start: mirror_wanted(at + k, d))
        out.extend(_compare_batch(pairs[start : start + batch], wanted))
    return out


def _compare_batch(
    pairs: list[tuple[Fingerprint, Fingerprint]], mirror_wanted: Callable[[int, Difference], bool] | None
) -> list[Difference]:
    return _compared(pairs, mirror_wanted)[0]


def _compared(
    pairs: list[tuple[Fingerprint, Fingerprint]], mirror_wanted: Callable[[int, Difference], bool] | None
) -> tuple[list[Difference], _Compared, np.ndarray, list[bool]]:
    """Each pair as it is and, where that could win, mirrored; the mirror image wins when fewer cells differ
    that way by at least MIRROR_MARGIN. The hashes cannot choose: a picture shifted by a one-sided crop can
    move its pHash as far as an unrelated picture's, and for a symmetric garment the mirror hash is then the
    closer one.

    Every pair is worked out in one order of its two fingerprints (by content), so compare(a, b) and
    compare(b, a) are the same comparison; the gain is then turned round for the caller's order. Returns the
    differences, with what `fingerprint_changes` needs: the comparisons that won, which were mirrored and
    which pairs were turned round."""
    turned = [a.to_bytes() > b.to_bytes() for a, b in pairs]
    pairs = [(b, a) if t else (a, b) for (a, b), t in zip(pairs, turned)]
    pa, pb = (_centred(np.stack([p[k].picture for p in pairs])) for k in (0, 1))
    # Rows are the same mirrored: one vertical fit serves both orientations.
    sy, ty = _align_axis(pa[..., 0].mean(axis=2), pb[..., 0].mean(axis=2))
    cols_a, cols_b = pa[..., 0].mean(axis=1), pb[..., 0].mean(axis=1)
    found = _compare_aligned(pa.copy(), pb.copy(), (*_align_axis(cols_a, cols_b), sy, ty))
    flip = np.zeros(len(pairs), dtype=bool)

    def difference(i: int) -> Difference:
        x, y = pairs[i]
        return Difference(
            min(hamming(x.phash, y.phash), hamming(x.phash, y.phash_mirror)),
            bool(flip[i]),
            float(1.0 / found.gain[i] if turned[i] else found.gain[i]),
            float(found.luma_changed[i]),
            float(found.chroma_changed[i]),
            float(found.overlap[i]),
            float(found.subject_chroma_changed[i]),
        )

    # The mirror image can only win where the picture as it is leaves at least MIRROR_MARGIN of its cells
    # changed: a duplicate, the common candidate, is compared once.
    m = np.flatnonzero(found.changed >= MIRROR_MARGIN)
    if mirror_wanted is not None:
        m = m[np.array([mirror_wanted(int(i), difference(int(i))) for i in m], dtype=bool)]
    if m.size:
        mirrored = _compare_aligned(
            pa[m], pb[m][:, :, ::-1], (*_align_axis(cols_a[m], cols_b[m][:, ::-1]), sy[m], ty[m])
        )
        wins = mirrored.changed + MIRROR_MARGIN <= found.changed[m]
        flip[m[wins]] = True
        for field in vars(found):
            getattr(found, field)[m[wins]] = getattr(mirrored, field)[wins]
    return [difference(i) for i in range(len(pairs))], found, flip, turned


def _centred(pictures: np.ndarray) -> np.ndarray:
    """uint8 fingerprint pictures as float32 luma and chroma centred on 0."""
    out = pictures.astype(np.float32)
    out[..., 1:] -= 128.0
    return out


@dataclass
class _Compared:
    """Per compared pair: the gain taken out (a ~ gain * b), the shares of cells changed (luma, colour,
    either), the overlap, and the share changed in colour where both show the subject."""

    gain: np.ndarray
    luma_changed: np.ndarray
    chroma_changed: np.ndarray
    changed: np.ndarray
    overlap: np.ndarray
    subject_chroma_changed: np.ndarray
    cells: np.ndarray  # [B, n, n] the cells that differ, on the grid of the picture resampled onto
    swapped: np.ndarray  # [B] that picture is b (the one that shows less), not a
    fit: np.ndarray  # [B, 4] (sx, tx, sy, ty) from that picture's cells to the other's: x = s * u + t


def _compare_aligned(pa: np.ndarray, pb: np.ndarray, fit: tuple[np.ndarray, ...]) -> _Compared:
    """Pictures pa and pb [B, n, n, 3] (float, centred chroma; changed in place) whose alignment is
    fit = (sx, tx, sy, ty): one brightness gain taken out, and the cells where either lies outside the other's
    local range counted."""
    sx, tx, sy, ty = (np.array(f, dtype=np.float64) for f in fit)
    # The picture that shows more of the scene is resampled onto the cells of the one that shows less, never
    # the other way: that interpolates between its cells, where sampling the closer view's finer cells onto
    # coarser ones would alias stripes and piping into changes. x_a = s * u_b + t turned round is
    # u_b = x_a / s - t / s.
    swap = sx * sy < 1.0
    pa[swap], pb[swap] = pb[swap], pa[swap].copy()
    tx[swap], ty[swap] = -tx[swap] / sx[swap], -ty[swap] / sy[swap]
    sx[swap], sy[swap] = 1.0 / sx[swap], 1.0 / sy[swap]
    geo = _Geometry.of(pa.shape[1], sx, tx, sy, ty)
    warped, inside = geo.interpolate(pb), geo.inside
    g = _gains(pa[..., 0], warped[..., 0], inside)
    # The darker picture is brightened onto the brighter one, never the other way: scaling the brighter one
    # down would turn its clipped white backdrop grey, where the darker picture's backdrop is still white.
    _brighten(pa, 1.0 / g)
    for part in (pb, warped):
        _brighten(part, g)
    # Per cell, how far each picture lies outside the other's local range. Alignment is good to about a
    # cell, and a cell on an edge mixes the colours on both sides at a phase the other picture need not
    # share: its value then lies between its neighbours' there, so edges and sub-cell shifts are not
    # changes, while a recoloured area lies outside whatever surrounds it. b's ranges are taken on its own
    # cells and carried over from the nearest one: interpolated, they would narrow between cells and make a
    # fine pattern (a striped shirt, thin piping) seen at another phase look changed.
    a_lo, a_hi = _local_range(pa)
    b_lo, b_hi = (geo.nearest(r) for r in _local_range(pb))
    off = np.maximum(np.maximum(b_lo - pa, pa - b_hi), np.maximum(a_lo - warped, warped - a_hi))
    luma = (off[..., 0] > LUMA_CHANGED) & inside
    chroma = (_colour_off(off) > CHROMA_CHANGED) & inside
    either = luma | chroma
    subject = ~(_backdrop(pa) | _backdrop(warped))
    n = np.maximum(inside.sum(axis=(1, 2)), 1)
    return _Compared(
        np.where(swap, 1.0 / g, g),
        luma.sum(axis=(1, 2)) / n,
        chroma.sum(axis=(1, 2)) / n,
        either.sum(axis=(1, 2)) / n,
        np.minimum(inside.mean(axis=(1, 2)), _covered(sx, tx) * _covered(sy, ty)),
        (chroma & subject).sum(axis=(1, 2)) / n,
        either,
        swap,
        np.stack([sx, tx, sy, ty], axis=1),
    )


def compare(a: Fingerprint, b: Fingerprint) -> Difference:
    """How photo b differs from photo a: aligned as it is and mirrored (the mirror image when that leaves
    clearly fewer cells changed), with one brightness gain taken out; the same whichever comes first, but for
    the gain (a ~ gain * b)."""
    return _compare_batch([(a, b)], None)[0]
