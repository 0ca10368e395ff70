"""Model manifests: what an ONNX embedder expects and produces, and where installed models live.

A model is an ONNX file plus a JSON manifest next to it. The manifest is the single place that says how to
preprocess photos for the model, so the encoder and the export scripts share this one format. A CLIP model's
manifest may also name its text side (`TextTower`: the text model, its tokenizer, context length and output),
which turns words into vectors in the same space as the photos; manifests without one load as before.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from desktop_app.core.device import gpu_in_use
from desktop_app.core.errors import ModelError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled"
BUNDLED_MODEL = "efficientnet-lite0-imagenet"

RESIZE_MODES = ("center_crop", "letterbox", "squash")
INTERPOLATIONS = ("bicubic", "bilinear")
# Model names become folder and file names and are printed: portable characters only, no path tricks.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SHA256 = re.compile(r"[0-9a-f]{64}")
# A manifest is a few KB (a CLIP one with its text side under 2 KB); anything near this is not a manifest.
MANIFEST_MAX_BYTES = 1_000_000


_TEXT_FIELDS = (
    "name",
    "version",
    "file",
    "sha256",
    "input_name",
    "layout",
    "resize",
    "interpolation",
    "output_name",
    "licence",
    "source",
    "family",
    "precision",
    "description",
)


def _numbers(data: dict, name: str, count: int | None, expected: str, whole: bool = False) -> Any:
    """A manifest's number (count None) or list of `count` numbers, or a ModelError naming the field."""
    value = data[name]
    items = [value] if count is None else value
    if (count is not None and (not isinstance(value, list) or len(value) != count)) or not all(
        _is_number(v, whole) for v in items
    ):
        raise ModelError(f"The manifest's {name} must be {expected}, not {json.dumps(value)}.")
    if count is None:
        return int(value) if whole else float(value)
    return tuple(int(v) if whole else float(v) for v in items)


def _is_number(value: object, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not whole or isinstance(value, int) or value.is_integer()


def check_model_name(name: str) -> str:
    """A model name as it may be installed and printed, or a ModelError saying what names may hold."""
    if not MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise ModelError(
            f"{name!r} is not a usable model name (letters, digits, '.', '_' and '-', up to 100)."
        )
    return name


def _check_sha256(value: str, what: str) -> None:
    """Empty (not known yet: an import fills it in) or 64 lower-case hex digits."""
    if value and not SHA256.fullmatch(value):
        raise ModelError(
            f"The manifest's {what} must be 64 lower-case hex digits (or empty), not {value[:80]!r}."
        )


def _plain_file_name(value: object) -> bool:
    return isinstance(value, str) and bool(value) and Path(value).name == value and value not in (".", "..")


@dataclass(frozen=True)
class TextTower:
    """The text side of a CLIP model: token ids in, a vector in the photos' space out (before L2 norm)."""

    file: str  # the text model's ONNX file, beside the manifest
    sha256: str
    tokenizer: str  # the checkpoint's tokenizer.json (CLIP's BPE and vocabulary), beside the manifest
    tokenizer_sha256: str
    input_name: str = "input_ids"  # int64 [batch, tokens]; an `attention_mask` input is fed when present
    output_name: str = "text_embeds"  # [batch, dim]: the projected text embedding
    context_length: int = 77  # tokens per text, start and end tokens included; longer texts are cut
    precision: str = "fp32"
    # CLIP's learned temperature (exp of its logit_scale): zero-shot label scores are softmax(scale * cos).
    logit_scale: float = 100.0
    source: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: object) -> TextTower:
        if not isinstance(data, dict):
            raise ModelError(f"The manifest's text section must be a JSON object, not {type(data).__name__}.")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        missing = [name for name in ("file", "sha256", "tokenizer", "tokenizer_sha256") if name not in data]
        if missing:
            raise ModelError(f"The manifest's text section has no {', '.join(missing)} field(s).")
        defaults = {"context_length": 77, "logit_scale": 100.0}
        kwargs["context_length"] = _numbers(
            {**defaults, **data}, "context_length", None, "a whole number (tokens per text)", whole=True
        )
        kwargs["logit_scale"] = _numbers({**defaults, **data}, "logit_scale", None, "a number")
        return cls(**kwargs)

    def validate(self, name: str) -> None:
        for what, value in (("text model", self.file), ("tokenizer", self.tokenizer)):
            if not _plain_file_name(value):
                raise ModelError(
                    f"The manifest of {name} names its {what} file {value!r}; it must be a plain "
                    "file name in the manifest's own folder."
                )
        _check_sha256(self.sha256, "text sha256")
        _check_sha256(self.tokenizer_sha256, "text tokenizer_sha256")
        if not 2 <= self.context_length <= 4096:
            raise ModelError(
                f"The text context length {self.context_length} of {name} is out of range (2..4096)."
            )
        if not (math.isfinite(self.logit_scale) and 0 < self.logit_scale <= 1000):
            raise ModelError(
                f"The logit scale {self.logit_scale} of {name}'s text side is out of range (0..1000]."
            )
        if not self.input_name or not self.output_name:
            raise ModelError(f"The text section of {name}'s manifest needs an input_name and an output_name.")


