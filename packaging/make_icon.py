"""Draw Lookalike's icon (two overlapping product cards, the front one matched) as PNG and ICO.

python packaging/make_icon.py   # writes packaging/lookalike.png and packaging/lookalike.ico
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def draw(size: int = 512) -> Image.Image:
    s = size / 512
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([16 * s, 16 * s, 496 * s, 496 * s], radius=96 * s, fill=(31, 111, 178, 255))
    # back card
    d.rounded_rectangle([88 * s, 80 * s, 300 * s, 330 * s], radius=28 * s, fill=(214, 230, 245, 255))
    d.ellipse([140 * s, 130 * s, 248 * s, 238 * s], fill=(150, 185, 220, 255))
    # front card
    d.rounded_rectangle([212 * s, 182 * s, 424 * s, 432 * s], radius=28 * s, fill=(255, 255, 255, 255))
    d.ellipse([264 * s, 232 * s, 372 * s, 340 * s], fill=(224, 123, 0, 255))
    # the match mark: an orange frame like the inspector's chosen pair
    d.rounded_rectangle(
        [212 * s, 182 * s, 424 * s, 432 * s],
        radius=28 * s,
        outline=(224, 123, 0, 255),
        width=max(2, int(14 * s)),
    )
    return img


def main() -> None:
    big = draw(512)
    big.save(HERE / "lookalike.png")
    big.save(HERE / "lookalike.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    print("wrote", HERE / "lookalike.png", HERE / "lookalike.ico")


if __name__ == "__main__":
    main()
