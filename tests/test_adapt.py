"""The catalog-adapted embedding: on a synthetic catalog whose right answers are known, learning from the
curator's groups and decisions must improve the held-out ranking; switching it off gives back the frozen
ranking exactly; training can be cancelled; the CLI's JSON has the fields scripts rely on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.core import adapt
from desktop_app.core.engine import Engine
from desktop_app.core.models import vector_identity
from desktop_app.core.similar import Query
from desktop_app.core.storage import PhotoWrite
from desktop_app.core.vectors import ArticleVectors

DIM = 24


def synthetic(seed: int = 0, n_groups: int = 40, per_group: int = 3, photos: int = 3):
    """Products in groups (a style and its colours). Each group has a small identity signal; photos vary a
    lot along a few nuisance directions (the view), which the frozen vectors mistake for similarity."""
    rng = np.random.default_rng(seed)
    nuisance = rng.normal(size=(3, DIM))
    groups, vectors = {}, {}
    for g in range(n_groups):
        identity = rng.normal(size=DIM)
        for c in range(per_group):
            art = f"g{g:02d}-c{c}"
            groups[art] = f"style{g:02d}"
            views = rng.normal(size=(photos, 3)) * 3.0
            vectors[art] = 0.6 * identity + views @ nuisance + 0.3 * rng.normal(size=(photos, DIM))
    return groups, vectors


def make_catalog(location, vectors: dict[str, np.ndarray], tiny_model) -> Engine:
    engine = Engine.open(location, create=True, remember=False)
    engine.update_settings(
        model=tiny_model.manifest.name, model_manifest=str(tiny_model.manifest_path), photo_root="/nowhere"
    )
    model_id = vector_identity(tiny_model.manifest, None, False)
    ids = engine.catalog.sync_articles(vectors)
    writes = []
    for art, mat in vectors.items():
        for i, v in enumerate(np.asarray(mat, np.float32)):
            rel = f"{art}/{i}.jpg"
            # The vectors are synthetic (DIM-d): stored under the tiny model's identity, as an index run would.
            writes.append(
                PhotoWrite(
                    ids[art], rel, rel.encode(), 1, 1, None, hash=f"{art}{i}", vector=v / np.linalg.norm(v)
                )
            )
    engine.catalog.write_photos(writes, model_id)
    return engine


@pytest.fixture
def groups_and_vectors():
    return synthetic()


def test_whitening_and_linear_improve_held_out_groups(groups_and_vectors):
    groups, vectors = groups_and_vectors
    av = ArticleVectors.from_groups(vectors)
    from desktop_app.core import evaluate as ev

    train, test = adapt.split_groups(groups, 0.5, seed=1)
    assert not {groups[a] for a in train} & {groups[a] for a in test}  # whole groups on one side
    ex = adapt.examples(av, {a: groups[a] for a in train}, articles=train)
    test_av = adapt.subset(av, sorted(test))
    test_groups = {a: groups[a] for a in test}

    def map_of(vecs: ArticleVectors) -> float:
        index, queries = ev.group_queries(vecs, test_groups)
        return ev.score_queries(index, queries, ev.MethodSpec("greedy")).map

    frozen = map_of(test_av)
    for kind in adapt.KINDS:
        adapter = adapt.train(ex, "m", kind, seed=0)
        adapted = map_of(adapter.apply_to(test_av))
        print(f"{kind}: frozen mAP {frozen:.3f} -> adapted {adapted:.3f}")
        assert adapted > frozen + 0.15  # the nuisance directions no longer decide the ranking


def test_adapted_vectors_have_256_dimensions_unless_asked_or_the_model_has_fewer():
    rng = np.random.default_rng(0)
    wide = adapt.Examples(rng.normal(size=(600, 300)).astype(np.float32), np.repeat(np.arange(200), 3))
    assert adapt.train(wide, "m").dim == adapt.DEFAULT_DIM == 256
    assert adapt.train(wide, "m", dim=300).dim == 300
    groups, vectors = synthetic(n_groups=6)
    assert adapt.train(adapt.examples(ArticleVectors.from_groups(vectors), groups), "m").dim == DIM


def test_a_large_catalog_trains_on_a_sample_the_curators_groups_first():
    groups, vectors = synthetic(n_groups=40, per_group=3, photos=3)  # 120 articles, 360 photos
    av = ArticleVectors.from_groups(vectors)
    curated = {a: g for a, g in groups.items() if g < "style05"}  # 15 articles, 45 photos
    ex = adapt.examples(av, curated, max_photos=90)
    assert len(ex.vectors) <= 90 and ex.sources["groups"] == 15 and ex.sources["articles"] == 15
    again = adapt.examples(av, curated, max_photos=90)
    assert np.array_equal(ex.vectors, again.vectors)  # the same sample every time
    assert len(adapt.examples(av, curated).vectors) == 360  # below the cap: every photo


def test_training_can_be_cancelled():
    groups, vectors = synthetic(n_groups=10)
    ex = adapt.examples(ArticleVectors.from_groups(vectors), groups)
    calls = []
    with pytest.raises(adapt.Cancelled):
        adapt.fit_linear(
            ex, "m", epochs=50, should_cancel=lambda: len(calls) > 2, progress=lambda d, t, n: calls.append(d)
        )


def test_examples_use_groups_decisions_labels_and_articles():
    groups, vectors = synthetic(n_groups=4, per_group=2, photos=2)
    av = ArticleVectors.from_groups(vectors)
    ex = adapt.examples(
        av,
        groups={"g00-c0": "x", "g00-c1": "x"},
        same={"g01-c0": "d", "g01-c1": "d"},
        labels={"g02-c0": "tops", "g02-c1": "tops"},
        rejected={"g00-c0": {"g01-c0"}},
    )
    # labelled articles stay classes of their own (g02's and g03's four) and give the labels' hint
    assert ex.sources == {"groups": 2, "decisions": 2, "labels": 2, "articles": 4}
    assert ex.n_classes == 6 and len(ex.vectors) == 16
    assert ex.hint_vectors.shape == (2, DIM) and ex.n_hint_classes == 1
    group_x = ex.classes[av.rows_of(av.article_index("g00-c0")).start]  # rows follow the catalog's order
    group_d = ex.classes[4]  # g01-c0's first photo: the articles' photos come in catalog order
    assert ex.negatives == [tuple(sorted((int(group_x), int(group_d))))]


def test_labels_are_a_hint_that_keeps_search_following_look():
    """Articles of one label are not one product: ten styles share each label here. Learning from the labels
    must keep the styles apart about as well as learning from the articles' own photos alone; labels as
    classes of their own (approximated by a very large weight) lose a good part of that."""
    from desktop_app.core import evaluate as ev

    groups, vectors = synthetic(n_groups=40)
    av = ArticleVectors.from_groups(vectors)
    labels = {a: f"cat{int(g[5:]) % 4}" for a, g in groups.items()}

    def style_map(adapter) -> float:
        index, queries = ev.group_queries(adapter.apply_to(av), groups)
        return ev.score_queries(index, queries, ev.MethodSpec("greedy")).map

    own = style_map(adapt.train(adapt.examples(av), "m"))
    ex = adapt.examples(av, labels=labels)
    hinted = style_map(adapt.train(ex, "m"))
    as_classes = style_map(adapt.train(ex, "m", label_weight=100.0))
    assert hinted >= own - 0.03 and as_classes < hinted - 0.03, (own, hinted, as_classes)


def test_engine_adapter_on_off_restores_the_frozen_ranking(tmp_path, tiny_model, catalog_location):
    groups, vectors = synthetic(n_groups=12, per_group=2, photos=3)
    engine = make_catalog(catalog_location, vectors, tiny_model)
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("article,group\n" + "".join(f"{a},{g}\n" for a, g in groups.items()))
    query = Query.of_articles("g00-c0")
    frozen = [(h.article, round(h.score, 6)) for h in engine.similar(query).hits]
    adapter = engine.train_adapter(("groups",), csv_path, "whitening")
    assert engine.adapter_status()["active"]["id"] == adapter.id
    adapted = [(h.article, round(h.score, 6)) for h in engine.similar(query).hits]
    assert adapted != frozen and adapted[0][0] == "g00-c1"  # its group-mate first
    engine.use_adapter(False)
    assert [(h.article, round(h.score, 6)) for h in engine.similar(query).hits] == frozen  # exactly
    engine.use_adapter(True)
    assert engine.similar(query).hits[0].article == "g00-c1"
    ins = engine.inspect("g00-c0", "g00-c1")  # the inspector sees the adapted vectors too
    assert ins.results["greedy"].score == pytest.approx(engine.similar(query).hits[0].score, abs=1e-3)
    engine.close()


def test_cli_adapt_train_status_off_and_evaluate_json(tmp_path, tiny_model, capsys):
    groups, vectors = synthetic(n_groups=12, per_group=2, photos=3)
    db = tmp_path / "c.sqlite"
    make_catalog(db, vectors, tiny_model).close()
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("article,group\n" + "".join(f"{a},{g}\n" for a, g in groups.items()))
    assert (
        main(["adapt", "train", "--from", "groups", "--groups", str(csv_path), "--db", str(db), "--json"])
        == 0
    )
    trained = json.loads(capsys.readouterr().out)
    assert trained["active"] and trained["kind"] == "whitening"
    assert main(["adapt", "status", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"]["id"] == trained["id"]
    # In words: what taught it, counted in articles (it said "24 groups", and "1 labels").
    assert main(["adapt", "status", "--db", str(db)]) == 0
    assert "from 24 articles by groups" in capsys.readouterr().out
    assert main(["adapt", "off", "--db", str(db)]) == 0 and "frozen" in capsys.readouterr().out
    assert (
        main(["adapt", "evaluate", "--groups", str(csv_path), "--db", str(db), "--json", "--seed", "2"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"frozen", "adapted", "train_groups", "test_groups"}
    assert out["train_groups"] + out["test_groups"] == 12
    assert set(out["frozen"]["greedy"]) >= {"R@1", "mAP"}
    assert out["adapted"]["greedy"]["mAP"] > out["frozen"]["greedy"]["mAP"]
    assert main(["adapt", "on", "--db", str(db), "--id", "999"]) == 2


def test_photo_files_are_searched_in_the_adapted_space(photo_tree, tiny_model, tmp_path, catalog_location):
    """A query by photo files (not in the catalog's vectors) goes through the adapter like the catalog's own
    photos: a catalog photo asked by its file finds its own article at score 1, and its nearest photos."""
    from desktop_app.core.engine import index_photos

    index_photos(catalog_location, photo_tree, model=tiny_model)
    groups = tmp_path / "groups.csv"
    groups.write_text("article,group\nred,a\nshoes/blue,a\ngreen,b\n")
    with Engine.open(catalog_location, remember=False) as engine:
        engine.train_adapter(("groups",), groups, "whitening", dim=8)  # fewer dimensions than the model's
        photo = photo_tree / "green" / "p0.jpg"
        by_file = engine.similar(Query("files", files=[photo]))
        assert by_file.hits[0].article == "green" and by_file.hits[0].score == pytest.approx(1.0, abs=2e-3)
        nearest = engine.nearest_photos(Query("files", files=[photo]), top=1)
        # (the adapter, trained on three articles, brings the photos of one article together)
        assert nearest[0]["path"].startswith("green/") and nearest[0]["score"] == pytest.approx(1.0, abs=2e-3)
