"""Defects found in search by words and zero-shot labels, each through the real engine and CLI on the sample
photos indexed with a tiny CLIP model (CLIP's real vocabulary, random weights): the threshold s is set aside
(with a note) when words are mixed into photos; words that weigh 0 give the photo-only ranking exactly; an
adapter and cut texts are said; invisible text and ambiguous label names are refused; the JSON says null
where there is no query photo; zero-shot suggestions are checked for a text side first and can be accepted
from the command line as one undoable decision.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from desktop_app.cli import main as cli_main
from desktop_app.core.engine import Engine
from desktop_app.core.errors import InputError
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Query
from tests.conftest import SAMPLE_PHOTOS
from tests.test_text_search import bundled_catalog, clip_catalog  # noqa: F401 - fixtures

pytest.importorskip("torch")

INVISIBLE = "\u200b\ufeff\x01"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def ranking(outcome) -> list[tuple[str, float]]:
    return [(h.article, h.score) for h in outcome.hits]


# ---------------------------------------------------------------------------------------------- words and s


def test_threshold_is_set_aside_with_a_note_when_words_are_mixed_in(clip_catalog, capsys):  # noqa: F811
    with Engine.open(clip_catalog) as engine:
        with_s = SearchSettings("greedy", threshold=0.9, top_k=10)
        without = SearchSettings("greedy", threshold=None, top_k=10)
        query = Query.of_articles("mh01-gray").with_text("in black", 0.5)
        out = engine.similar(query, with_s)
        # the threshold zeroed every fused score before: now the ranking is the one without s
        assert ranking(out) == ranking(engine.similar(query, without))
        assert all(h.score > 0 for h in out.hits)
        assert out.params.threshold is None and out.threshold_unused == 0.9
        assert out.note.startswith("The threshold s (0.9) is not used with words: words mixed into")
        words_only = engine.similar(Query.of_text("in black"), with_s)
        assert words_only.threshold_unused == 0.9 and "another scale" in words_only.note
        photos_only = engine.similar(Query.of_articles("mh01-gray"), with_s)
        assert photos_only.params.threshold == 0.9 and photos_only.threshold_unused is None
    assert cli_main(["settings", "--threshold", "0.9", "--db", str(clip_catalog)]) == 0
    capsys.readouterr()
    argv = ["similar", "mh01-gray", "--text", "in black", "--top", "5", "--db", str(clip_catalog)]
    assert cli_main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "method greedy, top 5" in lines[0] and lines[1].startswith("The threshold s (0.9) is not used")
    scores = [float(line.split()[1]) for line in lines[2:]]
    assert len(scores) == 5 and all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert cli_main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["threshold"] is None and "not used with words" in data["note"]


def test_words_that_weigh_0_give_the_photo_only_ranking_exactly(clip_catalog, tmp_path):  # noqa: F811
    with Engine.open(clip_catalog) as engine:
        params = SearchSettings("greedy", threshold=0.5, top_k=33)
        for photo_query in (
            Query.of_articles("mh01-gray"),
            Query("files", files=[SAMPLE_PHOTOS / "m/h/mh01-gray_main.jpg"]),
        ):
            plain = engine.similar(photo_query, params)
            zero = engine.similar(photo_query.with_text("in black", 0.0), params)
            assert ranking(zero) == ranking(plain)
            assert zero.params == plain.params and zero.query.text == "in black"
            assert zero.note == "The words weigh 0, so this is the search by the photos alone."
            assert engine.nearest_photos(photo_query.with_text("in black", 0.0), 5) == engine.nearest_photos(
                photo_query, 5
            )
        with pytest.raises(InputError, match="Type some words"):
            engine.similar(Query.of_articles("mh01-gray").with_text(INVISIBLE, 0.0))


def adapter_on(engine: Engine, tmp_path: Path) -> None:
    """An adapter trained on the sample's styles (mh01-gray and mh01-black are one style), switched on."""
    groups = tmp_path / "styles.csv"
    with groups.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["article", "group"])
        for article in sorted(engine.catalog.article_keys()):
            writer.writerow([article, article.split("-")[0]])
    engine.train_adapter(("groups",), groups, "whitening", dim=8)


