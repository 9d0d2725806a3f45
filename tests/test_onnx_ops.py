"""Differential tests: single ops and small graphs built with onnx.helper, every output shape
compared with what onnxruntime produces when it runs them. 1-D, 2-D and 3-D, every attribute
form, several opsets."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_tensors, shapes_by_tensor

F = TensorProto.FLOAT


def make_model(nodes, inputs: dict[str, list[int]], inits: dict[str, np.ndarray] | None = None,
               opset: int = 17) -> onnx.ModelProto:
    inits = inits or {}
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
        [],
        [numpy_helper.from_array(v, n) for n, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    last = [o for o in nodes[-1].output if o]
    model.graph.output.extend(helper.make_tensor_value_info(o, types.get(o, F), None) for o in last)
    return model


def check(model: onnx.ModelProto) -> dict[str, list]:
    """convlint's shape of every tensor equals onnxruntime's; returns convlint's shapes."""
    report = report_of_model(model)
    ours = shapes_by_tensor(report)
    theirs = run_all_tensors(model)
    assert theirs
    for name, shape in theirs.items():
        assert ours.get(name) == list(shape), f"{name}: convlint {ours.get(name)} vs onnxruntime {list(shape)}"
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert not errors, errors
    return ours


def weights(*shape: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def floats(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


# -- Conv --------------------------------------------------------------------------------------
CONV_CASES = [
    # spatial input, kernel, attributes
    ([32], [5], {}),
    ([33], [4], {"strides": [3], "pads": [1, 2], "dilations": [2]}),
    ([17, 23], [3, 3], {"strides": [2, 2]}),
    ([17, 23], [3, 5], {"strides": [2, 3], "pads": [0, 1, 2, 3], "dilations": [1, 2]}),
    ([16, 16], [3, 3], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ([15, 16], [4, 4], {"auto_pad": "SAME_LOWER", "strides": [2, 3]}),
    ([15, 16], [2, 3], {"auto_pad": "SAME_UPPER", "strides": [3, 1]}),
    ([15, 14], [3, 3], {"auto_pad": "VALID", "strides": [2, 2]}),
    ([8, 9, 10], [3, 3, 3], {"strides": [1, 2, 3], "pads": [1, 0, 1, 1, 2, 0]}),
    ([7, 8, 9], [2, 3, 2], {"auto_pad": "SAME_UPPER", "strides": [2, 2, 2]}),
]


@pytest.mark.parametrize(("spatial", "kernel", "attrs"), CONV_CASES)
@pytest.mark.parametrize("explicit_kernel", [True, False])
def test_conv(spatial, kernel, attrs, explicit_kernel):
    group = 2
    attrs = {**attrs, "group": group, **({"kernel_shape": kernel} if explicit_kernel else {})}
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    model = make_model([node], {"x": [2, 4, *spatial]}, {"w": weights(6, 4 // group, *kernel), "b": weights(6)})
    check(model)
    report = report_of_model(model)
    assert report.totals.params == 6 * 2 * int(np.prod(kernel)) + 6


CONV_TRANSPOSE_CASES = [
    ([7], [3], {"strides": [2]}),
    ([7], [3], {"strides": [2], "pads": [1, 0], "output_padding": [1]}),
    ([5, 6], [3, 3], {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 0]}),
    ([5, 6], [3, 2], {"strides": [3, 2], "dilations": [2, 1]}),
    ([5, 6], [3, 3], {"strides": [2, 2], "output_shape": [10, 12]}),
    ([5, 6], [3, 3], {"strides": [2, 2], "output_shape": [11, 13]}),
    ([5, 6], [4, 4], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ([5, 6], [3, 3], {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ([4, 5, 3], [2, 2, 3], {"strides": [2, 1, 2], "pads": [0, 1, 0, 0, 0, 1]}),
]


@pytest.mark.parametrize(("spatial", "kernel", "attrs"), CONV_TRANSPOSE_CASES)
def test_conv_transpose(spatial, kernel, attrs):
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], group=2, **attrs)
    model = make_model([node], {"x": [1, 4, *spatial]}, {"w": weights(4, 3, *kernel), "b": weights(6)})
    assert check(model)["y"][1] == 6


# -- pools -------------------------------------------------------------------------------------
POOL_CASES = [
    ("MaxPool", [17], {"kernel_shape": [3], "strides": [2]}, 12),
    ("MaxPool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, 12),
    ("MaxPool", [17, 18], {"kernel_shape": [3, 2], "strides": [2, 3], "pads": [1, 0, 1, 1], "ceil_mode": 1}, 12),
    ("MaxPool", [20, 21], {"kernel_shape": [3, 3], "dilations": [2, 2], "strides": [2, 2], "ceil_mode": 1}, 12),
    ("MaxPool", [16, 15], {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER", "strides": [2, 2]}, 12),
    ("MaxPool", [16, 15], {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]}, 12),
    ("MaxPool", [16, 15], {"kernel_shape": [3, 3], "auto_pad": "VALID", "strides": [2, 2]}, 12),
    ("MaxPool", [9, 10, 11], {"kernel_shape": [2, 2, 2], "strides": [2, 2, 2], "ceil_mode": 1}, 12),
    ("MaxPool", [16, 15], {"kernel_shape": [3, 3], "strides": [2, 2]}, 8),
    ("AveragePool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1, "pads": [1, 1, 1, 1]}, 11),
    ("AveragePool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2], "count_include_pad": 1, "pads": [1, 1, 1, 1]}, 11),
    ("AveragePool", [17], {"kernel_shape": [4], "auto_pad": "SAME_UPPER", "strides": [3]}, 11),
    ("AveragePool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2]}, 7),
    ("AveragePool", [20, 21], {"kernel_shape": [3, 3], "dilations": [2, 1], "strides": [2, 2]}, 19),
    ("LpPool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2], "p": 2}, 11),
    ("LpPool", [17, 18], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, 18),
]


@pytest.mark.parametrize(("op", "spatial", "attrs", "opset"), POOL_CASES)
def test_pools(op, spatial, attrs, opset):
    outputs = ["y", "i"] if op == "MaxPool" and opset >= 8 else ["y"]
    node = helper.make_node(op, ["x"], outputs, **attrs)
    shapes = check(make_model([node], {"x": [2, 3, *spatial]}, opset=opset))
    assert shapes["y"][:2] == [2, 3]


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("spatial", [[9], [9, 7], [5, 6, 7]])
def test_global_pools(op, spatial):
    check(make_model([helper.make_node(op, ["x"], ["y"])], {"x": [2, 3, *spatial]}))


# -- normalisation and activations -------------------------------------------------------------
def test_normalisations():
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn"]),
        helper.make_node("InstanceNormalization", ["bn", "s", "b"], ["in"]),
        helper.make_node("LRN", ["in"], ["lrn"], size=3),
        helper.make_node("LayerNormalization", ["lrn", "ls", "lb"], ["ln", "mean", "inv"], axis=-2),
    ]
    inits = {"s": weights(4), "b": weights(4), "m": weights(4), "v": np.abs(weights(4)),
             "ls": weights(5, 6), "lb": weights(5, 6)}
    model = make_model(nodes, {"x": [2, 4, 5, 6]}, inits)
    check(model)
    report = report_of_model(model)
    # BN: scale and bias are params, mean and var buffers; InstanceNorm shares s and b (tied).
    assert (report.totals.params, report.totals.buffers) == (4 + 4 + 30 + 30, 8)


def test_group_normalization_opset_21():
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)
    model = make_model([node], {"x": [2, 4, 5, 6]}, {"s": weights(4), "b": weights(4)}, opset=21)
    check(model)
    assert report_of_model(model).totals.params == 8


@pytest.mark.parametrize(
    ("op", "attrs", "opset"),
    [("Relu", {}, 14), ("LeakyRelu", {"alpha": 0.2}, 16), ("Elu", {}, 6), ("Selu", {}, 6),
     ("Sigmoid", {}, 13), ("HardSigmoid", {}, 6), ("HardSwish", {}, 14), ("Tanh", {}, 13),
     ("Erf", {}, 13), ("Sqrt", {}, 13), ("Softplus", {}, 1), ("Softmax", {"axis": 1}, 11),
     ("Softmax", {}, 13), ("LogSoftmax", {"axis": -1}, 13), ("Clip", {"min": 0.0, "max": 6.0}, 6),
     ("Gelu", {}, 20), ("Identity", {}, 16), ("Neg", {}, 13), ("Abs", {}, 13), ("Exp", {}, 13)],
)
def test_unary_ops(op, attrs, opset):
    check(make_model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": [2, 3, 4, 5]}, opset=opset))


def test_clip_with_bound_inputs_and_dropout_mask():
    nodes = [
        helper.make_node("Clip", ["x", "lo", "hi"], ["c"]),
        helper.make_node("Dropout", ["c", "ratio"], ["d", "mask"]),
    ]
    model = make_model(nodes, {"x": [2, 3, 4]}, {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32), "ratio": np.array(0.5, np.float32)}, opset=13)
    check(model)
    assert report_of_model(model).totals.params == 0  # bounds and ratio are hyper-parameters


def test_prelu_slope_broadcast():
    model = make_model([helper.make_node("PRelu", ["x", "slope"], ["y"])], {"x": [2, 3, 4, 5]},
                       {"slope": weights(3, 1, 1)})
    check(model)
    assert report_of_model(model).totals.params == 3


@pytest.mark.parametrize(
    ("op", "shapes"),
    [("Add", [[2, 3, 4, 5], [5]]), ("Sub", [[2, 1, 4, 1], [3, 1, 5]]), ("Mul", [[2, 3, 4, 5], [2, 3, 1, 1]]),
     ("Div", [[1], [2, 3]]), ("Pow", [[2, 3], [3]]), ("Sum", [[2, 3, 4], [4], [3, 1]]),
     ("Max", [[2, 3, 4], [1, 4]]), ("Min", [[3, 4], [2, 3, 4]]), ("Mean", [[2, 1], [1, 3], [2, 3]])],
)
def test_broadcasting_ops(op, shapes):
    names = [f"i{k}" for k in range(len(shapes))]
    check(make_model([helper.make_node(op, names, ["y"])], dict(zip(names, shapes))))


# -- reshaping and indexing --------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten(axis):
    check(make_model([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], {"x": [2, 3, 4, 5]}))


@pytest.mark.parametrize("target", [[0, -1], [-1, 4, 5], [2, 0, 20], [6, -1, 1], [0, 0, 0, 5, 1]])
def test_reshape(target):
    check(make_model([helper.make_node("Reshape", ["x", "t"], ["y"])], {"x": [2, 3, 4, 5]}, {"t": ints(*target)}))


def test_reshape_target_computed_from_shape_ops():
    # Old exports: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, with a batch of 3.
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["c", "target"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fc_b"], ["logits"], transB=1),
    ]
    inits = {"w": weights(8, 3, 3, 3), "zero": np.array(0, dtype=np.int64), "minus_one": ints(-1),
             "fc": weights(10, 8 * 6 * 6), "fc_b": weights(10)}
    model = make_model(nodes, {"x": [3, 3, 8, 8]}, inits, opset=11)
    shapes = check(model)
    assert shapes["flat"] == [3, 288]
    report = report_of_model(model)
    assert report.totals.params == 8 * 27 + 10 * 288 + 10


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_unsqueeze(opset):
    if opset >= 13:
        nodes = [helper.make_node("Squeeze", ["x", "a"], ["s"]), helper.make_node("Unsqueeze", ["s", "b"], ["u"])]
        inits = {"a": ints(1, -1), "b": ints(0, -1)}
    else:
        nodes = [helper.make_node("Squeeze", ["x"], ["s"], axes=[1, -1]),
                 helper.make_node("Unsqueeze", ["s"], ["u"], axes=[0, -1])]
        inits = {}
    nodes.append(helper.make_node("Squeeze", ["u"], ["all"]))
    check(make_model(nodes, {"x": [2, 1, 3, 1]}, inits, opset=opset))


@pytest.mark.parametrize("perm", [None, [0, 2, 3, 1], [3, 1, 0, 2]])
def test_transpose(perm):
    attrs = {"perm": perm} if perm else {}
    check(make_model([helper.make_node("Transpose", ["x"], ["y"], **attrs)], {"x": [2, 3, 4, 5]}))


@pytest.mark.parametrize(
    ("starts", "ends", "axes", "steps"),
    [([1], [4], [2], None), ([0, 1], [-1, 1000], [1, 3], [1, 2]), ([-1], [-1000], [2], [-1]),
     ([10], [20], [3], None), ([0], [3], [-1], [2]), ([3, 0], [0, 2], [2, 0], [-2, 1])],
)
def test_slice(starts, ends, axes, steps):
    inputs = ["x", "st", "en", "ax"] + (["sp"] if steps else [])
    inits = {"st": ints(*starts), "en": ints(*ends), "ax": ints(*axes)} | ({"sp": ints(*steps)} if steps else {})
    check(make_model([helper.make_node("Slice", inputs, ["y"])], {"x": [2, 3, 6, 7]}, inits))


def test_slice_with_attributes_opset_9():
    node = helper.make_node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, -1], axes=[2, 3])
    check(make_model([node], {"x": [2, 3, 6, 7]}, opset=9))


@pytest.mark.parametrize(
    ("opset", "split", "outputs"),
    [(11, [2, 4], 2), (13, [1, 2, 3], 3), (13, None, 3), (18, None, 4)],
)
def test_split(opset, split, outputs):
    names = [f"y{i}" for i in range(outputs)]
    inits = {}
    if split and opset >= 13:
        node, inits = helper.make_node("Split", ["x", "s"], names, axis=2), {"s": ints(*split)}
    elif split:
        node = helper.make_node("Split", ["x"], names, axis=2, split=split)
    elif opset >= 18:
        node = helper.make_node("Split", ["x"], names, axis=-1, num_outputs=outputs)
    else:
        node = helper.make_node("Split", ["x"], names, axis=2)
    check(make_model([node], {"x": [2, 3, 6, 7]}, inits, opset=opset))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_gather(axis):
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["c"], axis=axis),
        helper.make_node("Gather", ["c", "idx"], ["g"], axis=axis),
    ]
    shapes = {"a": [2, 3, 4], "b": [2, 3, 4]}
    check(make_model(nodes, shapes, {"idx": ints(0, -1, 1)}))


def test_gemm_and_matmul():
    nodes = [
        helper.make_node("Gemm", ["a", "w", "bias"], ["g"], transA=1, transB=1),
        helper.make_node("MatMul", ["g", "m"], ["mm"]),
        helper.make_node("MatMul", ["batched", "m3"], ["bm"]),
        helper.make_node("MatMul", ["vec", "m3"], ["vm"]),
    ]
    inputs = {"a": [6, 4], "batched": [2, 1, 5, 7], "vec": [7]}
    inits = {"w": weights(3, 6), "bias": weights(3), "m": weights(3, 5), "m3": weights(3, 7, 2)}
    model = make_model(nodes, inputs, inits)
    check(model)
    assert report_of_model(model).totals.params == 18 + 3 + 15 + 42


@pytest.mark.parametrize("opset", [2, 11, 18])
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad(opset, mode):
    pads = [0, 0, 1, 2, 0, 0, 3, 1]
    if opset == 2:
        node, inits = helper.make_node("Pad", ["x"], ["y"], pads=pads, mode=mode), {}
    elif opset == 11:
        node, inits = helper.make_node("Pad", ["x", "p"], ["y"], mode=mode), {"p": ints(*pads)}
    else:
        node = helper.make_node("Pad", ["x", "p", "", "ax"], ["y"], mode=mode)
        inits = {"p": ints(1, 2, 3, 1), "ax": ints(2, -1)}
    check(make_model([node], {"x": [2, 3, 6, 7]}, inits, opset=opset))


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_mean(opset, keepdims):
    if opset >= 18:
        node, inits = helper.make_node("ReduceMean", ["x", "a"], ["y"], keepdims=keepdims), {"a": ints(2, -1)}
    else:
        node, inits = helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, -1], keepdims=keepdims), {}
    nodes = [node, helper.make_node("ReduceSum", ["y"], ["all"], keepdims=keepdims)]
    check(make_model(nodes, {"x": [2, 3, 6, 7]}, inits, opset=opset))


def test_shape_constant_cast_expand_tile():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], start=1, end=-1),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(ints(2, 1, 1, 1))),
        helper.make_node("ConstantOfShape", ["k"], ["zeros"]),
        helper.make_node("Cast", ["zeros"], ["z64"], to=TensorProto.INT64),
        helper.make_node("Expand", ["x", "ones"], ["e"]),
        helper.make_node("Tile", ["x", "reps"], ["t"]),
        helper.make_node("Size", ["x"], ["n"]),
    ]
    inits = {"ones": ints(2, 1, 1, 1), "reps": ints(1, 2, 1, 3)}
    check(make_model(nodes, {"x": [1, 3, 4, 5]}, inits, opset=15))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_and_back(mode):
    nodes = [
        helper.make_node("DepthToSpace", ["x"], ["d"], blocksize=2, mode=mode),
        helper.make_node("SpaceToDepth", ["d"], ["s"], blocksize=2),
    ]
    check(make_model(nodes, {"x": [2, 8, 3, 5]}))


