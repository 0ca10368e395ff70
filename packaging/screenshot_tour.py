"""The curator's tour that `screenshots.py` photographs: one round of the real app on one virtual screen.

Every step waits on the app's own signals (or on a condition it can see), never on a fixed delay alone,
and photographs the window, a dialog, or the whole screen when a menu or a second window is open.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

QUERY = "wj08-gray"  # a women's jacket with four photos (main, back, alt, alternate)


def save_small(pix, path: Path) -> None:
    """A PNG with a 256-colour palette: a third of the size, and a screen of photos still looks the same."""
    import io

    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pix.save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    small.save(path, optimize=True)


class Tour:
    def __init__(self, out: Path, work: Path, suffix: str, theme: str, size: str) -> None:
        self.out, self.work, self.suffix, self.theme = out, work, suffix, theme
        self.screen_size = tuple(int(x) for x in size.split("x"))
        self.shop = work / "luma-shop"
        self.app = None
        self.w = None

    # ------------------------------------------------------------ driving

    def pump(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def until(self, cond, what: str, timeout: float = 180.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents()
            time.sleep(0.01)

    def settle(self) -> None:
        """Let thumbnails arrive and paint."""
        self.pump(0.3)
        self.until(lambda: self.w.thumbs.pending() == 0, "thumbnails")
        self.pump(0.4)

    def shoot(self, target: QWidget | None, name: str) -> Path:
        path = self.out / f"{name}-{self.suffix}.png"
        if target is None:  # the whole screen: a menu or a second window over the main one
            pix = QGuiApplication.primaryScreen().grabWindow(0)
        else:
            pix = target.grab()
        save_small(pix, path)
        print(f"saved {path} ({pix.width()}x{pix.height()})", flush=True)
        return path

    def key(self, widget: QWidget, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        top = widget.window()
        if not top.isActiveWindow():  # keys reach the shortcuts of the active window only
            top.raise_()
            top.activateWindow()
            self.until(top.isActiveWindow, "the window to be active", timeout=10)
        widget.setFocus()
        QTest.keyClick(widget, key, modifier)
        self.pump(0.1)

    def click_result(self, row: int, double: bool = False) -> None:
        view = self.w.similar.view
        pos = view.visualRect(self.w.similar.model.index(row, 0)).center()
        view.scrollTo(self.w.similar.model.index(row, 0))
        pos = view.visualRect(self.w.similar.model.index(row, 0)).center()
        if double:
            QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        else:
            QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        self.pump(0.2)

    def search(self, article: str) -> None:
        shown = []
        self.w.results_shown.connect(shown.append)
        if self.w.selected_articles() == [article]:
            self.w.search.rerun()
        else:
            self.w.select_article(article)
        self.until(lambda: bool(shown), f"results for {article}")
        self.w.results_shown.disconnect(shown.append)
        self.settle()

    def rerun_and_wait(self, action) -> None:
        shown = []
        self.w.results_shown.connect(shown.append)
        action()
        self.until(lambda: bool(shown), "results")
        self.w.results_shown.disconnect(shown.append)
        self.settle()

    # ------------------------------------------------------------ the rounds

    def run(self, full: bool) -> int:
        from desktop_app.core.settings import UserSettings
        from desktop_app.gui.app import make_app
        from desktop_app.gui.mainwindow import MainWindow
        from desktop_app.gui.theme import apply_theme

        self.app = make_app(["lookalike"])
        apply_theme(self.app, self.theme if self.theme == "dark" else "light")
        self.w = MainWindow(UserSettings(batch_size=16, theme=self.theme))
        area = QGuiApplication.primaryScreen().availableGeometry()
        self.w.setGeometry(area)  # maximised: no window manager runs on the virtual screen
        self.w.show()
        self.until(lambda: self.w.isVisible(), "the window")
        self.pump(0.5)
        self.shoot(self.w, "welcome")
        if full:
            self.first_run()
            self.full_tour()
        else:
            self.open_existing()
            self.main_tour()
        self.w.close()
        self.app.processEvents()
        return 0

    def open_existing(self) -> None:
        from desktop_app.core.settings import last_catalog

        loaded = []
        self.w.catalog_loaded.connect(lambda: loaded.append(1))
        self.w.open_catalog(last_catalog())
        self.until(lambda: bool(loaded) and self.w.search.info is not None, "the catalog")

    def first_run(self) -> None:
        from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

        w = self.w
        w.open_folder(self.shop)
        self.until(lambda: w.catalogs.grouping_dialog is not None, "grouping dialog")
        dialog = w.catalogs.grouping_dialog
        dialog.editor.set_rule(GroupingRule("pattern", MAGENTO_PATTERN))
        self.until(lambda: dialog.model.rowCount() > 0 and "Updating" not in dialog.summary.text(), "preview")
        self.settle_dialog(dialog)
        self.shoot(dialog, "grouping")
        finished, shot = [], []

        def progress(p) -> None:
            if not shot and p.total and p.done >= p.total // 3:
                shot.append(self.shoot(w, "indexing"))

        w.index_finished.connect(finished.append)
        w.index_progress.connect(progress)
        dialog.ok.click()
        self.until(lambda: bool(finished), "indexing", timeout=900)
        self.until(lambda: w.search.info is not None, "search")
        w.banner.hide()

    def settle_dialog(self, dialog) -> None:
        self.pump(0.5)
        loader = getattr(dialog, "thumbs", None)
        if loader is not None:
            self.until(lambda: loader.pending() == 0, "dialog thumbnails")
        self.pump(0.3)

    def full_tour(self) -> None:
        w = self.w
        self.import_labels()
        self.search(QUERY)
        self.click_result(1)
        self.shoot(w, "browser")
        self.decide_results()
        self.result_menu()
        self.compare()
        self.inspector()
        self.detail_and_cover()
        self.lightbox()
        self.review()
        self.learn()
        self.settings()
        self.shortcuts()
        self.conflict()
        self.similarity_sort()
        self.filter_clears()
        self.offline()
        self.shared()
        self.tidy()

    def main_tour(self) -> None:
        w = self.w
        self.search(QUERY)
        w.similar.rejected_check.setChecked(True)
        self.settle()
        self.click_result(1)
        self.shoot(w, "browser")
        self.compare()
        self.inspector()
        self.detail_and_cover(menu=False)
        self.review()
        self.settings()
        if self.suffix == "1366":
            self.shortcuts()
            self.grouping_small()

    # ------------------------------------------------------------ steps

    def import_labels(self) -> None:
        from desktop_app.gui.labels_import_dialog import ImportLabelsDialog

        w = self.w
        dialog = ImportLabelsDialog(w.snapshot.engine, parent=w)
        dialog.set_csv(self.work / "labels.csv")
        report = dialog.apply()
        loaded = []
        w.catalog_loaded.connect(lambda: loaded.append(1))
        w.labels.imported(report)
        self.until(lambda: bool(loaded), "labels re-read")
        self.settle()
        self.shoot(w, "labels-imported")

    def decide_results(self) -> None:
        w = self.w
        view = w.similar.view
        self.click_result(0)
        decided = []
        w.decisions.decided.connect(lambda *a: decided.append(a))
        self.key(view, Qt.Key.Key_2)  # look-alike: another colour of the same style
        self.until(lambda: bool(decided), "the decision")
        row = next(i for i, h in enumerate(w.similar.model.hits) if not h.article.startswith("wj08"))
        self.click_result(row)
        self.rerun_and_wait(lambda: self.key(view, Qt.Key.Key_3))  # not a match: it leaves the list
        self.rerun_and_wait(lambda: w.similar.rejected_check.setChecked(True))
        view.scrollToTop()
        self.click_result(1)
        self.shoot(w, "decisions")

    def result_menu(self) -> None:
        w = self.w
        view = w.similar.view
        rect = view.visualRect(w.similar.model.index(1, 0))
        w.articles.result_menu(w.similar.model.hits[1].article, view.viewport().mapToGlobal(rect.center()))
        self.pump(0.5)
        self.shoot(None, "result-menu")
        w.articles.menu.close()
        self.pump(0.2)

    def compare(self) -> None:
        w = self.w
        self.click_result(1)
        self.key(w.similar.view, Qt.Key.Key_Space)
        box = w.articles.lightbox
        # Photos on show, and what differs outlined (another colour of one shot) or known not to be.
        self.until(lambda: box.is_shown() and not box.runner.busy(), "compare photos")
        self.pump(0.4)
        self.shoot(box, "compare")
        box.close()
        self.pump(0.2)

    def inspector(self) -> None:
        w = self.w
        self.click_result(0)
        self.key(w.similar.view, Qt.Key.Key_Return)  # (a double-click does the same)
        ins = w.inspector_window
        self.until(lambda: ins.inspector is not None or ins.message is not None, "inspector")
        if ins.inspector is not None:
            self.until(lambda: ins.inspector.thumbnails_pending == 0, "inspector thumbnails")
            pane = ins.inspector.panes[0].view
            pane_rect = pane.visualRect(ins.inspector.panes[0].model.index(0, 0))
            QTest.mouseMove(pane.viewport(), pane_rect.center())
        self.pump(0.8)
        self.shoot(ins, "inspector")
        ins.close()
        self.pump(0.2)

    def detail_and_cover(self, menu: bool = True) -> None:
        w = self.w
        loaded = []
        w.detail_loaded.connect(loaded.append)
        w.open_detail(QUERY)
        self.until(lambda: bool(loaded), "detail")
        self.settle()
        self.shoot(w, "detail")
        if not menu:
            w.close_detail()
            return
        table = w.detail.table
        row = next(i for i, r in enumerate(w.detail.model.rows) if r.view == "back")
        rect = table.visualRect(w.detail.model.index(row, 0))
        table.selectRow(row)
        w.articles.photo_menu(
            QUERY,
            w.detail.model.rows[row].path,
            w.detail.chosen_cover,
            table.viewport().mapToGlobal(rect.center()),
        )
        self.pump(0.5)
        self.shoot(None, "cover-menu")
        action = next(a for a in w.articles.menu.actions() if a.text() == "Use as cover")
        w.articles.menu.close()
        loaded.clear()
        action.trigger()
        self.until(lambda: bool(loaded), "the new cover")
        w.close_detail()
        w.grid_panel.select_article(QUERY)
        self.settle()
        self.shoot(w, "cover-changed")

    def lightbox(self) -> None:
        w = self.w
        w.grid_panel.select_article("mh01-gray")
        self.key(w.grid, Qt.Key.Key_Space)
        self.until(lambda: w.articles.lightbox is not None and w.articles.lightbox.index >= 0, "lightbox")
        box = w.articles.lightbox
        self.until(box.is_shown, "the photo")
        self.pump(0.4)
        self.shoot(box, "lightbox")
        box.close()

    def review(self) -> None:
        w = self.w
        queue = w.labels.open_review()
        ready = []
        queue.ready.connect(lambda: ready.append(1))
        self.until(lambda: bool(ready), "review queue", timeout=300)
        self.pump(0.5)
        self.until(
            lambda: queue.thumbs.pending() == 0 if hasattr(queue, "thumbs") else True, "review thumbnails"
        )
        self.pump(0.8)
        self.shoot(queue, "review")
        queue.close()

    def learn(self) -> None:
        w = self.w
        dialog = w.decisions.open_adapter_dialog()
        self.pump(0.5)
        dialog.train()
        self.until(lambda: dialog.job is None, "learning", timeout=300)
        self.pump(0.5)
        self.shoot(dialog, "learn")
        dialog.close()
        self.pump(0.5)

    def settings(self) -> None:
        w = self.w
        w.open_settings()
        sd = w.settings_dialog
        self.until(lambda: sd.model_combo.isEnabled(), "model list")
        self.pump(0.3)
        self.shoot(sd, "settings")
        sd.reject()

    def shortcuts(self) -> None:
        w = self.w
        w.show_shortcuts()
        self.pump(0.4)
        self.shoot(w.shortcut_sheet, "shortcuts")
        w.shortcut_sheet.close()

    def conflict(self) -> None:
        """Another curator decides a pair this window shows as undecided; deciding it here names them."""
        w = self.w
        self.search(QUERY)
        row = next(i for i, h in enumerate(w.similar.model.hits) if h.decision is None)
        hit = w.similar.model.hits[row].article
        w.snapshot.engine.catalog.decide([(QUERY, hit, "same")], curator="anna")
        self.click_result(row)
        self.key(w.similar.view, Qt.Key.Key_3)
        self.until(
            lambda: w.decisions.conflict_box is not None and w.decisions.conflict_box.isVisible(), "conflict"
        )
        self.pump(0.5)
        self.shoot(None, "conflict")
        w.decisions.conflict_box.close()
        self.pump(0.2)

    def similarity_sort(self) -> None:
        w = self.w
        w.set_zoom(96)
        combo = w.grid_panel.sort_combo
        combo.setCurrentIndex(combo.findData("similar"))
        self.until(lambda: w.grid_model.sort_key == "similar", "similarity order")
        w.grid.scrollToTop()
        self.settle()
        self.shoot(w, "similarity-sort")
        combo.setCurrentIndex(combo.findData("name"))
        w.set_zoom(160)

    def filter_clears(self) -> None:
        w = self.w
        self.search(QUERY)
        QTest.keyClicks(w.filter_edit, "label:bags")
        self.until(lambda: w.search.query is None, "the panel to clear")
        self.settle()
        self.shoot(w, "filter-cleared")
        w.filter_edit.clear()
        self.pump(0.5)

    def offline(self) -> None:
        w = self.w
        location = w.snapshot.location
        w.close_catalog()
        away = self.shop.with_name("luma-shop-unplugged")
        self.shop.rename(away)
        try:
            loaded = []
            w.catalog_loaded.connect(lambda: loaded.append(1))
            w.open_catalog(location)
            self.until(lambda: bool(loaded), "the catalog, offline")
            self.search(QUERY)
            self.shoot(w, "offline")
            w.close_catalog()
        finally:
            away.rename(self.shop)
        self.pump(0.3)
        self.shoot(w, "welcome-recent")

    def shared(self) -> None:
        w = self.w
        w.catalogs.choose_shared()
        dialog = w.catalogs.shared_dialog
        QTest.keyClicks(dialog.url, "postgresql+psycopg://anna@catalog-server:5432/luma")
        self.pump(0.3)
        self.shoot(dialog, "shared")
        dialog.reject()

    def tidy(self) -> None:
        """The next rounds show the catalog by the model's own similarity, wj08-gray by its main photo."""
        w = self.w
        loaded = []
        w.catalog_loaded.connect(lambda: loaded.append(1))
        from desktop_app.core.settings import last_catalog

        w.open_catalog(last_catalog())
        self.until(lambda: bool(loaded), "the catalog")
        engine = w.snapshot.engine
        engine.set_cover(QUERY, None)
        engine.use_adapter(False)
        w.close_catalog()

    def grouping_small(self) -> None:
        """The grouping dialog for a new folder, on the small screen."""
        import shutil

        folder = self.work / "new-season"
        if not folder.exists():
            shutil.copytree(self.shop / "m" / "j", folder)
        w = self.w
        w.open_folder(folder)
        self.until(
            lambda: w.catalogs.grouping_dialog is not None and w.catalogs.grouping_dialog.folder == folder,
            "grouping dialog",
        )
        dialog = w.catalogs.grouping_dialog
        self.until(lambda: dialog.model.rowCount() > 0 and "Updating" not in dialog.summary.text(), "preview")
        self.settle_dialog(dialog)
        self.shoot(dialog, "grouping")
        dialog.reject()


__all__ = ["QUERY", "Tour"]
