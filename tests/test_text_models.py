"""The text tower end to end: a tiny CLIP checkpoint (CLIP's real vocabulary, random weights) through the real
export script (fp32, fp16, int8, verified against torch), the manifest that names both towers, the text
encoder, import (with the manifest, with --text, with --text-for) and fetch from a real HTTP server on
127.0.0.1 (both towers, resume, checksums, adding the text side to an installed model)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import main as cli_main
from desktop_app.core import zoo, zoo_text
from desktop_app.core.errors import InputError, ModelError
from desktop_app.core.models import BUNDLED_MODEL, installed_models, load_manifest, models_dir, resolve_model
from desktop_app.core.text_encoder import TextEncoder, text_side_problem
from tests.clip_tiny import export_tiny_clip, load_export_script, make_clip_checkpoint

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

TEXTS = ["a red hooded sweatshirt", "but in black", "", "stainless " * 60 + "watch", "crème brûlée Ärmel 👟"]


def torch_text_vectors(checkpoint: Path, texts: list[str]) -> np.ndarray:
    """What transformers' CLIPModel makes of the texts (projected, normalised): the reference."""
    from transformers import CLIPModel, CLIPTokenizer

    model = CLIPModel.from_pretrained(checkpoint).eval()
    tok = CLIPTokenizer.from_pretrained(checkpoint)
    out = []
    with torch.no_grad():
        for t in texts:  # one at a time: no padding in the reference
            ids = torch.tensor([tok(t, truncation=True, max_length=77)["input_ids"]])
            out.append(model.text_projection(model.text_model(input_ids=ids).pooler_output).numpy()[0])
    out = np.array(out)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------- export


def test_export_names_both_towers_and_the_text_side_matches_torch(tiny_clip_export, clip_model):
    manifest = json.loads(Path(tiny_clip_export["manifest"]).read_text())
    text = manifest["text"]
    assert (text["file"], text["tokenizer"]) == ("tiny-clip.text.onnx", "tiny-clip.tokenizer.json")
    assert (text["input_name"], text["output_name"], text["context_length"]) == (
        "input_ids",
        "text_embeds",
        77,
    )
    assert text["precision"] == "fp32" and text["extra"]["verified_min_cosine"] >= 0.9999
    assert tiny_clip_export["text"]["min_cosine"] >= 0.9999
    assert "image and text towers" in manifest["description"]
    # the logit scale is the checkpoint's own (a random model's initial exp(2.6592))
    assert text["logit_scale"] == pytest.approx(14.2849, rel=1e-3)

    encoder = TextEncoder(clip_model)
    got = encoder.encode(TEXTS)  # one padded batch
    expected = torch_text_vectors(Path(tiny_clip_export["checkpoint"]), TEXTS)
    assert got.shape == (len(TEXTS), 16)
    assert (got * expected).sum(axis=1).min() >= 0.9999
    alone = np.concatenate([encoder.encode([t]) for t in TEXTS])
    assert np.abs(alone - got).max() < 1e-5  # padding never changes a vector
    assert encoder.describe() == "tiny-clip text side (fp32, 16-d) on CPU"


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_text_exports_verify_at_0_99(tiny_clip_export, tmp_path, capsys, precision):
    result = export_tiny_clip(Path(tiny_clip_export["checkpoint"]), tmp_path, f"tiny-{precision}", precision)
    printed = capsys.readouterr().out
    assert f"verify text {precision} on 12 texts" in printed and "tokenizer ok" in printed
    assert result["text"]["min_cosine"] >= 0.99
    model = zoo.import_model(Path(result["onnx"]))  # the manifest beside it brings the text side along
    assert model.manifest.text is not None and model.manifest.text.precision == precision
    got = TextEncoder(model).encode(TEXTS)
    expected = torch_text_vectors(Path(tiny_clip_export["checkpoint"]), TEXTS)
    assert (got * expected).sum(axis=1).min() >= 0.99


