"""Match decisions through the engine: same product, look-alike, not a match."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.components import components
from desktop_app.core.decision_groups import DecisionGroups, decision_groups
from desktop_app.core.errors import InputError
from desktop_app.core.files import named_id
from desktop_app.core.storage.decisions import Cancelled as ImportCancelled
from desktop_app.core.wording import quoted

Progress = Callable[[int, int, str], None]


class DecisionRoom:
    """Match decisions (a room of `Engine`)."""

    # ------------------------------------------------------------ match decisions

    def decide(
        self,
        a: str,
        b: str,
        decision: str,
        note: str | None = None,
        force: bool = False,
        expected: str | None | type[Ellipsis] = ...,
    ) -> int:
        """Record that two articles are the same product ("same"), look alike ("alike") or are "not_match";
        "none" takes the pair's decision back. `expected`: the decision the curator saw (a pair decided
        otherwise since is a Conflict). Returns the decision's id."""
        from desktop_app.core.storage.decisions import DECISIONS, NONE, pair

        if decision not in (*DECISIONS, NONE):
            raise InputError(f"Unknown decision {decision!r}; use one of {', '.join(DECISIONS)}.")
        if a == b:
            raise InputError("A decision needs two different articles.")
        unknown = [x for x in (a, b) if x not in self.catalog.known_articles([a, b])]
        if unknown:
            raise InputError(f"There is no article {quoted(unknown[0])} in this catalog.")
        seen = None if expected is ... else {pair(a, b): expected}
        return self.catalog.decide(
            [(a, b, decision)], curator=self.curator(), note=note, expected=seen, force=force
        )[0]

    def decide_pairs(
        self, items: Sequence[tuple[str, str, str]], expected: dict[tuple[str, str], str | None]
    ) -> list[int]:
        """Several decisions as one undoable batch (a redo of an undone batch): (a, b, decision) items, each
        written only if its pair still shows the `expected` decision (stored pair -> decision or None)."""
        from desktop_app.core.storage.decisions import pair

        return self.catalog.decide(
            items, curator=self.curator(), expected={pair(*k): v for k, v in expected.items()}
        )

    def undo_decision(self, force: bool = False) -> list[dict]:
        """Take back your latest match decision (or import of decisions); [] when there is none. A pair
        another curator decided since is a Conflict, unless `force` (then that pair keeps their decision)."""
        return self.catalog.undo_decision(curator=self.curator(), force=force)

    def last_match_decision(self) -> dict | None:
        """The match decision `undo_decision()` would take back next, without taking it back."""
        return self.catalog.last_live_decision(curator=self.curator())

    def decisions(self, articles: Sequence[str] | None = None) -> list[dict]:
        """Every current decision, oldest first; with `articles`, only those about one of them (an article
        not in the catalog is an InputError, not an empty list that reads as "no decisions")."""
        if articles is None:
            return list(self.catalog.decisions().values())
        unknown = [x for x in articles if x not in self.catalog.known_articles(list(articles))]
        if unknown:
            raise InputError(f"There is no article {quoted(unknown[0])} in this catalog.")
        return list(self.catalog.decisions(list(articles)).values())

    def decisions_with(self, articles: Sequence[str]) -> dict[str, str]:
        """article -> the current decision between it and one of `articles` (their own pairs left out)."""
        out: dict[str, str] = {}
        mine = set(articles)
        for (a, b), row in self.catalog.decisions(list(articles)).items():
            other = b if a in mine else a
            if other not in mine:
                out[other] = row["decision"]
        return out

    def same_product_groups(self) -> dict[str, str]:
        """article -> group, where a group joins articles decided "same product" (directly or through others)."""
        return components(pair for pair, row in self.catalog.decisions().items() if row["decision"] == "same")

    def decision_ground_truth(self) -> DecisionGroups:
        """The same-product groups as evaluation ground truth, with the "not a match" pairs inside them."""
        return decision_groups((a, b, row["decision"]) for (a, b), row in self.catalog.decisions().items())

    def rejected_pairs(self) -> dict[str, set[str]]:
        """article -> the articles decided "not a match" with it."""
        out: dict[str, set[str]] = {}
        for (a, b), row in self.catalog.decisions().items():
            if row["decision"] == "not_match":
                out.setdefault(a, set()).add(b)
                out.setdefault(b, set()).add(a)
        return out

    def export_decisions(self, path: Path) -> int:
        """CSV with article_a, article_b, decision (then note, curator, at) of every current decision."""
        import datetime

        from desktop_app.core.files import SpreadsheetWriter, atomic_writer, check_output_path

        check_output_path(path, "decisions export")
        rows = self.decisions()
        with atomic_writer(path, "w", newline="", what="decisions export") as fh:
            w = SpreadsheetWriter(fh)
            w.writerow(["article_a", "article_b", "decision", "note", "curator", "at"])
            for r in rows:
                when = datetime.datetime.fromtimestamp(r["at"]).isoformat(timespec="seconds")
                w.writerow(
                    [r["article_a"], r["article_b"], r["decision"], r["note"] or "", r["curator"] or "", when]
                )
        return len(rows)

    def import_decisions(
        self,
        path: Path,
        force: bool = False,
        progress: Progress | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> DecisionImport:
        """Decisions from a CSV with article_a, article_b, decision and optionally note, as one undoable batch.

        A pair named twice (either way round) with one decision counts once; with two different decisions
        the file is refused before anything is written. Without a note column, a pair whose decision stays
        the same keeps its note. A pair that already has the decision and note is left as it is. A pair
        another curator decided otherwise is a Conflict and nothing is written, unless `force`: a file
        must not replace a colleague's decisions without a word.

        `progress(done, total, note)` follows the rows as they are written (one transaction: a large file
        takes a while); `should_cancel()` is asked between blocks of rows, and a cancelled import raises
        `ImportCancelled` having written nothing."""
        from desktop_app.core.storage.decisions import KEEP_NOTE

        header, table = _read_decision_file(path)
        cells = {r.get(c) or "" for r in table for c in ("article_a", "article_b")}
        known = self.catalog.known_articles(sorted(cells | {c.strip() for c in cells}))
        rows = _decision_rows(table, path, "note" in header, known)
        unknown = sorted({x for r in rows for x in (r.a, r.b)} - known)
        if unknown:
            raise InputError(
                f"{path} names articles that are not in this catalog: {', '.join(map(quoted, unknown[:5]))}."
            )
        items = [(r.a, r.b, r.decision, KEEP_NOTE if r.note is None else r.note) for r in rows]
        if progress is not None:
            progress(0, len(items), "writing decisions")
        written = self.catalog.decide(
            items,
            curator=self.curator(),
            force=force,
            skip_unchanged=True,
            progress=progress,
            should_cancel=should_cancel,
        )
        return DecisionImport(imported=len(written), unchanged=len(rows) - len(written))


@dataclass
class DecisionImport:
    """What `import_decisions` did: decisions written (one undoable batch), and pairs already so."""

    imported: int
    unchanged: int


@dataclass
class _CsvDecision:
    a: str
    b: str
    decision: str
    note: str | None  # None: the file has no note column
    line: int


ALIASES = {
    "same": "same",
    "same product": "same",
    "alike": "alike",
    "look-alike": "alike",
    "not_match": "not_match",
    "not a match": "not_match",
    "not-a-match": "not_match",
}


def _read_decision_file(path: Path) -> tuple[list[str], list[dict]]:
    """(header, rows) of a decisions file whose columns are there, each once."""
    from desktop_app.core.files import check_columns_once, read_csv

    header, rows = read_csv(path, "decisions file")
    if not {"article_a", "article_b", "decision"} <= set(header):
        raise InputError(f"{path} needs the columns article_a, article_b and decision.")
    check_columns_once(header, {"article_a", "article_b", "decision", "note"}, path, "decisions file")
    return header, rows


def _decision_rows(rows: list[dict], path: Path, has_note: bool, known: Container[str]) -> list[_CsvDecision]:
    """The file's decisions, one per pair, or an InputError naming the line (and for a pair decided two
    ways, both lines) before anything is written. `known`: the catalog's articles among the cells (see
    `files.named_id`)."""
    from desktop_app.core.storage.decisions import pair

    by_pair: dict[tuple[str, str], _CsvDecision] = {}
    for n, r in enumerate(rows, start=2):
        row = _decision_row(r, n, path, has_note, known)
        first = by_pair.setdefault(pair(row.a, row.b), row)
        if first.decision != row.decision:
            raise InputError(
                f"{path}: lines {first.line} and {n} decide {row.a} / {row.b} two ways "
                f"({first.decision} and {row.decision}); keep one."
            )
        if first is not row and row.note:
            first.note = row.note  # the same decision twice: one row, with the note the file gives it
    return list(by_pair.values())


def _decision_row(r: dict, n: int, path: Path, has_note: bool, known: Container[str]) -> _CsvDecision:
    """Line n of a decisions file, checked: a cell left empty (or missing from a short line) is named."""
    from desktop_app.core.storage.decisions import DECISIONS

    given = (r.get("decision") or "").strip()
    if not given:
        raise InputError(f"{path}, line {n}: the decision cell is empty; give one of {', '.join(DECISIONS)}.")
    decision = ALIASES.get(given.lower())
    if decision is None:
        raise InputError(f"{path}, line {n}: unknown decision {given!r}; use {', '.join(DECISIONS)}.")
    a, b = (named_id(r.get(c) or "", known) for c in ("article_a", "article_b"))  # read_csv undid the quoting
    empty = [c for c, v in (("article_a", a), ("article_b", b)) if not v.strip()]
    if empty:
        raise InputError(
            f"{path}, line {n}: the {empty[0]} cell is empty; a decision needs two different articles."
        )
    if a == b:
        raise InputError(
            f"{path}, line {n}: a decision needs two different articles (got {quoted(a)} twice)."
        )
    note = (r.get("note") or "") if has_note else None
    return _CsvDecision(a, b, decision, note, n)


__all__ = ["DecisionImport", "DecisionRoom", "ImportCancelled"]
