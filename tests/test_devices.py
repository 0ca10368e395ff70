"""Execution-provider choice: faked onnxruntime builds (provider lists, failing and silently downgraded
sessions) drive the real make_session; then one real CPU session on this machine."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from desktop_app.core import device
from desktop_app.core.device import make_session, physical_cores, provider_preference
from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import ModelError

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
GPU_BUILD = [TRT, CUDA, CPU]  # what onnxruntime-gpu lists, GPU or not


class FakeOptions:
    def __init__(self) -> None:
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = None
        self.log_severity_level = 2
        self.config: dict[str, str] = {}

    def add_session_config_entry(self, key: str, value: str) -> None:
        self.config[key] = value


class FakeSession:
    def __init__(self, providers: list[str]) -> None:
        self._providers = providers

    def get_providers(self) -> list[str]:
        return list(self._providers)


class FakeOrt:
    """Just enough of the onnxruntime module for make_session."""

    class GraphOptimizationLevel:
        ORT_ENABLE_ALL = "all"

    SessionOptions = FakeOptions

    def __init__(
        self, available, fail_with=(), drop=(), preload_error: Exception | None = None, has_preload=True
    ):
        self.available = list(available)
        self.fail_with = set(fail_with)  # a session asked for any of these raises, like a broken CUDA install
        self.drop = set(drop)  # providers a session silently leaves out (onnxruntime's own fallback)
        self.requests: list[list[str]] = []
        self.options: list[FakeOptions] = []
        self.preload_calls = 0
        self.preload_error = preload_error
        if not has_preload:
            self.preload_dlls = None  # getattr(...) finds None: treated as absent

    def get_available_providers(self) -> list[str]:
        return list(self.available)

    def preload_dlls(self) -> None:
        self.preload_calls += 1
        if self.preload_error:
            raise self.preload_error

    def InferenceSession(self, path, sess_options=None, providers=None):  # noqa: N802 - onnxruntime's name
        self.requests.append(list(providers))
        self.options.append(sess_options)
        if self.fail_with & set(providers):
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected\nmore detail")
        return FakeSession([p for p in providers if p not in self.drop])


@pytest.fixture(autouse=True)
def fresh_preload(monkeypatch):
    monkeypatch.setattr(device, "_preloaded", False)


def session_for(fake: FakeOrt, device: str, usable: bool, threads: int | None = None):
    return make_session("model.onnx", device, threads, ort=fake, probe=lambda: usable)


def device_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "desktop_app.core.device"]


def test_provider_preference_table():
    assert provider_preference("cpu", GPU_BUILD) == [CPU]
    assert provider_preference("auto", GPU_BUILD) == [CUDA, CPU]  # TensorRT never by default
    assert provider_preference("cuda", GPU_BUILD) == [CUDA, CPU]
    assert provider_preference("tensorrt", GPU_BUILD) == [TRT, CUDA, CPU]
    assert provider_preference("auto", [CPU]) == [CPU]
    assert provider_preference("tensorrt", [CUDA, CPU]) == [CUDA, CPU]
    with pytest.raises(ModelError, match="Unknown device"):
        provider_preference("gpu", GPU_BUILD)


def test_auto_without_usable_gpu_asks_only_for_cpu_with_one_log_line(caplog):
    caplog.set_level(logging.INFO, logger="desktop_app.core.device")
    fake = FakeOrt(GPU_BUILD)
    session, info = session_for(fake, "auto", usable=False)
    assert fake.requests == [[CPU]]  # CUDA is not even requested when no GPU answers
    assert info.device == "CPU" and info.providers == [CPU] and info.note == ""
    records = device_records(caplog)
    assert len(records) == 1 and records[0].levelno == logging.INFO and "using the CPU" in records[0].message
    assert fake.preload_calls == 0


def test_auto_with_usable_gpu_uses_cuda_and_preloads_libraries(caplog):
    caplog.set_level(logging.INFO, logger="desktop_app.core.device")
    fake = FakeOrt(GPU_BUILD)
    _, info = session_for(fake, "auto", usable=True)
    assert fake.requests == [[CUDA, CPU]]
    assert info.device == "CUDA" and info.note == ""
    assert fake.preload_calls == 1 and device_records(caplog) == []
    session_for(fake, "auto", usable=True)
    assert fake.preload_calls == 1  # once per process


def test_session_that_silently_drops_cuda_is_reported_as_cpu(caplog):
    fake = FakeOrt(GPU_BUILD, drop={CUDA})
    _, info = session_for(fake, "auto", usable=True)
    assert info.device == "CPU" and "could not be initialised" in info.note
    warnings = [r for r in device_records(caplog) if r.levelno == logging.WARNING]
    assert len(warnings) == 1


def test_failing_gpu_session_falls_back_to_cpu(caplog):
    fake = FakeOrt(GPU_BUILD, fail_with={CUDA})
    _, info = session_for(fake, "cuda", usable=True)
    assert fake.requests == [[CUDA, CPU], [CPU]]
    assert info.device == "CPU" and info.note.startswith("The GPU session failed (CUDA failure 100")
    assert "\n" not in info.note  # first line of the error only
    assert len([r for r in device_records(caplog) if r.levelno == logging.WARNING]) == 1


def test_explicit_cuda_without_gpu_or_support_says_why():
    _, info = session_for(FakeOrt(GPU_BUILD), "cuda", usable=False)
    assert info.device == "CPU" and "no usable NVIDIA GPU" in info.note
    fake = FakeOrt([CPU])
    _, info = session_for(fake, "cuda", usable=True)
    assert fake.requests == [[CPU]] and "has no CUDA support" in info.note


def test_tensorrt_only_when_asked_and_only_with_a_gpu():
    fake = FakeOrt(GPU_BUILD)
    _, info = session_for(fake, "tensorrt", usable=True)
    assert fake.requests == [[TRT, CUDA, CPU]] and info.device == "TensorRT"
    fake = FakeOrt([TRT, CPU])  # a build listing TensorRT but not CUDA, on a machine without a GPU
    _, info = session_for(fake, "tensorrt", usable=False)
    assert fake.requests == [[CPU]] and info.device == "CPU" and "no usable NVIDIA GPU" in info.note


def test_cpu_threads_are_physical_cores_and_one_inter_op_thread():
    fake = FakeOrt([CPU])
    session_for(fake, "cpu", usable=False)
    opts = fake.options[0]
    assert opts.intra_op_num_threads == physical_cores() and opts.inter_op_num_threads == 1
    assert opts.graph_optimization_level == "all"
    assert opts.config["session.intra_op.allow_spinning"] == "0"  # the decode pool needs those cores
    session_for(fake, "cpu", usable=False, threads=3)
    assert fake.options[1].intra_op_num_threads == 3
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


def test_preload_is_guarded():
    fake = FakeOrt(GPU_BUILD, preload_error=OSError("libcudnn.so.9: cannot open shared object file"))
    _, info = session_for(fake, "cuda", usable=True)
    assert fake.preload_calls == 1 and info.device == "CUDA"
    fake = FakeOrt(GPU_BUILD, has_preload=False)  # onnxruntime older than 1.21
    _, info = session_for(fake, "cuda", usable=True)
    assert info.device == "CUDA"


def test_unloadable_model_is_a_model_error():
    with pytest.raises(ModelError, match="cannot be loaded"):
        session_for(FakeOrt([CPU], fail_with={CPU}), "cpu", usable=False)
    with pytest.raises(ModelError, match="cannot be loaded"):
        session_for(FakeOrt(GPU_BUILD, fail_with={CUDA, CPU}), "auto", usable=True)


def test_real_session_on_this_machine(tiny_model, caplog):
    caplog.set_level(logging.INFO, logger="desktop_app.core.device")
    usable = device.cuda_usable()
    _, info = make_session(tiny_model.onnx_path, "auto")
    assert info.device == ("CUDA" if usable else "CPU")
    assert len(device_records(caplog)) <= 1
    enc = Encoder(tiny_model, device="cpu")
    assert enc.device == "CPU" and enc.describe().endswith("on CPU") and "fp32" in enc.describe()
    vectors = enc.encode(np.zeros((3, 3, 32, 32), np.float32))
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32


def test_default_model_does_not_probe_the_gpu_for_cpu(monkeypatch):
    monkeypatch.setattr(device, "cuda_usable", lambda: pytest.fail("probed the GPU for device=cpu"))
    assert device.gpu_in_use("cpu") is False


def test_gpu_in_use_is_what_make_session_asks_for_first():
    # The model default (fp16 CLIP on a GPU, int8 on a CPU) follows the session's own plan: TensorRT counts
    # as a GPU when asked for by name, and a build or a machine without a usable GPU never does.
    builds = {"gpu": GPU_BUILD, "cuda only": [CUDA, CPU], "tensorrt only": [TRT, CPU], "cpu": [CPU]}
    for name, providers in builds.items():
        for setting in ("auto", "cpu", "cuda", "tensorrt"):
            for usable in (True, False):
                fake = FakeOrt(providers)
                session_for(fake, setting, usable=usable)
                asked_gpu = fake.requests[0][0] != CPU
                got = device.gpu_in_use(setting, ort=FakeOrt(providers), probe=lambda u=usable: u)
                assert got == asked_gpu, (name, setting, usable)
    assert device.gpu_in_use("tensorrt", ort=FakeOrt([TRT, CPU]), probe=lambda: True) is True
    assert device.gpu_in_use(None, ort=FakeOrt(GPU_BUILD), probe=lambda: True) is True  # None is auto
