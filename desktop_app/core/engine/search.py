"""Questions to the engine: similar articles and photos, the match inspector, evaluation and tuning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core import evaluate as ev
from desktop_app.core import matching
from desktop_app.core.decision_groups import check_plausible
from desktop_app.core.engine.base import DECISION_GROUPS, EvalProgress
from desktop_app.core.errors import InputError, NoVectors
from desktop_app.core.inspect import Inspection, inspect_articles
from desktop_app.core.paths import relative_to_root
from desktop_app.core.search import SearchIndex
from desktop_app.core.search_filters import Label
from desktop_app.core.settings import (
    SearchSettings,
)
from desktop_app.core.similar import Outcome, Query, answer
from desktop_app.core.storage import server_index
from desktop_app.core.storage.server_index import ServerIndexStatus
from desktop_app.core.vectors import ArticleVectors
from desktop_app.core.wording import plural, quoted


@dataclass
class Evaluation:
    protocol: str
    n_queries: int
    n_articles: int
    scores: list[ev.MethodScore]
    n_available: int = 0  # queries the protocol has; n_queries of them were drawn when there were more
    note: str = ""  # one line on the ground truth (contradicting decisions), for every front end
    # Said when the adapter in use learned from this ground truth (`AdaptRoom.ground_truth_note`): the
    # figures then measure its training data back, and `tune` stores nothing from them.
    leak: str = ""

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "note": " ".join(x for x in (self.note, self.leak) if x) or None,
            "queries": self.n_queries,
            "queries_available": self.n_available or self.n_queries,
            "results": [s.to_dict() for s in self.scores],
        }


# Query articles scored one by one against a result to find the closest: a lasso can hold thousands, and
# each costs a read of its vectors and a match; past this many only the first ones are scored (and said).
CLOSEST_SCORED_AT_MOST = 50


@dataclass
class ClosestQueryArticle:
    """Of a query of several articles, the one whose own match with a result scores highest: what the
    match inspector compares the result with (a set of articles has no one pair to inspect)."""

    article: str
    score: float
    scored: int  # query articles scored (at most CLOSEST_SCORED_AT_MOST)
    total: int  # query articles in the query

    def note(self) -> str:
        """What the inspector's title adds: which query article this is."""
        if self.scored < self.total:
            return f"the closest of the first {self.scored:,} of the {self.total:,} query articles"
        return f"the closest of the {self.total:,} query articles"