@dataclass(frozen=True)
class ModelManifest:
    name: str  # unique id, e.g. "efficientnet-lite0-imagenet" or "clip-vit-b32-int8"
    version: str
    file: str  # ONNX file name, relative to the manifest
    sha256: str
    input_name: str
    input_size: tuple[int, int]  # (height, width)
    layout: str  # "NCHW" or "NHWC"
    mean: tuple[float, float, float]  # on 0..1 pixel values
    std: tuple[float, float, float]
    resize: str  # one of RESIZE_MODES
    interpolation: str  # "bicubic" or "bilinear"
    output_name: str
    dim: int
    licence: str
    source: str
    family: str = "generic"  # "clip", "imagenet", ...
    precision: str = "fp32"
    description: str = ""
    extra: dict = field(default_factory=dict)
    # Decode JPEGs reduced in the DCT (draft mode, ~4x faster) before resizing. None = by family: off for
    # CLIP, whose embeddings are specified with transformers' full-resolution bicubic resize (draft decoding
    # moves pixel values by up to 2.0 after normalisation there), on for everything else.
    jpeg_draft: bool | None = None
    text: TextTower | None = None  # CLIP's text side, when installed with the model

    @property
    def use_jpeg_draft(self) -> bool:
        return self.family != "clip" if self.jpeg_draft is None else bool(self.jpeg_draft)

    @property
    def model_id(self) -> str:
        """Identity stored with every vector: vectors from different ids are never compared."""
        return f"{self.name}@{self.version}:{self.sha256[:12]}"

    def to_json(self) -> str:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        if data["text"] is None:
            del data["text"]  # an image-only manifest stays as it was before text sides existed
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> ModelManifest:
        if not isinstance(data, dict):
            raise ModelError(f"The model manifest must be a JSON object, not a {type(data).__name__}.")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in data and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            raise ModelError(f"The model manifest has no {', '.join(missing)} field(s).")
        for name in _TEXT_FIELDS:
            if name in data and not isinstance(data[name], str):
                raise ModelError(f"The manifest's {name} must be a text (a JSON string), not {data[name]!r}.")
        kwargs["input_size"] = _numbers(
            data, "input_size", 2, "two whole numbers [height, width]", whole=True
        )
        kwargs["mean"] = _numbers(data, "mean", 3, "three numbers (one per colour)")
        kwargs["std"] = _numbers(data, "std", 3, "three numbers (one per colour)")
        kwargs["dim"] = _numbers(data, "dim", None, "a whole number (the vector length)", whole=True)
        if not isinstance(data.get("extra", {}), dict):
            raise ModelError(f"The manifest's extra must be a JSON object, not {data['extra']!r}.")
        if data.get("jpeg_draft") not in (None, True, False):
            raise ModelError(
                f"The manifest's jpeg_draft must be true, false or null, not {data['jpeg_draft']!r}."
            )
        kwargs["text"] = TextTower.from_dict(data["text"]) if data.get("text") is not None else None
        manifest = cls(**kwargs)
        manifest.validate()
        return manifest

    def validate(self) -> None:
        """Every field in range: a manifest is input from outside, and a bad number makes NaN vectors."""
        name = check_model_name(self.name)
        _check_sha256(self.sha256, "sha256")
        if self.interpolation not in INTERPOLATIONS:
            raise ModelError(
                f"Unknown interpolation {self.interpolation!r} in the manifest of {name} "
                f"(one of {', '.join(INTERPOLATIONS)})."
            )
        if not _plain_file_name(self.file):
            raise ModelError(
                f"The manifest of {name} names its ONNX file {self.file!r}; it must be a plain file "
                "name in the manifest's own folder."
            )
        if self.resize not in RESIZE_MODES:
            raise ModelError(f"Unknown resize mode {self.resize!r} in manifest of {name}.")
        if self.layout not in ("NCHW", "NHWC"):
            raise ModelError(f"Unknown layout {self.layout!r} in manifest of {name}.")
        if len(self.input_size) != 2 or not all(8 <= v <= 4096 for v in self.input_size):
            raise ModelError(
                f"The input size {self.input_size} in the manifest of {name} is out of range (8..4096)."
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ModelError(
                f"The manifest of {name} needs three mean and three std values (one per colour)."
            )
        if not all(math.isfinite(v) for v in (*self.mean, *self.std)) or min(self.std) <= 0:
            raise ModelError(
                f"The manifest of {name} has mean {self.mean} and std {self.std}: every value must be "
                "a finite number and every std above 0."
            )
        if not 1 <= self.dim <= 65536:
            raise ModelError(f"The vector dimension {self.dim} in the manifest of {name} is out of range.")
        if self.text is not None:
            self.text.validate(name)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class InstalledModel:
    manifest: ModelManifest
    manifest_path: Path

    @property
    def onnx_path(self) -> Path:
        return self.manifest_path.parent / self.manifest.file

    @property
    def bundled(self) -> bool:
        return self.manifest_path.parent == BUNDLED_DIR

    @property
    def text_path(self) -> Path | None:
        """The text model's ONNX file (None when the manifest names no text side)."""
        text = self.manifest.text
        return self.manifest_path.parent / text.file if text is not None else None

    @property
    def tokenizer_path(self) -> Path | None:
        text = self.manifest.text
        return self.manifest_path.parent / text.tokenizer if text is not None else None


def load_manifest(path: Path) -> InstalledModel:
    """The one way a manifest is read: a regular file (or a pipe) of at most MANIFEST_MAX_BYTES holding a
    JSON object whose every field is checked (`ModelManifest.validate`); anything else is one ModelError."""
    from desktop_app.core.files import read_input

    raw = read_input(path, "model manifest", MANIFEST_MAX_BYTES, error=ModelError)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"Model manifest {path} cannot be read: {exc}") from exc
    except RecursionError as exc:  # thousands of nested brackets: no manifest looks like that
        raise ModelError(f"Model manifest {path} cannot be read: its JSON is nested too deeply.") from exc
    try:
        manifest = ModelManifest.from_dict(data)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    return InstalledModel(manifest, Path(path))


