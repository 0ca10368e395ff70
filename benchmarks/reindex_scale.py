"""An unchanged re-index of a very large photo tree: the cost of finding out that nothing changed.

Creates N small files in a two-level tree (reused when present), writes a catalog whose rows match them
(size, mtime, a vector each) through the catalog's own API as an index run would, then times
`index_photos` over the unchanged tree: one stat per file and one read of the catalog's rows, no decoding,
no model. Goal at 1,000,000 files: <= 60 s.

    python benchmarks/reindex_scale.py [--files 1000000] [--dir /tmp/reindex]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.engine import Engine, index_photos  # noqa: E402
from desktop_app.core.models import default_model, vector_identity  # noqa: E402
from desktop_app.core.scan import scan_folder  # noqa: E402
from desktop_app.core.storage import PhotoWrite  # noqa: E402

PER_FOLDER = 4  # photos per article folder


def make_tree(root: Path, n: int) -> None:
    done = root / f".made-{n}"
    if done.exists():
        return
    data = b"\xff\xd8\xff" + b"\0" * 1021  # 1 KB each: only their names, sizes and times matter here
    for i in range(n):
        folder = root / f"{i // 40_000:03d}" / f"a{i // PER_FOLDER:07d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i % PER_FOLDER}.jpg").write_bytes(data)
    done.write_text("ok")


def write_catalog(db: Path, root: Path, dim: int = 16) -> None:
    """Rows for every file, as an index run that embedded them would leave them (small synthetic vectors)."""
    done = db.with_suffix(".written")
    if done.exists():
        return
    model = default_model("cpu")
    model_id = vector_identity(model.manifest, None, False)
    engine = Engine.open(db, create=True, remember=False)
    from desktop_app.core.scan import GroupingRule

    engine.update_settings(
        photo_root=str(root.resolve()),
        grouping=GroupingRule("folder"),
        model=model.manifest.name,
        model_manifest=str(model.manifest_path),
    )
    found = scan_folder(root).files
    keys = sorted({f.rel.rsplit("/", 1)[0] for f in found})
    ids = engine.catalog.sync_articles(keys)
    rng = np.random.default_rng(0)
    writes = []
    for f in found:
        v = rng.normal(size=dim).astype(np.float32)
        writes.append(
            PhotoWrite(
                ids[f.rel.rsplit("/", 1)[0]],
                f.text,
                f.raw,
                f.size,
                f.mtime_ns,
                None,
                hash=f.text,
                vector=v / np.linalg.norm(v),
            )
        )
        if len(writes) >= 50_000:
            engine.catalog.write_photos(writes, model_id)
            writes.clear()
    engine.catalog.write_photos(writes, model_id)
    run = engine.catalog.start_run(model_id)
    engine.catalog.finish_run(run, "done", {})
    engine.stored_vectors(model_id)  # the local vector store, as the index run that wrote them leaves it
    engine.close()
    done.write_text("ok")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/lookalike-reindex"))
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", str(args.dir / "home"))
    root = args.dir / "photos"
    db = args.dir / "catalog.sqlite"
    t0 = time.perf_counter()
    make_tree(root, args.files)
    write_catalog(db, root)
    print(f"tree and catalog ready ({args.files:,} files) in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    scan = scan_folder(root)
    t_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = index_photos(db, root)
    t_all = time.perf_counter() - t0
    assert summary.unchanged == args.files and summary.embedded == 0, summary
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scan alone: {len(scan.files):,} files in {t_scan:.1f} s")
    print(
        f"unchanged re-index of {args.files:,} files: {t_all:.1f} s (goal <= 60 s); peak RSS {rss:.0f} MiB; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
