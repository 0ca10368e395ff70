"""Questions of the form "what is most similar to this?", and their answers, as every front end shows them.

A `Query` is one article, several articles (their photos pooled), one catalog photo, photo files from
outside the catalog, or words (with a CLIP model: alone, or mixed into any of the photo queries). `answer`
runs it against a `SearchIndex` and returns an `Outcome` whose hits carry what the similar panel and
`lookalike similar` show: scores, labels, the best photo pairs with their paths.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from desktop_app.core.errors import InputError, NoVectors
from desktop_app.core.files import SpreadsheetWriter, atomic_writer, check_output_path
from desktop_app.core.filter_text import SearchFilter
from desktop_app.core.search import SearchHit, SearchIndex, SearchResult
from desktop_app.core.search_filters import Label
from desktop_app.core.settings import SearchSettings
from desktop_app.core.vectors import ArticleVectors
from desktop_app.core.wording import plural


@dataclass
class Query:
    """What to search for. kind: "articles" (one or more), "photo" (one catalog photo), "files" or "text".

    `text` with kind "text" searches by words alone; with a photo kind it is mixed into each query photo
    vector with the share `text_weight` (see `engine.text`)."""

    kind: str
    articles: list[str] = field(default_factory=list)
    photo_id: int | None = None
    photo_path: str | None = None  # relative path of the catalog photo
    files: list[Path] = field(default_factory=list)
    text: str | None = None
    text_weight: float = 0.5
    # Only articles with these labels, under this folder (`lookalike similar --label --folder`, or the app's
    # filter box for a search by words); None: every article.
    filters: SearchFilter | None = None

    @classmethod
    def of_articles(cls, *articles: str) -> Query:
        return cls("articles", list(articles))

    @classmethod
    def of_text(cls, text: str, filters: SearchFilter | None = None) -> Query:
        return cls("text", text=text.strip(), filters=filters or None)

    def with_text(self, text: str | None, weight: float = 0.5) -> Query:
        """This photo query with words mixed in (None or blank: the photo query alone)."""
        text = text.strip() if text else None
        return replace(self, text=text or None, text_weight=weight)

    def title(self) -> str:
        """What the search is, in words: its query, its words and the filters it applies."""
        if self.kind == "text":
            title = f"Articles matching “{self.text}”"
        else:
            base = self._photo_title()
            title = f"{base} + “{self.text}” ({self.text_weight:.0%})" if self.text else base
        limits = self.filters.describe() if self.filters else ""
        return f"{title} · {limits}" if limits else title

    def _photo_title(self) -> str:
        if self.kind == "articles":
            if len(self.articles) == 1:
                return f"Similar to {self.articles[0]}"
            return f"Similar to {len(self.articles)} articles together"
        if self.kind == "photo":
            return f"Similar to photo {Path(self.photo_path or '').name}"
        names = ", ".join(p.name for p in self.files[:2])
        more = f" and {len(self.files) - 2} more" if len(self.files) > 2 else ""
        return f"Similar to photo{'s' if len(self.files) > 1 else ''} {names}{more}"


@dataclass
class Pair:
    """A matched photo pair of a hit: paths relative to the photo folder (or absolute for query files)."""

    query_path: str
    path: str
    sim: float
    rank: int = 0
    used: bool = True
    reason: str = ""


@dataclass
class Hit:
    article: str
    index: int
    score: float
    photos: int
    labels: dict[str, str]
    cover: str | None  # relative path of the article's cover photo
    pairs: list[Pair]
    passed: int = 0
    fallback: str | None = None  # "greedy" when ordered found no common view
    decision: str | None = None  # the curator's decision on (query article, this article), if any


@dataclass
class Outcome:
    query: Query
    hits: list[Hit]
    params: SearchSettings
    elapsed_ms: float  # time in the search itself
    total_ms: float  # including embedding query files and building the hits
    mode: str
    n_query_photos: int
    note: str = ""
    # The one catalog article the query is about: the query article, or the article every query photo
    # belongs to. Hits carry the decisions with it, and "not a match" ones are left out (`hidden` of them).
    query_article: str | None = None
    hidden: int = 0
    # The catalog's threshold s when words set it aside (params.threshold is then None): front ends keep
    # showing the catalog's setting, which the next photo query uses again.
    threshold_unused: float | None = None

    @property
    def method(self) -> str:
        return self.params.method


def answer(
    index: SearchIndex,
    query: Query,
    params: SearchSettings,
    query_vectors: np.ndarray | None = None,
    query_paths: list[str] | None = None,
    label: Label = None,
    folder: str | None = None,
    n_pairs: int = 3,
    exclude: Sequence[str] = (),
    query_views: Sequence[str | None] | None = None,
) -> Outcome:
    """Run a query. For "files" and "text" queries, and any query with words mixed in, the caller makes
    the query vectors and passes them with their paths (and views, which the ordered method reads).

    exclude: articles never to return (e.g. those the curator decided are not a match, or the query's own
    articles when the caller made the vectors of a catalog query)."""
    t0 = time.perf_counter()
    av = index.av
    note = ""
    kwargs = dict(
        threshold=params.threshold if params.uses_pairs else None,
        max_matches=params.max_matches if params.uses_pairs else None,
        n_pairs=n_pairs,
        label=label,
        folder=folder,
        exclude=[av.article_index(a) for a in exclude if a in av],
    )
    result: SearchResult
    if query_vectors is not None and (query.kind in ("files", "text") or query.text):
        if len(query_vectors) == 0:
            raise InputError("None of the query photos could be read.")
        result = index.search(query_vectors, params.method, params.top_k, query_views=query_views, **kwargs)
    elif query.kind == "articles":
        result, note = _search_articles(index, query, params, kwargs)
    elif query.kind == "photo":
        result, query_paths = _search_photo(index, query, params, kwargs)
    else:
        raise InputError("None of the query photos could be read.")
    hits, more = _shown_hits(index, result, query, params, query_paths, kwargs)
    return Outcome(
        query,
        hits,
        params,
        result.elapsed_ms,
        (time.perf_counter() - t0) * 1e3,
        result.mode,
        result.n_query_photos,
        f"{note} {more}".strip(),
    )


def _search_articles(
    index: SearchIndex, query: Query, params: SearchSettings, kwargs: dict
) -> tuple[SearchResult, str]:
    """A query of catalog articles, and a note on those left out for want of vectors (all of them: refused)."""
    av = index.av
    missing = [a for a in query.articles if a not in av]
    if not query.articles:
        raise InputError("The query names no article.")
    if len(missing) == len(query.articles):
        raise NoVectors(
            f"{missing[0]} has no embedded photos yet, so it cannot be compared. Update the index to embed them."
        )
    note = ""
    if missing:
        note = f"{plural(len(missing), 'selected article')} {'has' if len(missing) == 1 else 'have'} no embedded photos and {'was' if len(missing) == 1 else 'were'} left out."
    keys = [a for a in query.articles if a not in missing]
    return index.search(keys, params.method, params.top_k, **kwargs), note


def _search_photo(
    index: SearchIndex, query: Query, params: SearchSettings, kwargs: dict
) -> tuple[SearchResult, list[str]]:
    """A query of one catalog photo (its own article left out), and the photo's path for the pairs."""
    av = index.av
    row = av.row_of_photo(query.photo_id if query.photo_id is not None else -1)
    if row is None:
        raise NoVectors(
            "This photo has no vector yet (it was skipped or is not indexed). Update the index, "
            "or pick another photo."
        )
    own = int(av.article_of_row[row])
    kwargs = {**kwargs, "exclude": [*kwargs["exclude"], own]}
    result = index.search(
        av.vectors[row : row + 1], params.method, params.top_k, query_views=[av.views[row]], **kwargs
    )
    return result, [av.paths[row]]


