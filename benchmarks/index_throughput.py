"""Indexing throughput on real full-size photos: end-to-end pipeline versus the bare encoder.

Prints photos/s for (a) `index_folder` on the whole photo folder (read, hash, decode, preprocess, embed,
commit) and (b) the same encoder, batch and threads on already-preprocessed tensors, their ratio, the time
of an unchanged re-index of a 1,000-photo folder, and the catalog size on disk. Because decoding and the
model share the same cores, it also prints each stage's CPU time per photo and the throughput limit they
imply, so the pipeline's own overhead is visible apart from the cost of decoding.

    python benchmarks/index_throughput.py [--photos DIR] [--model NAME|FILE] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from desktop_app.core.device import physical_cores
from desktop_app.core.encoder import Encoder
from desktop_app.core.images import preprocess, read_bytes
from desktop_app.core.index_batches import content_hash
from desktop_app.core.indexer import IndexOptions, index_folder
from desktop_app.core.models import resolve_model
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule, walk_photos
from desktop_app.core.storage import Catalog

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma" / "photos"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DATASET)
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-bench-home-"))
    model = resolve_model(args.model)
    threads = physical_cores()
    files = list(walk_photos(args.photos))
    print(
        f"model {model.manifest.name} ({model.manifest.precision}), {len(files)} photos in {args.photos}, "
        f"batch {args.batch_size}, encoder threads {threads}, cpu count {os.cpu_count()}"
    )

    work = Path(tempfile.mkdtemp(prefix="lookalike-bench-"))
    encoder = Encoder(model, device="cpu", threads=threads)

    # CPU cost per photo of reading, hashing, decoding and preprocessing (one thread), as the pipeline does
    def prepare(rel: str) -> np.ndarray:
        data = read_bytes(args.photos / rel)
        content_hash(data)
        return preprocess(data, model.manifest)[0]

    c0 = time.process_time()
    tensors = np.concatenate([prepare(f.rel) for f in files])
    prep_cpu_ms = (time.process_time() - c0) / len(files) * 1e3
    # (b) bare encoder on preprocessed tensors (warm-up batch first, like the pipeline's first batch)
    encoder.encode(tensors[: args.batch_size])
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(tensors), args.batch_size):
        encoder.encode(tensors[start : start + args.batch_size])
    bare = len(tensors) / (time.perf_counter() - t0)
    enc_cpu_ms = (time.process_time() - c0) / len(tensors) * 1e3
    del tensors
    # Both stages need the same cores: no pipeline can beat cores / (decode + encode CPU per photo).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cpu_bound = cores * 1e3 / (prep_cpu_ms + enc_cpu_ms)

    # (a) end-to-end: a fresh catalog, the same encoder object (session already warm)
    catalog = Catalog(work / "e2e.sqlite")
    opts = IndexOptions(batch_size=args.batch_size, workers=args.workers, threads=threads)
    t0 = time.perf_counter()
    summary = index_folder(
        catalog, args.photos, rule=GroupingRule("pattern", MAGENTO_PATTERN), options=opts, encoder=encoder
    )
    e2e_total = time.perf_counter() - t0
    e2e = summary.embedded / e2e_total
    t0 = time.perf_counter()
    again = index_folder(catalog, args.photos, options=opts)
    unchanged_725 = time.perf_counter() - t0
    catalog.close()  # as after any run: the write-ahead log is checkpointed into the file
    size = catalog.path.stat().st_size + sum(
        p.stat().st_size for p in catalog.path.parent.glob(catalog.path.name + "-*")
    )

    # unchanged re-index of 1,000 photos: the dataset plus hard-linked copies under other names
    big = work / "photos1000"
    made = 0
    while made < 1000:
        for f in files:
            if made >= 1000:
                break
            dst = big / f"copy{made // len(files)}" / f.rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(args.photos / f.rel, dst)
            made += 1
    cat2 = Catalog(work / "r1000.sqlite")
    index_folder(cat2, big, options=opts, encoder=encoder)
    t0 = time.perf_counter()
    r = index_folder(cat2, big, options=opts)
    unchanged_1000 = time.perf_counter() - t0
    assert r.unchanged == 1000 and r.embedded == 0

    print()
    print(f"{'measure':<44}{'value':>12}")
    print(f"{'end-to-end index (photos/s)':<44}{e2e:>12.1f}")
    print(f"{'bare encoder on tensors (photos/s)':<44}{bare:>12.1f}")
    print(f"{'ratio end-to-end / bare (goal >= 0.85)':<44}{e2e / bare:>12.2f}")
    print(f"{'CPU ms per photo: read+hash+decode+prep':<44}{prep_cpu_ms:>12.1f}")
    print(f"{'CPU ms per photo: encoder':<44}{enc_cpu_ms:>12.1f}")
    print(f"{'CPU-bound limit on these cores (photos/s)':<44}{cpu_bound:>12.1f}")
    print(f"{'end-to-end / CPU-bound limit':<44}{e2e / cpu_bound:>12.2f}")
    print(f"{'unchanged re-index, 725 photos (s)':<44}{unchanged_725:>12.3f}")
    print(f"{'unchanged re-index, 1,000 photos (s)':<44}{unchanged_1000:>12.3f}")
    print(f"{'catalog size on disk (MB)':<44}{size / 1e6:>12.2f}")
    print(f"{'catalog bytes per photo':<44}{size / max(summary.photos, 1):>12.0f}")
    assert again.embedded == 0


if __name__ == "__main__":
    main()
