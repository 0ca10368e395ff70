"""Checks on CLIP models' text side, each through the real paths (a tiny CLIP checkpoint with CLIP's real
vocabulary, the real export script, `models import`, `models fetch` against a local HTTP server, the CLI):
tokenizers that do not belong to their text model are refused at export, import and search; an ImageNet
model has no text tower to export; offline, `models fetch` names every file and the command that imports
both towers; `index --model` says how to get a model that is not installed.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from desktop_app.cli import main as cli_main
from desktop_app.core import zoo
from desktop_app.core.errors import ModelError
from desktop_app.core.models import installed_models, load_manifest, models_dir, resolve_model
from tests.clip_tiny import make_clip_checkpoint
from tests.conftest import SAMPLE_PHOTOS
from tests.test_text_models import served
from tests.test_text_search import clip_catalog  # noqa: F401 - a fixture

pytest.importorskip("torch")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# ---------------------------------------------------------------------------------------------- tokenizers


def empty_tokenizer_json(checkpoint: Path, tmp_path: Path) -> Path:
    """What transformers makes of a checkpoint saved without its tokenizer files: 2 tokens, no merges."""
    from transformers import AutoTokenizer

    bare = tmp_path / "bare"
    shutil.copytree(checkpoint, bare)
    for f in bare.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            f.unlink()
    path = tmp_path / "empty.tokenizer.json"
    path.write_text(AutoTokenizer.from_pretrained(bare).backend_tokenizer.to_str(), encoding="utf-8")
    return path


def test_export_refuses_a_checkpoint_without_its_tokenizer(tmp_path, capsys):
    checkpoint = make_clip_checkpoint(tmp_path / "ckpt", seed=7)
    for f in checkpoint.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            f.unlink()
    capsys.readouterr()  # transformers' progress bar while saving the checkpoint
    argv = ["models", "export", str(checkpoint), "--text", "--name", "no-tok", "--verify-photos", "2"]
    assert cli_main(argv) == 2
    err = one_line_error(capsys)
    assert "has 2 tokens and the text model reads 49,408: the tokenizer does not belong" in err
    assert "keep the checkpoint's tokenizer files" in err and "Nothing was installed" in err
    assert not (models_dir() / "no-tok").exists()


def test_import_refuses_an_empty_tokenizer_and_one_without_merges(tiny_clip_export, tmp_path, capsys):
    export = Path(tiny_clip_export["onnx"]).parent
    image, text = export / "tiny-clip.onnx", export / "tiny-clip.text.onnx"
    empty = empty_tokenizer_json(Path(tiny_clip_export["checkpoint"]), tmp_path)
    data = json.loads((export / "tiny-clip.tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["merges"] = []
    no_merges = tmp_path / "no-merges.tokenizer.json"
    no_merges.write_text(json.dumps(data), encoding="utf-8")
    hello = tmp_path / "hello.json"
    hello.write_text('{"hello": 1}', encoding="utf-8")
    for tokenizer, needle in (
        (empty, "has 2 tokens and the text model reads 49,408: the tokenizer does not belong"),
        (no_merges, "has no BPE merges (49,408 tokens): it is not CLIP's BPE tokenizer"),
        (hello, "is not a tokenizer.json: it is JSON, but holds no tokenizer model"),
    ):
        argv = [
            "models",
            "import",
            str(image),
            "--name",
            "t",
            "--text",
            str(text),
            "--tokenizer",
            str(tokenizer),
        ]
        assert cli_main(argv) == 2
        assert needle in one_line_error(capsys)
        assert "t" not in [m.manifest.name for m in installed_models()]
    image_only = dataclasses.replace(load_manifest(Path(tiny_clip_export["manifest"])).manifest, text=None)
    zoo.import_model(image, image_only, name="b")
    assert cli_main(["models", "import", "--text-for", "b", str(text), "--tokenizer", str(empty)]) == 2
    assert "the tokenizer does not belong to this text model" in one_line_error(capsys)
    assert resolve_model("b").manifest.text is None


def test_search_refuses_an_installed_tokenizer_without_merges(clip_catalog, clip_model, capsys):  # noqa: F811
    """A model installed before these checks (or whose tokenizer was replaced) gives every text the same
    ids; search by words says so instead of answering every query alike."""
    data = json.loads(clip_model.tokenizer_path.read_text(encoding="utf-8"))
    data["model"]["merges"] = []
    clip_model.tokenizer_path.write_text(json.dumps(data), encoding="utf-8")
    assert cli_main(["similar", "--text", "red", "--db", str(clip_catalog)]) == 2
    err = one_line_error(capsys)
    assert "has no BPE merges" in err and "import its text side again: `lookalike models import" in err


def test_export_of_an_imagenet_model_with_text_is_refused_at_once(capsys):
    assert cli_main(["models", "export", "efficientnet-lite1", "--text"]) == 2
    assert one_line_error(capsys) == (
        "lookalike: efficientnet-lite1 has no text tower; --text is for CLIP checkpoints.\n"
    )
    assert not (models_dir() / "efficientnet-lite1-imagenet").exists()


# ---------------------------------------------------------------------------------------------- fetch and index


def test_offline_fetch_names_every_file_and_how_to_import_both_towers(server, tiny_clip_export):
    known = served(server, tiny_clip_export)
    base = server.base
    server.shutdown()
    server.server_close()
    with pytest.raises(ModelError) as err:
        zoo.fetch(known, mirror=base, timeout=5)
    message = str(err.value)
    prefix = f"{base}/test/tiny-clip/resolve/0123456789abcdef"
    assert (
        f"fetch {prefix}/onnx/vision_model.onnx, {prefix}/onnx/text_model.onnx and {prefix}/tokenizer.json "
        "on another machine, copy them here and run: lookalike models import vision_model.onnx --as tiny-known "
        "--text text_model.onnx --tokenizer tokenizer.json (or the photo side alone, and the text side later: "
        "lookalike models import --text-for tiny-known text_model.onnx --tokenizer tokenizer.json)"
    ) in message
    assert "\n" not in message


def test_offline_import_with_the_hinted_command_installs_both_towers(
    server, tiny_clip_export, tmp_path, monkeypatch
):
    """The command the offline message gives works on the files it names."""
    known = served(server, tiny_clip_export)
    for path in ("onnx/vision_model.onnx", "onnx/text_model.onnx", "tokenizer.json"):
        data = server.files[f"/test/tiny-clip/resolve/0123456789abcdef/{path}"]
        (tmp_path / Path(path).name).write_bytes(data)
    monkeypatch.setattr(zoo, "KNOWN_MODELS", (*zoo.KNOWN_MODELS, known))
    argv = ["models", "import", str(tmp_path / "vision_model.onnx"), "--as", "tiny-known"]
    argv += ["--text", str(tmp_path / "text_model.onnx"), "--tokenizer", str(tmp_path / "tokenizer.json")]
    assert cli_main(argv) == 0
    assert resolve_model("tiny-known").manifest.text is not None


def test_index_with_a_known_model_not_installed_says_how_to_get_it(tmp_path, capsys):
    db = tmp_path / "c.sqlite"
    argv = ["index", str(SAMPLE_PHOTOS), "--model", "clip-vit-b32-int8", "--db", str(db), "--no-progress"]
    assert cli_main(argv) == 2
    err = one_line_error(capsys)
    assert "'clip-vit-b32-int8' is not installed" in err
    assert "lookalike models fetch clip-vit-b32-int8" in err and "--as clip-vit-b32-int8" in err
    assert cli_main(["index", str(SAMPLE_PHOTOS), "--model", "nosuch", "--db", str(db), "--no-progress"]) == 2
    assert "import its file: lookalike models import FILE.onnx" in one_line_error(capsys)