def models_dir() -> Path:
    """Where fetched and imported models live (per user)."""
    from desktop_app.core.paths import user_data_dir

    return user_data_dir() / "models"


def installed_models() -> list[InstalledModel]:
    """The bundled model first, then user-installed ones sorted by name."""
    found = [load_manifest(p) for p in sorted(BUNDLED_DIR.glob("*.manifest.json"))]
    mdir = models_dir()
    try:
        manifests = sorted(mdir.glob("*/*.manifest.json")) if mdir.is_dir() else []
    except OSError:
        manifests = []  # an unreadable models folder hides only the models in it
    if manifests:
        for p in manifests:
            try:
                found.append(load_manifest(p))
            except ModelError:
                continue  # a damaged install must not hide the others; `models list` reports it
    return found


def resolve_model(name_or_file: str | None) -> InstalledModel:
    """A model by name, by manifest path, or by ONNX path with a manifest beside it; None = default."""
    if not name_or_file:
        return default_model()
    candidate = Path(name_or_file)
    if candidate.suffix == ".json" and _exists(candidate):
        return load_manifest(candidate)
    if candidate.suffix == ".onnx" and _exists(candidate):
        manifest = candidate.with_suffix("").with_suffix(".manifest.json")
        if not manifest.exists():
            manifest = candidate.parent / (candidate.stem + ".manifest.json")
        if not manifest.exists():
            raise ModelError(
                f"No manifest next to {candidate}. Import it with `lookalike models import {candidate} "
                "--manifest MANIFEST.json`."
            )
        return load_manifest(manifest)
    for model in installed_models():
        if model.manifest.name == name_or_file:
            return model
    names = ", ".join(m.manifest.name for m in installed_models())
    raise ModelError(
        f"Model {name_or_file!r} is not installed (installed: {names}); {_install_hint(name_or_file)}."
    )


