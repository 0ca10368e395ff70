"""Connected components of pairs (union-find): duplicate clusters, articles decided "same product"."""

from __future__ import annotations

from collections.abc import Iterable


def components(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every member of a pair -> its component's representative, the smallest member (so the answer does
    not depend on the order of the pairs)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees shallow
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            # The smaller root wins, so each component's root is its smallest member.
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}
