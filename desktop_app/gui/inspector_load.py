"""Work the match inspector does off the UI thread: reading the two articles.

`load_inspection` is plain Python (catalog + core) and runs in a `workers.Runner`: a large catalog's vectors
take a moment to read, and the window should open at once with a "comparing..." note instead of freezing the
main window. Photo thumbnails come from `thumbs.ThumbnailLoader`, like everywhere else in the app; the sizes
the inspector asks for are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.catalog import Catalog
from desktop_app.core.errors import UserError
from desktop_app.core.inspect import Inspection, inspect_articles

HEADER_SIZE = 128  # thumbnails in the row and column headers (cells zoom up to about this size)
LARGE_SIZE = 256  # the two photos of the hovered cell; made once at this size, headers are scaled down


@dataclass
class Loaded:
    """What the inspector window needs: the inspection, or the message to show in its place."""

    article_a: str
    article_b: str
    inspection: Inspection | None = None
    message: str | None = None
    photo_root: Path | None = None
    failed: dict[str, str] = field(default_factory=dict)  # photo path -> why it has no vector
    method: str | None = None  # the catalog's own search settings, used when the caller gives none
    threshold: float | None = None
    max_matches: int | None = None


def _off_if_zero(value: Any, kind: type) -> Any:
    # Catalogs and preferences store "no threshold" / "all pairs" as None or 0; the core wants None.
    if value is None:
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def load_inspection(
    catalog: Catalog,
    article_a: str,
    article_b: str,
    method: str | None = None,
    threshold: float | None = None,
    max_matches: int | None = None,
) -> Loaded:
    """Compare two catalog articles with every method; a clear message instead when that is impossible."""
    from desktop_app.core.indexer import catalog_model, catalog_model_id

    out = Loaded(article_a, article_b)
    out.method = method or catalog.get_setting("method") or None
    out.threshold = _off_if_zero(
        threshold if threshold is not None else catalog.get_setting("threshold"), float
    )
    out.max_matches = _off_if_zero(
        max_matches if max_matches is not None else catalog.get_setting("max_matches"), int
    )
    out.photo_root = catalog.photo_root()
    missing: dict[str, list[str]] = {}
    unknown: list[str] = []
    for art in dict.fromkeys((article_a, article_b)):
        rows = catalog.photos_of(art)
        if not rows:
            unknown.append(art)
        bad = [r for r in rows if r.status != "ok"]
        missing[art] = [r.path for r in bad]
        out.failed.update({r.path: r.error or r.status for r in bad})
    if unknown:
        names = " and ".join(f"“{a}”" for a in unknown)
        out.message = (
            f"{names} {'is' if len(unknown) == 1 else 'are'} not in this catalog any more. "
            "The last index update may have renamed or removed it; update the search results "
            "and try again."
        )
        return out
    try:
        model = catalog_model(catalog)
        av = catalog.article_vectors(catalog_model_id(catalog, model))
        out.inspection = inspect_articles(av, article_a, article_b, out.threshold, out.max_matches, missing)
    except UserError as exc:
        # inspect_articles says which article has no embedded photo; the window lists the failures below.
        out.message = str(exc)
    except ValueError as exc:  # a bad s or m from the caller
        out.message = str(exc)
    return out


__all__ = ["HEADER_SIZE", "LARGE_SIZE", "Loaded", "load_inspection"]
