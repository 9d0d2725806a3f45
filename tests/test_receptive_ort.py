"""Receptive fields in 2-D against onnxruntime: with positive weights and zero biases, an
input impulse reaches exactly the units whose receptive field contains it (any non-zero
response counts: cubic interpolation has negative taps). A batch of
impulses along the central row (or column) shows which input columns (rows) reach a
central unit of every feature map."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_values


def positive_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """Conv weights 0.05, biases 0; BatchNormalization as identity."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    bn_inputs = {}
    for node in out.graph.node:
        if node.op_type == "BatchNormalization":
            bn_inputs.update({node.input[1]: 1.0, node.input[2]: 0.0, node.input[3]: 0.0, node.input[4]: 1.0})
    convs = [n for n in out.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm")]
    fills = {n.input[1]: 0.05 for n in convs} | {n.input[2]: 0.0 for n in convs if len(n.input) > 2}
    fills |= bn_inputs
    for tensor in out.graph.initializer:
        if tensor.name not in fills:
            continue
        array = numpy_helper.to_array(tensor)
        fill = fills[tensor.name]
        tensor.CopyFrom(numpy_helper.from_array(np.full(array.shape, fill, array.dtype), tensor.name))
    return out


def measured_fields(model: onnx.ModelProto, size: int) -> dict[str, list[tuple[int, int]]]:
    """Per 4-D tensor and axis: (largest, smallest) extent of input pixels reaching the units
    around the centre (units differ after upsampling: eight neighbours cover every phase here)."""
    name = model.graph.input[0].name
    channels = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    extents: dict[str, list[tuple[int, int]]] = {}
    for axis in (2, 3):
        batch = np.zeros((size, channels, size, size), np.float32)
        for b in range(size):
            index = [b, slice(None), size // 2, size // 2]
            index[axis] = b
            batch[tuple(index)] = 1.0
        for tensor, value in run_all_values(model, {name: batch}).items():
            if value.ndim != 4 or value.shape[axis] < 8:
                continue
            seen = []
            centre = value.shape[axis] // 2
            for unit in range(centre - 4, centre + 4):
                position = [value.shape[2] // 2, value.shape[3] // 2]
                position[axis - 2] = unit
                reached = np.flatnonzero(np.abs(value[:, :, position[0], position[1]]).sum(axis=1) > 0)
                if len(reached) and reached[0] > 0 and reached[-1] < size - 1:
                    seen.append(int(reached[-1] - reached[0] + 1))
            if len(seen) == 8:
                extents.setdefault(tensor, []).append((max(seen), min(seen)))
    return {t: e for t, e in extents.items() if len(e) == 2}


def check_against_onnxruntime(model: onnx.ModelProto, size: int, minimum: int) -> None:
    measured = measured_fields(positive_weights(model), size)
    assert len(measured) >= minimum
    report = report_of_model(model, {model.graph.input[0].name: (size, model.graph.input[0].type.tensor_type.shape.dim[1].dim_value, size, size)})
    fields = {o.name: n.receptive_field for n in report.nodes for o in n.outputs}
    for tensor, ((h_max, h_min), (w_max, w_min)) in measured.items():
        field = fields[tensor]
        assert field is not None and not field.global_
        assert field.size == [h_max, w_max], tensor
        assert field.size_min == [h_min, w_min], tensor


def test_tiny_resnet_fields_match_impulse_responses():
    check_against_onnxruntime(onnx.load(SAMPLES / "tiny_resnet.onnx"), 64, minimum=11)


def _decoder(mode: str) -> onnx.ModelProto:
    w = lambda name, *s: numpy_helper.from_array(np.full(s, 0.05, np.float32), name)  # noqa: E731
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[3, 3],
                         dilations=[1, 1]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], pads=[2, 2, 2, 2], kernel_shape=[3, 3], dilations=[2, 2]),
        helper.make_node("Resize", ["c3", "", "scales"], ["up1"], mode=mode,
                         coordinate_transformation_mode="half_pixel" if mode != "nearest" else "asymmetric",
                         nearest_mode="floor"),
        helper.make_node("Concat", ["up1", "c1"], ["cat1"], axis=1),
        helper.make_node("ConvTranspose", ["cat1", "wt"], ["up2"], strides=[2, 2], kernel_shape=[3, 3],
                         pads=[1, 1, 0, 0]),
        helper.make_node("Conv", ["up2", "w4"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ]
    inits = [w("w1", 4, 1, 3, 3), w("w2", 4, 4, 3, 3), w("w3", 4, 4, 3, 3), w("wt", 8, 4, 3, 3), w("w4", 2, 4, 3, 3),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    graph = helper.make_graph(nodes, "decoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 96, 96])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_decoder_fields_match_impulse_responses(mode):
    check_against_onnxruntime(_decoder(mode), 96, minimum=6)

