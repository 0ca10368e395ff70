"""Loading real-world photo files: orientation, modes, animations, and every kind of bad file."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.images import PhotoError, fit_to_model, load_photo, preprocess, read_bytes
from desktop_app.core.models import ModelManifest


def _manifest(resize="center_crop", size=(32, 32)):
    return ModelManifest(
        name="m",
        version="1",
        file="m.onnx",
        sha256="0" * 64,
        input_name="x",
        input_size=size,
        layout="NCHW",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        resize=resize,
        interpolation="bicubic",
        output_name="y",
        dim=4,
        licence="-",
        source="-",
    )


def _bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied():
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    loaded = load_photo(_bytes(im, "JPEG", exif=exif.tobytes()))
    assert loaded.image.size == (20, 40)
    assert (loaded.width, loaded.height) == (20, 40)


def test_alpha_is_composited_on_white():
    im = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    loaded = load_photo(_bytes(im, "PNG"))
    assert loaded.image.mode == "RGB"
    assert loaded.image.getpixel((3, 3)) == (255, 255, 255)


def test_palette_with_transparency_cmyk_and_grey_become_rgb():
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([10, 20, 30] * 256)
    pal.info["transparency"] = 0
    assert load_photo(_bytes(pal, "PNG", transparency=0)).image.getpixel((0, 0)) == (255, 255, 255)
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    r, g, b = load_photo(_bytes(cmyk, "JPEG")).image.getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60
    grey = Image.new("L", (8, 8), 128)
    assert load_photo(_bytes(grey, "PNG")).image.getpixel((1, 1)) == (128, 128, 128)


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    im = Image.new("I;16", (8, 8))
    im.putdata([32768] * 64)
    value = load_photo(_bytes(im, "PNG")).image.getpixel((2, 2))[0]
    assert 120 <= value <= 135  # mid-grey, not white


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    import io

    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    r, g, b = load_photo(buf.getvalue()).image.getpixel((4, 4))
    assert r > 200 and b < 60


def test_jpeg_is_decoded_in_draft_mode_at_model_size():
    im = Image.new("RGB", (2000, 1600), (20, 120, 220))
    loaded = load_photo(_bytes(im, "JPEG"), min_size=(224, 224))
    assert loaded.image.size[0] < 2000 and min(loaded.image.size) >= 224
    assert (loaded.width, loaded.height) == (2000, 1600)


def test_center_crop_letterbox_and_squash_sizes():
    im = Image.new("RGB", (100, 50), (0, 0, 0))
    for mode in ("center_crop", "letterbox", "squash"):
        assert fit_to_model(im, _manifest(mode)).size == (32, 32)
    boxed = fit_to_model(im, _manifest("letterbox"))
    assert boxed.getpixel((16, 0)) == (255, 255, 255)  # padding is white
    assert boxed.getpixel((16, 16)) == (0, 0, 0)


def test_preprocess_shapes_and_mirror():
    im = Image.new("RGB", (64, 64), (255, 255, 255))
    tensor, _ = preprocess(_bytes(im, "PNG"), _manifest())
    assert tensor.shape == (1, 3, 32, 32) and tensor.dtype == np.float32
    assert np.allclose(tensor, 1.0)
    both, _ = preprocess(_bytes(im, "PNG"), _manifest(), mirror=True)
    assert both.shape == (2, 3, 32, 32)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"this is a text file, not a photo\n", "not_an_image"),
        (_png_header(50_000, 50_000), "too_large"),
    ],
)
def test_bad_bytes_raise_photo_errors(data, reason):
    with pytest.raises(PhotoError) as info:
        load_photo(data)
    assert info.value.reason == reason


def test_truncated_jpeg_is_reported():
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    data = _bytes(im, "JPEG")
    with pytest.raises(PhotoError) as info:
        load_photo(data[: len(data) // 2])
    assert info.value.reason in ("truncated", "decode_error")


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(PhotoError) as info:
        read_bytes(empty)
    assert info.value.reason == "empty"
    with pytest.raises(PhotoError) as info:
        read_bytes(tmp_path / "gone.jpg")
    assert info.value.reason == "vanished"


def test_files_that_are_no_photo_files_are_refused_with_their_reason(tmp_path):
    import os

    def refused(path, **kw) -> tuple[str, str]:
        with pytest.raises(PhotoError) as info:
            read_bytes(path, **kw)
        return info.value.reason, str(info.value)

    assert refused(tmp_path) == ("unreadable", "is a directory")
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    assert refused(pipe) == ("not_a_file", "is a named pipe (FIFO), not a photo file")  # never blocks
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 3_000_000)
    assert refused(big, limit=2_000_000) == ("too_big", "3 MB is over the limit of 2 MB per photo")
    assert read_bytes(big, limit=3_000_000) == b"x" * 3_000_000
    reason, message = refused(tmp_path / ("n" * 300 + ".jpg"))
    assert reason == "unreadable" and message.startswith("cannot be read: ")
