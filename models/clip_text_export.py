"""The text side of `export_clip.py --text`: CLIP's text model with its projection to ONNX, its tokenizer, and
the check against torch.

    input_ids [batch, tokens] int64  ->  text_embeds [batch, projection_dim]  (projected, not normalised)

The tower is built from the checkpoint's `CLIPModel` (text transformer + text projection), so the vector
lands in the same space as the image tower's `image_embeds`. The checkpoint's tokenizer is written as a
`tokenizer.json` that the app runs with the `tokenizers` library (`desktop_app.core.text_encoder`). The
check tokenizes a fixed set of texts with that very file and with transformers' CLIPTokenizer (the ids must
be equal), then compares onnxruntime with torch fp32: texts batched (padded the way the app pads) and one
at a time, the lowest cosine against the export's threshold.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_NAME = "input_ids"
OUTPUT_NAME = "text_embeds"

# Texts the check runs through both tokenizers and both runtimes: product words, punctuation, Unicode, an
# empty text and one longer than CLIP's 77 tokens (it must be cut with its end token kept).
CHECK_TEXTS = (
    "a red hooded sweatshirt",
    "but in black",
    "a product photo of women's running shoes",
    "Men's Jacket -- waterproof, breathable (size XL)!",
    "stainless-steel watch with a 42mm face & leather strap",
    "crème brûlée coloured Ärmel, naïve café",
    "日本語のテキスト and émojis 👟👜",
    "   leading and    repeated   spaces\tand\ttabs\n",
    "",
    "yoga mat",
    "a photo of a " + " ".join(["very"] * 90) + " long text that exceeds the context length",
    "gray",
)


class TextExportError(Exception):
    """A step of the text export failed; the message says which and why."""


@dataclass
class TextSide:
    tower: object  # torch module: input_ids -> text_embeds
    hf_tokenizer: object  # transformers' tokenizer of the checkpoint
    tokenizer_json: str
    context_length: int
    logit_scale: float
    dim: int
    vocab_size: int


def load_text_side(source: str, revision: str | None) -> TextSide:
    """The checkpoint's text tower with projection (fp32, eval), its tokenizer and CLIP's logit scale."""
    import torch
    from transformers import AutoTokenizer, CLIPModel

    kwargs = {"revision": revision} if revision else {}
    try:
        model = CLIPModel.from_pretrained(source, attn_implementation="eager", dtype=torch.float32, **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        raise TextExportError(
            f"Cannot load {source!r} as a full CLIP checkpoint (text and vision): {str(exc).splitlines()[0]}. "
            "--text needs the whole CLIP model, not only its vision tower."
        ) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise TextExportError(f"{source!r} has no usable tokenizer: {str(exc).splitlines()[0]}") from exc
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TextExportError(
            f"The tokenizer of {source!r} has no tokenizers backend to save as tokenizer.json."
        )
    model.eval()
    config = model.config.text_config
    check_saved_tokenizer(
        backend.to_str(), source, int(config.vocab_size), int(config.max_position_embeddings)
    )
    return TextSide(
        tower=_make_tower(model),
        hf_tokenizer=tokenizer,
        tokenizer_json=backend.to_str(),
        context_length=int(config.max_position_embeddings),
        logit_scale=float(model.logit_scale.exp().item()),
        dim=int(model.config.projection_dim),
        vocab_size=int(config.vocab_size),
    )


def check_saved_tokenizer(tokenizer_json: str, source: str, vocab_size: int, context_length: int) -> None:
    """The tokenizer must be CLIP's BPE over the text model's whole vocabulary. A checkpoint saved without its
    tokenizer files loads with an empty one (2 tokens, no merges) that maps every text to the same ids; the
    parity check would compare it with itself and pass."""
    from desktop_app.core.errors import ModelError
    from desktop_app.core.text_encoder import ClipTokenizer

    try:
        tokenizer = ClipTokenizer.from_json(tokenizer_json, context_length, f"The tokenizer of {source}")
    except ModelError as exc:
        raise TextExportError(str(exc)) from exc
    bad = tokenizer.problem(vocab_size)
    if bad:
        raise TextExportError(
            f"{bad}; keep the checkpoint's tokenizer files (tokenizer.json, "
            "or vocab.json and merges.txt) beside its config.json."
        )


def _make_tower(model):
    import torch

    class TextTower(torch.nn.Module):
        """input_ids -> projected text embedding (CLIP's `text_embeds`, before L2 normalisation)."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids):
            pooled = self.inner.text_model(input_ids=input_ids).pooler_output
            return self.inner.text_projection(pooled)

    return TextTower(model).eval()


def export_fp32(side: TextSide, opset: int) -> bytes:
    import torch

    end = side.vocab_size - 1
    dummy = torch.tensor([[end - 1, 320, 1125, end, end], [end - 1, 320, 736, 2368, end]], dtype=torch.long)
    dummy = dummy.clamp(max=end)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and shape checks traced to constants are expected:
        # both axes stay dynamic, which the check below exercises with texts of many lengths.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # CLIP reads its output at the end token by indexing with argmax positions, never negative ones.
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        torch.onnx.export(
            side.tower,
            (dummy,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "tokens"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
            export_params=True,
        )
    return buffer.getvalue()


def check_structure(data: bytes, dim: int, opset: int) -> str:
    """onnx checker, opset, dynamic batch and token axes, names and shapes; a one-line summary."""
    import onnx

    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    opsets = {o.domain: o.version for o in model.opset_import}
    found = opsets.get("", opsets.get("ai.onnx", 0))
    if found != opset:
        raise TextExportError(f"The text ONNX file has opset {found}; expected {opset}.")

    def dims(value_info) -> list:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    inputs = {i.name: i for i in model.graph.input}
    outputs = {o.name: o for o in model.graph.output}
    if list(inputs) != [INPUT_NAME] or OUTPUT_NAME not in outputs:
        raise TextExportError(f"The text ONNX file has inputs {list(inputs)} and outputs {list(outputs)}.")
    got_in, got_out = dims(inputs[INPUT_NAME]), dims(outputs[OUTPUT_NAME])
    if len(got_in) != 2 or not all(isinstance(d, str) for d in got_in):
        raise TextExportError(f"Unexpected input shape {got_in}; expected [batch, tokens], both dynamic.")
    if inputs[INPUT_NAME].type.tensor_type.elem_type != onnx.TensorProto.INT64:
        raise TextExportError("The text model's input_ids are not int64.")
    if not isinstance(got_out[0], str) or got_out[1:] != [dim]:
        raise TextExportError(f"Unexpected output shape {got_out}; expected [batch, {dim}].")
    return f"opset {found}, {INPUT_NAME} {got_in} -> {OUTPUT_NAME} {got_out}"


def check_tokenizer(tokenizer_path: Path, side: TextSide) -> int:
    """The written tokenizer.json, run as the app runs it, gives transformers' ids on every check text."""
    from desktop_app.core.text_encoder import ClipTokenizer

    ours = ClipTokenizer(tokenizer_path, side.context_length).ids(CHECK_TEXTS)
    theirs = side.hf_tokenizer(list(CHECK_TEXTS), truncation=True, max_length=side.context_length)[
        "input_ids"
    ]
    for text, a, b in zip(CHECK_TEXTS, ours, theirs):
        if list(a) != list(b):
            raise TextExportError(
                f"The saved tokenizer gives other ids than transformers for {text[:40]!r}: "
                f"{list(a)[:12]}... vs {list(b)[:12]}..."
            )
        if max(a) >= side.vocab_size:
            raise TextExportError(
                f"The tokenizer yields id {max(a)}; the text model knows {side.vocab_size}."
            )
    return len(ours)


def verify(onnx_path: Path, tokenizer_path: Path, side: TextSide, threshold: float, precision: str) -> float:
    """Lowest cosine between onnxruntime (batched and one at a time) and torch fp32 (one at a time)."""
    import onnxruntime as ort
    import torch

    from desktop_app.core.text_encoder import ClipTokenizer

    tokenizer = ClipTokenizer(tokenizer_path, side.context_length)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    rows = tokenizer.ids(CHECK_TEXTS)
    with torch.no_grad():
        expected = np.concatenate([side.tower(torch.tensor([r], dtype=torch.long)).numpy() for r in rows])
    padded, _mask = tokenizer.batch(CHECK_TEXTS)
    together = np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: padded})[0], np.float32)
    alone = np.concatenate(
        [session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray([r], np.int64)})[0] for r in rows]
    ).astype(np.float32)
    if together.shape != expected.shape or alone.shape != expected.shape:
        raise TextExportError(
            f"onnxruntime returned {together.shape} / {alone.shape}; torch {expected.shape}."
        )
    if not (np.isfinite(together).all() and np.isfinite(alone).all()):
        raise TextExportError("onnxruntime returned non-finite text vectors.")
    cos_batch, cos_alone = _cosines(together, expected), _cosines(alone, expected)
    low = float(min(cos_batch.min(), cos_alone.min()))
    lengths = sorted({len(r) for r in rows})
    print(
        f"verify text {precision} on {len(rows)} texts ({lengths[0]}-{lengths[-1]} tokens): cosine onnx vs torch "
        f"min {low:.7f} (padded batch min {float(cos_batch.min()):.7f}, one at a time min "
        f"{float(cos_alone.min()):.7f}; threshold {threshold})"
    )
    if low < threshold:
        raise TextExportError(
            f"The {precision} text model agrees with torch only to cosine {low:.6f} < {threshold}."
        )
    return low


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def export_text(
    side: TextSide, name: str, out: Path, dim: int, precision: str, opset: int, threshold: float
) -> tuple[dict, float]:
    """Export, convert and verify the text tower and its tokenizer as `.unverified` files in `out`.

    Returns the manifest's text section (without checksums) and the lowest cosine against torch."""
    from onnx_precision import convert

    if side.dim != dim:
        raise TextExportError(f"The text projection is {side.dim}-d and the image projection {dim}-d.")
    print(
        f"text side: {side.context_length} tokens, vocabulary {side.vocab_size}, logit scale {side.logit_scale:.4g}"
    )
    data = convert(export_fp32(side, opset), precision)
    print(f"text onnx checker ok: {check_structure(data, dim, opset)}")
    text_file, tok_file = out / f"{name}.text.onnx.unverified", out / f"{name}.tokenizer.json.unverified"
    text_file.write_bytes(data)
    tok_file.write_text(side.tokenizer_json, encoding="utf-8")
    checked = check_tokenizer(tok_file, side)
    print(f"tokenizer ok: the saved tokenizer.json gives transformers' ids on all {checked} check texts")
    low = verify(text_file, tok_file, side, threshold, precision)
    section = {
        "file": f"{name}.text.onnx",
        "tokenizer": f"{name}.tokenizer.json",
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "context_length": side.context_length,
        "precision": precision,
        "logit_scale": round(side.logit_scale, 6),
    }
    return section, low