# -- resampling --------------------------------------------------------------------------------
RESIZE_CASES = [
    (11, {"mode": "nearest"}, floats(1, 1, 2, 2), None),
    (11, {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, floats(1, 1, 1.5, 0.5), None),
    (13, {"mode": "cubic"}, floats(1, 1, 2.5, 1.75), None),
    (13, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, None, ints(2, 3, 13, 7)),
    (18, {"mode": "linear", "keep_aspect_ratio_policy": "not_larger", "axes": [2, 3]}, None, ints(20, 20)),
    (18, {"mode": "linear", "keep_aspect_ratio_policy": "not_smaller", "axes": [2, 3]}, None, ints(20, 20)),
    (19, {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}, floats(1, 1, 1.7, 2.3), None),
]


@pytest.mark.parametrize(("opset", "attrs", "scales", "sizes"), RESIZE_CASES)
def test_resize(opset, attrs, scales, sizes):
    inits: dict[str, np.ndarray] = {"roi": floats()}
    inputs = ["x", "roi"]
    if scales is not None:
        inputs.append("scales")
        inits["scales"] = scales
    else:
        inputs += ["", "sizes"]
        inits["sizes"] = sizes
    check(make_model([helper.make_node("Resize", inputs, ["y"], **attrs)], {"x": [2, 3, 9, 11]}, inits, opset=opset))


def test_resize_with_axes():
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], axes=[2, 3], mode="nearest")
    check(make_model([node], {"x": [2, 3, 9, 11]}, {"scales": floats(2, 3)}, opset=18))


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample(opset):
    if opset == 7:
        node, inits = helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0]), {}
    else:
        node, inits = helper.make_node("Upsample", ["x", "s"], ["y"], mode="nearest"), {"s": floats(1, 1, 2, 3)}
    check(make_model([node], {"x": [2, 3, 5, 4]}, inits, opset=opset))


