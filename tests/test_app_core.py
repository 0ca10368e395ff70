"""Core pieces the app's curator tools stand on: the results table, what Undo would take back, a redo of
decisions with conflict checks, photo-count order, and shared-catalog URLs without their passwords."""

from __future__ import annotations

import csv

import pytest

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import Conflict, InputError
from desktop_app.core.overview import catalog_title, load_snapshot
from desktop_app.core.similar import Query, results_text, write_results_csv
from desktop_app.core.storage.backend import split_password


@pytest.fixture
def engine(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db, remember=False) as e:
        yield e


def test_results_as_csv_and_clipboard_text(engine, tmp_path):
    engine.set_labels(["green"], "category", "=cmd()")  # a formula in a label must stay text in a spreadsheet
    engine.decide("red", "green", "alike")
    outcome = engine.similar(Query.of_articles("red"))
    out = tmp_path / "results.csv"
    assert write_results_csv(outcome, out) == len(outcome.hits)
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["rank", "article", "score", "decision", "labels", "pairs"]
    green = next(r for r in rows[1:] if r[1] == "green")
    assert green[3] == "alike" and green[4] == "category==cmd()" and " > green/" in green[5]
    text = results_text(outcome).splitlines()
    assert text[0].split("\t")[1] == "article" and len(text) == 1 + len(outcome.hits)
    with pytest.raises(InputError):
        write_results_csv(outcome, tmp_path / "missing" / "x.csv")


def test_what_undo_takes_back_and_a_redo_of_decisions(engine):
    engine.set_labels(["red", "green"], "category", "tops")
    summary = engine.last_label_summary()
    assert summary["events"] == summary["articles"] == 2 and summary["first"]["new_value"] == "tops"
    engine.import_labels(folder_level=1, field="kind")  # a bulk import: counted, never read event by event
    summary = engine.last_label_summary()
    assert summary["first"]["action"] == "import" and summary["events"] == summary["articles"] >= 1
    engine.decide("red", "green", "same")
    assert engine.last_match_decision()["decision"] == "same"
    undone = engine.undo_decision()
    assert engine.decisions_with(["red"]) == {} and engine.last_match_decision() is None
    engine.decide_pairs(
        [(r["article_a"], r["article_b"], r["decision"]) for r in undone], {("red", "green"): None}
    )
    assert engine.decisions_with(["red"]) == {"green": "same"}
    engine.undo_decision()
    engine.catalog.decide([("green", "red", "not_match")], curator="anna")  # someone decided meanwhile
    with pytest.raises(Conflict) as info:
        engine.decide_pairs([("red", "green", "same")], {("red", "green"): None})
    assert info.value.conflicts[0]["curator"] == "anna"
    assert engine.decisions_with(["red"]) == {"green": "not_match"}


def test_sort_by_photo_count_and_catalog_names(engine):
    snap = load_snapshot(engine)
    order = [snap.articles.keys[i] for i in snap.articles.orders["photos"]]
    assert order[0] == "red"  # three photos; the others have two
    assert snap.title == "c" and snap.location == str(engine.path)
    assert catalog_title("postgresql+psycopg://anna@server:5432/luma") == "luma on server:5432"


def test_a_password_in_a_shared_catalogs_url_is_split_off():
    url, password = split_password("postgresql+psycopg://anna:s3cret@server:5432/luma", "EXAMPLE")
    assert (
        password == "s3cret" and "s3cret" not in url and url == "postgresql+psycopg://anna@server:5432/luma"
    )
    assert split_password("postgresql+psycopg://anna@server/luma", "EXAMPLE")[1] is None
    for bad in ("not a url", "mysql://x@y/z", "postgresql+psycopg://anna@server:abc/luma"):
        with pytest.raises(InputError):
            split_password(bad, "EXAMPLE")


def test_a_malformed_database_url_is_the_users_input_everywhere():
    from desktop_app.core.storage.backend import (
        backend_for,
        parse_db_url,
        url_title,
        url_user,
        without_password,
    )

    # SQLAlchemy says ArgumentError for no URL at all, ValueError for a port that is not a number.
    for bad in (
        "postgresql+psycopg://anna@server:abc/luma",
        "postgresql+psycopg://anna@server:/luma",
        "::/x",
    ):
        with pytest.raises(InputError, match="is not a database URL"):
            parse_db_url(bad)
        # Where a URL is only shown or remembered, a malformed one stays as it was typed.
        assert without_password(bad) == bad and url_title(bad) == bad
    with pytest.raises(InputError, match="USER@HOST:PORT/DATABASE"):
        backend_for("postgresql+psycopg://anna@server:abc/luma")
    assert url_user("postgresql+psycopg://anna@server:abc/luma") is None
    assert url_user("postgresql+psycopg://anna:pw@server/luma") == "anna"
    assert (
        without_password("postgresql+psycopg://anna:pw@server/luma")
        == "postgresql+psycopg://anna@server/luma"
    )