def _install_hint(name: str) -> str:
    """How to get a model that is not installed: fetch a known one, else import its file."""
    from desktop_app.core.zoo import KNOWN_MODELS  # the zoo builds on this module

    if any(k.name == name for k in KNOWN_MODELS):
        return f"fetch it: lookalike models fetch {name} (offline: lookalike models import FILE --as {name})"
    return "import its file: lookalike models import FILE.onnx (lookalike models list shows the known ones)"


# CLIP ViT-B/32 is the default whenever one of its variants is installed, in the variant that suits the
# device: int8 runs fastest on CPUs (VNNI/AVX2 integer kernels); GPUs want fp16, then fp32 (dynamic int8
# falls back to slow paths on CUDA).
CLIP_DEFAULT_ORDER = {
    "cpu": ("clip-vit-b32-int8", "clip-vit-b32-fp32", "clip-vit-b32-fp16"),
    "gpu": ("clip-vit-b32-fp16", "clip-vit-b32-fp32", "clip-vit-b32-int8"),
}


def default_model(device: str | None = None) -> InstalledModel:
    """CLIP ViT-B/32 in the variant that suits `device` (auto/cpu/cuda/tensorrt) when one is installed,
    otherwise the bundled offline model; the returned manifest names the model and its precision."""
    models = installed_models()
    usable = {m.manifest.name: m for m in models if m.onnx_path.exists()}
    if any(name in usable for name in CLIP_DEFAULT_ORDER["cpu"]):  # only then is the GPU probe worth it
        for name in CLIP_DEFAULT_ORDER["gpu" if gpu_in_use(device) else "cpu"]:
            if name in usable:
                return usable[name]
    for model in models:
        if model.manifest.name == BUNDLED_MODEL:
            return model
    if models:
        return models[0]
    raise ModelError(
        "No model is installed and the bundled model is missing; reinstall Lookalike "
        "(the package ships desktop_app/bundled/efficientnet-lite0-imagenet.onnx)."
    )


# ============================================================================ a catalog's model


def catalog_model(model: str | None, manifest_path: str | None) -> InstalledModel:
    """The model a catalog was indexed with: by name when installed, else by its manifest file."""
    if model is None:
        return resolve_model(None)
    try:
        return resolve_model(model)
    except ModelError:
        if manifest_path and _exists(Path(manifest_path)):
            return load_manifest(Path(manifest_path))
        raise


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a folder we may not enter: the file is not usable here
        return False


def vector_identity(manifest: ModelManifest, resize: str | None, mirror: bool) -> str:
    """The identity stored with every vector: vectors made with other preprocessing are not comparable."""
    if resize == manifest.resize:
        resize = None
    mid = manifest.model_id
    if resize or mirror:
        mid = f"{mid}|{resize or manifest.resize}{'|mirror' if mirror else ''}"
    return mid
