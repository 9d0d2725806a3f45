"""The test models shipped inside the onnx wheel: shapes against the expected outputs and
onnxruntime, parameters against the weight tensors' element counts."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_utils import ONNX_DATA, read_tensor, report_of_model, run_all_tensors, shapes_by_tensor

from analyzer.ops import lookup

BACKEND_MODELS = sorted(
    p for folder in ("pytorch-converted", "pytorch-operator") for p in (ONNX_DATA / folder).glob("*/model.onnx")
)
LIGHT_MODELS = sorted((ONNX_DATA / "light").glob("light_*.onnx"))


def modelled(model: onnx.ModelProto) -> bool:
    return all(lookup(n.domain, n.op_type) is not None for n in model.graph.node)


def test_every_backend_model_is_modelled():
    assert len(BACKEND_MODELS) > 60
    assert [p.parent.name for p in BACKEND_MODELS if not modelled(onnx.load(p))] == []


@pytest.mark.parametrize("path", BACKEND_MODELS, ids=lambda p: p.parent.name)
def test_output_shapes_equal_the_expected_outputs(path):
    model = onnx.load(path)
    report = report_of_model(model)
    shapes = shapes_by_tensor(report)
    expected_files = sorted((path.parent / "test_data_set_0").glob("output_*.pb"))
    assert expected_files
    for output, expected in zip(model.graph.output, expected_files):
        assert shapes[output.name] == list(read_tensor(expected).shape), output.name
    assert not [d for d in report.diagnostics if d.severity == "error"]


@pytest.mark.parametrize("path", LIGHT_MODELS, ids=lambda p: p.stem)
def test_light_models_match_onnxruntime_node_by_node(path):
    model = onnx.load(path)
    report = report_of_model(model)
    ours = shapes_by_tensor(report)
    theirs = run_all_tensors(model)
    assert len(theirs) > 20
    for name, shape in theirs.items():
        assert ours[name] == list(shape), name
    assert not [d for d in report.diagnostics if d.severity == "error"]


def _weight_elements(model: onnx.ModelProto) -> int:
    """Elements of every float weight tensor the graph reads: initializers, Constant values and
    ConstantOfShape outputs (the light models' weights), computed with numpy from the file."""
    values = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    sizes = {name: (v.size, v.dtype.kind) for name, v in values.items()}
    for node in model.graph.node:
        if node.op_type == "Constant":
            array = onnx.numpy_helper.to_array(node.attribute[0].t)
            values[node.output[0]] = array
            sizes[node.output[0]] = (array.size, array.dtype.kind)
        elif node.op_type == "ConstantOfShape":
            fill = [a for a in node.attribute if a.name == "value"]
            kind = onnx.helper.tensor_dtype_to_np_dtype(fill[0].t.data_type).kind if fill else "f"
            sizes[node.output[0]] = (int(np.prod(values[node.input[0]])), kind)
    read = {name for node in model.graph.node for name in node.input}
    return sum(size for name, (size, kind) in sizes.items() if name in read and kind == "f" and size > 1)


@pytest.mark.parametrize("path", LIGHT_MODELS, ids=lambda p: p.stem)
def test_light_model_parameters_are_the_weight_tensors(path):
    model = onnx.load(path)
    report = report_of_model(model)
    assert report.totals.params + report.totals.buffers == _weight_elements(model)
    assert report.totals.params > 0
