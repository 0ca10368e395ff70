"""ONNX precision conversions shared by the export scripts: fp32 to fp16 (GPU) or to int8 weights (CPU).

Both keep float32 inputs and outputs, so the app feeds a converted model exactly like the fp32 one.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path


def to_fp16(data: bytes) -> bytes:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = onnx.load_from_string(data)
    # keep_io_types: the app feeds float32 tensors either way, and the first/last Cast runs once per batch
    converted = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    # WORKAROUND: convert_float_to_float16 appends the input Casts at the end of the node list, which
    # onnx.checker rejects ("Nodes in a graph must be topologically sorted"); re-sort the graph.
    wrapped = OnnxModel(converted)
    wrapped.topological_sort(is_deterministic=True)
    return wrapped.model.SerializeToString()


def to_int8(data: bytes, workdir: Path) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = workdir / "fp32.onnx", workdir / "int8.onnx"
    src.write_bytes(data)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a generic "consider pre-processing" hint on root
    try:
        quantize_dynamic(
            src,
            dst,
            # MatMul carries nearly all of a ViT's work; the patch-embedding Conv stays float32 because
            # ConvInteger is slower than the float Conv in onnxruntime's CPU provider.
            op_types_to_quantize=["MatMul", "Gemm"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
    finally:
        root.setLevel(level)
    return dst.read_bytes()


def convert(data: bytes, precision: str) -> bytes:
    """The fp32 export in the requested precision."""
    with tempfile.TemporaryDirectory(prefix="export_clip_") as tmp:
        if precision == "fp16":
            return to_fp16(data)
        if precision == "int8":
            return to_int8(data, Path(tmp))
    return data
