"""An index run in a child process (`core.index_child`), with the signals of a worker task (`ChildJob`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from desktop_app.core.index_child import child_main
from desktop_app.core.indexer import IndexOptions, IndexSummary
from desktop_app.core.models import InstalledModel
from desktop_app.core.scan import GroupingRule
from desktop_app.gui.child_job import ChildJob


class IndexProcess(ChildJob):
    """One index run in a child process: progress carries `core.indexer.Progress`, done the summary."""

    def __init__(
        self,
        db: Path | str,
        photo_dir: Path,
        rule: GroupingRule | None,
        model: InstalledModel | str | None,
        options: IndexOptions,
        parent: QObject | None = None,
    ) -> None:
        lost = (
            "The indexing process stopped unexpectedly. Everything up to the last batch is saved; "
            "Update index resumes"
        )
        super().__init__(
            child_main, (str(db), str(photo_dir), rule, model, options), "lookalike-index", lost, parent
        )


__all__ = ["IndexProcess", "IndexSummary", "child_main"]
