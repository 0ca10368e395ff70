"""Scanning folders and grouping photos into articles."""

from __future__ import annotations

import os

import pytest

from desktop_app.core.errors import UserError
from desktop_app.core.scan import MAGENTO_PATTERN, Grouper, GroupingRule, preview_grouping, walk_photos
from tests.conftest import write_photo


def test_walk_finds_images_recursively_and_ignores_others(tmp_path):
    write_photo(tmp_path / "a" / "x.jpg")
    write_photo(tmp_path / "a" / "b" / "y.png", fmt="PNG")
    write_photo(tmp_path / "z.webp", fmt="WEBP")
    (tmp_path / "notes.txt").write_text("hello")
    write_photo(tmp_path / ".cache" / "hidden.jpg")
    found = sorted(f.rel for f in walk_photos(tmp_path))
    assert found == ["a/b/y.png", "a/x.jpg", "z.webp"]


def test_walk_survives_symlink_loops(tmp_path):
    write_photo(tmp_path / "a" / "x.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    found = [f.rel for f in walk_photos(tmp_path)]
    assert found == ["a/x.jpg"]


def test_walk_reports_special_files_skips_dangling_links_and_stops_when_cancelled(tmp_path):
    from desktop_app.core.scan import scan_folder

    write_photo(tmp_path / "a" / "x.jpg")
    os.mkfifo(tmp_path / "a" / "pipe.jpg")
    os.symlink(tmp_path / "nowhere.jpg", tmp_path / "a" / "dangling.jpg")
    result = scan_folder(tmp_path)
    assert [f.rel for f in result.files] == ["a/x.jpg"] and not result.cancelled
    assert [p.to_dict() for p in result.problems] == [
        {"path": "a/pipe.jpg", "reason": "not_a_file", "message": "is a named pipe (FIFO), not a photo file"}
    ]
    assert list(walk_photos(tmp_path)) == result.files  # problems are optional
    stopped = scan_folder(tmp_path, should_cancel=lambda: True)
    assert stopped.files == [] and stopped.cancelled


def test_folder_grouping_ids_are_relative_folders():
    g = Grouper(GroupingRule("folder"), "photos")
    assert g("shoes/sku123/front.jpg").article == "shoes/sku123"
    assert g("sku9/1.jpg").article == "sku9"
    assert g("loose.jpg").article == "photos"


def test_magento_pattern_groups_views_and_gear():
    g = Grouper(GroupingRule("pattern", MAGENTO_PATTERN))
    assert (g("m/h/mh01-gray_main.jpg").article, g("m/h/mh01-gray_main.jpg").view) == ("mh01-gray", "main")
    assert g("m/h/mh01-gray_back.jpg").article == "mh01-gray"
    assert (g("m/b/mb03-black-0_alt1.jpg").article, g("m/b/mb03-black-0_alt1.jpg").view) == (
        "mb03-black-0",
        "alt1",
    )
    assert g("m/b/mb03-black-0.jpg").view is None
    assert g("w/s/ws01-red_side_a.jpg").view == "side_a"


def test_unmatched_photos_become_single_photo_articles():
    g = Grouper(GroupingRule("pattern", r"(?P<article>sku\d+)_(?P<view>\w+)"))
    hit = g("x/sku12_front.jpg")
    miss = g("x/holiday.jpg")
    assert hit.matched and hit.article == "sku12"
    assert not miss.matched and miss.article == "x/holiday"


def test_pattern_must_have_article_group_and_compile():
    with pytest.raises(UserError, match="article"):
        GroupingRule("pattern", r"(?P<sku>\w+)")
    with pytest.raises(UserError, match="regular expression"):
        GroupingRule("pattern", r"(?P<article>[")


def test_rule_round_trips_as_data():
    rule = GroupingRule("pattern", MAGENTO_PATTERN)
    assert GroupingRule.from_dict(rule.to_dict()) == rule
    assert GroupingRule.from_dict(None) == GroupingRule("folder")


def test_preview_on_real_magento_tree_matches_ground_truth():
    import csv

    from tests.conftest import bundled_sample_photos

    root = bundled_sample_photos()
    truth = {r["path"]: r["article"] for r in csv.DictReader(open(root.parent / "manifest.csv"))}
    preview = preview_grouping(root, GroupingRule("pattern", MAGENTO_PATTERN), limit=1000)
    assert len(preview) == len(truth)
    assert all(truth[path] == grouped.article for path, grouped in preview)
