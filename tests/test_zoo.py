"""Model zoo: fetch from a real HTTP server on 127.0.0.1 (success, resume, 404, bad checksum, server gone),
import with shape validation, remove, list, the default model, and the `models` CLI handlers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from desktop_app.cli import main as cli_main
from desktop_app.core import zoo, zoo_list
from desktop_app.core.device import gpu_in_use
from desktop_app.core.errors import ModelError
from desktop_app.core.models import (
    BUNDLED_MODEL,
    ModelManifest,
    default_model,
    installed_models,
    load_manifest,
    models_dir,
    resolve_model,
)

pytest.importorskip("onnx")  # the test models are built with the onnx package (the [export] extra)

from tests.conftest import make_tiny_model  # noqa: E402


@pytest.fixture
def tiny_file(tmp_path) -> tuple[bytes, ModelManifest]:
    """A real small ONNX embedder (input 'pixels' [batch,3,32,32], output 'embedding' [batch,8])."""
    model = make_tiny_model(tmp_path / "src", name="tiny-src")
    return model.onnx_path.read_bytes(), model.manifest


def known_for(data: bytes, manifest: ModelManifest, **overrides) -> zoo.KnownModel:
    fields = dict(
        name="tiny-known",
        repo="test/tiny",
        path="onnx/tiny.onnx",
        revision="0123456789abcdef",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        precision="fp32",
        arch="test",
        licence="test-only",
        description="tiny test model",
        dim=manifest.dim,
        input_name=manifest.input_name,
        output_name=manifest.output_name,
        input_size=manifest.input_size,
        mean=manifest.mean,
        std=manifest.std,
        resize=manifest.resize,
        interpolation=manifest.interpolation,
        family="test",
    )
    fields.update(overrides)
    return zoo.KnownModel(**fields)


URL_PATH = "/test/tiny/resolve/0123456789abcdef/onnx/tiny.onnx"


# ---------------------------------------------------------------------------------------------- fetch


def test_fetch_downloads_checks_and_installs(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    known = known_for(data, manifest)
    seen: list[tuple[int, int | None]] = []
    result = zoo.fetch(
        known, mirror=server.base, progress=lambda done, total: seen.append((done, total)), chunk=512
    )
    assert result.verified and result.resumed_from == 0 and result.bytes == len(data) and not result.warning
    installed = result.model
    assert installed.onnx_path == models_dir() / "tiny-known" / "tiny-known.onnx"
    assert installed.onnx_path.read_bytes() == data
    assert installed.manifest.sha256 == known.sha256 and installed.manifest.dim == 8
    assert resolve_model("tiny-known").manifest_path == installed.manifest_path
    assert seen[-1] == (len(data), len(data)) and len(seen) > 2  # progress reported chunk by chunk
    assert not any((models_dir() / zoo.DOWNLOADS).iterdir())  # nothing left behind
    again = zoo.fetch(known, mirror=server.base)
    assert again.already_installed and len(server.log) == 1


def test_fetch_resumes_a_cut_download_with_range(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    server.cut_after = 1000
    known = known_for(data, manifest)
    with pytest.raises(ModelError, match="cut after .* again to resume"):
        zoo.fetch(known, mirror=server.base, chunk=256)
    part = models_dir() / zoo.DOWNLOADS / "tiny-known.onnx.part"
    assert part.stat().st_size == 1000
    assert not (models_dir() / "tiny-known").exists()  # nothing installed from a cut download
    result = zoo.fetch(known, mirror=server.base)
    assert result.resumed_from == 1000 and result.verified
    assert server.log[-1] == (URL_PATH, "bytes=1000-")
    assert result.model.onnx_path.read_bytes() == data
    assert not part.exists()


def test_fetch_restarts_when_the_server_ignores_range(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    server.cut_after, server.ignore_range = 700, True
    known = known_for(data, manifest)
    with pytest.raises(ModelError):
        zoo.fetch(known, mirror=server.base)
    result = zoo.fetch(known, mirror=server.base)
    assert result.resumed_from == 0 and result.model.onnx_path.read_bytes() == data


def test_fetch_404_says_not_found_and_how_to_import(server, tiny_file):
    data, manifest = tiny_file
    with pytest.raises(ModelError, match=r"not found .*HTTP 404.*models import tiny.onnx --as tiny-known"):
        zoo.fetch(known_for(data, manifest), mirror=server.base)
    assert not (models_dir() / "tiny-known").exists()


def test_fetch_wrong_checksum_is_refused_and_deleted(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    known = known_for(data, manifest, sha256="0" * 64)
    with pytest.raises(ModelError, match="failed its checksum"):
        zoo.fetch(known, mirror=server.base)
    assert not (models_dir() / zoo.DOWNLOADS / "tiny-known.onnx.part").exists()
    assert not (models_dir() / "tiny-known").exists()
    assert "tiny-known" not in [m.manifest.name for m in installed_models()]


def test_fetch_wrong_size_is_refused(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    with pytest.raises(ModelError, match="not the pinned"):
        zoo.fetch(known_for(data, manifest, size=len(data) + 10), mirror=server.base)


def test_fetch_with_server_gone_explains_offline_import(server, tiny_file):
    data, manifest = tiny_file
    base = server.base
    server.shutdown()
    server.server_close()
    with pytest.raises(ModelError) as err:
        zoo.fetch(known_for(data, manifest), mirror=base, timeout=5)
    message = str(err.value)
    assert "Cannot download tiny-known" in message
    assert "lookalike models import tiny.onnx --as tiny-known" in message
    assert "\n" not in message and len(message) < 400


def test_unpinned_download_is_installed_with_a_warning(server, tiny_file):
    data, manifest = tiny_file
    server.files["/test/tiny/resolve/main/onnx/tiny.onnx"] = data
    known = known_for(data, manifest, revision=None, size=None, sha256=None)
    result = zoo.fetch(known, mirror=server.base)
    assert not result.verified and "not pinned" in result.warning
    assert result.model.manifest.sha256 == hashlib.sha256(data).hexdigest()


def test_mirror_comes_from_the_environment(server, tiny_file, monkeypatch):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    monkeypatch.setenv(zoo.MIRROR_ENV, server.base + "/")
    known = known_for(data, manifest)
    assert known.url() == server.base + URL_PATH
    assert zoo.fetch(known).verified
    monkeypatch.delenv(zoo.MIRROR_ENV)
    assert known.url().startswith(zoo.DEFAULT_MIRROR + "/test/tiny/resolve/")


def test_a_fetched_model_with_wrong_shapes_is_not_installed(server, tiny_file):
    data, manifest = tiny_file
    server.files[URL_PATH] = data
    with pytest.raises(ModelError, match="manifest says dim 512"):
        zoo.fetch(known_for(data, manifest, dim=512), mirror=server.base)
    assert not (models_dir() / "tiny-known").exists()


# ---------------------------------------------------------------------------------------------- known


def test_known_models_are_described_honestly():
    names = {k.name for k in zoo.KNOWN_MODELS}
    assert {"clip-vit-b32-fp32", "clip-vit-b32-fp16", "clip-vit-b32-int8"} <= names
    assert any(k.arch == "ViT-B/16" for k in zoo.KNOWN_MODELS)
    int8 = zoo.known_model("clip-vit-b32-int8")
    assert int8.pinned and int8.size == 89_117_001
    assert int8.url("http://m") == (
        "http://m/Xenova/clip-vit-base-patch32/resolve/d15189d7028b43f1d3e65039190477f6af591c2a/"
        "onnx/vision_model_quantized.onnx"
    )
    for k in zoo.KNOWN_MODELS:
        assert (k.input_name, k.output_name, k.dim) == ("pixel_values", "image_embeds", 512)
        assert k.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", k.sha256)
        assert k.pinned == bool(k.revision and k.size and k.sha256)
    with pytest.raises(ModelError, match="not a known model"):
        zoo.known_model("clip-vit-h14")


# ---------------------------------------------------------------------------------------------- import


def test_import_with_manifest_beside_the_file(tiny_file, tmp_path):
    src = make_tiny_model(tmp_path / "drop", name="dropped")
    model = zoo.import_model(src.onnx_path)
    assert model.manifest.name == "dropped" and model.onnx_path.parent == models_dir() / "dropped"
    assert zoo.import_model(src.onnx_path).manifest_path == model.manifest_path  # same file again: no-op


def test_import_refuses_input_size_mismatch(tiny_file, tmp_path):
    data, manifest = tiny_file
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(data)
    wrong = tmp_path / "wrong.manifest.json"
    wrong.write_text(dataclasses.replace(manifest, input_size=(224, 224)).to_json())
    with pytest.raises(
        ModelError, match=r"shape \['batch', 3, 32, 32\] but the manifest says \[batch, 3, 224, 224\]"
    ):
        zoo.import_model(onnx_file, wrong)
    assert not (models_dir() / manifest.name).exists()


def test_import_refuses_dim_and_name_mismatches(tiny_file, tmp_path):
    data, manifest = tiny_file
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(data)
    with pytest.raises(ModelError, match="manifest says dim 16"):
        zoo.import_model(onnx_file, dataclasses.replace(manifest, dim=16))
    with pytest.raises(ModelError, match="no input named 'pixel_values'"):
        zoo.import_model(onnx_file, dataclasses.replace(manifest, input_name="pixel_values"))
    with pytest.raises(ModelError, match="no output named 'image_embeds'"):
        zoo.import_model(onnx_file, dataclasses.replace(manifest, output_name="image_embeds"))
    with pytest.raises(ModelError, match="does not match its manifest"):
        zoo.import_model(onnx_file, dataclasses.replace(manifest, sha256="f" * 64))
    assert [m.manifest.name for m in installed_models() if not m.bundled] == []


def test_import_refuses_a_fixed_batch_axis(tmp_path):
    onnx = pytest.importorskip("onnx")
    src = make_tiny_model(tmp_path / "fixed", name="fixed")
    model = onnx.load(src.onnx_path)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model, src.onnx_path)
    with pytest.raises(ModelError, match="fixed batch size of 1"):
        zoo.import_model(src.onnx_path, dataclasses.replace(src.manifest, sha256=""))


def test_import_without_manifest_explains_options(tiny_file, tmp_path):
    data, _ = tiny_file
    onnx_file = tmp_path / "lonely.onnx"
    onnx_file.write_bytes(data)
    with pytest.raises(ModelError, match=r"--manifest MANIFEST.json.*--as NAME"):
        zoo.import_model(onnx_file)
    with pytest.raises(ModelError, match="is not the file clip-vit-b32-int8 pins"):
        zoo.import_model(onnx_file, known_as="clip-vit-b32-int8")


def test_import_not_an_onnx_file(tmp_path, tiny_file):
    _, manifest = tiny_file
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        zoo.import_model(junk, dataclasses.replace(manifest, sha256=""))


def test_import_replacing_needs_force_and_bundled_is_protected(tmp_path):
    a = make_tiny_model(tmp_path / "a", name="same", seed=1)
    b = make_tiny_model(tmp_path / "b", name="same", seed=2)
    zoo.import_model(a.onnx_path)
    with pytest.raises(ModelError, match="--force"):
        zoo.import_model(b.onnx_path)
    replaced = zoo.import_model(b.onnx_path, force=True)
    assert replaced.manifest.sha256 == b.manifest.sha256
    assert sorted(p.name for p in replaced.manifest_path.parent.iterdir()) == [
        "same.manifest.json",
        "same.onnx",
    ]
    with pytest.raises(ModelError, match="bundled model"):
        zoo.import_model(b.onnx_path, name=BUNDLED_MODEL)
    with pytest.raises(ModelError, match="not a usable model name"):
        zoo.import_model(b.onnx_path, name="../escape")


# ---------------------------------------------------------------------------------------------- remove, list, default


def test_remove_model_and_protect_bundled(tmp_path):
    src = make_tiny_model(tmp_path / "r", name="to-remove")
    installed = zoo.import_model(src.onnx_path)
    folder = zoo.remove_model("to-remove")
    assert folder == installed.manifest_path.parent and not folder.exists()
    with pytest.raises(ModelError, match="No installed model"):
        zoo.remove_model("to-remove")
    if any(m.manifest.name == BUNDLED_MODEL for m in installed_models()):
        with pytest.raises(ModelError, match="bundled"):
            zoo.remove_model(BUNDLED_MODEL)


def _fake_install(name: str, precision: str, tmp_path: Path) -> None:
    """A CLIP-named install for the default-model rules (the rules look at names, not weights)."""
    src = make_tiny_model(tmp_path / name, name=name)
    zoo.import_model(src.onnx_path, dataclasses.replace(src.manifest, precision=precision, family="clip"))


def test_default_model_prefers_clip_b32_by_device(tmp_path, monkeypatch):
    bundled_present = any(m.manifest.name == BUNDLED_MODEL for m in installed_models())
    if bundled_present:
        assert default_model().manifest.name == BUNDLED_MODEL
    _fake_install("clip-vit-b32-fp16", "fp16", tmp_path)
    assert default_model("cpu").manifest.name == "clip-vit-b32-fp16"  # the only CLIP installed
    _fake_install("clip-vit-b32-fp32", "fp32", tmp_path)
    _fake_install("clip-vit-b32-int8", "int8", tmp_path)
    assert default_model("cpu").manifest.name == "clip-vit-b32-int8"
    with monkeypatch.context() as m:  # a machine with a usable GPU
        m.setattr("desktop_app.core.models.gpu_in_use", lambda device: device != "cpu")
        assert default_model("cuda").manifest.precision == "fp16"
        assert default_model("auto").manifest.name == "clip-vit-b32-fp16"
        assert default_model("cpu").manifest.name == "clip-vit-b32-int8"
        zoo.remove_model("clip-vit-b32-fp16")
        assert default_model("cuda").manifest.name == "clip-vit-b32-fp32"
    # auto follows the real machine: int8 without a usable GPU, else the best remaining GPU variant
    expected = "clip-vit-b32-fp32" if gpu_in_use("auto") else "clip-vit-b32-int8"
    assert default_model().manifest.name == expected
    assert zoo_list.describe_default("cpu") == "clip-vit-b32-int8 (int8, clip, 8-d)"


def test_list_models_shows_installed_known_damaged_and_default(tmp_path):
    src = make_tiny_model(tmp_path / "l", name="listed")
    zoo.import_model(src.onnx_path)
    broken = models_dir() / "broken"
    broken.mkdir()
    (broken / "broken.manifest.json").write_text("{not json")
    rows = {r.name: r for r in zoo_list.list_models("cpu")}
    assert rows["listed"].status == "installed" and rows["listed"].size == src.onnx_path.stat().st_size
    assert rows["broken"].status == "damaged" and rows["broken"].problem
    assert rows["clip-vit-b32-int8"].status == "available" and rows["clip-vit-b32-int8"].size == 89_117_001
    assert rows["clip-vit-b32-int8"].pinned and not rows["clip-vit-b32-fp32"].pinned
    assert rows["clip-vit-b32-int8"].licence.startswith("MIT")
    assert sum(r.default for r in rows.values()) == 1
    assert zoo.remove_model("broken") == broken and not broken.exists()


# ---------------------------------------------------------------------------------------------- CLI


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list_import_remove_json(tmp_path, capsys):
    src = make_tiny_model(tmp_path / "c", name="cli-model")
    code, out, _ = run_cli(["models", "import", str(src.onnx_path), "--json"], capsys)
    assert code == 0 and json.loads(out)["name"] == "cli-model"
    code, out, _ = run_cli(["models", "list", "--json"], capsys)
    listing = json.loads(out)
    assert code == 0 and "cli-model" in [m["name"] for m in listing["models"]]
    assert listing["default"]
    code, out, _ = run_cli(["models", "list"], capsys)
    assert code == 0 and "cli-model" in out and "clip-vit-b32-int8" in out and "Default (auto):" in out
    code, out, _ = run_cli(["models"], capsys)  # bare `models` lists too
    assert code == 0 and "cli-model" in out
    code, out, _ = run_cli(["models", "remove", "cli-model", "--json"], capsys)
    assert code == 0 and json.loads(out)["removed"] == "cli-model"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    code, out, err = run_cli(["models", "remove", "nothing-here"], capsys)
    assert (
        code == 2 and out == "" and err.count("\n") == 1 and err.startswith("lookalike: No installed model")
    )
    code, out, err = run_cli(["models", "fetch", "no-such-model", "--json"], capsys)
    assert code == 2 and "not a known model" in json.loads(out)["error"]
    code, out, err = run_cli(["models", "import", str(tmp_path / "missing.onnx")], capsys)
    assert code == 2 and "does not exist" in err


def test_cli_fetch_with_mirror(server, tiny_file, capsys, monkeypatch):
    data, manifest = tiny_file
    known = known_for(data, manifest)
    monkeypatch.setattr(zoo, "KNOWN_MODELS", (*zoo.KNOWN_MODELS, known))
    server.files[URL_PATH] = data
    code, out, err = run_cli(["models", "fetch", "tiny-known", "--mirror", server.base, "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["verified"] and result["bytes"] == len(data)
    assert (
        load_manifest(models_dir() / "tiny-known" / "tiny-known.manifest.json").manifest.sha256
        == known.sha256
    )
    code, out, err = run_cli(["models", "fetch", "tiny-known", "--mirror", server.base], capsys)
    assert code == 0 and "already installed" in out


def test_which_text_files_an_import_installs_and_how_they_are_described(tmp_path):
    from desktop_app.core.errors import InputError, ModelError
    from desktop_app.core.models import TextTower
    from desktop_app.core.zoo_text import KnownFile, KnownText, plan_text

    text, tokenizer = tmp_path / "t.onnx", tmp_path / "tok.json"
    text.write_bytes(b"text model")
    tokenizer.write_bytes(b"{}")
    described = TextTower(
        file="t.onnx", sha256="", tokenizer="tok.json", tokenizer_sha256="", source="manifest"
    )
    assert plan_text(None, tmp_path, None, None, None) is None  # an image-only import
    with pytest.raises(InputError, match="give both --text and --tokenizer"):
        plan_text(None, tmp_path, None, text, None)
    # The files a manifest names, beside it; the manifest's description.
    plan = plan_text(described, tmp_path, None, None, None)
    assert (plan.text_file, plan.tokenizer_file, plan.section) == (text, tokenizer, described)
    with pytest.raises(ModelError, match="The manifest names a text side, but .*gone.json is not there"):
        plan_text(dataclasses.replace(described, tokenizer="gone.json"), tmp_path, None, None, None)
    with pytest.raises(ModelError, match="nowhere.onnx does not exist or is not a file"):
        plan_text(None, tmp_path, None, tmp_path / "nowhere.onnx", tokenizer)
    # Files given without a manifest's text section: CLIP's usual export...
    usual = plan_text(None, tmp_path, None, text, tokenizer).section
    assert (usual.input_name, usual.output_name, usual.context_length) == ("input_ids", "text_embeds", 77)
    assert usual.source == "imported t.onnx"
    # ...or the known model's, once its pinned files are the ones given.
    sha = hashlib.sha256(b"text model").hexdigest()
    known = KnownText(
        KnownFile("onnx/text.onnx", 10, sha), KnownFile("tokenizer.json"), "fp32", context_length=64
    )
    assert plan_text(None, tmp_path, known, text, tokenizer).section.context_length == 64
    other = dataclasses.replace(known, model=KnownFile("onnx/text.onnx", 10, "0" * 64))
    with pytest.raises(ModelError, match="t.onnx is not the text model the known model pins"):
        plan_text(None, tmp_path, other, text, tokenizer)
