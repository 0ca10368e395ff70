"""Loading photos as RGB and turning them into model input tensors.

Every decode goes through `load_photo`, which knows the awkward cases of real catalogue files (EXIF
orientation, transparency, CMYK, 16-bit, palettes, animations, decompression bombs) and decodes JPEGs at
reduced size when the model needs far fewer pixels than the file holds.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from desktop_app.core.files import read_at_most
from desktop_app.core.models import ModelManifest
from desktop_app.core.scan import special_kind
from desktop_app.core.wording import megabytes

log = logging.getLogger(__name__)

# Files with more pixels than this are refused before decoding (Pillow's own guard is 179 MP with a
# warning and an error only at twice that). 100 MP covers medium-format product shots.
MAX_PIXELS = 100_000_000
# Bytes read from one photo file at most. Catalogue photos are a few MB; an uncompressed 100 MP TIFF is about
# 300 MB. Anything larger is refused before it is read.
MAX_FILE_BYTES = 500_000_000

_registered_heif = False


def _register_heif() -> None:
    global _registered_heif
    if _registered_heif:
        return
    _registered_heif = True
    try:
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()


class PhotoError(Exception):
    """A photo that cannot be used; `reason` is a short machine-readable code, the message says more."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class LoadedPhoto:
    image: Image.Image  # RGB, orientation applied, possibly reduced by JPEG draft decoding
    width: int  # full size, after EXIF orientation
    height: int


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a photo file, never more than `limit`; special files are refused without blocking.

    The file is opened non-blocking and checked with fstat before anything is read: a FIFO, a device or a
    socket named like a photo would otherwise block the reader forever (or, like /dev/zero, never end).
    """
    fd = _open_photo_file(path)
    try:
        data = _read_regular_file(fd, limit)
    except OSError as exc:
        raise PhotoError("unreadable", f"cannot be read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if not data:
        raise PhotoError("empty", "the file is empty (0 bytes)")
    return data


def _open_photo_file(path: Path) -> int:
    """A descriptor of the file, opened non-blocking (opening a FIFO must not wait for a writer)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags)
    except FileNotFoundError as exc:
        raise PhotoError("vanished", "the file does not exist (it was moved or deleted)") from exc
    except PermissionError as exc:
        raise PhotoError("unreadable", "permission denied") from exc
    except IsADirectoryError as exc:
        raise PhotoError("unreadable", "is a directory") from exc
    except OSError as exc:
        raise PhotoError("unreadable", f"cannot be read: {exc.strerror or exc}") from exc


def _read_regular_file(fd: int, limit: int) -> bytes:
    """The bytes behind an open descriptor, once fstat says it is a regular file of at most `limit` bytes."""
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise PhotoError("unreadable", "is a directory")
    kind = special_kind(st.st_mode)
    if kind is not None:
        raise PhotoError("not_a_file", f"is {kind}, not a photo file")
    if st.st_size > limit:
        raise _too_big(st.st_size, limit)
    data = read_at_most(fd, limit + 1)
    if len(data) > limit:  # the file grew while it was read
        raise _too_big(None, limit)
    return data


def _too_big(size: int | None, limit: int) -> PhotoError:
    """A file over the size limit, with its size when that reads differently from the limit."""
    size_text = megabytes(size) if size is not None else megabytes(limit)
    what = "the file" if size_text == megabytes(limit) else size_text
    return PhotoError("too_big", f"{what} is over the limit of {megabytes(limit)} per photo")


