"""Real exports, weights stripped: torchvision classification and segmentation models as
PyTorch writes them (TorchScript and dynamo exporters, tests/data/torchvision) and Keras
applications converted by tf2onnx (NHWC inputs, tests/data/tensorflow). Every node's output
shapes against onnxruntime, parameters against the weight tensors' dims."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx_utils import run_all_tensors, shapes_by_tensor

from analyzer.frontends import load
from analyzer.passes import analyze
from analyzer.report.build import build_report

EXPORTS = sorted((Path(__file__).parent / "data").glob("*/*.onnx.gz"))


def with_zero_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    filled = onnx.ModelProto()
    filled.CopyFrom(model)
    for tensor in filled.graph.initializer:
        if not tensor.raw_data and not tensor.float_data and not tensor.int64_data and not tensor.int32_data:
            zeros = np.zeros(tuple(tensor.dims), helper.tensor_dtype_to_np_dtype(tensor.data_type))
            tensor.CopyFrom(numpy_helper.from_array(zeros, tensor.name))
    return filled


def test_the_corpus_is_there():
    assert len(EXPORTS) >= 20


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name.removesuffix(".onnx.gz"))
def test_export_matches_onnxruntime(path, tmp_path):
    model = onnx.ModelProto()
    model.ParseFromString(gzip.decompress(path.read_bytes()))
    file = tmp_path / "model.onnx"
    file.write_bytes(model.SerializeToString())
    value_info = model.graph.input[0]
    dims = [d.dim_value or 1 for d in value_info.type.tensor_type.shape.dim]
    report = build_report(analyze(load(str(file), {value_info.name: tuple(dims)})))
    assert not [d for d in report.diagnostics if d.severity == "error" or d.code.startswith("U")]

    filled = with_zero_weights(model)
    ours = shapes_by_tensor(report)
    theirs = run_all_tensors(filled, {value_info.name: np.zeros(dims, np.float32)})
    assert len(theirs) >= len(report.nodes) // 2
    for name, shape in theirs.items():
        assert ours[name] == list(shape), name

    read = {name for node in model.graph.node for name in node.input}
    weights = sum(
        int(np.prod(t.dims)) for t in model.graph.initializer
        if t.name in read and helper.tensor_dtype_to_np_dtype(t.data_type).kind == "f" and np.prod(t.dims) > 1
    )
    assert report.totals.params + report.totals.buffers == weights


def test_keras_resnet50_v1_skips_input_in_its_strided_blocks(tmp_path):
    """Keras' ResNet50 is v1: the stride-2 blocks put the stride in a 1x1 convolution, and the
    1x1 stride-2 shortcut beside it reads the same rows, so three quarters of the block's input
    are never read (v1.5 moved the stride to the 3x3 convolution for that reason)."""
    path = next(p for p in EXPORTS if p.name.startswith("ResNet50.tf2onnx"))
    file = tmp_path / "resnet50.onnx"
    file.write_bytes(gzip.decompress(path.read_bytes()))
    report = build_report(analyze(load(str(file), {"input": (1, 224, 224, 3)})))
    skipped = [d for d in report.diagnostics if d.code == "F102"]
    assert [d.message.split(":")[0] for d in skipped] == [
        "never reads 28 rows out of 56 and 28 columns out of 56 of its input (1, 256, 56, 56)",
        "never reads 14 rows out of 28 and 14 columns out of 28 of its input (1, 512, 28, 28)",
        "never reads 7 rows out of 14 and 7 columns out of 14 of its input (1, 1024, 14, 14)",
    ]
