"""The edits a catalogue's duplicates go through, applied to a photo to make known duplicates.

`benchmarks/duplicates_eval.py` makes its test corpus with these, and the tests use them on small generated
pictures, so both measure the same transformations: a 50% resize, JPEG quality 60, a 5% crop (split at
random between the sides), a 5% crop from one corner (all of it from the left and the top), a mirror image,
brightness +10%, a small text overlay, and an exact copy of the file. Edit names go into file and article
names, so they hold no underscore (the Magento pattern ends an article id there).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

SAVE_QUALITY = 90  # how a re-export that is not about quality saves (a shop's usual setting)


def resized(im: Image.Image, rng: random.Random) -> Image.Image:
    """Half the width and height (a thumbnail-size re-export)."""
    return im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.Resampling.LANCZOS)


def cropped(im: Image.Image, rng: random.Random) -> Image.Image:
    """5% of the width and of the height cut away, split at random between the two sides."""
    cut_w, cut_h = round(im.width * 0.05), round(im.height * 0.05)
    left, top = rng.randint(0, cut_w), rng.randint(0, cut_h)
    return im.crop((left, top, im.width - (cut_w - left), im.height - (cut_h - top)))


def cropped_from_a_corner(im: Image.Image, rng: random.Random) -> Image.Image:
    """5% of the width cut from the left and 5% of the height from the top: the whole cut on one side of
    each axis, so the picture shifts twice as far as under `cropped` on average."""
    return im.crop((round(im.width * 0.05), round(im.height * 0.05), im.width, im.height))


def mirrored(im: Image.Image, rng: random.Random) -> Image.Image:
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def brighter(im: Image.Image, rng: random.Random) -> Image.Image:
    """Brightness +10% (Pillow's enhancer: every channel times 1.1, clipped)."""
    return ImageEnhance.Brightness(im).enhance(1.1)


def with_text(im: Image.Image, rng: random.Random) -> Image.Image:
    """A small text overlay in a corner (a shop's watermark or a price sticker): about 4% of the height."""
    out = im.copy()
    draw = ImageDraw.Draw(out)
    size = max(8, im.height // 25)
    font = ImageFont.load_default(size=size)
    text = rng.choice(["SALE -20%", "© Luma shop", "NEW", "sample"])
    box = draw.textbbox((0, 0), text, font=font)
    w, h = box[2] - box[0], box[3] - box[1]
    margin = max(2, im.width // 40)
    x = margin if rng.random() < 0.5 else im.width - w - margin
    y = margin if rng.random() < 0.5 else im.height - h - margin
    draw.text((x, y), text, fill=rng.choice([(20, 20, 20), (200, 30, 30), (255, 255, 255)]), font=font)
    return out


PIXEL_EDITS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "resize": resized,
    "crop": cropped,
    "cornercrop": cropped_from_a_corner,
    "mirror": mirrored,
    "brightness": brighter,
    "text": with_text,
}
EDITS = (
    "exact",
    "resize",
    "jpeg60",
    "crop",
    "cornercrop",
    "mirror",
    "brightness",
    "text",
)  # every kind of known duplicate


def make_copy(src: Path, dst: Path, edit: str, seed: int = 0) -> Path:
    """Write `dst` as `src` after one of EDITS; the source file is only read."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if edit == "exact":
        shutil.copyfile(src, dst)
        return dst
    with Image.open(src) as opened:
        im = opened.convert("RGB")
    if edit == "jpeg60":
        im.save(dst, "JPEG", quality=60)
        return dst
    rng = random.Random(f"{seed}:{src.name}:{edit}")
    PIXEL_EDITS[edit](im, rng).save(dst, "JPEG", quality=SAVE_QUALITY)
    return dst