def test_with_an_adapter_words_say_they_use_the_frozen_vectors(clip_catalog, tmp_path, capsys):  # noqa: F811
    with Engine.open(clip_catalog) as engine:
        adapter_on(engine, tmp_path)
        assert engine.adapter() is not None
        query = Query.of_articles("mh01-gray")
        fused = engine.similar(query.with_text("in black", 0.5))
        assert "Learned similarity is on, but words are compared with the photos' own vectors" in fused.note
        assert "Learned similarity is on" in engine.similar(Query.of_text("in black")).note
        zero = engine.similar(query.with_text("in black", 0.0))  # the adapted photo-only ranking
        assert ranking(zero) == ranking(engine.similar(query)) and "Learned similarity" not in zero.note
    argv = ["similar", "mh01-gray", "--text", "in black", "--db", str(clip_catalog)]
    assert cli_main(argv) == 0
    assert "Learned similarity is on, but words" in capsys.readouterr().out
    assert cli_main([*argv, "--json"]) == 0
    assert "Learned similarity is on, but words" in json.loads(capsys.readouterr().out)["note"]


def test_long_texts_say_they_were_cut(clip_catalog, capsys):  # noqa: F811
    with Engine.open(clip_catalog) as engine:
        long = engine.similar(Query.of_text("a red hooded sweatshirt " * 20))
        assert "The words are longer than the model reads (77 tokens); the rest was cut." in long.note
        assert "cut" not in engine.similar(Query.of_text("a red hooded sweatshirt")).note


# ---------------------------------------------------------------------------------------------- text and JSON


def test_invisible_text_is_refused_like_empty_text(clip_catalog, capsys):  # noqa: F811
    with Engine.open(clip_catalog) as engine:
        for text in (INVISIBLE, "\u200b", "\ufeff \x01"):
            with pytest.raises(InputError, match="Type some words"):
                engine.similar(Query.of_text(text))
            with pytest.raises(InputError, match="Type some words"):
                engine.similar(Query.of_articles("mh01-gray").with_text(text, 0.5))
    assert cli_main(["similar", "--text", INVISIBLE, "--db", str(clip_catalog)]) == 2
    assert "Type some words" in one_line_error(capsys)
    assert cli_main(["similar", "mh01-gray", "--text", "\u200b", "--db", str(clip_catalog)]) == 2
    assert "--text is empty" in one_line_error(capsys)


