"""Words in the app with pytest-qt: the "Search by words" box, the words field under the similar panel, and
the review queue's zero-shot names, on the sample photos indexed with a tiny CLIP model; with the bundled
model every one of them is disabled and says why in one line. Real key presses, no sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.cli import main as cli_main
from desktop_app.core.engine import Engine
from desktop_app.core.settings import UserSettings
from desktop_app.gui.mainwindow import MainWindow
from desktop_app.gui.review import ReviewQueue
from desktop_app.gui.search_controller import EngineClient
from tests.conftest import SAMPLE_PHOTOS

pytest.importorskip("torch")
T = 30000
NO_TEXT = (
    "efficientnet-lite0-imagenet has no text side; install a CLIP model: lookalike models fetch clip-vit-b32-int8 "
    "(and index the catalog with it)"
)


def indexed(db: Path, model: str) -> Path:
    assert (
        cli_main(
            [
                "index",
                str(SAMPLE_PHOTOS),
                "--pattern",
                "magento",
                "--model",
                model,
                "--db",
                str(db),
                "--no-progress",
            ]
        )
        == 0
    )
    return db


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
    w = open_window(indexed(tmp_path / "clip.sqlite", "tiny-clip"))
    box, steer = w.words.box.edit, w.words.steer.edit
    assert box.isEnabled() and steer.isEnabled() and box.placeholderText().startswith("Search by words")
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "text"
    ) as got:
        type_and_enter(qtbot, box, "red hooded sweatshirt")
    outcome = got.args[0]
    assert outcome.query.text == "red hooded sweatshirt" and len(outcome.hits) == w.similar.top_k.value()
    assert w.similar.title.text() == "Articles matching “red hooded sweatshirt”"
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
    assert w.similar.title.text() == "Similar to mh01-gray + “in black” (50%)"
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
    w = open_window(indexed(tmp_path / "bundled.sqlite", "efficientnet-lite0-imagenet"))
    box, steer = w.words.box.edit, w.words.steer.edit
    assert not box.isEnabled() and not steer.isEnabled()
    assert box.toolTip() == NO_TEXT and steer.toolTip() == NO_TEXT
    assert box.placeholderText() == "Search by words needs a CLIP model"
    with qtbot.waitSignal(w.results_shown, timeout=T) as got:
        w.select_article("mh01-gray")
    assert got.args[0].query.text is None  # photo queries work as ever


def make_queue(qtbot, db: Path, client: EngineClient) -> ReviewQueue:
    engine = Engine.open(db, remember=False)
    q = ReviewQueue(engine, client, "category")
    qtbot.addWidget(q)
    with qtbot.waitSignal(q.ready, timeout=T):
        pass
    return q


def test_review_queue_offers_zero_shot_from_label_names(qtbot, clip_model, tmp_path):
    client = EngineClient(in_subprocess=False)
    q = make_queue(qtbot, indexed(tmp_path / "clip.sqlite", "tiny-clip"), client)
    try:
        names = q.zero_shot
        assert not names.isHidden() and names.edit.isEnabled() and q.model.rowCount() == 0
        assert "No article has a category label yet" in q.detail.empty_note.text()
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
    q = make_queue(qtbot, indexed(tmp_path / "bundled.sqlite", "efficientnet-lite0-imagenet"), client)
    try:
        assert (
            not q.zero_shot.isHidden()
            and not q.zero_shot.edit.isEnabled()
            and not q.zero_shot.button.isEnabled()
        )
        assert q.zero_shot.note.text() == NO_TEXT
    finally:
        q.close()
        q.engine.close()
        client.close()