class MemoryBudget:
    """Bytes that decoding photos may take at once, across all threads of the process.

    A decode waits until its estimated cost fits beside the others'; one larger than the whole budget
    runs alone, so every allowed photo is decoded, never two giants at once.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, cost: int) -> Iterator[None]:
        cost = max(0, int(cost))
        with self._cond:
            while self.used > 0 and self.used + cost > self.capacity:
                self._cond.wait()
            self.used += cost
            self.peak = max(self.peak, self.used)
        if cost >= GIVE_BACK_ABOVE:
            give_back_freed_memory()
        try:
            yield
        finally:
            with self._cond:
                self.used -= cost
                self._cond.notify_all()


# A decode at least this big first has the C allocator return the memory earlier decodes freed. glibc keeps
# freed memory in per-thread arenas: four index workers decoding 100 MP photos in turn took 2.2 GB of RSS
# though never more than one decode (1.1 GB) was alive at once.
GIVE_BACK_ABOVE = 256 * 1024 * 1024
_malloc_trim: Callable[[int], int] | None | bool = None


def give_back_freed_memory() -> None:
    """Return memory the C allocator holds freed to the system (glibc's malloc_trim); elsewhere nothing."""
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            pass  # not glibc: its allocator returns big blocks by itself, or keeps them its own way
    if _malloc_trim:
        _malloc_trim(0)


# Decoding an RGBA photo costs the decoded pixels and about two more copies (alpha compositing, conversion
# to RGB). 1.5 GB lets one photo at the 100 MP limit decode (alone), or many ordinary ones in parallel.
DECODE_BUDGET = MemoryBudget(1_500_000_000)


def decode_cost(im: Image.Image) -> int:
    """Bytes a decode of this (opened, not yet loaded) picture will need at its peak, estimated."""
    bands = len(im.getbands())
    depth = 2 if im.mode.startswith("I;16") else 4 if im.mode in ("I", "F") else 1
    w, h = im.size
    return w * h * max(bands, 3) * depth * 3


def load_photo(
    data: bytes,
    min_size: tuple[int, int] | None = None,
    max_pixels: int = MAX_PIXELS,
    shrink: Callable[[Image.Image], Image.Image] | None = None,
) -> LoadedPhoto:
    """Decode image bytes to an RGB picture; with `shrink`, the picture that gives (see `decoded`).

    Pass `shrink` (to the model's input, a thumbnail...) whenever the full-size picture is not wanted: it
    runs while the decode still holds its share of the memory budget, so the full-size copy is never alive
    outside the budget.
    """
    with decoded(data, min_size, max_pixels) as loaded:
        if shrink is not None:
            loaded.image = shrink(loaded.image)
        return loaded


@contextmanager
def decoded(
    data: bytes, min_size: tuple[int, int] | None = None, max_pixels: int = MAX_PIXELS
) -> Iterator[LoadedPhoto]:
    """The photo decoded to RGB, holding its share of DECODE_BUDGET until the block ends: do the work on the
    full-size picture (resizing it, fingerprinting it) inside the block.

    min_size (w, h): the decoder may reduce a JPEG while both sides stay at least this large (draft mode).
    """
    im = _opened(data, max_pixels)
    w, h = im.size
    # A JPEG's EXIF is in its header; a PNG's may follow the pixels, and Pillow decodes the whole picture to
    # look for it, so a PNG's orientation is read once it is decoded, inside the budget.
    early = _orientation(im) if im.format == "JPEG" else None
    want = None
    if early is not None and min_size is not None:
        want = (min_size[1], min_size[0]) if early in (5, 6, 7, 8) else min_size
    cost = _prepared(im, want)
    with DECODE_BUDGET.hold(cost):
        rgb, orientation = _pixels(im, early)
        del im  # the decoded pixels before conversion: only the RGB copy stays alive in the block
        yield LoadedPhoto(rgb, *((h, w) if orientation in (5, 6, 7, 8) else (w, h)))


# Pillow's errors while decoding. They become PhotoErrors raised outside the `except` clause, so that neither
# the error nor its traceback is kept: a traceback keeps its frames alive, and with them Pillow's decoder and
# the pixels it writes into. An index run keeps the error of every photo it skipped, and a file whose header
# claims 95 MP has its 270 MB allocated before its data runs out: 600 such files took 22 GB.
_DECODE_ERRORS = (Image.DecompressionBombError, OSError, SyntaxError, ValueError)


def _prepared(im: Image.Image, draft: tuple[int, int] | None) -> int:
    """Ask for a reduced JPEG decode and the first frame; the decode's estimated cost in bytes."""
    try:
        if draft is not None:
            im.draft("RGB", draft)
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        return decode_cost(im)
    except _DECODE_ERRORS as exc:
        error = _photo_error(exc)
    im.close()
    raise error


def _pixels(im: Image.Image, orientation: int | None) -> tuple[Image.Image, int]:
    """The opened picture decoded, turned upright and converted to RGB, and its EXIF orientation (read from
    the decoded picture when not given); on failure every picture made on the way is closed (its memory freed
    at once) and the PhotoError says why."""
    made = [im]
    try:
        im.load()
        orientation = _orientation(im) if orientation is None else orientation
        if orientation != 1:
            made.append(ImageOps.exif_transpose(im))
        return to_rgb(made[-1]), orientation
    except _DECODE_ERRORS as exc:
        error = _photo_error(exc)
    for picture in made:
        picture.close()
    raise error


def _photo_error(exc: BaseException) -> PhotoError:
    text = str(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return PhotoError("too_large", text)
    reason = "truncated" if "truncated" in text or "broken data stream" in text else "decode_error"
    return PhotoError(reason, f"cannot be decoded: {text}")


def _opened(data: bytes, max_pixels: int) -> Image.Image:
    """The picture opened (its header read, no pixels decoded), or a PhotoError when it is not an image or
    has more pixels than `max_pixels`."""
    _register_heif()
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise PhotoError("not_an_image", "not a readable image file") from exc
    except Image.DecompressionBombError as exc:
        raise PhotoError("too_large", str(exc)) from exc
    except OSError as exc:
        raise PhotoError("decode_error", f"cannot be decoded: {exc}") from exc
    w, h = im.size
    if w * h > max_pixels:
        raise PhotoError("too_large", f"{w} x {h} pixels is over the limit of {max_pixels // 1_000_000} MP")
    if w == 0 or h == 0:
        raise PhotoError("decode_error", "the image has no pixels")
    return im


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 = upright). Call it on a PNG only once decoded: Pillow decodes it to look."""
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception as exc:  # noqa: BLE001 - Pillow's EXIF parser fails in many ways; the photo stays usable
        log.debug("EXIF orientation unreadable, photo kept upright: %r", exc)
        return 1


def fit_within(
    box: int, resample: Image.Resampling = Image.Resampling.BICUBIC
) -> Callable[[Image.Image], Image.Image]:
    """A `shrink` for `load_photo`: the picture fitted into box x box, its aspect ratio kept."""

    def shrink(im: Image.Image) -> Image.Image:
        im.thumbnail((box, box), resample, reducing_gap=2.0)
        return im

    return shrink


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB with transparency composited on white and 16-bit or float greyscale scaled, not clipped."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if im.mode == "F":
            top = max(float(arr.max(initial=1.0)), 1e-6)
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # No copy more than needed (decode_cost counts three): 100 MP of RGBA is 400 MB a copy.
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        composed = Image.alpha_composite(white, rgba)
        del white, rgba
        return composed.convert("RGB")
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def fit_to_model(im: Image.Image, manifest: ModelManifest, resize: str | None = None) -> Image.Image:
    """Resize (and crop or pad) an RGB picture to the model's input size, per the manifest's resize mode."""
    out_h, out_w = manifest.input_size
    mode = resize or manifest.resize
    resample = _RESAMPLE.get(manifest.interpolation, Image.Resampling.BICUBIC)
    w, h = im.size
    if mode == "squash":
        return im.resize((out_w, out_h), resample)
    if mode == "letterbox":
        scale = min(out_w / w, out_h / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = Image.new("RGB", (out_w, out_h), (255, 255, 255))
        canvas.paste(im.resize((nw, nh), resample), ((out_w - nw) // 2, (out_h - nh) // 2))
        return canvas
    # center_crop: shortest side to the crop size, then the middle
    scale = max(out_w / w, out_h / h)
    # Truncate like torchvision and transformers do, so CLIP preprocessing matches theirs pixel for pixel.
    nw, nh = max(out_w, int(w * scale)), max(out_h, int(h * scale))
    resized = im.resize((nw, nh), resample)
    left, top = (nw - out_w) // 2, (nh - out_h) // 2
    return resized.crop((left, top, left + out_w, top + out_h))


def to_tensor(im: Image.Image, manifest: ModelManifest) -> np.ndarray:
    """float32 [C, H, W] (or [H, W, C]) normalised with the manifest's mean and std."""
    arr = np.asarray(im, dtype=np.float32) * (1.0 / 255.0)
    arr = (arr - np.asarray(manifest.mean, np.float32)) / np.asarray(manifest.std, np.float32)
    if manifest.layout == "NCHW":
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr)


