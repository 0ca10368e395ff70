"""Indexing a photo folder into its catalog: scan, plan, load the model, store the settings, embed, finish.

An index run scans the folder, compares it with the catalog (`index_plan`), loads the model (before
anything is written, so a model that cannot load changes nothing), then stores the catalog's settings and
applies the plan, embedding in batches (`index_batches`: one transaction per batch, so a kill loses at most
the batch in flight), and in a catalog that keeps thumbnails stores those its photos indexed before lack
(`catalog_thumbnails.fill_missing`). Unchanged files (same size and mtime) cost one stat; moved files are recognised by
content hash and keep their vectors; deleted files leave the catalog only after a complete scan. Every run
is recorded: done, cancelled, or failed with its error.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.catalog_thumbnails import fill_missing, keeps_thumbnails
from desktop_app.core.device import physical_cores
from desktop_app.core.encoder import Encoder, normalise
from desktop_app.core.errors import InputError
from desktop_app.core.images import PhotoError, preprocess, read_bytes
from desktop_app.core.index_batches import BatchRun, embed_in_batches
from desktop_app.core.index_plan import IndexPlan, plan_index
from desktop_app.core.models import InstalledModel, catalog_model, resolve_model, vector_identity
from desktop_app.core.scan import (
    GroupingRule,
    ScanResult,
    grouping_advice,
    image_suffixes,
    scan_folder,
)
from desktop_app.core.settings import CatalogSettings, catalog_settings, update_catalog_settings
from desktop_app.core.storage import Catalog
from desktop_app.core.storage.schema import SCAN_SKIPPED
from desktop_app.core.wording import plural

log = logging.getLogger(__name__)


@dataclass
class Progress:
    done: int
    total: int
    rate: float  # photos per second over the run so far
    eta_s: float | None
    note: str = ""


@dataclass
class IndexOptions:
    batch_size: int = 32
    workers: int | None = None  # decode threads; default leaves the cores to the model
    device: str = "auto"
    threads: int | None = None  # encoder intra-op threads
    # Preprocessing, stored with the catalog: None keeps the catalog's choice. resize "letterbox" fits the
    # whole photo (white padding), "model" goes back to the manifest's own mode.
    resize: str | None = None
    mirror: bool | None = None
    prefetch_batches: int = 3


@dataclass
class IndexSummary:
    photo_dir: str
    catalog: str
    model: str
    device: str  # the device the encoder session really got; "" when nothing needed embedding
    rule: str
    articles: int = 0
    photos: int = 0
    embedded: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    reembedded: int = 0
    unchanged: int = 0
    # thumbnails stored in the catalog for photos indexed before it kept them (core.catalog_thumbnails), and
    # photos of those whose file could not be read for one (asked for again by the next run)
    thumbnails_filled: int = 0
    thumbnails_unreadable: int = 0
    unmatched: int = 0  # photos the file-name pattern did not match (single-photo articles)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_files: list[dict] = field(default_factory=list)
    skipped_folders: list[dict] = field(
        default_factory=list
    )  # folders the scan could not read: kept as they were
    advice: str | None = None  # a better grouping rule, when this one gives implausible articles
    # labelled articles and decided pairs whose article this grouping no longer has (kept, not lost)
    orphaned: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    photos_per_s: float = 0.0
    cancelled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def orphaned_text(self) -> str:
        """Labels and decisions left on articles this grouping does not have, in words ("" when none)."""
        labels, pairs = self.orphaned.get("labelled_articles", 0), self.orphaned.get("decided_pairs", 0)
        if not labels and not pairs:
            return ""
        return (
            f"{plural(labels, 'labelled article')} and {plural(pairs, 'decided pair')} name articles this "
            "grouping does not have; they are kept and apply again if the grouping that made those "
            "articles comes back."
        )


def check_photo_folder(photo_dir: Path | str) -> Path:
    """The photo folder, resolved, or a one-line error when it is missing or not a folder."""
    root = Path(photo_dir).expanduser()
    if not root.exists():
        raise InputError(f"The photo folder {root} does not exist. Check the path or reconnect the drive.")
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a folder of photos. Give the folder that holds the photos.")
    return root.resolve()


def scan_for_index(root: Path, should_cancel: Callable[[], bool] | None = None) -> ScanResult:
    """Scan a photo folder; a folder without photos is an error before any catalog is touched."""
    scan = scan_folder(root, should_cancel)
    if not scan.files and not scan.cancelled:
        kinds = ", ".join(sorted(s.lstrip(".").upper() for s in image_suffixes()))
        why = (
            f" ({len(scan.unreadable_folders)} folders could not be read)" if scan.unreadable_folders else ""
        )
        raise InputError(f"No photos found in {root} (looked for {kinds}){why}. Nothing was changed.")
    return scan


def index_folder(
    catalog: Catalog,
    photo_dir: Path | str,
    rule: GroupingRule | None = None,
    model: InstalledModel | str | None = None,
    options: IndexOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    encoder: Encoder | None = None,
    scan: ScanResult | None = None,
    keep_stored_root: bool = False,
) -> IndexSummary:
    """Bring the catalog up to date with the folder. Safe to cancel or kill at any point.

    One index run at a time per catalog: a second one raises CatalogBusy at once. `keep_stored_root`: the
    folder is this machine's own mount of the catalog's photos, so the folder the catalog keeps for
    machines without a mapping stays as it is.
    """
    with catalog.index_lock():
        return _index(
            catalog,
            photo_dir,
            rule,
            model,
            options or IndexOptions(),
            progress,
            should_cancel or (lambda: False),
            encoder,
            scan,
            keep_stored_root,
        )


@dataclass
class _RunModel:
    """The model and preprocessing an index run embeds with, as the catalog will store them."""

    installed: InstalledModel
    letterbox: bool
    mirror: bool

    @property
    def resize(self) -> str | None:
        return "letterbox" if self.letterbox else None

    @property
    def model_id(self) -> str:
        return vector_identity(self.installed.manifest, self.resize, self.mirror)

    def describe(self) -> str:
        return f"{self.installed.manifest.name} ({self.installed.manifest.precision})"

    def differs_from(self, stored: CatalogSettings) -> bool:
        """Whether the catalog was indexed with another model (or another manifest file of it)."""
        manifest_path = str(self.installed.manifest_path)
        return stored.model != self.installed.manifest.name or stored.model_manifest != manifest_path


def _run_model(
    stored: CatalogSettings, model: InstalledModel | str | None, opts: IndexOptions, encoder: Encoder | None
) -> _RunModel:
    """The model given (an encoder, an installed model or a name), else the catalog's; the preprocessing
    given, else the catalog's. An unknown model raises ModelError here, before anything is written."""
    if encoder is not None:
        installed = encoder.model
    elif isinstance(model, InstalledModel):
        installed = model
    elif isinstance(model, str):
        installed = resolve_model(model)
    else:
        installed = catalog_model(stored.model, stored.model_manifest)
    letterbox = stored.letterbox if opts.resize is None else opts.resize == "letterbox"
    mirror = stored.mirror if opts.mirror is None else bool(opts.mirror)
    return _RunModel(installed, letterbox, mirror)


