"""The duplicate finder: each kind of edit on small generated pictures, the candidate stage against brute
force, clusters, the engine with remembered verdicts (which follow a moved photo and go with an edited or
removed one), the CLI, and that no photo file is ever touched."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.photo_edits import EDITS, PIXEL_EDITS, make_copy
from desktop_app.core import duplicates as dup
from desktop_app.core import fingerprint_changes as fch
from desktop_app.core import fingerprints as fpr
from desktop_app.core.vectors import ArticleVectors
from tests.conftest import make_tiny_model, write_photo


def product_photo(seed: int, size=(320, 400), garment=(40, 90, 170)) -> Image.Image:
    """A studio-like picture: a light background, a skin-toned figure and a coloured garment with folds."""
    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, (247, 247, 245))
    d = ImageDraw.Draw(im)
    cx = w // 2 + rng.randint(-30, 30)
    d.ellipse((cx - 28, 20, cx + 28, 84), fill=(224, 182, 150))  # head
    d.rectangle((cx - 75, 90, cx + 75, 250), fill=garment)  # shirt
    for k in range(5):  # folds: darker stripes of the garment's own colour
        x = cx - 60 + k * 28 + rng.randint(-5, 5)
        d.line((x, 100, x + rng.randint(-10, 10), 240), fill=tuple(int(c * 0.7) for c in garment), width=4)
    d.rectangle((cx - 60, 250, cx - 8, 380), fill=(60, 60, 66))  # trousers
    d.rectangle((cx + 8, 250, cx + 60, 380), fill=(60, 60, 66))
    d.rectangle((cx - 110, 100, cx - 78, 230), fill=(224, 182, 150))  # arms
    d.rectangle((cx + 78, 100, cx + 110, 230), fill=(224, 182, 150))
    return im


def edited(im: Image.Image, edit: str, tmp_path: Path) -> Image.Image:
    src = tmp_path / "src.jpg"
    im.save(src, quality=95)
    out = make_copy(src, tmp_path / f"{edit}.jpg", edit)
    with Image.open(out) as copy:
        return copy.convert("RGB")


def kind_of(a: Image.Image, b: Image.Image, cos: float = 0.97) -> str | None:
    return dup.classify(cos, fpr.compare(fpr.fingerprint_image(a), fpr.fingerprint_image(b)))[0]


# ============================================================================ each kind of edit


@pytest.mark.parametrize("edit", ["resize", "jpeg60", "crop", "cornercrop", "brightness"])
def test_resize_recompression_crop_and_brightness_are_near_duplicates(edit, tmp_path):
    for seed in range(3):
        im = product_photo(seed)
        assert kind_of(edited(im, "exact", tmp_path), edited(im, edit, tmp_path)) == "near", (edit, seed)


def test_an_exact_copy_is_found_by_its_content_hash():
    av = ArticleVectors.from_groups({"a": np.eye(3)[:1], "b": np.eye(3)[:1], "c": np.eye(3)[1:2]})
    cands = dup.candidate_pairs(av.vectors)
    found = dup.photo_duplicates(av, cands, {"a/0": "h1", "b/0": "h1", "c/0": "h2"}, {})
    assert [(p.a, p.b, p.kind, p.score) for p in found.pairs] == [("a/0", "b/0", "exact", 1.0)]


def test_candidate_pairs_are_checked_by_their_fingerprints_unless_unreadable_or_cancelled(tmp_path):
    im = product_photo(1)
    prints = {
        "a/0": fpr.fingerprint_image(edited(im, "exact", tmp_path)),
        "b/0": fpr.fingerprint_image(edited(im, "resize", tmp_path)),
        "c/0": fpr.fingerprint_image(edited(im, "mirror", tmp_path)),
        "d/0": fpr.fingerprint_image(product_photo(2).rotate(90, expand=True)),
        "e/0": None,  # its photo could not be read
    }
    av = ArticleVectors.from_groups({k[0]: np.eye(5)[n : n + 1] for n, k in enumerate(prints)})
    cands = dup.Candidates(
        np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4]), np.full(4, 0.97, np.float32), 4, 0.0
    )
    seen = []
    found = dup.photo_duplicates(av, cands, {}, prints, progress=lambda d, t, n: seen.append((d, t)))
    assert [(p.a, p.b, p.kind) for p in found.pairs] == [("a/0", "b/0", "near"), ("a/0", "c/0", "edit")]
    assert found.unchecked == [("a/0", "e/0")] and found.candidates == 4
    assert found.variants == {("a/0", "c/0")}  # laid out alike, not the same picture
    assert seen[-1] == (2, 2)  # d/0 is laid out differently: never compared
    cancelled = dup.photo_duplicates(av, cands, {}, prints, should_cancel=lambda: True)
    assert cancelled.pairs == [] and cancelled.unchecked == [("a/0", "e/0")]


def test_a_small_text_overlay_is_still_the_same_picture(tmp_path):
    im = product_photo(4)
    assert kind_of(edited(im, "exact", tmp_path), edited(im, "text", tmp_path)) in ("near", "edit")


def test_a_mirror_image_is_the_same_shot_edited(tmp_path):
    im = product_photo(5)
    # A logo on the left of the chest: mirrored, a symmetric figure is only itself shifted
    # (tests/test_fingerprints.py), this one is not.
    ImageDraw.Draw(im).rectangle((im.width // 2 - 60, 110, im.width // 2 - 20, 150), fill=(230, 200, 40))
    original, mirror = edited(im, "exact", tmp_path), edited(im, "mirror", tmp_path)
    diff = fpr.compare(fpr.fingerprint_image(original), fpr.fingerprint_image(mirror))
    assert diff.mirrored
    assert dup.classify(0.97, diff)[0] == "edit"


def test_another_colourway_of_the_same_shot_is_never_a_near_duplicate(tmp_path):
    # A catalogue's other colours: the same shot with the garment recoloured, as Magento's photos are.
    blue, green = product_photo(6, garment=(40, 90, 170)), product_photo(6, garment=(40, 150, 80))
    diff = fpr.compare(fpr.fingerprint_image(blue), fpr.fingerprint_image(green))
    assert diff.chroma_changed > dup.NEAR_MAX_CHROMA
    assert dup.classify(0.99, diff)[0] == "edit"


def test_a_different_picture_is_no_duplicate():
    assert kind_of(product_photo(1), product_photo(2).transpose(Image.Transpose.ROTATE_180), cos=0.95) is None


def test_every_edit_of_the_corpus_has_a_test_picture(tmp_path):
    im = product_photo(7)
    for edit in EDITS:
        assert edited(im, edit, tmp_path).size[0] > 0
    assert set(PIXEL_EDITS) | {"exact", "jpeg60"} == set(EDITS)


def test_fingerprints_round_trip_through_bytes():
    fp = fpr.fingerprint_image(product_photo(3))
    back = fpr.Fingerprint.from_bytes(fp.to_bytes())
    assert (back.phash, back.phash_mirror) == (fp.phash, fp.phash_mirror)
    assert np.array_equal(back.picture, fp.picture)
    with pytest.raises(ValueError):
        fpr.Fingerprint.from_bytes(fp.to_bytes()[:-1])


def test_batched_comparison_equals_one_at_a_time():
    prints = [fpr.fingerprint_image(product_photo(s)) for s in range(4)]
    pairs = [(prints[i], prints[j]) for i in range(4) for j in range(4)]
    assert fpr.compare_many(pairs, batch=3) == [fpr.compare(a, b) for a, b in pairs]


def test_judging_compares_mirrored_only_where_the_kind_can_use_it(tmp_path, monkeypatch):
    im = product_photo(5)
    ImageDraw.Draw(im).rectangle((im.width // 2 - 60, 110, im.width // 2 - 20, 150), fill=(230, 200, 40))
    original, mirror = (fpr.fingerprint_image(edited(im, e, tmp_path)) for e in ("exact", "mirror"))
    copy, other = (
        fpr.fingerprint_image(edited(im, "resize", tmp_path)),
        fpr.fingerprint_image(product_photo(2).transpose(Image.Transpose.ROTATE_180)),
    )
    pairs = [
        (original, mirror, 0.95),
        (original, mirror, 0.85),
        (original, copy, 0.97),
        (original, other, 0.95),
    ]
    mirrored_batches = []
    real = fpr._compare_aligned
    monkeypatch.setattr(
        fpr, "_compare_aligned", lambda a, b, fit: mirrored_batches.append(len(a)) or real(a, b, fit)
    )
    judged = dup.judge(pairs)
    # Every pair gets the kind that comparing it both ways gives: an edit is reported mirrored; the same
    # mirror image below the edit band's cosine is nothing, whichever way it is compared.
    assert [k for k, _, _ in judged] == [dup.classify(c, fpr.compare(a, b))[0] for a, b, c in pairs]
    assert [k for k, _, _ in judged] == ["edit", None, "near", None]
    assert judged[0][2].mirrored and judged[0][2] == fpr.compare(original, mirror)
    assert mirrored_batches[:2] == [4, 1]  # all four as they are; then only the edit mirrored


# ============================================================================ candidate stage and clusters


def brute_force(V: np.ndarray, min_cos: float) -> set[tuple[int, int]]:
    S = V @ V.T
    ii, jj = np.nonzero(np.triu(S >= min_cos, 1))
    return set(zip(ii.tolist(), jj.tolist()))


def test_candidate_stage_finds_exactly_the_pairs_of_brute_force():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4600, 256)).astype(np.float32)
    base[:, :8] *= 6  # a few strong directions, as real embeddings have
    V = base.copy()
    for k in range(0, 600, 3):  # planted near duplicates at several distances
        V[k + 1] = base[k] + rng.normal(scale=0.05 + 0.01 * (k % 7), size=256)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    got = dup.candidate_pairs(V, min_cos=0.85, max_neighbours=10_000)
    assert got.rows_a.size > 100
    assert set(zip(got.rows_a.tolist(), got.rows_b.tolist())) == brute_force(V, 0.85)
    assert got.checked < 4600 * 4600 / 2 / 10  # the projection bound dropped almost every pair unseen


def test_each_photo_keeps_its_best_neighbours_only():
    V = np.repeat(np.eye(4, dtype=np.float32)[:1], 30, axis=0)
    got = dup.candidate_pairs(V, max_neighbours=3)
    per_photo = np.bincount(np.concatenate([got.rows_a, got.rows_b]), minlength=30)
    assert got.rows_a.size < 30 * 29 / 2 and per_photo.min() >= 3


def test_clusters_are_connected_pairs_largest_first():
    def pair(a, b, s=0.95):
        return dup.PhotoPair(a, b, "x", "y", "near", s, s)

    found = dup.clusters([pair("a", "b"), pair("x", "y", 0.99), pair("b", "c"), pair("c", "d")])
    assert [c.members for c in found] == [["a", "b", "c", "d"], ["x", "y"]]


def test_components_name_each_group_by_its_smallest_member_whatever_the_order():
    from desktop_app.core.components import components

    chain = [("d", "c"), ("q", "p"), ("c", "b"), ("b", "a"), ("p", "r")]
    for order in (chain, chain[::-1], sorted(chain)):
        assert components(order) == {"a": "a", "b": "a", "c": "a", "d": "a", "p": "p", "q": "p", "r": "p"}
    assert components([]) == {}


def test_cancelling_the_candidate_stage_returns_nothing():
    V = np.eye(8, dtype=np.float32)
    assert dup.candidate_pairs(V, should_cancel=lambda: True).cancelled


def pair_at(cos: float, rng: np.random.Generator, dim: int = 64) -> np.ndarray:
    """Two unit vectors at exactly this cosine."""
    a, r = rng.normal(size=dim), rng.normal(size=dim)
    a /= np.linalg.norm(a)
    r -= (r @ a) * a
    r /= np.linalg.norm(r)
    return np.stack([a, cos * a + np.sqrt(1 - cos**2) * r]).astype(np.float32)


def test_articles_without_a_duplicate_photo_need_near_identical_photos_in_the_same_colour():
    """Other colourways and other products of one cut match at 0.90-0.95 without sharing a photo: only a
    pair whose photos all match at ARTICLE_STRICT and show the subject in one colour is the same product."""
    rng = np.random.default_rng(0)
    blue, yellow = (40, 90, 170), (220, 200, 40)
    cases = {  # articles: (cosine of their one photo pair, garment colour of the second)
        ("cut-a", "cut-b"): (0.93, blue),  # another product of one cut: below the strict cosine
        ("same-a", "same-b"): (0.97, blue),  # the same product photographed again
        ("colour-a", "colour-b"): (0.97, yellow),  # another colourway the embedding puts at 0.97
    }
    vectors, prints = {}, {}
    for k, ((a, b), (cos, garment)) in enumerate(cases.items()):
        va, vb = pair_at(cos, rng)
        vectors[a], vectors[b] = va[None], vb[None]
        prints[f"{a}/0"] = fpr.fingerprint_image(product_photo(10 * k, garment=blue))
        prints[f"{b}/0"] = fpr.fingerprint_image(product_photo(10 * k + 1, garment=garment))
    av = ArticleVectors.from_groups(vectors)
    av.paths = [f"{a}/0" for a in av.articles]
    found = dup.article_duplicates(av, dup.candidate_pairs(av.vectors), [], prints=prints)
    assert [(p.a, p.b) for p in found] == [("same-a", "same-b")]


# ============================================================================ engine, verdicts, files


@pytest.fixture
def dup_tree(tmp_path):
    """Three articles of generated photos, and a fourth that lists the first again: a resized copy of one of
    its photos and an exact copy of the other."""
    root = tmp_path / "photos"
    for k, name in enumerate(["red", "green", "shoes/blue"]):
        for j in range(2):
            product_photo(10 * k + j, garment=(150 + 30 * j, 40 + 50 * k, 60)).save(root_file(root / name, j))
    make_copy(root / "red" / "p0.jpg", root / "copies" / "p0-resized.jpg", "resize")
    make_copy(root / "red" / "p1.jpg", root / "copies" / "p1-copy.jpg", "exact")
    return root


def root_file(folder: Path, j: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"p{j}.jpg"


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.stat()
        out[str(path.relative_to(root))] = (
            st.st_size,
            st.st_mtime_ns,
            path.read_bytes() if path.is_file() else b"",
        )
    return out


@pytest.fixture
def indexed(dup_tree, tiny_model, tmp_path, catalog_location):
    from desktop_app.core.engine import index_photos

    index_photos(catalog_location, dup_tree, model=tiny_model)
    return catalog_location


def test_engine_finds_exact_and_near_copies_and_remembers_verdicts(indexed, dup_tree):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        report = engine.find_duplicates("photo")
        kinds = {(p.a, p.b): p.kind for p in report.pairs}
        assert kinds[("copies/p1-copy.jpg", "red/p1.jpg")] == "exact"
        assert kinds[("copies/p0-resized.jpg", "red/p0.jpg")] == "near"
        assert {tuple(c.members) for c in report.clusters} >= {
            ("copies/p0-resized.jpg", "red/p0.jpg"),
            ("copies/p1-copy.jpg", "red/p1.jpg"),
        }
        engine.mark_duplicate("red/p0.jpg", "copies/p0-resized.jpg", "not_duplicate")
        engine.mark_duplicate("copies/p1-copy.jpg", "red/p1.jpg", "duplicate")
        again = engine.find_duplicates("photo")
        assert ("copies/p0-resized.jpg", "red/p0.jpg") not in {(p.a, p.b) for p in again.pairs}
        assert ("copies/p1-copy.jpg", "red/p1.jpg") not in {(p.a, p.b) for p in again.pairs}
        assert again.decided == 2
        assert {(p.a, p.b) for p in again.judged} == {
            ("copies/p0-resized.jpg", "red/p0.jpg"),
            ("copies/p1-copy.jpg", "red/p1.jpg"),
        }
        shown = engine.find_duplicates("photo", include_decided=True)
        assert len(shown.pairs) == len(report.pairs)
        assert engine.duplicate_verdicts()[("copies/p0-resized.jpg", "red/p0.jpg")] == "not_duplicate"
        with pytest.raises(Exception, match="no photo"):
            engine.mark_duplicate("red/p0.jpg", "nowhere.jpg", "duplicate")


def test_the_engine_says_where_two_photos_differ_from_their_files_when_none_is_cached(indexed):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        stored = engine.catalog.photo_prints(["red/p0.jpg", "green/p0.jpg"], fpr.VERSION)
        assert [data for _hash, data in stored.values()] == [None, None]
        red, green = engine.photo_changes("red/p0.jpg", "green/p0.jpg")
        # Two garments of one cut in other colours: the shirts differ, the backdrop does not.
        for c in (red, green):
            rows, cols = np.nonzero(c.cells)
            assert (
                rows.size
                and rows.min() >= fpr.GRID * 90 // 400 - 1
                and rows.max() <= fpr.GRID * 250 // 400 + 1
            )
            assert not c.cells[:, :4].any() and not c.cells[:, -4:].any()
        copy = engine.photo_changes("red/p1.jpg", "copies/p1-copy.jpg")
        assert copy is not None and not any(c.cells.any() for c in copy)


def test_the_engine_tells_how_two_photos_are_related_as_pictures(indexed, dup_tree, tmp_path):
    from desktop_app.core.engine import Engine

    # A photo outside the catalog (a photo query): the first red photo's shot with the shirt recoloured.
    recoloured = tmp_path / "query.jpg"
    product_photo(0, garment=(40, 160, 60)).save(recoloured)
    other = write_photo(tmp_path / "other.jpg", size=(320, 400))  # another picture altogether
    pairs = [
        ("copies/p1-copy.jpg", "red/p1.jpg", 1.0),  # one file's content twice
        ("copies/p0-resized.jpg", "red/p0.jpg", 0.99),  # a resized copy
        (str(recoloured), "red/p0.jpg", 0.95),  # one shot, recoloured
        (str(other), "red/p0.jpg", 0.95),  # two pictures
        ("red/p0.jpg", "nowhere.jpg", 0.95),  # a photo that is not there
    ]
    with Engine.open(indexed) as engine:
        assert engine.photo_relations(pairs) == ["exact", "near", "edit", None, None]
        assert engine.photo_relations([]) == []


def test_progress_names_each_phase_and_the_pair_check_counts_its_pairs(indexed):
    from desktop_app.core.engine import Engine

    seen: list[tuple[int, int, str]] = []
    with Engine.open(indexed) as engine:
        engine.find_duplicates("photo", progress=lambda d, t, n: seen.append((d, t, n)))
    checking = [(d, t) for d, t, n in seen if n == "checking candidate pairs"]
    assert checking and checking[0][0] == 0 and checking[-1][0] == checking[-1][1] > 0


def test_a_background_job_reports_a_new_phase_at_once(monkeypatch):
    """A child throttles its progress messages; the first of a new phase must not be the one dropped, or the
    bar sits at the previous phase's 100% through the whole of the next."""
    from desktop_app.core.child import run_job

    class Queue(list):
        put = list.append

    def work(progress, _cancel):
        progress(1, 1, "comparing photo vectors")
        progress(0, 5, "checking candidate pairs")
        progress(1, 5, "checking candidate pairs")  # within the interval: may be dropped
        return "ok"

    monkeypatch.setattr("os.nice", lambda _n: 0)  # the job lowers its process's priority: not pytest's
    out = Queue()
    run_job(out, type("Never", (), {"is_set": staticmethod(lambda: False)})(), work)
    notes = [m[1][2] for m in out if m[0] == "progress"]
    assert notes[:2] == ["comparing photo vectors", "checking candidate pairs"]
    assert out[-1] == ("done", "ok")


