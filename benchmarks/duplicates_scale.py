"""How the duplicate finder scales: the candidate stage on 100,000 photo vectors, and the cost per pair and
per photo of the second signal.

The vectors are synthetic (no 100k-photo catalogue is at hand): 1280-d like the bundled model, drawn around
20,000 "products" of 5 photos each whose photos are as alike as an article's views (median cosine about
0.85), with a power-law spectrum like real embeddings, plus 2,000 planted near copies (cosine 0.97-0.995).
Prints the candidate stage's time, the pairs it found, the recall of the planted copies (the stage is exact:
it must be 1.0), and the cost of fingerprint comparisons (per pair, batched) and of fingerprinting a real
photo from its file (per photo), so the whole run can be estimated for a catalogue.

    python benchmarks/duplicates_scale.py [--photos 100000] [--dim 1280] [--data DIR]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core import duplicates as dup
from desktop_app.core import fingerprints as fpr

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"


def synthetic(n: int, dim: int, per_product: int = 5, copies: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    copies = min(copies, n // 10)  # a small run (--photos 3000) plants fewer
    scale = (1.0 / np.arange(1, dim + 1) ** 0.6).astype(np.float32)  # a power-law spectrum
    products = rng.normal(size=(n // per_product, dim)).astype(np.float32) * scale
    products /= np.linalg.norm(products, axis=1, keepdims=True)
    V = np.repeat(products, per_product, axis=0)[: n - copies]
    V += rng.normal(size=V.shape).astype(np.float32) * scale * 0.55
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    src = rng.choice(V.shape[0], copies, replace=False)
    # A copy at cosine 1 / sqrt(1 + e^2) with e in [0.1, 0.25]: 0.970-0.995, as measured for near copies.
    step = rng.normal(size=(copies, dim)).astype(np.float32) * scale
    step /= np.linalg.norm(step, axis=1, keepdims=True)
    dup_rows = V[src] + step * rng.uniform(0.1, 0.25, size=(copies, 1)).astype(np.float32)
    V = np.concatenate([V, dup_rows / np.linalg.norm(dup_rows, axis=1, keepdims=True)])
    planted = {(int(s), n - copies + k) for k, s in enumerate(src)}
    return np.ascontiguousarray(V), planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    V, planted = synthetic(args.photos, args.dim)
    cos = np.einsum("ij,ij->i", V[[a for a, _ in planted]], V[[b for _, b in planted]])
    print(
        f"{V.shape[0]} synthetic vectors of {V.shape[1]} dims; planted copies at cosine "
        f"{cos.min():.3f}-{cos.max():.3f}"
    )
    t = time.perf_counter()
    cands = dup.candidate_pairs(V, max_neighbours=10**9)
    stage = time.perf_counter() - t
    found = set(zip(cands.rows_a.tolist(), cands.rows_b.tolist()))
    recall = sum(p in found for p in planted) / len(planted)
    print(
        f"candidate stage: {stage:.1f} s, {cands.checked} pairs checked in full after the bound, "
        f"{cands.rows_a.size} pairs with cosine >= {dup.MIN_COS}; planted copies found: {recall:.3f}"
    )

    rng = np.random.default_rng(1)
    photos = sorted((args.data / "photos").rglob("*.jpg"))[:200]
    t = time.perf_counter()
    prints = [fpr.fingerprint_file(p) for p in photos]
    per_photo = (time.perf_counter() - t) / max(len(prints), 1)
    pairs = [(prints[i], prints[j]) for i, j in rng.integers(0, len(prints), size=(2048, 2))]
    copies = [(fp, fpr.fingerprint_image(recompressed(p))) for fp, p in zip(prints, photos)]
    mirrors = [(fp, fpr.fingerprint_image(mirrored(p))) for fp, p in zip(prints, photos)]
    # The finder's own judgement (`duplicates.judge`): a pair is compared mirrored as well only when it has a
    # kind as it is (an edit: the same shot by its pHash and cosine) and could look closer mirrored.
    cost = {}
    for name, batch, cos in (("other", pairs, 0.95), ("mirror", mirrors, 0.95), ("copy", copies, 0.97)):
        t = time.perf_counter()
        for start in range(0, len(batch), 256):
            dup.judge([(a, b, cos) for a, b in batch[start : start + 256]])
        cost[name] = (time.perf_counter() - t) / len(batch)
    print(
        f"fingerprint from a real photo file: {per_photo * 1e3:.1f} ms per photo (one thread; cached in the "
        f"catalog after the first run); judging a pair (batched): {cost['other'] * 1e3:.2f} ms per pair of "
        f"different photos, {cost['mirror'] * 1e3:.2f} ms per photo and its mirror image (an edit: compared "
        f"both ways), {cost['copy'] * 1e3:.2f} ms per photo and its half-size JPEG copy"
    )
    print(
        f"so on this data: candidates {stage:.0f} s + at most {cands.rows_a.size * max(cost.values()):.0f} s "
        "to judge every candidate pair (pairs whose pHashes differ by more than 22 bits are skipped first)"
    )


def mirrored(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def recompressed(path: Path) -> Image.Image:
    """The photo at half size and JPEG quality 60, as a re-export would leave it."""
    image = Image.open(path).convert("RGB")
    buf = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(buf, "JPEG", quality=60)
    return Image.open(buf).convert("RGB")


if __name__ == "__main__":
    main()
