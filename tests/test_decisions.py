"""Match decisions: same product / look-alike / not a match, remembered by the search, the labels and the
evaluation, undoable, shared as CSV, and never lost once reported (a SIGKILL test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from desktop_app.cli import main
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import Conflict, InputError
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Query
from tests.conftest import REPO


@pytest.fixture
def engine(catalog_location, photo_tree, tiny_model):
    index_photos(catalog_location, photo_tree, model=tiny_model)
    with Engine.open(catalog_location) as e:
        yield e


def test_decisions_shape_search_and_survive_reindexing(engine, photo_tree, tiny_model, catalog_location):
    before = [h.article for h in engine.similar(Query.of_articles("red")).hits]
    assert set(before) == {"green", "shoes/blue"}
    engine.decide("red", "green", "not_match", note="other colour family")
    engine.decide("shoes/blue", "red", "same")
    out = engine.similar(Query.of_articles("red"))
    assert [(h.article, h.decision) for h in out.hits] == [("shoes/blue", "same")]  # not a match: hidden
    shown = engine.similar(Query.of_articles("red"), show_rejected=True)
    assert {h.article: h.decision for h in shown.hits} == {"green": "not_match", "shoes/blue": "same"}
    assert engine.same_product_groups()["red"] == engine.same_product_groups()["shoes/blue"]
    index_photos(catalog_location, photo_tree, model=tiny_model, options=None)  # decisions are about articles
    assert {r["article_b"]: r["decision"] for r in engine.decisions()} == {
        "red": "not_match",
        "shoes/blue": "same",
    }
    assert engine.decisions()[0]["note"] == "other colour family" and engine.decisions()[0]["curator"]
    with pytest.raises(InputError):
        engine.decide("red", "nope", "same")
    with pytest.raises(InputError):
        engine.decide("red", "red", "same")


def test_a_photo_query_of_one_article_carries_its_decisions(engine, photo_tree, capsys):
    engine.decide("red", "green", "not_match")
    engine.decide("red", "shoes/blue", "alike")
    red = engine.catalog.photos_of("red")[0]
    files = [photo_tree / r.path for r in engine.catalog.photos_of("red")]
    for query in (Query("photo", ["red"], photo_id=red.id, photo_path=red.path), Query("files", files=files)):
        out = engine.similar(query)
        assert out.query_article == "red" and out.hidden == 1
        assert {h.article: h.decision for h in out.hits if h.article != "red"} == {"shoes/blue": "alike"}
        shown = engine.similar(query, show_rejected=True)
        assert {h.article: h.decision for h in shown.hits}.get("green") == "not_match" and shown.hidden == 0
    # Photos of two articles, or from outside the photo folder, are about no one article: nothing is hidden.
    two = [files[0], photo_tree / engine.catalog.photos_of("green")[0].path]
    out = engine.similar(Query("files", files=two))
    assert out.query_article is None and out.hidden == 0 and "green" in {h.article for h in out.hits}
    # The command line's photo query gets the same.
    assert main(["similar", "--image", *map(str, files), "--json", "--db", str(engine.location)]) == 0
    hits = {h["article"]: h["decision"] for h in json.loads(capsys.readouterr().out)["hits"]}
    assert "green" not in hits and hits["shoes/blue"] == "alike"


def test_undo_and_a_newer_decision(engine):
    engine.decide("red", "green", "alike")
    engine.decide("red", "green", "same")
    assert [r["decision"] for r in engine.decisions()] == ["same"]
    assert len(engine.undo_decision()) == 1
    assert [r["decision"] for r in engine.decisions()] == ["alike"]
    engine.decide("red", "green", "none")  # taken back: no current decision
    assert engine.decisions() == []
    with pytest.raises(Conflict):
        engine.decide("red", "green", "same", expected="alike")  # the curator saw "alike", it is gone now
    engine.undo_decision()
    engine.undo_decision()
    assert engine.decisions() == [] and engine.undo_decision() == []


def test_decisions_round_trip_as_csv(engine, tmp_path, capsys):
    engine.decide("red", "green", "not_match")
    engine.decide("red", "shoes/blue", "same")
    path = tmp_path / "decisions.csv"
    assert engine.export_decisions(path) == 2
    assert path.read_text().splitlines()[0] == "article_a,article_b,decision,note,curator,at"
    engine.undo_decision()
    engine.undo_decision()
    assert engine.import_decisions(path).imported == 2
    assert {(r["article_a"], r["article_b"], r["decision"]) for r in engine.decisions()} == {
        ("green", "red", "not_match"),
        ("red", "shoes/blue", "same"),
    }
    assert len(engine.undo_decision()) == 2  # an import is one step
    bad = tmp_path / "bad.csv"
    bad.write_text("article_a,article_b,decision\nred,green,maybe\n")
    with pytest.raises(InputError, match="unknown decision"):
        engine.import_decisions(bad)


def test_not_a_match_neighbours_do_not_vote(engine):
    engine.set_labels(["green"], "category", "tops")
    engine.set_labels(["shoes/blue"], "category", "shoes")
    votes = {n.article for n in engine.suggest("category", k=2)[0].neighbours}
    assert votes == {"green", "shoes/blue"}
    engine.decide("red", "green", "not_match")
    (s,) = engine.suggest("category", k=2)
    assert {n.article for n in s.neighbours} == {"shoes/blue"} and s.label == "shoes"


def test_cli_similar_text_shows_decisions_hidden_articles_and_nearest_photos(engine, capsys):
    db = str(engine.location)
    engine.decide("red", "green", "not_match")
    engine.decide("red", "shoes/blue", "alike")
    assert main(["similar", "red", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Similar to red: method greedy")
    assert "1 article decided 'not a match' with the query left out (--show-rejected shows them)." in lines
    (hit,) = [line for line in lines if "shoes/blue" in line]
    assert hit.startswith("  1. ") and "best pair " in hit and hit.endswith(" [look-alike]")
    assert main(["similar", "red", "--show-rejected", "--db", db]) == 0
    assert any(line.endswith(" [not a match]") for line in capsys.readouterr().out.splitlines())
    assert main(["similar", "red", "--photos", "--top", "2", "--db", db]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and all(float(r[0]) <= 1 and r[2].endswith(".jpg") for r in rows)


def test_cli_decide_list_json_and_similar_json(engine, capsys):
    db = str(engine.location)
    assert main(["decide", "red", "green", "--same", "--note", "twins", "--db", db]) == 0
    assert "same product" in capsys.readouterr().out
    assert main(["decide", "--list", "--json", "--db", db]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["article_a"], row["article_b"], row["decision"], row["note"]) == (
        "green",
        "red",
        "same",
        "twins",
    )
    assert main(["similar", "--article", "red", "--json", "--db", db]) == 0
    hits = {h["article"]: h["decision"] for h in json.loads(capsys.readouterr().out)["hits"]}
    assert hits == {"green": "same", "shoes/blue": None}
    assert main(["decide", "red", "--same", "--db", db]) == 2  # one article: a one-line message
    assert main(["decide", "--undo", "--db", db]) == 0


def test_cli_decide_refuses_what_an_action_would_ignore_and_lists_one_articles_decisions(engine, capsys):
    db = str(engine.location)
    engine.decide("red", "green", "same")
    engine.decide("red", "shoes/blue", "alike")
    capsys.readouterr()
    refused = [
        (["--undo", "red", "green"], "decide A B --clear"),  # it undid another pair's decision
        (["--export", "x.csv", "red"], "takes no article names"),
        (["--list", "--note", "n"], "--note goes with a decision"),
        (["--undo", "--note", "n"], "--note goes with a decision"),
        (["red", "green", "--clear", "--note", "n"], "--note goes with a decision"),
        (["--list", "--force"], "changes nothing"),
        (["--list", "nope"], "no article 'nope'"),
    ]
    for argv, needle in refused:
        assert main(["decide", *argv, "--db", db]) == 2, argv
        assert needle in capsys.readouterr().err, argv
    assert {(r["article_a"], r["article_b"]) for r in engine.decisions()} == {
        ("green", "red"),
        ("red", "shoes/blue"),
    }  # nothing was undone
    assert main(["decide", "--list", "green", "--json", "--db", db]) == 0
    assert [(r["article_a"], r["article_b"]) for r in json.loads(capsys.readouterr().out)] == [
        ("green", "red")
    ]
    assert main(["decide", "--list", "red", "--json", "--db", db]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_evaluate_and_tune_on_same_product_decisions(engine, capsys):
    db = str(engine.location)
    assert main(["evaluate", "--decisions", "--db", db]) == 2  # none yet: says how to make some
    assert "lookalike decide" in capsys.readouterr().err
    engine.decide("red", "shoes/blue", "same")
    engine.update_settings(search=SearchSettings("hungarian", None, 2, 20))  # ties with the best
    assert main(["tune", "--decisions", "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"]["queries"] == 2 and out["best"]["map"] >= 0.5  # the two are each other's answer
    # Two queries tie many settings and choose none: nothing is stored, and a tie keeps the current setting.
    assert not out["stored"] and engine.settings().search.method == "hungarian"
    assert main(["tune", "--decisions", "--db", db]) == 0
    assert "Not stored: too few queries (2)" in capsys.readouterr().out
    assert (out["best"]["method"], out["best"]["threshold"], out["best"]["max_matches"]) == (
        "hungarian",
        None,
        2,
    )


KILLED = r"""
import sys
from desktop_app.core.engine import Engine
engine = Engine.open(sys.argv[1], remember=False)
pairs = [("red", "green"), ("red", "shoes/blue"), ("green", "shoes/blue")]
kinds = ["same", "alike", "not_match"]
i = 0
while True:
    a, b = pairs[i % 3]
    ident = engine.decide(a, b, kinds[(i // 3) % 3], note=str(i))
    print(ident, flush=True)
    i += 1
"""


def test_no_reported_decision_is_lost_when_killed(catalog_location, photo_tree, tiny_model):
    index_photos(catalog_location, photo_tree, model=tiny_model)
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED, str(catalog_location)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ},
        )
        reported = []
        for line in proc.stdout:
            reported.append(int(line))
            if len(reported) >= 20 + 7 * attempt:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
        with Engine.open(catalog_location, remember=False) as engine:
            ids = {r["id"] for r in engine.catalog.decision_log(10_000)}
            assert set(reported) <= ids  # every decision reported done is there
            assert len(ids) == len(set(ids))


def test_decisions_that_contradict_their_groups_are_named_and_count_neither_way(engine, capsys, monkeypatch):
    from desktop_app.core.engine import DECISION_GROUPS

    db = str(engine.location)
    engine.decide("red", "green", "same")
    engine.decide("green", "shoes/blue", "same")
    engine.decide("red", "shoes/blue", "not_match")  # the chain says they are one product
    index, queries = engine.evaluation_queries(DECISION_GROUPS)
    names = index.av.articles
    by_query = {names[q.exclude[0]]: q for q in queries}
    assert {names[i] for i in by_query["red"].relevant} == {"green"}
    assert {names[i] for i in by_query["red"].exclude} == {"red", "shoes/blue"}  # not ranked either
    assert {names[i] for i in by_query["green"].relevant} == {"red", "shoes/blue"}
    assert main(["evaluate", "--decisions", "--db", db, "--json"]) == 0
    note = json.loads(capsys.readouterr().out)["note"]
    assert note.startswith("1 'not a match' pair falls inside a same-product group (e.g. red / shoes/blue")
    assert main(["tune", "--decisions", "--db", db]) == 0
    assert "joined through green" in capsys.readouterr().out
    # A group holding most decided articles is refused, in one line that says what to do.
    monkeypatch.setattr("desktop_app.core.decision_groups.SUSPECT_GROUP", 3)
    assert main(["evaluate", "--decisions", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "join 3 of the 3 decided articles" in err and "decide --list" in err
    # Nor does such a group teach an adapter.
    assert main(["adapt", "train", "--db", db, "--from", "decisions"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot teach an adapter" in err