def test_json_says_null_for_the_missing_query_photo_and_names_the_words(clip_catalog, capsys):  # noqa: F811
    assert cli_main(["similar", "--text", "gray", "--top", "3", "--json", "--db", str(clip_catalog)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["query_path"] for h in data["hits"] for p in h["pairs"]] == [None, None, None]
    argv = ["similar", "mh01-gray", "--text", "in black", "--text-weight", "0.25", "--photos", "--json"]
    assert cli_main([*argv, "--top", "2", "--db", str(clip_catalog)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == "in black" and data["text_weight"] == 0.25 and len(data["photos"]) == 2
    assert cli_main(["similar", "--text", "gray", "--photos", "--json", "--db", str(clip_catalog)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == "gray" and data["text_weight"] is None


# ---------------------------------------------------------------------------------------------- damaged models


def test_a_damaged_model_file_says_to_install_it_again(clip_catalog, clip_model, capsys):  # noqa: F811
    """ONNX Runtime's own words alone name no fix: each side says how to put its file back."""
    db = ["--db", str(clip_catalog)]
    clip_model.text_path.write_bytes(b"not an ONNX model " * 20)
    assert cli_main(["similar", "--text", "red hoodie", *db]) == 2
    err = one_line_error(capsys)
    assert "tiny-clip.text.onnx cannot be loaded" in err and "INVALID_PROTOBUF" in err, err
    # tiny-clip is no model of the zoo: its text side is imported again, not fetched
    assert "`lookalike models import TEXT.onnx --text-for tiny-clip --tokenizer tokenizer.json`" in err, err
    assert "models fetch" not in err, err
    photo = SAMPLE_PHOTOS / "m/h/mh01-gray_main.jpg"
    clip_model.onnx_path.write_bytes(b"not an ONNX model " * 20)
    assert cli_main(["similar", "--image", str(photo), *db]) == 2
    err = one_line_error(capsys)
    assert "tiny-clip.onnx cannot be loaded" in err and "lookalike models import" in err, err
    assert "--force" in err and "models fetch" not in err, err


def test_a_known_model_is_fetched_again_and_the_bundled_one_comes_with_the_app(clip_model):
    from desktop_app.core import zoo
    from desktop_app.core.models import BUNDLED_MODEL, resolve_model

    known = dataclasses.replace(
        clip_model, manifest=dataclasses.replace(clip_model.manifest, name="clip-vit-b32-int8")
    )
    for text in (False, True):
        assert (
            zoo.reinstall_hint(known, text=text)
            == "fetch it again: `lookalike models fetch clip-vit-b32-int8 --force`"
        )
    assert "reinstall Lookalike" in zoo.reinstall_hint(resolve_model(BUNDLED_MODEL))


# ---------------------------------------------------------------------------------------------- zero-shot


def test_zero_shot_checks_the_text_side_first(bundled_catalog, capsys):  # noqa: F811
    """The bundled catalog has no labels: the text side is what is missing, not the names."""
    for argv in (
        ["labels", "suggest", "--zero-shot"],
        ["labels", "suggest", "--zero-shot", "--field", ""],
        ["labels", "accept", "--zero-shot"],
    ):
        assert cli_main([*argv, "--db", str(bundled_catalog)]) == 2
        assert "efficientnet-lite0-imagenet has no text side" in one_line_error(capsys)


def test_zero_shot_label_names_are_checked(clip_catalog, capsys):  # noqa: F811
    db = ["--db", str(clip_catalog)]
    for labels, needle in (
        ("", "A label field needs a name; it is blank."),
        ("a,A", "The labels 'a' and 'A' differ only in case ('a', 'A'), which the model does not see"),
        ("bag=a bag,tote=A Bag", "The labels 'bag' and 'tote' differ only in case"),
        ("a=x,b=x", "The labels 'a' and 'b' are both said as 'x'"),
        ("a,a", "need at least two different label names; the names given hold 1 (a)."),
        ("a,\u200b", "The label name '\\u200b' has no visible characters"),
        ("a=\ufeff,b", "The label name '\\ufeff' has no visible characters"),
        (",, ,", "--labels names no label"),
    ):
        field = ["--field", ""] if not labels else ["--labels", labels]
        assert cli_main(["labels", "suggest", "--zero-shot", *field, *db]) == 2
        err = one_line_error(capsys)
        assert needle in err and "the field" not in err, err
    assert cli_main(["labels", "suggest", "--zero-shot", *db]) == 2
    assert "the field 'category' has 0" in one_line_error(capsys)
    with Engine.open(clip_catalog) as engine:
        # a field's own values that differ only in case are one label to the model: taken once
        engine.set_labels(["mh01-gray"], "kind", "Hoodie")
        engine.set_labels(["mh01-black"], "kind", "hoodie")
        engine.set_labels(["mb02-gray-0"], "kind", "bag")
        result = engine.zero_shot("kind")
        assert [c.value for c in result.choices] == ["bag", "Hoodie"]


def test_labels_accept_zero_shot_is_one_undoable_decision(clip_catalog, capsys):  # noqa: F811
    db = ["--db", str(clip_catalog)]
    names = "hoodie,pants=trousers,bag"
    with Engine.open(clip_catalog) as engine:
        engine.set_labels(["mh01-gray"], "category", "hoodie")  # labelled already: never overwritten
        suggestions = engine.zero_shot("category", names.split(","), ["a photo of a {}"]).suggestions
    cut = str(round(sorted(s.confidence for s in suggestions)[len(suggestions) // 2], 2))  # about half
    expected = {s.article: s.label for s in suggestions if s.confidence >= float(cut)}
    assert 0 < len(expected) < len(suggestions) and "mh01-gray" not in expected
    argv = ["labels", "accept", "--zero-shot", "--labels", names, "--prompt", "a photo of a {}"]
    assert cli_main([*argv, "--min-confidence", cut, *db]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Accepted {len(expected)} zero-shot suggestion") and "labels undo" in out
    with Engine.open(clip_catalog) as engine:
        labels = engine.field_labels("category")
    assert labels == {**expected, "mh01-gray": "hoodie"}
    assert cli_main(["labels", "undo", *db]) == 0
    assert f"Undid one accept decision on {len(expected)} articles." in capsys.readouterr().out
    with Engine.open(clip_catalog) as engine:
        assert engine.field_labels("category") == {"mh01-gray": "hoodie"}
    assert cli_main(["labels", "accept", "--labels", "a,b", *db]) == 2
    assert "belong to --zero-shot" in one_line_error(capsys)
    assert cli_main(["labels", "accept", "--zero-shot", "--labels", "a,b", "--json", *db]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"accepted", "conflicts"}
