"""Ground truth from decisions: contradictions inside a same-product group are named and count neither way;
chains of decisions that join most decided articles into one group are refused."""

from __future__ import annotations

import random

import pytest

from desktop_app.core.decision_groups import SUSPECT_GROUP, check_plausible, decision_groups
from desktop_app.core.errors import InputError


def test_a_not_a_match_inside_a_group_is_named_with_its_chain():
    found = decision_groups(
        [("a", "b", "same"), ("b", "c", "same"), ("a", "c", "not_match"), ("x", "y", "not_match")]
    )
    assert found.groups == {"a": "a", "b": "a", "c": "a"}
    assert found.contradicted == [("a", "c")] and found.apart == {"a": {"c"}, "c": {"a"}}
    assert found.note == (
        "1 'not a match' pair falls inside a same-product group (e.g. a / c, joined through b); they count "
        "neither way: decide them again to settle which is right."
    )
    check_plausible(found)  # 3 articles joined is no chain collapse
    assert decision_groups([("a", "b", "same"), ("b", "c", "not_match")]).note == ""


def test_chains_of_random_decisions_are_refused_as_ground_truth():
    rng = random.Random(0)
    articles = [f"art{i:03d}" for i in range(517)]
    decisions = []
    for _ in range(120_000):
        a, b = rng.sample(articles, 2)
        decisions.append((a, b, rng.choice(["same", "alike", "not_match"])))
    found = decision_groups(decisions)
    assert found.largest == 517 and found.decided == 517
    with pytest.raises(InputError, match="join 517 of the 517 decided articles") as err:
        check_plausible(found)
    assert "\n" not in str(err.value) and "--groups CSV" in str(err.value)


def test_real_groups_are_accepted_however_many():
    # A product listed as many times as a curator plausibly finds, and nothing else decided.
    one = [(f"p{i}", f"p{i + 1}", "same") for i in range(SUSPECT_GROUP - 2)]
    check_plausible(decision_groups(one))
    # Many small groups among many decided articles, with look-alikes and rejections around them.
    many = [(f"g{i}a", f"g{i}b", "same") for i in range(300)]
    many += [(f"g{i}a", f"g{i + 1}b", "not_match") for i in range(299)]
    found = decision_groups(many)
    check_plausible(found)
    assert found.largest == 2 and not found.contradicted
