"""The Duplicates window's list: clusters of pairs as tree items, and what Undo needs to list pairs again.

A verdict's undo entry remembers where its pairs were in the list on show. A new Find replaces that list,
but the verdicts are in the catalog and stay undoable: undone then, a pair comes back when the new search
found it (it is among the report's `judged` pairs), into the cluster it touches or as a cluster of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from desktop_app.core.duplicates import Cluster, clusters
from desktop_app.core.engine import DuplicateReport, Judgement
from desktop_app.core.wording import plural

KIND_NAMES = {
    "exact": "same file",
    "near": "near duplicate",
    "edit": "same shot, edited",
    "article": "same product",
}
PAIR_ROLE = Qt.ItemDataRole.UserRole


def how_it_differs(d) -> list[str]:
    """How the second photo of a pair differs from the first in alignment and brightness (a
    fingerprints.Difference), in a curator's words."""
    words = ["mirror image"] if d.mirrored else []
    brighter = 1.0 / d.gain - 1.0  # the gain says a ~ gain * b
    if abs(brighter) >= 0.02:
        words.append(f"brightness {100 * brighter:+.0f}%")
    if d.overlap < 0.98:
        words.append(f"{100 * (1 - d.overlap):.0f}% cropped")
    return words


@dataclass
class UndoEntry:
    """One verdict that Undo can take back, and where its pairs were listed."""

    judgement: Judgement
    pairs: list  # PhotoPair or ArticlePair: what the verdict was on
    item: QTreeWidgetItem | None = None  # the pair's or cluster's row; None once a new Find replaced the list
    parent: QTreeWidgetItem | None = None  # the cluster row of a pair row
    top_row: int = -1
    child_row: int = -1
    keys: set[tuple[str, str]] = field(default_factory=set)  # the pairs as a report names them

    def forget_rows(self) -> None:
        """The list is about to be replaced: its rows are deleted with it."""
        self.item = self.parent = None


def verdict_keys(pairs: Sequence, judgement: Judgement) -> set[tuple[str, str]]:
    """The pairs a verdict judged, as photo and article reports name them: "same product" on photos of two
    articles also decided the article pair, which an article-level Find leaves out."""
    keys = {(p.a, p.b) for p in pairs}
    if judgement.decision_batch is not None:
        keys |= {
            (min(p.article_a, p.article_b), max(p.article_a, p.article_b))
            for p in pairs
            if p.kind != "article" and p.article_a != p.article_b
        }
    return keys


def short_names(a: str, b: str) -> tuple[str, str]:
    """Two stored paths by as few of their last parts as tell them apart: the file names when they differ,
    with folders added only while the ends agree (the whole paths are in the tooltip and the pair's pane).
    A list of long paths elided in the middle showed neither name whole."""
    pa, pb = a.split("/"), b.split("/")
    k = 1
    while k < max(len(pa), len(pb)) and pa[-k:] == pb[-k:]:
        k += 1
    return "/".join(pa[-k:]), "/".join(pb[-k:])


def pair_item(p) -> QTreeWidgetItem:
    a, b = short_names(p.a, p.b)
    item = QTreeWidgetItem([f"{a}  ~  {b}", KIND_NAMES[p.kind], f"{p.score:.3f}"])
    item.setData(0, PAIR_ROLE, p)
    item.setToolTip(0, f"{p.a}\n{p.b}")
    return item


def cluster_item(number: int, cluster: Cluster, noun: str) -> QTreeWidgetItem:
    """A cluster's row with its pairs, best first."""
    top = QTreeWidgetItem(
        [f"Cluster {number}: {plural(len(cluster.members), noun)}", "", f"{cluster.best:.3f}"]
    )
    top.setData(0, PAIR_ROLE, cluster)
    for p in sorted(cluster.pairs, key=lambda p: -p.score):
        top.addChild(pair_item(p))
    return top


def members_listed(top: QTreeWidgetItem) -> set[str]:
    """The photos or articles of a cluster row's pairs still listed."""
    return {
        m
        for i in range(top.childCount())
        for m in (top.child(i).data(0, PAIR_ROLE).a, top.child(i).data(0, PAIR_ROLE).b)
    }


def pairs_on_show(item: QTreeWidgetItem | None) -> list:
    """What a verdict on this row is about: the pair, or the pairs of a cluster still on show (not leaving)."""
    if item is None or item.isHidden():
        return []
    if item.parent() is None:
        return [
            item.child(i).data(0, PAIR_ROLE) for i in range(item.childCount()) if not item.child(i).isHidden()
        ]
    return [item.data(0, PAIR_ROLE)]


def pair_rows(tree: QTreeWidget, keys: set[tuple[str, str]]) -> list[QTreeWidgetItem]:
    """The rows of the list on show now that hold these pairs (found by their names: a Find may have
    replaced the rows a verdict was pressed on)."""
    return [
        top.child(j)
        for i in range(tree.topLevelItemCount())
        for top in [tree.topLevelItem(i)]
        for j in range(top.childCount())
        if _key(top.child(j)) in keys
    ]


