"""The catalog-adapted embedding through the engine: train, switch on and off, evaluate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from desktop_app.core import adapt
from desktop_app.core import evaluate as ev
from desktop_app.core import labels as lab
from desktop_app.core.adapt import Adapter
from desktop_app.core.decision_groups import check_plausible
from desktop_app.core.engine.base import EvalProgress
from desktop_app.core.errors import CatalogBusy, InputError, ModelError, NoVectors
from desktop_app.core.training_examples import training_sources

# Below this share of the usable photos with vectors of the catalog's model, training waits for the index.
MIN_EMBEDDED_SHARE = 0.9


def worth_switching_on(ex: adapt.Examples) -> str:
    """Why a freshly trained adapter is better left off ("" when it is worth switching on): learned from the
    articles' own photos alone, with no group, decision or label, it measured below the frozen vectors on
    Magento (style mAP 0.919 -> 0.885, benchmarks/adapt_labels.py)."""
    taught = sum(ex.sources.get(k, 0) for k in ("groups", "decisions", "labels"))
    if taught:
        return ""
    return (
        "it learned from the articles' own photos only (no groups, same-product decisions or labels), "
        "which ranked other articles worse than the frozen vectors on Magento (style mAP 0.919 -> 0.885)"
    )


class AdaptRoom:
    """Adapters (a room of `Engine`)."""

    # ------------------------------------------------------------ the catalog-adapted embedding

    def adapter(self) -> Adapter | None:
        """The adapter switched on for the catalog's vectors, or None (the frozen vectors)."""
        try:
            model_id = self.vectors_model_id()
        except ModelError:
            return None
        active = [a for a in self.catalog.adapters(model_id) if a["active"]]
        if not active:
            return None
        if self._adapter is None or self._adapter.id != active[0]["id"]:
            self._adapter = self._load_adapter(active[0], model_id)
        return self._adapter

    def _load_adapter(self, row: dict, model_id: str) -> Adapter:
        data = self.catalog.adapter_data(row["id"])
        return Adapter.from_bytes(data, row["kind"], model_id, row["info"], row["id"])

    def adapter_examples(
        self,
        sources: Sequence[str] | None = None,
        groups: Path | None = None,
        label_field: str = lab.DEFAULT_FIELD,
        articles: set[str] | None = None,
    ) -> adapt.Examples:
        """The training classes the curator's work gives (see `core.adapt.examples`); `sources` as
        `training_sources` says."""
        sources = training_sources(sources, groups)
        group_of, warning = self.training_groups(groups) if "groups" in sources else (None, "")
        same = None
        if "decisions" in sources:
            found = self.decision_ground_truth()
            check_plausible(found, training=True)
            same = found.groups
        labels = (
            {a: d[label_field] for a, d in self.catalog.labels(label_field).items()}
            if "labels" in sources
            else None
        )
        rejected = self.rejected_pairs() if "decisions" in sources else None
        ex = adapt.examples(self.frozen_vectors(), group_of, same, labels, rejected, articles)
        ex.warning = warning
        return ex

    def training_groups(self, groups: Path, unshared: bool = False) -> tuple[dict[str, str], str]:
        """The rows of a groups file that can teach: articles of the catalog with vectors sharing a group
        (refused like `evaluate --groups` when there are none; see `evaluate.shared_groups`), and a warning
        when most of the file's articles are not in the catalog ("" otherwise). `unshared`: also the
        catalog's articles alone in their group (an evaluation searches among them too)."""
        rows = ev.read_groups(groups)
        known = set(self.frozen_vectors().articles)
        shared = ev.shared_groups(rows, known)
        inside = {a: g for a, g in rows.items() if a in known} if unshared else shared
        found = sum(a in known for a in rows)
        if found * 2 >= len(rows):
            return inside, ""
        return inside, (
            f"only {found:,} of the {len(rows):,} articles of {groups.name} are in the catalog with "
            "vectors: check that the file is this catalog's"
        )

    def check_ready_to_train(self) -> None:
        """Refuse to learn from vectors that are changing or mostly missing: an index run in progress (a
        model switch re-embeds every photo), or most usable photos without a vector of the catalog's model
        (training on the few there are, and switching on, lowered held-out style mAP 0.917 -> 0.886)."""
        if self.catalog.indexing_now():
            raise CatalogBusy(
                "An index run is updating this catalog's vectors; train the adapter when it has finished."
            )
        model_id = self.vectors_model_id()
        counts = self.catalog.counts()
        usable, embedded = counts.get("photos_ok", 0), counts["vectors_by_model"].get(model_id, 0)
        if usable and embedded < usable * MIN_EMBEDDED_SHARE:
            raise NoVectors(
                f"Only {embedded:,} of the catalog's {usable:,} usable photos have vectors of its model yet; "
                "update the index (lookalike index) before training an adapter."
            )

    def train_adapter(
        self,
        sources: Sequence[str] | None = None,
        groups: Path | None = None,
        kind: str = "whitening",
        dim: int | None = None,
        activate: bool | None = None,
        progress: EvalProgress | None = None,
        should_cancel: Callable[[], bool] | None = None,
        label_field: str = lab.DEFAULT_FIELD,
    ) -> Adapter:
        """Learn an adapter from the catalog's examples, store it, and switch it on (`activate` None: when
        the curator's work taught it something beyond the articles' own photos, see `worth_switching_on`);
        switched on, its vectors are made for search now (the search index of a large catalog takes
        minutes). `info["switched_on"]` says whether it was, `info["not_switched_on"]` why not."""
        sources = training_sources(sources, groups)  # refused before the checks that read the catalog
        self.check_ready_to_train()
        model_id = self.vectors_model_id()
        ex = self.adapter_examples(sources, groups, label_field)
        adapter = adapt.train(ex, model_id, kind, dim, progress=progress, should_cancel=should_cancel)
        # What was read, as asked: a groups file only when groups were (training_sources refuses it else)
        adapter.info["trained_on"] = list(sources) + ([str(groups)] if "groups" in sources else [])
        if ex.sources.get("labels"):
            adapter.info["label_field"] = label_field
        if ex.warning:
            adapter.info["warning"] = ex.warning
        why_not = "" if activate is not None else worth_switching_on(ex)
        on = activate if activate is not None else not why_not
        adapter.info["switched_on"] = on
        if why_not:
            adapter.info["not_switched_on"] = why_not
        adapter.id = self.catalog.save_adapter(model_id, kind, adapter.info, adapter.to_bytes(), on)
        self._adapter = None
        if on:  # stored and on: from here it is done, whatever a cancel asks
            self.sync_vectors(
                None if progress is None else lambda d, t, note: progress(d, t, f"preparing search: {note}")
            )
        return adapter

    def ground_truth_note(self, protocol: str, articles: Sequence[str] = (), field: str | None = None) -> str:
        """A note when the adapter in use learned from the ground truth an evaluation measures ("" when it
        did not, or no adapter is on): such figures measure the training data back, not the adapter."""
        adapter = self.adapter()
        seen = adapter.learned_from(protocol, articles, field) if adapter is not None else ""
        if not seen:
            return ""
        return (
            f"Adapter {adapter.id} is on and learned from {seen}, the ground truth measured here: these "
            "figures are optimistic. `lookalike adapt off` measures the frozen vectors; `lookalike adapt "
            "evaluate --groups CSV` measures an adapter on groups it did not learn from."
        )

    def use_adapter(
        self, on: bool, adapter_id: int | None = None, progress: EvalProgress | None = None
    ) -> dict | None:
        """Switch the catalog's adapter on (the newest, or `adapter_id`) or off; returns the one in use.

        Switching on prepares the adapter's vectors for search first (in a large catalog, minutes, reported
        to `progress`), and only then records the switch: a run stopped half-way leaves search as it was."""
        model_id = self.vectors_model_id()
        if not on:
            self.catalog.set_active_adapter(model_id, None)
            self._adapter = None
            return None
        stored = self.catalog.adapters(model_id)
        chosen = [a for a in stored if adapter_id in (None, a["id"])]
        if not chosen:
            raise InputError(
                "No adapter is trained for this catalog's model yet: lookalike adapt train."
                if adapter_id is None
                else self._no_such_adapter(adapter_id, model_id)
            )
        row = chosen[0]
        adapter = self._load_adapter(row, model_id)
        self.sync_vectors(progress, adapter)
        self.catalog.set_active_adapter(model_id, row["id"])
        self._adapter = adapter
        return row

    def _no_such_adapter(self, adapter_id: int, model_id: str) -> str:
        """Why adapter `adapter_id` cannot be switched on for this model: it belongs to another, or none."""
        owner = next((a["model_id"] for a in self.catalog.adapters() if a["id"] == adapter_id), None)
        if owner is None:
            return f"There is no adapter {adapter_id} in this catalog (lookalike adapt status lists them)."
        return (
            f"Adapter {adapter_id} was trained for the model {owner}, not for the catalog's model now "
            f"({model_id}): switch the catalog back to that model, or train an adapter for this one."
        )

    def adapter_status(self) -> dict:
        model_id = self.vectors_model_id()
        stored = self.catalog.adapters(model_id)
        active = next((a for a in stored if a["active"]), None)
        return {"model_id": model_id, "active": active, "stored": stored, "note": self.search_space_note()}

    def evaluate_adapter(
        self,
        groups: Path,
        train_fraction: float = 0.5,
        seed: int = 0,
        kind: str = "whitening",
        methods: Sequence[str] | None = None,
        dim: int | None = None,
        progress: EvalProgress | None = None,
    ) -> dict:
        """Train on part of the groups and compare frozen with adapted vectors on the held-out part.

        Whole groups go to one side; the held-out articles are searched among themselves, with the same
        queries and metrics as `evaluate --groups`."""
        if not 0 < train_fraction < 1:
            raise InputError("The training fraction must be between 0 and 1 (e.g. 0.5).")
        # The same refusal and warning as `evaluate --groups` and `adapt train --groups`, before any work
        group_of, warning = self.training_groups(groups, unshared=True)
        frozen_all = self.frozen_vectors()
        train_articles, test_articles = adapt.split_groups(group_of, train_fraction, seed)
        check_split(group_of, train_articles, test_articles)
        ex = adapt.examples(frozen_all, {a: group_of[a] for a in train_articles}, articles=train_articles)
        adapter = adapt.train(ex, frozen_all.model_id, kind, dim, seed=seed, progress=progress)
        test = adapt.subset(frozen_all, sorted(test_articles))
        test_groups = {a: group_of[a] for a in test_articles}
        specs = [ev.MethodSpec(m) for m in methods] if methods else ev.default_specs()
        out: dict[str, Any] = {}
        for name, vectors in (("frozen", test), ("adapted", adapter.apply_to(test))):
            index, queries = ev.group_queries(vectors, test_groups)
            scores = ev.evaluate(index, queries, specs, with_single=False)
            out[name] = {
                s.method: {"R@1": s.recall[1], "R@5": s.recall[5], "R@10": s.recall[10], "mAP": s.map}
                for s in scores
            }
        out.update(
            train_groups=len({group_of[a] for a in train_articles}),
            test_groups=len({group_of[a] for a in test_articles}),
            queries=len(queries),
            kind=kind,
            seed=seed,
            train_photos=len(ex.vectors),
            seconds=adapter.info.get("seconds"),
            dim=adapter.dim,
            warning=warning,
        )
        return out


def check_split(group_of: dict[str, str], train: set[str], test: set[str]) -> None:
    """Refuse a split the evaluation cannot use: fewer than two groups of two or more articles on the
    training side (nothing to tell apart) or none on the test side (no query)."""
    sizes = Counter(group_of.values())
    total = sum(n >= 2 for n in sizes.values())
    if total < 3:
        raise InputError(
            "Evaluating an adapter needs three groups that articles of the catalog share, two to learn from "
            f"and one to test on; the groups file gives {total}."
        )
    shared = [len({group_of[a] for a in side if sizes[group_of[a]] >= 2}) for side in (train, test)]
    if shared[0] < 2 or shared[1] < 1:
        raise InputError(
            f"The split put {shared[0]} of the {total} shared groups on the training side and {shared[1]} on "
            "the test side, which needs two and one: change --train-fraction (or --seed)."
        )