def _index(
    catalog: Catalog,
    photo_dir: Path | str,
    rule: GroupingRule | None,
    model: InstalledModel | str | None,
    opts: IndexOptions,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool],
    encoder: Encoder | None,
    scan: ScanResult | None,
    keep_stored_root: bool,
) -> IndexSummary:
    started = time.perf_counter()
    root = check_photo_folder(photo_dir)
    stored = catalog_settings(catalog)
    rule = rule or stored.grouping
    run = _run_model(stored, model, opts, encoder)
    summary = IndexSummary(str(root), catalog.location, run.describe(), "", rule.describe())
    if progress:
        progress(Progress(0, 0, 0.0, None, "scanning folder"))
    if scan is None:
        scan = scan_for_index(root, should_cancel)
    if scan.cancelled:
        summary.cancelled = True
        return summary
    plan = plan_index(catalog, root, scan, rule, run.model_id)
    _note_plan(summary, plan, scan, rule, root)
    if encoder is None and (plan.work or run.differs_from(stored)):
        # Load the model before anything is written: one that cannot load (a damaged or missing ONNX file)
        # leaves the catalog's model, grouping and photos as they were, and no index run behind.
        encoder = Encoder(run.installed, device=opts.device, threads=opts.threads)
    _store_settings(catalog, stored, root, rule, run, keep_stored_root)
    run_id = catalog.start_run(run.model_id)
    try:
        embedded = _apply_plan(catalog, root, plan, run, encoder, opts, summary, progress, should_cancel)
        _fill_thumbnails(catalog, root, opts, summary, progress, should_cancel)
        _finish_summary(catalog, summary, run.model_id, embedded, started)
    except BaseException as exc:
        # Only the counts and the error: the disk may be full, and the last finished run keeps the scan's skips.
        _close_failed_run(catalog, run_id, {**_run_record(summary), "error": str(exc)}, exc)
        raise
    status = "cancelled" if summary.cancelled else "done"
    catalog.finish_run(run_id, status, _run_record(summary, plan.problems))
    return summary