def test_article_level_shares_match_decisions(indexed):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        report = engine.find_duplicates("article")
        assert ("copies", "red") in {(p.a, p.b) for p in report.pairs}
        engine.mark_duplicate("copies", "red", "duplicate", level="article")
        assert engine.decisions_with(["red"]) == {"copies": "same"}
        assert ("copies", "red") not in {(p.a, p.b) for p in engine.find_duplicates("article").pairs}


def test_a_judgement_is_taken_back_whole_and_its_pairs_come_back(indexed):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        engine.decide("copies", "red", "alike")  # a decision made before: undo must give it back
        report = engine.find_duplicates("photo", include_decided=True)
        pairs = [p for p in report.pairs if {p.article_a, p.article_b} == {"copies", "red"}]
        assert len(pairs) == 2
        judged = engine.judge_duplicates(pairs, "same")
        assert len(judged.verdict_ids) == 2 and judged.decision_batch is not None
        assert engine.decisions_with(["red"]) == {"copies": "same"}
        assert all(engine.duplicate_verdicts()[(p.a, p.b)] == "duplicate" for p in pairs)
        assert engine.find_duplicates("photo").decided == 2

        engine.undo_judgement(judged)
        assert engine.duplicate_verdicts() == {}
        assert engine.decisions_with(["red"]) == {"copies": "alike"}
        assert {(p.a, p.b) for p in pairs} <= {(p.a, p.b) for p in engine.find_duplicates("photo").pairs}


