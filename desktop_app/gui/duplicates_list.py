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


def pair_item(p) -> QTreeWidgetItem:
    item = QTreeWidgetItem([f"{p.a}  ~  {p.b}", KIND_NAMES[p.kind], f"{p.score:.3f}"])
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
    "pair_item",
    "relist",
    "take_back",
    "verdict_keys",
]