def _note_plan(
    summary: IndexSummary, plan: IndexPlan, scan: ScanResult, rule: GroupingRule, root: Path
) -> None:
    summary.skipped_folders = [p.to_dict() for p in scan.problems if p.reason == "unreadable_folder"]
    summary.advice = grouping_advice(scan.files, rule, root.name)
    summary.skipped_files.extend(plan.problems)
    summary.unmatched = plan.unmatched
    summary.unchanged = plan.unchanged


def _store_settings(
    catalog: Catalog,
    stored: CatalogSettings,
    root: Path,
    rule: GroupingRule,
    run: _RunModel,
    keep_stored_root: bool,
) -> None:
    """The catalog keeps the folder, grouping, model and preprocessing of its last index run, so that the
    next one (and every search) uses them without being told again."""
    update_catalog_settings(
        catalog,
        photo_root=stored.photo_root if keep_stored_root and stored.photo_root else str(root),
        grouping=rule,
        model=run.installed.manifest.name,
        model_manifest=str(run.installed.manifest_path),
        letterbox=run.letterbox,
        mirror=run.mirror,
    )


def _apply_plan(
    catalog: Catalog,
    root: Path,
    plan: IndexPlan,
    run: _RunModel,
    encoder: Encoder | None,
    opts: IndexOptions,
    summary: IndexSummary,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool],
) -> int:
    """Write what the plan says: the articles, the regrouped photos, the embedded ones, then the deletions.
    Returns how many photos were embedded."""
    # First: a photo's path in the current form may be another's old one, and a new photo's.
    catalog.rewrite_photo_paths([(r.photo_id, r.old, r.new) for r in plan.rewrites])
    article_ids = catalog.sync_articles(plan.articles, plan.folders)
    catalog.regroup_photos(
        [{"pid": r.photo_id, "aid": article_ids[r.article], "view": r.view} for r in plan.regroup]
    )
    batches = BatchRun(catalog, root, run.model_id, run.resize, run.mirror, article_ids, plan.orphans)
    batches.thumbnails = keeps_thumbnails(catalog)
    if plan.work:
        assert encoder is not None  # loaded by _index whenever there is work
        summary.device = encoder.device
        try:
            embed_in_batches(
                batches,
                encoder,
                plan.work,
                workers=_decode_workers(opts),
                batch_size=max(1, opts.batch_size),
                lookahead=max(1, opts.batch_size) * max(1, opts.prefetch_batches),
                report=_rate_reporter(progress, len(plan.work)),
                should_cancel=should_cancel,
            )
        finally:  # what the committed batches did, also when a later one failed
            _note_batches(summary, batches)
    if not summary.cancelled:
        # Only a complete scan may delete: a cancelled run has not seen every moved file yet.
        summary.removed = catalog.remove_photos([r.id for r in plan.gone if r.id not in batches.moved_ids])
    catalog.drop_empty_articles()
    return batches.embedded


def _decode_workers(opts: IndexOptions) -> int:
    """Threads that read and decode photos: as asked, else up to 4, leaving the cores to the model."""
    return opts.workers or max(1, min(4, physical_cores()))


def _rate_progress(progress: Callable[[Progress], None] | None) -> Callable[[int, int, str], None]:
    """`progress(done, total, note)` as Progress with its rate and the time left, from the time this is
    called."""
    t0 = time.perf_counter()

    def report(done: int, total: int, note: str) -> None:
        if progress:
            rate = done / max(time.perf_counter() - t0, 1e-6)
            progress(Progress(done, total, rate, (total - done) / rate if rate > 0 else None, note))

    return report