def preprocess(
    data: bytes,
    manifest: ModelManifest,
    resize: str | None = None,
    mirror: bool = False,
    on_decoded: Callable[[Image.Image], object] | None = None,
) -> tuple[np.ndarray, LoadedPhoto]:
    """Image bytes -> model input tensor(s): [1, ...] or, with mirror, [2, ...] (photo and its mirror).

    `on_decoded` is given the decoded, upright RGB picture (as decoded for the model: a JPEG possibly
    reduced, both sides still at least the model's input) before it is fitted to the model, so that other
    small pictures (the catalog's thumbnail) are made from the same decode; it must not change it."""
    out_h, out_w = manifest.input_size

    def shrink(rgb: Image.Image) -> Image.Image:
        if on_decoded is not None:
            on_decoded(rgb)
        return fit_to_model(rgb, manifest, resize)

    loaded = load_photo(data, min_size=(out_w, out_h) if manifest.use_jpeg_draft else None, shrink=shrink)
    fitted = loaded.image
    tensors = [to_tensor(fitted, manifest)]
    if mirror:
        tensors.append(to_tensor(fitted.transpose(Image.Transpose.FLIP_LEFT_RIGHT), manifest))
    return np.stack(tensors), loaded


# Truncated files should fail loudly, not decode half a picture silently.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow's own guard against decompression bombs warns on stderr above 89 MP (in Image.open and in some
# plugins' seek) and refuses twice that. Every decode here goes through `_opened`, which refuses pictures over
# MAX_PIXELS after reading the header and before a pixel is allocated, so Pillow's guard is switched off: its
# warning reached the terminal during indexing, as `warnings.catch_warnings` around each decode swapped the
# warning filters of every thread at once (it is not thread-safe).
Image.MAX_IMAGE_PIXELS = None
