"""The engine: one open catalog and everything Lookalike does with it, for every front end.

The CLI's subcommands, the desktop app's controllers and the child processes (search, indexing) call this
API and nothing below it: settings come from `core.settings`, SQL from `core.storage`, the model and its
device from `core.models`/`core.device`, errors from `core.errors`. Heavy state (the vectors and their
search index, the encoder session) is loaded on first use and kept; label changes made by anyone are picked
up before the next search.

    with Engine.open(db) as engine:
        outcome = engine.similar(Query.of_articles("mh01-gray"))       # the catalog's method, s, m, top-K
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core import evaluate as ev
from desktop_app.core import labels as lab
from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import InputError, ModelError, NoVectors
from desktop_app.core.indexer import (
    IndexOptions,
    IndexSummary,
    Progress,
    check_photo_folder,
    embed_files,
    index_folder,
    scan_for_index,
)
from desktop_app.core.inspect import Inspection, inspect_articles
from desktop_app.core.models import InstalledModel, catalog_model, resolve_model, vector_identity
from desktop_app.core.scan import GroupingRule
from desktop_app.core.search import SearchIndex
from desktop_app.core.settings import (
    CatalogSettings,
    SearchSettings,
    UserSettings,
    catalog_settings,
    remember_catalog,
    update_catalog_settings,
)
from desktop_app.core.similar import Outcome, Query, answer
from desktop_app.core.storage import Catalog, identify, is_url
from desktop_app.core.vectors import ArticleVectors

EvalProgress = Callable[[int, int, str], None]
DECISION_GROUPS = "decisions"  # evaluate and tune on the groups that same-product decisions form


def current_curator() -> str:
    """Who is deciding: the name set in the user settings, else the login name."""
    name = UserSettings.load().curator.strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "curator"


@dataclass
class Evaluation:
    protocol: str
    n_queries: int
    n_articles: int
    scores: list[ev.MethodScore]

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "queries": self.n_queries,
            "results": [s.to_dict() for s in self.scores],
        }


# ============================================================================ indexing


def index_photos(
    db: Path | str,
    photo_dir: Path | str,
    *,
    rule: GroupingRule | None = None,
    model: str | InstalledModel | None = None,
    options: IndexOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> IndexSummary:
    """Index a photo folder into a catalog, creating it only once the folder and the model are known good.

    A missing or empty folder, a file instead of a folder, or an unknown model raises before any catalog
    file exists, so a failed first run leaves nothing behind and changes no catalog.
    """
    root = check_photo_folder(photo_dir)
    new = identify(db).kind in ("missing", "empty")
    installed = model if isinstance(model, InstalledModel) else None
    if installed is None and (model is not None or new):
        installed = resolve_model(model)
    scan = scan_for_index(root, should_cancel)
    with Catalog(db, create=True) as catalog:
        summary = index_folder(catalog, root, rule=rule, model=installed, options=options, progress=progress,
                               should_cancel=should_cancel, scan=scan)  # fmt: skip
        location = catalog.location
    user = UserSettings.load()
    user.remember(location)
    user.set_photo_root(location, root)  # this machine indexed from here: its photos are here
    user.save()
    return summary


# ============================================================================ the engine


class Engine:
    """One open catalog. Not thread-safe: one caller (thread or child process) at a time."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._model: InstalledModel | None = None
        self._model_key: tuple | None = None
        self._vectors: ArticleVectors | None = None
        self._vectors_key: str | None = None
        self._index: SearchIndex | None = None
        self._labels_rev: tuple | None = None
        self._encoder: Encoder | None = None
        self._encoder_key: tuple | None = None

    @classmethod
    def open(cls, db: Path | str, create: bool = False, remember: bool = True) -> Engine:
        engine = cls(Catalog(db, create=create))
        if remember:
            remember_catalog(engine.location)
        return engine

    @property
    def path(self) -> Path | None:
        """The catalog file (None for a catalog in a database server)."""
        return self.catalog.path

    @property
    def location(self) -> str:
        """Where the catalog is: its file, or its database URL (without a password)."""
        return self.catalog.location

    def close(self) -> None:
        self._index = None
        self._vectors = None
        self._encoder = None
        self.catalog.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ settings

    def settings(self) -> CatalogSettings:
        return catalog_settings(self.catalog)

    def update_settings(self, **changes: Any) -> CatalogSettings:
        """Change catalog settings; a different model or preprocessing switches vectors on the next search."""
        return update_catalog_settings(self.catalog, **changes)

    def search_settings(self, method: str | None = None, threshold: float | None = None,
                        max_matches: int | None = None, top_k: int | None = None) -> SearchSettings:  # fmt: skip
        """The catalog's stored search settings, with any of them overridden for one call."""
        return self.settings().search.override(method, threshold, max_matches, top_k)

    def photo_root(self) -> Path | None:
        """Where the photos are on this machine: this user's mapping for the catalog, else the folder it was
        indexed from."""
        root = UserSettings.load().photo_root(self.location) or self.settings().photo_root
        return Path(root) if root else None

    def map_photo_root(self, folder: Path | None) -> None:
        """Remember where this catalog's photos are on this machine (None: forget it)."""
        if folder is not None and not Path(folder).is_dir():
            raise InputError(f"{folder} is not a folder on this machine.")
        user = UserSettings.load()
        user.set_photo_root(self.location, folder)
        user.save()

    def absolute(self, rel: str | None) -> Path | None:
        root = self.photo_root()
        return root / rel if root is not None and rel else None

    # ------------------------------------------------------------ model and device

    def model(self) -> InstalledModel:
        """The model this catalog's vectors come from (ModelError when it is not installed here)."""
        s = self.settings()
        key = (s.model, s.model_manifest)
        if self._model is None or self._model_key != key:
            self._model = catalog_model(s.model, s.model_manifest)
            self._model_key = key
        return self._model

    def model_id(self) -> str:
        """The vector identity of the catalog's model with its preprocessing (letterbox, mirror)."""
        s = self.settings()
        return vector_identity(self.model().manifest, s.resize, s.mirror)

    def vectors_model_id(self) -> str:
        """The model id to search with: the catalog's model, or when that is not installed here, the model
        with the most vectors (search needs only vectors; only new photos would need the model)."""
        try:
            return self.model_id()
        except ModelError:
            by_model = self.catalog.counts()["vectors_by_model"]
            if not by_model:
                raise
            return max(by_model, key=by_model.get)

    def encoder(self, device: str | None = None) -> Encoder:
        """An encoder session for the catalog's model (kept); device None = the user's setting."""
        device = device or UserSettings.load().device
        model = self.model()
        key = (str(model.manifest_path), device)
        if self._encoder is None or self._encoder_key != key:
            self._encoder = Encoder(model, device=device)
            self._encoder_key = key
        return self._encoder

    def embed(
        self, files: Sequence[Path], device: str | None = None
    ) -> tuple[np.ndarray, list[Path], list[str]]:
        """Vectors of photo files outside the catalog, preprocessed like the catalog's photos."""
        s = self.settings()
        return embed_files(self.encoder(device), list(files), s.resize, s.mirror)

    # ------------------------------------------------------------ vectors and search index

    def vectors(self, articles: Sequence[str] | None = None) -> ArticleVectors:
        """The catalog's vectors: all of them (kept for the next call), or only these articles' (read now)."""
        model_id = self.vectors_model_id()
        if articles is not None:
            return self.catalog.article_vectors(model_id, articles)
        if self._vectors is None or self._vectors_key != model_id:
            self._vectors = self.catalog.article_vectors(model_id)
            self._vectors_key = model_id
            self._index = None
            self._labels_rev = self.catalog.labels_revision()
        return self._vectors

    def search_index(self) -> SearchIndex:
        av = self.vectors()
        if av.n_photos == 0:
            raise NoVectors("The catalog has no embedded photos for its model yet; update the index first.")
        if self._index is None:
            self._index = SearchIndex(av)
            self._index.prepare(("centroid", "ordered"))
        rev = self.catalog.labels_revision()
        if rev != self._labels_rev:
            labels = self.catalog.labels()
            self._index.set_labels([labels.get(a, {}) for a in av.articles])
            self._labels_rev = rev
        return self._index

    def reload(self) -> None:
        """Forget loaded vectors (after an index run); they are read again on the next search."""
        self._vectors = None
        self._index = None

    # ------------------------------------------------------------ queries

    def similar(
        self,
        query: Query,
        params: SearchSettings | None = None,
        *,
        label: str | None = None,
        folder: str | None = None,
        device: str | None = None,
        n_pairs: int = 3,
        show_rejected: bool = False,
    ) -> Outcome:
        """The articles most similar to a query, by the catalog's search settings unless `params` is given.

        Hits carry the curator's decision on (query article, hit); articles decided "not a match" with a query
        article are left out unless `show_rejected`."""
        params = params or self.search_settings()
        if query.kind == "articles":
            unknown = [a for a in query.articles if a not in self.catalog.known_articles(query.articles)]
            if unknown:
                raise InputError(f"There is no article {unknown[0]!r} in this catalog (`lookalike stats` shows "
                                 "its grouping; article ids are case-sensitive).")  # fmt: skip
        index = self.search_index()
        vectors = paths = None
        note = ""
        if query.kind == "files":
            for f in query.files:
                if not Path(f).exists():
                    raise InputError(f"The photo {f} does not exist. Check the path.")
            vectors, used, problems = self.embed(query.files, device)
            if not used:
                raise InputError("None of the query photos could be read: " + "; ".join(problems))
            paths = [str(p) for p in used]
            if problems:
                note = f"{len(problems)} file(s) could not be read: " + "; ".join(problems[:3])
        decided = self.decisions_with(query.articles) if query.kind == "articles" else {}
        rejected = [] if show_rejected else [b for b, d in decided.items() if d == "not_match"]
        out = answer(index, query, params, vectors, paths, label=label, folder=folder, n_pairs=n_pairs,
                     exclude=rejected)  # fmt: skip
        for hit in out.hits:
            hit.decision = decided.get(hit.article)
        chosen = self.catalog.covers()
        for hit in out.hits:
            hit.cover = chosen.get(hit.article, hit.cover)
        if note:
            out.note = f"{note} {out.note}".strip()
        return out

    def nearest_photos(self, query: Query, top: int, device: str | None = None) -> list[dict]:
        """The catalog photos nearest to the query's photos (best over query photos), not articles."""
        av = self.search_index().av
        exclude: set[int] = set()
        if query.kind == "files":
            vectors, used, problems = self.embed(query.files, device)
            if not used:
                raise InputError("None of the query photos could be read: " + "; ".join(problems))
        else:
            idx = [self._article_index(av, a) for a in query.articles]
            vectors = np.concatenate([av.article_matrix(i) for i in idx])
            exclude = set(idx)
        sims = (vectors @ av.vectors.T).max(axis=0)
        hits = []
        for row in np.argsort(-sims, kind="stable").tolist():
            if int(av.article_of_row[row]) in exclude:
                continue
            hits.append({"path": av.paths[row], "article": av.articles[av.article_of_row[row]],
                         "score": round(float(sims[row]), 4)})  # fmt: skip
            if len(hits) >= top:
                break
        return hits

    def _article_index(self, av: ArticleVectors, article: str) -> int:
        if article in av:
            return av.article_index(article)
        if self.catalog.known_articles([article]):
            raise NoVectors(f"Article {article!r} has no embedded photos yet; update the index first.")
        raise InputError(
            f"There is no article {article!r} in this catalog (lookalike stats lists the catalog)."
        )

    def inspect(self, a: str, b: str, params: SearchSettings | None = None) -> Inspection:
        """Two articles compared by every method; reads the vectors of these two articles only."""
        params = params or self.search_settings()
        unknown = [x for x in dict.fromkeys((a, b)) if x not in self.catalog.known_articles([a, b])]
        if unknown:
            names = " and ".join(repr(x) for x in unknown)
            raise InputError(f"{names} {'is' if len(unknown) == 1 else 'are'} not in this catalog (it may have been "
                             "renamed or removed by the last index update).")  # fmt: skip
        missing: dict[str, list[str]] = {}
        failed: dict[str, str] = {}
        for art in dict.fromkeys((a, b)):
            bad = [r for r in self.catalog.photos_of(art) if r.status != "ok"]
            missing[art] = [r.path for r in bad]
            failed.update({r.path: r.error or r.status for r in bad})
        av = self.vectors([a, b])
        ins = inspect_articles(av, a, b, params.threshold, params.max_matches, missing)
        ins.failed = failed
        return ins

    # ------------------------------------------------------------ evaluation

    def evaluation_queries(self, groups: Path | str | None = None, min_photos: int = 2, seed: int = 0):
        """groups: a CSV file (article, group), or "decisions" for the groups of same-product decisions."""
        av = self.search_index().av
        if groups == DECISION_GROUPS:
            found = self.same_product_groups()
            if not found:
                raise InputError("No articles are decided 'same product' yet: mark some pairs first "
                                 "(lookalike decide A B --same).")  # fmt: skip
            return ev.group_queries(av, found)
        if groups is not None:
            return ev.group_queries(av, ev.read_groups(groups))
        return ev.split_queries(av, min_photos, seed)

    def evaluate(self, groups: Path | None = None, methods: Sequence[str] | None = None, min_photos: int = 2,
                 seed: int = 0, progress: EvalProgress | None = None,
                 specs: list[ev.MethodSpec] | None = None) -> Evaluation:  # fmt: skip
        """Recall@K and mAP per method on a groups file (relevant = same group) or the split protocol."""
        for m in methods or ():
            SearchSettings(method=m)  # validates the name
        index, queries = self.evaluation_queries(groups, min_photos, seed)
        specs = specs or ([ev.MethodSpec(m) for m in methods] if methods else ev.default_specs())
        scores = ev.evaluate(index, queries, specs, progress=progress)
        protocol = (
            "groups of same-product decisions" if groups == DECISION_GROUPS
            else f"groups from {groups}" if groups else f"split (articles with >= {min_photos} photos)"
        )  # fmt: skip
        return Evaluation(protocol, len(queries), index.n_articles, scores)

    def tune(self, groups: Path | None = None, min_photos: int = 2, seed: int = 0,
             progress: EvalProgress | None = None, store: bool = True) -> tuple[ev.MethodScore, Evaluation]:  # fmt: skip
        """Grid over method, s and m; the best (by mAP, then R@1) is stored as the catalog's search settings."""
        result = self.evaluate(
            groups, min_photos=min_photos, seed=seed, progress=progress, specs=ev.tuning_grid()
        )
        top = ev.best(result.scores)
        if store:
            current = self.settings().search
            self.update_settings(
                search=SearchSettings(top.method, top.threshold, top.max_matches, current.top_k)
            )
        return top, result

    # ------------------------------------------------------------ labels

    def labels(self, field: str | None = None) -> dict[str, dict[str, str]]:
        return self.catalog.labels(field)

    def set_labels(self, articles: Sequence[str], field: str, value: str | None, source: str = "manual",
                   action: str = "set", force: bool = False) -> int:  # fmt: skip
        """One decision: set (or with value None, clear) a label on articles, undoable as one.

        A label another curator set last is not overwritten unless `force` (Conflict names it)."""
        unknown = sorted(set(articles) - self.catalog.known_articles(articles))
        if unknown:
            raise InputError(
                f"Not in the catalog: {', '.join(unknown[:10])}" + (" ..." if len(unknown) > 10 else "")
            )
        return self.catalog.set_labels([(a, field, value) for a in articles], source=source, action=action,
                                       curator=current_curator(), force=force)  # fmt: skip

    def set_label_items(self, items: Sequence[tuple[str, str, str | None]], source: str, action: str,
                        expected: dict[tuple[str, str], str | None] | None = None, force: bool = False,
                        conflicts: list[dict] | None = None) -> int:  # fmt: skip
        """Several labels as one decision: (article, field, value) triples. `expected` holds what the curator
        saw ((article, field) -> value); a label that changed since is a Conflict (or, with a `conflicts`
        list, skipped and listed there)."""
        return self.catalog.set_labels(items, source=source, action=action, curator=current_curator(),
                                       expected=expected, force=force, conflicts=conflicts)  # fmt: skip

    def skip(self, article: str, field: str) -> None:
        self.catalog.record_skip(article, field, curator=current_curator())

    def undo(self, field: str | None = None, actions: Sequence[str] | None = None) -> list[dict]:
        """Take back your last label decision (all articles of a bulk accept or import); [] if none.

        Only your own decisions; a label someone changed since is a Conflict, not overwritten."""
        return self.catalog.undo_last_decision(field, actions, curator=current_curator())

    def import_labels(self, csv: Path | None = None, folder_level: int | None = None,
                      field: str = lab.DEFAULT_FIELD) -> lab.ImportReport:  # fmt: skip
        plan = lab.plan_csv_labels(self.catalog, csv, field) if csv else lab.plan_folder_labels(
            self.catalog, folder_level or 0, field)  # fmt: skip
        source = "import" if csv else "folder"
        self.set_label_items(plan.items, source, "import", force=True)  # an import is an explicit overwrite
        return lab.ImportReport(len(plan.items), plan.unknown, plan.skipped_rows)

    def export_labels(self, path: Path, fmt: str | None = None, raw: bool = False) -> int:
        return lab.export_labels(self.catalog, path, fmt, raw)

    def suggester(self, field: str, k: int = 10, params: SearchSettings | None = None) -> lab.Suggester:
        params = params or self.search_settings()
        labels = {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}
        if not labels:
            raise InputError(f"No article has a '{field}' label yet; label a few (or import them) first.")
        return lab.Suggester(self.search_index(), labels, k=k, method=params.method,
                             threshold=params.threshold if params.uses_pairs else None,
                             max_matches=params.max_matches if params.uses_pairs else None,
                             rejected=self.rejected_pairs())  # fmt: skip

    def suggest(self, field: str = lab.DEFAULT_FIELD, k: int = 10, min_confidence: float = 0.0,
                order: str = "certain", params: SearchSettings | None = None) -> list[lab.Suggestion]:  # fmt: skip
        """Suggestions for every unlabelled article, by the catalog's search settings unless given."""
        return lab.suggest_unlabelled(self.suggester(field, k, params), min_confidence, order)

    def accept(self, field: str = lab.DEFAULT_FIELD, min_confidence: float = 0.8, k: int = 10,
               params: SearchSettings | None = None, conflicts: list[dict] | None = None) -> int:  # fmt: skip
        """Accept every suggestion at or above a confidence, as one undoable decision.

        Only articles still unlabelled when the decision is written: one another curator labelled meanwhile
        is left as they set it (and listed in `conflicts` when given)."""
        chosen = [s for s in self.suggest(field, k, min_confidence, params=params) if s.label is not None]
        return self.set_label_items([(s.article, field, s.label) for s in chosen], "accepted", "accept",
                                    expected={(s.article, field): None for s in chosen},
                                    conflicts=conflicts if conflicts is not None else [])  # fmt: skip

    def review(
        self, field: str = lab.DEFAULT_FIELD, k: int = 10, params: SearchSettings | None = None
    ) -> lab.ReviewData:
        """The review queue's data: every unlabelled article's suggestion, with the photos it shows."""
        labels = {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}
        # No confidence threshold here: the queue hides labels below its own, adjustable, threshold.
        suggestions = self.suggest(field, k, 0.0, "certain", params) if labels else []
        av = self.search_index().av
        wanted = {s.article for s in suggestions} | {n.article for s in suggestions for n in s.neighbours}
        if not labels:
            wanted = set(av.articles)
        photos = {}
        for a in wanted:
            if a not in av:
                continue
            rows = av.rows_of(av.article_index(a))
            paths = av.paths[rows]
            first = av.cover_row(av.article_index(a)) - rows.start
            photos[a] = [paths[first]] + [p for i, p in enumerate(paths) if i != first]
        return lab.ReviewData(suggestions, photos, sorted(set(labels.values()), key=str.casefold),
                              self.catalog.skipped_articles(field), len(labels))  # fmt: skip

    def evaluate_labels(self, field: str = lab.DEFAULT_FIELD, k: int = 10, groups: Path | None = None,
                        params: SearchSettings | None = None) -> lab.LabelEvaluation:  # fmt: skip
        params = params or self.search_settings()
        labels = {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}
        group_of = ev.read_groups(groups) if groups else None
        return lab.evaluate_labels(self.search_index(), labels, field, k, params.method, groups=group_of,
                                   threshold=params.threshold if params.uses_pairs else None,
                                   max_matches=params.max_matches if params.uses_pairs else None)  # fmt: skip

    # ------------------------------------------------------------ match decisions

    def decide(self, a: str, b: str, decision: str, note: str | None = None, force: bool = False,
               expected: str | None | type[Ellipsis] = ...) -> int:  # fmt: skip
        """Record that two articles are the same product ("same"), look alike ("alike") or are "not_match";
        "none" takes the pair's decision back. `expected`: the decision the curator saw (a pair decided
        otherwise since is a Conflict). Returns the decision's id."""
        from desktop_app.core.storage.decisions import DECISIONS, NONE, pair

        if decision not in (*DECISIONS, NONE):
            raise InputError(f"Unknown decision {decision!r}; use one of {', '.join(DECISIONS)}.")
        if a == b:
            raise InputError("A decision needs two different articles.")
        unknown = [x for x in (a, b) if x not in self.catalog.known_articles([a, b])]
        if unknown:
            raise InputError(f"There is no article {unknown[0]!r} in this catalog.")
        seen = None if expected is ... else {pair(a, b): expected}
        return self.catalog.decide([(a, b, decision)], curator=current_curator(), note=note, expected=seen,
                                   force=force)[0]  # fmt: skip

    def undo_decision(self) -> list[dict]:
        """Take back your latest match decision (or import of decisions); [] when there is none."""
        return self.catalog.undo_decision(curator=current_curator())

    def decisions(self) -> list[dict]:
        """Every current decision, oldest first."""
        return list(self.catalog.decisions().values())

    def decisions_with(self, articles: Sequence[str]) -> dict[str, str]:
        """article -> the current decision between it and one of `articles` (their own pairs left out)."""
        out: dict[str, str] = {}
        mine = set(articles)
        for (a, b), row in self.catalog.decisions(list(articles)).items():
            other = b if a in mine else a
            if other not in mine:
                out[other] = row["decision"]
        return out

    def same_product_groups(self) -> dict[str, str]:
        """article -> group, where a group joins articles decided "same product" (directly or through others)."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for (a, b), row in self.catalog.decisions().items():
            if row["decision"] == "same":
                parent[find(a)] = find(b)
        return {a: find(a) for a in parent}

    def rejected_pairs(self) -> dict[str, set[str]]:
        """article -> the articles decided "not a match" with it."""
        out: dict[str, set[str]] = {}
        for (a, b), row in self.catalog.decisions().items():
            if row["decision"] == "not_match":
                out.setdefault(a, set()).add(b)
                out.setdefault(b, set()).add(a)
        return out

    def export_decisions(self, path: Path) -> int:
        """CSV with article_a, article_b, decision (then note, curator, at) of every current decision."""
        import csv
        import datetime

        from desktop_app.core.files import atomic_writer, check_output_path
        from desktop_app.core.labels import spreadsheet_safe

        check_output_path(path, "decisions export")
        rows = self.decisions()
        with atomic_writer(path, "w", newline="", what="decisions export") as fh:
            w = csv.writer(fh)
            w.writerow(["article_a", "article_b", "decision", "note", "curator", "at"])
            for r in rows:
                when = datetime.datetime.fromtimestamp(r["at"]).isoformat(timespec="seconds")
                w.writerow([spreadsheet_safe(r["article_a"]), spreadsheet_safe(r["article_b"]), r["decision"],
                            spreadsheet_safe(r["note"] or ""), r["curator"] or "", when])  # fmt: skip
        return len(rows)

    def import_decisions(self, path: Path) -> int:
        """Decisions from a CSV with article_a, article_b, decision, as one undoable batch."""
        from desktop_app.core.files import read_csv
        from desktop_app.core.storage.decisions import DECISIONS

        header, rows = read_csv(path, "decisions file")
        if not {"article_a", "article_b", "decision"} <= set(header):
            raise InputError(f"{path} needs the columns article_a, article_b and decision.")
        aliases = {"same": "same", "same product": "same", "alike": "alike", "look-alike": "alike",
                   "not_match": "not_match", "not a match": "not_match", "not-a-match": "not_match"}  # fmt: skip
        items = []
        for n, r in enumerate(rows, start=2):
            decision = aliases.get((r.get("decision") or "").strip().lower())
            if decision is None:
                raise InputError(
                    f"{path}, line {n}: unknown decision {r.get('decision')!r}; use {', '.join(DECISIONS)}."
                )
            items.append(((r["article_a"] or "").strip(), (r["article_b"] or "").strip(), decision))
        known = self.catalog.known_articles([x for a, b, _ in items for x in (a, b)])
        unknown = sorted({x for a, b, _ in items for x in (a, b)} - known)
        if unknown:
            raise InputError(f"{path} names articles that are not in this catalog: {', '.join(unknown[:5])}.")
        self.catalog.decide(
            items, curator=current_curator(), force=True
        )  # an import is an explicit overwrite
        return len(items)

    # ------------------------------------------------------------ covers

    def set_cover(self, article: str, path: str | None) -> None:
        """Show the article by this photo (a path of one of its photos); None goes back to the automatic cover."""
        if path is not None and path not in {r.path for r in self.catalog.photos_of(article)}:
            raise InputError(f"{path} is not a photo of {article}.")
        self.catalog.set_cover(article, path, curator=current_curator())

    # ------------------------------------------------------------ overview

    def stats(self) -> dict:
        """What the catalog holds and how it was made, for `lookalike stats` and the app's status."""
        s = self.settings()
        counts = self.catalog.counts()
        last = self.catalog.last_run()
        model: dict[str, Any] = {"name": s.model, "installed": False}
        try:
            m = self.model()
            model.update(installed=True, precision=m.manifest.precision, family=m.manifest.family,
                         dim=m.manifest.dim, model_id=self.model_id())  # fmt: skip
        except ModelError as exc:
            model["problem"] = str(exc)
        # What the session of the last run that embedded anything really got.
        devices = [(r.get("summary") or {}).get("device") for r in self.catalog.recent_runs()]
        model["device"] = next((d for d in devices if d), None)
        return {
            "catalog": self.location,
            "backend": self.catalog.kind,
            "schema_version": self.catalog.schema_version(),
            "photo_root": s.photo_root,
            "grouping": s.grouping.to_dict(),
            "grouping_text": s.grouping.describe(),
            "model": model,
            "preprocessing": {"letterbox": s.letterbox, "mirror": s.mirror},
            "search": s.search.to_dict(),
            "counts": counts,
            "last_run": last,
            "skipped": self.catalog.skipped(),
            "size_bytes": self.catalog.size_bytes(),
        }


def resolve_db(db: Path | str | None, photo_dir: Path | None = None) -> Path | str:
    """The catalog to use: the one given (a file or a database URL), the photo folder's own, or the one
    used last."""
    from desktop_app.core.paths import default_catalog_path
    from desktop_app.core.settings import last_catalog

    if db is not None:
        return str(db) if is_url(db) else Path(os.fspath(db)).expanduser()
    if photo_dir is not None:
        return default_catalog_path(photo_dir)
    last = last_catalog()
    if last is None:
        raise InputError("No catalog yet. Index a folder first: lookalike index PHOTOS_DIR")
    return last if is_url(last) else Path(last)
