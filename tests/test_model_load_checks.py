"""A model whose manifest does not describe it fails when it loads, before an index run writes anything.

The encoder checks its own session against the manifest (names, input shape, the size of the vectors from
one run of blank photos), so a wrong `dim` or input size is one line, exit 2, with no catalog created and an
existing catalog's model, settings and runs as they were.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.encoder import Encoder
from desktop_app.core.engine import index_photos
from desktop_app.core.errors import ModelError
from desktop_app.core.models import BUNDLED_DIR, BUNDLED_MODEL, load_manifest
from desktop_app.core.settings import catalog_settings
from desktop_app.core.storage import Catalog
from tests.conftest import cli, one_line_exit_2


def manifest_copy(model_dir: Path, onnx: Path, manifest: Path, name: str, **changes) -> Path:
    """A copy of a model and its manifest in `model_dir`, the manifest changed as given (a new name, so the
    copy is never mistaken for the installed model)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx, model_dir / onnx.name)
    data = {**json.loads(manifest.read_text()), "name": name, **changes}
    path = model_dir / f"{name}.manifest.json"
    path.write_text(json.dumps(data))
    return path


def bundled_with(tmp_path: Path, **changes) -> Path:
    return manifest_copy(
        tmp_path / "models",
        BUNDLED_DIR / f"{BUNDLED_MODEL}.onnx",
        BUNDLED_DIR / f"{BUNDLED_MODEL}.manifest.json",
        "that",
        **changes,
    )


def tiny_with(tmp_path: Path, tiny_model, **changes) -> Path:
    return manifest_copy(
        tmp_path / "models", tiny_model.onnx_path, tiny_model.manifest_path, "wrong", **changes
    )


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"dim": 16}, "manifest says dim 16"),
        ({"input_size": [64, 64]}, "manifest says [batch, 3, 64, 64]"),
        ({"layout": "NHWC"}, "manifest says [batch, 32, 32, 3]"),
        ({"output_name": "logits"}, "no output named 'logits'"),
    ],
)
def test_loading_checks_the_model_against_its_manifest(tmp_path, tiny_model, changes, needle):
    wrong = tiny_with(tmp_path, tiny_model, **changes)
    with pytest.raises(ModelError) as caught:
        Encoder(load_manifest(wrong), device="cpu")
    assert needle in str(caught.value) and str(wrong) in str(caught.value)


def size_free_model(folder: Path):
    """A real ONNX model whose input size is free, so its vector size (channels x pixels / 16) is known only
    when it runs: conv with stride 4, then flatten."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(0, 0.5, (2, 3, 4, 4)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["pixels", "w"], ["c"], strides=[4, 4]),
            helper.make_node("Flatten", ["c"], ["embedding"], axis=1),
        ],
        "size-free",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", "features"])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True)
    onnx.save(model, folder / "size-free.onnx")
    return folder / "size-free.onnx"


def test_a_vector_size_that_only_shows_when_the_model_runs(tmp_path, tiny_model):
    """No shape in the file gives the vector size away: the blank run at load time finds it."""
    onnx_file = size_free_model(tmp_path / "src")
    # 2 channels x (32 / 4)^2 pixels = 128 values per photo at the tiny manifest's 32x32 input size.
    wrong = manifest_copy(tmp_path / "a", onnx_file, tiny_model.manifest_path, "free", file=onnx_file.name)
    with pytest.raises(ModelError, match="returned 128-d vectors; its manifest says 8"):
        Encoder(load_manifest(wrong), device="cpu")
    right = manifest_copy(
        tmp_path / "b", onnx_file, tiny_model.manifest_path, "free", file=onnx_file.name, dim=128
    )
    vec = Encoder(load_manifest(right), device="cpu").encode(np.zeros((3, 3, 32, 32), np.float32))
    assert vec.shape == (3, 128)


def test_a_wrong_dim_on_a_first_run_creates_no_catalog(tmp_path, sample_copy):
    wrong = bundled_with(tmp_path, dim=512)
    out = tmp_path / "out"
    out.mkdir()
    proc = cli("index", sample_copy, "--db", out / "new.sqlite", "--model", wrong, home=tmp_path / "home")
    one_line_exit_2(proc, "1280")
    assert "512" in proc.stderr
    assert list(out.iterdir()) == []


def test_a_wrong_dim_leaves_an_existing_catalog_as_it_was(tmp_path, photo_tree, tiny_model):
    db = tmp_path / "c.sqlite"
    index_photos(db, photo_tree, model=tiny_model)
    with Catalog(db) as catalog:
        before = (catalog_settings(catalog), catalog.recent_runs(), catalog.counts(None))
    for wrong in (tiny_with(tmp_path, tiny_model, dim=16), bundled_with(tmp_path, dim=512)):
        proc = cli("index", photo_tree, "--db", db, "--model", wrong, home=tmp_path / "home")
        one_line_exit_2(proc, "manifest says")
        with Catalog(db) as catalog:
            assert (catalog_settings(catalog), catalog.recent_runs(), catalog.counts(None)) == before
