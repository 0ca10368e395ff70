"""Comparing two fingerprints: the same answer whichever photo comes first, a crop from one side lined up in
the orientation it really has, and colour added on the backdrop (a sticker) told from colour changed on the
product (a recoloured strip). Small generated studio pictures, edited as the benchmark edits the Magento
photos (`benchmarks/photo_edits.py`)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.photo_edits import make_copy
from desktop_app.core import duplicates as dup
from desktop_app.core import fingerprint_changes as fch
from desktop_app.core import fingerprints as fpr
from desktop_app.core.vectors import ArticleVectors
from tests.test_duplicates import edited, product_photo


def white_studio_photo(seed: int) -> Image.Image:
    """A garment filling most of the frame on a pure white backdrop, as shop photos are cut out: brightened,
    the backdrop stays clipped at white while everything else grows by the gain."""
    rng = random.Random(seed)
    im = Image.new("RGB", (320, 400), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.rectangle((16, 20, 304, 380), fill=(150, 110, 90))
    for k in range(8):  # folds
        x = 26 + k * 36 + rng.randint(-4, 4)
        d.line((x, 30, x + rng.randint(-8, 8), 370), fill=(100, 70, 60), width=5)
    return im


def prints_of(a: Image.Image, b: Image.Image) -> tuple[fpr.Fingerprint, fpr.Fingerprint]:
    return fpr.fingerprint_image(a), fpr.fingerprint_image(b)


# ============================================================================ order


@pytest.mark.parametrize("seed", range(3))
def test_a_brightened_copy_on_a_white_backdrop_is_near_whichever_photo_comes_first(seed, tmp_path):
    im = white_studio_photo(seed)
    original, brighter = prints_of(edited(im, "exact", tmp_path), edited(im, "brightness", tmp_path))
    forth, back = fpr.compare(original, brighter), fpr.compare(brighter, original)
    assert dup.classify(0.97, forth)[0] == dup.classify(0.97, back)[0] == "near"
    assert forth.gain == pytest.approx(1 / 1.1, abs=0.02) and forth.gain * back.gain == pytest.approx(1.0)
    assert (forth.luma_changed, forth.chroma_changed) == (back.luma_changed, back.chroma_changed) == (0, 0)


@pytest.mark.parametrize("edit", ["resize", "jpeg60", "crop", "cornercrop", "mirror", "brightness", "text"])
def test_a_comparison_is_the_same_with_the_photos_swapped(edit, tmp_path):
    im = product_photo(11)
    a, b = prints_of(edited(im, "exact", tmp_path), edited(im, edit, tmp_path))
    forth, back = fpr.compare(a, b), fpr.compare(b, a)
    assert back.gain == pytest.approx(1 / forth.gain)
    same = ("hamming", "mirrored", "luma_changed", "chroma_changed", "overlap", "subject_chroma_changed")
    assert [getattr(forth, f) for f in same] == [getattr(back, f) for f in same]


def test_the_order_of_the_names_does_not_decide_whether_a_brightened_copy_is_found(tmp_path):
    # The finder compares a candidate pair in the order of its rows, which follow the article names: a copy
    # named "aaa-..." comes before its original, one named "zzz-..." after it.
    im = white_studio_photo(4)
    original, brighter = prints_of(edited(im, "exact", tmp_path), edited(im, "brightness", tmp_path))
    for copy in ("aaa-copy", "zzz-copy"):
        av = ArticleVectors.from_groups({"mh05-green": np.eye(2)[:1], copy: np.eye(2)[:1]})
        prints = {"mh05-green/0": original, f"{copy}/0": brighter}
        cands = dup.Candidates(np.array([0]), np.array([1]), np.array([1.0], np.float32), 1, 0.0)
        found = dup.photo_duplicates(av, cands, {}, prints)
        assert [p.kind for p in found.pairs] == ["near"], copy


# ============================================================================ crops from one side


def test_a_crop_from_one_corner_is_a_near_duplicate_even_where_the_mirror_hash_is_closer(tmp_path):
    # This figure is symmetric: cut 5% from the left and the top, its pHash moves as far as an unrelated
    # picture's would (32 bits) while its mirror hash stays close (6 bits).
    im = product_photo(10)
    original, cut = prints_of(edited(im, "exact", tmp_path), edited(im, "cornercrop", tmp_path))
    assert fpr.hamming(original.phash, cut.phash) > 26 > fpr.hamming(original.phash, cut.phash_mirror)
    diff = fpr.compare(original, cut)
    assert not diff.mirrored
    assert dup.classify(0.97, diff)[0] == "near"
    assert diff.overlap == pytest.approx(0.95 * 0.95, abs=0.02)  # the share of the original the crop keeps


SAMPLE = Path(__file__).resolve().parents[1] / "desktop_app" / "bundled" / "sample" / "photos"


@pytest.fixture(scope="module")
def sample_prints() -> dict[str, fpr.Fingerprint]:
    """Fingerprints of the bundled real catalogue photos (76 Magento studio photos)."""
    return {p.name: fpr.fingerprint_file(p) for p in sorted(SAMPLE.rglob("*.jpg"))}


@pytest.mark.parametrize("edit", ["crop", "cornercrop", "brightness"])
def test_real_photos_cropped_or_brightened_are_near_duplicates_whichever_comes_first(
    edit, sample_prints, tmp_path
):
    # Real photos have what the generated ones lack: striped and piped garments, printed text, soft
    # shadows, backdrops clipped at white. Before the comparison was made symmetric and resampled the wider
    # view onto the closer one, 5 of these cut from a corner, 4 cut at random sides and 28 brightened ones
    # (compared original first) were missed.
    missed = []
    for p in sorted(SAMPLE.rglob("*.jpg")):
        copy = fpr.fingerprint_file(make_copy(p, tmp_path / p.name, edit))
        for a, b in ((sample_prints[p.name], copy), (copy, sample_prints[p.name])):
            if dup.classify(0.97, fpr.compare(a, b))[0] != "near":
                missed.append(p.name)
    allowed = {"crop": 0, "cornercrop": 0, "brightness": 2}[edit]  # one photo's two orders
    assert len(missed) <= allowed, missed


def test_a_mirror_image_of_a_symmetric_figure_is_that_figure_shifted(tmp_path):
    im = product_photo(5)  # symmetric about its centre, placed off the middle of the frame
    diff = fpr.compare(*prints_of(edited(im, "exact", tmp_path), edited(im, "mirror", tmp_path)))
    assert not diff.mirrored and diff.luma_changed == diff.chroma_changed == 0


# ============================================================================ backdrop and subject


def with_sticker(im: Image.Image) -> Image.Image:
    """A red price sticker on the backdrop, bottom right: about 0.6% of the picture."""
    out = im.copy()
    ImageDraw.Draw(out).rectangle((276, 366, 306, 386), fill=(210, 30, 30))
    return out


def with_recoloured_hem(im: Image.Image) -> Image.Image:
    """The shirt's hem in another colour, as a catalogue's colourways of one shot differ: a strip on the
    product, about 1% of the picture."""
    out = im.copy()
    px = np.asarray(out).copy()
    rows = slice(245, 250)
    band = px[rows]
    shirt = np.all(np.abs(band.astype(int) - (40, 90, 170)) < 40, axis=-1)
    band[shirt] = (230, 120, 30)
    px[rows] = band
    return Image.fromarray(px)


def test_a_sticker_on_the_backdrop_is_near_but_a_recoloured_hem_of_about_its_size_is_not(tmp_path):
    im = product_photo(3)
    original = fpr.fingerprint_image(edited(im, "exact", tmp_path))
    sticker = fpr.fingerprint_image(edited(with_sticker(im), "exact", tmp_path))
    hem = fpr.fingerprint_image(edited(with_recoloured_hem(im), "exact", tmp_path))
    on_backdrop, on_product = fpr.compare(original, sticker), fpr.compare(original, hem)
    assert on_backdrop.chroma_changed > 0.005 and on_backdrop.subject_chroma_changed == 0
    assert on_product.subject_chroma_changed > dup.NEAR_MAX_SUBJECT_CHROMA
    assert dup.classify(0.97, on_backdrop)[0] == "near"
    assert dup.classify(0.97, on_product)[0] == "edit"


# ============================================================================ where two photos differ


def with_box(im: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    out = im.copy()
    ImageDraw.Draw(out).rectangle(box, fill=(230, 30, 30))
    return out


def changed_span(changes: fch.Changes) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the changed cells, relative to the photo."""
    rows, cols = np.nonzero(changes.cells)
    n = fpr.GRID
    return cols.min() / n, rows.min() / n, (cols.max() + 1) / n, (rows.max() + 1) / n


