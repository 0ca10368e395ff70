"""The catalog map's engine side: layouts that keep neighbours together, placing new articles, selecting by
lasso polygon, storage keyed by model and adapter (and invalidated when either changes), cancel, and
`lookalike map` writing a picture and coordinates."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from desktop_app.cli import main
from desktop_app.core import layout as lay
from desktop_app.core import map_picture as pic
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.models import vector_identity
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.storage import PhotoWrite
from tests.conftest import make_tiny_model
from tests.test_adapt import make_catalog, synthetic

pytest.importorskip("openTSNE", reason="install the [map] extra")


def clusters(
    n_clusters: int = 10, per: int = 30, dim: int = 48, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters in random directions, as article vectors (rows L2-normalised), and their cluster ids."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    ids = np.repeat(np.arange(n_clusters), per)
    X = centres[ids] + 0.35 * rng.normal(size=(ids.size, dim))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), ids


def same_cluster_share(xy: np.ndarray, ids: np.ndarray, k: int = 5) -> float:
    from scipy.spatial import cKDTree

    _, nn = cKDTree(xy).query(xy, k + 1)
    return float((ids[nn[:, 1:]] == ids[:, None]).mean())


def test_tsne_keeps_neighbours_together_far_better_than_pca():
    X, ids = clusters()
    seen: list[tuple[int, int]] = []
    xy, placed, info = lay.compute_layout(X, "tsne", progress=lambda d, t, _n: seen.append((d, t)))
    pca_xy, _, _ = lay.compute_layout(X, "pca")
    assert xy.shape == (len(X), 2) and not placed.any() and info["method"] == "tsne"
    assert np.allclose(xy.mean(axis=0), 0, atol=1e-3)
    assert same_cluster_share(xy, ids) > 0.95
    assert (
        lay.neighbour_preservation(X, xy, sample=None)
        > lay.neighbour_preservation(X, pca_xy, sample=None) + 0.2
    )
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (lay.PROGRESS_TOTAL, lay.PROGRESS_TOTAL)


def test_large_layouts_lay_out_a_sample_and_place_the_rest_among_their_neighbours():
    X, ids = clusters(per=40)
    xy, placed, info = lay.compute_layout(X, "tsne", sample_above=150)
    assert info["sample"] == 150 and placed.sum() == len(X) - 150
    assert same_cluster_share(xy, ids) > 0.9  # the placed ones joined their own clusters


def test_place_lands_each_new_article_in_its_cluster():
    X, ids = clusters(n_clusters=4, per=25)
    ref_xy = np.array([[10.0 * (i % 2), 10.0 * (i // 2)] for i in ids], dtype=np.float32)
    ref_xy += np.random.default_rng(1).normal(0, 0.5, ref_xy.shape).astype(np.float32)
    new, new_ids = clusters(n_clusters=4, per=3, seed=0)
    new = new + 0.01  # near, not equal, to the reference vectors
    pos = lay.place(X, ref_xy, new / np.linalg.norm(new, axis=1, keepdims=True))
    centres = np.array([[10.0 * (i % 2), 10.0 * (i // 2)] for i in new_ids])
    assert np.abs(pos - centres).max() < 2.5


def test_cancel_stops_the_layout():
    X, _ = clusters()
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(lay.Cancelled):
        lay.compute_layout(X, "tsne", should_cancel=cancel)


def test_points_in_a_concave_lasso():
    # A "U": the notch between its arms is outside.
    u = np.array([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)], dtype=float)
    pts = np.array([(0.5, 2.5), (2.5, 2.5), (1.5, 2.0), (1.5, 0.5), (4, 1), (-1, 1), (1.5, 3.5)])
    assert lay.points_in_polygon(pts, u).tolist() == [True, True, False, True, False, False, False]
    assert not lay.points_in_polygon(pts, u[:2]).any()  # fewer than three vertices: no area


def test_layout_bytes_keep_ids_positions_and_placed():
    layout = lay.MapLayout(
        ["a/ü 1", "b,2", "c"],
        np.array([[0, 1], [2, 3], [4, 5]]),
        "tsne",
        {"seconds": 1.5},
        placed_mask=np.array([False, True, True]),
        joined_mask=np.array([False, False, True]),
    )
    back = lay.MapLayout.from_bytes(layout.to_bytes(), "tsne", {})
    assert back.articles == layout.articles and np.array_equal(back.xy, layout.xy)
    assert back.placed == 2 and back.joined == 1 and back.digest == lay.articles_digest(["c", "b,2", "a/ü 1"])


def test_colouring_ranks_values_and_keeps_other_and_unlabelled_apart():
    values = ["shoes"] * 5 + ["bags"] * 3 + ["hats"] + [None, ""] + [f"rare{i}" for i in range(3)]
    c = pic.colouring(values, max_groups=3)
    names = [v for v, _, _ in c.legend]
    assert names[:2] == ["shoes", "bags"] and names[2].startswith(pic.OTHER) and names[3] == pic.UNLABELLED
    assert [n for _, _, n in c.legend] == [5, 3, 4, 2]
    assert c.colour_of(0) == c.own["shoes"] and c.colour_of(9) == pic.UNLABELLED_COLOUR


def test_a_value_keeps_its_colour_when_counts_change_or_a_value_is_added():
    before = pic.colouring(["shoes"] * 5 + ["bags"] * 3 + ["hats"] * 2)
    # Other counts (hats now the most common), same values: the same colours, whatever the legend's order.
    recounted = pic.colouring(["shoes"] + ["bags"] * 3 + ["hats"] * 9)
    assert recounted.own == before.own
    # A new value that outnumbers them all, given what was shown before: nobody else changes colour.
    added = pic.colouring(["shoes"] * 5 + ["bags"] * 3 + ["hats"] * 2 + ["new"] * 20, keep=before.own)
    assert {v: added.own[v] for v in before.own} == before.own
    assert added.own["new"] not in before.own.values()
    # Three groups get the palette's first three colours (the farthest apart), by value not by count.
    assert set(before.own.values()) == set(pic.PALETTE[:3])
    assert pic.colouring(["hats"] * 4 + ["shoes"] + ["bags"] * 2).own == before.own
    many = [f"value{i}" for i in range(16)]
    assert len(set(pic.assign_colours(many).values())) == 16  # collisions move on to a free colour


def _add_article(engine: Engine, tiny_model, name: str, vectors: np.ndarray) -> None:
    ids = engine.catalog.sync_articles({name: vectors})
    model_id = vector_identity(tiny_model.manifest, None, False)
    writes = [
        PhotoWrite(
            ids[name],
            f"{name}/{i}.jpg",
            f"{name}{i}".encode(),
            1,
            1,
            None,
            hash=f"{name}{i}",
            vector=v / np.linalg.norm(v),
        )
        for i, v in enumerate(vectors)
    ]
    engine.catalog.write_photos(writes, model_id)
    engine.reload()


def test_map_is_stored_updated_and_invalidated_by_model_and_adapter(
    tmp_path, tiny_model, catalog_location, monkeypatch
):
    groups, vectors = synthetic(n_groups=12, per_group=2, photos=3)
    engine = make_catalog(catalog_location, vectors, tiny_model)
    first = engine.catalog_map()
    assert first.method == "tsne" and first.adapter_id is None and len(first) == 24 and first.placed == 0
    stored = engine.stored_map()
    assert stored.articles == first.articles and np.array_equal(stored.xy, first.xy)

    def no_compute(*_a, **_k):
        raise AssertionError("a stored layout must be reused, not computed again")

    monkeypatch.setattr(lay, "compute_layout", no_compute)
    again = engine.catalog_map()
    assert np.array_equal(again.xy, first.xy)

    # A new article is placed among its neighbours; the others keep their places.
    _add_article(engine, tiny_model, "g00-c9", np.asarray(vectors["g00-c0"]) + 0.05)
    grown = engine.catalog_map()
    assert len(grown) == 25 and grown.placed == 1 and grown.placed_mask[grown.index()["g00-c9"]]
    old = grown.index()
    assert np.array_equal(grown.xy[[old[a] for a in first.articles]], first.xy)
    assert engine.stored_map().digest == grown.digest  # stored with its new article
    monkeypatch.undo()

    # Switching an adapter on: a layout of other vectors; none is stored for them yet.
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("article,group\n" + "".join(f"{a},{g}\n" for a, g in groups.items()))
    adapter = engine.train_adapter(("groups",), csv_path, "whitening")
    assert engine.stored_map() is None and engine.catalog_map(compute=False) is None
    adapted = engine.catalog_map(method="pca")
    assert adapted.adapter_id == adapter.id and adapted.method == "pca"
    engine.use_adapter(False)  # back to the frozen vectors: their layout is still there
    assert np.array_equal(engine.catalog_map(compute=False).xy, grown.xy)
    engine.use_adapter(True)
    assert engine.catalog_map(compute=False).method == "pca"

    # Another model: its vectors have no layout.
    other = make_tiny_model(tmp_path / "other", name="tiny-other", seed=3)
    engine.use_adapter(False)
    engine.update_settings(model=other.manifest.name, model_manifest=str(other.manifest_path))
    _add_article(engine, other, "x", np.ones((1, 8)))
    assert engine.map_key()[0] == vector_identity(other.manifest, None, False)
    assert engine.stored_map() is None
    assert engine.catalog_map(compute=False) is None
    engine.close()


def test_recompute_lays_out_afresh_and_unknown_method_is_refused(tiny_model, tmp_path):
    _, vectors = synthetic(n_groups=6, per_group=2, photos=2)
    engine = make_catalog(tmp_path / "c.sqlite", vectors, tiny_model)
    engine.catalog_map(method="pca")
    _add_article(engine, tiny_model, "new", np.asarray(vectors["g00-c0"]))
    assert engine.catalog_map().placed == 1
    fresh = engine.catalog_map(recompute=True)
    assert fresh.placed == 0 and fresh.method == "tsne" and len(fresh) == 13
    # A quick PCA map made later never takes the t-SNE map's place as the default.
    engine.catalog_map(method="pca", recompute=True)
    assert engine.catalog_map().method == "tsne" and engine.catalog_map(method="pca").method == "pca"
    with pytest.raises(Exception, match="Unknown map method"):
        engine.catalog_map(method="umap")
    engine.close()


def test_a_layout_outgrown_by_new_articles_is_laid_out_afresh(tiny_model, tmp_path, monkeypatch):
    # The map's first look came while most of the catalog was still being indexed: placing the rest among
    # the few laid out would stack them in a blob, so past a fifth of joined articles the engine lays out
    # afresh, by the stored layout's own method (the app and `lookalike map` alike).
    _, vectors = synthetic(n_groups=5, per_group=2, photos=2)
    engine = make_catalog(tmp_path / "c.sqlite", vectors, tiny_model)
    first = engine.catalog_map(method="pca")
    computed = []
    real = lay.compute_layout
    monkeypatch.setattr(lay, "compute_layout", lambda *a, **k: computed.append(a[1]) or real(*a, **k))
    _add_article(engine, tiny_model, "new0", np.asarray(vectors["g00-c0"]) + 0.05)
    grown = engine.catalog_map()  # 1 of 11 joined: placed, kept
    assert not computed and grown.joined == grown.placed == 1 and len(grown) == len(first) + 1
    assert engine.stored_map().joined == 1  # stored with its joined article
    _add_article(engine, tiny_model, "new1", np.asarray(vectors["g01-c0"]) + 0.05)
    assert not computed and engine.catalog_map().joined == 2  # 2 of 12: still a fifth or less
    _add_article(engine, tiny_model, "new2", np.asarray(vectors["g02-c0"]) + 0.05)
    # 3 of 13 would have joined: laid out afresh, by PCA as before, and it says why.
    assert engine.catalog_map(compute=False).joined == 3  # asked not to compute: kept up to date
    fresh = engine.catalog_map()
    assert computed == ["pca"] and fresh.method == "pca" and len(fresh) == 13
    assert fresh.joined == fresh.placed == 0 and fresh.info["outgrown"] == 3
    assert engine.stored_map().joined == 0 and engine.catalog_map().info["outgrown"] == 3
    assert computed == ["pca"]
    engine.close()


@pytest.fixture
def indexed_sample(tmp_path, sample_copy, tiny_model):
    db = tmp_path / "sample.sqlite"
    index_photos(db, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN), model=tiny_model)
    with Engine.open(db, remember=False) as engine:
        keys = [r["article"] for r in engine.catalog.articles_overview()]
        engine.set_labels([k for k in keys if k.startswith("w")], "category", "women")
        engine.set_labels([k for k in keys if k.startswith("m")], "category", "men")
    return db, keys


def test_cli_map_writes_covers_picture_and_coordinates(indexed_sample, tmp_path, capsys):
    from PIL import Image

    db, keys = indexed_sample
    png = tmp_path / "map.png"
    assert main(["map", "--db", str(db), "--png", str(png), "--size", "900x700", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["articles"] == len(keys) and {p["article"] for p in out["points"]} == set(keys)
    assert out["method"] == "tsne" and out["color_by"] == "category"
    legend = {e["value"]: e["count"] for e in out["legend"]}
    assert legend["women"] == sum(k.startswith("w") for k in keys) and legend["men"] > 0
    assert out["picture"]["thumbnails"] == len(keys) and out["picture"]["dots"] == 0  # photos are reachable
    with Image.open(png) as im:
        assert im.size == (900, 700)
    # The same layout again, as dots, coloured by folder; the coordinates did not move.
    assert main(["map", "--db", str(db), "--png", str(png), "--dots", "--color-by", "folder", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["picture"]["dots"] == len(keys) and again["picture"]["thumbnails"] == 0
    assert [(p["x"], p["y"]) for p in again["points"]] == [(p["x"], p["y"]) for p in out["points"]]
    # Said in words: the parts the picture has, each counted once ("0 covers of 0 px" said nothing).
    assert main(["map", "--db", str(db), "--png", str(png), "--dots"]) == 0
    text = capsys.readouterr().out
    assert f"({len(keys)} dots)" in text and " covers" not in text and f"Map of {len(keys)} articles" in text
    assert main(["map", "--db", str(db), "--png", str(png), "--size", "900x700"]) == 0
    assert f"({len(keys)} covers of " in capsys.readouterr().out


def test_cli_map_errors_are_one_line(indexed_sample, tmp_path, capsys, monkeypatch):
    db, _ = indexed_sample
    with pytest.raises(SystemExit) as exc:
        main(["map", "--db", str(db), "--png", str(tmp_path / "m.png"), "--size", "20x20"])
    assert exc.value.code == 2
    assert main(["map", "--db", str(db), "--png", str(tmp_path / "no" / "m.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # A mistyped field is refused (naming the fields there are), not drawn as an all-unlabelled map.
    assert main(["map", "--db", str(db), "--color-by", "categroy", "--json"]) == 2
    err = capsys.readouterr().err
    assert (
        "'categroy'" in err
        and "category" in err.replace("'categroy'", "")
        and len(err.strip().splitlines()) == 1
    )
    monkeypatch.setattr(lay, "have_tsne", lambda: False)
    assert main(["map", "--db", str(db), "--recompute"]) == 2
    assert "pip install 'lookalike[map]'" in capsys.readouterr().err
    assert main(["map", "--db", str(db), "--recompute", "--method", "pca"]) == 0


def test_a_small_picture_keeps_its_map_clear_of_the_legend():
    """At the smallest size a long legend covered every dot: it gets a column of its own beside the map, or
    goes; only where it is small beside the picture does it sit over a corner."""
    from PIL import Image

    n = 60
    rng = np.random.default_rng(0)
    layout = lay.MapLayout([f"a{i}" for i in range(n)], rng.normal(size=(n, 2)), "tsne", {}, "m", None)
    colours = pic.colouring([f"category number {i % 18}" for i in range(n)])
    placed = {}
    for size in ((200, 200), (600, 400), (2000, 2000)):
        png, stats = pic.render_png(layout, colours, size, title="60 articles")
        assert stats.dots == n and Image.open(io.BytesIO(png)).size == size
        placed[size] = stats.legend
        if stats.legend != "none":
            assert under_legend(pic.plan_picture(layout, colours, size, "60 articles", False)) == 0
    assert placed == {(200, 200): "none", (600, 400): "column", (2000, 2000): "inset"}


def under_legend(plan) -> int:
    """Articles of a picture plan drawn (a cover's or a dot's reach round their centre) under its legend."""
    left, top, right, bottom = plan.legend_box
    reach = max(plan.thumb / 2 + 3, plan.radius)
    x, y = plan.pos[:, 0], plan.pos[:, 1]
    return int(
        ((x + reach >= left) & (x - reach <= right) & (y + reach >= top) & (y - reach <= bottom)).sum()
    )


def test_the_legend_of_a_picture_covers_no_article():
    """The legend box was drawn over the covers in the map's corner: where articles reach the corner, the
    legend takes a column or a band of its own; the picture keeps whichever shows the map larger."""
    from PIL import Image

    side = np.arange(20, dtype=float)
    grid = np.array([(x, y) for x in side for y in side])
    articles = [f"a{i}" for i in range(len(grid))]
    colours = pic.colouring([f"category number {i % 18}" for i in range(len(grid))])
    placed = {}
    for size, covers in (
        ((2000, 2000), True),
        ((2000, 2000), False),
        ((1600, 900), True),
        ((900, 1600), False),
    ):
        # Articles evenly over the whole picture, its corners included.
        layout = lay.MapLayout(articles, grid * (size[0] / size[1], 1), "tsne", {}, "m", None)
        plan = pic.plan_picture(layout, colours, size, "400 articles", covers)
        assert under_legend(plan) == 0, (size, plan.legend)
        left, top, right, bottom = plan.legend_box
        assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]
        placed[size] = plan.legend
    # Wide pictures put it beside the map, tall ones above it.
    assert placed == {(2000, 2000): placed[(2000, 2000)], (1600, 900): "column", (900, 1600): "band"}
    assert placed[(2000, 2000)] in ("column", "band")
    # The picture drawn: the legend's box is where the plan said, and the stats say so.
    png, stats = pic.render_png(layout, colours, (900, 1600), title="400 articles")
    plan = pic.plan_picture(layout, colours, (900, 1600), "400 articles", False)
    assert (stats.legend, stats.legend_box) == ("band", plan.legend_box)
    assert Image.open(io.BytesIO(png)).size == (900, 1600)
    # A round cloud leaves its corners free: the legend sits there, over no article.
    rng = np.random.default_rng(0)
    angle, r = rng.uniform(0, 2 * np.pi, 400), np.sqrt(rng.uniform(0, 1, 400))
    cloud = lay.MapLayout(articles, np.c_[r * np.cos(angle), r * np.sin(angle)], "tsne", {}, "m", None)
    plan = pic.plan_picture(cloud, colours, (2000, 2000), "400 articles", True)
    assert plan.legend == "inset" and under_legend(plan) == 0