def test_a_catalog_made_for_a_folder_is_named_after_the_folder(tmp_path, monkeypatch):
    from desktop_app.core.paths import default_catalog_path

    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path / "home"))
    db = default_catalog_path(tmp_path / "spring photos")
    assert db.stem != "spring photos"  # the file carries a hash of the folder's path
    assert catalog_title(db, tmp_path / "spring photos") == "spring photos"
    assert catalog_title(db) == "spring_photos"  # without the folder at hand: the file's part of it
    assert catalog_title(tmp_path / "cat.db") == "cat"  # a file the curator named keeps its name
    assert (
        catalog_title(tmp_path / "shoes-0123456789.sqlite") == "shoes-0123456789"
    )  # only in the app's place


def test_a_photos_place_in_the_catalog_through_a_symlinked_photo_folder(tmp_path):
    from desktop_app.core.paths import relative_to_root

    real = tmp_path / "real" / "shop"
    (real / "red").mkdir(parents=True)
    (real / "red" / "a.jpg").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.jpg").write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    (real / "outer").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    # The folder given through its symlink, the photo by its real path, and the other way round.
    assert relative_to_root(real / "red" / "a.jpg", link) == "red/a.jpg"
    assert relative_to_root(link / "red" / "a.jpg", real) == "red/a.jpg"
    assert relative_to_root(str(link / "red" / "a.jpg"), str(link)) == "red/a.jpg"
    # A symlinked subfolder leading out of the folder: named as the folder walk names it.
    assert relative_to_root(link / "outer" / "b.jpg", link) == "outer/b.jpg"
    assert relative_to_root(real / "outer" / "b.jpg", link) == "outer/b.jpg"
    # Outside the folder, the folder itself, and a path that only looks inside until ".." is resolved.
    assert relative_to_root(tmp_path / "elsewhere" / "b.jpg", link) is None
    assert relative_to_root(link, real) is None
    assert relative_to_root(link / ".." / "elsewhere" / "b.jpg", link) is None
    assert relative_to_root(link / "red" / ".." / "red" / "a.jpg", link) == "red/a.jpg"


def test_a_snapshot_is_partial_only_when_its_page_was_cut_short(engine, monkeypatch):
    """While an index run adds articles, the count (read beside the articles) can be ahead of them: a whole
    read is still whole. Called partial, it made the window read the catalog again after every read."""
    total = len(load_snapshot(engine).articles)
    assert total > 2
    counts = engine.catalog.counts
    monkeypatch.setattr(engine.catalog, "counts", lambda: {**counts(), "articles": total + 5})
    whole = load_snapshot(engine)
    assert not whole.partial and whole.more_articles == 0 and len(whole.articles) == total
    page = load_snapshot(engine, first=2)
    assert page.partial and len(page.articles) == 2 and page.more_articles == total + 3


def test_queries_with_photos_that_have_no_vectors(tmp_path, photo_tree, tiny_model):
    from desktop_app.core.errors import NoVectors

    (photo_tree / "broken").mkdir()
    (photo_tree / "broken" / "p0.jpg").write_bytes(b"not a photo at all")
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db, remember=False) as engine:
        with pytest.raises(NoVectors, match="broken has no embedded photos yet"):
            engine.similar(Query.of_articles("broken"))
        both = engine.similar(Query.of_articles("red", "broken"))
        assert both.hits and "1 selected article has no embedded photos and was left out." in both.note
        photo = engine.catalog.photos_of("broken")[0]
        with pytest.raises(NoVectors, match="This photo has no vector yet"):
            engine.similar(Query("photo", ["broken"], photo_id=photo.id, photo_path=photo.path))
        good, bad = photo_tree / "red" / "p0.jpg", photo_tree / "broken" / "p0.jpg"
        some = engine.similar(Query("files", files=[good, bad]))
        assert some.hits and some.note.startswith("1 file could not be read: ")
        with pytest.raises(InputError, match="None of the query photos could be read: "):
            engine.similar(Query("files", files=[bad]))


def test_a_search_says_why_it_found_nothing_and_when_ordered_fell_back(engine):
    from desktop_app.core.settings import SearchSettings

    empty = engine.similar(Query.of_articles("red"), folder="nowhere")
    assert empty.hits == [] and "No article lies under the folder" in empty.note
    # Folder articles carry no view tags: ordered compares them all by greedy pairs, and says so.
    ordered = engine.similar(Query.of_articles("red"), SearchSettings("ordered"))
    assert (
        ordered.hits and "Articles without a shared view tag were compared with greedy pairs." in ordered.note
    )