def around(span, box, size, slack=0.05) -> bool:
    """Whether span (relative) covers box (pixels of a picture of `size`) and little more."""
    w, h = size
    want = (box[0] / w, box[1] / h, box[2] / w, box[3] / h)
    return all(abs(s - x) <= slack for s, x in zip(span, want))


def test_changes_outline_a_sticker_in_each_photos_own_frame_and_frame_a_crop(tmp_path):
    im = product_photo(3)
    w, h = im.size
    sticker = (w - 70, h - 60, w - 20, h - 20)
    left, top = int(w * 0.08), int(h * 0.06)
    cropped = with_box(im, sticker).crop((left, top, w, h)).resize((w, h))
    # Where the sticker lies in the cropped copy, stretched back to full size.
    sx, sy = w / (w - left), h / (h - top)
    in_crop = tuple(
        int(v)
        for v in (
            (sticker[0] - left) * sx,
            (sticker[1] - top) * sy,
            (sticker[2] - left) * sx,
            (sticker[3] - top) * sy,
        )
    )
    for forth in (True, False):
        a, b = prints_of(im, cropped) if forth else prints_of(cropped, im)
        on_original, on_crop = fch.changes(a, b) if forth else fch.changes(a, b)[::-1]
        assert around(changed_span(on_original), sticker, im.size), forth
        assert around(changed_span(on_crop), in_crop, im.size), forth
        # The original shows more: the part the crop keeps is framed on it, and only on it.
        assert on_crop.frame is None
        assert on_original.frame == pytest.approx((0.08, 0.06, 1.0, 1.0), abs=0.02)


def test_changes_of_a_mirror_image_are_mirrored_back_into_each_photo():
    im = product_photo(3)
    ImageDraw.Draw(im).rectangle((10, 10, 120, 60), fill=(20, 120, 40))  # one-sided: the mirror image wins
    sticker = (20, 300, 70, 340)
    mirror = with_box(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), sticker)
    a, b = prints_of(im, mirror)
    assert fpr.compare(a, b).mirrored
    on_original, on_mirror = fch.changes(a, b)
    w = im.size[0]
    assert around(changed_span(on_mirror), sticker, im.size)
    assert around(
        changed_span(on_original), (w - sticker[2], sticker[1], w - sticker[0], sticker[3]), im.size
    )
    assert [c.cells.tolist() for c in fch.changes(b, a)] == [
        on_mirror.cells.tolist(),
        on_original.cells.tolist(),
    ]


def test_an_exact_copy_has_no_changes(tmp_path):
    im = product_photo(5)
    for c in fch.changes(*prints_of(im, edited(im, "exact", tmp_path))):
        assert not c.cells.any() and c.frame is None