def _hit_of(av: ArticleVectors, h: SearchHit, query_paths: list[str] | None) -> Hit:
    """A search hit as front ends show it: its photo count, labels, cover and pairs with their paths."""
    a = h.index
    rows = av.rows_of(a)
    pairs = []
    for p in h.pairs:
        if p.query_path is not None:
            q = p.query_path
        else:
            q = query_paths[p.query_row] if query_paths and p.query_row < len(query_paths) else ""
        pairs.append(Pair(q, p.path, float(p.sim), p.rank, p.used, p.reason))
    return Hit(
        h.article,
        a,
        float(h.score),
        rows.stop - rows.start,
        av.labels[a],
        av.paths[av.cover_row(a)] if rows.stop > rows.start else None,
        pairs,
        h.passed,
        h.fallback,
    )


def _shown_hits(
    index: SearchIndex,
    result: SearchResult,
    query: Query,
    params: SearchSettings,
    query_paths: list[str] | None,
    kwargs: dict,
) -> tuple[list[Hit], str]:
    """The hits to show, and what to say about those left out, an empty list or the ordered fallback."""
    hits = [_hit_of(index.av, h, query_paths) for h in result.hits]
    note = ""
    shown, unmatched = _without_unmatched(hits, kwargs["threshold"])
    if unmatched:
        note = (
            f"{unmatched} of the top {len(hits)} had no photo pair at or above s="
            f"{kwargs['threshold']:g} and {'is' if unmatched == 1 else 'are'} not listed."
        )
    label, folder = kwargs["label"], kwargs["folder"]
    if not shown and (label or folder):
        note = f"{note} {index.why_empty(label, folder)}".strip()
    if params.method == "ordered" and query.kind != "text" and any(h.fallback for h in result.hits):
        note = f"{note} Articles without a shared view tag were compared with greedy pairs.".strip()
    return shown, note


