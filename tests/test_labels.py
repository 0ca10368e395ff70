"""The labelling core: votes, the "no suggestion" threshold, the coverage curve, imports, exports and undo.

Suggestions are also checked on real photos: the bundled Magento sample indexed with the bundled model,
half of its articles labelled with their manifest category, the other half suggested.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core import labels as labels_module
from desktop_app.core.engine import Engine
from desktop_app.core.errors import UserError
from desktop_app.core.indexer import IndexOptions, index_folder
from desktop_app.core.label_files import (
    export_labels,
    import_csv_labels,
    import_folder_labels,
    plan_csv_labels,
    plan_folder_labels,
)
from desktop_app.core.labels import (
    Neighbour,
    Suggester,
    coverage_curve,
    curve_table,
    evaluate_labels,
    vote,
)
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.search import SearchIndex
from desktop_app.core.storage import Catalog
from desktop_app.core.vectors import ArticleVectors
from tests.conftest import SAMPLE, SAMPLE_PHOTOS, bundled_sample_photos

# ----------------------------------------------------------------------------- helpers shared with GUI tests


def index_sample(base: Path) -> Path:
    """Index a copy of the bundled sample photos with the bundled model; returns the catalog path."""
    photos = base / "photos"
    shutil.copytree(SAMPLE_PHOTOS, photos)
    db = base / "catalog.sqlite"
    with Catalog(db) as cat:
        index_folder(cat, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    return db


def sample_truth() -> dict[str, str]:
    rows = csv.DictReader(open(SAMPLE / "manifest.csv", encoding="utf-8"))
    return dict(sorted({r["article"]: r["category"] for r in rows}.items()))


def half_labelled(truth: dict[str, str]) -> dict[str, str]:
    """Every other article (in id order), as `lookalike demo` labels them."""
    return dict(list(truth.items())[::2])


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    bundled_sample_photos()
    base = tmp_path_factory.mktemp("labels-sample")
    # Module scope runs before the per-test isolated home: give indexing its own (models, thumbnails).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOKALIKE_HOME", str(base / "home"))
        return index_sample(base)


@pytest.fixture
def sample_catalog(sample_db, tmp_path):
    """A private copy of the indexed sample catalog, without labels."""
    db = tmp_path / "catalog.sqlite"
    shutil.copy(sample_db, db)
    cat = Catalog(db)
    yield cat
    cat.close()


def sample_index(cat: Catalog) -> SearchIndex:
    return Engine(cat).search_index()


def suggest_unlabelled(
    cat: Catalog,
    index: SearchIndex,
    field: str,
    k: int = 10,
    min_confidence: float = 0.0,
    order: str = "certain",
):
    labels = {a: d[field] for a, d in cat.labels(field).items()}
    if not labels:
        raise UserError(f"No article has a '{field}' label yet; label a few first.")
    return labels_module.suggest_unlabelled(Suggester(index, labels, k=k), min_confidence, order)


@pytest.fixture
def tree_catalog(tmp_path, photo_tree, tiny_model):
    """Articles red, green and shoes/blue (one per folder), indexed with the tiny model."""
    cat = Catalog(tmp_path / "tree.sqlite")
    index_folder(cat, photo_tree, model=tiny_model, options=IndexOptions(batch_size=4, workers=1))
    yield cat
    cat.close()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


# ----------------------------------------------------------------------------- votes


def test_near_duplicates_outvote_many_far_neighbours():
    near = [Neighbour("n1", 0.95, "bags"), Neighbour("n2", 0.94, "bags")]
    far = [Neighbour(f"f{i}", 0.60, "tees") for i in range(5)]
    label, share, alts = vote(near + far)
    # A plain sum of scores would say tees (5 x 0.60 = 3.0 against 1.89).
    assert label == "bags"
    w_bags = 1 + np.exp((0.94 - 0.95) / 0.05)
    w_tees = 5 * np.exp((0.60 - 0.95) / 0.05)
    assert share == pytest.approx(w_bags / (w_bags + w_tees))
    assert [a for a, _ in alts] == ["bags", "tees"]
    assert sum(s for _, s in alts) == pytest.approx(1.0)


def test_vote_weights_follow_the_score_gap():
    # Two labels, each with one neighbour: the share is a logistic function of the score gap.
    label, share, alts = vote([Neighbour("a", 0.80, "x"), Neighbour("b", 0.75, "y")], temperature=0.05)
    assert label == "x" and share == pytest.approx(1 / (1 + np.exp(-1)))
    assert alts[1] == ("y", pytest.approx(1 - share))


def test_vote_keeps_the_top_three_and_breaks_ties_by_name():
    ns = [Neighbour(str(i), 0.5, lab) for i, lab in enumerate("dcba")]
    label, share, alts = vote(ns)
    assert label == "a" and share == pytest.approx(0.25)
    assert [a for a, _ in alts] == ["a", "b", "c"]


def test_vote_without_usable_neighbours_has_no_label():
    assert vote([]) == (None, 0.0, [])
    assert vote([Neighbour("a", float("nan"), "x")]) == (None, 0.0, [])
    # A non-finite score is ignored, not allowed to poison the others.
    assert vote([Neighbour("a", float("-inf"), "x"), Neighbour("b", 0.3, "y")])[0] == "y"


def _clusters(seed: int = 0, middle: bool = False) -> tuple[ArticleVectors, dict[str, str]]:
    """Six articles around each of two directions, labelled by direction; optionally one in between."""
    rng = np.random.default_rng(seed)
    centres = {"left": np.r_[1.0, 0, 0, 0], "right": np.r_[0, 1.0, 0, 0]}
    groups, labels = {}, {}
    for name, c in centres.items():
        for i in range(6):
            groups[f"{name}{i}"] = c + rng.normal(0, 0.05, (2, 4))
            labels[f"{name}{i}"] = name
    if middle:
        # Halfway between the sides and with a label of its own: never guessed right, and never sure.
        groups["middle"] = (centres["left"] + centres["right"]) / np.sqrt(2) + rng.normal(0, 0.02, (2, 4))
        labels["middle"] = "both"
    return ArticleVectors.from_groups(groups), labels


def test_confidence_below_the_threshold_gives_no_suggestion():
    av, labels = _clusters()
    # Unlabel one article of each side; give one of them conflicting neighbours by labelling its side mixed
    labels = {a: v for a, v in labels.items() if a not in ("left0", "right0")}
    labels["left1"] = "right"
    index = SearchIndex(av)
    sure = Suggester(index, labels, k=5).suggest("right0")
    assert sure.label == "right" and sure.confidence > 0.9
    unsure = Suggester(index, labels, k=5).suggest("left0")
    assert unsure.label is not None and unsure.confidence < sure.confidence
    gated = Suggester(index, labels, k=5).suggest("left0", min_confidence=unsure.confidence + 0.01)
    assert gated.label is None
    # The numbers stay: the curator still sees the best guess and the votes.
    assert gated.confidence == unsure.confidence and gated.alternatives == unsure.alternatives
    assert Suggester(index, labels, k=5).suggest("left0", min_confidence=unsure.confidence).label is not None


def test_neighbours_are_labelled_articles_only():
    av, labels = _clusters()
    del labels["left0"], labels["left1"]
    s = Suggester(SearchIndex(av), labels, k=20).suggest("left0")
    names = [n.article for n in s.neighbours]
    assert "left0" not in names and "left1" not in names and len(names) == 10
    assert [n.score for n in s.neighbours] == sorted((n.score for n in s.neighbours), reverse=True)


# ----------------------------------------------------------------------------- coverage curve


def test_coverage_curve_points():
    conf = np.array([0.9, 0.5, 0.9, 0.8])
    ok = np.array([True, True, False, True])
    pts = [(p.threshold, p.coverage, p.accuracy) for p in coverage_curve(conf, ok)]
    assert pts == [(0.9, 0.5, 0.5), (0.8, 0.75, pytest.approx(2 / 3)), (0.5, 1.0, 0.75)]


def test_evaluate_reports_accuracy_and_coverage_at_95():
    av, labels = _clusters(middle=True)
    ev = evaluate_labels(SearchIndex(av), labels, k=5)
    assert ev.n == 13 and ev.n_labels == 3
    assert ev.accuracy == pytest.approx(12 / 13)  # 92%: below 95% at full coverage
    last = max(ev.curve, key=lambda p: p.coverage)
    assert last.coverage == 1.0 and last.accuracy == pytest.approx(ev.accuracy)
    # Leaving out the unsure "middle" reaches 100%: the coverage at >= 95% is everything else.
    assert ev.coverage_at_95 == pytest.approx(12 / 13)
    middle = Suggester(SearchIndex(av), {a: v for a, v in labels.items() if a != "middle"}, k=5).suggest(
        "middle"
    )
    assert middle.confidence < ev.threshold_at_95
    table = curve_table(ev)
    assert table[0] == {"min_confidence": 0.0, "coverage": 1.0, "accuracy": pytest.approx(12 / 13)}
    covs = [r["coverage"] for r in table]
    assert covs == sorted(covs, reverse=True)


def test_evaluate_asks_at_most_the_articles_it_is_told_and_all_still_vote():
    av, labels = _clusters(middle=True)
    every = evaluate_labels(SearchIndex(av), labels, k=5)
    some = evaluate_labels(SearchIndex(av), labels, k=5, limit=5, seed=3)
    assert (some.n, some.n_labelled, every.n, every.n_labelled) == (5, 13, 13, 13)
    assert some.right == [
        every.right[i] for i in range(13) if i in _drawn(13, 5, 3)
    ]  # same answers: all vote
    assert some.to_dict()["n_labelled"] == 13


def _drawn(n: int, k: int, seed: int) -> set[int]:
    return set(np.random.default_rng(seed).choice(list(range(n)), size=k, replace=False).tolist())


def _mixed_clusters(per_label: int = 25, seed: int = 0) -> tuple[ArticleVectors, dict[str, str]]:
    """Three labels whose clusters overlap: enough articles to fit a calibration, and wrong suggestions."""
    rng = np.random.default_rng(seed)
    groups, labels = {}, {}
    for k, name in enumerate(("a", "b", "c")):
        centre = np.eye(4)[k]
        for i in range(per_label):
            groups[f"{name}{i}"] = centre + rng.normal(0, 0.7, (2, 4))
            labels[f"{name}{i}"] = name
    return ArticleVectors.from_groups(groups), labels


def test_plot_shows_the_curve_and_the_reliability_of_raw_and_calibrated_confidences(tmp_path):
    """The issue asks for the calibration curve; the plot had only coverage against accuracy."""
    from PIL import Image, ImageColor

    from desktop_app.core import label_plot as lp

    av, labels = _mixed_clusters()
    ev = evaluate_labels(SearchIndex(av), labels, k=5)
    assert ev.not_calibrated is None and 0.5 < ev.accuracy < 0.9  # both series, and bins across the range
    assert len(ev.reliability) >= 4 and len(ev.reliability_raw) >= 4
    out = lp.plot_evaluation(ev, tmp_path / "plot.png")
    with Image.open(out) as img:
        assert img.size == lp.SIZE
        rgb = img.convert("RGB")
    curve, raw = ImageColor.getrgb(lp.CURVE), ImageColor.getrgb(lp.RAW)

    def colours_in(box) -> set:
        return {c for _, c in rgb.crop(tuple(int(v) for v in box)).getcolors(1 << 16)}

    assert curve in colours_in(lp.COVERAGE_AXES.box) and raw not in colours_in(lp.COVERAGE_AXES.box)
    assert {curve, raw} <= colours_in(lp.RELIABILITY_AXES.box)
    # Each bin is a dot at (mean confidence, share right): the calibrated ones drawn over the raw ones.
    calibrated = [lp.RELIABILITY_AXES.xy(b["confidence"], b["accuracy"]) for b in ev.reliability]
    for x, y in calibrated:
        assert curve in colours_in((x - 1, y - 1, x + 2, y + 2)), (x, y)
    for b in ev.reliability_raw:
        x, y = lp.RELIABILITY_AXES.xy(b["confidence"], b["accuracy"])
        if all(abs(x - cx) + abs(y - cy) > 20 for cx, cy in calibrated):
            assert raw in colours_in((x - 1, y - 1, x + 2, y + 2)), (x, y)


def test_evaluate_needs_two_labelled_articles():
    av, labels = _clusters()
    with pytest.raises(UserError):
        evaluate_labels(SearchIndex(av), {"left0": "left"})


# ----------------------------------------------------------------------------- real photos


def test_suggestions_on_real_photos(sample_catalog):
    cat = sample_catalog
    truth = sample_truth()
    known = half_labelled(truth)
    cat.set_labels([(a, "category", c) for a, c in known.items()], source="import", action="import")
    index = sample_index(cat)
    queue = suggest_unlabelled(cat, index, "category", k=5)
    assert {s.article for s in queue} == set(truth) - set(known)
    assert [s.confidence for s in queue] == sorted((s.confidence for s in queue), reverse=True)
    for s in queue:
        assert s.neighbours and all(n.article in known and n.label == known[n.article] for n in s.neighbours)
        assert s.label == s.alternatives[0][0] and s.confidence == s.alternatives[0][1]
        assert [c for _, c in s.alternatives] == sorted((c for _, c in s.alternatives), reverse=True)
        assert 0 < s.confidence <= 1 and sum(c for _, c in s.alternatives) <= 1 + 1e-6
    # Only categories that occur among the labelled half can be suggested right.
    reachable = [s for s in queue if truth[s.article] in set(known.values())]
    right = sum(s.label == truth[s.article] for s in reachable)
    print(f"sample, half labelled: {right}/{len(reachable)} reachable suggestions right")
    assert right / len(reachable) >= 0.6  # measured 11/13 with k=5
    # The sure ones are the right ones: the top half of the queue is more accurate than the bottom half.
    top = [s for s in queue[: len(queue) // 2] if s in reachable]
    assert sum(s.label == truth[s.article] for s in top) / len(top) >= 0.85

    least = suggest_unlabelled(cat, index, "category", k=5, order="uncertain")
    assert [s.article for s in least] == [
        s.article for s in sorted(queue, key=lambda s: (s.confidence, s.article))
    ]
    gated = suggest_unlabelled(cat, index, "category", k=5, min_confidence=0.9)
    assert all((s.label is None) == (s.confidence < 0.9) for s in gated)
    assert any(s.label is None for s in gated) and any(s.label is not None for s in gated)


def test_leave_one_out_on_real_photos(sample_catalog):
    ev = evaluate_labels(sample_index(sample_catalog), sample_truth(), k=5)
    print(f"sample leave-one-out: accuracy {ev.accuracy:.3f}, coverage at 95% {ev.coverage_at_95:.3f}")
    assert ev.n == 33 and ev.accuracy >= 0.6  # measured 0.667 (22/33) with k=5
    assert 0 < ev.coverage_at_95 <= 1


def test_suggest_without_labels_says_what_to_do(sample_catalog):
    with pytest.raises(UserError, match="label a few"):
        suggest_unlabelled(sample_catalog, sample_index(sample_catalog), "category")


# ----------------------------------------------------------------------------- CSV import


def test_csv_import_by_article_with_fields_unknown_and_empty_rows(tree_catalog, tmp_path):
    path = write_csv(
        tmp_path / "labels.csv",
        ["article", "label", "field"],
        [
            ["red", "warm", ""],
            ["shoes/blue", "cool", "category"],
            ["shoes/blue", "suede", "material"],
            ["nope", "x", ""],
            ["green", "", ""],
        ],
    )
    rep = import_csv_labels(tree_catalog, path)
    assert (rep.applied, rep.unknown, rep.skipped_rows) == (3, ["nope"], 1)
    assert tree_catalog.labels() == {
        "red": {"category": "warm"},
        "shoes/blue": {"category": "cool", "material": "suede"},
    }
    assert {e["action"] for e in tree_catalog.label_events()} == {"import"}


def test_csv_import_from_a_spreadsheet_with_semicolons_and_capitalised_headers(tree_catalog, tmp_path):
    """Spreadsheets in many locales save CSV with semicolons, and people name columns "Article"."""
    path = tmp_path / "excel.csv"
    path.write_text("Article;Label\r\nred;warm\r\nshoes/blue;cool, dark\r\n", encoding="utf-8-sig")
    rep = import_csv_labels(tree_catalog, path)
    assert rep.applied == 2
    assert tree_catalog.labels() == {"red": {"category": "warm"}, "shoes/blue": {"category": "cool, dark"}}


def test_csv_import_by_path(tree_catalog, tmp_path):
    path = write_csv(
        tmp_path / "by-path.csv",
        ["path", "label"],
        [["red/p1.jpg", "warm"], ["shoes/blue/p0.jpg", "cool"], ["missing/p9.jpg", "x"]],
    )
    rep = import_csv_labels(tree_catalog, path, "colour")
    assert rep.applied == 2 and rep.unknown == ["missing/p9.jpg"]
    assert tree_catalog.labels("colour") == {"red": {"colour": "warm"}, "shoes/blue": {"colour": "cool"}}


def test_csv_import_of_a_manifest_uses_the_field_column_once_per_article(tree_catalog, tmp_path):
    # One row per photo, the label in a column named after the field: a catalogue manifest as it is.
    path = write_csv(
        tmp_path / "manifest.csv",
        ["path", "article", "category", "style"],
        [
            ["red/p0.jpg", "red", "tops", "s1"],
            ["red/p1.jpg", "red", "tops", "s1"],
            ["red/p2.jpg", "red", "tops", "s1"],
            ["green/p0.jpg", "green", "pants", "s2"],
        ],
    )
    plan = plan_csv_labels(tree_catalog, path)
    assert sorted(plan.items) == [("green", "category", "pants"), ("red", "category", "tops")]
    assert tree_catalog.labels() == {}  # planning writes nothing
    rep = import_csv_labels(tree_catalog, path)
    assert rep.applied == 2 and len(tree_catalog.label_events()) == 2


def test_csv_import_explains_a_wrong_layout(tree_catalog, tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["sku", "value"], [["red", "x"]])
    with pytest.raises(UserError, match="'label'"):
        import_csv_labels(tree_catalog, path)
    with pytest.raises(UserError, match="does not exist"):
        import_csv_labels(tree_catalog, tmp_path / "absent.csv")


# ----------------------------------------------------------------------------- folder import


def test_folder_level_import(tree_catalog):
    plan = plan_folder_labels(tree_catalog, 0)
    assert sorted(plan.items) == [
        ("green", "category", "green"),
        ("red", "category", "red"),
        ("shoes/blue", "category", "shoes"),
    ]
    rep = import_folder_labels(tree_catalog, 1, "colour")
    assert (
        rep.applied == 1 and rep.unknown == [] and sorted(rep.no_folder) == ["green", "red"]
    )  # no folder there
    assert tree_catalog.labels("colour") == {"shoes/blue": {"colour": "blue"}}
    tree_catalog.set_labels([("red", "category", "mine")])
    rep = import_folder_labels(tree_catalog, 0)
    assert rep.applied == 2 and tree_catalog.labels("category")["red"] == {"category": "mine"}  # kept
    import_folder_labels(tree_catalog, 0, overwrite=True)
    assert tree_catalog.labels("category")["red"] == {"category": "red"}
    sources = {(r["article"], r["field"]): r["source"] for r in tree_catalog.labels_with_source()}
    assert sources[("red", "category")] == "folder"


# ----------------------------------------------------------------------------- export


def test_export_csv_and_json_round_trip(tree_catalog, tmp_path, photo_tree, tiny_model):
    tree_catalog.set_labels(
        [
            ("red", "category", "tops"),
            ("shoes/blue", "category", "shoes, sports"),
            ("shoes/blue", "material", 'suede "soft"'),
        ]
    )
    csv_path, json_path = tmp_path / "out.csv", tmp_path / "out.json"
    assert export_labels(tree_catalog, csv_path) == 3
    assert export_labels(tree_catalog, json_path) == 3
    rows = json.loads(json_path.read_text(encoding="utf-8"))
    assert {(r["article"], r["field"], r["value"]) for r in rows} == {
        ("red", "category", "tops"),
        ("shoes/blue", "category", "shoes, sports"),
        ("shoes/blue", "material", 'suede "soft"'),
    }
    assert all(r["source"] == "manual" for r in rows)

    other = Catalog(tmp_path / "other.sqlite")
    index_folder(other, photo_tree, model=tiny_model, options=IndexOptions(batch_size=4, workers=1))
    rep = import_csv_labels(other, csv_path)
    assert rep.applied == 3 and not rep.unknown
    assert other.labels() == tree_catalog.labels()
    other.close()
    with pytest.raises(UserError, match="Unknown export format"):
        export_labels(tree_catalog, tmp_path / "out.xml")


# ----------------------------------------------------------------------------- undo


def test_undo_across_reopen(tree_catalog):
    path = tree_catalog.path
    tree_catalog.set_labels([("red", "category", "tops")], source="accepted", action="accept")
    tree_catalog.set_labels([("red", "category", "tees")], action="set")
    tree_catalog.record_skip("green", "category")
    tree_catalog.set_labels([("green", "material", "cotton")])
    tree_catalog.close()

    with Catalog(path) as cat:
        assert cat.undo_last_decision("category")[0]["action"] == "skip"  # the other field is left alone
        (ev,) = cat.undo_last_decision("category")
        assert (ev["old_value"], ev["new_value"]) == ("tops", "tees")
        assert cat.labels("category") == {"red": {"category": "tops"}}
        # the restored label keeps where it came from
        assert [r["source"] for r in cat.labels_with_source() if r["article"] == "red"] == ["accepted"]
    with Catalog(path) as cat:
        assert cat.undo_last_decision("category")[0]["action"] == "accept"
        assert cat.labels("category") == {}
        assert cat.undo_last_decision("category") == []
        assert cat.labels("material") == {"green": {"material": "cotton"}}
        assert cat.undo_last_decision() != [] and cat.labels() == {}


def test_leaving_out_the_whole_group_removes_near_duplicate_help():
    # Two tight pairs of near-duplicates ("styles") with a rare label each, far from a big labelled crowd:
    # leave-one-out finds the twin; leaving the style out must not, and says so in the figures.
    rng = np.random.default_rng(3)
    groups, labels, style = {}, {}, {}
    for s, direction in (("s1", np.r_[0, 0, 1.0, 0]), ("s2", np.r_[0, 0, 0, 1.0])):
        for c in ("a", "b"):
            groups[f"{s}-{c}"] = direction + rng.normal(0, 0.01, (2, 4))
            labels[f"{s}-{c}"], style[f"{s}-{c}"] = f"rare-{s}", s
    for i in range(8):
        groups[f"crowd{i}"] = np.r_[1.0, 0.3, 0.4, 0.4] + rng.normal(0, 0.02, (2, 4))
        labels[f"crowd{i}"], style[f"crowd{i}"] = "common", f"c{i}"
    index = SearchIndex(ArticleVectors.from_groups(groups))
    plain = evaluate_labels(index, labels, k=3)
    held = evaluate_labels(index, labels, k=3, groups=style)
    assert plain.accuracy == 1.0
    assert held.accuracy == pytest.approx(8 / 12)  # the four rare articles can no longer be right
