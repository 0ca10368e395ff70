"""The engine: one open catalog and everything Lookalike does with it, for every front end.

The CLI's subcommands, the desktop app's controllers and the child processes (search, indexing) call this
API and nothing below it: settings come from `core.settings`, SQL from `core.storage`, the model and its
device from `core.models`/`core.device`, errors from `core.errors`. Heavy state (the vectors and their
search index, the encoder session) is loaded on first use and kept; label changes made by anyone are picked
up before the next search. `Engine` is built from rooms, one per concept: the base (settings, model,
vectors), search, words (CLIP's text side), labels, decisions, duplicates, adapters, the catalog map and
thumbnails (the catalog's own, for machines without the photos).

    with Engine.open(db) as engine:
        outcome = engine.similar(Query.of_articles("mh01-gray"))       # the catalog's method, s, m, top-K
"""

from desktop_app.core.engine.adapting import AdaptRoom
from desktop_app.core.engine.base import (
    DECISION_GROUPS,
    EngineBase,
    EvalProgress,
    curator_and_source,
    current_curator,
)
from desktop_app.core.engine.decisions import DecisionRoom
from desktop_app.core.engine.duplicates import DuplicateReport, DuplicateRoom, Judgement
from desktop_app.core.engine.indexing import index_photos, resolve_db
from desktop_app.core.engine.labels import LabelRoom
from desktop_app.core.engine.mapping import MapRoom
from desktop_app.core.engine.search import ClosestQueryArticle, Evaluation, SearchRoom
from desktop_app.core.engine.text import TextRoom
from desktop_app.core.engine.thumbnails import ThumbnailRoom


class Engine(
    SearchRoom,
    TextRoom,
    LabelRoom,
    DecisionRoom,
    DuplicateRoom,
    AdaptRoom,
    MapRoom,
    ThumbnailRoom,
    EngineBase,
):
    """One open catalog and every operation on it (see the rooms for each group of calls)."""


__all__ = [
    "DECISION_GROUPS",
    "ClosestQueryArticle",
    "DuplicateReport",
    "Judgement",
    "Engine",
    "EvalProgress",
    "Evaluation",
    "curator_and_source",
    "current_curator",
    "index_photos",
    "resolve_db",
]
