"""The on-disk thumbnail cache of desktop_app.core.thumbnails (no Qt involved)."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from desktop_app.core import thumbnails
from desktop_app.core.images import PhotoError
from desktop_app.core.paths import thumbnail_dir
from tests.conftest import write_photo


def test_made_once_then_reused(tmp_path):
    src = write_photo(tmp_path / "a.jpg", size=(640, 480))
    first = thumbnails.thumbnail(src, 128)
    assert first.is_relative_to(thumbnail_dir())
    with Image.open(first) as im:
        assert max(im.size) == 128 and im.size == (128, 96)  # aspect ratio kept
    stamp = first.stat().st_mtime_ns
    again = thumbnails.thumbnail(src, 128)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert thumbnails.lookup(src, 128) == first
    assert thumbnails.lookup(src, 96) is None  # other sizes are separate entries


def test_edited_photo_gets_a_new_thumbnail(tmp_path):
    src = write_photo(tmp_path / "a.jpg", colour=(200, 0, 0))
    first = thumbnails.thumbnail(src, 96)
    before = src.stat().st_mtime_ns
    write_photo(src, colour=(0, 0, 200), size=(80, 80))
    # An edit one second later, whatever the clock's and the file system's resolution.
    os.utime(src, ns=(before + 1_000_000_000, before + 1_000_000_000))
    second = thumbnails.thumbnail(src, 96)
    assert second != first
    with Image.open(second) as im:
        r, g, b = im.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert b > r


def test_small_photos_are_not_enlarged(tmp_path):
    src = write_photo(tmp_path / "small.png", size=(40, 30), fmt="PNG")
    with Image.open(thumbnails.thumbnail(src, 160)) as im:
        assert im.size == (40, 30)


def test_broken_and_missing_photos_raise_photo_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(PhotoError):
        thumbnails.thumbnail(bad, 96)
    with pytest.raises(PhotoError) as info:
        thumbnails.thumbnail(tmp_path / "gone.jpg", 96)
    assert info.value.reason == "vanished"


def test_unwritable_cache_still_gives_a_thumbnail(tmp_path):
    src = write_photo(tmp_path / "a.jpg")
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")  # mkdir fails: like a read-only home
    out = thumbnails.thumbnail(src, 96, root=cache)
    try:
        assert out.exists() and not out.is_relative_to(cache)
    finally:
        out.unlink()


def test_cache_size(tmp_path):
    for i in range(3):
        thumbnails.thumbnail(write_photo(tmp_path / f"{i}.jpg", seed=i), 96)
    assert thumbnails.cache_size_bytes() > 0


def test_thumbnails_made_before_still_show_when_the_photo_folder_is_offline(tmp_path):
    folder = tmp_path / "share"
    src = write_photo(folder / "a.jpg")
    made = thumbnails.thumbnail(src, 96)
    with Image.open(made) as im:
        before = im.tobytes()
    folder.rename(tmp_path / "unmounted")  # the drive is gone
    offline = thumbnails.thumbnail(src, 96)
    with Image.open(offline) as im:
        assert im.tobytes() == before
    # A photo that never had a thumbnail still says why it cannot be shown.
    with pytest.raises(PhotoError) as info:
        thumbnails.thumbnail(folder / "never.jpg", 96)
    assert info.value.reason == "vanished"


def test_an_edited_photo_replaces_its_offline_thumbnail(tmp_path):
    src = write_photo(tmp_path / "a.jpg", colour=(200, 30, 30))
    thumbnails.thumbnail(src, 96)
    os.utime(src, ns=(1, 1))  # a different mtime: the next thumbnail is a new file
    write_photo(src, colour=(30, 30, 200))
    os.utime(src, ns=(2_000_000_000, 2_000_000_000))
    fresh = thumbnails.thumbnail(src, 96)
    src.unlink()
    with Image.open(thumbnails.thumbnail(src, 96)) as a, Image.open(fresh) as b:
        assert a.tobytes() == b.tobytes()
        r, g, bl = a.convert("RGB").resize((1, 1)).getpixel((0, 0))
        assert bl > r
