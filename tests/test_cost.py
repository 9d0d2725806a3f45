"""Activation memory (REFERENCE §7) against onnxruntime: the bytes of every tensor that a node
computes from the model's inputs, as onnxruntime produces them."""

from __future__ import annotations

import onnx
from onnx_utils import ONNX_DATA, report_of_model, run_all_values


def computed_from_inputs(model: onnx.ModelProto) -> set[str]:
    """Tensors that depend on a graph input that is not an initializer."""
    initializers = {i.name for i in model.graph.initializer}
    found = {i.name for i in model.graph.input if i.name not in initializers}
    for node in model.graph.node:  # stored in topological order
        if any(t in found for t in node.input):
            found.update(t for t in node.output if t)
    return found


def test_light_resnet50_counts_activations_not_the_weights_it_makes():
    """light_resnet50 makes its 25M weights with ConstantOfShape (102 MB of float32): they are
    no activation."""
    model = onnx.load(ONNX_DATA / "light" / "light_resnet50.onnx")
    values = run_all_values(model)
    activations = computed_from_inputs(model)
    expected = sum(v.nbytes for name, v in values.items() if name in activations)
    made = sum(v.nbytes for name, v in values.items() if name not in activations)
    assert made > 100_000_000  # the weights ConstantOfShape makes
    report = report_of_model(model)
    assert report.totals.memory.bytes == expected
    assert report.totals.memory.elements == expected // 4
    for node in report.nodes:
        if node.op == "ConstantOfShape":
            assert (node.memory.elements, node.memory.bytes, node.macs) == (0, 0, 0)
