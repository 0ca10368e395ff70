"""A selected row shows its photo as it is: the selection must never tint a thumbnail.

The style paints a selected cell's icon in QIcon's Selected mode, blending the highlight colour into it; a
black backpack looked blue in the article's photo table and the review queue. Each view here gets a pure red
photo, the row is selected with a real click, and the viewport's pixels under the thumbnail must stay red.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPixmap  # noqa: E402
from PySide6.QtWidgets import QAbstractItemView  # noqa: E402

from desktop_app.core.labels import Suggestion  # noqa: E402
from desktop_app.core.storage.photos import PhotoRow  # noqa: E402
from desktop_app.gui.detail import DetailPage  # noqa: E402
from desktop_app.gui.review_detail import queue_view  # noqa: E402
from desktop_app.gui.review_model import SuggestionModel  # noqa: E402
from desktop_app.gui.thumbs import ThumbnailLoader  # noqa: E402

RED = QColor(255, 0, 0)


def red_pixmap(side: int) -> QPixmap:
    pix = QPixmap(side, side)
    pix.fill(RED)
    return pix


def click_first_row(qtbot, view: QAbstractItemView) -> None:
    view.clearSelection()
    rect = view.visualRect(view.model().index(0, 1))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.selectionModel().isRowSelected(0)


def thumbnail_colours(view: QAbstractItemView) -> list[QColor]:
    """The colours of a few pixels well inside the first row's thumbnail, as the viewport shows them."""
    image: QImage = view.viewport().grab().toImage()
    rect = view.visualRect(view.model().index(0, 0))
    side = min(view.iconSize().width(), rect.height()) // 2
    left = rect.left() + 4 + side // 2  # the icon sits at the cell's left, after the style's margin
    centre = QPoint(left + side // 2, rect.center().y())
    points = [centre, centre + QPoint(-side // 4, -side // 4), centre + QPoint(side // 4, side // 4)]
    return [image.pixelColor(p) for p in points]


def assert_red(colours: list[QColor]) -> None:
    for c in colours:
        # Thumbnails are JPEG-encoded: a pure red photo may come back a shade off, never blended with blue.
        assert c.red() >= 240 and c.green() <= 15 and c.blue() <= 15, c.name()


def test_review_queue_selection_leaves_the_cover_untinted(qtbot):
    model = SuggestionModel()
    model.cover_lookup = lambda article: red_pixmap(64)
    model.reset([Suggestion("red-bag", "bags", 0.9, [("bags", 0.9)]), Suggestion("other", "bags", 0.5)])
    view = queue_view(model)
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    click_first_row(qtbot, view)
    assert_red(thumbnail_colours(view))


def photo_row(path: Path) -> PhotoRow:
    return PhotoRow(1, "red-bag", path.name, path.name.encode(), 1, 1, None, 200, 200, None, "ok", None)


def test_article_photo_table_selection_leaves_the_photo_untinted(qtbot, tmp_path):
    Image.new("RGB", (200, 200), (255, 0, 0)).save(tmp_path / "red.png")
    thumbs = ThumbnailLoader(96, threads=1)
    try:
        photo_table_keeps_red(qtbot, thumbs, tmp_path)
    finally:
        thumbs.shutdown()


def photo_table_keeps_red(qtbot, thumbs: ThumbnailLoader, tmp_path: Path) -> None:
    page = DetailPage(thumbs)
    qtbot.addWidget(page)
    page.resize(900, 500)
    page.show()
    qtbot.waitExposed(page)
    with qtbot.waitSignal(thumbs.ready, timeout=20000):
        page.set_article("red-bag", [photo_row(tmp_path / "red.png")], tmp_path, {}, "")
    click_first_row(qtbot, page.table)
    qtbot.waitUntil(
        lambda: page.model.data(page.model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None
    )
    assert_red(thumbnail_colours(page.table))
