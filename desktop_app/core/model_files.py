"""An installed model's files: checking an ONNX file against its manifest, finding the weights it keeps
beside it, and putting both (then the manifest, last and atomically) into `models_dir()/<name>/`.

The zoo (`zoo.py`) decides what to install (known models, downloads, imports); this module does it.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import ExitStack
from pathlib import Path

from desktop_app.core.encoder import check_session
from desktop_app.core.errors import ModelError
from desktop_app.core.files import staged_copy, write_error, write_text
from desktop_app.core.models import (
    BUNDLED_MODEL,
    InstalledModel,
    ModelManifest,
    installed_models,
    load_manifest,
    models_dir,
)

# ---------------------------------------------------------------------------------------------- validate


def validate_onnx(onnx_path: Path, manifest: ModelManifest) -> str:
    """Check an ONNX file against a manifest before installing it: the checks every encoder makes when it
    loads (`encoder.check_session`: names, shapes, one real run), on a one-thread CPU session.

    Returns a one-line description; raises ModelError with what differs and what to do.
    """
    from desktop_app.core.device import onnxruntime

    ort = onnxruntime()

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1  # a validation run, not a benchmark: stay off the user's other cores
    try:
        session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(f"{onnx_path} is not a usable ONNX model: {str(exc).splitlines()[0][:300]}") from exc
    return check_session(session, manifest)


# ---------------------------------------------------------------------------------------------- install


def installed_by_name(name: str) -> InstalledModel | None:
    for model in installed_models():
        if model.manifest.name == name:
            return model
    return None


# In an ONNX file, a tensor stored outside it names its file in a StringStringEntryProto: field 1 "location"
# (tag 0x0a, length 8), then field 2 (tag 0x12) with the file name, length-prefixed.
_EXTERNAL_LOCATION = re.compile(rb"\x0a\x08location\x12([\x01-\x7f])")


def external_data_files(onnx_file: Path) -> list[str]:
    """The files an ONNX model keeps its weights in besides itself (external data), relative to it."""
    import mmap

    names: set[str] = set()
    with open(onnx_file, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return []
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for m in _EXTERNAL_LOCATION.finditer(data):
                start = m.end()
                raw = data[start : start + m.group(1)[0]]
                try:
                    names.add(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    continue
    for name in names:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ModelError(
                f"{onnx_file.name} keeps weights in {name!r}, outside its own folder; refusing it."
            )
    return sorted(names)


def checked_external_data(onnx_file: Path) -> list[str]:
    """The model's external-data files, all present beside it (else a ModelError that says so)."""
    external = external_data_files(onnx_file)
    missing = [n for n in external if not (onnx_file.parent / n).is_file()]
    if missing:
        raise ModelError(
            f"{onnx_file.name} keeps its weights in {', '.join(missing)}, which is not beside it; "
            "put the file(s) next to the model and import again."
        )
    return external


def install_files(source_file: Path, manifest: ModelManifest, move: bool) -> InstalledModel:
    """Put the ONNX file (with any external-data files) and then its manifest into models_dir()/<name>/;
    the manifest goes in last. Every file is copied in full before anything of an older install of that name
    changes, so a full disk stops the import with the older model as it was and no partial file left."""
    external = checked_external_data(source_file)
    target = models_dir() / manifest.name
    new_folder = not target.exists()
    manifest_path = target / f"{manifest.name}.manifest.json"
    onnx_path = target / manifest.file
    try:
        with ExitStack() as copies:
            for name in external:
                dest = target / name
                _make_folder(dest.parent)
                copies.enter_context(staged_copy(source_file.parent / name, dest))
            _make_folder(target)
            if not move:
                copies.enter_context(staged_copy(source_file, onnx_path))
            # An old manifest must not describe the new files while they replace the old ones.
            manifest_path.unlink(missing_ok=True)
            if move:
                os.replace(source_file, onnx_path)
        keep = {onnx_path.name}
        if manifest.text is not None:
            keep |= {manifest.text.file, manifest.text.tokenizer}
        for stale in [*target.glob("*.onnx"), *target.glob("*.tokenizer.json")]:
            if stale.name not in keep:
                stale.unlink()  # a file no manifest names any more (an older model of this name)
        write_text(manifest_path, manifest.to_json(), what="model manifest")
    except BaseException:
        if new_folder:
            shutil.rmtree(target, ignore_errors=True)  # only what this import made
        raise
    return load_manifest(manifest_path)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, folder) from exc


def guard_replace(name: str, sha256: str, force: bool) -> InstalledModel | None:
    """The existing install when it is this very file; ModelError when another file would be replaced."""
    if name == BUNDLED_MODEL:
        raise ModelError(f"{name} is the bundled model and cannot be replaced; choose another --name.")
    existing = installed_by_name(name)
    if existing is None or existing.bundled:
        return None
    if existing.manifest.sha256 == sha256 and existing.onnx_path.exists() and not force:
        return existing
    if not force:
        raise ModelError(f"A different model named {name} is already installed; pass --force to replace it.")
    return None