def _without_unmatched(hits: list[Hit], threshold: float | None) -> tuple[list[Hit], int]:
    """The hits with at least one photo pair at or above s, and how many had none. Under a threshold such an
    article scores 0 because nothing of it matched, so it is no result (listed, ties at 0.0 in name order
    read as matches)."""
    if threshold is None:
        return hits, 0
    kept = [h for h in hits if h.passed > 0]
    return kept, len(hits) - len(kept)


# ============================================================================ results as a table

RESULT_COLUMNS = ("rank", "article", "score", "decision", "labels", "pairs")


def result_rows(outcome: Outcome) -> list[list[object]]:
    """One row per hit: rank, article, score, decision, labels and the photo pairs that made the score
    ("query photo > hit photo sim" joined by "; ", photo paths relative to the photo folder)."""
    rows: list[list[object]] = []
    for rank, hit in enumerate(outcome.hits, 1):
        labels = "; ".join(f"{k}={v}" for k, v in sorted(hit.labels.items()))
        pairs = "; ".join(f"{p.query_path} > {p.path} {p.sim:.4f}" for p in hit.pairs)
        score = float(hit.score) if np.isfinite(hit.score) else ""  # (no photos to compare)
        rows.append([rank, hit.article, score, hit.decision or "", labels, pairs])
    return rows


def results_text(outcome: Outcome) -> str:
    """The results as tab-separated text with a header (for the clipboard: pastes into a spreadsheet, so its
    cells are made safe as a CSV file's are)."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out, delimiter="\t", lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    writer.writerows(result_rows(outcome))
    return out.getvalue()


def write_results_csv(outcome: Outcome, path: Path | str) -> int:
    """Write the results as CSV (cells safe for spreadsheets); the old file survives any failure."""
    target = check_output_path(path, "results file")
    rows = result_rows(outcome)
    with atomic_writer(target, newline="", what="results file") as fh:
        writer = SpreadsheetWriter(fh)
        writer.writerow(RESULT_COLUMNS)
        writer.writerows(rows)
    return len(rows)