class SearchRoom:
    """Searching, inspecting and measuring (a room of `Engine`)."""

    # ------------------------------------------------------------ queries

    def similar(
        self,
        query: Query,
        params: SearchSettings | None = None,
        *,
        label: Label = None,
        folder: str | None = None,
        device: str | None = None,
        n_pairs: int = 3,
        show_rejected: bool = False,
    ) -> Outcome:
        """The articles most similar to a query, by the catalog's search settings unless `params` is given.

        Only articles with the label and under the folder are returned: `label` and `folder` when given,
        else the query's own filters. Hits carry the curator's decision on (query article, hit); articles
        decided "not a match" with a query article are left out unless `show_rejected`."""
        params = params or self.search_settings()
        asked, note = query, ""
        if query.filters:
            label = label if label is not None else query.filters.label()
            folder = folder if folder is not None else query.filters.folder
            note = query.filters.note()
        alone = self.photo_only(query)
        if alone is not None:  # words that weigh 0: the photo query itself
            query, said = alone
            note = f"{note} {said}".strip()
        if query.kind == "articles":
            self._check_known(query.articles)
        index = self.search_index()
        vectors = paths = None
        stored_threshold = params.threshold
        if query.kind == "files":
            vectors, paths, unread = self._query_file_vectors(query, device)
            note = f"{note} {unread}".strip()
        views, own = None, []
        if query.text is not None or query.kind == "text":  # words, alone or mixed in (engine.text)
            tq = self.text_query(query, params, vectors, paths)
            index, vectors, paths, views, params, own = (
                tq.index,
                tq.vectors,
                tq.paths,
                tq.views,
                tq.params,
                tq.own,
            )
            note = f"{note} {tq.note}".strip()
        owner = self.query_article(query)
        about = query.articles if query.kind == "articles" else [owner] if owner else []
        decided = self.decisions_with(about) if about else {}
        rejected = [] if show_rejected else [b for b, d in decided.items() if d == "not_match"]
        out = answer(
            index,
            query,
            params,
            vectors,
            paths,
            label=label,
            folder=folder,
            n_pairs=n_pairs,
            exclude=[*rejected, *own],
            query_views=views,
        )
        out.query, out.query_article, out.hidden = asked, owner, len(rejected)
        if params.threshold is None and stored_threshold is not None:
            out.threshold_unused = stored_threshold  # the words set s aside; the catalog keeps it
        self._mark_hits(out, decided)
        if note:
            out.note = f"{note} {out.note}".strip()
        return out

    def _check_known(self, articles: Sequence[str]) -> None:
        """Refuse a query naming an article the catalog does not have (not one without vectors: that is
        said by the search)."""
        unknown = [a for a in articles if a not in self.catalog.known_articles(articles)]
        if unknown:
            raise InputError(
                f"There is no article {quoted(unknown[0])} in this catalog (`lookalike stats` shows "
                "its grouping; article ids are case-sensitive)."
            )

    def _query_file_vectors(self, query: Query, device: str | None) -> tuple[np.ndarray, list[str], str]:
        """The vectors of a query's photo files in the search space, their paths, and a note on those that
        could not be read ("" when all were); none readable is refused."""
        for f in query.files:
            if not Path(f).exists():
                raise InputError(f"The photo {f} does not exist. Check the path.")
        vectors, used, problems = self.embed(query.files, device)
        if not used:
            raise InputError("None of the query photos could be read: " + "; ".join(problems))
        unread = ""
        if problems:
            unread = f"{plural(len(problems), 'file')} could not be read: " + "; ".join(problems[:3])
        if query.text is None:  # words are mixed into the frozen vectors (engine.text)
            vectors = self.search_space(vectors)
        return vectors, [str(p) for p in used], unread

    def _mark_hits(self, out: Outcome, decided: dict[str, str]) -> None:
        """Each hit with the curator's decision on it and the cover the curator chose for it."""
        chosen = self.catalog.covers()
        for hit in out.hits:
            hit.decision = decided.get(hit.article)
            hit.cover = chosen.get(hit.article, hit.cover)

    def query_article(self, query: Query) -> str | None:
        """The one catalog article a query is about: a single query article, or the article that every query
        photo belongs to (a photo of its detail page, or photo files inside the photo folder); else None.
        The curator's decisions with it hold for such a query as for the article itself."""
        if query.kind in ("articles", "photo"):
            return query.articles[0] if len(query.articles) == 1 else None
        root = self.photo_root() if query.kind == "files" else None
        if root is None or not query.files:
            return None
        relative: list[str] = []
        for f in query.files:
            rel = relative_to_root(f, root)
            if rel is None:
                return None  # a photo from outside the catalog's folder
            relative.append(rel)
        owners = self.catalog.articles_of_photos(relative)
        found = {owners.get(r) for r in relative}
        return found.pop() if len(found) == 1 and None not in found else None

    def nearest_photos(self, query: Query, top: int, device: str | None = None) -> list[dict]:
        """The catalog photos nearest to the query's photos (best over query photos), not articles; words too."""
        alone = self.photo_only(query)
        if alone is not None:  # words that weigh 0: the photo query itself
            query = alone[0]
        av = self.search_index().av
        exclude: set[int] = set()
        if query.kind == "files":
            vectors, used, problems = self.embed(query.files, device)
            if not used:
                raise InputError("None of the query photos could be read: " + "; ".join(problems))
            if query.text is not None:
                return self.nearest_photos_by_text(query, top, vectors, [str(p) for p in used])
            vectors = self.search_space(vectors)
        elif query.text is not None or query.kind == "text":
            return self.nearest_photos_by_text(query, top)
        else:
            idx = [self._article_index(av, a) for a in query.articles]
            vectors = np.concatenate([av.article_matrix(i) for i in idx])
            exclude = set(idx)
        return av.nearest_photos(vectors, exclude, top)

    def _article_index(self, av: ArticleVectors, article: str) -> int:
        if article in av:
            return av.article_index(article)
        if self.catalog.known_articles([article]):
            raise NoVectors(f"Article {quoted(article)} has no embedded photos yet; update the index first.")
        raise InputError(
            f"There is no article {quoted(article)} in this catalog (lookalike stats lists the catalog)."
        )

    def inspect(self, a: str, b: str, params: SearchSettings | None = None) -> Inspection:
        """Two articles compared by every method; reads the vectors of these two articles only."""
        params = params or self.search_settings()
        unknown = [x for x in dict.fromkeys((a, b)) if x not in self.catalog.known_articles([a, b])]
        if unknown:
            names = " and ".join(repr(x) for x in unknown)
            raise InputError(
                f"{names} {'is' if len(unknown) == 1 else 'are'} not in this catalog (it may have been "
                "renamed or removed by the last index update)."
            )
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

    def closest_query_article(
        self, query_articles: Sequence[str], result: str, params: SearchSettings | None = None
    ) -> ClosestQueryArticle:
        """The query article whose own match with `result` scores highest by the search's method (the first
        CLOSEST_SCORED_AT_MOST query articles are scored); reads these articles' vectors only."""
        params = params or self.search_settings()
        wanted = [a for a in dict.fromkeys(query_articles) if a != result]
        if not wanted:
            raise InputError("The query has no article other than the result to compare it with.")
        scored = wanted[:CLOSEST_SCORED_AT_MOST]
        av = self.vectors([*scored, result])
        if result not in av:
            raise NoVectors(
                f"Article {quoted(result)} has no embedded photo, so there is nothing to compare."
            )
        rb = av.rows_of(av.article_index(result))
        best, best_score = None, -np.inf
        for a in scored:
            if a not in av:
                continue  # no embedded photo: it contributed nothing to the result
            ra = av.rows_of(av.article_index(a))
            score = matching.match(
                params.method,
                None,
                av.views[ra],
                av.views[rb],
                params.threshold,
                params.max_matches,
                a=av.vectors[ra],
                b=av.vectors[rb],
            ).score
            if np.isfinite(score) and (best is None or score > best_score):
                best, best_score = a, float(score)
        if best is None:
            raise NoVectors("None of the query articles has an embedded photo that matches the result.")
        return ClosestQueryArticle(best, best_score, len(scored), len(wanted))

    # ------------------------------------------------------------ the server's candidate index

    def stats(self) -> dict:
        """The other rooms' stats, with what the catalog's server offers for the candidate stage (pgvector)."""
        return {**super().stats(), "server_index": self.server_index_status().as_dict()}  # type: ignore[misc]

    def server_index_status(self) -> ServerIndexStatus:
        """What the catalog's server offers for the candidate stage (pgvector) and whether it is on."""
        return server_index.status(self.catalog)

    def enable_server_index(self, progress: EvalProgress | None = None) -> int:
        """Let the server answer the candidate stage of every search of this catalog, on every machine
        (pgvector's HNSW index over the model's vectors, filled and built now; kept up to date by index runs
        and searches); each machine drops its own graph index at its next sync. Returns the photos in it."""
        model_id = self.vectors_model_id()
        photos = server_index.enable(
            self.catalog, model_id, self.catalog.vectors_revision(model_id), progress
        )
        self._vectors = None  # the next search opens the local copy without a graph of its own
        return photos

    def disable_server_index(self) -> bool:
        """Back to each machine's own graph index (built at its next sync); False when it was not on."""
        dropped = server_index.disable(self.catalog)
        self._vectors = None
        return dropped

    # ------------------------------------------------------------ evaluation

    def evaluation_queries(self, groups: Path | str | None = None, min_photos: int = 2, seed: int = 0):
        """groups: a CSV file (article, group), or "decisions" for the groups of same-product decisions."""
        index, queries, _ = self._evaluation_queries(groups, min_photos, seed)
        return index, queries

    def _evaluation_queries(
        self, groups: Path | str | None, min_photos: int, seed: int
    ) -> tuple[SearchIndex, list[ev.Query], str]:
        """The protocol's index and queries, and a note on its ground truth ('' when there is none)."""
        av = self.search_index().av
        if groups == DECISION_GROUPS:
            found = self.decision_ground_truth()
            if not found.groups:
                raise InputError(
                    "No articles are decided 'same product' yet: mark some pairs first "
                    "(lookalike decide A B --same)."
                )
            check_plausible(found)
            return (*ev.group_queries(av, found.groups, apart=found.apart), found.note)
        if groups is not None:
            return (*ev.group_queries(av, ev.read_groups(groups)), "")
        return (*ev.split_queries(av, min_photos, seed), "")

    def evaluate(
        self,
        groups: Path | None = None,
        methods: Sequence[str] | None = None,
        min_photos: int = 2,
        seed: int = 0,
        progress: EvalProgress | None = None,
        specs: list[ev.MethodSpec] | None = None,
        max_queries: int | None = ev.MAX_QUERIES,
    ) -> Evaluation:
        """Recall@K and mAP per method on a groups file (relevant = same group) or the split protocol, over at
        most `max_queries` queries drawn at random (None: every query)."""
        for m in methods or ():
            SearchSettings(method=m)  # validates the name
        index, queries, note = self._evaluation_queries(groups, min_photos, seed)
        leak = self._leak_note(index, queries, groups)
        available = len(queries)
        queries = ev.sample(queries, max_queries, seed)
        specs = specs or ([ev.MethodSpec(m) for m in methods] if methods else ev.default_specs())
        scores = ev.evaluate(index, queries, specs, progress=progress)
        protocol = (
            "groups of same-product decisions"
            if groups == DECISION_GROUPS
            else f"groups from {groups}"
            if groups
            else f"split (articles with >= {min_photos} photos)"
        )
        if len(queries) < available:
            protocol += f"; {len(queries):,} of its {available:,} queries, drawn at random (seed {seed})"
        return Evaluation(protocol, len(queries), index.n_articles, scores, available, note, leak)

    def _leak_note(self, index, queries: Sequence[ev.Query], groups: Path | str | None) -> str:
        """`ground_truth_note` for an evaluation's queries: the split protocol's truth is each article's own
        photos; a groups file's or the decisions' is the query articles' groups."""
        if groups is None:
            return self.ground_truth_note("split")
        articles = [index.av.articles[i] for q in queries for i in q.exclude]
        return self.ground_truth_note("groups", articles)

    def tune(
        self,
        groups: Path | None = None,
        min_photos: int = 2,
        seed: int = 0,
        progress: EvalProgress | None = None,
        store: bool = True,
        max_queries: int | None = ev.MAX_QUERIES,
    ) -> tuple[ev.MethodScore, Evaluation]:
        """Grid over method, s and m; the best (by mAP, then R@1; the current setting on a tie) is stored as
        the search settings of the vector space in use when `store`, there were enough queries to choose by,
        and the adapter in use did not learn from this ground truth (`Evaluation.leak` says so)."""
        result = self.evaluate(
            groups,
            min_photos=min_photos,
            seed=seed,
            progress=progress,
            specs=ev.tuning_grid(),
            max_queries=max_queries,
        )
        current = self.search_settings()
        top = ev.best(result.scores, ev.MethodSpec(current.method, current.threshold, current.max_matches))
        if store and result.n_queries >= ev.MIN_TUNING_QUERIES and not result.leak:
            self.store_tuned(top)
        return top, result

    def store_tuned(self, top: ev.MethodScore) -> None:
        """Make a tuned setting the search settings of the vector space it was tuned in (the frozen vectors,
        or the adapter switched on); top-K stays."""
        self.update_search(method=top.method, threshold=top.threshold, max_matches=top.max_matches)
