"""Search defaults: method, threshold s, cap m and top-K, as a catalog stores them and every front end uses
them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from desktop_app.core.errors import InputError
from desktop_app.core.matching import METHODS, PAIR_METHODS

DEFAULT_TOP_K = 20
MAX_TOP_K = 10_000


@dataclass(frozen=True)
class SearchSettings:
    """How articles are compared: method, threshold s (None: off), cap m (None: all pairs), top-K."""

    method: str = "greedy"
    threshold: float | None = None
    max_matches: int | None = None
    top_k: int = DEFAULT_TOP_K

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"Unknown method {self.method!r}; choose one of {', '.join(METHODS)}.")
        if self.threshold is not None:
            t = self.threshold
            if (
                isinstance(t, bool)
                or not isinstance(t, (int, float))
                or not math.isfinite(t)
                or not -1 <= t <= 1
            ):
                raise InputError(
                    f"The threshold s must be a cosine similarity between -1 and 1 (got {t}); "
                    "leave it out for no threshold."
                )
            object.__setattr__(self, "threshold", float(t))
        if self.max_matches is not None:
            m = self.max_matches
            if isinstance(m, bool) or not isinstance(m, int) or m < 1:
                raise InputError(
                    f"The cap m on pairs must be 1 or more (got {m}); leave it out to count all pairs."
                )
        if (
            isinstance(self.top_k, bool)
            or not isinstance(self.top_k, int)
            or not 1 <= self.top_k <= MAX_TOP_K
        ):
            raise InputError(f"The number of results must be between 1 and {MAX_TOP_K} (got {self.top_k}).")

    @property
    def uses_pairs(self) -> bool:
        """Whether s and m mean anything for this method."""
        return self.method in PAIR_METHODS

    def override(
        self,
        method: str | None = None,
        threshold: float | None = None,
        max_matches: int | None = None,
        top_k: int | None = None,
    ) -> SearchSettings:
        """These settings with the given values replaced; None keeps the stored value."""
        changes: dict[str, Any] = {}
        if method is not None:
            changes["method"] = method
        if threshold is not None:
            changes["threshold"] = threshold
        if max_matches is not None:
            changes["max_matches"] = max_matches
        if top_k is not None:
            changes["top_k"] = top_k
        return replace(self, **changes) if changes else self

    def describe(self) -> str:
        parts = [self.method]
        if self.uses_pairs and self.threshold is not None:
            parts.append(f"s={self.threshold:g}")
        if self.uses_pairs and self.max_matches is not None:
            parts.append(f"m={self.max_matches}")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> SearchSettings:
        """Lenient: stored values from older versions (0 meaning "off", strings) are read, bad ones ignored."""
        data = data or {}
        out = cls()
        method = data.get("method")
        if method in METHODS:
            out = replace(out, method=method)
        for name, kind in (("threshold", float), ("max_matches", int), ("top_k", int)):
            raw = data.get(name)
            if raw is None:
                continue
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                continue
            if name != "top_k" and value == 0:
                value = None  # older catalogs stored "off" as 0
            try:
                out = replace(out, **{name: value})
            except InputError:
                continue
        return out