def test_text_export_needs_a_full_checkpoint_and_a_failed_check_installs_nothing(
    tmp_path, monkeypatch, capsys
):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    vision_only = tmp_path / "vision-only"
    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, projection_dim=16
    )
    CLIPVisionModelWithProjection(config).save_pretrained(vision_only)
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    Processor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(
        vision_only
    )
    script = load_export_script()
    assert script.main([str(vision_only), "--text", "--name", "v"]) == 1
    assert "--text needs the whole CLIP model" in capsys.readouterr().err

    checkpoint = make_clip_checkpoint(tmp_path / "full", seed=3)

    def failing(*_args, **_kw):
        raise script.clip_text.TextExportError("agrees with torch only to cosine 0.5 < 0.9999")

    monkeypatch.setattr(script.clip_text, "verify", failing)
    photos = Path(__file__).resolve().parent.parent / "desktop_app" / "bundled" / "sample" / "photos"
    assert script.main([str(checkpoint), "--text", "--name", "never", "--photos", str(photos)]) == 1
    assert "agrees with torch only" in capsys.readouterr().err
    folder = models_dir() / "never"
    assert not folder.exists() or list(folder.iterdir()) == []  # not even the verified image tower


def test_cli_export_passes_text(tiny_clip_export, capsys):
    code = cli_main(
        [
            "models",
            "export",
            tiny_clip_export["checkpoint"],
            "--text",
            "--int8",
            "--name",
            "via-cli",
            "--verify-photos",
            "2",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"]["min_cosine"] >= 0.99
    model = resolve_model("via-cli")
    assert text_side_problem(model) is None and model.text_path.name == "via-cli.text.onnx"


# ---------------------------------------------------------------------------------------------- manifests


def test_old_manifests_load_and_say_they_have_no_text_side(tmp_path):
    bundled = resolve_model(BUNDLED_MODEL)
    assert bundled.manifest.text is None and bundled.text_path is None
    problem = text_side_problem(bundled)
    assert problem == (
        f"{BUNDLED_MODEL} has no text side; install a CLIP model: lookalike models fetch "
        "clip-vit-b32-int8 (and index the catalog with it)"
    )
    assert "\n" not in problem
    with pytest.raises(ModelError, match="has no text side; install a CLIP model"):
        TextEncoder(bundled)
    assert "text" not in json.loads(bundled.manifest.to_json())  # image-only manifests are written as before


def test_clip_model_without_text_and_broken_text_sections(tiny_clip_export, clip_model, tmp_path):
    image_only = dataclasses.replace(clip_model.manifest, name="image-only", text=None)
    model = zoo.import_model(clip_model.onnx_path, image_only)
    problem = text_side_problem(model)
    assert "installed without its text side" in problem
    # not a known model: fetching it cannot work, importing its text side can
    assert "models fetch" not in problem and "known model" not in problem, problem
    assert "lookalike models import TEXT.onnx --text-for image-only --tokenizer tokenizer.json" in problem
    # a known model installed without its text side: fetching it adds the text side
    known = dataclasses.replace(model, manifest=dataclasses.replace(model.manifest, name="clip-vit-b32-int8"))
    assert "`lookalike models fetch clip-vit-b32-int8`" in text_side_problem(known)
    data = json.loads(clip_model.manifest.to_json())
    data["text"]["context_length"] = 0
    bad = tmp_path / "bad.manifest.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="context length 0"):
        load_manifest(bad)
    data["text"] = {"file": "../evil.onnx", "tokenizer": "t.json", "sha256": "", "tokenizer_sha256": ""}
    bad.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="plain file name"):
        load_manifest(bad)
    clip_model.tokenizer_path.unlink()
    assert "tokenizer" in text_side_problem(clip_model) and "is missing" in text_side_problem(clip_model)


# ---------------------------------------------------------------------------------------------- import


def test_import_with_text_files_and_text_for(tiny_clip_export, tmp_path, capsys):
    export = Path(tiny_clip_export["onnx"]).parent
    text, tokenizer = export / "tiny-clip.text.onnx", export / "tiny-clip.tokenizer.json"
    image_only = dataclasses.replace(load_manifest(Path(tiny_clip_export["manifest"])).manifest, text=None)
    with pytest.raises(InputError, match="give both --text and --tokenizer"):
        zoo.import_model(export / "tiny-clip.onnx", image_only, name="a", text_file=text)
    model = zoo.import_model(
        export / "tiny-clip.onnx", image_only, name="a", text_file=text, tokenizer_file=tokenizer
    )
    assert text_side_problem(model) is None and model.manifest.text.logit_scale == 100.0  # CLIP's usual scale
    assert sorted(p.name for p in model.manifest_path.parent.iterdir()) == [
        "a.manifest.json",
        "a.onnx",
        "a.text.onnx",
        "a.tokenizer.json",
    ]

    zoo.import_model(export / "tiny-clip.onnx", image_only, name="b")
    assert cli_main(["models", "import", "--text-for", "b", str(text), "--tokenizer", str(tokenizer)]) == 0
    assert "Added the text side of b" in capsys.readouterr().out
    assert text_side_problem(resolve_model("b")) is None
    assert cli_main(["models", "import", "--text-for", "b", str(text)]) == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_import_refuses_a_text_side_of_another_size(tiny_clip_export, tmp_path):
    other = export_tiny_clip(
        make_clip_checkpoint(tmp_path / "ckpt8", seed=5, dim=8), tmp_path / "out8", "eight"
    )
    export = Path(tiny_clip_export["onnx"]).parent
    image_only = dataclasses.replace(load_manifest(Path(tiny_clip_export["manifest"])).manifest, text=None)
    with pytest.raises(ModelError, match="returns 8-d vectors; the image model's are 16-d"):
        zoo.import_model(
            export / "tiny-clip.onnx",
            image_only,
            name="mixed",
            text_file=Path(other["text"]["onnx"]),
            tokenizer_file=Path(other["text"]["tokenizer"]),
        )
    assert "mixed" not in [
        m.manifest.name for m in installed_models()
    ]  # checked before anything is installed


def test_import_refuses_a_tokenizer_that_does_not_belong(tiny_clip_export, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    big = {f"w{i}": i for i in range(60000)} | {"[UNK]": 60000}
    tok = Tokenizer(models.WordLevel(big, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="w59990 $A w59991", special_tokens=[("w59990", 59990), ("w59991", 59991)]
    )
    path = tmp_path / "other.tokenizer.json"
    tok.save(str(path))
    export = Path(tiny_clip_export["onnx"]).parent
    image_only = dataclasses.replace(load_manifest(Path(tiny_clip_export["manifest"])).manifest, text=None)
    with pytest.raises(ModelError, match="tokenizer does not belong to this text model"):
        zoo.import_model(
            export / "tiny-clip.onnx",
            image_only,
            name="t",
            text_file=export / "tiny-clip.text.onnx",
            tokenizer_file=path,
        )


# ---------------------------------------------------------------------------------------------- fetch

REPO, REV = "test/tiny-clip", "0123456789abcdef"


def served(server, tiny_clip_export, pin_text: bool = True, name: str = "tiny-known") -> zoo.KnownModel:
    """Put the exported files on the test server in the hub's layout; the known model that points at them."""
    export = Path(tiny_clip_export["onnx"]).parent
    files = {
        "onnx/vision_model.onnx": export / "tiny-clip.onnx",
        "onnx/text_model.onnx": export / "tiny-clip.text.onnx",
        "tokenizer.json": export / "tiny-clip.tokenizer.json",
    }
    pins = {}
    for path, src in files.items():
        data = src.read_bytes()
        server.files[f"/{REPO}/resolve/{REV}/{path}"] = data
        pins[path] = zoo_text.KnownFile(path, len(data), hashlib.sha256(data).hexdigest())
    if not pin_text:
        pins["onnx/text_model.onnx"] = zoo_text.KnownFile("onnx/text_model.onnx")
    m = load_manifest(Path(tiny_clip_export["manifest"])).manifest
    return zoo.KnownModel(
        name=name,
        repo=REPO,
        path="onnx/vision_model.onnx",
        revision=REV,
        size=pins["onnx/vision_model.onnx"].size,
        sha256=pins["onnx/vision_model.onnx"].sha256,
        precision="fp32",
        arch="test",
        licence="test-only",
        description="tiny CLIP",
        dim=m.dim,
        input_size=m.input_size,
        mean=m.mean,
        std=m.std,
        resize=m.resize,
        interpolation=m.interpolation,
        text=zoo_text.KnownText(pins["onnx/text_model.onnx"], pins["tokenizer.json"], "fp32"),
    )


def test_fetch_installs_both_towers_checked(server, tiny_clip_export):
    known = served(server, tiny_clip_export)
    result = zoo.fetch(known, mirror=server.base, chunk=4096)
    model = result.model
    assert result.verified and result.text.verified and not result.text.warning
    assert text_side_problem(model) is None and model.manifest.text.source.startswith(f"{REPO}@{REV}/")
    assert model.manifest.text.logit_scale == 100.0 and model.manifest.text.extra == {"pinned": True}
    assert TextEncoder(model).encode(["red"]).shape == (1, 16)
    assert not any((models_dir() / zoo.DOWNLOADS).iterdir())
    again = zoo.fetch(known, mirror=server.base)
    assert again.already_installed and again.text.already_installed and len(server.log) == 3


def test_fetch_adds_the_text_side_to_an_installed_model_and_resumes(server, tiny_clip_export):
    known = served(server, tiny_clip_export)
    zoo.fetch(known, mirror=server.base, text=False)
    assert resolve_model("tiny-known").manifest.text is None
    server.log.clear()
    server.cut_after = 100_000  # the first download of this run (the tokenizer) is cut
    with pytest.raises(ModelError, match="cut after .* again to resume"):
        zoo.fetch(known, mirror=server.base)
    result = zoo.fetch(known, mirror=server.base)
    assert result.already_installed and not result.text.already_installed
    assert text_side_problem(result.model) is None
    paths = [p for p, _r in server.log]
    assert not any(p.endswith("vision_model.onnx") for p in paths)  # the image model is not fetched again
    assert "bytes=100000-" in [r for p, r in server.log if p.endswith("tokenizer.json")]  # resumed


def test_fetch_refuses_a_damaged_text_model_and_keeps_the_image_model(server, tiny_clip_export):
    known = served(server, tiny_clip_export)
    key = f"/{REPO}/resolve/{REV}/onnx/text_model.onnx"
    server.files[key] = server.files[key][:-10] + b"0123456789"
    with pytest.raises(
        ModelError, match="installed for photos, but its text side is not: .*failed its checksum"
    ):
        zoo.fetch(known, mirror=server.base)
    model = resolve_model("tiny-known")
    assert model.manifest.text is None and "installed without its text side" in text_side_problem(model)
    assert not list((models_dir() / zoo.DOWNLOADS).glob("*text*"))


def test_unpinned_text_side_is_checked_by_running_it(server, tiny_clip_export, capsys, monkeypatch):
    known = served(server, tiny_clip_export, pin_text=False)
    monkeypatch.setattr(zoo, "KNOWN_MODELS", (*zoo.KNOWN_MODELS, known))
    assert cli_main(["models", "fetch", "tiny-known", "--mirror", server.base, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "Installed the text side of tiny-known" in out and "checked by running it" in out
    assert "not pinned by size and sha256 (onnx/text_model.onnx)" in err
    assert cli_main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "tiny-known" in line)
    assert row.split()[5] == "yes"  # the WORDS column


def test_fetch_refuses_a_text_side_for_a_model_from_another_checkpoint(server, tiny_clip_export):
    known = served(server, tiny_clip_export)
    other = dataclasses.replace(
        load_manifest(Path(tiny_clip_export["manifest"])).manifest,
        text=None,
        name="tiny-known",
        source="somewhere/else@1/model.onnx",
    )
    zoo.import_model(Path(tiny_clip_export["onnx"]), other)
    known = dataclasses.replace(known, sha256=None, size=None)  # the image pin no longer proves the file
    with pytest.raises(ModelError, match="does not come from test/tiny-clip"):
        zoo.fetch(known, mirror=server.base)


def test_known_models_name_their_published_text_sides():
    for k in zoo.KNOWN_MODELS:
        assert k.text is not None and k.text.model.path.startswith("onnx/text_model")
        assert k.text.tokenizer.path == "tokenizer.json"
    b32 = zoo.known_model("clip-vit-b32-int8").text
    assert b32.pinned and b32.model.size == 64_504_507 and b32.tokenizer.size == 2_224_119
    assert not zoo.known_model("clip-vit-b32-fp32").text.pinned  # pinned by revision only
    assert not zoo.known_model("clip-vit-b16-int8").text.tokenizer.pinned
