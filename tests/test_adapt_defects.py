"""What the adapter must not get wrong around it: a threshold s tuned on the frozen vectors is not applied
to the adapted ones (each vector space has its own), results with no pair above s are not listed as
matches, training refuses vectors that are changing or mostly missing and groups that name no article of
the catalog, figures measured on the adapter's own training data say so (and `tune` stores nothing from
them), and an adapter of another model is named as such."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.core import adapt
from desktop_app.core.engine import Engine
from desktop_app.core.settings import CatalogSettings, SearchSettings
from desktop_app.core.similar import Query
from desktop_app.core.storage import Catalog, PhotoWrite
from tests.test_adapt import make_catalog, synthetic


def write_groups(path, groups: dict[str, str]):
    path.write_text("article,group\n" + "".join(f"{a},{g}\n" for a, g in groups.items()))
    return path


@pytest.fixture
def two_halves(tmp_path, tiny_model):
    """A synthetic catalog and its groups split in two files: the adapter learns from the first half."""
    groups, vectors = synthetic(n_groups=24, per_group=2, photos=3)
    db = tmp_path / "c.sqlite"
    make_catalog(db, vectors, tiny_model).close()
    names = sorted(set(groups.values()))
    first = write_groups(tmp_path / "a.csv", {a: g for a, g in groups.items() if g in names[:12]})
    second = write_groups(tmp_path / "b.csv", {a: g for a, g in groups.items() if g in names[12:]})
    return db, first, second


def test_a_threshold_belongs_to_the_vector_space_it_was_tuned_in(two_halves):
    """s=0.5 tuned frozen left one bag of seven above it with an adapter on (Magento): a fresh adapter
    searches without s and says why; its own s is kept apart from the frozen one, both ways."""
    db, first, second = two_halves
    with Engine.open(db, remember=False) as engine:
        engine.update_search(method="hungarian", threshold=0.5)
        adapter = engine.train_adapter(("groups",), first)
        fresh = engine.search_settings()
        assert (fresh.method, fresh.threshold) == ("hungarian", None)
        assert engine.vector_space() == adapter.id
        assert "s=0.5" in engine.search_space_note() and "tune" in engine.search_space_note()
        assert engine.similar(Query.of_articles("g00-c0")).params.threshold is None

        engine.update_search(threshold=0.3)  # set with the adapter on: the adapter's own
        assert engine.search_settings().threshold == 0.3 and engine.search_space_note() is None
        engine.use_adapter(False)
        assert engine.search_settings().threshold == 0.5  # the frozen vectors keep theirs
        engine.use_adapter(True)
        assert engine.search_settings().threshold == 0.3

        top, result = engine.tune(second)  # groups the adapter did not learn from: stored for it
        assert not result.note
        assert engine.search_settings().threshold == top.threshold
        assert engine.settings().search.threshold == 0.5
        stored = engine.settings()
    assert CatalogSettings.from_raw(stored.to_raw()) == stored


def test_settings_cli_shows_and_changes_the_adapters_own_settings(two_halves, capsys):
    db, first, _second = two_halves
    assert main(["settings", "--db", str(db), "--method", "hungarian", "--threshold", "0.5"]) == 0
    capsys.readouterr()
    assert main(["adapt", "train", "--from", "groups", "--groups", str(first), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "is on" not in out and "; on." in out and "searches without s: s=0.5" in out
    assert main(["settings", "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["threshold"] is None and shown["adapter"] is not None
    assert main(["settings", "--db", str(db), "--threshold", "0.2"]) == 0
    assert "(adapter " in capsys.readouterr().out
    assert main(["adapt", "off", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["settings", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threshold"] == 0.5


def test_results_without_a_pair_above_s_are_not_listed(tmp_path, tiny_model):
    """Under s, an article none of whose pairs passes scores 0: it matched nothing, so it is no result
    (it was listed, ties at 0.0 in name order, after the real matches)."""
    groups, vectors = synthetic(n_groups=10, per_group=2, photos=3)
    with make_catalog(tmp_path / "c.sqlite", vectors, tiny_model) as engine:
        loose = engine.similar(Query.of_articles("g00-c0"), SearchSettings("hungarian", None, top_k=19))
        cut = sorted(h.score for h in loose.hits)[-3]  # about three articles have a pair above it
        out = engine.similar(Query.of_articles("g00-c0"), SearchSettings("hungarian", cut, top_k=19))
    assert out.hits and all(h.passed > 0 and h.score > 0 for h in out.hits)
    assert len(out.hits) < 19 and "not listed" in out.note


def test_train_refuses_while_an_index_run_updates_the_vectors(two_halves, capsys):
    db, first, _second = two_halves
    with Catalog(db) as catalog, catalog.index_lock():
        code = main(["adapt", "train", "--groups", str(first), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and "index run" in err and len(err.strip().splitlines()) == 1
    with Engine.open(db, remember=False) as engine:
        assert not engine.catalog.adapters()


def test_train_refuses_when_most_photos_have_no_vector_of_the_model(tmp_path, tiny_model, capsys):
    """During a model switch most photos have only the old model's vectors: an adapter trained on the few
    new ones (100 of 806 on Magento) and switched on lowered style mAP."""
    _groups, vectors = synthetic(n_groups=3, per_group=2, photos=2)
    db = tmp_path / "c.sqlite"
    engine = make_catalog(db, vectors, tiny_model)
    others = {f"old{i}": np.ones((3, 24)) for i in range(10)}
    ids = engine.catalog.sync_articles({**vectors, **others})
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(len(others) * 3, 24)).astype(np.float32)
    unit /= np.linalg.norm(
        unit, axis=1, keepdims=True
    )  # as a model's vectors are (the catalog refuses others)
    writes = [
        PhotoWrite(
            ids[a],
            f"{a}/{i}.jpg",
            f"{a}/{i}.jpg".encode(),
            1,
            1,
            None,
            hash=f"{a}{i}",
            vector=unit[3 * n + i],
        )
        for n, a in enumerate(others)
        for i in range(3)
    ]
    engine.catalog.write_photos(writes, "another-model@1")
    engine.close()
    code = main(["adapt", "train", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and "12 of the catalog's 42" in err and "lookalike index" in err


def test_train_refuses_groups_that_name_no_article_of_the_catalog(two_halves, tmp_path, capsys):
    db, _first, _second = two_halves
    bad = write_groups(tmp_path / "bad.csv", {"nowhere-1": "x", "nowhere-2": "x"})
    code = main(["adapt", "train", "--from", "groups", "--groups", str(bad), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and "none of its 2 articles is in the catalog" in err
    assert main(["evaluate", "--groups", str(bad), "--db", str(db)]) == 2  # the same check
    mostly = write_groups(
        tmp_path / "mostly.csv",
        {"g00-c0": "x", "g00-c1": "x", **{f"elsewhere-{i}": "y" for i in range(5)}},
    )
    assert main(["adapt", "train", "--from", "groups", "--groups", str(mostly), "--db", str(db)]) == 0
    assert "Warning: only 2 of the 7 articles of mostly.csv" in capsys.readouterr().out


def test_an_adapter_of_the_articles_own_photos_alone_is_stored_but_not_switched_on(two_halves, capsys):
    db, first, _second = two_halves
    assert main(["adapt", "train", "--from", "decisions", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not out["active"] and "own photos" in out["info"]["not_switched_on"]
    with Engine.open(db, remember=False) as engine:
        assert engine.adapter() is None
    assert main(["adapt", "train", "--from", "decisions", "--on", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"]
    assert (
        main(["adapt", "train", "--from", "groups", "--groups", str(first), "--db", str(db), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["active"]


def test_dim_below_the_minimum_is_refused_with_its_reason(two_halves, capsys):
    db, first, _second = two_halves
    with pytest.raises(SystemExit) as exit_:
        main(["adapt", "train", "--groups", str(first), "--dim", "1", "--db", str(db)])
    assert exit_.value.code == 2 and f"--dim must be {adapt.MIN_DIM} or more" in capsys.readouterr().err


def test_figures_measured_on_the_adapters_own_ground_truth_say_so(two_halves, capsys):
    """evaluate --split measured 0.269 frozen and 0.951 adapted on an adapter trained on the same photos;
    nothing said the adapter had seen the answers."""
    db, first, second = two_halves
    assert main(["adapt", "train", "--from", "groups", "--groups", str(first), "--db", str(db)]) == 0
    capsys.readouterr()
    for protocol, leaked in (
        (["--groups", str(first)], True),
        (["--groups", str(second)], False),
        (["--split"], True),
    ):
        assert main(["evaluate", *protocol, "--db", str(db), "--json", "--method", "greedy"]) == 0
        note = json.loads(capsys.readouterr().out)["note"]
        assert bool(note) == leaked and (not note or "learned from" in note)
    with Engine.open(db, remember=False) as engine:
        before = engine.search_settings()
    assert main(["tune", "--groups", str(first), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Not stored: Adapter" in out and "optimistic" in out
    with Engine.open(db, remember=False) as engine:
        assert engine.search_settings() == before


def test_labels_evaluate_says_when_the_adapter_learned_from_its_labels(two_halves, capsys):
    db, first, _second = two_halves
    groups = dict(line.split(",") for line in first.read_text().splitlines()[1:])
    with Engine.open(db, remember=False) as engine:
        engine.set_labels(sorted(groups), "category", "left")
        engine.set_labels(["g20-c0", "g20-c1", "g21-c0"], "category", "right")
        engine.train_adapter(("labels",))
    assert main(["labels", "evaluate", "--field", "category", "--db", str(db)]) == 0
    assert "learned from the 'category' labels" in capsys.readouterr().out
    assert main(["labels", "evaluate", "--field", "other", "--db", str(db)]) == 2  # no such labels


def test_an_adapter_of_another_model_is_named_with_its_model(two_halves, capsys):
    db, _first, _second = two_halves
    with Catalog(db) as catalog:
        other = catalog.save_adapter("another-model@1", "whitening", {}, b"", active=False)
    assert main(["adapt", "on", "--id", str(other), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "trained for the model another-model@1" in err
    assert main(["adapt", "on", "--id", "999", "--db", str(db)]) == 2
    assert "no adapter 999 in this catalog" in capsys.readouterr().err


def test_an_adapter_stored_before_it_recorded_its_articles_is_not_taken_as_clean():
    old = adapt.Adapter("whitening", "m", np.zeros(2), np.eye(2), {"sources": {"groups": 3}})
    restored = adapt.Adapter.from_bytes(old.to_bytes(), "whitening", "m", old.info)
    assert restored.grouped == () and restored.learned_from("groups", ["a"])
    clean = adapt.Adapter("whitening", "m", np.zeros(2), np.eye(2), {"sources": {"groups": 3}}, None, ("b",))
    assert not clean.learned_from("groups", ["a"]) and clean.learned_from("groups", ["a", "b"])
    restored = adapt.Adapter.from_bytes(clean.to_bytes(), "whitening", "m", clean.info)
    assert restored.grouped == ("b",)


def refused(capsys, *argv: str, needle: str) -> str:
    """`lookalike argv` exits 2 with one line holding `needle` (a user mistake, named with its fix)."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and needle in err, err
    return err


