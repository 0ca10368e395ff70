"""A tiny random CLIP checkpoint through the real export script (fp32, fp16, int8), then through the real
import, preprocessing and Encoder.encode path, compared with torch."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import ModelError
from desktop_app.core.images import preprocess
from desktop_app.core.models import default_model, installed_models, models_dir
from desktop_app.core.zoo import CLIP_MEAN, CLIP_STD, import_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "models" / "export_clip.py"
DATASET = REPO.parent / "shared" / "datasets" / "magento-luma" / "photos"  # shared/ sits beside the checkout
SAMPLE = REPO / "desktop_app" / "bundled" / "sample" / "photos"


def load_script():
    spec = importlib.util.spec_from_file_location("export_clip_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_clip = load_script()


def photo_dir() -> Path:
    for folder in (DATASET, SAMPLE):
        if folder.is_dir():
            return folder
    pytest.fail(f"The bundled sample photos are missing ({SAMPLE}): a packaging regression.")


def make_checkpoint(folder: Path, crop: int = 224, shortest: int = 224) -> Path:
    """A CLIP-architecture vision tower with random weights: 224x224 input, patch 32, hidden 32, 2 layers."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    torch.manual_seed(0)
    config = CLIPVisionConfig(
        image_size=224,
        patch_size=32,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=16,
    )
    CLIPVisionModelWithProjection(config).eval().save_pretrained(folder)
    Processor(size={"shortest_edge": shortest}, crop_size={"height": crop, "width": crop}).save_pretrained(
        folder
    )
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-clip")


def run_export(args: list[str], tmp_path: Path) -> dict:
    result = tmp_path / "result.json"
    code = export_clip.main([*args, "--photos", str(photo_dir()), "--result-json", str(result)])
    assert code == 0
    return json.loads(result.read_text())


def torch_embeddings(checkpoint: Path, batch: np.ndarray) -> np.ndarray:
    from transformers import CLIPVisionModelWithProjection

    model = CLIPVisionModelWithProjection.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(batch)).image_embeds.numpy()
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def real_photos(count: int = 6) -> list[Path]:
    files = sorted(photo_dir().rglob("*.jpg"))
    return [files[(i * 37) % len(files)] for i in range(count)]


def test_fp32_export_import_and_encode_match_torch(checkpoint, tmp_path, capsys):
    result = run_export(
        [str(checkpoint), "--name", "tiny-clip-fp32", "--out", str(tmp_path / "out")], tmp_path
    )
    printed = capsys.readouterr().out
    assert "verify fp32 on 8 real photos: cosine onnx vs torch min" in printed
    assert result["min_cosine"] >= 0.9999 and result["threshold"] == 0.9999
    assert result["dim"] == 16 and result["precision"] == "fp32"

    onnx_path = Path(result["onnx"])
    model = onnx.load(onnx_path)
    opset = {o.domain: o.version for o in model.opset_import}.get("", 0)
    assert opset >= 17
    (inp,), outputs = model.graph.input, model.graph.output
    assert inp.name == "pixel_values" and [o.name for o in outputs] == ["image_embeds"]
    in_dims = inp.type.tensor_type.shape.dim
    assert in_dims[0].dim_param and [d.dim_value for d in in_dims[1:]] == [3, 224, 224]  # dynamic batch
    assert outputs[0].type.tensor_type.shape.dim[0].dim_param

    # the manifest is taken from the checkpoint's preprocessor config
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["input_size"] == [224, 224] and manifest["resize"] == "center_crop"
    assert manifest["interpolation"] == "bicubic" and manifest["layout"] == "NCHW"
    assert np.allclose(manifest["mean"], CLIP_MEAN) and np.allclose(manifest["std"], CLIP_STD)
    assert (manifest["family"], manifest["precision"], manifest["dim"]) == ("clip", "fp32", 16)
    assert manifest["extra"]["verified_min_cosine"] >= 0.9999

    installed = import_model(onnx_path, Path(result["manifest"]))
    assert installed.onnx_path.parent == models_dir() / "tiny-clip-fp32"
    photos = real_photos()
    batch = np.concatenate([preprocess(p.read_bytes(), installed.manifest)[0] for p in photos])
    enc = Encoder(installed, device="cpu", verify_hash=True)
    got = enc.encode(batch)
    expected = torch_embeddings(checkpoint, batch)
    cosines = (got * expected).sum(axis=1)
    assert got.shape == (len(photos), 16) and cosines.min() >= 0.9999
    assert enc.describe() == "tiny-clip-fp32 (fp32, 16-d) on CPU"


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_exports_verify_at_0_99(checkpoint, tmp_path, capsys, precision):
    result = run_export([str(checkpoint), f"--{precision}", "--name", f"tiny-{precision}"], tmp_path)
    assert f"verify {precision} on 8 real photos" in capsys.readouterr().out
    assert result["min_cosine"] >= 0.99 and result["threshold"] == 0.99
    # without --out the script installs into the models folder
    installed = {m.manifest.name: m for m in installed_models()}[f"tiny-{precision}"]
    assert installed.manifest.precision == precision
    graph = onnx.load(installed.onnx_path).graph
    if precision == "int8":
        assert any(n.op_type == "MatMulInteger" for n in graph.node)
    else:
        assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
        assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    photos = real_photos(4)
    batch = np.concatenate([preprocess(p.read_bytes(), installed.manifest)[0] for p in photos])
    got = Encoder(installed, device="cpu").encode(batch)
    assert ((got * torch_embeddings(checkpoint, batch)).sum(axis=1)).min() >= 0.99


