"""The model list: installed models (bundled first), damaged installs and known models not installed yet,
with the default model, for `lookalike models list` and the app's Settings dialog.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel, default_model, installed_models, load_manifest, models_dir
from desktop_app.core.zoo import KNOWN_MODELS, KnownModel


@dataclass
class ModelRow:
    name: str
    status: str  # "bundled", "installed", "available" (known, not installed) or "damaged"
    precision: str
    size: int | None  # bytes on disk, or the pinned download size; None = unknown
    licence: str
    default: bool
    description: str
    family: str = ""
    pinned: bool | None = None  # for known models: revision, size and sha256 all pinned
    path: str = ""
    problem: str = ""
    # words: "installed" (search by words works), "fetch" (a known text side to fetch), "missing" (named
    # but not there), "" (none)
    text: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _text_status(model: InstalledModel, known: KnownModel | None) -> str:
    from desktop_app.core.text_encoder import text_side_problem

    if model.manifest.text is not None:
        return "installed" if text_side_problem(model) is None else "missing"
    return "fetch" if known is not None and known.text is not None else ""


def list_models(device: str | None = None) -> list[ModelRow]:
    """Installed models (bundled first), then damaged installs, then known models not installed yet."""
    try:
        default_name = default_model(device).manifest.name
    except ModelError:
        default_name = ""
    rows: list[ModelRow] = []
    seen: set[str] = set()
    known = {k.name: k for k in KNOWN_MODELS}
    for model in installed_models():
        m = model.manifest
        seen.add(m.name)
        exists = model.onnx_path.exists()
        rows.append(
            ModelRow(
                name=m.name,
                status=("bundled" if model.bundled else "installed") if exists else "damaged",
                precision=m.precision,
                size=model.onnx_path.stat().st_size if exists else None,
                licence=m.licence,
                default=m.name == default_name,
                description=m.description,
                family=m.family,
                pinned=known[m.name].pinned if m.name in known else None,
                path=str(model.manifest_path),
                problem="" if exists else f"{model.onnx_path.name} is missing",
                text=_text_status(model, known.get(m.name)),
            )
        )
    mdir = models_dir()
    if mdir.is_dir():
        for path in sorted(mdir.glob("*/*.manifest.json")):
            try:
                load_manifest(path)
            except ModelError as exc:
                rows.append(
                    ModelRow(
                        path.parent.name,
                        "damaged",
                        "?",
                        None,
                        "?",
                        False,
                        "",
                        path=str(path),
                        problem=str(exc),
                    )
                )
                seen.add(path.parent.name)
    for k in KNOWN_MODELS:
        if k.name not in seen:
            rows.append(
                ModelRow(
                    k.name,
                    "available",
                    k.precision,
                    k.size,
                    k.licence,
                    False,
                    k.description,
                    k.family,
                    k.pinned,
                    text="fetch" if k.text is not None else "",
                )
            )
    return rows


def describe_default(device: str | None = None) -> str:
    """'clip-vit-b32-int8 (int8, CLIP ViT-B/32)': which model and precision indexing will use by default."""
    model = default_model(device).manifest
    arch = model.extra.get("arch") if isinstance(model.extra, dict) else None
    kind = (
        f"{model.family.upper() if model.family == 'clip' else model.family} {arch}" if arch else model.family
    )
    return f"{model.name} ({model.precision}, {kind}, {model.dim}-d)"