def test_a_groups_file_the_sources_leave_out_is_refused_not_recorded(two_halves, capsys):
    """`--groups F --from decisions` read nothing from F (the adapter learned from the articles' own
    photos) yet recorded F as learned from; and `--from groups` spelled out without a file was let through
    when it listed all three sources."""
    db, first, _second = two_halves
    err = refused(
        capsys, "adapt", "train", "--groups", first, "--from", "decisions", "--db", db, needle="--groups"
    )
    assert "--from decisions,groups" in err
    refused(
        capsys,
        "adapt",
        "train",
        "--from",
        "decisions,groups,labels",
        "--db",
        db,
        needle="needs a groups file",
    )
    with Engine.open(db, remember=False) as engine:
        assert not engine.catalog.adapters()  # nothing stored by a refused run
    assert main(["adapt", "train", "--from", "decisions", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["trained_on"] == ["decisions"]
    assert main(["adapt", "train", "--groups", str(first), "--db", str(db), "--json"]) == 0  # default: all
    info = json.loads(capsys.readouterr().out)["info"]
    assert info["trained_on"] == ["decisions", "groups", "labels", str(first)] and info["sources"]["groups"]
    assert main(["adapt", "train", "--db", str(db), "--json"]) == 0  # no file: groups are not claimed
    assert json.loads(capsys.readouterr().out)["info"]["trained_on"] == ["decisions", "labels"]


def test_adapt_evaluate_refuses_a_groups_file_of_another_catalog_as_evaluate_does(
    two_halves, tmp_path, capsys
):
    """It said "Adapting needs at least two classes of photos", which sent the user looking at the
    catalog; `evaluate --groups` and `adapt train --groups` name the groups file."""
    db, _first, _second = two_halves
    elsewhere = write_groups(tmp_path / "other.csv", {f"nowhere-{i}": f"s{i // 2}" for i in range(6)})
    needle = "No article of the catalog shares a group with another; check the groups file (none of its 6"
    for argv in (["adapt", "evaluate"], ["evaluate"], ["adapt", "train", "--from", "groups"]):
        refused(capsys, *argv, "--groups", elsewhere, "--db", db, needle=needle)
    two = write_groups(tmp_path / "two.csv", {f"g0{g}-c{c}": f"s{g}" for g in (0, 1) for c in (0, 1)})
    refused(capsys, "adapt", "evaluate", "--groups", two, "--db", db, needle="the groups file gives 2")


def test_adapt_evaluate_refuses_a_split_with_no_shared_group_on_a_side(two_halves, capsys):
    db, first, _second = two_halves  # 12 groups of two: a twentieth of them rounds to one
    refused(
        capsys,
        *("adapt", "evaluate", "--groups", first, "--train-fraction", "0.05", "--db", db),
        needle="1 of the 12 shared groups on the training side",
    )


def test_adapt_evaluate_warns_when_most_of_the_file_is_elsewhere(two_halves, tmp_path, capsys):
    db, first, _second = two_halves
    rows = dict(line.split(",") for line in first.read_text().splitlines()[1:])
    mostly = write_groups(tmp_path / "mostly.csv", {**rows, **{f"elsewhere-{i}": "z" for i in range(30)}})
    assert main(["adapt", "evaluate", "--groups", str(mostly), "--db", str(db), "--method", "greedy"]) == 0
    assert "Warning: only 24 of the 54 articles of mostly.csv" in capsys.readouterr().out


def test_dim_above_the_models_is_refused_not_quietly_capped(two_halves, capsys):
    """--dim 99999 trained a 24-d adapter (the model's width here) and said nothing."""
    db, first, _second = two_halves
    for command in ("train", "evaluate"):
        err = refused(
            capsys, "adapt", command, "--groups", first, "--dim", "99999", "--db", db, needle="99999"
        )
        assert "vectors have 24 dimensions" in err and "--dim 24 or less" in err
    with Engine.open(db, remember=False) as engine:
        assert not engine.catalog.adapters()
        assert engine.train_adapter(("groups",), first, dim=24).dim == 24  # the model's width is taken
