"""Tiny CLIP checkpoints (text and vision, random weights) with CLIP's real BPE vocabulary, made locally.

No CLIP weights can be downloaded here, but CLIP's byte-pair merges ship in open_clip's wheel
(`bpe_simple_vocab_16e6.txt.gz`, MIT); its file is read, the package is never imported. The vocabulary is
built from the merges the way CLIP builds it: the 256 byte symbols, the same with the end-of-word mark
`</w>`, one token per merge, then the start and end tokens (49,408 ids). A tiny random CLIPModel over
that vocabulary goes through the real export script, so the tokenizer, ONNX export, checks and search are
the real code paths; only the weights are random.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import pytest

N_MERGES = 49152 - 256 - 2  # CLIP keeps the first 48,894 merges of the file


def bpe_file() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "CLIP's BPE merges come from the open_clip_torch wheel: pip install --no-deps open_clip_torch"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the open_clip_torch install")
    return path


def byte_symbols() -> list[str]:
    """CLIP's printable stand-in for each of the 256 bytes, in CLIP's order (printable bytes keep their
    own character, the others are shifted past 255)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = dict(zip(keep, keep))
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + shifted
            shifted += 1
    order = keep + [b for b in range(256) if b not in keep]
    return [chr(chars[b]) for b in order]


@functools.lru_cache(maxsize=1)
def clip_merges() -> tuple[tuple[str, str], ...]:
    lines = gzip.decompress(bpe_file().read_bytes()).decode("utf-8").split("\n")
    return tuple(tuple(line.split()) for line in lines[1 : N_MERGES + 1])  # line 0 is a version header


@functools.lru_cache(maxsize=1)
def clip_vocab() -> dict[str, int]:
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in clip_merges()]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def save_clip_tokenizer(folder: Path):
    """transformers' CLIPTokenizer over CLIP's vocabulary and merges, saved (tokenizer.json) into folder."""
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer(vocab=dict(clip_vocab()), merges=list(clip_merges()))
    tokenizer.save_pretrained(folder)
    return tokenizer


def make_clip_checkpoint(
    folder: Path, seed: int = 0, dim: int = 16, logit_scale: float | None = None
) -> Path:
    """A full CLIPModel (text and vision, 2 layers of width 32, `dim`-d projections) with random weights,
    CLIP's image processor and tokenizer, saved like a hub checkpoint."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    # Like the published configs, each tower's config repeats the projection size (transformers reads it
    # from there when one tower is loaded on its own).
    small = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, projection_dim=dim
    )
    config = CLIPConfig(
        text_config=dict(vocab_size=len(clip_vocab()), max_position_embeddings=77, **small),
        vision_config=dict(image_size=224, patch_size=32, **small),
        projection_dim=dim,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    if logit_scale is not None:
        with torch.no_grad():
            model.logit_scale.fill_(float(torch.log(torch.tensor(logit_scale))))
    model.save_pretrained(folder)
    Processor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    save_clip_tokenizer(folder)
    return folder


def load_export_script():
    """models/export_clip.py as a module (it is a script, not part of the package)."""
    script = Path(__file__).resolve().parent.parent / "models" / "export_clip.py"
    spec = importlib.util.spec_from_file_location("export_clip_for_tests", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_tiny_clip(
    checkpoint: Path, out: Path, name: str, precision: str = "fp32", text: bool = True
) -> dict:
    """Run the real export script on a checkpoint (into `out`, not the models folder); its result JSON."""
    import json

    photos = Path(__file__).resolve().parent.parent / "desktop_app" / "bundled" / "sample" / "photos"
    result = out / f"{name}.result.json"
    argv = [
        str(checkpoint),
        "--name",
        name,
        "--out",
        str(out),
        "--photos",
        str(photos),
        "--verify-photos",
        "4",
        "--result-json",
        str(result),
    ]
    argv += ["--text"] if text else []
    argv += [f"--{precision}"] if precision != "fp32" else []
    code = load_export_script().main(argv)
    assert code == 0, f"export of {checkpoint} failed"
    return json.loads(result.read_text())
