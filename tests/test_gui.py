"""The main window on the offscreen platform: open a folder, index, cancel and resume, browse, filter, search,
detail, drop files, settings, keyboard and error dialogs. Waits on signals, never sleeps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from desktop_app.core.engine import Engine
from desktop_app.core.errors import CatalogError
from desktop_app.core.paths import default_catalog_path
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.settings import SearchSettings, UserSettings
from desktop_app.core.storage import Catalog
from desktop_app.gui import article_actions, index_controller, indexing
from desktop_app.gui.mainwindow import MainWindow
from desktop_app.gui.models import LabelRole, PairsRole
from desktop_app.gui.settings_dialog import SettingsDialog
from tests.conftest import hold_indexing, write_photo

T = 30000  # generous signal timeout (ms): CI machines can be slow; tests finish far sooner


def open_and_index(
    qtbot, w: MainWindow, folder: Path, rule: GroupingRule | None = None, index_now: bool = True
):
    w.open_folder(folder)
    qtbot.waitUntil(lambda: w.catalogs.grouping_dialog is not None, timeout=T)
    dialog = w.catalogs.grouping_dialog
    qtbot.waitUntil(lambda: dialog.model.rowCount() > 0, timeout=T)
    if rule is not None:
        dialog.editor.set_rule(rule)
        qtbot.waitUntil(lambda: all(r.article != folder.name for r in dialog.model.rows), timeout=T)
    dialog.index_now.setChecked(index_now)
    if index_now:
        with qtbot.waitSignals([w.index_finished, w.search_ready], timeout=T):
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    else:
        with qtbot.waitSignal(w.catalog_loaded, timeout=T):
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    return dialog


def big_tree(root: Path, articles: int = 12, per: int = 4) -> Path:
    for a in range(articles):
        for p in range(per):
            write_photo(
                root / f"art{a:02d}" / f"p{p}.jpg", ((a * 40) % 255, (a * 90) % 255, 120), seed=a * 10 + p
            )
    return root


def test_welcome_screen_without_a_catalog(qtbot, window):
    w = window()
    w.open_catalog(None)  # no catalog used before: stays on the welcome screen
    qtbot.waitUntil(lambda: w.catalogs.runner.pool.activeThreadCount() == 0, timeout=T)
    assert w.stack.currentWidget() is w.welcome
    assert w.welcome.folder_btn.isVisible() and w.welcome.folder_btn.text() == "Open photo folder…"
    assert not w.acts.update.isEnabled()
    # Nothing to go back to and no thumbnails to size: Back and zoom are off, and Ctrl++ changes nothing
    # (it used to resize the next catalog's thumbnails unseen).
    assert not any(a.isEnabled() for a in (w.acts.back, w.acts.zoom_in, w.acts.zoom_out))
    size = w.user.thumb_size
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=T)
    for key in (Qt.Key.Key_Plus, Qt.Key.Key_Minus):
        qtbot.keyClick(w.welcome, key, Qt.KeyboardModifier.ControlModifier)
    assert w.user.thumb_size == size and w.grid_panel.delegate.thumb_size == size


def test_open_folder_index_select_and_see_similar(qtbot, window, photo_tree):
    w = window(children=True)
    dialog = open_and_index(qtbot, w, photo_tree)
    assert "form 3 articles" in dialog.summary.text()
    assert w.stack.currentWidget() is w.splitter
    assert w.grid_model.rowCount() == 3
    assert w.last_summary.embedded == 7 and not w.last_summary.cancelled
    status = w.status
    assert "3 articles" in status.catalog_label.text() and "7 photos" in status.catalog_label.text()
    assert "tiny-test" in status.model_label.text() and "fp32" in status.model_label.text()
    # The device the engine child's session really got, not a prediction.
    assert w.search.info.device in ("CPU", "CUDA")
    assert status.device_label.text() == f"Device: {w.search.info.device}"
    assert status.state_label.text() == "Index: up to date"
    assert "Indexing finished" in w.banner.title.text()
    # select an article: its similar articles appear, the query itself is not among them
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article("red")
    outcome = blocker.args[0]
    assert outcome.query.articles == ["red"]
    assert {h.article for h in outcome.hits} == {"green", "shoes/blue"}
    # Pair paths are relative to the photo folder; the panel's model joins them with it.
    assert all(h.pairs and (photo_tree / h.pairs[0].query_path).exists() for h in outcome.hits)
    pairs = w.similar.model.index(0, 0).data(PairsRole)
    assert pairs and Path(pairs[0][0]).is_absolute() and Path(pairs[0][0]).exists()
    assert w.similar.model.rowCount() == 2 and "most similar" in w.similar.status.text()
    # Clicking a result selects it in the panel and keeps the query; "Show in catalog" jumps the grid to it
    # (and asks for its own similar articles). Defect 1 of issue 12: the click used to re-run the search.
    first = w.similar.model.index(0, 0)
    hit = first.data()
    qtbot.mouseClick(
        w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=w.similar.view.visualRect(first).center()
    )
    assert w.similar.selected_hit() == hit and w.search.query.articles == ["red"]
    assert w.selected_articles() == ["red"] and w.similar.inspect_btn.isEnabled()
    with qtbot.waitSignal(w.results_shown, timeout=T):
        qtbot.mouseClick(w.similar.goto_btn, Qt.MouseButton.LeftButton)
    assert w.selected_articles() == [hit]
    # several articles at once
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_articles(["red", "green"])
    assert {h.article for h in blocker.args[0].hits} == {"shoes/blue"}
    # Inspect match opens the inspector on the query and the selected hit (Ctrl+I)
    w.similar.view.setCurrentIndex(w.similar.model.index(0, 0))
    assert w.similar.inspect_btn.isEnabled()
    hit, before = w.similar.selected_hit(), w.inspector_window
    with qtbot.waitActive(w, timeout=T):
        w.activateWindow()
    qtbot.keyClick(w.grid, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    # Of two query articles, the one closer to the result is compared, and the title says so.
    qtbot.waitUntil(lambda: w.inspector_window is not before, timeout=T)
    inspector = w.inspector_window
    query = w.snapshot.engine.closest_query_article(["red", "green"], hit).article
    assert inspector.isVisible()
    assert inspector.windowTitle().endswith(f"{query} vs {hit}, the closest of the 2 query articles")
    if inspector.inspector is None and inspector.message is None:
        with qtbot.waitSignal(inspector.ready, timeout=T):
            pass
    assert inspector.inspector is not None and inspector.inspector.inspection.article_b == hit
    inspector.close()
    # The review queue asks the same engine child for its suggestions (nothing is loaded in this process).
    w.snapshot.engine.set_labels(["red"], "category", "tops")  # two values: suggestions can choose
    w.snapshot.engine.set_labels(["green"], "category", "greens")
    queue = w.labels.open_review()
    assert queue.client is w.search.client and w.search.client.in_subprocess
    with qtbot.waitSignal(queue.ready, timeout=T):
        pass
    assert [e.article for e in queue.model.entries()] == ["shoes/blue"]
    queue.close()


def test_cancel_then_resume_with_update_index(qtbot, window, tmp_path, monkeypatch):
    folder = big_tree(tmp_path / "photos")
    reached, gate = hold_indexing(monkeypatch, wait_s=10)  # after the first committed batch
    w = window(batch_size=4)
    open_and_index(qtbot, w, folder, index_now=False)
    assert w.status.state_label.text() == "Index: not indexed"
    with qtbot.waitSignal(w.index_finished, timeout=T) as blocker:
        w.update_index()
        qtbot.waitUntil(reached.is_set, timeout=T)
        assert w.banner.isVisible() and w.banner.cancel.isEnabled()
        qtbot.mouseClick(w.banner.cancel, Qt.MouseButton.LeftButton)
        gate.set()
    summary = blocker.args[0]
    assert summary.cancelled and 0 < summary.embedded < 48
    qtbot.waitUntil(lambda: w.status.state_label.text() == "Index: incomplete", timeout=T)
    assert "Update index resumes" in w.banner.detail.text()
    with qtbot.waitSignal(w.index_finished, timeout=T) as blocker:
        w.acts.update.trigger()
    resumed = blocker.args[0]
    assert not resumed.cancelled and resumed.embedded == 48 - summary.embedded
    qtbot.waitUntil(lambda: w.status.state_label.text() == "Index: up to date", timeout=T)


def test_indexing_runs_in_a_child_process_and_can_be_cancelled_and_resumed(qtbot, window, tmp_path):
    folder = big_tree(tmp_path / "photos", articles=6, per=3)
    w = window(children=True, batch_size=2)
    assert w.indexer.in_subprocess
    open_and_index(qtbot, w, folder, index_now=False)
    with qtbot.waitSignal(w.index_finished, timeout=T) as blocker:
        w.update_index()
        assert w.indexer.task.process.is_alive() or w.indexer.task.process.exitcode is not None
        w.cancel_index()  # before the child has even scanned: it stops at its first check
    assert blocker.args[0].cancelled and blocker.args[0].embedded == 0
    qtbot.waitUntil(lambda: w.indexer.task is None and w.acts.update.isEnabled(), timeout=T)
    progress = []
    w.index_progress.connect(progress.append)
    with qtbot.waitSignal(w.index_finished, timeout=T) as blocker:
        w.update_index()
    assert not blocker.args[0].cancelled and blocker.args[0].embedded == 18
    assert progress and progress[-1].done == progress[-1].total == 18
    qtbot.waitUntil(lambda: w.status.state_label.text() == "Index: up to date", timeout=T)


def test_progress_text_and_summary_dialog_with_skipped_files(qtbot, window, photo_tree):
    (photo_tree / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    w = window()
    open_and_index(qtbot, w, photo_tree)
    assert w.last_summary.skipped
    assert "1 skipped" in w.banner.detail.text()
    w.banner.details.click()
    dialog = w.indexer.summary_dialog
    assert dialog.isVisible() and dialog.model.rowCount() == 1
    assert dialog.model.data(dialog.model.index(0, 0)) == "red/broken.jpg"
    dialog.close()
    p = indexing.Progress(50, 200, 12.5, 12.0)
    assert indexing.progress_text(p) == "50 of 200 photos · 12.5 photos/s · about 12 s left"
    assert indexing.format_eta(3700) == "about 1 h 01 min left"


def test_implausible_folder_grouping_gets_the_cores_hint(qtbot, window, tmp_path):
    # One folder of 13 products named <article>_<view>.jpg: by folder it is one article of 26 photos.
    shop = tmp_path / "shop"
    for a in range(13):
        for view in ("main", "back"):
            write_photo(shop / "w" / "b" / f"wb{a:02d}-blue_{view}.jpg", (20 * a, 90, 160), seed=a)
    w = window()
    open_and_index(qtbot, w, shop, rule=GroupingRule("folder"))
    assert w.last_summary.advice and "--pattern magento" in w.last_summary.advice
    assert "--pattern magento" in w.banner.detail.text() and "Settings" in w.banner.detail.text()


def test_filter_sort_keyboard_and_detail(qtbot, window, photo_tree, monkeypatch):
    opened = []
    monkeypatch.setattr(article_actions, "open_external", lambda p: opened.append(("open", p)) or True)
    monkeypatch.setattr(
        article_actions, "reveal_in_file_manager", lambda p: opened.append(("reveal", p)) or True
    )
    w = window()
    open_and_index(qtbot, w, photo_tree)
    with qtbot.waitActive(w, timeout=T):
        w.activateWindow()
    # Ctrl+F focuses the filter box; typing filters after a short pause
    qtbot.keyClick(w.grid, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.filter_edit.hasFocus()
    qtbot.keyClicks(w.filter_edit, "shoes")
    qtbot.waitUntil(lambda: w.grid_model.rowCount() == 1, timeout=T)
    panel = w.grid_panel
    assert panel.count_label.text() == "1 of 3 articles"
    w.filter_edit.setText("no such article")
    qtbot.waitUntil(lambda: panel.stack.currentWidget() is panel.empty_label, timeout=T)
    assert "No article matches" in panel.empty_label.text()
    w.filter_edit.clear()
    qtbot.waitUntil(lambda: w.grid_model.rowCount() == 3, timeout=T)
    panel.sort_combo.setCurrentIndex(panel.sort_combo.findData("folder"))
    assert w.grid_model.sort_key == "folder"
    # arrows move the selection
    w.grid.setFocus()
    w.select_article("green")
    with qtbot.waitSignal(w.results_shown, timeout=T):
        qtbot.keyClick(w.grid, Qt.Key.Key_Right)
    assert w.selected_articles() != ["green"]
    # Delete never deletes anything
    chosen = w.selected_articles()[0]
    files_before = sorted(p for p in photo_tree.rglob("*") if p.is_file())
    qtbot.keyClick(w.grid, Qt.Key.Key_Delete)
    assert "never deletes" in w.statusBar().currentMessage()
    assert sorted(p for p in photo_tree.rglob("*") if p.is_file()) == files_before
    assert w.grid_model.row_of(chosen) >= 0
    # Enter opens the detail with every photo, view tag and path
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        qtbot.keyClick(w.grid, Qt.Key.Key_Return)
    assert w.pages.currentWidget() is w.detail
    n = w.detail.model.rowCount()
    assert n == len(list((photo_tree / chosen).glob("*.jpg")))
    assert w.detail.model.data(w.detail.model.index(0, 4)).startswith(chosen + "/")
    # the article stays the query until a photo is picked; a photo clicked becomes the query
    assert w.search.query.kind == "articles" and w.search.query.articles == [chosen]
    table = w.detail.table
    pos = table.visualRect(w.detail.model.index(n - 1, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: w.search.query is not None and w.search.query.kind == "photo", timeout=T)
    w.detail.open_btn.click()
    w.detail.reveal_btn.click()
    assert [kind for kind, _ in opened] == ["open", "reveal"]
    assert opened[0][1].exists()
    # Esc goes back to the grid
    qtbot.keyClick(w.detail.table, Qt.Key.Key_Escape)
    assert w.pages.currentIndex() == 0


def test_drop_photos_from_the_file_manager(qtbot, window, photo_tree, tmp_path):
    w = window(children=True)
    open_and_index(qtbot, w, photo_tree)
    outside = write_photo(tmp_path / "outside" / "query.jpg", (200, 30, 30), seed=77)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside)), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(
        w.results_shown, timeout=T, check_params_cb=lambda o: o.query.kind == "files"
    ) as blocker:
        w.dropEvent(event)
    outcome = blocker.args[0]
    assert outcome.query.kind == "files" and outcome.query.files == [outside]
    assert len(outcome.hits) == 3  # nothing is excluded: the photo is not in the catalog
    assert outcome.hits[0].pairs[0].query_path == str(outside)  # query files keep their absolute path
    assert "query.jpg" in w.similar.title.text()


def test_similar_controls_rerun_and_persist_per_catalog(qtbot, window, photo_tree):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article("red")
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.similar.method.setCurrentIndex(w.similar.method.findData("centroid"))
    assert blocker.args[0].method == "centroid"
    assert not w.similar.threshold.isEnabled()  # s and m do not apply to the centroid
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.similar.method.setCurrentIndex(w.similar.method.findData("greedy"))
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.similar.threshold.setValue(0.99)
    outcome = blocker.args[0]
    assert outcome.params == SearchSettings("greedy", 0.99, None, w.similar.top_k.value())
    assert outcome.hits == [] or all(h.score >= 0.99 or h.score == 0.0 for h in outcome.hits)
    # The edit was stored in the catalog before the search that used it: one store, read by everyone.
    with Engine.open(w.snapshot.path, remember=False) as other:
        assert other.settings().search == outcome.params


def test_similar_panel_uses_the_catalogs_tuned_search_settings(qtbot, window, photo_tree):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    db = w.snapshot.path
    # `lookalike tune` (another process) stores hungarian s=0.6 m=2 as the catalog's search settings.
    with Engine.open(db, remember=False) as tune:
        tune.update_settings(search=SearchSettings("hungarian", 0.6, 2))
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article("red")
    used = blocker.args[0].params
    assert (used.method, used.threshold, used.max_matches) == ("hungarian", 0.6, 2)
    assert w.similar.params() == used  # the controls show what the engine used
    assert w.similar.method.currentData() == "hungarian" and w.similar.max_matches.value() == 2
    # A window opened later shows the stored settings before any search.
    w.shutdown()
    w2 = window()
    with qtbot.waitSignal(w2.catalog_loaded, timeout=T):
        w2.open_catalog(db)
    assert w2.similar.params() == SearchSettings("hungarian", 0.6, 2)


def test_the_inspector_uses_and_stores_the_catalogs_search_settings(qtbot, window, photo_tree):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    w.snapshot.engine.update_settings(search=SearchSettings("hungarian", 0.6, 2))
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article("red")
    w.inspect("green")
    window = w.inspector_window
    with qtbot.waitSignal(window.ready, timeout=T):
        pass
    ins = window.inspector
    assert ins.panes[0].method == "hungarian"
    assert (ins.inspection.threshold, ins.inspection.max_matches) == (0.6, 2)
    assert ins.s_spin.value() == pytest.approx(0.6) and ins.m_spin.value() == 2
    # Moving s in the inspector stores it as the catalog's; the similar panel searches with it next.
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        ins.s_spin.setValue(0.5)
    assert blocker.args[0].params.threshold == pytest.approx(0.5)
    assert w.similar.threshold.value() == pytest.approx(0.5)
    assert w.snapshot.engine.settings().search.threshold == pytest.approx(0.5)
    window.close()


def test_stale_selection_results_are_dropped(qtbot, window, tmp_path):
    w = window()
    open_and_index(qtbot, w, big_tree(tmp_path / "photos"))
    shown = []
    w.results_shown.connect(lambda o: shown.append(o.query.articles))
    for a in ["art01", "art02", "art03", "art04", "art05"]:
        w.select_article(a)
    qtbot.waitUntil(lambda: bool(shown) and shown[-1] == ["art05"], timeout=T)
    qtbot.waitUntil(lambda: w.search.lane._running is None, timeout=T)
    assert shown[-1] == ["art05"]
    assert len(shown) <= 2  # the one already running may finish; it is dropped unless it is the newest
    assert all(s == ["art05"] for s in shown)


def test_settings_dialog_persists_per_user_and_per_catalog(qtbot, window, photo_tree):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    w.open_settings()
    dialog: SettingsDialog = w.settings_dialog
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.model_combo.isEnabled(), timeout=T)
    names = [dialog.model_combo.itemData(i) for i in range(dialog.model_combo.count())]
    assert "efficientnet-lite0-imagenet" in names  # the bundled model is listed under its real name
    dialog.batch.setValue(8)
    dialog.thumb.setCurrentIndex(dialog.thumb.findData(128))
    dialog.rule.set_rule(GroupingRule("pattern", MAGENTO_PATTERN))
    dialog.mirror.setChecked(True)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    saved = UserSettings.load()
    assert saved.batch_size == 8 and saved.thumb_size == 128
    assert saved.recent  # the recent catalogs survive the settings dialog
    assert w.thumbs.size == 128 and w.user.batch_size == 8
    assert w.snapshot.settings.grouping == GroupingRule("pattern", MAGENTO_PATTERN)
    assert w.snapshot.settings.mirror
    box = next(b for b in w._dialogs if isinstance(b, QMessageBox))
    assert "Update index" in box.button(QMessageBox.StandardButton.Yes).text()
    box.close()


def test_the_curator_names_themselves_in_settings(qtbot, window, photo_tree):
    # Decisions carry the curator's name; a curator who never used the CLI names themselves in Settings.
    w = window()
    open_and_index(qtbot, w, photo_tree)
    w.open_settings()
    dialog: SettingsDialog = w.settings_dialog
    qtbot.waitUntil(lambda: dialog.model_combo.isEnabled(), timeout=T)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    dialog.curator.clear()
    qtbot.keyClicks(dialog.curator, "x" * 200)  # longer than a name decisions can carry: said, not saved
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "curator" in dialog.error.text()
    dialog.curator.clear()
    qtbot.keyClicks(dialog.curator, "Ana  Lima")
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=T)
    assert UserSettings.load().curator == "Ana Lima"
    engine = w.snapshot.engine
    engine.decide("red", "green", "same")
    assert engine.decisions(["red"])[0]["curator"] == "Ana Lima"


def test_newer_catalog_missing_folder_and_missing_model_show_dialogs(qtbot, window, tmp_path, photo_tree):
    w = window()
    # a catalog written by a newer Lookalike
    newer = tmp_path / "newer.sqlite"
    Catalog(newer, create=True).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with qtbot.waitSignal(w.error_shown, timeout=T) as blocker:
        w.open_catalog(newer)
    assert "newer Lookalike" in blocker.args[0]
    assert w.stack.currentWidget() is w.welcome and w.isVisible()
    assert "Update Lookalike" in w.welcome.message.text()
    # a folder that does not exist
    with qtbot.waitSignal(w.error_shown, timeout=T) as blocker:
        w.open_folder(tmp_path / "unplugged-drive")
    assert "does not exist" in blocker.args[0]
    # a catalog whose model is not installed: browsing works, indexing says what to do
    db = default_catalog_path(photo_tree)
    with Engine.open(db, create=True) as engine:
        engine.update_settings(photo_root=str(photo_tree), model="no-such-model")
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.open_folder(photo_tree)
    assert "Model: missing" in w.status.model_label.text()
    with qtbot.waitSignal(w.index_failed, timeout=T) as blocker:
        w.update_index()
    assert "not installed" in str(blocker.args[0].error)
    assert w.last_error.icon() == QMessageBox.Icon.Warning and "not installed" in w.last_error.text()
    assert w.isVisible() and w.acts.update.isEnabled()


def test_disk_full_and_unexpected_errors_keep_the_app_running(qtbot, window, photo_tree, monkeypatch):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    w.indexer.in_subprocess = False  # the failures below are patched into this process

    def disk_full(*_a, **_k):
        raise CatalogError(
            "The disk holding the catalog is full; the last batch was not saved. Free some space "
            "and run the index again: it resumes where it stopped."
        )

    monkeypatch.setattr(indexing, "index_photos", disk_full)
    with qtbot.waitSignal(w.index_failed, timeout=T):
        w.update_index()
    assert "Free some space" in w.last_error.text()

    def bug(*_a, **_k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(indexing, "index_photos", bug)
    with qtbot.waitSignal(w.index_failed, timeout=T):
        w.update_index()
    box = w.last_error
    assert box.icon() == QMessageBox.Icon.Critical and "ZeroDivisionError" in box.detailedText()
    assert "lookalike-gui.log" in box.informativeText()
    assert w.acts.update.isEnabled()  # still usable
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_article("green")


def test_missing_photo_folder_warns_but_browses(qtbot, window, photo_tree, tmp_path):
    w = window()
    open_and_index(qtbot, w, photo_tree)
    db = w.snapshot.path
    w.shutdown()
    moved = tmp_path / "moved-away"
    photo_tree.rename(moved)
    w2 = window()
    with qtbot.waitSignal(w2.catalog_loaded, timeout=T):
        w2.open_catalog(db)
    assert w2.root_warning.isVisible() and "cannot be found" in w2.root_warning.text()
    assert w2.grid_model.rowCount() == 3


def test_run_opens_an_existing_catalog(qtbot, window, photo_tree, monkeypatch):
    from desktop_app.gui import app as app_module

    w = window()
    open_and_index(qtbot, w, photo_tree)
    db = w.snapshot.path
    w.shutdown()
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    assert app_module.run(db) == 0
    windows = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x is not w]
    assert windows
    for x in windows:
        x.close()


def test_bundled_model_on_the_sample_photos(qtbot, window, sample_copy):
    from desktop_app.core.models import BUNDLED_DIR

    # The app ships with this model: without it the package is broken, which must fail, not skip.
    assert (BUNDLED_DIR / "efficientnet-lite0-imagenet.onnx").is_file(), "the bundled model is missing"
    w = window(model="", batch_size=16)
    open_and_index(qtbot, w, sample_copy, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    assert (
        "efficientnet-lite0-imagenet" in w.status.model_label.text()
        and "ImageNet" in w.status.model_label.text()
    )
    assert "CLIP" not in w.status.model_label.text()
    articles = w.grid_model.rowCount()
    assert 2 < articles < w.last_summary.photos
    a = w.grid_model.article_at(0)
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article(a)
    hits = blocker.args[0].hits
    assert len(hits) >= 2 and hits[0].score >= hits[-1].score
    assert a not in {h.article for h in hits}


def test_labels_menu_review_set_export_and_inbox(qtbot, window, photo_tree, tmp_path, monkeypatch):
    from desktop_app.gui import labels_dialog, review_inbox

    w = window()
    open_and_index(qtbot, w, photo_tree)
    engine = w.snapshot.engine
    engine.set_labels(["red"], "category", "tops")  # two values: suggestions can choose
    engine.set_labels(["green"], "category", "greens")
    labels_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Labels")
    assert [a.text() for a in labels_menu.actions() if a.text()][:2] == [
        "Review label suggestions…",
        "Set label…",
    ]
    # the review queue opens as its own window over the same catalog, with the window's engine child
    w.acts.review.trigger()
    queue = w.labels.reviews[-1]
    assert queue.client is w.search.client
    qtbot.waitUntil(lambda: queue.model.rowCount() == 1, timeout=T)  # only shoes/blue is unlabelled
    # a decision in the queue refreshes the grid's labels
    first = queue.current_suggestion().alternatives[0][0]
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        assert queue.pick_alternative(1)
    row = w.grid_model.row_of("shoes/blue")
    assert w.grid_model.data(w.grid_model.index(row, 0), LabelRole) == first
    queue.close()
    # Set label on the selection goes through the label dialog and reloads the grid
    w.select_article("shoes/blue")
    seen = []

    def edit(parent, eng, keys, field="category"):
        seen.append(keys)
        return labels_dialog.LabelEdit(field, "shoes", eng.set_labels(keys, field, "shoes"), len(keys))

    monkeypatch.setattr(labels_dialog, "edit_labels", edit)
    with qtbot.waitSignal(w.catalog_loaded, timeout=T):
        w.acts.set_label.trigger()
    assert seen == [["shoes/blue"]] and engine.labels()["shoes/blue"] == {"category": "shoes"}
    row = w.grid_model.row_of("shoes/blue")
    assert w.grid_model.data(w.grid_model.index(row, 0), LabelRole) == "shoes"
    # export writes every label
    out = tmp_path / "labels.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "JSON (*.json)"))
    w.acts.export_labels.trigger()
    qtbot.waitUntil(lambda: out.exists() and "Wrote 3 labels" in w.statusBar().currentMessage(), timeout=T)
    # photos added through the inbox are indexed at once
    monkeypatch.setattr(
        review_inbox,
        "import_inbox",
        lambda parent, root: [write_photo(root / "inbox" / "new" / "n0.jpg", (90, 90, 90), seed=77)],
    )
    with qtbot.waitSignal(w.index_finished, timeout=T):
        w.acts.inbox.trigger()
    assert "inbox/new" in engine.catalog.article_keys()


def test_detail_compare_with_opens_the_inspector_on_the_pair(qtbot, window, photo_tree):
    from PySide6.QtWidgets import QInputDialog

    w = window()
    open_and_index(qtbot, w, photo_tree)
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        w.open_detail("red")

    # The real dialog, answered as a curator would: type the other article's id, press Enter.
    def answer() -> None:
        dialog = next(
            d for d in QApplication.topLevelWidgets() if isinstance(d, QInputDialog) and d.isVisible()
        )
        assert dialog.width() >= 420 and dialog.textValue() != "red"
        dialog.setTextValue("green")
        qtbot.keyClick(dialog, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)
    w.detail.compare_btn.click()
    ins = w.inspector_window
    assert (ins.article_a, ins.article_b) == ("red", "green")
    with qtbot.waitSignal(ins.ready, timeout=T):
        pass
    assert ins.inspector.inspection.matrix.shape == (3, 2)  # red has three photos, green two
    ins.close()


def test_articles_appear_while_a_long_run_indexes(qtbot, window, tmp_path, monkeypatch):
    folder = big_tree(tmp_path / "photos")
    # Keep the run going until the grid has refreshed.
    reached, gate = hold_indexing(monkeypatch, at=8, report_first=True, wait_s=10)
    monkeypatch.setattr(index_controller, "LIVE_REFRESH_S", 0.0)
    w = window(batch_size=4)
    open_and_index(qtbot, w, folder, index_now=False)
    with qtbot.waitSignal(w.index_finished, timeout=T):
        w.update_index()
        qtbot.waitUntil(reached.is_set, timeout=T)
        qtbot.waitUntil(lambda: 0 < w.grid_model.rowCount() < 12, timeout=T)  # part of the catalog, mid-run
        assert w.indexer.task is not None
        gate.set()
    qtbot.waitUntil(lambda: w.grid_model.rowCount() == 12, timeout=T)


def test_a_large_catalog_paints_its_first_page_then_every_article(qtbot, window, tmp_path, monkeypatch):
    from desktop_app.gui import catalog_controller

    w = window()
    open_and_index(qtbot, w, big_tree(tmp_path / "photos", articles=7, per=1))
    db = w.snapshot.path
    w.shutdown()
    monkeypatch.setattr(catalog_controller, "FIRST_PAGE", 3)  # a "large" catalog: more than a page
    w2 = window()
    with qtbot.waitSignal(w2.catalog_loaded, timeout=T):
        w2.open_catalog(db)
    assert w2.snapshot.partial and w2.grid_model.rowCount() == 3 and w2.snapshot.more_articles == 4
    assert "reading the other 4" in w2.statusBar().currentMessage()
    w2.select_article("art01")  # the curator can start at once
    qtbot.waitUntil(lambda: not w2.snapshot.partial, timeout=T)  # the rest follows without asking
    assert not w2.snapshot.partial and w2.grid_model.rowCount() == 7
    assert w2.selected_articles() == ["art01"] and not w2.statusBar().currentMessage()
