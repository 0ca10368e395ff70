"""Duplicates through the engine: find them at photo or article level, remember the curator's verdicts.

Finding reads the catalog's vectors, runs the candidate stage of `core.duplicates`, fingerprints the photos
of the candidate pairs (cached in the catalog by content hash; missing ones are read from the photo folder
on this machine) and classifies the pairs. Pairs the curator already judged never come back: photo verdicts
live in photo_verdicts, and an article pair that has a match decision (same product, look-alike, not a
match) is decided. Nothing here moves, renames or deletes a photo file: photos are only read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from desktop_app.core import duplicates as dup
from desktop_app.core import fingerprints as fpr
from desktop_app.core.errors import InputError, NoVectors
from desktop_app.core.fingerprint_changes import Changes, changes
from desktop_app.core.images import PhotoError
from desktop_app.core.paths import photo_file
from desktop_app.core.wording import DECISION_WORDS, plural, quoted

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]
LEVELS = ("photo", "article")
PHOTO_VERDICTS = ("duplicate", "not_duplicate")
# An article pair judged in the duplicates view is a match decision: a duplicate listing is the same
# product, and "not a duplicate" of a pair this alike is a look-alike (it stays visible in search). That is
# what a verdict writes on an undecided pair; `article_decision` says what it does to a decided one.
ARTICLE_VERDICTS = {"duplicate": "same", "same": "same", "not_duplicate": "alike"}
# The decisions a verdict leaves as they are: they already say what it says, or more. "Not a match" says
# "not a duplicate" and hides the pair from search; a look-alike already is not a duplicate.
ALREADY_SAID = {"same": {"same"}, "alike": {"alike", "not_match"}}
# The decision that contradicts a verdict: the curator decides the pair again to change it (decide A B ...).
CONTRADICTS = {"same": "not_match", "alike": "same"}
FINGERPRINT_BATCH = 200  # fingerprints stored per transaction while they are made


@dataclass(frozen=True)
class Judgement:
    """What one verdict on pairs of a report wrote, so that it can be taken back as one."""

    verdict: str
    pairs: int
    verdict_ids: tuple[int, ...] = ()  # photo verdict rows
    decision_batch: int | None = None  # match decisions, one batch


@dataclass
class DuplicateReport:
    """What `find_duplicates` found, with everything a front end needs to say how."""

    level: str
    min_score: float
    pairs: list  # PhotoPair or ArticlePair, best first
    clusters: list[dup.Cluster]
    candidates: int = 0  # candidate photo pairs from the nearest-neighbour stage
    decided: int = 0  # pairs left out because the curator already judged them
    judged: list = field(default_factory=list)  # those pairs: listed again when their verdict is undone
    unchecked: int = 0  # candidate pairs whose photos could not be read (offline or unreadable)
    unreadable: list[str] = field(default_factory=list)  # photos that could not be fingerprinted
    photo_root: str | None = None
    offline: bool = False  # the photo folder is not reachable on this machine
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def note(self) -> str:
        """One sentence on what could not be checked, for every front end ('' when all was)."""
        if not self.unchecked:
            return ""
        if self.offline:
            where = self.photo_root or "an unknown folder"
            return (
                f"{plural(self.unchecked, 'candidate pair')} could not be checked: the photos are not reachable at "
                f"{where}. Connect the drive or map the folder (lookalike catalog root DIR)."
            )
        return (
            f"{plural(self.unchecked, 'candidate pair')} could not be checked: {plural(len(self.unreadable), 'photo')} "
            "could not be read."
        )

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "min_score": self.min_score,
            "candidates": self.candidates,
            "decided": self.decided,
            "unchecked": self.unchecked,
            "offline": self.offline,
            "note": self.note,
            "elapsed_s": round(self.elapsed_s, 2),
            "pairs": [p.to_dict() for p in self.pairs],
            "clusters": [{"members": c.members, "pairs": len(c.pairs)} for c in self.clusters],
        }


def article_decision(pair: tuple[str, str], current: str | None, verdict: str) -> str | None:
    """The match decision a duplicate verdict on an article pair writes, given the pair's current one (read
    in the same transaction): None when the current decision stands. A verdict never weakens a decision:
    "not a duplicate" keeps "not a match"; "duplicate" turns a look-alike into the same product. A verdict
    that contradicts the curator's decision (duplicate of "not a match", not a duplicate of "same product",
    which is what a duplicate listing is) is refused, with the command that changes the decision itself."""
    wanted = ARTICLE_VERDICTS[verdict]
    if current is None:
        return wanted
    if current in ALREADY_SAID[wanted]:
        return None
    if current == CONTRADICTS[wanted]:
        flag = {"same": "--same", "alike": "--alike"}[wanted]
        raise InputError(
            f"{pair[0]} / {pair[1]} are decided '{DECISION_WORDS[current]}', which says otherwise; to change "
            f"that, decide the pair again: lookalike decide {pair[0]} {pair[1]} {flag}."
        )
    return wanted


class DuplicateRoom:
    """Duplicate photos and products listed twice (a room of `Engine`)."""

    def find_duplicates(
        self,
        level: str = "photo",
        min_score: float | None = None,
        include_decided: bool = False,
        progress: Progress | None = None,
        should_cancel: Cancel | None = None,
    ) -> DuplicateReport:
        """Duplicate pairs and their clusters at photo or article level, best first, pairs the curator
        judged left out (unless include_decided). min_score: photo level, default 0.9 (exact and near;
        0.7 adds same shot, different edit); article level, the set-matching score (default 0.9)."""
        if level not in LEVELS:
            raise InputError(f"Unknown level {level!r}; use photo or article.")
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise InputError(f"The minimum score must be between 0 and 1 (got {min_score}).")
        t0 = time.perf_counter()
        av = self.frozen_vectors()
        if av.n_photos == 0:
            raise NoVectors("The catalog has no embedded photos for its model yet; update the index first.")
        cands = dup.candidate_pairs(av.vectors, progress=progress, should_cancel=should_cancel)
        rows = {r.path: r for r in self.catalog.photo_rows()}
        report = DuplicateReport(
            level,
            dup.DEFAULT_MIN_SCORE if min_score is None else min_score,
            [],
            [],
            candidates=int(cands.rows_a.size),
            cancelled=cands.cancelled,
        )
        if cands.cancelled:
            return report
        needed = sorted({av.paths[i] for i in (*cands.rows_a.tolist(), *cands.rows_b.tolist())})
        prints = self._fingerprints(needed, rows, report, progress, should_cancel)
        hashes = {p: r.hash for p, r in rows.items()}
        found = dup.photo_duplicates(av, cands, hashes, prints, progress, should_cancel)
        report.unchecked = len(found.unchecked)
        report.cancelled = bool(should_cancel and should_cancel())
        if level == "photo":
            pairs = [p for p in found.pairs if p.score >= report.min_score]
            judged = set() if include_decided else set(self.catalog.verdicts())
        else:
            pairs = dup.article_duplicates(
                av, cands, found.pairs, dup.ARTICLE_THRESHOLD, found.variants, prints
            )
            pairs = [p for p in pairs if p.score >= report.min_score]
            judged = set() if include_decided else set(self.catalog.decisions())
        report.pairs = [p for p in pairs if (p.a, p.b) not in judged]
        report.judged = [p for p in pairs if (p.a, p.b) in judged]
        report.decided = len(report.judged)
        report.clusters = dup.clusters(report.pairs)
        report.elapsed_s = time.perf_counter() - t0
        return report

    def _fingerprints(
        self,
        paths: list[str],
        rows: dict,
        report: DuplicateReport,
        progress: Progress | None,
        should_cancel: Cancel | None,
    ) -> dict[str, fpr.Fingerprint | None]:
        """Fingerprints of these photos: stored ones by content hash, the others made from the files."""
        by_hash = {p: rows[p].hash for p in paths if p in rows and rows[p].hash}
        stored = self.catalog.fingerprints(list(by_hash.values()), fpr.VERSION)
        out: dict[str, fpr.Fingerprint | None] = {}
        missing: list[str] = []
        for p in paths:
            data = stored.get(by_hash.get(p, ""))
            if data is not None:
                out[p] = fpr.Fingerprint.from_bytes(data)
            else:
                missing.append(p)
        root = self.photo_root()
        report.photo_root = str(root) if root is not None else None
        if missing and not self.photos_online():  # an unmounted share's empty mount point included
            report.offline = True
            out.update({p: None for p in missing})
            return out
        self._make_fingerprints(missing, root, by_hash, out, report, progress, should_cancel)
        return out

    def _make_fingerprints(
        self,
        missing: list[str],
        root: Path,
        by_hash: dict[str, str],
        out: dict,
        report: DuplicateReport,
        progress: Progress | None,
        should_cancel: Cancel | None,
    ) -> None:
        def one(rel: str) -> fpr.Fingerprint | None:
            try:
                return fpr.fingerprint_file(photo_file(root, rel))
            except PhotoError:
                return None

        batch: list[tuple[str, bytes]] = []
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lookalike-fingerprint") as pool:
            for start in range(0, len(missing), FINGERPRINT_BATCH):
                if should_cancel is not None and should_cancel():
                    out.update({p: None for p in missing[start:]})
                    break
                chunk = missing[start : start + FINGERPRINT_BATCH]
                for rel, made in zip(chunk, pool.map(one, chunk)):
                    out[rel] = made
                    if made is None:
                        report.unreadable.append(rel)
                    elif rel in by_hash:
                        batch.append((by_hash[rel], made.to_bytes()))
                # a cache, kept even if the run is cancelled
                self.catalog.store_cache(
                    "photo fingerprints", partial(self.catalog.store_fingerprints, batch, fpr.VERSION)
                )
                batch = []
                if progress is not None:
                    progress(start + len(chunk), len(missing), "fingerprinting photos")

    def photo_changes(self, a: str, b: str, same_shot_only: bool = False) -> tuple[Changes, Changes] | None:
        """Where photos a and b (stored paths) differ, as the duplicate finder compared them: from their
        stored fingerprints, else from the files. None when a photo can be read neither way (offline or
        unreadable), and with same_shot_only, when the two are not one shot (two shots differ all over,
        which says nothing). Reads the disk: front ends ask it off their UI thread."""
        known = self._prints([a, b])
        fa, fb = known[a][1], known[b][1]
        if fa is None or fb is None or (same_shot_only and not dup.same_shot(fa, fb)):
            return None
        return changes(fa, fb)

    def photo_relations(self, pairs: Sequence[tuple[str, str, float]]) -> list[str | None]:
        """How the photos of each pair (photo, photo, their embedding cosine) are related as pictures, by the
        duplicate finder's rules: "exact" (one file's content twice), "near" (one picture, resized,
        recompressed, cropped a little, brightened), "edit" (one shot, edited: recoloured, mirrored) or
        None (two pictures, or a photo that cannot be read). Photos are stored paths or files outside the
        catalog (a photo query). Reads the disk: front ends ask it off their UI thread."""
        known = self._prints([p for a, b, _ in pairs for p in (a, b)])
        out: list[str | None] = [None] * len(pairs)
        todo = []
        for k, (a, b, cos) in enumerate(pairs):
            (ha, fa), (hb, fb) = known[a], known[b]
            if ha is not None and ha == hb:
                out[k] = "exact"
            elif fa is not None and fb is not None:
                todo.append((k, (fa, fb, cos)))
        for (k, _), (kind, _score, _diff) in zip(todo, dup.judge([t for _, t in todo])):
            out[k] = kind
        return out

    def hit_relations(self, hits: Sequence) -> dict[str, str | None]:
        """`photo_relations` of the best photo pair of each search hit (core.similar.Hit), by article; hits
        without a query photo (words alone) are left out."""
        best = [(h.article, h.pairs[0]) for h in hits if h.pairs and h.pairs[0].query_path]
        kinds = self.photo_relations([(p.query_path, p.path, float(p.sim)) for _, p in best])
        return {article: kind for (article, _), kind in zip(best, kinds)}

    def _prints(self, photos: Sequence[str]) -> dict[str, tuple[str | None, fpr.Fingerprint | None]]:
        """(content hash, fingerprint) of photos (stored paths, or files outside the catalog): stored ones
        from the catalog, the others made from the files (None where a photo cannot be read)."""
        stored = self.catalog.photo_prints(list(dict.fromkeys(photos)), fpr.VERSION)
        root = self.photo_root()
        out = {}
        for rel in dict.fromkeys(photos):
            h, data = stored.get(rel, (None, None))
            if data is not None:
                out[rel] = (h, fpr.Fingerprint.from_bytes(data))
                continue
            path = photo_file(root, rel) if root is not None else Path(rel)
            try:
                out[rel] = (h, fpr.fingerprint_file(path) if path.is_absolute() else None)
            except PhotoError:
                out[rel] = (h, None)
        return out

    # ------------------------------------------------------------ verdicts

    def mark_duplicate(
        self, a: str, b: str, verdict: str, level: str = "photo", force: bool = False
    ) -> str | None:
        """Remember the curator's verdict on a pair: photos (stored paths) "duplicate" or "not_duplicate";
        articles "duplicate"/"same" (a same-product decision) or "not_duplicate" (a look-alike, unless the
        pair's decision already says more: see `article_decision`). Returns, for articles, the match decision
        that stands now. An article pair another curator decided is a Conflict unless `force` (as `decide`)."""
        if a == b:
            raise InputError("A verdict needs two different photos or articles.")
        if level == "article":
            return self._mark_articles(a, b, verdict, force)
        if verdict not in PHOTO_VERDICTS:
            raise InputError(f"Unknown verdict {verdict!r}; use duplicate or not_duplicate.")
        known = {r.path for r in self.catalog.photo_rows()}
        unknown = [p for p in (a, b) if p not in known]
        if unknown:
            raise InputError(
                f"There is no photo {quoted(unknown[0])} in this catalog (use the stored path, relative "
                "to the photo folder, as `lookalike duplicates` prints it)."
            )
        self.catalog.set_verdicts([(a, b, verdict)], curator=self.curator())
        return None

    def _mark_articles(self, a: str, b: str, verdict: str, force: bool = False) -> str:
        from desktop_app.core.storage.decisions import pair

        if verdict not in ARTICLE_VERDICTS:
            raise InputError(f"Unknown verdict {verdict!r}; use duplicate, same or not_duplicate.")
        unknown = [x for x in (a, b) if x not in self.catalog.known_articles([a, b])]
        if unknown:
            raise InputError(f"There is no article {quoted(unknown[0])} in this catalog.")
        self.catalog.decide([(a, b, verdict)], curator=self.curator(), merge=article_decision, force=force)
        return self.catalog.decisions([a])[pair(a, b)]["decision"]

    def judge_duplicates(self, pairs: Sequence, verdict: str) -> Judgement:
        """One verdict of the duplicates view on pairs of a report (PhotoPair or ArticlePair): "duplicate",
        "not_duplicate", or "same" (photos of two articles: duplicates, and the articles the same product).
        Photo verdicts are one write, match decisions one undoable batch; `undo_judgement` takes both back."""
        from desktop_app.core.storage.decisions import pair

        if verdict not in (*PHOTO_VERDICTS, "same"):
            raise InputError(f"Unknown verdict {verdict!r}; use duplicate, not_duplicate or same.")
        photos: list[tuple[str, str, str]] = []
        decisions: dict[tuple[str, str], str] = {}  # article pair -> verdict, made a decision by the merge
        for p in pairs:
            if p.kind == "article":
                decisions[pair(p.a, p.b)] = verdict
                continue
            photos.append((p.a, p.b, "duplicate" if verdict == "same" else verdict))
            if verdict == "same" and p.article_a != p.article_b:
                decisions[pair(p.article_a, p.article_b)] = "same"
        curator = self.curator()
        # Decisions first: they are shared with search and the inspector, so they are the ones that can clash.
        ids = (
            self.catalog.decide(
                [(a, b, v) for (a, b), v in decisions.items()], curator=curator, merge=article_decision
            )
            if decisions
            else []
        )
        try:
            verdicts = self.catalog.set_verdicts(photos, curator=curator)
        except BaseException:
            if ids:
                self.catalog.undo_decision(batch=ids[0])
            raise
        return Judgement(verdict, len(pairs), tuple(verdicts), ids[0] if ids else None)

    def undo_judgement(self, judgement: Judgement) -> None:
        """Take back what `judge_duplicates` wrote, so its pairs are listed again. A pair judged or decided
        again since (by anyone) is a Conflict, and that part is left as it is."""
        if judgement.decision_batch is not None:
            self.catalog.undo_decision(batch=judgement.decision_batch)
        if judgement.verdict_ids:
            self.catalog.undo_verdicts(judgement.verdict_ids)

    def undo_duplicate_verdict(self) -> list[dict]:
        """Take back your latest photo verdict (all the pairs it judged at once); [] when there is none. An
        article pair's verdict is a match decision: `undo_decision` takes it back."""
        return self.catalog.undo_last_verdict(curator=self.curator())

    def duplicate_verdicts(self) -> dict[tuple[str, str], str]:
        """Every photo pair's current verdict."""
        return self.catalog.verdicts()

    # ------------------------------------------------------------ export

    def export_duplicates(self, report: DuplicateReport, path: Path) -> int:
        """CSV: cluster, a, b, kind, score, article_a, article_b (photo level) or matched photos (article)."""
        from desktop_app.core.files import SpreadsheetWriter, atomic_writer, check_output_path

        check_output_path(path, "duplicates export")
        cluster_of = {m: n for n, c in enumerate(report.clusters, start=1) for m in c.members}
        with atomic_writer(path, "w", newline="", what="duplicates export") as fh:
            w = SpreadsheetWriter(fh)
            if report.level == "photo":
                w.writerow(["cluster", "a", "b", "kind", "score", "article_a", "article_b", "cosine"])
                for p in report.pairs:
                    w.writerow(
                        [
                            cluster_of.get(p.a, ""),
                            p.a,
                            p.b,
                            p.kind,
                            float(p.score),
                            p.article_a,
                            p.article_b,
                            float(p.cos),
                        ]
                    )
            else:
                w.writerow(["cluster", "a", "b", "kind", "score", "photo_duplicates", "matched_photos"])
                for p in report.pairs:
                    photos = "; ".join(f"{x} = {y}" for x, y, _ in p.matched)
                    w.writerow(
                        [
                            cluster_of.get(p.a, ""),
                            p.a,
                            p.b,
                            p.kind,
                            float(p.score),
                            p.photo_duplicates,
                            photos,
                        ]
                    )
        return len(report.pairs)