def test_a_pair_judged_again_since_is_not_taken_back(indexed):
    from desktop_app.core.engine import Engine
    from desktop_app.core.errors import Conflict

    with Engine.open(indexed) as engine:
        pair = next(p for p in engine.find_duplicates("photo").pairs if p.kind == "near")
        first = engine.judge_duplicates([pair], "not_duplicate")
        engine.judge_duplicates([pair], "duplicate")  # someone judged it again
        with pytest.raises(Conflict, match="Cannot undo"):
            engine.undo_judgement(first)
        assert engine.duplicate_verdicts()[(pair.a, pair.b)] == "duplicate"
        with pytest.raises(Exception, match="Unknown verdict"):
            engine.judge_duplicates([pair], "maybe")


def test_fingerprints_are_cached_so_finding_works_with_the_photos_offline(indexed, dup_tree, tmp_path):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        first = engine.find_duplicates("photo")
        moved = tmp_path / "elsewhere"
        shutil.move(str(dup_tree), moved)  # the test moves the folder: the drive is "unplugged"
        try:
            again = engine.find_duplicates("photo")
            assert [(p.a, p.b, p.kind) for p in again.pairs] == [(p.a, p.b, p.kind) for p in first.pairs]
            assert again.unchecked == 0 and not again.offline
            # Where a pair differs comes from the same cache.
            pair = ("copies/p0-resized.jpg", "red/p0.jpg")
            stored = engine.catalog.photo_prints(pair, fpr.VERSION)
            expected = fch.changes(*(fpr.Fingerprint.from_bytes(stored[p][1]) for p in pair))
            assert [c.cells.tolist() for c in engine.photo_changes(*pair)] == [
                c.cells.tolist() for c in expected
            ]
            engine.catalog.store_fingerprints([], fpr.VERSION)
            with engine.catalog.write() as conn:  # forget the cache: now the photos are needed and missing
                from desktop_app.core.storage.schema import photo_fingerprints_table

                conn.execute(photo_fingerprints_table.delete())
            offline = engine.find_duplicates("photo")
            assert offline.offline and offline.unchecked > 0
            assert "not reachable" in offline.note
            assert {p.kind for p in offline.pairs} == {"exact"}  # content hashes need no photo
            assert engine.photo_changes(*pair) is None  # neither cached nor on hand
        finally:
            shutil.move(str(moved), dup_tree)


