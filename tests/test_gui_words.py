"""Words in the app with pytest-qt: the "Search by words" box, the words field under the similar panel, and
the review queue's zero-shot names, on the sample photos indexed with a tiny CLIP model; with the bundled
model every one of them is disabled and says why in one line. Real key presses, no sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from desktop_app.cli import main as cli_main
from desktop_app.core.engine import Engine
from desktop_app.core.settings import UserSettings
from desktop_app.gui import theme
from desktop_app.gui.mainwindow import MainWindow
from desktop_app.gui.review import ReviewQueue
from desktop_app.gui.search_controller import EngineClient
from desktop_app.gui.words import WORDS_ONLY_TIP
from tests.conftest import SAMPLE_PHOTOS, index_sample
from tests.test_text_defects import adapter_on

pytest.importorskip("torch")
T = 30000
NO_TEXT = (
    "efficientnet-lite0-imagenet has no text side; install a CLIP model: lookalike models fetch clip-vit-b32-int8 "
    "(and index the catalog with it)"
)


@pytest.fixture
def open_window(qtbot):
    windows: list[MainWindow] = []

    def open_(db: Path) -> MainWindow:
        w = MainWindow(UserSettings(batch_size=4))
        w.indexer.in_subprocess = w.search.client.in_subprocess = False
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        with qtbot.waitSignal(w.search_ready, timeout=T):
            w.open_catalog(db)
        return w

    yield open_
    for w in windows:
        w.shutdown()


def type_and_enter(qtbot, edit, text: str) -> None:
    edit.setFocus()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_search_by_words_and_steer_a_photo_query(qtbot, open_window, clip_model, tmp_path):
    w = open_window(index_sample(tmp_path / "clip.sqlite", "tiny-clip"))
    box, steer = w.words.box.edit, w.words.steer.edit
    assert box.isEnabled() and steer.isEnabled() and box.placeholderText().startswith("Search by words")
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "text"
    ) as got:
        type_and_enter(qtbot, box, "red hooded sweatshirt")
    outcome = got.args[0]
    assert outcome.query.text == "red hooded sweatshirt" and len(outcome.hits) == w.similar.top_k.value()
    assert w.similar.title.full_text() == "Articles matching “red hooded sweatshirt”"
    assert w.similar.model.rowCount() == len(outcome.hits)

    # words typed under the panel's controls steer the next photo query, and the current one at once
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "articles"):
        w.select_article("mh01-gray")
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.text == "in black"
    ) as got:
        type_and_enter(qtbot, steer, "in black")
    outcome = got.args[0]
    assert outcome.query.articles == ["mh01-gray"] and outcome.query.text_weight == 0.5
    assert "mh01-gray" not in [h.article for h in outcome.hits]
    assert w.similar.title.full_text() == "Similar to mh01-gray + “in black” (50%)"
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o.query.text_weight == 0.75):
        w.words.steer.weight.setValue(0.75)
    # a search by words is never steered by the panel's words
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "text"
    ) as got:
        box.clear()
        type_and_enter(qtbot, box, "gray")
    assert got.args[0].query.text == "gray"


def test_words_are_disabled_with_the_reason_for_the_bundled_model(qtbot, open_window, tmp_path):
    w = open_window(index_sample(tmp_path / "bundled.sqlite", "efficientnet-lite0-imagenet"))
    box, steer = w.words.box.edit, w.words.steer.edit
    assert not box.isEnabled() and not steer.isEnabled()
    assert box.toolTip() == NO_TEXT and steer.toolTip() == NO_TEXT
    assert box.placeholderText() == "Search by words needs a CLIP model"
    with qtbot.waitSignal(w.results_shown, timeout=T) as got:
        w.select_article("mh01-gray")
    assert got.args[0].query.text is None  # photo queries work as ever


def words_search(qtbot, w: MainWindow, text: str):
    """Search by words through the toolbar box; the Outcome shown."""
    box = w.words.box.edit
    box.clear()
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o is not None and o.query.kind == "text"
    ) as got:
        type_and_enter(qtbot, box, text)
    return got.args[0]


def test_a_long_words_query_keeps_the_title_and_messages_on_their_line(
    qtbot, open_window, clip_model, tmp_path
):
    w = open_window(index_sample(tmp_path / "clip.sqlite", "tiny-clip"))
    panel = w.similar
    words_search(qtbot, w, "gray")
    QApplication.processEvents()
    view_height, line = panel.view.height(), panel.title.fontMetrics().height()
    long = ("red hooded sweatshirt " * 45).strip()  # 989 characters: searched, the model reads 77 tokens
    outcome = words_search(qtbot, w, long)
    QApplication.processEvents()  # the layout settles
    assert panel.title.height() < 2 * line and panel.view.height() == view_height  # results not squeezed
    assert panel.title.full_text() == f"Articles matching “{long}”" and long in panel.title.toolTip()
    assert "the rest was cut" in outcome.note and "the rest was cut" in panel.status.toolTip()
    # too long to search: the message says so
    QApplication.clipboard().setText(long + " and more words" * 2)
    w.words.box.edit.clear()
    w.words.box.edit.setFocus()
    with qtbot.waitSignal(w.search.lane.failed, timeout=T):
        qtbot.keyClick(w.words.box.edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(w.words.box.edit, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert panel.status.full_text().startswith(
        "The text has 1019 characters; search by words takes up to 1000"
    )
    # the message has the row to itself; the checkbox and buttons wait under it
    status, tools = panel.status.geometry(), panel.row_tools.geometry()
    assert status.right() >= tools.right() - 1 and tools.top() > status.bottom()
    assert panel.title.height() < 2 * line
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o is not None):
        w.select_article("mh01-gray")
    QApplication.processEvents()
    status, tools = panel.status.geometry(), panel.row_tools.geometry()
    assert status.right() < tools.left() and tools.top() <= status.center().y() <= tools.bottom()


def test_words_alone_show_no_query_photo_and_disable_the_steer_field(
    qtbot, open_window, clip_model, tmp_path
):
    w = open_window(index_sample(tmp_path / "clip.sqlite", "tiny-clip"))
    steer = w.words.steer
    words_search(qtbot, w, "red hooded sweatshirt")
    assert not steer.edit.isEnabled() and not steer.weight.isEnabled()
    assert steer.edit.toolTip() == WORDS_ONLY_TIP and "no photos to steer" in WORDS_ONLY_TIP
    # the first card: its photo in the middle, and no empty box where a query photo would be
    view, delegate = w.similar.view, w.similar.delegate
    hit = w.similar.model.hits[0]
    path = str(SAMPLE_PHOTOS / hit.pairs[0].path)
    qtbot.waitUntil(lambda: w.thumbs.get(path) is not None, timeout=T)
    delegate.clear_cache()
    image = view.viewport().grab().toImage()
    r = view.visualRect(w.similar.model.index(0, 0)).adjusted(3, 3, -3, -3)
    big = delegate.pair
    left = r.x() + (r.width() - 2 * big - 4) // 2  # where the query photo of a pair starts
    photo_mid_y = r.bottom() - 8 - big // 2
    pal = view.palette()
    card = image.pixelColor(left + (big + 4) // 4, photo_mid_y)
    assert card == pal.color(QPalette.ColorRole.AlternateBase)
    assert card != theme.placeholder_fill(pal)
    # a photo query turns the field on again, and its words steer it
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "articles"):
        w.select_article("mh01-gray")
    assert steer.edit.isEnabled() and steer.edit.toolTip() == "Mix words into the photos of the query (CLIP)"


def test_steering_words_set_s_aside_and_the_panel_keeps_the_catalogs_s(
    qtbot, open_window, clip_model, tmp_path
):
    db = index_sample(tmp_path / "clip.sqlite", "tiny-clip")
    with Engine.open(db, remember=False) as engine:
        adapter_on(engine, tmp_path)  # words keep to the frozen vectors, and the results line says so
    # set with the adapter on: the adapter's own s (the frozen vectors' would not apply to it)
    assert cli_main(["settings", "--threshold", "0.9", "--db", str(db)]) == 0
    w = open_window(db)
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "articles"):
        w.select_article("mh01-gray")
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.text == "in black"
    ) as got:
        type_and_enter(qtbot, w.words.steer.edit, "in black")
    outcome = got.args[0]
    assert outcome.hits and all(h.score > 0 for h in outcome.hits)
    assert "The threshold s (0.9) is not used with words" in w.similar.status.toolTip()
    assert "Learned similarity is on, but words are compared" in w.similar.status.toolTip()
    assert w.similar.threshold.value() == 0.9  # the catalog's s, which photo queries still use
    # an edit of another control stores the catalog's s with it, not "off"
    top = w.similar.top_k
    top.setFocus()
    top.selectAll()
    with qtbot.waitSignal(w.results_shown, timeout=T, check_params_cb=lambda o: o.params.top_k == 7):
        qtbot.keyClicks(top, "7")
        qtbot.keyClick(top, Qt.Key.Key_Return)
    with Engine.open(db, remember=False) as engine:
        stored = engine.search_settings()
    assert (stored.top_k, stored.threshold) == (7, 0.9)


def make_queue(qtbot, db: Path, client: EngineClient) -> ReviewQueue:
    engine = Engine.open(db, remember=False)
    q = ReviewQueue(engine, client, "category")
    qtbot.addWidget(q)
    with qtbot.waitSignal(q.ready, timeout=T):
        pass
    return q


def test_review_queue_offers_zero_shot_from_label_names(qtbot, clip_model, tmp_path):
    client = EngineClient(in_subprocess=False)
    q = make_queue(qtbot, index_sample(tmp_path / "clip.sqlite", "tiny-clip"), client)
    try:
        names = q.zero_shot
        assert not names.isHidden() and names.edit.isEnabled() and q.model.rowCount() == 0
        assert "No article has a category label yet" in q.detail.empty_note.text()
        # the empty queue points to the names field, the way to suggestions without a single label
        assert "Type a few category names in the field above" in q.detail.empty_note.text()
        with qtbot.waitSignal(q.ready, timeout=T):
            type_and_enter(qtbot, names.edit, "hoodies, pants, bags")
        assert q.model.rowCount() == 33 and q.params_label.text().strip() == "suggested zero-shot"
        assert (
            names.note.text().startswith("zero-shot from 3 label names")
            and "not calibrated" in names.note.text()
        )
        assert q.current_suggestion().label in ("hoodies", "pants", "bags")
        # accepting one writes it like any other suggestion
        article = q.current_article()
        with qtbot.waitSignal(q.decided, timeout=T):
            q.accept_current()
        assert q.engine.labels("category")[article]["category"] in ("hoodies", "pants", "bags")
    finally:
        q.close()
        q.engine.close()
        client.close()


def test_review_queue_zero_shot_is_disabled_with_the_reason_for_the_bundled_model(qtbot, tmp_path):
    client = EngineClient(in_subprocess=False)
    q = make_queue(qtbot, index_sample(tmp_path / "bundled.sqlite", "efficientnet-lite0-imagenet"), client)
    try:
        assert (
            not q.zero_shot.isHidden()
            and not q.zero_shot.edit.isEnabled()
            and not q.zero_shot.button.isEnabled()
        )
        assert q.zero_shot.note.text() == NO_TEXT
        assert "field above" not in q.detail.empty_note.text()  # no names field to point to
    finally:
        q.close()
        q.engine.close()
        client.close()


def test_zero_shot_suggestions_show_their_own_evidence_not_neighbour_votes(qtbot, clip_model, tmp_path):
    """A zero-shot suggestion rests on how similar the label's words are to the photos, not on labelled
    neighbours (it has none): no "0/0" vote counts anywhere, the similarity instead."""
    import numpy as np

    from desktop_app.gui.review_model import SuggestionModel

    client = EngineClient(in_subprocess=False)
    q = make_queue(qtbot, index_sample(tmp_path / "clip.sqlite", "tiny-clip"), client)
    try:
        with qtbot.waitSignal(q.ready, timeout=T):
            type_and_enter(qtbot, q.zero_shot.edit, "hoodies, pants, bags")
        s = q.current_suggestion()
        # the similarity shown is the cosine of the label's prompt with the article's photos, averaged
        av = q.engine.frozen_vectors()
        photos = np.asarray(av.vectors[av.rows_of(av.article_index(s.article))])
        for label, _confidence in s.alternatives:
            words = q.engine.text_vectors([f"a product photo of {label}"])[0]
            assert abs(s.similarities[label] - float((photos @ words).mean())) < 1e-4
        best = s.similarities[s.label]
        alternatives = q.model.index(q.view.currentIndex().row(), SuggestionModel.ALTERNATIVES).data()
        detail = q.detail.suggestion_label.text()
        buttons = [b.text() for b in q.detail.alt_buttons if not b.isHidden()]
        shown = " ".join([alternatives, detail, *buttons])
        assert "0/0" not in shown and "neighbour" not in shown, shown
        assert f"similarity {best:.2f}" in detail, detail
        assert buttons[0].endswith(f"sim {best:.2f}") and len(buttons) == 3, buttons
        runner_up = s.alternatives[1][0]
        assert f"{runner_up} " in alternatives and f"sim {s.similarities[runner_up]:.2f}" in alternatives
        tip = q.model.index(0, SuggestionModel.ALTERNATIVES).data(Qt.ItemDataRole.ToolTipRole)
        assert "similarity (sim) to the photos" in tip
    finally:
        q.close()
        q.engine.close()
        client.close()


def sample_categories() -> dict[str, str]:
    """The sample's articles with their Magento category (its manifest)."""
    import csv

    with open(SAMPLE_PHOTOS.parent / "manifest.csv", newline="", encoding="utf-8") as fh:
        return {row["article"]: row["category"] for row in csv.DictReader(fh)}