def test_free_batch_dim_stays_symbolic():
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", F, None)], [numpy_helper.from_array(weights(4, 3, 3, 3), "w")])
    report = report_of_model(helper.make_model(graph))
    assert report.nodes[0].outputs[0].shape == ["N", 4, 8, 8]
    assert report.nodes[0].macs == 4 * 8 * 8 * 27  # per sample


@pytest.mark.parametrize("dims, target, allowzero", [
    (["N", 2048, 1, 1], [-1, 2048], 1),  # dynamo's flatten of a classifier with a dynamic batch
    (["N", 2048, 1, 1], [-1, 2048], 0),
    (["N", 4, 8], [-1, 32], 0),
    (["N", 4, 8], [4, -1, 8], 0),
    (["N", 4, 8], [-1, 16], 0),  # -1 is 2N: no dim convlint can name
    (["N", 4, 8], [0, -1], 0),
])
def test_a_minus_one_standing_for_a_free_batch_is_that_batch(dims, target, allowzero):
    """Checked against onnxruntime at batches 1 and 3: convlint's dim is the batch symbol
    exactly where onnxruntime's follows the batch one to one, unknown where it does not."""
    model = make_model([helper.make_node("Reshape", ["x", "t"], ["y"], allowzero=allowzero)], {"x": dims},
                       {"t": ints(*target)}, opset=14)
    ours = shapes_by_tensor(report_of_model(model))["y"]
    theirs = [run_all_tensors(model, {"x": np.zeros([batch, *dims[1:]], np.float32)})["y"] for batch in (1, 3)]
    for axis, dim in enumerate(ours):
        one, three = theirs[0][axis], theirs[1][axis]
        if dim == "N":
            assert (one, three) == (1, 3)
        elif dim == "?":
            assert (one, three) != (1, 3) and one != three
        else:
            assert one == three == dim


