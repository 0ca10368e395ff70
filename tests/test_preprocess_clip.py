"""CLIP preprocessing against transformers' CLIPImageProcessor on real catalogue photos, letterbox padding
and mirror averaging."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from desktop_app.core.encoder import Encoder, normalise
from desktop_app.core.images import fit_to_model, preprocess, to_tensor
from desktop_app.core.models import ModelManifest
from desktop_app.core.zoo import CLIP_MEAN, CLIP_STD

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO.parent / "shared" / "datasets" / "magento-luma" / "photos"  # shared/ sits beside the checkout
SAMPLE = REPO / "desktop_app" / "bundled" / "sample" / "photos"  # a subset of the same photos
TOLERANCE = 0.02  # max abs difference per normalised value

CLIP = ModelManifest(
    name="clip-test",
    version="1",
    file="none.onnx",
    sha256="",
    input_name="pixel_values",
    input_size=(224, 224),
    layout="NCHW",
    mean=CLIP_MEAN,
    std=CLIP_STD,
    resize="center_crop",
    interpolation="bicubic",
    output_name="image_embeds",
    dim=512,
    licence="",
    source="",
    family="clip",
)


def sample_photos(count: int = 24) -> list[Path]:
    folder = next((f for f in (PHOTOS, SAMPLE) if f.is_dir()), None)
    if folder is None:
        pytest.fail(f"The bundled sample photos are missing ({SAMPLE}): a packaging regression.")
    files = sorted(folder.rglob("*.jpg"))
    picked = [files[int(i * len(files) / count)] for i in range(count)]
    # the odd sizes too: landscape, square and narrow portrait
    extra = [
        p for p in files if p.name in ("gift-card-physical-custom.jpg", "lt01.jpg", "luma-yoga-brick.jpg")
    ]
    return picked + [p for p in extra if p not in picked]


def reference_processor():
    pytest.importorskip("transformers")
    try:
        # transformers 5: the PIL implementation by name (plain CLIPImageProcessor picks torchvision when
        # installed, and warns and falls back to this class when not)
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor  # 4.x: the PIL implementation
    return Processor(
        size={"shortest_edge": 224},
        crop_size={"height": 224, "width": 224},
        resample=3,
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
        do_center_crop=True,
    )


def full_decode(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def worst_difference(ours) -> tuple[float, str]:
    processor = reference_processor()
    worst, where = 0.0, ""
    for path in sample_photos():
        ref = processor(images=full_decode(path), return_tensors="np")["pixel_values"][0]
        diff = float(np.abs(ours(path) - ref).max())
        if diff > worst:
            worst, where = diff, path.name
    return worst, where


def test_clip_resize_and_crop_match_transformers_at_full_resolution():
    worst, where = worst_difference(lambda p: to_tensor(fit_to_model(full_decode(p), CLIP), CLIP))
    assert worst <= TOLERANCE, f"max abs difference {worst:.4f} on {where}"


def test_clip_preprocess_matches_transformers_on_real_photos():
    worst, where = worst_difference(lambda p: preprocess(p.read_bytes(), CLIP)[0][0])
    assert worst <= TOLERANCE, f"max abs difference {worst:.4f} on {where}"


def test_clip_normalisation_matches_transformers():
    """Resampling aside, the tensor layout, scale and mean/std agree exactly: a 224x224 photo needs no resize."""
    processor = reference_processor()
    for path in sample_photos(4):
        square = full_decode(path).resize((224, 224), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        square.save(buf, format="PNG")  # lossless, so both sides see the same pixels
        ours = preprocess(buf.getvalue(), CLIP)[0][0]
        ref = processor(images=square, return_tensors="np")["pixel_values"][0]
        assert ours.shape == ref.shape == (3, 224, 224)
        assert float(np.abs(ours - ref).max()) <= 1e-5


def test_letterbox_pads_with_white():
    def size(p: Path) -> tuple[int, int]:
        with Image.open(p) as im:
            return im.size

    path = next(p for p in sample_photos() if size(p)[1] > size(p)[0] * 1.1)  # a portrait photo
    w, h = size(path)
    fitted = max(1, round(w * 224 / h))  # e.g. 1080x1340 fits as 181x224: 21 white columns left, 22 right
    left, right = (224 - fitted) // 2, 224 - fitted - (224 - fitted) // 2
    assert left >= 5 and right >= 5
    tensor = preprocess(path.read_bytes(), CLIP, resize="letterbox")[0][0]
    white = (1.0 - np.asarray(CLIP_MEAN, np.float32)) / np.asarray(CLIP_STD, np.float32)
    for columns in (tensor[:, :, :left], tensor[:, :, 224 - right :]):
        assert np.allclose(columns, white[:, None, None], atol=1e-6)
    inside = tensor[:, :, left : 224 - right]
    assert not np.allclose(inside, white[:, None, None], atol=0.05)  # the photo itself is there
    cropped = preprocess(path.read_bytes(), CLIP)[0][0]
    assert not np.allclose(cropped, tensor, atol=0.05)  # the default centre crop is another picture


def test_mirror_adds_the_flipped_photo_and_the_average_is_mirror_invariant(tiny_model):
    """Mirror mode encodes each photo and its mirror image and keeps the normalised mean (as the indexer
    does): the result is the same for a photo and its mirror image, where single embeddings differ."""
    manifest = tiny_model.manifest
    path = sample_photos(3)[1]
    photo = full_decode(path)
    flipped = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    def png(im: Image.Image) -> bytes:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()

    pair, _ = preprocess(png(photo), manifest, mirror=True)
    assert pair.shape == (2, 3, *manifest.input_size)
    assert np.array_equal(pair[1], pair[0][:, :, ::-1])

    enc = Encoder(tiny_model, device="cpu")

    def mirrored(data: bytes) -> np.ndarray:
        tensors, _ = preprocess(data, manifest, mirror=True)
        return normalise(enc.encode(tensors).mean(axis=0, keepdims=True))[0]

    plain_a = enc.encode(preprocess(png(photo), manifest)[0])[0]
    plain_b = enc.encode(preprocess(png(flipped), manifest)[0])[0]
    assert float(plain_a @ plain_b) < 0.9999  # the model itself is not mirror-symmetric
    avg_a, avg_b = mirrored(png(photo)), mirrored(png(flipped))
    assert float(avg_a @ avg_b) > 0.99999
    both = normalise(enc.encode(pair))
    assert np.allclose(avg_a, normalise((both[0] + both[1])[None])[0], atol=1e-6)
