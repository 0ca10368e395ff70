"""What making duplicate fingerprints while indexing would cost, measured on real photos.

Indexing decodes every photo for the model anyway; this times, per photo, the model's decode and
preprocessing, a fingerprint made from that decoded picture, and the duplicate finder's own fingerprint of
the file (its own, smaller JPEG decode), and compares the two fingerprints (`fingerprints.compare`: the
share of cells that differ in luma and colour, and pHash bits). Also prints the stored size per photo.

    python -m benchmarks.fingerprint_cost [--photos DIR] [--limit 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from desktop_app.core import fingerprints as fpr
from desktop_app.core.images import decoded, fit_to_model, read_bytes
from desktop_app.core.models import default_model
from desktop_app.core.storage.vectors import VECTOR_DTYPE

MAGENTO = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma" / "photos"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=MAGENTO)
    ap.add_argument("--limit", type=int, default=300)
    args = ap.parse_args()
    model = default_model()
    files = sorted(p for p in args.photos.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    files = files[: args.limit]
    decode = from_decoded = from_file = 0.0
    luma, colour, bits = [], [], []
    for path in files:
        data = read_bytes(path)
        t0 = time.perf_counter()
        manifest = model.manifest
        with decoded(data, min_size=manifest.input_size[::-1] if manifest.use_jpeg_draft else None) as loaded:
            fit_to_model(loaded.image, manifest)  # the model's decode and resize, as preprocess does them
            t1 = time.perf_counter()
            a = fpr.fingerprint_image(loaded.image)
            t2 = time.perf_counter()
        b = fpr.fingerprint_file(path)
        t3 = time.perf_counter()
        decode, from_decoded, from_file = decode + t1 - t0, from_decoded + t2 - t1, from_file + t3 - t2
        d = fpr.compare(a, b)
        luma.append(d.luma_changed)
        colour.append(d.chroma_changed)
        bits.append(d.hamming)
    n = max(len(files), 1)
    size = len(a.to_bytes())
    print(f"{len(files)} photos from {args.photos}, model {model.manifest.name}")
    print(f"  model decode + preprocess       {1e3 * decode / n:6.1f} ms per photo")
    print(f"  fingerprint of that picture     {1e3 * from_decoded / n:6.1f} ms per photo")
    print(f"  the finder's fingerprint (file) {1e3 * from_file / n:6.1f} ms per photo")
    print(
        f"  the two fingerprints differ: luma cells max {max(luma):.2%}, colour cells max {max(colour):.2%}, "
        f"pHash bits mean {np.mean(bits):.1f} max {max(bits)}"
    )
    vector = model.manifest.dim * VECTOR_DTYPE.itemsize
    print(f"  stored per photo: fingerprint {size:,} bytes, vector {vector:,} bytes")


if __name__ == "__main__":
    main()
