"""Labels through the engine: edits as undoable decisions, imports, exports, suggestions, evaluation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from desktop_app.core import calibration, label_files, label_sources
from desktop_app.core import evaluate as ev
from desktop_app.core import labels as lab
from desktop_app.core.calibration import Calibration
from desktop_app.core.engine.base import EvalProgress
from desktop_app.core.errors import InputError
from desktop_app.core.settings import (
    SearchSettings,
)

# A fit on a sample this size takes seconds; fewer labelled articles than calibration.MIN_FIT: no calibration.
CALIBRATION_SAMPLE = 1500


def labels_digest(labels: dict[str, str]) -> str:
    """A digest of a field's labels, (article, value) pairs in any order: the same labels give the same
    digest, any change another (a quarter of a million labels take a fraction of a second)."""
    digest = hashlib.blake2b(digest_size=16)
    for article, value in sorted(labels.items()):
        digest.update(f"{len(article)}:{article}{len(value)}:{value}".encode())
    return digest.hexdigest()


class LabelRoom:
    """Labels (a room of `Engine`)."""

    # ------------------------------------------------------------ labels

    def labels(self, field: str | None = None) -> dict[str, dict[str, str]]:
        return self.catalog.labels(field)

    def set_labels(
        self,
        articles: Sequence[str],
        field: str,
        value: str | None,
        source: str = "manual",
        action: str = "set",
        force: bool = False,
    ) -> int:
        """One decision: set (or with value None, clear) a label on articles, undoable as one.

        A label another curator set last is not overwritten unless `force` (Conflict names it)."""
        lab.check_field(field)
        unknown = sorted(set(articles) - self.catalog.known_articles(articles))
        if unknown:
            raise InputError(
                f"Not in the catalog: {', '.join(unknown[:10])}" + (" ..." if len(unknown) > 10 else "")
            )
        return self.set_label_items([(a, field, value) for a in articles], source, action, force=force)

    def set_label_items(
        self,
        items: Sequence[tuple[str, str, str | None]],
        source: str,
        action: str,
        expected: dict[tuple[str, str], str | None] | None = None,
        force: bool = False,
        conflicts: list[dict] | None = None,
    ) -> int:
        """Several labels as one decision: (article, field, value) triples. `expected` holds what the curator
        saw ((article, field) -> value); a label that changed since is a Conflict (or, with a `conflicts`
        list, skipped and listed there)."""
        items = list(items)
        for name in {f for _a, f, _v in items}:
            lab.check_field(name)
        return self.catalog.set_labels(
            items,
            source=source,
            action=action,
            curator=self.curator(),
            expected=expected,
            force=force,
            conflicts=conflicts,
        )

    def skip(self, article: str, field: str) -> None:
        lab.check_field(field)
        self.catalog.record_skip(article, field, curator=self.curator())

    def undo(
        self,
        field: str | None = None,
        actions: Sequence[str] | None = None,
        only_latest: bool = False,
        force: bool = False,
    ) -> list[dict]:
        """Take back your last label decision (all articles of a bulk accept or import); [] if none.

        Only your own decisions; a label someone changed since is a Conflict, not overwritten (with `force`,
        the rest is taken back and that label keeps its newer value). With `only_latest`, only when your
        latest decision of the field is one of `actions` (one transaction)."""
        return self.catalog.undo_last_decision(
            field, actions, curator=self.curator(), only_latest=only_latest, force=force
        )

    def last_label_decision(self, field: str | None = None) -> dict | None:
        """The label decision `undo(field)` would take back next, without taking it back."""
        return self.catalog.last_live_event(field, curator=self.curator())

    def last_label_summary(self, field: str | None = None) -> dict | None:
        """`Catalog.batch_summary` of the label decision `undo(field)` would take back next (None: none)."""
        last = self.last_label_decision(field)
        if last is None:
            return None
        if last.get("batch") is not None:
            return self.catalog.batch_summary(last["batch"])
        return {"events": 1, "articles": 1, "at": last["at"], "first": last}

    def photos_of(self, article: str) -> list:
        """The photos of an article, with their status (skipped photos say why)."""
        return self.catalog.photos_of(article)

    def plan_label_import(
        self,
        csv: Path | None = None,
        folder_level: int | None = None,
        field: str = lab.DEFAULT_FIELD,
        overwrite: bool = False,
    ) -> label_files.LabelPlan:
        """What an import would write, without writing it (for a preview). CSV paths may also be absolute
        paths inside the photo folder, or relative to the current folder."""
        lab.check_field(field)
        if csv:
            return label_files.plan_csv_labels(self.catalog, csv, field, self.photo_root())
        return label_files.plan_folder_labels(self.catalog, folder_level or 0, field, overwrite)

    def apply_label_import(
        self, plan: label_files.LabelPlan, source: str = "import", force: bool = False
    ) -> int:
        """Write a planned import as one undoable decision; the number of labels it changed (labels that
        already have their value are not logged). Like `set_labels`, a label another curator set is not
        overwritten unless `force`: Conflict names it and nothing is written."""
        return self.set_label_items(plan.items, source, "import", force=force)

    def import_labels(
        self,
        csv: Path | None = None,
        folder_level: int | None = None,
        field: str = lab.DEFAULT_FIELD,
        overwrite: bool = False,
        force: bool = False,
    ) -> label_files.ImportReport:
        """Labels from a CSV or from folder names (folder labels keep existing labels unless `overwrite`)."""
        plan = self.plan_label_import(csv, folder_level, field, overwrite)
        changed = self.apply_label_import(plan, "import" if csv else "folder", force)
        return label_files.ImportReport(
            changed, plan.unknown, plan.skipped_rows, plan.no_folder, unchanged=len(plan.items) - changed
        )

    def export_labels(
        self, path: Path | None, fmt: str | None = None, raw: bool = False, stream: TextIO | None = None
    ) -> int:
        """Every label as CSV or JSON, into a file or (`stream`) e.g. standard output."""
        return label_files.export_labels(self.catalog, path, fmt, raw, stream)

    def field_labels(self, field: str) -> dict[str, str]:
        """article -> value of every label in this field (a blank field name is refused)."""
        lab.check_field(field)
        return {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}

    def confirmed_labels(self, field: str) -> dict[str, str]:
        """article -> value of the labels in this field the curator confirmed (not suggestions accepted in
        bulk; see core/label_sources.py): the ground truth confidence calibration is fitted on."""
        lab.check_field(field)
        return {a: d[field] for a, d in self.catalog.labels(field, confirmed_only=True).items() if field in d}

    def suggester(
        self, field: str, k: int = 10, params: SearchSettings | None = None, calibrated: bool = True
    ) -> lab.Suggester:
        params = params or self.search_settings()
        labels = self.field_labels(field)
        if not labels:
            raise InputError(f"No article has a '{field}' label yet; label a few (or import them) first.")
        lab.check_values(labels, field)
        suggester = lab.Suggester(
            self.search_index(),
            labels,
            k=k,
            method=params.method,
            threshold=params.threshold if params.uses_pairs else None,
            max_matches=params.max_matches if params.uses_pairs else None,
            rejected=self.rejected_pairs(),
        )
        if calibrated:
            suggester.calibration = self.calibration(field, k, params, suggester)
        return suggester

    def _calibration_key(
        self, field: str, k: int, params: SearchSettings, labels: dict[str, str], truth: dict[str, str]
    ) -> dict:
        """What a calibration was fitted for: the field, the search setting, the labels that voted and those
        it took as the truth (any import, accept, undo, edit or confirmation since makes it another key, so
        the next suggestion refits)."""
        return {
            "field": field,
            "k": k,
            "vectors": self.search_index().av.model_id,
            "method": params.method,
            "threshold": params.threshold if params.uses_pairs else None,
            "max_matches": params.max_matches if params.uses_pairs else None,
            "labels": labels_digest(labels),
            "truth": labels_digest(truth),
        }

    def calibration(
        self,
        field: str,
        k: int = 10,
        params: SearchSettings | None = None,
        suggester: lab.Suggester | None = None,
    ) -> Calibration | None:
        """The confidence calibration of this field for these settings and its labels as they are now: stored
        when `labels evaluate` (or an earlier suggestion) fitted one on the same labels, else fitted now by
        leave-one-out on up to CALIBRATION_SAMPLE curator-confirmed labelled articles (all labelled articles
        vote) and stored. None (raw vote shares) when fewer than calibration.MIN_FIT articles are confirmed,
        when they all have one value, or when the fit had nothing to learn from."""
        params = params or self.search_settings()
        suggester = suggester or self.suggester(field, k, params, calibrated=False)
        truth = {a: v for a, v in self.confirmed_labels(field).items() if suggester.labels.get(a) == v}
        key = self._calibration_key(field, k, params, suggester.labels, truth)
        model_id = self.vectors_model_id()
        stored = self.catalog.calibration(model_id, key)
        if stored is not None:
            info, data = stored
            return Calibration.from_bytes(data, info["n"], key) if data else None
        labelled = [i for i, a in enumerate(suggester.index.av.articles) if a in truth]
        values = [truth[suggester.index.av.articles[i]] for i in labelled]
        if calibration.why_not_fitted(len(labelled), len(labelled), values) is not None:
            return None
        rng = np.random.default_rng(0)
        sample = sorted(rng.choice(labelled, min(len(labelled), CALIBRATION_SAMPLE), replace=False).tolist())
        raw, agree, right = [], [], []
        for i in sample:
            s = suggester.suggest(i)
            raw.append(s.raw_confidence or 0.0)
            agree.append(s.agreement or 0.0)
            right.append(s.label == suggester.labels[suggester.index.av.articles[i]])
        return self._store_calibration(model_id, key, np.array(raw), np.array(agree), np.array(right))

    def _store_calibration(
        self, model_id: str, key: dict, raw: np.ndarray, agreement: np.ndarray, right: np.ndarray
    ) -> Calibration | None:
        """Fit and store a calibration; when every leave-one-out suggestion was right (or every one wrong)
        there is nothing to fit, and the row stored says so (no data): confidences stay the raw shares."""
        # One row per field and setting: a refit on other labels replaces the one before.
        slot = {name: value for name, value in key.items() if name not in ("labels", "truth")}
        info = {"key": key, "slot": slot, "n": len(raw), "ece_raw": calibration.ece(raw, right)}

        def store(data: bytes) -> None:  # a cache: where it cannot be stored, calibrated afresh next time
            self.catalog.store_cache(
                "label calibration", lambda: self.catalog.save_calibration(model_id, info, data)
            )

        if right.all() or not right.any():
            info["not_fitted"] = "every suggestion right" if right.all() else "every suggestion wrong"
            store(b"")
            return None
        cal = calibration.fit(raw, agreement, right, key)
        store(cal.to_bytes())
        return cal

    def suggest(
        self,
        field: str = lab.DEFAULT_FIELD,
        k: int = 10,
        min_confidence: float = 0.0,
        order: str = "certain",
        params: SearchSettings | None = None,
        progress: EvalProgress | None = None,
    ) -> list[lab.Suggestion]:
        """Suggestions for every unlabelled article, by the catalog's search settings unless given."""
        return lab.suggest_unlabelled(
            self.suggester(field, k, params), min_confidence, order, progress=progress
        )

    def accept(
        self,
        field: str = lab.DEFAULT_FIELD,
        min_confidence: float = 0.8,
        k: int = 10,
        params: SearchSettings | None = None,
        conflicts: list[dict] | None = None,
        progress: EvalProgress | None = None,
    ) -> int:
        """Accept every suggestion at or above a confidence, as one undoable decision.

        Only articles still unlabelled when the decision is written: one another curator labelled meanwhile
        is left as they set it (and listed in `conflicts` when given)."""
        chosen = [
            s
            for s in self.suggest(field, k, min_confidence, params=params, progress=progress)
            if s.label is not None
        ]
        return self.accept_chosen(field, chosen, conflicts)

    def accept_chosen(
        self,
        field: str,
        chosen: Sequence[lab.Suggestion],
        conflicts: list[dict] | None,
        source: str = label_sources.BULK_ACCEPTED,
    ) -> int:
        """Accept the suggestions as one decision (`labels undo` takes it back whole): an article labelled
        meanwhile keeps its label and is listed in `conflicts`. `source`: which kind of suggestions they
        were (label_sources: accepted in bulk, never ground truth for calibration)."""
        return self.set_label_items(
            [(s.article, field, s.label) for s in chosen],
            source,
            "accept",
            expected={(s.article, field): None for s in chosen},
            conflicts=conflicts if conflicts is not None else [],
        )

    def review(
        self,
        field: str = lab.DEFAULT_FIELD,
        k: int = 10,
        params: SearchSettings | None = None,
        zero_shot_labels: Sequence[str] | None = None,
        batch: int | None = None,
    ) -> lab.ReviewData:
        """The review queue's data: the suggestions of the unlabelled articles (a batch of at most `batch`,
        default lab.REVIEW_BATCH: the first in the catalog's order, skipped ones last), with the photos it shows.

        With a CLIP model and few labelled articles (or label names given), zero-shot suggestions instead."""
        zero = self.zero_shot_review(field, zero_shot_labels)
        if zero is not None:
            return zero
        labels = self.field_labels(field)
        lab.check_values(labels, field)
        skipped = self.catalog.skipped_articles(field)
        # No confidence threshold here: the queue hides labels below its own, adjustable, threshold.
        limit = lab.REVIEW_BATCH if batch is None else batch
        suggestions = (
            lab.suggest_unlabelled(self.suggester(field, k, params), 0.0, "certain", limit, skipped)
            if labels
            else []
        )
        av = self.search_index().av
        wanted = {s.article for s in suggestions} | {n.article for s in suggestions for n in s.neighbours}
        photos = {}
        for a in wanted:
            if a not in av:
                continue
            rows = av.rows_of(av.article_index(a))
            paths = av.paths[rows]
            first = av.cover_row(av.article_index(a)) - rows.start
            photos[a] = [paths[first]] + [p for i, p in enumerate(paths) if i != first]
        unlabelled = sum(a not in labels for a in av.articles)
        return lab.ReviewData(
            suggestions,
            photos,
            sorted(set(labels.values()), key=str.casefold),
            skipped,
            len(labels),
            unlabelled=unlabelled,
        )

    def evaluate_labels(
        self,
        field: str = lab.DEFAULT_FIELD,
        k: int = 10,
        groups: Path | None = None,
        params: SearchSettings | None = None,
        max_queries: int | None = lab.MAX_QUERIES,
    ) -> lab.LabelEvaluation:
        """Leave-one-out (or leave-group-out) over at most `max_queries` labelled articles drawn at random
        (None: all), each suggested from every other labelled article; stores the calibration it fits."""
        params = params or self.search_settings()
        labels = self.field_labels(field)
        lab.check_values(labels, field)
        truth = {a: v for a, v in self.confirmed_labels(field).items() if labels.get(a) == v}
        group_of = ev.read_groups(groups) if groups else None
        result = lab.evaluate_labels(
            self.search_index(),
            labels,
            field,
            k,
            params.method,
            groups=group_of,
            threshold=params.threshold if params.uses_pairs else None,
            max_matches=params.max_matches if params.uses_pairs else None,
            rejected=self.rejected_pairs(),
            limit=max_queries,
            confirmed=truth,
        )
        result.note = self.ground_truth_note("labels", field=field)
        if group_of is None and result.not_calibrated is None:
            # Plain leave-one-out is how suggestions are made: fit the stored calibration on all of it.
            self._store_calibration(
                self.vectors_model_id(),
                self._calibration_key(field, k, params, labels, truth),
                np.array(result.raw),
                np.array(result.agreement),
                np.array(result.right),
            )
        return result
