"""Stored paths are one per file. A name that is not UTF-8 is stored with \\xNN escapes; a name that holds
such text literally has its backslashes doubled, so a Latin-1 name and a name that spells it both get their
own stored path and both are indexed. Catalogs written before keep every photo (its id, vector, cover and
verdicts): an index run finds them by their bytes and writes the new form in place."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from desktop_app.core import scan
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.index_plan import unique_paths
from desktop_app.core.paths import photo_file
from desktop_app.core.scan import FoundFile, path_text
from desktop_app.core.storage import Catalog
from tests.conftest import write_photo

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file names are bytes on POSIX only")

# A name's bytes -> its stored form. Raw strings: every backslash below is one character of the name or text.
STORED = {
    b"plain.jpg": r"plain.jpg",
    b"caf\xe9.jpg": r"caf\xe9.jpg",  # Latin-1: the byte e9 as an escape
    rb"x\xe9.jpg": r"x\\xe9.jpg",  # a backslash, an x, an e and a 9: the backslash doubled
    b"x\xe9.jpg": r"x\xe9.jpg",  # the Latin-1 name that one spells
    rb"x\\xe9.jpg": r"x\\\\xe9.jpg",  # two backslashes
    b"x\\\xe9.jpg": r"x\\\xe9.jpg",  # a backslash, then the byte e9
    rb"shoe\front.jpg": r"shoe\front.jpg",  # a backslash in a name unpacked from a Windows archive: kept
    rb"x\XE9.jpg": r"x\XE9.jpg",  # upper-case hex is no escape of ours: kept
}


def legacy_text(rel: str) -> str:
    """How Lookalike wrote a path before: escapes for bytes that are not UTF-8, backslashes as they were."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def name(raw: bytes) -> str:
    return os.fsdecode(raw)


def make(folder: Path, raw: bytes, seed: int) -> Path:
    return write_photo(Path(os.fsdecode(os.fsencode(folder) + b"/" + raw)), seed=seed)


def test_every_name_has_its_own_stored_path_which_leads_back_to_it(tmp_path):
    for i, raw in enumerate(STORED):
        make(tmp_path / "a", raw, seed=i)
    got = {raw: path_text(name(raw)) for raw in STORED}
    assert got == STORED
    assert len(set(got.values())) == len(got)  # one stored path per file
    for raw, text in got.items():
        assert os.fsencode(photo_file(tmp_path / "a", text)) == os.fsencode(tmp_path / "a") + b"/" + raw
    # Each name of a path on its own: a folder's form does not depend on the file's name, and back.
    rel = name(b"caf\xe9/" + rb"x\xe9.jpg")
    assert path_text(rel) == r"caf\xe9/x\\xe9.jpg"
    assert path_text(name(rb"x\xe9/caf\xe9.jpg".replace(b"caf\\xe9", b"caf\xe9"))) == r"x\\xe9/caf\xe9.jpg"
    # What was stored before reads as before where the new form cannot be meant.
    assert photo_file(tmp_path / "a", r"plain.jpg") == tmp_path / "a" / "plain.jpg"


def test_a_latin1_name_and_the_name_that_spells_it_are_both_indexed(tmp_path, tiny_model):
    root = tmp_path / "photos"
    write_photo(root / "a" / "p0.jpg", seed=1)
    literal = make(root / "a", rb"x\xe9.jpg", seed=2)
    latin1 = make(root / "a", b"x\xe9.jpg", seed=3)
    db = tmp_path / "c.sqlite"
    for _ in range(2):
        summary = index_photos(db, root, model=tiny_model)
        assert summary.skipped == {} and summary.photos == 3
    assert summary.unchanged == 3  # the second run found every file where the first stored it
    with Engine.open(db, remember=False) as engine:
        stored = {r.path: r.raw_path for r in engine.catalog.photo_rows()}
        assert stored == {
            "a/p0.jpg": b"a/p0.jpg",
            r"a/x\\xe9.jpg": rb"a/x\xe9.jpg",
            r"a/x\xe9.jpg": b"a/x\xe9.jpg",
        }
        assert engine.absolute(r"a/x\\xe9.jpg").read_bytes() == literal.read_bytes()
        assert engine.absolute(r"a/x\xe9.jpg").read_bytes() == latin1.read_bytes()


