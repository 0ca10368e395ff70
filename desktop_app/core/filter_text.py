"""The article filter as curators type it (the grid's filter box: `label:bags folder:shoes/men`), read by one
parser for every front end. The grid shows the articles whose id, folder or labels hold each term; a search
takes the label: and folder: terms as `lookalike similar --label/--folder` takes its options.

A term is `label:`, `folder:` or `id:` and what follows it up to the next such prefix; text before the first
prefix matches the id, folder and labels at once. `label:VALUE` is the default field's value
(category=VALUE), `label:FIELD=VALUE` another field's, as for `--label`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.wording import quoted

FIELDS = ("id", "label", "folder")
ANY = "any"  # a term without a prefix: the id, folder and labels at once
_PREFIX = re.compile(r"(?:^|(?<=\s))(id|label|folder):", re.IGNORECASE)


@dataclass(frozen=True)
class FilterTerm:
    field: str  # ANY or one of FIELDS
    text: str  # as typed, stripped (the grid compares it in lower case)

    def typed(self) -> str:
        return self.text if self.field == ANY else f"{self.field}:{self.text}"


def parse_filter(text: str) -> list[FilterTerm]:
    """The terms of a filter text, in order; blank terms are dropped."""
    terms: list[FilterTerm] = []
    matches = list(_PREFIX.finditer(text))
    head = text[: matches[0].start() if matches else len(text)].strip()
    if head:
        terms.append(FilterTerm(ANY, head))
    for m, nxt in zip(matches, [*matches[1:], None]):
        value = text[m.end() : nxt.start() if nxt is not None else len(text)].strip()
        if value:
            terms.append(FilterTerm(m.group(1).lower(), value))
    return terms


def label_filter(text: str) -> tuple[str, str]:
    """A label filter as (field, value): "FIELD=VALUE", or a bare VALUE of the default field."""
    if "=" in text:
        field, value = text.split("=", 1)
        return field.strip(), value.strip()
    return DEFAULT_FIELD, text.strip()


@dataclass(frozen=True)
class SearchFilter:
    """What a search returns: only articles with these labels and under this folder (`lookalike similar
    --label --folder`), and the typed terms it could not apply (an id, plain words, a second folder)."""

    labels: tuple[tuple[str, str], ...] = ()
    folder: str | None = None
    left_out: tuple[str, ...] = ()

    @classmethod
    def of_text(cls, text: str) -> SearchFilter:
        """The filter of a typed filter text: its label: terms (one per field) and its first folder: term."""
        labels: dict[str, str] = {}
        folder: str | None = None
        left_out: list[str] = []
        for term in parse_filter(text):
            if term.field == "label" and label_filter(term.text)[0] not in labels:
                field, value = label_filter(term.text)
                labels[field] = value
            elif term.field == "folder" and folder is None:
                folder = term.text
            else:
                left_out.append(term.typed())
        return cls(tuple(labels.items()), folder, tuple(left_out))

    @classmethod
    def of_options(cls, label: str | None, folder: str | None) -> SearchFilter:
        """The filter of `--label` and `--folder`."""
        return cls((label_filter(label),) if label else (), folder or None)

    def __bool__(self) -> bool:
        return bool(self.labels or self.folder or self.left_out)

    def label(self) -> dict[str, str] | None:
        """The label filter as `SearchIndex.search` takes it (None: every label)."""
        return dict(self.labels) or None

    def describe(self) -> str:
        """What the search is limited to, e.g. "label category=bags · folder w/b" ("" when nothing)."""
        parts = [f"label {f}={v}" for f, v in self.labels]
        if self.folder:
            parts.append(f"folder {self.folder}")
        return " · ".join(parts)

    def note(self) -> str:
        """What the search did not apply of the typed filter, and why ("" when it applied all of it)."""
        if not self.left_out:
            return ""
        terms = ", ".join(quoted(t) for t in self.left_out)
        return (
            f"The filter's {terms} {'is' if len(self.left_out) == 1 else 'are'} not applied to the search: it "
            "takes label: terms (one per label field) and one folder: term."
        )


__all__ = ["ANY", "FIELDS", "FilterTerm", "SearchFilter", "label_filter", "parse_filter"]
