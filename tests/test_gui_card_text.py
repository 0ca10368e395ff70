"""Issue 12's curator probe, second round: card names that keep the colour telling articles apart, a Set label
dialog that does not save half-typed values, one number format in the inspector, and panels that fit a
1366x768 screen. Each through the real window and real input events."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop_app.gui.grid_panel import ZOOM_SIZES
from desktop_app.gui.models import ArticleRole
from tests.conftest import write_photo
from tests.test_gui import T, open_and_index
from tests.test_gui_curator import answer_dialog

# Names as the Magento catalogue spells them: a style code, then the colour that tells the articles apart.
MAGENTO_NAMES = (
    "mh01-orange",
    "mh01-gray",
    "mh02-orange",
    "wsh05-purple",
    "wsh05-yellow",
    "luma-stability-ball",
    "mp06-blue",
    "mp06-green",
)


def magento_tree(root: Path) -> Path:
    for a, name in enumerate(MAGENTO_NAMES):
        for p in range(2):
            write_photo(root / name / f"p{p}.jpg", ((a * 40) % 255, (a * 90) % 255, 120), seed=a * 10 + p)
    return root


def painted_texts(view, delegate, index) -> list[str]:
    """Every string the delegate draws for the card at `index`, at the size the view gives it."""
    drawn: list[str] = []

    class Recording(QPainter):
        def drawText(self, *args):
            drawn.extend(a for a in args if isinstance(a, str))
            return super().drawText(*args)

    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(index)
    image = QImage(option.rect.size(), QImage.Format.Format_RGB32)
    option.rect.moveTo(0, 0)
    painter = Recording(image)
    delegate.render(painter, option, index)
    painter.end()
    return drawn


def keeps_both_ends(text: str, article: str) -> bool:
    """The drawn name shows the article's colour (after its last '-') whole, and begins as the article does."""
    tail = article.rsplit("-", 1)[1]
    text = text.split(". ", 1)[1] if text[:1].isdigit() and ". " in text else text  # a rank drawn with it
    return text.endswith(tail) and article.startswith(text[:2]) and len(text) >= len(tail) + 2


def test_result_and_grid_names_keep_their_colour_at_1366(qtbot, window, tmp_path):
    w = window()
    open_and_index(qtbot, w, magento_tree(tmp_path / "photos"))
    w.resize(1366, 768)
    engine = w.catalogs.engine
    engine.set_labels(["mh01-gray", "mh02-orange"], "category", "men-hoodies-and-sweatshirts")
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article("mh01-orange")
    cut: list[str] = []
    for step in ("default", "smallest"):
        if step == "smallest":
            w.grid_panel.zoom.setFocus()
            qtbot.keyClick(w.grid_panel.zoom, Qt.Key.Key_Home)
            qtbot.waitUntil(lambda: w.similar.delegate.thumb_size == ZOOM_SIZES[0], timeout=T)
        view, model, delegate = w.similar.view, w.similar.model, w.similar.delegate
        model.set_decision("mh01-gray", "alike")  # a decision badge must not cut the label either
        assert model.rowCount() >= 5
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            article = index.data(ArticleRole)
            drawn = painted_texts(view, delegate, index)
            assert any(keeps_both_ends(t, article) for t in drawn), (article, drawn)
            tip = index.data(Qt.ItemDataRole.ToolTipRole)
            assert article in tip and "label" in tip
            if article in ("mh01-gray", "mh02-orange"):
                assert any(t.endswith("sweatshirts") for t in drawn), drawn
            if article == "mh01-gray":
                assert "look-alike" in drawn
            cut += [t for t in drawn if "…" in t]
        grid = w.grid_panel
        for row in range(grid.model.rowCount()):
            index = grid.model.index(row, 0)
            drawn = painted_texts(w.grid, w.grid.itemDelegate(), index)
            assert any(keeps_both_ends(t, index.data(ArticleRole)) for t in drawn), drawn
            cut += [t for t in drawn if "…" in t]
    assert any(t.startswith("luma-") and t.endswith("…ball") for t in cut), (
        cut
    )  # the test did meet names too long for their card


def test_a_cut_name_keeps_its_style_code_and_its_colour(qtbot):

    from desktop_app.gui.delegates import article_name

    fm = QFontMetrics(QFont())
    for name in ("mh01-orange", "wsh05-purple", "luma-stability-ball", "mp03-womens-training-shorts-orange"):
        for width in range(
            fm.horizontalAdvance("…" + name.rsplit("-", 1)[1]), fm.horizontalAdvance(name) + 1
        ):
            cut = article_name(fm, name, width)
            assert fm.horizontalAdvance(cut) <= width and cut.endswith(name.rsplit("-", 1)[1]), (cut, width)
    wide = fm.horizontalAdvance("mh01-…orange")
    assert article_name(fm, "mh01-womens-hoodie-orange", wide) == "mh01-…orange"
    cut = article_name(fm, "supplier-a/2024/summer/wt09-yellow", fm.horizontalAdvance("…/wt09-yellow"))
    assert cut == "…/wt09-yellow"


# ----------------------------------------------------------------------------- Set label (Ctrl+E)


def close_if_open(dialog) -> None:
    """A dialog the keys left open would block the test in exec(): close it (with any box it shows), so the
    test fails on what was saved instead of hanging."""
    from PySide6.QtWidgets import QApplication

    modal = QApplication.activeModalWidget()
    if modal is not None and modal is not dialog:
        modal.close()
    if dialog.isVisible():
        dialog.reject()


