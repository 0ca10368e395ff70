"""The one encoder interface: preprocessed photos in, float32 [N, D] L2-normalised vectors out, in batches.

The session's device comes from `core.device`; `Encoder.info` says what the session really got. Loading
checks the model against its manifest (`check_session`: names, shapes, and one run of two blank photos), so
a manifest that does not belong to its model fails when the model loads, before an index run writes anything,
not halfway through embedding.
"""

from __future__ import annotations

import numpy as np

from desktop_app.core.device import make_session
from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel, ModelManifest, sha256_of


class Encoder:
    """An ONNX image embedder described by a manifest."""

    def __init__(
        self,
        model: InstalledModel,
        device: str = "auto",
        threads: int | None = None,
        verify_hash: bool = False,
    ) -> None:
        self.model = model
        self.manifest = model.manifest
        path = model.onnx_path
        if not path.exists():
            raise ModelError(f"The model file {path} is missing; {_reinstall(model)}.")
        if not path.is_file():  # a device (/dev/zero) or a pipe would be read for ever
            raise ModelError(f"The model file {path} is not a regular file; {_reinstall(model)}.")
        if verify_hash and sha256_of(path) != self.manifest.sha256:
            raise ModelError(
                f"The model file {path} does not match its manifest's sha256, so it is damaged; "
                f"{_reinstall(model)}."
            )
        try:
            self.session, self.info = make_session(path, device, threads)
        except ModelError as exc:  # ONNX Runtime's words name no fix: say how to put the file back
            raise ModelError(f"{str(exc).rstrip('.')}; {_reinstall(model)}.") from exc
        try:
            check_session(self.session, self.manifest)
        except ModelError as exc:
            raise ModelError(f"{model.manifest_path}: {exc}") from exc
        inputs = {i.name: i for i in self.session.get_inputs()}
        self._input_type = inputs[self.manifest.input_name].type

    @property
    def model_id(self) -> str:
        return self.manifest.model_id

    @property
    def device(self) -> str:
        return self.info.device

    def describe(self) -> str:
        m = self.manifest
        return f"{m.name} ({m.precision}, {m.dim}-d) on {self.device}"

    def encode(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed tensors [N, ...] -> L2-normalised float32 [N, D]."""
        if batch.shape[0] == 0:
            return np.zeros((0, self.manifest.dim), np.float32)
        feed = batch.astype(np.float16 if "float16" in self._input_type else np.float32, copy=False)
        out = self.session.run([self.manifest.output_name], {self.manifest.input_name: feed})[0]
        out = np.asarray(out, dtype=np.float32).reshape(batch.shape[0], -1)
        if out.shape[1] != self.manifest.dim:
            raise ModelError(
                f"The model returned {out.shape[1]}-d vectors; its manifest says {self.manifest.dim}."
            )
        return normalise(out)


def check_session(session, manifest: ModelManifest) -> str:
    """Check an ONNX session against the manifest that describes it: the input and output names, the input's
    shape (a dynamic batch axis, the layout and size the manifest gives), the output's size, and one real run
    of two blank photos, which settles what symbolic dimensions hide. Returns a one-line description; raises
    ModelError with what differs and what to do."""
    inp, out = _named_ports(session, manifest)
    _check_input_shape(inp, manifest)
    out_dims = _dims(out.shape)
    if len(out_dims) >= 2 and all(d is not None for d in out_dims[1:]):
        per_item = int(np.prod(out_dims[1:]))
        if per_item != manifest.dim:
            raise ModelError(
                f"The model's output {out.name} has shape {out.shape} ({per_item} values per photo) but the "
                f"manifest says dim {manifest.dim}; the manifest does not belong to this model."
            )
    shape = _blank_shape(manifest, batch=2)
    dtype = np.float16 if "float16" in inp.type else np.float32
    try:
        result = session.run([out.name], {inp.name: np.zeros(shape, dtype)})[0]
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(
            f"The model fails on a [{', '.join(map(str, shape))}] input as the manifest describes: "
            f"{str(exc).splitlines()[0][:300]}"
        ) from exc
    result = np.asarray(result)
    if result.ndim == 0 or result.shape[0] != 2:
        raise ModelError(
            f"The model returned shape {list(result.shape)} for 2 photos; it must return one vector per photo."
        )
    got = result.reshape(2, -1).shape[1]
    if got != manifest.dim:
        raise ModelError(
            f"The model returned {got}-d vectors; its manifest says {manifest.dim}. The manifest does not "
            "belong to this model: fix its dim or use the model's own manifest."
        )
    return f"{inp.name} {inp.shape} -> {out.name} {out.shape}"


def _named_ports(session, manifest: ModelManifest):
    """The session's input and output the manifest names, or a ModelError listing the ones it has."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if manifest.input_name not in inputs:
        found = ", ".join(f"{i.name} {i.shape}" for i in inputs.values())
        raise ModelError(
            f"The model has no input named {manifest.input_name!r} (it has {found}); fix input_name in the manifest."
        )
    if manifest.output_name not in outputs:
        found = ", ".join(f"{o.name} {o.shape}" for o in outputs.values())
        raise ModelError(
            f"The model has no output named {manifest.output_name!r} (it has {found}); fix output_name in the manifest."
        )
    return inputs[manifest.input_name], outputs[manifest.output_name]


def _check_input_shape(inp, manifest: ModelManifest) -> None:
    """An image input of 4 dimensions, batch first and dynamic, the others as the manifest's layout and
    input_size say (where the model fixes them)."""
    h, w = manifest.input_size
    want = _blank_shape(manifest, batch=None)
    got = _dims(inp.shape)
    if len(got) != 4:
        raise ModelError(
            f"The model's input {inp.name} has shape {inp.shape}; an image model needs 4 dimensions."
        )
    if got[0] is not None:
        raise ModelError(
            f"The model's input {inp.name} has a fixed batch size of {got[0]} ({inp.shape}); Lookalike needs a "
            "dynamic batch axis. Re-export the model with a dynamic first dimension."
        )
    for axis in (1, 2, 3):
        if got[axis] is not None and got[axis] != want[axis]:
            expected = f"[batch, 3, {h}, {w}]" if manifest.layout == "NCHW" else f"[batch, {h}, {w}, 3]"
            raise ModelError(
                f"The model's input {inp.name} has shape {inp.shape} but the manifest says {expected} "
                f"({manifest.layout}, input_size {h}x{w}); the manifest does not belong to this model."
            )


def _blank_shape(manifest: ModelManifest, batch: int | None) -> list:
    h, w = manifest.input_size
    return [batch, 3, h, w] if manifest.layout == "NCHW" else [batch, h, w, 3]


def _dims(shape) -> list:
    """A shape's fixed sizes, None for a symbolic or unknown one."""
    return [d if isinstance(d, int) and d > 0 else None for d in (shape or [])]


def _reinstall(model: InstalledModel) -> str:
    from desktop_app.core import zoo  # the zoo imports this module (through model_files)

    return zoo.reinstall_hint(model)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