def _key(row: QTreeWidgetItem) -> tuple[str, str]:
    p = row.data(0, PAIR_ROLE)
    return (p.a, p.b)


def visible_children(top: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [top.child(i) for i in range(top.childCount()) if not top.child(i).isHidden()]


def next_on_show(tree: QTreeWidget, item: QTreeWidgetItem) -> QTreeWidgetItem | None:
    """The row to show once `item` leaves: the next pair of its cluster, else the one before it, else the
    first pair of the next cluster on show, else of the one before."""
    parent = item.parent()
    if parent is not None:
        siblings = [parent.child(i) for i in range(parent.childCount())]
        at = siblings.index(item)
        near = [r for r in siblings[at + 1 :] + siblings[:at][::-1] if not r.isHidden()]
        if near:
            return near[0]
    top = parent if parent is not None else item
    tops = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    at = tops.index(top)
    for other in tops[at + 1 :] + tops[:at][::-1]:
        if not other.isHidden():
            rows = visible_children(other)
            return rows[0] if rows else other
    return None


def set_visible(tree: QTreeWidget, keys: set[tuple[str, str]], visible: bool) -> None:
    """Hide the rows of pairs whose verdict is on its way (with their cluster when none of its pairs is
    left on show), or show them again."""
    for row in pair_rows(tree, keys):
        row.setHidden(not visible)
        top = row.parent()
        top.setHidden(not visible_children(top))


def take_out(tree: QTreeWidget, rows: list[QTreeWidgetItem], entry: UndoEntry) -> None:
    """Take a saved verdict's rows out of the list; `entry` remembers where, so that Undo puts them back
    there. Rows that are neither one pair nor one whole cluster (a Find regrouped them) leave without a
    place: Undo lists them again from the report (`relist`)."""
    if not rows:
        return
    for row in rows:
        row.setHidden(False)  # as they are to look when Undo lists them again
    parent = rows[0].parent()
    if len(rows) == 1:
        entry.item, entry.parent = rows[0], parent
        entry.top_row, entry.child_row = tree.indexOfTopLevelItem(parent), parent.indexOfChild(rows[0])
    elif len(rows) == parent.childCount() and all(r.parent() is parent for r in rows):
        entry.item, entry.top_row = parent, tree.indexOfTopLevelItem(parent)
        parent.setHidden(False)
        tree.takeTopLevelItem(entry.top_row)
        return
    for row in rows:
        top = row.parent()
        top.removeChild(row)
        if not top.childCount():  # the cluster's last pair: the cluster leaves with it
            top.setHidden(False)
            tree.takeTopLevelItem(tree.indexOfTopLevelItem(top))


def set_aside(report: DuplicateReport, keys: set[tuple[str, str]]) -> None:
    """The report's pairs among `keys` now have a verdict: counted among those judged (as a new Find
    would), so that Export leaves them out and Undo can list them again (`take_back`)."""
    now = [p for p in report.pairs if (p.a, p.b) in keys]
    for p in now:
        report.pairs.remove(p)
        report.judged.append(p)
    report.decided += len(now)


def take_back(report: DuplicateReport, keys: set[tuple[str, str]]) -> list:
    """The report's judged pairs among `keys`, moved back to its pairs (their verdict was undone)."""
    back = [p for p in report.judged if (p.a, p.b) in keys]
    for p in back:
        report.judged.remove(p)
        report.pairs.append(p)
    report.decided -= len(back)
    return back


def relist(tree: QTreeWidget, pairs: list, noun: str) -> QTreeWidgetItem | None:
    """List pairs again in the cluster they touch, or as new clusters placed by size (largest first);
    returns the first pair's row."""
    first: QTreeWidgetItem | None = None
    for cluster in clusters(pairs):
        tops = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
        top = next((t for t in tops if members_listed(t) & set(cluster.members)), None)
        if top is None:
            top = cluster_item(len(tops) + 1, cluster, noun)
            size = len(cluster.members)
            at = next((i for i, t in enumerate(tops) if len(t.data(0, PAIR_ROLE).members) < size), len(tops))
            tree.insertTopLevelItem(at, top)
            rows = [top.child(i) for i in range(top.childCount())]
        else:
            rows = [pair_item(p) for p in sorted(cluster.pairs, key=lambda p: -p.score)]
            for row in rows:
                top.addChild(row)
        tree.expandItem(top)
        first = first or (rows[0] if rows else None)
    return first


__all__ = [
    "KIND_NAMES",
    "PAIR_ROLE",
    "UndoEntry",
    "cluster_item",
    "how_it_differs",
    "next_on_show",
    "pair_item",
    "pair_rows",
    "pairs_on_show",
    "relist",
    "set_aside",
    "set_visible",
    "take_back",
    "take_out",
    "verdict_keys",
    "visible_children",
]
