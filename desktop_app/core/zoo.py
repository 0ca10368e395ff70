"""The model zoo: known downloadable models, and fetching, importing and removing installed ones.

Installed models live in `models_dir()/<name>/` as `<name>.onnx` plus `<name>.manifest.json`. A model
becomes visible to the app only when its manifest appears, and the manifest is always written last and
atomically, so a crash or a cut download never leaves a half-installed model behind.

Downloads come from the Hugging Face hub, or from a mirror with the same URL layout
(`<base>/<repo>/resolve/<revision>/<path>`) named by the LOOKALIKE_MODEL_MIRROR environment variable or the
`mirror` argument. A download resumes where a previous attempt stopped (HTTP Range), is checked against the
pinned size and sha256 where those are known, and is validated like an import before it is installed.
A CLIP model also gets its text side, `<name>.text.onnx` and `<name>.tokenizer.json` (see `zoo_text`).
The list of installed and known models is `zoo_list`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core import zoo_text
from desktop_app.core.downloads import MIRROR_ENV, Progress, Wanted, fetch_file
from desktop_app.core.errors import ModelError
from desktop_app.core.model_files import (
    checked_external_data,
    guard_replace,
    install_files,
    installed_by_name,
    validate_onnx,
)
from desktop_app.core.models import (
    InstalledModel,
    ModelManifest,
    check_model_name,
    load_manifest,
    models_dir,
    sha256_of,
)

DEFAULT_MIRROR = "https://huggingface.co"
DOWNLOADS = ".downloads"  # partial downloads, inside models_dir() so the final move is a same-disk rename

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class KnownModel:
    """A model the app knows how to download, and the manifest it gets once installed.

    `revision`, `size` and `sha256` pin the download. None means "not known to us": such a download is
    reported as unpinned, its size and checksum are not checked, and the manifest records the sha256 of
    what actually arrived.
    """

    name: str
    repo: str  # hub repository, e.g. "Xenova/clip-vit-base-patch32"
    path: str  # file inside the repository
    revision: str | None
    size: int | None
    sha256: str | None
    precision: str
    arch: str
    licence: str
    description: str
    dim: int = 512
    input_name: str = "pixel_values"
    output_name: str = "image_embeds"
    input_size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resize: str = "center_crop"
    interpolation: str = "bicubic"
    family: str = "clip"
    export_source: str = ""  # checkpoint that `lookalike models export` turns into an equivalent model
    text: zoo_text.KnownText | None = None  # the text side of the same checkpoint, fetched with the model

    @property
    def pinned(self) -> bool:
        return bool(self.revision and self.size and self.sha256)

    def url(self, mirror: str | None = None) -> str:
        base = (mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR).rstrip("/")
        return f"{base}/{self.repo}/resolve/{self.revision or 'main'}/{self.path}"

    def manifest(self, sha256: str) -> ModelManifest:
        return ModelManifest(
            name=self.name,
            version=(self.revision or "unpinned")[:12],
            file=f"{self.name}.onnx",
            sha256=sha256,
            input_name=self.input_name,
            input_size=self.input_size,
            layout="NCHW",
            mean=self.mean,
            std=self.std,
            resize=self.resize,
            interpolation=self.interpolation,
            output_name=self.output_name,
            dim=self.dim,
            licence=self.licence,
            source=f"{self.repo}@{self.revision or 'main (unpinned)'}/{self.path}",
            family=self.family,
            precision=self.precision,
            description=self.description,
            extra={"arch": self.arch, "pinned": self.pinned},
        )


_XENOVA_B32 = "Xenova/clip-vit-base-patch32"
_XENOVA_B32_REV = "d15189d7028b43f1d3e65039190477f6af591c2a"
_XENOVA_B16 = "Xenova/clip-vit-base-patch16"
_CLIP_LICENCE = "MIT (OpenAI CLIP weights)"

# The Xenova files are ONNX exports of CLIPVisionModelWithProjection: input `pixel_values`
# [batch, 3, 224, 224], output `image_embeds` [batch, 512] (the projected embedding), CLIP preprocessing.
# Only the ViT-B/32 int8 file's size and sha256 are known to us for certain. The other entries are pinned
# as far as we honestly can: the ViT-B/32 ones by revision only, the ViT-B/16 ones not at all (the hub's
# main branch). Fill in a size/sha256 only from a real download of the pinned revision. Each entry names the
# text side of the same checkpoint (zoo_text), fetched with it so the model can also search by words.
KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name="clip-vit-b32-int8",
        repo=_XENOVA_B32,
        path="onnx/vision_model_quantized.onnx",
        revision=_XENOVA_B32_REV,
        size=89_117_001,
        sha256="583fd1110a514667812fee7d684952aaf82a99b959760c8d7dca7e0ab9839299",
        precision="int8",
        arch="ViT-B/32",
        licence=_CLIP_LICENCE,
        description="OpenAI CLIP ViT-B/32 image tower, 8-bit quantised: the default on CPUs",
        export_source="openai/clip-vit-base-patch32",
        text=zoo_text.B32_TEXT_INT8,
    ),
    KnownModel(
        name="clip-vit-b32-fp32",
        repo=_XENOVA_B32,
        path="onnx/vision_model.onnx",
        revision=_XENOVA_B32_REV,
        size=None,  # unpinned-size: not known to us
        sha256=None,  # not known to us: recorded from the download, not checked
        precision="fp32",
        arch="ViT-B/32",
        licence=_CLIP_LICENCE,
        description="OpenAI CLIP ViT-B/32 image tower, full precision",
        export_source="openai/clip-vit-base-patch32",
        text=zoo_text.B32_TEXT_FP32,
    ),
    KnownModel(
        name="clip-vit-b32-fp16",
        repo=_XENOVA_B32,
        path="onnx/vision_model_fp16.onnx",
        revision=_XENOVA_B32_REV,
        size=None,  # unpinned-size: not known to us
        sha256=None,  # not known to us: recorded from the download, not checked
        precision="fp16",
        arch="ViT-B/32",
        licence=_CLIP_LICENCE,
        description="OpenAI CLIP ViT-B/32 image tower, half precision: the default on NVIDIA GPUs",
        export_source="openai/clip-vit-base-patch32",
        text=zoo_text.B32_TEXT_FP16,
    ),
    KnownModel(
        name="clip-vit-b16-fp32",
        repo=_XENOVA_B16,
        path="onnx/vision_model.onnx",
        revision=None,  # no revision known to us: the hub's main branch, unpinned
        size=None,
        sha256=None,
        precision="fp32",
        arch="ViT-B/16",
        licence=_CLIP_LICENCE,
        description="OpenAI CLIP ViT-B/16 image tower: finer detail, about 4x the compute of ViT-B/32",
        export_source="openai/clip-vit-base-patch16",
        text=zoo_text.B16_TEXT_FP32,
    ),
    KnownModel(
        name="clip-vit-b16-int8",
        repo=_XENOVA_B16,
        path="onnx/vision_model_quantized.onnx",
        revision=None,  # no revision known to us: the hub's main branch, unpinned
        size=None,
        sha256=None,
        precision="int8",
        arch="ViT-B/16",
        licence=_CLIP_LICENCE,
        description="OpenAI CLIP ViT-B/16 image tower, 8-bit quantised",
        export_source="openai/clip-vit-base-patch16",
        text=zoo_text.B16_TEXT_INT8,
    ),
)


def known_model(name: str) -> KnownModel:
    for model in KNOWN_MODELS:
        if model.name == name:
            return model
    names = ", ".join(m.name for m in KNOWN_MODELS)
    raise ModelError(f"{name!r} is not a known model. Known models: {names}.")


def _knows_text_of(name: str) -> bool:
    return any(k.name == name and k.text is not None for k in KNOWN_MODELS)


def add_text_hint(name: str) -> str:
    """How to add the text side to an installed CLIP model: fetch it when the zoo knows its text side (a
    fetch of an installed model adds just that), else import the text model exported with it."""
    importing = f"`lookalike models import TEXT.onnx --text-for {name} --tokenizer tokenizer.json`"
    if _knows_text_of(name):
        return f"add it with `lookalike models fetch {name}` (or {importing})"
    return (
        f"add it with {importing}, giving the text model and tokenizer exported from the same checkpoint "
        "(lookalike models export SOURCE --text)"
    )


def reinstall_hint(model: InstalledModel, text: bool = False) -> str:
    """How to put back a model's file (the image model, or with `text` the text model and tokenizer) found
    missing or damaged: fetch a model of the zoo again, import any other again; the bundled model is part of
    the app. `--force` because an install whose manifest still matches is otherwise kept as it is."""
    name = model.manifest.name
    if model.bundled:
        return "reinstall Lookalike (the bundled model's file is part of the app)"
    known = _knows_text_of(name) if text else any(k.name == name for k in KNOWN_MODELS)
    if known:
        return f"fetch it again: `lookalike models fetch {name} --force`"
    if text:
        return (
            "import its text side again: "
            f"`lookalike models import TEXT.onnx --text-for {name} --tokenizer tokenizer.json`"
        )
    return (
        "import it again from the file it was installed from: "
        f"`lookalike models import MODEL.onnx --name {name} --force`"
    )


def check_name(name: str) -> str:
    """Model names become folder names: keep them portable and free of path tricks (the manifest's rule)."""
    return check_model_name(name)


def _chosen_manifest(
    onnx_file: Path, sha: str, manifest: Path | ModelManifest | None, known_as: str | None
) -> tuple[ModelManifest, Path, KnownModel | None]:
    """(manifest, folder its other files are in, the known model it is) for an import."""
    if isinstance(manifest, ModelManifest):
        return manifest, onnx_file.parent, None
    if manifest is not None:
        return load_manifest(Path(manifest)).manifest, Path(manifest).parent, None
    if known_as:
        known = known_model(known_as)
        if known.sha256 and known.sha256 != sha:
            raise ModelError(
                f"{onnx_file.name} is not the file {known.name} pins (sha256 {sha[:12]}..., expected "
                f"{known.sha256[:12]}...); download {known.url()} again."
            )
        return known.manifest(sha), onnx_file.parent, known
    beside = onnx_file.with_name(onnx_file.stem + ".manifest.json")
    if beside.is_file():
        return load_manifest(beside).manifest, onnx_file.parent, None
    match = next((k for k in KNOWN_MODELS if k.sha256 == sha), None)
    if match is None:
        known_names = ", ".join(k.name for k in KNOWN_MODELS)
        raise ModelError(
            f"No manifest for {onnx_file.name}: pass --manifest MANIFEST.json (the format export scripts "
            f"write), or --as NAME if it is the file of a known model ({known_names})."
        )
    return match.manifest(sha), onnx_file.parent, match


def import_model(
    onnx_file: Path,
    manifest: Path | ModelManifest | None = None,
    *,
    name: str | None = None,
    known_as: str | None = None,
    force: bool = False,
    text_file: Path | None = None,
    tokenizer_file: Path | None = None,
) -> InstalledModel:
    """Install an ONNX file from disk (air-gapped machines), after checking it against its manifest.

    The manifest is, in this order: `manifest` (a JSON file or object); the known model `known_as`; a
    `<stem>.manifest.json` next to the file; the known model whose pinned sha256 equals the file's. A CLIP
    model's text side comes along: the text model and tokenizer its manifest names (beside the manifest), or
    `text_file` and `tokenizer_file`.
    """
    onnx_file = Path(onnx_file)
    if not onnx_file.is_file():
        raise ModelError(f"{onnx_file} does not exist or is not a file.")
    sha = sha256_of(onnx_file)
    chosen, folder, known = _chosen_manifest(onnx_file, sha, manifest, known_as)
    if chosen.sha256 and chosen.sha256 != sha:
        raise ModelError(
            f"{onnx_file.name} does not match its manifest (sha256 {sha[:12]}..., the manifest says "
            f"{chosen.sha256[:12]}...): the file is damaged or the manifest belongs to another file."
        )
    plan = zoo_text.plan_text(chosen.text, folder, known.text if known else None, text_file, tokenizer_file)
    final_name = check_name(name or chosen.name)
    chosen = dataclasses.replace(chosen, name=final_name, file=f"{final_name}.onnx", sha256=sha, text=None)
    installed = guard_replace(final_name, sha, force)
    checked = installed is None
    if installed is None:
        checked_external_data(onnx_file)
        validate_onnx(onnx_file, chosen)
        if plan is not None:  # both sides checked before anything is installed
            zoo_text.validate_text_onnx(plan.text_file, plan.tokenizer_file, plan.section, chosen.dim)
        installed = install_files(onnx_file, chosen, move=False)
    if plan is not None:
        installed = zoo_text.add_text_side(
            installed, plan.text_file, plan.tokenizer_file, plan.section, check=not checked
        )
    return installed


def import_text(name: str, text_file: Path, tokenizer_file: Path) -> InstalledModel:
    """Add a text model and its tokenizer to an installed CLIP model (`models import --text-for NAME`)."""
    model = installed_by_name(check_name(name))
    if model is None:
        raise ModelError(f"No installed model is called {name!r}; `lookalike models list` shows them.")
    known = next((k for k in KNOWN_MODELS if k.name == name), None)
    plan = zoo_text.plan_text(
        None, Path(text_file).parent, known.text if known else None, text_file, tokenizer_file
    )
    assert plan is not None
    return zoo_text.add_text_side(model, plan.text_file, plan.tokenizer_file, plan.section)


def remove_model(name: str) -> Path:
    """Delete an installed model's folder (never the bundled model); returns the folder removed."""
    model = installed_by_name(name)
    root = models_dir().resolve()
    if model is None:
        folder = models_dir() / check_name(name)
        if folder.is_dir() and folder.resolve().parent == root:
            shutil.rmtree(folder)  # a damaged install that installed_models() skips
            return folder
        raise ModelError(f"No installed model is called {name!r}; `lookalike models list` shows them.")
    if model.bundled:
        raise ModelError(f"{name} is the bundled model; it is part of the app and cannot be removed.")
    folder = model.manifest_path.parent
    if folder.resolve().parent != root:
        raise ModelError(f"{name} is not in the models folder {models_dir()}; remove {folder} by hand.")
    shutil.rmtree(folder)
    (models_dir() / DOWNLOADS / f"{name}.onnx.part").unlink(missing_ok=True)
    return folder


# ---------------------------------------------------------------------------------------------- fetch


@dataclass
class FetchResult:
    model: InstalledModel
    url: str
    bytes: int
    resumed_from: int  # bytes already on disk from an earlier, cut attempt (0 = fresh download)
    verified: bool  # size and sha256 checked against pinned values
    already_installed: bool = False
    warning: str = ""
    text: zoo_text.TextFetch | None = None  # the text side, for known models that have one


def fetch(
    model: str | KnownModel,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
    timeout: float = 30.0,
    chunk: int = 1 << 20,
    text: bool = True,
) -> FetchResult:
    """Download a known model, check it and install it; with `text`, its text side too (CLIP models).

    Safe to re-run: a cut download resumes, and an installed image model only gets its missing text side."""
    known = model if isinstance(model, KnownModel) else known_model(model)
    check_name(known.name)
    url = known.url(mirror)
    existing = None if force else installed_by_name(known.name)
    downloads = models_dir() / DOWNLOADS
    if existing is not None and existing.onnx_path.exists():
        size = existing.onnx_path.stat().st_size
        result = FetchResult(existing, url, size, 0, known.pinned, already_installed=True)
    else:
        downloads.mkdir(parents=True, exist_ok=True)
        result = _fetch_image(
            known, url, downloads / f"{known.name}.onnx.part", progress, timeout, chunk, text
        )
    if text and known.text is not None:
        base = url[: -len(known.path)].rstrip("/")
        downloads.mkdir(parents=True, exist_ok=True)
        try:
            result.model, result.text = zoo_text.fetch_text(
                known, result.model, base, downloads, progress, force, timeout, chunk
            )
        except ModelError as exc:
            if result.already_installed:
                raise
            raise ModelError(
                f"{known.name} is installed for photos, but its text side is not: {exc}"
            ) from exc
    return result


def _fetch_image(
    known: KnownModel, url: str, part: Path, progress: Progress | None, timeout: float, chunk: int, text: bool
) -> FetchResult:
    also, hint = zoo_text.offline_import(known, url, text)
    wanted = Wanted(url, known.name, known.size, known.sha256, hint, also)
    got = fetch_file(wanted, part, progress, timeout, chunk)
    manifest = known.manifest(got.sha256)
    try:
        validate_onnx(part, manifest)
    except ModelError:
        part.unlink(missing_ok=True)
        raise
    installed = install_files(part, manifest, move=True)
    warning = ""
    if not known.pinned:
        missing = [
            k
            for k, v in (("revision", known.revision), ("size", known.size), ("sha256", known.sha256))
            if not v
        ]
        warning = (
            f"{known.name} is not pinned by {', '.join(missing)}: it was checked for shape only "
            f"(sha256 {got.sha256[:12]}... recorded in its manifest)."
        )
    return FetchResult(installed, url, got.bytes, got.resumed_from, known.pinned, warning=warning)
