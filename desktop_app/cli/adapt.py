"""`lookalike adapt ...`: learn a catalog-adapted embedding from the curator's work, switch it, measure it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from desktop_app.cli.common import Bar, add_db, add_json, emit_json, fraction, open_engine, positive_int, safe
from desktop_app.core.adapt import DEFAULT_DIM, KINDS, MIN_DIM
from desktop_app.core.matching import METHODS
from desktop_app.core.training_examples import SOURCES
from desktop_app.core.wording import plural


def sources(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in SOURCES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown source {', '.join(bad) or text!r}; use {', '.join(SOURCES)}"
        )
    return names


def register(sub) -> None:
    p = sub.add_parser(
        "adapt",
        help="learn a catalog-adapted embedding from decisions, groups and labels",
        description="A projection of the model's frozen vectors learned from what the curator "
        "confirmed: photos of one article, articles decided 'same product', groups in a CSV, "
        "labels. Search, labels and the inspector use it while it is on; off restores the "
        "frozen ranking exactly.",
    )
    asub = p.add_subparsers(dest="adapt_command", required=True, metavar="COMMAND")
    ap = asub.add_parser(
        "train",
        help="learn an adapter and switch it on",
        description="Learns an adapter from the catalog's vectors and the curator's work, stores it and "
        "switches it on, unless it learned from the articles' own photos alone (which measured below the "
        "frozen vectors). Refused while an index run updates the vectors, or while most photos have no "
        "vector of the catalog's model.",
    )
    ap.add_argument(
        "--from",
        dest="sources",
        type=sources,
        default=None,
        metavar="SOURCES",
        help="what to learn from, comma-separated: decisions, groups, labels (default: decisions and "
        "labels, and groups when --groups is given)",
    )
    ap.add_argument(
        "--groups",
        type=Path,
        metavar="CSV",
        help="CSV article,group of articles that belong together (default: none; needed to learn from "
        "groups, and read only then)",
    )
    _kind(ap)
    switch = ap.add_mutually_exclusive_group()
    switch.add_argument(
        "--off",
        action="store_true",
        help="store it but leave the current choice (default: switch on, unless it learned from the "
        "articles' own photos alone)",
    )
    switch.add_argument(
        "--on",
        action="store_true",
        help="switch it on even when it learned from the articles' own photos alone (default: not then)",
    )
    ap.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    _common(ap, run_train)
    for name, text in (("on", "use the newest adapter (or --id)"), ("off", "use the frozen vectors again")):
        ap = asub.add_parser(name, help=text)
        if name == "on":
            ap.add_argument("--id", type=int, help="which stored adapter (default: the newest; see status)")
        _common(ap, run_switch)
    ap = asub.add_parser("status", help="the adapter in use and the stored ones")
    _common(ap, run_status)
    ap = asub.add_parser(
        "evaluate",
        help="train on part of the groups, compare frozen and adapted on the rest",
        description="Splits the groups (whole groups, never one group on both sides), trains on "
        "one part and reports R@1/R@5/R@10 and mAP per method for the frozen and the adapted "
        "vectors on the held-out part, the same protocol as `evaluate --groups`. Stores "
        "nothing.",
    )
    ap.add_argument("--groups", type=Path, metavar="CSV", required=True, help="CSV article,group")
    ap.add_argument(
        "--train-fraction",
        type=fraction("--train-fraction", 0.05, 0.95),
        default=0.5,
        help="share of the groups to train on (default: 0.5)",
    )
    ap.add_argument(
        "--seed",
        type=positive_int("--seed", lowest=0),
        default=0,
        help="the random split of the groups (default: 0)",
    )
    ap.add_argument("--method", nargs="+", choices=METHODS, help="methods to report (default: all)")
    _kind(ap)
    _common(ap, run_evaluate)


def _kind(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kind",
        choices=KINDS,
        default="whitening",
        help="whitening: within-group whitening, closed form; linear: a linear map trained with a "
        "contrastive loss from it (default: whitening, which measured as well on Magento)",
    )
    p.add_argument(
        "--dim",
        type=positive_int("--dim", lowest=MIN_DIM),
        help=f"dimensions of the adapted vectors, at least {MIN_DIM} (fewer lose what tells products apart) "
        f"and at most the model's (default: {DEFAULT_DIM}, or the model's if fewer)",
    )


def _common(p: argparse.ArgumentParser, handler) -> None:
    add_db(p)
    add_json(p)
    p.set_defaults(handler=handler)


def run_train(args: argparse.Namespace) -> int:
    activate = False if args.off else True if args.on else None
    with Bar(not args.json and not args.no_progress, "step", "Training") as bar:
        with open_engine(args) as engine:
            adapter = engine.train_adapter(
                args.sources, args.groups, args.kind, args.dim, activate=activate, progress=bar.update
            )
            note = engine.search_space_note() if adapter.info["switched_on"] else None
    info = adapter.info
    on = info["switched_on"]
    if args.json:
        emit_json(
            {
                "id": adapter.id,
                "kind": adapter.kind,
                "dim": adapter.dim,
                "active": on,
                "info": info,
                "note": note,
            }
        )
        return 0
    why = info.get("not_switched_on")
    state = (
        "on"
        if on
        else f"stored, not switched on: {why} (lookalike adapt on uses it)"
        if why
        else "stored, not switched on"
    )
    print(
        f"Adapter {adapter.id}: {adapter.kind}, {adapter.dim}-d, from {info['classes']} classes of "
        f"{info['photos']} photos ({taught_by(info['sources'])}), "
        f"{info['seconds']} s; {state}."
    )
    if info.get("warning"):
        print(f"Warning: {safe(info['warning'])}")
    if note:
        print(f"Note: {note}")
    return 0


# What taught an adapter's classes, per source (`adapt.Examples.sources` counts articles, not decisions).
TAUGHT_BY = {"groups": "groups", "decisions": "decisions", "labels": "labels", "articles": "their own photos"}


def taught_by(sources: dict) -> str:
    """'12 articles by decisions, 140 by their own photos': how many articles each source taught."""
    parts = [(TAUGHT_BY.get(k, k), n) for k, n in sources.items() if n]
    return ", ".join(
        f"{plural(n, 'article') if i == 0 else f'{n:,}'} by {what}" for i, (what, n) in enumerate(parts)
    )


def run_switch(args: argparse.Namespace) -> int:
    with Bar(not args.json, "vector", "Preparing search") as bar:
        with open_engine(args) as engine:
            used = engine.use_adapter(args.adapt_command == "on", getattr(args, "id", None), bar.update)
            note = engine.search_space_note()
    if args.json:
        emit_json({"active": used, "note": note})
        return 0
    print(
        f"Adapter {used['id']} ({used['kind']}) is on."
        if used
        else "Adapter off: search uses the frozen vectors."
    )
    if note:
        print(f"Note: {note}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        status = engine.adapter_status()
    if args.json:
        emit_json(status)
        return 0
    active = status["active"]
    print(
        f"Model {safe(status['model_id'])}: "
        + (f"adapter {active['id']} ({active['kind']}) is on" if active else "no adapter on (frozen vectors)")
    )
    for a in status["stored"]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a["created_at"]))
        print(
            f"  {a['id']:>4}  {a['kind']:<10} {a['info'].get('dim', '?')}-d  {when}  from "
            + (
                taught_by(a["info"]["sources"])
                if a["info"].get("sources")
                else ", ".join(a["info"].get("trained_on", []))
            )
            + ("  [on]" if a["active"] else "")
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        out = engine.evaluate_adapter(
            args.groups, args.train_fraction, args.seed, args.kind, args.method, args.dim
        )
    if args.json:
        emit_json(out)
        return 0
    print(
        f"{out['kind']} adapter trained on {out['train_groups']} groups ({out['train_photos']} photos), "
        f"tested on {out['test_groups']} held-out groups ({out['queries']} queries), seed {out['seed']}"
    )
    print(f"{'method':<12}{'frozen R@1':>11}{'mAP':>8}{'adapted R@1':>13}{'mAP':>8}{'error cut':>11}")
    for m in out["frozen"]:
        f, a = out["frozen"][m], out["adapted"][m]
        cut = 1 - (1 - a["mAP"]) / (1 - f["mAP"]) if f["mAP"] < 1 else 0.0
        print(f"{m:<12}{f['R@1']:>11.3f}{f['mAP']:>8.3f}{a['R@1']:>13.3f}{a['mAP']:>8.3f}{cut:>10.0%}")
    if out["warning"]:
        print(f"Warning: {safe(out['warning'])}")
    return 0