def type_filter(qtbot, w: MainWindow, text: str) -> None:
    edit = w.grid_panel.filter_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    type_and_enter(qtbot, edit, text)


def test_search_by_words_keeps_to_the_grid_filters_label_and_folder(qtbot, open_window, clip_model, tmp_path):
    """The filter box's label: and folder: terms are the search's --label and --folder: the same hits as the
    command line gives, the title says which filter applied, and a change of filter searches again."""
    from desktop_app.core.similar import Query

    categories = sample_categories()
    bags = sorted(a for a, c in categories.items() if c == "bags")
    db = index_sample(tmp_path / "clip.sqlite", "tiny-clip")
    with Engine.open(db, remember=False) as engine:
        engine.set_labels(bags, "category", "bags")
        engine.set_labels(["mh01-gray", "mh01-black"], "category", "hoodies")  # another label
        cli_hits = [
            h.article for h in engine.similar(Query.of_text("red hoodie"), label="category=bags").hits
        ]
    assert sorted(cli_hits) == bags
    w = open_window(db)
    type_filter(qtbot, w, "label:bags")
    outcome = words_search(qtbot, w, "red hoodie")
    assert [h.article for h in outcome.hits] == cli_hits  # only the bags, in the command line's order
    assert w.similar.title.full_text() == "Articles matching “red hoodie” · label category=bags"

    # the filter changes: the search by words follows it
    with qtbot.waitSignal(
        w.results_shown,
        timeout=T,
        check_params_cb=lambda o: (
            o is not None and o.query.filters is not None and o.query.filters.folder == "w/b"
        ),
    ) as got:
        type_filter(qtbot, w, "label:bags folder:w/b")
    assert sorted(h.article for h in got.args[0].hits) == [a for a in bags if a.startswith("wb")]
    assert w.similar.title.full_text().endswith("· label category=bags · folder w/b")

    # a term a search cannot apply is said, not silently dropped
    with qtbot.waitSignal(
        w.results_shown,
        timeout=T,
        check_params_cb=lambda o: (
            o is not None and o.query.filters is not None and o.query.filters.left_out == ("id:mh01",)
        ),
    ) as got:
        type_filter(qtbot, w, "id:mh01")
    outcome = got.args[0]
    assert len(outcome.hits) == w.similar.top_k.value()  # every article may be returned
    assert "The filter's 'id:mh01' is not applied to the search" in w.similar.status.toolTip()
    # no filter: the plain title again
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o is not None and o.query.filters is None
    ):
        type_filter(qtbot, w, "")
    assert w.similar.title.full_text() == "Articles matching “red hoodie”"