def test_free_spatial_dims_stay_unknown_but_params_and_fields_are_reported():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", F, None)], [numpy_helper.from_array(weights(4, 3, 3, 3), "w")])
    model = helper.make_model(graph)
    report = report_of_model(model)
    conv = report.nodes[0]
    assert conv.outputs[0].shape == ["N", 4, "?", "?"]
    assert conv.params == 108
    assert conv.macs is None
    assert conv.receptive_field.size == [3, 3] and conv.receptive_field.stride == [2, 2]
    assert [(d.code, d.node) for d in report.diagnostics] == [("U102", conv.name)]
    fixed = report_of_model(model, {"x": (1, 3, 9, 9)})
    assert fixed.nodes[0].outputs[0].shape == [1, 4, 4, 4]
    assert fixed.nodes[0].macs == 4 * 4 * 4 * 27


def _session_refuses(model: onnx.ModelProto) -> bool:
    import onnxruntime as ort

    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:
        return True
    return False


@pytest.mark.parametrize(
    "node, inputs, inits, slot",
    [
        # a Conv whose weight was dropped
        (helper.make_node("Conv", ["x"], ["y"], name="c", kernel_shape=[3, 3]), {"x": [1, 3, 8, 8]}, {}, 1),
        # a Conv whose weight is named "" as if it were optional
        (helper.make_node("Conv", ["x", "", "b"], ["y"], name="c", kernel_shape=[3, 3]), {"x": [1, 3, 8, 8]},
         {"b": np.zeros(4, np.float32)}, 1),
        # a Gemm without its B operand
        (helper.make_node("Gemm", ["a"], ["y"], name="c"), {"a": [2, 5]}, {}, 1),
    ],
    ids=["conv-without-weight", "conv-weight-empty", "gemm-without-b"],
)
def test_a_missing_required_input_is_an_error(node, inputs, inits, slot):
    """The node is refused by onnxruntime; convlint says which input is missing (S108), and
    neither its receptive field nor its MACs are guessed."""
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info("y", F, None)],
        [numpy_helper.from_array(v, n) for n, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert _session_refuses(model)
    report = report_of_model(model)
    found = [d for d in report.diagnostics if d.code == "S108"]
    assert [(d.node, d.severity) for d in found] == [("c", "error")]
    assert f"needs input {slot}" in found[0].message
    (only,) = report.nodes
    assert only.macs is None and only.receptive_field is None and only.outputs[0].shape is None


def test_an_empty_input_and_an_unknown_shape_are_told_apart():
    """Two Convs alike in op, attributes and input shapes, one with its weight named "" and
    one whose weight has an unknown shape: only the first lacks an input (the shape pass
    shares outcomes between alike nodes, and must not share this one)."""
    nodes = [
        helper.make_node("Conv", ["x", ""], ["y1"], name="empty", kernel_shape=[3, 3]),
        helper.make_node("Conv", ["x", "w"], ["y2"], name="unknown", kernel_shape=[3, 3]),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", F, [1, 3, 8, 8]), helper.make_tensor_value_info("w", F, None)],
        [helper.make_tensor_value_info("y1", F, None), helper.make_tensor_value_info("y2", F, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    report = report_of_model(model)
    assert [(d.code, d.node) for d in report.diagnostics if d.code.startswith("S")] == [("S108", "empty")]
    shapes = {n.name: n.outputs[0].shape for n in report.nodes}
    assert shapes == {"empty": None, "unknown": None}  # an unknown weight: unknown, not wrong


def _checker_refuses(model: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return True
    return False


def _node_model(node, inputs: dict[str, list[int]], opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info("y", F, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "node, inputs, code, words",
    [
        (helper.make_node("Gather", ["x", "i"], ["y"], axis="H"), {"x": [1, 3, 4, 4], "i": [2]},
         "S107", "axis must be an integer, got 'H'"),
        (helper.make_node("Transpose", ["x"], ["y"], perm=3), {"x": [1, 3, 4, 4]},
         "S107", "perm must be a list of integers, got 3"),
        (helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, 0]), {"x": [3, 4]},
         "S107", "axes [0, 0] name an axis twice"),
        (helper.make_node("Add", ["x"], ["y"]), {"x": [1, 3]}, "S108", "Add needs input 1, but the node has only 1 input"),
        (helper.make_node("Where", ["c", "x"], ["y"]), {"c": [3], "x": [3]}, "S108", "Where needs input 2"),
        (helper.make_node("Concat", [], ["y"], axis=0), {}, "S108", "Concat needs input 0"),
    ],
    ids=["string-axis", "int-perm", "repeated-axes", "add-one-operand", "where-two-operands", "concat-nothing"],
)
def test_malformed_nodes_are_findings_not_internal_errors(node, inputs, code, words):
    """Nodes ONNX's own checker refuses: one finding naming what is wrong (not 'a bug in
    convlint'), and no receptive field or MACs worked out from them."""
    opset = 11 if node.op_type == "Unsqueeze" else 17  # axes is an attribute before opset 13
    model = _node_model(node, inputs, opset)
    assert _checker_refuses(model)
    report = report_of_model(model)
    assert [(d.code, d.severity) for d in report.diagnostics] == [(code, "error")]
    assert words in report.diagnostics[0].message
    (only,) = report.nodes
    assert only.macs is None and only.receptive_field is None
