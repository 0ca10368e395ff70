"""The one encoder interface: photos in, float32 [N, D] L2-normalised vectors out, in batches.

Execution providers are chosen here and only here. CUDA is asked for only when onnxruntime offers it and a
session really gets it (`get_providers()`); otherwise the encoder falls back to the CPU with one log line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel, sha256_of

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "tensorrt")


def physical_cores() -> int:
    """Physical cores where Linux tells us, else the logical count: ORT's intra-op pool wants cores."""
    try:
        cores = set()
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            phys = core = None
            for line in fh:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip():
                    if core is not None:
                        cores.add((phys, core))
                    phys = core = None
        if cores:
            return max(1, min(len(cores), os.cpu_count() or 1))
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


def provider_preference(device: str, available: list[str]) -> list[str]:
    """Ordered providers to request for a device setting, filtered by what this onnxruntime build offers."""
    if device not in DEVICES:
        raise ModelError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    wanted: list[str]
    if device == "cpu":
        wanted = ["CPUExecutionProvider"]
    elif device == "tensorrt":
        wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    else:  # auto and cuda; TensorRT only when asked for by name
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in wanted if p in available or p == "CPUExecutionProvider"]


def device_of(providers: list[str]) -> str:
    if providers and providers[0] == "TensorrtExecutionProvider":
        return "TensorRT"
    if providers and providers[0] == "CUDAExecutionProvider":
        return "CUDA"
    return "CPU"


@dataclass
class SessionInfo:
    providers: list[str]
    device: str
    note: str = ""


def _cuda_usable() -> bool:
    """onnxruntime-gpu lists CUDA even without a GPU; only a driver that answers makes it usable."""
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        try:
            if lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0:
                return count.value > 0
        except AttributeError:
            return False
        return False
    return False


_preloaded = False


def preload_cuda_libraries(ort) -> bool:
    """Load the CUDA/cuDNN libraries of the nvidia-* wheels (the `[cuda]` extra) before a CUDA session.

    onnxruntime >= 1.21 has preload_dlls(); older builds, or builds without those wheels, rely on the
    system's libraries instead, so a missing function or a failure here is not an error.
    """
    global _preloaded
    if _preloaded:
        return True
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return False
    try:
        preload()
    except Exception as exc:  # noqa: BLE001 - any failure only means "use the system's libraries"
        log.debug("onnxruntime.preload_dlls() failed: %s", exc)
        return False
    _preloaded = True
    return True


_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def make_session(onnx_path, device: str = "auto", threads: int | None = None, ort=None, cuda_usable=None):
    """An ORT InferenceSession on the best usable device, and what it really got.

    `ort` and `cuda_usable` are injectable so tests can fake provider lists and failing sessions.
    """
    if ort is None:
        import onnxruntime as ort  # noqa: PLC0415 - heavy import kept off module import
    cuda_usable = _cuda_usable if cuda_usable is None else cuda_usable
    available = list(ort.get_available_providers())
    wanted = provider_preference(device, available)
    note = ""
    quiet_note = ""  # the expected CPU fallback of `auto` on a machine without a GPU: logged at info level
    if any(p in wanted for p in _GPU_PROVIDERS) and not cuda_usable():
        wanted = [p for p in wanted if p not in _GPU_PROVIDERS]
        if device in ("cuda", "tensorrt"):
            note = f"{device.upper()} was requested but no usable NVIDIA GPU was found; using the CPU."
        else:
            quiet_note = "onnxruntime offers CUDA but no usable NVIDIA GPU was found; using the CPU."
    elif device in ("cuda", "tensorrt") and wanted == ["CPUExecutionProvider"]:
        note = f"This onnxruntime build has no {device.upper()} support; using the CPU."
    if wanted[0] != "CPUExecutionProvider":
        preload_cuda_libraries(ort)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: no wall of provider warnings on CPU-only machines
    # ORT's intra-op threads spin-wait between ops by default, burning the cores that the photo-decoding
    # pool runs on while a batch is encoded; blocking waits cost little at batch sizes of 16 and more.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=wanted)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        if wanted == ["CPUExecutionProvider"]:
            raise ModelError(f"The model {onnx_path} cannot be loaded: {str(exc).splitlines()[0]}") from exc
        note = f"The GPU session failed ({str(exc).splitlines()[0][:200]}); using the CPU."
        try:
            session = ort.InferenceSession(
                str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc2:  # noqa: BLE001
            raise ModelError(f"The model {onnx_path} cannot be loaded: {str(exc2).splitlines()[0]}") from exc2
    got = list(session.get_providers())
    if wanted[0] != "CPUExecutionProvider" and got[0] != wanted[0] and not note:
        note = f"{wanted[0]} could not be initialised; using {device_of(got)}."
    if note:
        log.warning(note)
    elif quiet_note:
        log.info(quiet_note)
    return session, SessionInfo(got, device_of(got), note)


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
