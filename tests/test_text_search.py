"""Search by words, words mixed into photo queries, and zero-shot labels, through the real engine and CLI on
the bundled Magento sample photos indexed with a tiny CLIP model (random weights: the rankings mean nothing,
so every check compares the engine with an independent computation, or with a property that must hold)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax

from desktop_app.cli import main as cli_main
from desktop_app.core import zero_shot as zs
from desktop_app.core.engine import Engine
from desktop_app.core.errors import InputError, ModelError
from desktop_app.core.filter_text import SearchFilter
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Query
from tests.conftest import SAMPLE_PHOTOS, index_sample
from tests.test_text_models import torch_text_vectors

pytest.importorskip("torch")


@pytest.fixture
def clip_catalog(clip_model, tmp_path):
    return index_sample(tmp_path / "catalog.sqlite", "tiny-clip")


@pytest.fixture
def bundled_catalog(tmp_path):
    return index_sample(tmp_path / "bundled.sqlite", "efficientnet-lite0-imagenet")


def photo_matrix(engine: Engine):
    av = engine.frozen_vectors()
    return av, [np.asarray(av.vectors[av.rows_of(i)]) for i in range(av.n_articles)]


# ---------------------------------------------------------------------------------------------- words alone


def test_search_by_words_scores_each_article_by_its_best_photo(clip_catalog, tiny_clip_export):
    words = "red hooded sweatshirt"
    t = torch_text_vectors(tiny_clip_export["checkpoint"], [words])[0]
    with Engine.open(clip_catalog) as engine:
        engine.update_search(method="greedy", threshold=0.7, top_k=10)
        out = engine.similar(Query.of_text(words))
        av, photos = photo_matrix(engine)
    best = np.array([(p @ t).max() for p in photos])
    expected = np.argsort(-best, kind="stable")[:10]
    assert [h.article for h in out.hits] == [av.articles[i] for i in expected]
    for h in out.hits:
        assert h.score == pytest.approx(best[av.article_index(h.article)], abs=2e-4)
        assert h.pairs[0].sim == pytest.approx(h.score, abs=1e-6) and h.pairs[0].query_path == ""
        assert h.pairs[0].path in [av.paths[r] for r in range(*av.rows_of(h.index).indices(len(av.paths)))]
    # s is photo-to-photo: left out for words, and said so
    assert out.params.threshold is None and "threshold s (0.7) is not used with words" in out.note
    assert out.query.title() == "Articles matching “red hooded sweatshirt”"


def test_centroid_method_scores_words_against_the_article_centroid(clip_catalog, tiny_clip_export):
    t = torch_text_vectors(tiny_clip_export["checkpoint"], ["yoga"])[0]
    with Engine.open(clip_catalog) as engine:
        out = engine.similar(Query.of_text("yoga"), SearchSettings("centroid", top_k=5))
        av, photos = photo_matrix(engine)
    centroids = np.array([p.mean(axis=0) / np.linalg.norm(p.mean(axis=0)) for p in photos])
    expected = np.argsort(-(centroids @ t), kind="stable")[:5]
    assert [h.article for h in out.hits] == [av.articles[i] for i in expected]


def test_words_use_the_same_filters(clip_catalog):
    with Engine.open(clip_catalog) as engine:
        engine.set_labels(["mh01-gray", "wb01-gray"], "category", "tops")
        hits = engine.similar(Query.of_text("gray"), label="category=tops").hits
        assert sorted(h.article for h in hits) == ["mh01-gray", "wb01-gray"]
        folder = engine.similar(Query.of_text("gray"), folder="w/b").hits
        assert folder and all(h.cover.startswith("w/b/") for h in folder)
        photos = engine.nearest_photos(Query.of_text("gray"), 5)
        assert len(photos) == 5 and photos[0]["score"] >= photos[-1]["score"]
        # the filter text the app's grid holds is the same filter, carried by the query
        typed = engine.similar(Query.of_text("gray", SearchFilter.of_text("label:tops folder:w/b")))
        assert [h.article for h in typed.hits] == ["wb01-gray"]
        assert typed.query.title() == "Articles matching “gray” · label category=tops · folder w/b"


def test_the_command_line_says_which_filter_applied(clip_catalog, capsys):
    with Engine.open(clip_catalog) as engine:
        engine.set_labels(["mh01-gray", "wb01-gray"], "category", "tops")
    argv = ["similar", "--text", "gray", "--label", "tops", "--folder", "m/h", "--db", str(clip_catalog)]
    assert cli_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Articles matching “gray” · label category=tops · folder m/h:")
    assert [line.split()[2] for line in lines if line[:4].strip().rstrip(".").isdigit()] == ["mh01-gray"]


def test_filter_text_terms_become_the_searchs_filters():
    f = SearchFilter.of_text("shirt label:colour=red label:bags label:colour=blue folder:w/b folder:m id:x")
    assert f.label() == {"colour": "red", "category": "bags"} and f.folder == "w/b"
    assert f.left_out == ("shirt", "label:colour=blue", "folder:m", "id:x")
    assert "'shirt', 'label:colour=blue', 'folder:m', 'id:x' are not applied to the search" in f.note()
    assert not SearchFilter.of_text("  ") and SearchFilter.of_text("id:x")
    assert SearchFilter.of_options("colour=red", None).label() == {"colour": "red"}
    assert SearchFilter.of_options("bags", "") == SearchFilter((("category", "bags"),))


def test_empty_or_huge_text_is_an_input_error(clip_catalog):
    with Engine.open(clip_catalog) as engine:
        with pytest.raises(InputError, match="Type some words"):
            engine.similar(Query.of_text("   "))
        with pytest.raises(InputError, match="up to 1000"):
            engine.similar(Query.of_text("x" * 1001))


# ---------------------------------------------------------------------------------------------- words with photos


def test_words_mixed_into_an_article_query(clip_catalog, tiny_clip_export):
    words, w = "but in black", 0.4
    t = torch_text_vectors(tiny_clip_export["checkpoint"], [words])[0]
    with Engine.open(clip_catalog) as engine:
        params = SearchSettings("max", top_k=8)
        out = engine.similar(Query.of_articles("mh01-gray").with_text(words, w), params)
        plain = engine.similar(Query.of_articles("mh01-gray"), params)
        zero = engine.similar(Query.of_articles("mh01-gray").with_text(words, 0.0), params)
        only_words = engine.similar(Query.of_articles("mh01-gray").with_text(words, 1.0), params)
        av, photos = photo_matrix(engine)
    q = photos[av.article_index("mh01-gray")]
    fused = (1 - w) * q + w * t
    fused /= np.linalg.norm(fused, axis=1, keepdims=True)
    best = np.array([(fused @ p.T).max() for p in photos])
    best[av.article_index("mh01-gray")] = -np.inf  # the query's own article is never a result
    expected = np.argsort(-best, kind="stable")[:8]
    assert [h.article for h in out.hits] == [av.articles[i] for i in expected]
    assert [h.article for h in zero.hits] == [h.article for h in plain.hits]  # weight 0: the photos alone
    words_alone = [h.article for h in engine_like_text(clip_catalog, words, 9) if h.article != "mh01-gray"][
        :8
    ]
    assert [h.article for h in only_words.hits] == words_alone  # weight 1: the words alone
    assert out.query.title() == "Similar to mh01-gray + “but in black” (40%)"
    assert all(p.query_path.startswith("m/h/mh01-gray") for h in out.hits for p in h.pairs)


def engine_like_text(db, words: str, k: int):
    with Engine.open(db) as engine:
        return engine.similar(Query.of_text(words), SearchSettings("max", top_k=k)).hits


def test_words_mixed_into_a_photo_and_files_keep_decisions(clip_catalog, tmp_path):
    with Engine.open(clip_catalog) as engine:
        plain = engine.similar(Query.of_articles("mh01-gray").with_text("black", 0.3))
        engine.decide("mh01-gray", plain.hits[0].article, "not_match")
        again = engine.similar(Query.of_articles("mh01-gray").with_text("black", 0.3))
        assert plain.hits[0].article not in [h.article for h in again.hits]
        photo = engine.catalog.photos_of("mh01-gray")[0]
        by_photo = engine.similar(
            Query("photo", ["mh01-gray"], photo_id=photo.id, photo_path=photo.path).with_text("red")
        )
        assert "mh01-gray" not in [h.article for h in by_photo.hits]
        files = engine.similar(
            Query("files", files=[SAMPLE_PHOTOS / "m/h/mh01-gray_main.jpg"]).with_text("red", 0.5)
        )
        assert files.hits[0].pairs[0].query_path.endswith("mh01-gray_main.jpg")
        with pytest.raises(InputError, match="between 0 and 1"):
            engine.similar(Query.of_articles("mh01-gray").with_text("red", 1.5))


# ---------------------------------------------------------------------------------------------- the CLI


def test_cli_similar_by_words_and_with_words(clip_catalog, capsys):
    assert (
        cli_main(["similar", "--text", "red hooded sweatshirt", "--top", "3", "--db", str(clip_catalog)]) == 0
    )
    out = capsys.readouterr().out
    assert (
        out.startswith("Articles matching “red hooded sweatshirt”: method") and out.count("best photo") == 3
    )
    assert (
        cli_main(
            [
                "similar",
                "--article",
                "mh01-gray",
                "--text",
                "but in black",
                "--text-weight",
                "0.3",
                "--json",
                "--db",
                str(clip_catalog),
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == "but in black" and data["text_weight"] == 0.3 and data["hits"]
    assert "mh01-gray" not in [h["article"] for h in data["hits"]]
    assert (
        cli_main(["similar", "--text", "gray", "--photos", "--top", "2", "--json", "--db", str(clip_catalog)])
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["photos"]) == 2
    for argv, message in (
        (["--text-weight", "0.3", "--text", "x"], "--text-weight mixes words into photos"),
        ([], "Say what to search for"),
        (["--article", "mh01-gray", "--text", " "], "--text is empty"),
    ):
        assert cli_main(["similar", *argv, "--db", str(clip_catalog)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        cli_main(["similar", "--text", "x", "--text-weight", "2", "--db", str(clip_catalog)])
    assert exit_.value.code == 2 and "--text-weight must be between 0 and 1" in capsys.readouterr().err


def test_the_bundled_model_says_it_has_no_text_side_in_one_line(bundled_catalog, capsys):
    line = (
        "efficientnet-lite0-imagenet has no text side; install a CLIP model: lookalike models fetch "
        "clip-vit-b32-int8 (and index the catalog with it)"
    )
    for argv in (
        ["similar", "--text", "red"],
        ["similar", "--article", "mh01-gray", "--text", "red"],
        ["labels", "suggest", "--zero-shot", "--labels", "a,b"],
    ):
        assert cli_main([*argv, "--db", str(bundled_catalog)]) == 2
        assert capsys.readouterr().err == f"lookalike: {line}\n"
    with Engine.open(bundled_catalog) as engine:
        assert engine.text_problem() == line
        with pytest.raises(ModelError):
            engine.zero_shot("category", ["a", "b"])
        assert engine.zero_shot_review("category", ["a", "b"]) is None  # the queue keeps its own suggestions


# ---------------------------------------------------------------------------------------------- zero-shot


def test_zero_shot_picks_the_label_with_the_highest_mean_logit(clip_catalog, tiny_clip_export):
    names = ["hoodie", "pants", "bag", "watch=a wrist watch"]
    prompts = ["a product photo of {}", "a photo of a {}"]
    with Engine.open(clip_catalog) as engine:
        result = engine.zero_shot("category", names, prompts)
        av, photos = photo_matrix(engine)
        scale = engine.text_encoder().logit_scale
    words = ["hoodie", "pants", "bag", "a wrist watch"]
    t = torch_text_vectors(tiny_clip_export["checkpoint"], [p.format(w) for w in words for p in prompts])
    labels = t.reshape(4, 2, -1).mean(axis=1)
    labels /= np.linalg.norm(labels, axis=1, keepdims=True)
    assert (
        result.calibration is None
        and "not calibrated: no labelled article has one of these" in result.describe()
    )
    assert len(result.suggestions) == av.n_articles
    for s in result.suggestions:
        probs = softmax((scale * photos[av.article_index(s.article)] @ labels.T).mean(axis=0))
        assert s.label == ["hoodie", "pants", "bag", "watch"][int(np.argmax(probs))]
        assert s.confidence == pytest.approx(probs.max(), abs=2e-3)
        assert len(s.alternatives) == 3 and s.alternatives[0] == (s.label, s.confidence)
    assert [s.confidence for s in result.suggestions] == sorted(
        (s.confidence for s in result.suggestions), reverse=True
    )


def test_zero_shot_calibrates_on_labelled_articles_and_feeds_the_review_queue(clip_catalog):
    with Engine.open(clip_catalog) as engine:
        articles = sorted(engine.catalog.article_keys())
        with pytest.raises(InputError, match="at least two different label names"):
            engine.zero_shot("category")
        engine.set_labels(articles[:4], "category", "tops")
        engine.set_labels(articles[4:8], "category", "bottoms")
        result = engine.zero_shot("category")  # the labels the field has
        assert [c.value for c in result.choices] == ["bottoms", "tops"]
        assert result.calibration is not None and result.calibration.n == 8
        assert "calibrated on 8 labelled articles" in result.describe()
        assert {s.article for s in result.suggestions} == set(articles[8:])
        review = engine.review("category")
        assert review.note == result.describe() and review.labelled == 8
        assert {s.article for s in review.suggestions} == set(articles[8:])
        assert set(review.photos) == set(articles[8:])
        first = review.suggestions[0].article
        assert review.photos[first][0] in [p.path for p in engine.catalog.photos_of(first)]
        engine.set_labels(articles[8:20], "category", "tops")  # 20 labelled: neighbours take over
        assert engine.review("category").note == ""
        # names given by the curator still ask for zero-shot
        assert engine.review("category", zero_shot_labels=["tops", "bottoms", "bags"]).note.startswith(
            "zero-shot from 3"
        )
        with pytest.raises(InputError, match="must hold"):
            engine.zero_shot("category", ["a", "b"], ["no placeholder"])


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 5))
    true_t = 2.5
    p = softmax(logits / true_t, axis=1)
    truth = np.array([rng.choice(5, p=row) for row in p])
    assert zs.fit_temperature(logits, truth) == pytest.approx(true_t, rel=0.08)
    cal = zs.calibrate(logits, truth)
    # calibrated: mean confidence close to accuracy; raw CLIP scale is overconfident here
    assert abs(cal.mean_confidence - cal.accuracy) < 0.02 < cal.mean_confidence_raw - cal.accuracy
    # with five examples, the prior keeps the temperature moderate instead of extreme
    assert 0.2 < zs.fit_temperature(logits[:5], logits[:5].argmax(axis=1)) < 1.0


def test_cli_labels_suggest_zero_shot(clip_catalog, capsys):
    assert (
        cli_main(
            [
                "labels",
                "suggest",
                "--zero-shot",
                "--labels",
                "hoodie,pants=trousers",
                "--min-confidence",
                "0.99",
                "--db",
                str(clip_catalog),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("zero-shot from 2 label names (CLIP, prompt “a product photo of {}”)")
    assert len(lines) == 34 and all(
        ("hoodie" in x or "pants" in x or "(no suggestion)" in x) for x in lines[1:]
    )
    # each label with its own evidence, its words' similarity to the photos; no neighbours voted
    assert all(x.count("(sim ") == 2 and "/" not in x for x in lines[1:]), lines[1]
    assert (
        cli_main(
            [
                "labels",
                "suggest",
                "--zero-shot",
                "--labels",
                "a,b",
                "--prompt",
                "{} on a shelf",
                "--json",
                "--db",
                str(clip_catalog),
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["prompts"] == ["{} on a shelf"] and data["labels"][0] == {"value": "a", "words": "a"}
    first = data["suggestions"][0]
    assert set(first["similarities"]) == {"a", "b"} and first["neighbours"] == []
    assert cli_main(["labels", "suggest", "--labels", "a,b", "--db", str(clip_catalog)]) == 2
    assert "belong to --zero-shot" in capsys.readouterr().err


def test_the_text_search_benchmark_runs_end_to_end(clip_model, tmp_path, capsys):
    """benchmarks/text_search_eval.py on the bundled sample with the tiny model (its figures mean nothing)."""
    import importlib.util

    from tests.conftest import REPO, SAMPLE

    spec = importlib.util.spec_from_file_location(
        "text_search_eval", REPO / "benchmarks" / "text_search_eval.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "figures.json"
    assert (
        bench.main(["--model", "tiny-clip", "--data", str(SAMPLE), "--weights", "0.5", "--json", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "| mean over" in printed and "ARTICLE + a colour word" in printed
    figures = json.loads(out.read_text())
    assert figures["model"] == "tiny-clip" and set(figures["categories"]) >= {"men-hoodies", "bags"}
    assert all(0 <= v["r_at_10"] <= 1 for v in figures["categories"].values())
    colour = figures["colour"]
    assert colour["queries"] > 0 and set(colour) == {
        "queries",
        "without the word",
        "with the word, weight 0.5",
    }
