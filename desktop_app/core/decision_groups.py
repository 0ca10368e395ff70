"""Ground truth from the curator's match decisions: groups of articles decided "same product", checked.

"Same product" is transitive, so chains of decisions join groups (A = B and B = C put C with A). Two things
then go wrong without a word: a "not a match" pair can fall inside a group (A = B = C, but A is not C), and
chains can collapse most decided articles into one group, under which every article counts as relevant to
nearly every other and every figure reads 1.000. Here the first is reported and such a pair counts neither
way (the curator's two judgements disagree, so neither can score the search); the second is refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from desktop_app.core.components import components
from desktop_app.core.errors import InputError

# A group this large, holding more than half of the decided articles, is not one product listed many
# times but chains of decisions joining everything: refused as ground truth. Below it, a small catalog's
# one real group (a product listed a dozen times, and nothing else decided) is still measured.
SUSPECT_GROUP = 20


@dataclass
class DecisionGroups:
    """The same-product groups of a catalog's decisions, with what contradicts them."""

    groups: dict[str, str]  # article -> its group (the group's smallest member)
    apart: dict[str, set[str]] = field(default_factory=dict)  # article -> group mates decided not a match
    contradicted: list[tuple[str, str]] = field(default_factory=list)  # those pairs, each once, sorted
    example: list[str] = field(default_factory=list)  # the first such pair's chain of same-product decisions
    decided: int = 0  # articles named in any current decision
    largest: int = 0  # articles in the largest group

    @property
    def note(self) -> str:
        """One line on the contradictions ('' when there are none)."""
        if not self.contradicted:
            return ""
        n = len(self.contradicted)
        first, *between, last = self.example
        through = f", joined through {' = '.join(between)}" if between else ""
        pairs = "pair falls" if n == 1 else "pairs fall"
        return (
            f"{n} 'not a match' {pairs} inside a same-product group (e.g. {first} / {last}{through}); "
            "they count neither way: decide them again to settle which is right."
        )


def decision_groups(decisions: Iterable[tuple[str, str, str]]) -> DecisionGroups:
    """The groups of (article, article, decision) items, their contradictions and size figures."""
    items = list(decisions)
    same = [(a, b) for a, b, d in items if d == "same"]
    groups = components(same)
    out = DecisionGroups(groups, decided=len({x for a, b, _ in items for x in (a, b)}))
    sizes: dict[str, int] = {}
    for g in groups.values():
        sizes[g] = sizes.get(g, 0) + 1
    out.largest = max(sizes.values(), default=0)
    for a, b, d in sorted(items):
        if d == "not_match" and a in groups and groups.get(b) == groups[a]:
            out.contradicted.append((a, b))
            out.apart.setdefault(a, set()).add(b)
            out.apart.setdefault(b, set()).add(a)
    if out.contradicted:
        out.example = _chain(same, *out.contradicted[0])
    return out


def check_plausible(found: DecisionGroups, training: bool = False) -> None:
    """Refuse groups that cannot be ground truth (or, `training`, teach an adapter): one holding more than
    half of the decided articles, once it is larger than any one product plausibly listed again and again."""
    if found.largest >= SUSPECT_GROUP and 2 * found.largest > found.decided:
        use, other = (
            (
                "teach an adapter (it would learn that nearly everything is one product)",
                "train from --groups CSV",
            )
            if training
            else (
                "be ground truth (nearly every article would count as relevant to every other)",
                "evaluate with --groups CSV",
            )
        )
        raise InputError(
            f"Chains of 'same product' decisions join {found.largest} of the {found.decided} decided articles "
            f"into one group, which cannot {use}: take back the wrong 'same product' decisions (lookalike "
            f"decide --list), or {other}."
        )


def _chain(same: list[tuple[str, str]], start: str, goal: str) -> list[str]:
    """The shortest chain of same-product decisions from start to goal (both in one group)."""
    linked: dict[str, list[str]] = {}
    for a, b in same:
        linked.setdefault(a, []).append(b)
        linked.setdefault(b, []).append(a)
    came_from: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo and goal not in came_from:
        here = todo.popleft()
        for nxt in sorted(linked.get(here, ())):
            if nxt not in came_from:
                came_from[nxt] = here
                todo.append(nxt)
    chain, at = [], goal
    while at is not None:
        chain.append(at)
        at = came_from[at]
    return chain[::-1]
