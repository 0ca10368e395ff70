"""Export a CLIP checkpoint's image tower with its projection to one ONNX file, verify it, write its manifest.

    python models/export_clip.py SOURCE [--fp16 | --int8] [--text] [--name NAME] [--out DIR] [--photos DIR]

With --text the text tower (with its projection) and the checkpoint's tokenizer are exported beside the
image tower, verified the same way (see models/clip_text_export.py), and the one manifest names both.

SOURCE is a Hugging Face hub id (e.g. openai/clip-vit-base-patch32) or a local directory holding a
checkpoint saved by transformers (config.json + weights + preprocessor_config.json).

Steps, each of which must pass or the script exits non-zero and installs nothing:
  1. load `CLIPVisionModelWithProjection` (vision transformer + visual projection) and the checkpoint's
     `CLIPImageProcessor` config;
  2. translate the preprocessor config into a Lookalike manifest (input size, resize mode, interpolation,
     mean/std); preprocessing the app cannot reproduce is refused rather than approximated;
  3. export with `torch.onnx.export` (TorchScript exporter, opset >= 17, dynamic batch axis): input
     `pixel_values` [batch, 3, H, W] float32, output `image_embeds` [batch, projection_dim], the projected
     (not normalised) embedding. optimum's exporter is not used because its image-feature task drops the
     projection head;
  4. optionally convert: --fp16 (weights and compute in float16, float32 inputs/outputs kept) or --int8
     (onnxruntime dynamic quantisation of the weights);
  5. verify in onnxruntime (CPU) against torch fp32 on real photos preprocessed exactly as the manifest says,
     in one batch and one at a time: the lowest cosine similarity must be >= 0.9999 for fp32 and >= 0.99 for
     fp16/int8. The figures are printed;
  6. move the ONNX file and then its manifest into place (default: the user's models folder, where the app
     finds it as an installed model).

Needs the "export" extra (torch, transformers, onnx); the app itself never imports them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MODELS_DIR = Path(__file__).resolve().parent
if str(MODELS_DIR) not in sys.path:
    sys.path.insert(0, str(MODELS_DIR))

import clip_text_export as clip_text  # noqa: E402
from onnx_precision import convert  # noqa: E402

from desktop_app.core.models import ModelManifest, TextTower, models_dir, sha256_of  # noqa: E402

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "image_embeds"
MIN_OPSET = 17
THRESHOLDS = {"fp32": 0.9999, "fp16": 0.99, "int8": 0.99}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
SAMPLE_PHOTOS = REPO_ROOT / "desktop_app" / "bundled" / "sample" / "photos"
# The shared data folder sits beside the repository checkout.
DATASET_PHOTOS = REPO_ROOT.parent / "shared" / "datasets" / "magento-luma" / "photos"

# Short names for the public OpenAI checkpoints, so an export of openai/clip-vit-base-patch32 is installed
# under the same name as the known model of desktop_app/core/zoo.py and becomes the default model.
SHORT_NAMES = {
    "clip-vit-base-patch32": "clip-vit-b32",
    "clip-vit-base-patch16": "clip-vit-b16",
    "clip-vit-large-patch14": "clip-vit-l14",
}
_RESAMPLE_NAMES = {3: "bicubic", 2: "bilinear"}  # PIL's enum values, as stored in preprocessor configs


class ExportError(Exception):
    """A step failed; the message says which and why."""


# ---------------------------------------------------------------------------------------------- options


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="export_clip.py",
        description="Export a CLIP image tower with its projection to ONNX, verify it and write its manifest.",
    )
    parser.add_argument(
        "source", help="hub id (e.g. openai/clip-vit-base-patch32) or a local checkpoint directory"
    )
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp16", action="store_true", help="float16 weights (GPU use; float32 in and out)"
    )
    precision.add_argument(
        "--int8", action="store_true", help="int8 weights by onnxruntime dynamic quantisation (CPU use)"
    )
    parser.add_argument(
        "--name", help="model name (default: from SOURCE and precision, e.g. clip-vit-b32-int8)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: the user's models folder/NAME)")
    parser.add_argument(
        "--photos", type=Path, help="folder of real photos for the check (searched recursively)"
    )
    parser.add_argument(
        "--verify-photos", type=int, default=8, help="how many photos to verify on (default 8)"
    )
    parser.add_argument(
        "--opset", type=int, default=MIN_OPSET, help=f"ONNX opset, >= {MIN_OPSET} (default {MIN_OPSET})"
    )
    parser.add_argument(
        "--licence", help="licence recorded in the manifest (default: MIT for openai/*, else unknown)"
    )
    parser.add_argument("--revision", help="hub revision (commit, branch or tag) to load")
    parser.add_argument("--force", action="store_true", help="replace an existing model of the same name")
    parser.add_argument(
        "--text",
        action="store_true",
        help="also export the text tower with its projection and the tokenizer (SOURCE must be a full CLIP "
        "checkpoint); one manifest names both, so the model can search by words",
    )
    parser.add_argument(
        "--result-json", type=Path, help=argparse.SUPPRESS
    )  # used by `lookalike models export`
    args = parser.parse_args(argv)
    if args.opset < MIN_OPSET:
        parser.error(f"--opset must be >= {MIN_OPSET}")
    if args.verify_photos < 2:
        parser.error("--verify-photos must be >= 2 (one batch of several photos is part of the check)")
    args.precision = "fp16" if args.fp16 else "int8" if args.int8 else "fp32"
    return args


def default_name(source: str, precision: str) -> str:
    base = source.rstrip("/\\").replace("\\", "/").split("/")[-1].lower()
    base = SHORT_NAMES.get(base, base)
    base = re.sub(r"[^a-z0-9._-]+", "-", base).strip("-.") or "clip"
    return f"{base}-{precision}"


def default_licence(source: str) -> str:
    # OpenAI released the CLIP code and weights under the MIT licence; for anything else we cannot know.
    if source.startswith("openai/"):
        return "MIT"
    return "unknown (see the checkpoint's model card)"


# ---------------------------------------------------------------------------------------------- loading


@contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' own messages and progress bars off while a checkpoint loads: its "Loading weights" bar
    and notes reach the export's terminal otherwise, where this script reports what it did itself. The
    hub's download bars stay as they were: a download is the slow part, and its progress is worth seeing."""
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars = not are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # transformers' bars, and the hub's with them ...
    if hub_bars:
        enable_progress_bars()  # ... which come back on their own
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_checkpoint(source: str, revision: str | None):
    """The vision tower with projection (fp32, eval mode) and the checkpoint's image processor."""
    try:
        import torch
        import transformers
        from transformers import CLIPVisionModelWithProjection
    except ImportError as exc:
        raise ExportError(
            f"{exc.name or exc} is not installed. The export needs the optional `export` extra "
            "(torch, transformers, onnx): pip install 'lookalike[export]'."
        ) from exc
    try:
        # transformers 5 names the PIL implementation explicitly; plain CLIPImageProcessor would warn about
        # torchvision. Only the configuration is read, so either class gives the same manifest.
        from transformers import CLIPImageProcessorPil as ProcessorClass
    except ImportError:
        from transformers import CLIPImageProcessor as ProcessorClass
    kwargs = {"revision": revision} if revision else {}
    # A full CLIP checkpoint holds the text tower too; its keys are "unexpected" for the vision class, and
    # transformers would print a table of them. Real problems (missing or mismatched weights) still raise.
    try:
        with quiet_loading():
            model = CLIPVisionModelWithProjection.from_pretrained(
                source,
                # eager attention traces to plain MatMul/Softmax, which every exporter and runtime handles
                attn_implementation="eager",
                dtype=torch.float32,
                **kwargs,
            )
            processor = ProcessorClass.from_pretrained(source, **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ExportError(
            f"Cannot load the CLIP checkpoint {source!r}: {str(exc).splitlines()[0]}. "
            "Without network access, pass a local directory that holds a saved checkpoint."
        ) from exc
    model.eval()
    info = {
        "transformers": transformers.__version__,
        "torch": torch.__version__.split("+")[0],
        "commit": getattr(model.config, "_commit_hash", None),
    }
    return model, processor, info


def _size_field(size, key: str):
    """SizeDict (transformers 5) or dict (4.x) or int (very old configs)."""
    if size is None:
        return None
    if isinstance(size, int):
        return size if key in ("shortest_edge", "height", "width") else None
    if isinstance(size, dict):
        return size.get(key)
    return getattr(size, key, None)


def preprocessing_from(processor) -> dict:
    """Manifest fields that reproduce the checkpoint's CLIPImageProcessor, or ExportError."""
    size, crop = processor.size, processor.crop_size
    short = _size_field(size, "shortest_edge")
    height, width = _size_field(size, "height"), _size_field(size, "width")
    do_crop = bool(getattr(processor, "do_center_crop", False))
    if not getattr(processor, "do_resize", True):
        raise ExportError("The preprocessor does not resize photos; a fixed input size is required.")
    if do_crop:
        crop_h, crop_w = _size_field(crop, "height"), _size_field(crop, "width")
        if not (crop_h and crop_w):
            raise ExportError(f"The preprocessor's crop size {crop!r} has no height and width.")
        # images.py's center_crop scales the shortest side to the crop size; a "resize to 256, crop 224"
        # recipe would need another field, so it is refused instead of silently approximated.
        if short is None or short != min(crop_h, crop_w):
            raise ExportError(
                f"The preprocessor resizes to {size!r} and crops {crop_h}x{crop_w}; Lookalike can only scale "
                "the shortest side to the crop size. This checkpoint is not supported."
            )
        input_size, resize = (int(crop_h), int(crop_w)), "center_crop"
    else:
        if not (height and width):
            raise ExportError(
                f"The preprocessor resizes to {size!r} without a crop; a fixed input size is needed."
            )
        input_size, resize = (int(height), int(width)), "squash"
    resample = int(getattr(processor, "resample", 3))
    if resample not in _RESAMPLE_NAMES:
        raise ExportError(
            f"The preprocessor uses resampling filter {resample}; only bicubic and bilinear are supported."
        )
    if getattr(processor, "do_rescale", True) and abs(float(processor.rescale_factor) - 1 / 255) > 1e-9:
        raise ExportError(
            f"The preprocessor rescales by {processor.rescale_factor}; only 1/255 is supported."
        )
    if getattr(processor, "do_normalize", True):
        mean = tuple(float(x) for x in processor.image_mean)
        std = tuple(float(x) for x in processor.image_std)
    else:
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return {
        "input_size": input_size,
        "resize": resize,
        "interpolation": _RESAMPLE_NAMES[resample],
        "mean": mean,
        "std": std,
        "layout": "NCHW",
    }


def arch_of(config) -> str:
    """A readable architecture label; the standard OpenAI sizes get their usual names."""
    v = config.vision_config if hasattr(config, "vision_config") else config
    known = {(768, 12): "B", (1024, 24): "L", (1280, 32): "H"}
    size = known.get((v.hidden_size, v.num_hidden_layers))
    if size:
        return f"ViT-{size}/{v.patch_size}"
    return f"ViT(hidden={v.hidden_size}, layers={v.num_hidden_layers}, patch={v.patch_size})"


# ---------------------------------------------------------------------------------------------- export


def make_tower(model):
    import torch

    class ImageTower(torch.nn.Module):
        """pixel_values -> projected image embedding (CLIP's `image_embeds`, before L2 normalisation)."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).image_embeds

    return ImageTower(model).eval()


def export_fp32(tower, input_size: tuple[int, int], opset: int) -> bytes:
    import torch

    dummy = torch.zeros(2, 3, *input_size, dtype=torch.float32)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # Expected and harmless here: the TorchScript exporter's deprecation notice (it is kept because it
        # writes one self-contained file), and CLIP's image-size check tracing to a constant (the manifest
        # fixes the input size).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            tower,
            (dummy,),
            buffer,
            dynamo=False,  # TorchScript exporter: one self-contained file, no onnxscript dependency
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
            export_params=True,
        )
    return buffer.getvalue()


def check_structure(data: bytes, input_size: tuple[int, int], dim: int, opset: int) -> str:
    """onnx checker, opset, dynamic batch axis, input/output names and shapes; a one-line summary."""
    import onnx

    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    opsets = {o.domain: o.version for o in model.opset_import}
    found = opsets.get("", opsets.get("ai.onnx", 0))
    if found < MIN_OPSET or found != opset:
        raise ExportError(f"The ONNX file has opset {found}; expected {opset} (>= {MIN_OPSET}).")

    def dims(value_info) -> list:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    inputs = {i.name: i for i in model.graph.input}
    outputs = {o.name: o for o in model.graph.output}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ExportError(f"The ONNX file has inputs {list(inputs)} and outputs {list(outputs)}.")
    got_in, got_out = dims(inputs[INPUT_NAME]), dims(outputs[OUTPUT_NAME])
    if not isinstance(got_in[0], str) or got_in[1:] != [3, *input_size]:
        raise ExportError(
            f"Unexpected input shape {got_in}; expected [batch, 3, {input_size[0]}, {input_size[1]}]."
        )
    if not isinstance(got_out[0], str) or got_out[1:] != [dim]:
        raise ExportError(f"Unexpected output shape {got_out}; expected [batch, {dim}].")
    return f"opset {found}, {INPUT_NAME} {got_in} -> {OUTPUT_NAME} {got_out}"


# ---------------------------------------------------------------------------------------------- verify


def find_photos(folder: Path | None, count: int) -> list[Path]:
    """`count` photos spread evenly over the sorted files of the folder (deterministic)."""
    candidates = [folder] if folder else [SAMPLE_PHOTOS, DATASET_PHOTOS]
    for candidate in candidates:
        if candidate and candidate.is_dir():
            files = sorted(
                p for p in candidate.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()
            )
            if len(files) >= count:
                step = len(files) / count
                return [files[int(i * step)] for i in range(count)]
            if folder:
                raise ExportError(f"{folder} holds {len(files)} photos; the check needs at least {count}.")
    raise ExportError("No photos for the check: pass --photos DIR, a folder with a few real product photos.")


def prepare_batch(photos: list[Path], manifest: ModelManifest) -> np.ndarray:
    """The app's own preprocessing, so the check covers exactly what indexing will feed the model."""
    from desktop_app.core.images import preprocess

    return np.concatenate([preprocess(p.read_bytes(), manifest)[0] for p in photos]).astype(np.float32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def verify(onnx_path: Path, tower, batch: np.ndarray, precision: str) -> float:
    """Lowest cosine between onnxruntime and torch fp32 over the photos, batched and one by one."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = tower(torch.from_numpy(batch)).numpy()
    together = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0], np.float32)
    alone = np.concatenate(
        [session.run([OUTPUT_NAME], {INPUT_NAME: batch[i : i + 1]})[0] for i in range(len(batch))]
    )
    alone = np.asarray(alone, np.float32)
    if together.shape != expected.shape or alone.shape != expected.shape:
        raise ExportError(f"onnxruntime returned {together.shape} / {alone.shape}; torch {expected.shape}.")
    if not (np.isfinite(together).all() and np.isfinite(alone).all()):
        raise ExportError("onnxruntime returned non-finite values.")
    cos_batch, cos_alone = cosines(together, expected), cosines(alone, expected)
    low = float(min(cos_batch.min(), cos_alone.min()))
    threshold = THRESHOLDS[precision]
    print(
        f"verify {precision} on {len(batch)} real photos: cosine onnx vs torch min {low:.7f} "
        f"mean {float(cos_batch.mean()):.7f} (batch of {len(batch)} min {float(cos_batch.min()):.7f}, "
        f"batch of 1 min {float(cos_alone.min()):.7f}; threshold {threshold})"
    )
    if low < threshold:
        raise ExportError(
            f"The {precision} ONNX file agrees with torch only to cosine {low:.6f} < {threshold}."
        )
    return low


# ---------------------------------------------------------------------------------------------- main


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _unverified(path: Path) -> Path:
    return path.with_name(path.name + ".unverified")


def run(args: argparse.Namespace) -> dict:
    name = args.name or default_name(args.source, args.precision)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ExportError(f"{name!r} is not a usable model name (letters, digits, '.', '_' and '-').")
    out = args.out or (models_dir() / name)
    manifest_path = out / f"{name}.manifest.json"
    onnx_path = out / f"{name}.onnx"
    if manifest_path.exists() and not args.force:
        raise ExportError(f"{manifest_path} already exists; pass --force to replace it.")
    photos = find_photos(args.photos, args.verify_photos)

    model, processor, info = load_checkpoint(args.source, args.revision)
    with quiet_loading():
        side = clip_text.load_text_side(args.source, args.revision) if args.text else None
    prep = preprocessing_from(processor)
    dim = int(model.config.projection_dim)
    arch = arch_of(model.config)
    print(
        f"loaded {args.source}: {arch}, {dim}-d projection; preprocessing {prep['resize']} "
        f"{prep['input_size'][0]}x{prep['input_size'][1]} {prep['interpolation']} mean={prep['mean']} std={prep['std']}"
    )
    tower = make_tower(model)
    data = convert(export_fp32(tower, prep["input_size"], args.opset), args.precision)
    print(f"onnx checker ok: {check_structure(data, prep['input_size'], dim, args.opset)}")

    out.mkdir(parents=True, exist_ok=True)
    final = [onnx_path] + ([out / f"{name}.text.onnx", out / f"{name}.tokenizer.json"] if side else [])
    candidate = _unverified(onnx_path)
    candidate.write_bytes(data)
    text_section, text_low = None, None
    try:
        draft = ModelManifest(
            name=name,
            version="draft",
            file=candidate.name,
            sha256="",
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
            dim=dim,
            licence="",
            source="",
            **prep,
        )
        low = verify(candidate, tower, prepare_batch(photos, draft), args.precision)
        if side is not None:
            threshold = THRESHOLDS[args.precision]
            text_section, text_low = clip_text.export_text(
                side, name, out, dim, args.precision, args.opset, threshold
            )
        for path in final:  # everything verified: into place, the manifest last
            os.replace(_unverified(path), path)
    finally:
        for path in final:
            _unverified(path).unlink(missing_ok=True)

    licence = args.licence or default_licence(args.source)
    commit = args.revision or info["commit"]
    source = (
        f"{args.source}{'@' + commit if commit else ''} exported by models/export_clip.py "
        f"(transformers {info['transformers']}, torch {info['torch']}, opset {args.opset})"
    )
    text = None
    if text_section is not None:
        text = TextTower(
            **text_section,
            sha256=sha256_of(out / text_section["file"]),
            tokenizer_sha256=sha256_of(out / text_section["tokenizer"]),
            source=source,
            extra={"verified_min_cosine": round(text_low, 6), "verified_texts": len(clip_text.CHECK_TEXTS)},
        )
    towers = "image and text towers" if text is not None else "image tower"
    manifest = ModelManifest(
        name=name,
        version=(commit or "local")[:12],
        file=onnx_path.name,
        sha256=sha256_of(onnx_path),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        dim=dim,
        licence=licence,
        source=source,
        family="clip",
        precision=args.precision,
        description=f"CLIP {arch} {towers} with projection, {dim}-d, {args.precision}",
        extra={
            "arch": arch,
            "verified_min_cosine": round(low, 6),
            "verified_photos": len(photos),
            "opset": args.opset,
        },
        text=text,
        **prep,
    )
    _write_atomic(manifest_path, manifest.to_json().encode("utf-8"))
    size_mb = onnx_path.stat().st_size / 1e6
    also = f", {text.file} and {text.tokenizer}" if text is not None else ""
    print(
        f"wrote {onnx_path} ({size_mb:.1f} MB){also} and {manifest_path.name}; model id {manifest.model_id}"
    )
    result = {
        "name": name,
        "precision": args.precision,
        "onnx": str(onnx_path),
        "manifest": str(manifest_path),
        "bytes": onnx_path.stat().st_size,
        "dim": dim,
        "arch": arch,
        "min_cosine": low,
        "threshold": THRESHOLDS[args.precision],
    }
    if text is not None:
        result["text"] = {
            "onnx": str(out / text.file),
            "tokenizer": str(out / text.tokenizer),
            "bytes": (out / text.file).stat().st_size,
            "min_cosine": text_low,
            "context_length": text.context_length,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except (ExportError, clip_text.TextExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.result_json:
        args.result_json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