def test_photos_stored_in_the_older_form_keep_their_rows_and_everything_on_them(tmp_path, tiny_model):
    """A catalog of an earlier version holds a name that spells an escape (x\\xe9.jpg) in the older form,
    which is the new form of the Latin-1 name beside it, and a name with a backslash and a Latin-1 byte whose
    older form is the new form of the first: the run that brings them up to date must write them in two steps,
    and neither the first photo's vector nor its cover, verdict or article is touched."""
    root = tmp_path / "photos"
    write_photo(root / "a" / "p0.jpg", seed=1)
    make(root / "a", rb"x\xe9.jpg", seed=2)
    make(root / "a", b"x\\\xe9.jpg", seed=4)
    db = tmp_path / "c.sqlite"
    index_photos(db, root, model=tiny_model)
    new_literal, new_mixed = r"a/x\\xe9.jpg", r"a/x\\\xe9.jpg"
    old_literal, old_mixed = legacy_text(name(rb"a/x\xe9.jpg")), legacy_text(name(b"a/x\\\xe9.jpg"))
    assert (old_literal, old_mixed) == (r"a/x\xe9.jpg", new_literal)
    with Engine.open(db, remember=False) as engine:
        engine.catalog.set_cover("a", new_literal)
        engine.mark_duplicate(new_literal, "a/p0.jpg", "not_duplicate")
        engine.set_labels(["a"], "category", "tops")
    with closing(sqlite3.connect(db)) as conn, conn:  # as the earlier version wrote them
        rewrite = "UPDATE photos SET path = ?, updated_at = updated_at + 1 WHERE path = ?"
        conn.execute(rewrite, (old_literal, new_literal))
        conn.execute(rewrite, (old_mixed, new_mixed))
        conn.execute("UPDATE article_covers SET path = ?", (old_literal,))
        conn.execute("UPDATE photo_verdicts SET path_b = ?", (old_literal,))
        before = {raw: (pid, vec) for pid, raw, vec in conn.execute(VECTORS)}
    with Engine.open(db, remember=False) as engine:  # searched once: its local copy of the vectors is made
        assert set(engine.vectors().paths) == {"a/p0.jpg", old_literal, old_mixed}

    make(root / "a", b"x\xe9.jpg", seed=3)  # the Latin-1 name, which the older form could not tell apart
    summary = index_photos(db, root, model=tiny_model)
    assert summary.skipped == {} and (summary.new, summary.embedded, summary.unchanged) == (1, 1, 3)
    with closing(sqlite3.connect(db)) as conn:
        after = {raw: (pid, vec) for pid, raw, vec in conn.execute(VECTORS)}
    assert {raw: after[raw] for raw in before} == before  # same ids, same vectors: nothing embedded again
    with Engine.open(db, remember=False) as engine:
        paths = {r.raw_path: r.path for r in engine.catalog.photo_rows()}
        assert paths == {
            b"a/p0.jpg": "a/p0.jpg",
            rb"a/x\xe9.jpg": new_literal,
            b"a/x\\\xe9.jpg": new_mixed,
            b"a/x\xe9.jpg": r"a/x\xe9.jpg",
        }
        assert engine.catalog.covers() == {"a": new_literal}
        assert engine.duplicate_verdicts() == {("a/p0.jpg", new_literal): "not_duplicate"}
        assert engine.catalog.labels()["a"] == {"category": "tops"}
        assert set(engine.vectors().paths) == set(paths.values())  # the local copy follows


VECTORS = "SELECT p.id, p.raw_path, v.data FROM photos p JOIN vectors v ON v.photo_id = p.id"


def test_a_clash_that_could_still_happen_names_the_two_files_apart(monkeypatch):
    monkeypatch.setattr(scan, "path_text", legacy_text)  # the older form, which can clash
    files = [FoundFile(name(rb"a/x\xe9.jpg"), 1, 1), FoundFile(name(b"a/x\xe9.jpg"), 1, 1)]
    kept, clashes = unique_paths(files)
    assert kept == files[:1] and len(clashes) == 1
    assert clashes[0]["message"] == (
        r"its name 'a/x\xe9.jpg' is stored as the name 'a/x\\xe9.jpg' is; rename one of the two files"
    )


def test_articles_grouped_by_file_name_in_a_latin1_folder(tmp_path, tiny_model):
    """The article's folder was the OS's name with its surrogate escapes, which the catalog cannot store: the
    index run ended in a traceback."""
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    root = tmp_path / "photos"
    for i, view in enumerate(("main", "back")):
        make(root, b"caf\xe9/mh01-gray_" + view.encode() + b".jpg", seed=i)
    db = tmp_path / "c.sqlite"
    summary = index_photos(db, root, rule=GroupingRule("pattern", MAGENTO_PATTERN), model=tiny_model)
    assert (summary.photos, summary.articles, summary.skipped) == (2, 1, {})
    with Catalog(db) as catalog:
        assert [(a["article"], a["folder"]) for a in catalog.articles_overview()] == [
            ("mh01-gray", r"caf\xe9")
        ]


def test_paths_rewritten_in_a_chain_on_both_databases(catalog_location):
    """One photo's new path is another's old one: written in two steps, on PostgreSQL too (which checks a
    unique column row by row), with the cover and the verdicts following their photos."""
    import numpy as np

    from desktop_app.core.storage import PhotoWrite

    first, second, third = r"a/x\xe9.jpg", r"a/x\\xe9.jpg", r"a/x\\\xe9.jpg"
    with Catalog(catalog_location) as catalog:
        article = catalog.sync_articles(["a"])["a"]
        unit = np.eye(8, dtype=np.float32)
        ids = catalog.write_photos(
            [
                PhotoWrite(article, path, path.encode(), 1, 1, None, hash=path, vector=unit[i])
                for i, path in enumerate((first, second, "a/p0.jpg"))
            ],
            "m@1",
        )
        catalog.set_cover("a", first)
        catalog.set_verdicts([(first, second, "duplicate"), (second, "a/p0.jpg", "not_duplicate")])
        catalog.rewrite_photo_paths([(ids[0], first, second), (ids[1], second, third)])
        assert {r.id: r.path for r in catalog.photo_rows()} == {
            ids[0]: second,
            ids[1]: third,
            ids[2]: "a/p0.jpg",
        }
        assert catalog.covers() == {"a": second}
        pairs = {
            tuple(sorted((second, third))): "duplicate",
            tuple(sorted(("a/p0.jpg", third))): "not_duplicate",
        }
        assert catalog.verdicts() == pairs
        assert len(catalog.article_vectors("m@1").paths) == 3
