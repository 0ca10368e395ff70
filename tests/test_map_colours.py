"""The catalog map's colours: groups look apart from each other and from the search marks, and every dot,
the greys of "other" and "unlabelled" included, can be seen on the light and the dark background."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core import map_picture as pic
from desktop_app.core.colour_metrics import contrast, delta_e, hex_rgb, lab, min_delta_e

LIGHT_BASE, DARK_BASE = "#ffffff", "#1f2023"  # the map's background in gui/theme.py's two palettes


@pytest.mark.parametrize(
    ("lab1", "lab2", "expected"),
    [  # reference pairs published with the CIEDE2000 formula (Sharma, Wu and Dalal, 2005)
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((50, -1, 2), (50, 0, 0), 2.3669),
    ],
)
def test_delta_e_matches_the_published_cie2000_pairs(lab1, lab2, expected):
    assert float(delta_e(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_black_and_red():
    got = lab(hex_rgb(["#ffffff", "#000000", "#ff0000"]))
    assert np.allclose(got, [[100, 0, 0], [0, 0, 0], [53.24, 80.09, 67.20]], atol=0.02)


def test_every_prefix_of_the_palette_is_well_spread():
    # N groups get the first N colours: even sixteen stay apart (the old hand-picked palette: 11.4).
    spread = {n: min_delta_e(pic.PALETTE[:n]) for n in (4, 8, 12, 16)}
    print("min CIEDE2000 of the first N colours:", {n: round(d, 1) for n, d in spread.items()})
    assert spread[4] >= 25 and spread[8] >= 20 and spread[16] >= 15
    assert len(set(pic.PALETTE)) == len(pic.PALETTE) == pic.MAX_GROUPS


def test_the_search_marks_and_the_greys_are_not_group_colours():
    groups = lab(hex_rgb(pic.PALETTE))
    reserved = lab(hex_rgb(pic.MARK_COLOURS + (pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR)))
    assert float(delta_e(groups[:, None], reserved[None]).min()) >= 15
    assert min_delta_e([pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR]) >= 10


def test_every_group_colour_reads_on_both_backgrounds():
    for base in (LIGHT_BASE, DARK_BASE):
        ratios = contrast(hex_rgb(pic.PALETTE), hex_rgb([base])[0])
        assert float(ratios.min()) >= 3.0, base


def test_the_greys_read_on_white():
    # The dark view gives each grey the contrast it has on white (gui/map_legend.shown_colour; its test
    # checks the dark side), so both backgrounds see >= 3:1.
    for grey in (pic.OTHER_COLOUR, pic.UNLABELLED_COLOUR):
        assert float(contrast(hex_rgb([grey])[0], hex_rgb([LIGHT_BASE])[0])) >= 3.0


def test_two_similar_names_get_far_apart_colours():
    # The probe's case: men-tees and women-tees were two oranges, and orange marked the search's results.
    c = pic.colouring(["men-tees"] * 3 + ["women-tees"] * 3)
    a, b = (c.own[v] for v in ("men-tees", "women-tees"))
    assert min_delta_e([a, b]) >= 25 and not {a, b} & set(pic.MARK_COLOURS)
