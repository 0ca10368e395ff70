"""End to end on real photos: the committed Magento sample, the bundled EfficientNet-Lite0 model, the CLI.

The floors asserted here were measured with this model on this sample (see README); they guard against
regressions in loading, preprocessing, storage and search, which all feed these numbers.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from desktop_app.core.engine import Engine
from desktop_app.core.search import SearchIndex
from tests.conftest import REPO, SAMPLE, bundled_sample_photos


def cli(*args, home):
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    photos = base / "photos"
    shutil.copytree(bundled_sample_photos(), photos)
    db = base / "catalog.sqlite"
    summary = json.loads(cli("index", photos, "--db", db, "--pattern", "magento", "--json", home=base))
    truth = list(csv.DictReader(open(SAMPLE / "manifest.csv", encoding="utf-8")))
    return {"db": db, "photos": photos, "summary": summary, "truth": truth, "home": base}


def _vectors(db):
    engine = Engine.open(db, remember=False)
    return engine.catalog, engine.vectors()


def test_sample_is_indexed_with_the_bundled_model(indexed):
    s, truth = indexed["summary"], indexed["truth"]
    assert s["photos"] == len(truth) and s["skipped"] == {}
    assert s["articles"] == len({r["article"] for r in truth})
    assert s["model"].startswith("efficientnet-lite0-imagenet")
    cat, av = _vectors(indexed["db"])
    assert av.vectors.shape == (len(truth), 1280)
    assert np.allclose(np.linalg.norm(av.vectors, axis=1), 1.0, atol=1e-5)
    by_path = {r["path"]: r["article"] for r in truth}
    assert all(by_path[p] == av.articles[av.article_of_row[i]] for i, p in enumerate(av.paths))


def test_nearest_other_photo_is_often_the_same_article(indexed):
    _, av = _vectors(indexed["db"])
    S = av.vectors @ av.vectors.T
    np.fill_diagonal(S, -2)
    multi = np.diff(av.offsets)[av.article_of_row] > 1
    accuracy = float((av.article_of_row[S.argmax(1)] == av.article_of_row)[multi].mean())
    print(f"nearest other photo in the same article: {accuracy:.3f} over {int(multi.sum())} photos")
    assert accuracy >= 0.45  # measured 0.516; chance is about 0.03


def test_other_colours_of_a_style_come_first(indexed):
    _, av = _vectors(indexed["db"])
    index = SearchIndex(av)
    style = {r["article"]: r["style"] for r in indexed["truth"]}
    hits = 0
    queries = [a for a in av.articles if sum(style[b] == style[a] for b in av.articles) > 1]
    for a in queries:
        top = index.search(a, "greedy", 1).hits[0].article
        hits += style[top] == style[a]
    print(f"same style at rank 1: {hits}/{len(queries)}")
    assert len(queries) >= 8 and hits / len(queries) >= 0.8


def test_filters_on_real_photos(indexed):
    cat, av = _vectors(indexed["db"])
    cats = {r["article"]: r["category"] for r in indexed["truth"]}
    cat.set_labels([(a, "category", c) for a, c in cats.items()])
    _, av = _vectors(indexed["db"])
    index = SearchIndex(av)
    res = index.search("mh01-gray", "greedy", 5, label="category=bags")
    assert res.hits and all(cats[h.article] == "bags" for h in res.hits)
    res = index.search("mh01-gray", "hungarian", 50, folder="w")
    assert res.hits and all(p.startswith("w/") for h in res.hits for p in av.paths[av.rows_of(h.index)])
    assert "mh01-gray" not in [h.article for h in index.search("mh01-gray", "centroid", 50).hits]


def test_cli_similar_inspect_and_photo_query(indexed, tmp_path):
    db, home = indexed["db"], indexed["home"]
    out = json.loads(
        cli(
            "similar",
            "--db",
            db,
            "--article",
            "mh01-gray",
            "--method",
            "greedy",
            "--top",
            "3",
            "--json",
            home=home,
        )
    )
    assert out["hits"][0]["article"].startswith("mh01-") and out["hits"][0]["pairs"]
    bare = json.loads(
        cli("similar", "--db", db, "mh01-gray", "--method", "greedy", "--top", "3", "--json", home=home)
    )
    assert bare["hits"] == out["hits"]  # an article id without --article
    photo = indexed["photos"] / "m" / "h" / "mh01-gray_main.jpg"
    out = json.loads(cli("similar", "--db", db, "--image", photo, "--top", "3", "--json", home=home))
    assert out["hits"][0]["article"] == "mh01-gray"  # the photo's own article (query is not in the catalog)
    png, csv_path = tmp_path / "m.png", tmp_path / "m.csv"
    ins = json.loads(
        cli(
            "inspect",
            "--db",
            db,
            "mh01-gray",
            "mh01-black",
            "--png",
            png,
            "--csv",
            csv_path,
            "--json",
            home=home,
        )
    )
    assert len(ins["matrix"]) == len(ins["paths_a"]) and set(ins["methods"]) >= {
        "greedy",
        "hungarian",
        "centroid",
    }
    assert png.stat().st_size > 1000 and csv_path.read_text().count("\n") == len(ins["paths_a"]) + 1


def test_label_suggestions_on_real_photos(indexed):
    cat, av = _vectors(indexed["db"])
    from desktop_app.core.labels import Suggester, evaluate_labels

    cats = {r["article"]: r["category"] for r in indexed["truth"]}
    cat.set_labels([(a, "category", c) for a, c in cats.items()])
    index = SearchIndex(av)
    ev = evaluate_labels(index, cats, k=5)
    print(f"leave-one-out accuracy {ev.accuracy:.3f}, coverage at 95% {ev.coverage_at_95:.3f}")
    assert ev.n == len(cats) and ev.accuracy >= 0.5
    # unlabel the mh01 colours: their suggestion comes from the other tops
    labelled = {a: c for a, c in cats.items() if not a.startswith("mh01-black")}
    s = Suggester(index, labelled, k=5).suggest("mh01-black")
    assert s.label == cats["mh01-black"] and 0 < s.confidence <= 1
    assert s.neighbours and all(n.article != "mh01-black" for n in s.neighbours)
    assert s.alternatives[0][0] == s.label
    cat.set_labels([("mh01-black", "category", None)])
    queue = Engine(cat).suggest("category", k=5)
    assert [q.article for q in queue] == ["mh01-black"]