def _rate_reporter(progress: Callable[[Progress], None] | None, total: int) -> Callable[[int, str], None]:
    """Progress of the embedding, with its rate and the time left, from the time this is called."""
    report = _rate_progress(progress)
    return lambda done, note: report(done, total, note)


def _fill_thumbnails(
    catalog: Catalog,
    root: Path,
    opts: IndexOptions,
    summary: IndexSummary,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool],
) -> None:
    """Photos indexed before the catalog kept thumbnails get theirs now, from this machine's photo folder
    (a catalog that keeps none, or a cancelled run, is left as it is)."""
    if summary.cancelled or not keeps_thumbnails(catalog):
        return
    filled = fill_missing(
        catalog,
        root,
        workers=_decode_workers(opts),
        progress=_rate_progress(progress),
        should_cancel=should_cancel,
    )
    summary.thumbnails_filled = filled.stored
    summary.thumbnails_unreadable = filled.unreadable
    summary.cancelled = filled.cancelled


def _note_batches(summary: IndexSummary, batches: BatchRun) -> None:
    for kind, count in batches.counts.items():
        setattr(summary, kind, getattr(summary, kind) + count)
    summary.skipped_files.extend(batches.skipped)
    summary.cancelled = summary.cancelled or batches.cancelled


def _finish_summary(
    catalog: Catalog, summary: IndexSummary, model_id: str, embedded: int, started: float
) -> None:
    counts = catalog.counts(model_id)
    summary.orphaned = catalog.orphaned()
    summary.articles = counts["articles"]
    summary.photos = counts["photos"]
    summary.embedded = embedded
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.photos_per_s = round(embedded / summary.seconds, 2) if summary.seconds > 0 else 0.0
    summary.skipped = dict(Counter(s["reason"] for s in summary.skipped_files))


def _run_record(summary: IndexSummary, scan_skipped: list[dict] | None = None) -> dict:
    """What the catalog keeps of a run's summary. Files skipped when read are kept with the photos (their
    rows say why); files the scan skipped have no row (a FIFO, a device, a name that prints like another's),
    so a finished run keeps them (`Catalog.scan_skipped`), for `stats` to list with the others."""
    record = {k: v for k, v in summary.to_dict().items() if k != "skipped_files"}
    if scan_skipped is not None:
        record[SCAN_SKIPPED] = scan_skipped
    return record


def _close_failed_run(catalog: Catalog, run_id: int, record: dict, exc: BaseException) -> None:
    """A run stopped by an error is marked failed (interrupted, for Ctrl+C), never left running. Batches
    committed so far stay; the next run resumes from them."""
    status = "failed" if isinstance(exc, Exception) else "interrupted"
    try:
        catalog.finish_run(run_id, status, record)
    except Exception as lost:  # noqa: BLE001 - the error that stopped the run is the one to report
        # Often the same cause (the database server went away): the user sees that error once, and the next
        # open of the catalog marks the run left running as interrupted.
        log.debug("index run %s stays 'running' until the next open: %s", run_id, lost)


def embed_files(
    encoder: Encoder, paths: list[Path], resize: str | None = None, mirror: bool = False
) -> tuple[np.ndarray, list[Path], list[str]]:
    """Vectors of photo files outside the catalog (queries), preprocessed like the catalog's photos.

    Returns (vectors, the files used, problems); unreadable files are reported, not fatal.
    """
    tensors, used, problems = [], [], []
    for path in paths:
        try:
            t, _ = preprocess(read_bytes(path), encoder.manifest, resize=resize, mirror=mirror)
        except PhotoError as exc:
            problems.append(f"{Path(path).name}: {exc}")
            continue
        tensors.append(t)
        used.append(Path(path))
    if not tensors:
        return np.zeros((0, encoder.manifest.dim), np.float32), used, problems
    out = encoder.encode(np.concatenate(tensors, axis=0))
    if mirror:
        out = normalise(out.reshape(len(used), 2, -1).mean(axis=1))
    return out, used, problems