def test_clip_b32_names_make_the_default_model(tmp_path, capsys):
    source = make_checkpoint(tmp_path / "clip-vit-base-patch32")
    run_export([str(source), "--int8"], tmp_path)
    assert default_model("cpu").manifest.name == "clip-vit-b32-int8"
    assert default_model("cpu").manifest.precision == "int8"


def test_failed_verification_installs_nothing(checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(export_clip.THRESHOLDS, "int8", 1.000001)  # no int8 model can reach this
    code = export_clip.main([str(checkpoint), "--int8", "--name", "never", "--photos", str(photo_dir())])
    assert code == 1
    assert "agrees with torch only to cosine" in capsys.readouterr().err
    folder = models_dir() / "never"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert "never" not in [m.manifest.name for m in installed_models()]


def test_unsupported_preprocessing_is_refused(tmp_path, capsys):
    source = make_checkpoint(tmp_path / "resize256", crop=224, shortest=256)
    assert export_clip.main([str(source), "--photos", str(photo_dir())]) == 1
    assert "only scale the shortest side to the crop size" in capsys.readouterr().err


def test_missing_checkpoint_message(tmp_path, capsys):
    assert export_clip.main([str(tmp_path / "nothing-here"), "--photos", str(photo_dir())]) == 1
    err = capsys.readouterr().err
    assert "Cannot load the CLIP checkpoint" in err and "local directory" in err


def test_cli_export_wrapper_runs_the_script(checkpoint, tmp_path, capsys):
    from desktop_app.cli import main

    code = main(
        [
            "models",
            "export",
            str(checkpoint),
            "--int8",
            "--name",
            "via-cli",
            "--photos",
            str(photo_dir()),
            "--verify-photos",
            "4",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["name"] == "via-cli" and result["min_cosine"] >= 0.99
    assert "via-cli" in [m.manifest.name for m in installed_models()]


def test_cli_export_without_the_extra_says_how_to_install(monkeypatch, capsys, tmp_path):
    import importlib.util as util

    from desktop_app.cli import main

    real = util.find_spec
    monkeypatch.setattr(
        util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a)
    )
    assert main(["models", "export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "transformers" in err and "lookalike[export]" in err


def test_import_refuses_the_export_under_a_wrong_manifest(checkpoint, tmp_path, capsys):
    result = run_export([str(checkpoint), "--name", "shape-check", "--out", str(tmp_path / "o")], tmp_path)
    manifest = json.loads(Path(result["manifest"]).read_text())
    manifest["dim"] = 512  # a manifest for the real ViT-B/32, with the tiny model's file
    manifest["sha256"] = ""
    wrong = tmp_path / "wrong.manifest.json"
    wrong.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"\['batch', 16\].*manifest says dim 512"):
        import_model(Path(result["onnx"]), wrong)


def test_cli_export_of_an_unknown_hub_id_without_network_fails_at_once(tmp_path):
    """No hub retries for half a minute: the hub is asked for once, and a name that is neither a local
    folder nor in the hub cache fails with one line. The hub endpoint is a local port nobody listens on."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = {
            **os.environ,
            "LOOKALIKE_HOME": str(tmp_path / "home"),
            "HF_ENDPOINT": endpoint,
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_OFFLINE": "0",
        }
        for name, needle in (
            ("nosuch/model", "the model hub cannot be reached"),
            ("bad//name", "neither a local checkpoint folder nor a hub id"),
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "desktop_app", "models", "export", name],
                capture_output=True,
                text=True,
                env=env,
                cwd=REPO,
                timeout=120,
            )
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
            assert needle in proc.stderr and "Retrying" not in proc.stderr, proc.stderr


def test_cli_export_hands_its_options_to_the_script_and_reports_what_it_did(tmp_path, monkeypatch, capsys):
    """The wrapper without torch at work: the script's process is replaced by one that answers as the real
    script does (a result file; a refusal as a last "error: ..." line; anything else on stderr)."""
    import subprocess

    from desktop_app.cli import main, models_export

    calls: list[list[str]] = []
    answer = {"how": "ok"}
    out = tmp_path / "out"

    def script(argv, stdout=None, stderr=None, text=None, check=None, env=None):
        calls.append(argv)
        result = Path(argv[argv.index("--result-json") + 1])
        if answer["how"] == "ok":
            found = {
                "name": "tiny",
                "precision": "fp16",
                "dim": 16,
                "min_cosine": 0.99912,
                "onnx": "o/tiny.onnx",
            }
            result.write_text(json.dumps({**found, "text": {"min_cosine": 0.9995}}))
            return subprocess.CompletedProcess(argv, 0, "the script's report\n" if stdout else None, "")
        if answer["how"] == "refused":
            return subprocess.CompletedProcess(argv, 1, None, "a warning\nerror: it is no CLIP checkpoint\n")
        return subprocess.CompletedProcess(argv, 1, None, "Traceback: something broke\n")

    monkeypatch.setattr(models_export.subprocess, "run", script)
    source = str(tmp_path)  # a local folder: the hub is never asked
    argv = ["models", "export", source, "--fp16", "--name", "tiny", "--out", str(out), "--revision", "r1"]
    argv += ["--licence", "mit", "--verify-photos", "3", "--force", "--text"]
    assert main(argv) == 0
    assert calls[0][2:-2] == [
        source,
        "--fp16",
        "--name",
        "tiny",
        "--out",
        str(out),
        "--verify-photos",
        "3",
        "--revision",
        "r1",
        "--licence",
        "mit",
        "--force",
        "--text",
    ]
    assert capsys.readouterr().out == (
        "Exported tiny (fp16, 16-d; cosine vs torch >= 0.999120; text side cosine vs torch >= 0.999500) into "
        f"{out}; it is not installed: lookalike models import o/tiny.onnx\n"
    )
    assert main(["models", "export", source, "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["installed"] is True and "the script's report" in said.err
    answer["how"] = "refused"
    assert main(["models", "export", source]) == 2
    assert capsys.readouterr().err == "lookalike: it is no CLIP checkpoint Nothing was installed.\n"
    answer["how"] = "broken"
    assert main(["models", "export", source]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback: something broke\n") and "failed (see the messages above)" in err
    monkeypatch.setattr(models_export, "EXPORT_SCRIPT", tmp_path / "gone.py")  # an installed package
    assert main(["models", "export", source]) == 2
    assert "is not part of this installation; run it from a source checkout" in capsys.readouterr().err


def test_cli_export_lets_no_library_progress_bar_through(checkpoint, tmp_path):
    """transformers draws a "Loading weights" bar as it reads a checkpoint (its text-tower load too): noise on
    the export's terminal, where the export says itself what it has done."""
    from tests.conftest import cli

    out = tmp_path / "out"
    argv = ["models", "export", checkpoint, "--name", "quiet", "--out", out]
    proc = cli(*argv, "--photos", photo_dir(), "--verify-photos", "2", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert "Loading weights" not in proc.stderr and "it/s" not in proc.stderr, proc.stderr
    assert "loaded " in proc.stdout and "Exported quiet" in proc.stdout  # the export's own report
