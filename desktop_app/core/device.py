"""The one device decision: which onnxruntime execution providers a session asks for, and what it got.

CUDA is asked for only when onnxruntime offers it and a driver answers; a session's real providers
(`get_providers()`) are what the status bar and the CLI report, never a prediction. Everything about devices
lives here: the encoder, the model default (CLIP fp16 on a GPU, int8 on a CPU) and the app all ask this module.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from desktop_app.core.errors import ModelError
from desktop_app.core.settings import DEVICES

log = logging.getLogger(__name__)


def onnxruntime():
    """The onnxruntime module, imported so that it writes nothing outside Lookalike's folders.

    Recent onnxruntime builds keep a telemetry device id under ~/.cache/Microsoft/DeveloperTools on import;
    ORT_DISABLE_TELEMETRY (read when the library loads) switches that off. Every import goes through here.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    return ort


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


def cuda_usable() -> bool:
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


@dataclass
class ProviderPlan:
    """The providers a session for a device setting asks for, and why that is not what was asked for."""

    providers: list[str]
    note: str = ""  # the user asked for a GPU and does not get one: a warning
    quiet_note: str = ""  # `auto` falls back to the CPU where no GPU answers: expected, logged at info level

    @property
    def gpu(self) -> bool:
        return self.providers[0] != "CPUExecutionProvider"


def plan_providers(device: str, available: list[str], probe) -> ProviderPlan:
    """What a session for `device` asks for, given this onnxruntime build's providers and the GPU check
    `probe` (called only when a GPU provider would be asked for)."""
    wanted = provider_preference(device, available)
    if any(p in wanted for p in _GPU_PROVIDERS) and not probe():
        cpu_only = [p for p in wanted if p not in _GPU_PROVIDERS]
        if device in ("cuda", "tensorrt"):
            return ProviderPlan(
                cpu_only, f"{device.upper()} was requested but no usable NVIDIA GPU was found; using the CPU."
            )
        return ProviderPlan(
            cpu_only, quiet_note="onnxruntime offers CUDA but no usable NVIDIA GPU was found; using the CPU."
        )
    if device in ("cuda", "tensorrt") and wanted == ["CPUExecutionProvider"]:
        return ProviderPlan(wanted, f"This onnxruntime build has no {device.upper()} support; using the CPU.")
    return ProviderPlan(wanted)


def make_session(onnx_path, device: str = "auto", threads: int | None = None, ort=None, probe=None):
    """An ORT InferenceSession on the best usable device, and what it really got.

    `ort` and `probe` (the GPU check) are injectable so tests can fake provider lists and failing sessions.
    """
    if ort is None:
        ort = onnxruntime()  # heavy import kept off module import
    probe = cuda_usable if probe is None else probe
    plan = plan_providers(device, list(ort.get_available_providers()), probe)
    wanted, note, quiet_note = plan.providers, plan.note, plan.quiet_note
    if plan.gpu:
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


def gpu_in_use(device: str | None, ort=None, probe=None) -> bool:
    """Whether a session for this device setting (None: auto) would ask for a GPU provider first: the plan
    make_session follows, so CUDA and TensorRT count alike. `ort` and `probe` as for make_session."""
    device = device or "auto"
    if provider_preference(device, list(_GPU_PROVIDERS)) == ["CPUExecutionProvider"]:
        return False  # a setting that asks for no GPU even where every one is offered: no import, no probe
    if ort is None:
        try:
            ort = onnxruntime()
        except ImportError:
            return False
    return plan_providers(
        device, list(ort.get_available_providers()), cuda_usable if probe is None else probe
    ).gpu
