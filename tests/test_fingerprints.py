"""Comparing two fingerprints: the same answer whichever photo comes first. Small generated studio pictures,
edited as the benchmark edits the Magento photos (`benchmarks/photo_edits.py`)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from desktop_app.core import duplicates as dup
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


@pytest.mark.parametrize("edit", ["resize", "jpeg60", "crop", "mirror", "brightness", "text"])
def test_a_comparison_is_the_same_with_the_photos_swapped(edit, tmp_path):
    im = product_photo(11)
    a, b = prints_of(edited(im, "exact", tmp_path), edited(im, edit, tmp_path))
    forth, back = fpr.compare(a, b), fpr.compare(b, a)
    assert back.gain == pytest.approx(1 / forth.gain)
    same = ("hamming", "mirrored", "luma_changed", "chroma_changed", "overlap")
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