def test_set_label_takes_the_offer_and_asks_before_a_new_value(qtbot, window, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    w = window()
    open_and_index(qtbot, w, magento_tree(tmp_path / "photos"))
    engine = w.catalogs.engine
    engine.set_labels(["mh01-gray"], "category", "men-hoodies")
    engine.set_labels(["wsh05-purple"], "category", "women-shorts")
    w.select_articles(["mh01-orange"])

    def half_typed_then_enter_twice(dialog) -> None:
        edit = dialog.value_box.lineEdit()
        qtbot.keyClicks(edit, "men-hoo")
        popup = dialog.value_box.completer().popup()
        qtbot.waitUntil(popup.isVisible, timeout=T)
        qtbot.keyClick(popup, Qt.Key.Key_Return)  # nothing highlighted: the first offer is taken
        qtbot.keyClick(edit, Qt.Key.Key_Return)  # (the dialog is closed by then; a no-op if so)
        close_if_open(dialog)

    answer_dialog(qtbot, half_typed_then_enter_twice)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.labels.set_label()
    assert engine.labels("category")["mh01-orange"] == {"category": "men-hoodies"}
    assert w.statusBar().currentMessage() == "Set category \u201cmen-hoodies\u201d on 1 article."

    # A value no article has: a question, No by default; a second Enter does not save it.
    asked: list[str] = []

    def new_value(dialog) -> None:
        edit = dialog.value_box.lineEdit()
        edit.selectAll()
        qtbot.keyClicks(edit, "men-hoox")
        assert dialog.new_note.isVisible() and "no article has it yet" in dialog.new_note.text()
        qtbot.keyClick(edit, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda: dialog.new_value_box is not None and dialog.new_value_box.isVisible(), timeout=T
        )
        box = dialog.new_value_box
        asked.append(box.text())
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        qtbot.keyClick(box, Qt.Key.Key_Return)  # the second Enter: No
        qtbot.waitUntil(lambda: not box.isVisible(), timeout=T)
        assert dialog.isVisible() and engine.labels("category")["mh01-orange"] == {"category": "men-hoodies"}
        qtbot.keyClick(edit, Qt.Key.Key_Return)  # asked again; this time Yes
        qtbot.waitUntil(
            lambda: dialog.new_value_box is not box and dialog.new_value_box.isVisible(), timeout=T
        )
        qtbot.mouseClick(
            dialog.new_value_box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton
        )

    answer_dialog(qtbot, new_value)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.labels.set_label()
    assert asked == ["\u201cmen-hoox\u201d is a new category value \u2014 no article has it yet. Use it?"]
    assert engine.labels("category")["mh01-orange"] == {"category": "men-hoox"}
    assert w.statusBar().currentMessage() == "Set category \u201cmen-hoox\u201d on 1 article."


# ----------------------------------------------------------------------------- inspector numbers


def test_inspector_writes_every_similarity_one_way_and_a_1x1_matrix_has_no_made_up_scale(qtbot):
    import re

    from desktop_app.gui.inspector import InspectorWidget, inspection_from_matrix

    w = InspectorWidget(inspection_from_matrix([[0.969, 0.71], [0.5, 0.83]]), method="greedy")
    qtbot.addWidget(w)
    w.resize(1366, 700)
    w.show()
    qtbot.waitExposed(w)
    view = w.panes[0].view
    qtbot.mouseMove(view.viewport(), view.visualRect(view.model().index(0, 0)).center())
    qtbot.waitUntil(lambda: "969" in w.hover.score.text(), timeout=T)
    shown = " ".join(
        [w.hover.score.text(), w.panes[0].summary.text(), *(t for _, t in w.legend.scale_labels())]
    )
    numbers = re.findall(r"-?\d*\.\d+", re.sub(r"<[^>]+>", " ", shown))
    assert numbers and all(re.fullmatch(r"-?\d\.\d{3}", n) for n in numbers), numbers
    cells = [view.model().index(r, c).data() for r in range(2) for c in range(2)]
    assert all(re.fullmatch(r"-?\.\d{3}", t) for t in cells), cells  # every cell alike, without the 0

    one = InspectorWidget(inspection_from_matrix([[0.83]]), method="greedy")
    qtbot.addWidget(one)
    one.show()
    qtbot.waitExposed(one)
    assert one.legend.scale_labels() == [(0.0, "every pair: 0.830")]  # not ".805 … .855"


# ----------------------------------------------------------------------------- room at 1366 and 1920


def test_search_controls_keep_their_size_and_the_filter_hint_fits(qtbot, window, tmp_path):
    w = window()
    open_and_index(qtbot, w, magento_tree(tmp_path / "photos"))
    for width, height in ((1920, 1080), (1366, 768)):
        w.resize(width, height)
        qtbot.waitUntil(lambda wanted=width: w.width() == wanted, timeout=T)
        panel = w.similar
        for spin in (panel.threshold, panel.max_matches, panel.top_k):
            assert spin.width() <= 90, (width, spin.width())  # was ~150 px around "off" at 1920
        edit = w.grid_panel.filter_edit
        hint = QFontMetrics(edit.font()).horizontalAdvance(edit.placeholderText())
        assert hint + 24 <= edit.width(), (width, hint, edit.width())  # the whole hint shows