def test_finding_marking_and_exporting_never_touch_a_photo_file(indexed, dup_tree, tmp_path, monkeypatch):
    from desktop_app.core.engine import Engine

    before = snapshot(dup_tree)
    touched: list[str] = []
    real = {name: getattr(os, name) for name in ("remove", "unlink", "rename", "replace", "rmdir")}

    def guard(name):
        def call(path, *args, **kwargs):
            if str(dup_tree) in os.fspath(path) or any(
                str(dup_tree) in os.fspath(a) for a in args if isinstance(a, (str, Path))
            ):
                touched.append(f"{name} {path}")
            return real[name](path, *args, **kwargs)

        return call

    for name in real:
        monkeypatch.setattr(os, name, guard(name))
    with Engine.open(indexed) as engine:
        report = engine.find_duplicates("photo", min_score=0.0)
        for p in report.pairs:
            engine.mark_duplicate(p.a, p.b, "duplicate")
        engine.export_duplicates(report, tmp_path / "dups.csv")
        engine.find_duplicates("article")
    monkeypatch.undo()
    assert touched == []
    assert snapshot(dup_tree) == before


# ============================================================================ CLI


def cli(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    from desktop_app.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_lists_pairs_as_json_marks_them_and_writes_csv(indexed, tmp_path):
    db = str(indexed)
    code, out = cli("duplicates", "--db", db, "--json")
    assert code == 0
    pairs = json.loads(out)["pairs"]
    entry = next(p for p in pairs if p["kind"] == "near")
    assert {"a", "b", "kind", "score"} <= set(entry) and 0.9 <= entry["score"] <= 1
    assert entry["a"] == "copies/p0-resized.jpg"  # photo paths as stored, relative to the photo folder
    code, out = cli("duplicates", "--db", db, "--json", "--level", "article")
    assert {"a": "copies", "b": "red"}.items() <= next(
        p for p in json.loads(out)["pairs"] if p["b"] == "red"
    ).items()
    assert cli("duplicates", "--db", db, "--mark", entry["a"], entry["b"], "--not-duplicate")[0] == 0
    code, out = cli("duplicates", "--db", db, "--json", "--csv", str(tmp_path / "d.csv"))
    assert (entry["a"], entry["b"]) not in {(p["a"], p["b"]) for p in json.loads(out)["pairs"]}
    rows = (tmp_path / "d.csv").read_text().splitlines()
    assert rows[0].startswith("cluster,a,b,kind,score") and len(rows) == 1 + len(json.loads(out)["pairs"])
    code, out = cli("duplicates", "--db", db, "--undo", "--json")  # the verdict was a mistake
    assert code == 0 and json.loads(out)["undone"] == [
        {"a": entry["a"], "b": entry["b"], "verdict": "not_duplicate"}
    ]
    code, out = cli("duplicates", "--db", db, "--json")
    assert (entry["a"], entry["b"]) in {(p["a"], p["b"]) for p in json.loads(out)["pairs"]}
    assert cli("duplicates", "--db", db, "--undo")[1].startswith("No photo verdict of yours")


def test_similar_says_which_results_are_the_querys_picture_with_relations(indexed, capsys):
    db = str(indexed)
    code, out = cli("similar", "--db", db, "--article", "red", "--relations", "--json")
    assert code == 0
    hits = {h["article"]: h for h in json.loads(out)["hits"]}
    # The copies article holds an exact copy of one red photo and a resized copy of the other.
    assert hits["copies"]["relation"] in {"exact", "near"}
    assert all("relation" in h for h in hits.values())
    code, out = cli("similar", "--db", db, "--article", "red", "--relations")
    line = next(x for x in out.splitlines() if " copies " in x)
    assert "[same file]" in line or "[same photo]" in line
    code, out = cli("similar", "--db", db, "--article", "red", "--json")  # not asked: no relation read
    assert all("relation" not in h for h in json.loads(out)["hits"])
    assert cli("similar", "--db", db, "--article", "red", "--photos", "--relations")[0] == 2
    assert "--relations" in capsys.readouterr().err


def test_cli_refuses_a_verdict_without_a_pair(indexed, capsys):
    assert cli("duplicates", "--db", str(indexed), "--duplicate")[0] == 2
    assert cli("duplicates", "--db", str(indexed), "--mark", "a.jpg", "b.jpg")[0] == 2
    assert "--duplicate" in capsys.readouterr().err
    assert cli("duplicates", "--db", str(indexed), "--undo", "--mark", "a.jpg", "b.jpg")[0] == 2
    # Options of finding are refused with a verdict or an undo, not ignored (the CSV was never written).
    mark = ("--mark", "red/p0.jpg", "copies/p0-resized.jpg", "--duplicate")
    capsys.readouterr()
    assert cli("duplicates", "--db", str(indexed), *mark, "--csv", "x.csv", "--all")[0] == 2
    assert "--csv, --all go with finding duplicates, not with --mark" in capsys.readouterr().err
    assert cli("duplicates", "--db", str(indexed), "--undo", "--min-score", "0.5")[0] == 2
    assert cli("duplicates", "--db", str(indexed), "--undo", "--level", "article")[0] == 2
    assert "decide --undo" in capsys.readouterr().err


# ============================================================================ verdicts follow their photo

NEAR = ("copies/p0-resized.jpg", "red/p0.jpg")


def pairs_of(report) -> set[tuple[str, str]]:
    return {(p.a, p.b) for p in report.pairs}


def reindex(db, root, model) -> None:
    from desktop_app.core.engine import index_photos

    index_photos(db, root, model=model)


def test_a_verdict_follows_its_photo_through_a_move_a_reindex_and_a_model_switch(
    indexed, dup_tree, tiny_model, tmp_path
):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        assert NEAR in pairs_of(engine.find_duplicates("photo"))
        engine.mark_duplicate("red/p0.jpg", "copies/p0-resized.jpg", "not_duplicate")
    # The copy moves into a subfolder under a new name (z... sorts after red/: the pair's order flips too).
    (dup_tree / "zz").mkdir()
    shutil.move(dup_tree / "copies" / "p0-resized.jpg", dup_tree / "zz" / "moved.jpg")
    reindex(indexed, dup_tree, tiny_model)
    with Engine.open(indexed) as engine:
        assert engine.duplicate_verdicts() == {("red/p0.jpg", "zz/moved.jpg"): "not_duplicate"}
        report = engine.find_duplicates("photo")
        assert ("red/p0.jpg", "zz/moved.jpg") not in pairs_of(report)
        assert report.decided == 1
        # Undo still finds the verdict under the photo's new path, and the pair comes back.
        assert [r["path_b"] for r in engine.undo_duplicate_verdict()] == ["zz/moved.jpg"]
        assert ("red/p0.jpg", "zz/moved.jpg") in pairs_of(engine.find_duplicates("photo"))
        engine.mark_duplicate("red/p0.jpg", "zz/moved.jpg", "not_duplicate")
    reindex(indexed, dup_tree, tiny_model)  # nothing changed: nothing is retired
    other = make_tiny_model(tmp_path / "other-model", name="tiny-other", seed=3)
    reindex(indexed, dup_tree, other)  # a model switch: verdicts are about photos, not vectors
    with Engine.open(indexed) as engine:
        assert engine.duplicate_verdicts() == {("red/p0.jpg", "zz/moved.jpg"): "not_duplicate"}


def test_an_edited_or_removed_photo_loses_its_verdicts(indexed, dup_tree, tiny_model):
    from desktop_app.core.engine import Engine

    with Engine.open(indexed) as engine:
        engine.mark_duplicate(*NEAR, "not_duplicate")
        engine.mark_duplicate("copies/p1-copy.jpg", "red/p1.jpg", "duplicate")
    # The curator judged the copy as it was; an edit makes it another picture, to be looked at again.
    with Image.open(dup_tree / "copies" / "p0-resized.jpg") as im:
        im.rotate(180).save(dup_tree / "copies" / "p0-resized.jpg")
    (dup_tree / "copies" / "p1-copy.jpg").unlink()
    reindex(indexed, dup_tree, tiny_model)
    with Engine.open(indexed) as engine:
        assert engine.duplicate_verdicts() == {}
    # A new file where the removed one was is not the photo that was judged either.
    shutil.copy(dup_tree / "red" / "p1.jpg", dup_tree / "copies" / "p1-copy.jpg")
    reindex(indexed, dup_tree, tiny_model)
    with Engine.open(indexed) as engine:
        assert ("copies/p1-copy.jpg", "red/p1.jpg") in pairs_of(engine.find_duplicates("photo"))


# ============================================================================ article verdicts never weaken


def test_an_article_verdict_never_weakens_the_pairs_match_decision(indexed):
    from desktop_app.core.engine import Engine
    from desktop_app.core.errors import InputError

    with Engine.open(indexed) as engine:
        engine.decide("copies", "red", "not_match")
        # "Not a match" already says "not a duplicate": it stays, and the pair stays hidden from search.
        assert engine.mark_duplicate("copies", "red", "not_duplicate", level="article") == "not_match"
        assert engine.decisions_with(["red"]) == {"copies": "not_match"}
        with pytest.raises(InputError, match="decide copies red --same"):
            engine.mark_duplicate("red", "copies", "duplicate", level="article")
        pair = next(p for p in engine.find_duplicates("article", include_decided=True).pairs if p.b == "red")
        with pytest.raises(InputError, match="not a match"):
            engine.judge_duplicates([pair], "duplicate")
        assert engine.decisions_with(["red"]) == {"copies": "not_match"}

        engine.decide("copies", "red", "same")
        # A listing of the same product twice is what a duplicate is: "not a duplicate" contradicts it.
        with pytest.raises(InputError, match="same product"):
            engine.mark_duplicate("copies", "red", "not_duplicate", level="article")
        assert engine.decisions_with(["red"]) == {"copies": "same"}

        engine.decide("copies", "red", "alike")
        assert engine.judge_duplicates([pair], "not_duplicate").decision_batch is None  # it stands
        assert engine.mark_duplicate("copies", "red", "duplicate", level="article") == "same"  # stronger
        engine.decide("copies", "red", "none")
        assert engine.mark_duplicate("copies", "red", "not_duplicate", level="article") == "alike"


def test_cli_marks_over_another_curators_article_decision_only_with_force(indexed, capsys):
    from desktop_app.core.engine import Engine

    db = str(indexed)
    with Engine.open(indexed) as engine:
        engine.catalog.decide([("copies", "red", "alike")], curator="another curator")
    mark = ("duplicates", "--db", db, "--level", "article", "--mark", "copies", "red", "--duplicate")
    assert cli(*mark)[0] == 2
    assert "--force" in capsys.readouterr().err  # the advice names an option duplicates has
    assert cli(*mark, "--force")[0] == 0
    with Engine.open(indexed) as engine:
        assert engine.decisions_with(["red"]) == {"copies": "same"}
    assert cli("duplicates", "--db", db, "--force")[0] == 2  # nothing to overwrite without an article --mark
    assert "--force goes with --level article --mark" in capsys.readouterr().err


def test_cli_says_one_judged_pair_was_left_out(indexed):
    db = str(indexed)
    assert (
        cli("duplicates", "--db", db, "--mark", "red/p0.jpg", "copies/p0-resized.jpg", "--duplicate")[0] == 0
    )
    code, out = cli("duplicates", "--db", db, "--no-progress")
    assert code == 0 and "1 pair you already judged was left out" in out


def test_cli_mark_as_json_and_undo_as_text(indexed):
    db = str(indexed)
    code, out = cli(
        "duplicates", "--db", db, "--mark", "red/p0.jpg", "copies/p0-resized.jpg", "--duplicate", "--json"
    )
    assert code == 0
    assert json.loads(out) == {
        "a": "red/p0.jpg",
        "b": "copies/p0-resized.jpg",
        "level": "photo",
        "verdict": "duplicate",
    }
    code, out = cli("duplicates", "--db", db, "--undo")
    assert (code, out) == (0, "Took back: copies/p0-resized.jpg / red/p0.jpg (duplicate)\n")
    # An article verdict is a match decision: the JSON says which one stands.
    article = ("--level", "article", "--mark", "copies", "red", "--not-duplicate", "--json")
    code, out = cli("duplicates", "--db", db, *article)
    assert code == 0 and json.loads(out) == {
        "a": "copies",
        "b": "red",
        "level": "article",
        "verdict": "not_duplicate",
        "decision": "alike",
    }
