"""Malformed nodes and hostile numbers from the red team's fuzzing: each is a finding on the
node that names what is wrong (or an unknown figure), never an internal error (U199), a
hang, a Python warning or a wrong number.

The truths: the ONNX checker's verdict on the node (a node it refuses is malformed), the ONNX
operator spec's formulas, and onnxruntime where it can run the model.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_values


def model(nodes, inputs, inits=(), opset=17, extra=()) -> onnx.ModelProto:
    outputs = [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra])
    made.ir_version = 9
    return made


def vi(name: str, dims, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, dims)


def analysed(made: onnx.ModelProto, input_shapes=None):
    """The report, failing on any Python warning raised while it is built."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = report_of_model(made, input_shapes)
    assert not [d for d in report.diagnostics if d.code == "U199"], report.diagnostics
    return report


def codes(report, node: str) -> list[str]:
    return [d.code for d in report.diagnostics if d.node == node]


def message(report, node: str, code: str) -> str:
    found = [d.message for d in report.diagnostics if d.node == node and d.code == code]
    assert found, report.diagnostics
    return found[0]


def refused_by_checker(made: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(made, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return True
    return False


@pytest.mark.parametrize("op", ["Tanh", "Relu", "Abs", "Sigmoid", "Softmax", "Not", "Round"])
def test_an_extra_input_to_a_one_input_op_is_s108(op):
    """The fuzzer's Tanh(s, x), s a scalar: the checker refuses two inputs to a one-input op."""
    elem = TensorProto.BOOL if op == "Not" else TensorProto.FLOAT
    made = model([helper.make_node(op, ["s", "x"], ["y"], name="n")], [vi("s", [], elem), vi("x", [1, 2, 4, 4], elem)])
    assert refused_by_checker(made)
    report = analysed(made)
    assert codes(report, "n") == ["S108"]
    assert message(report, "n", "S108") == f"{op} takes at most 1 input, but the node gives it input 1"


def test_an_empty_extra_input_is_an_omitted_optional_one():
    """A trailing "" names no input (the ONNX convention for an omitted optional one)."""
    made = model([helper.make_node("Relu", ["x", ""], ["y"], name="n")], [vi("x", [1, 2, 4, 4])])
    report = analysed(made)
    assert codes(report, "n") == []
    assert report.nodes[0].outputs[0].shape == [1, 2, 4, 4]


def test_scatter_updates_of_higher_rank_than_the_data_leave_the_field_unknown():
    """ScatterND's updates may have more axes than its data (rank q-1+r-k): they are not
    broadcast to the output, so which positions their units reach is not modelled (R103),
    while onnxruntime runs the model and gives the data's shape."""
    made = model([helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="n")],
                 [vi("x", [2, 3, 4]), vi("u", [1, 1, 1, 3, 4])],
                 [numpy_helper.from_array(np.zeros((1, 1, 1, 1), np.int64), "i")])
    feeds = {"x": np.zeros((2, 3, 4), np.float32), "u": np.ones((1, 1, 1, 3, 4), np.float32)}
    assert run_all_values(made, feeds)["y"].shape == (2, 3, 4)
    report = analysed(made)
    assert report.nodes[0].outputs[0].shape == [2, 3, 4]
    assert "input 2 has more axes than the output" in message(report, "n", "R103")
