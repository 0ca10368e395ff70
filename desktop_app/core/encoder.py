"""The one encoder interface: preprocessed photos in, float32 [N, D] L2-normalised vectors out, in batches.

The session's device comes from `core.device`; `Encoder.info` says what the session really got.
"""

from __future__ import annotations

import numpy as np

from desktop_app.core.device import make_session
from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel, sha256_of


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
            raise ModelError(f"The model file {path} is missing. Reinstall or re-import the model.")
        if not path.is_file():  # a device (/dev/zero) or a pipe would be read for ever
            raise ModelError(
                f"The model file {path} is not a regular file. Reinstall or re-import the model."
            )
        if verify_hash and sha256_of(path) != self.manifest.sha256:
            raise ModelError(f"The model file {path} does not match its manifest's sha256; it is damaged.")
        self.session, self.info = make_session(path, device, threads)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if self.manifest.input_name not in inputs:
            raise ModelError(
                f"The model has no input named {self.manifest.input_name!r} (it has {', '.join(inputs)})."
            )
        outputs = {o.name for o in self.session.get_outputs()}
        if self.manifest.output_name not in outputs:
            raise ModelError(
                f"The model has no output named {self.manifest.output_name!r} (it has {', '.join(outputs)})."
            )
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


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
