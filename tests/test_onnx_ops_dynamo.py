"""Ops of dynamo exports and MaxViT (CastLike, Einsum, GatherND) and the rounding in shape
computations (Floor/Ceil/Round), each graph's shapes compared with onnxruntime's."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx_utils import report_of_model, run_all_tensors, shapes_by_tensor
from test_onnx_ops import check, floats, ints, make_model, weights

F = TensorProto.FLOAT


def test_cast_like_takes_the_type_of_its_second_input_and_folds_values():
    """dynamo's shape arithmetic: Shape -> CastLike(float) -> Mul 0.5 -> CastLike(int64) as a
    Reshape target."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("CastLike", ["s", "half"], ["sf"]),
        helper.make_node("Mul", ["sf", "factors"], ["scaled"]),
        helper.make_node("CastLike", ["scaled", "s"], ["target"]),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    model = make_model(nodes, {"x": [2, 3, 4, 8]}, {"half": floats(0.5), "factors": floats(1, 1, 0.5, 2)}, opset=19)
    assert check(model)["y"] == [2, 3, 2, 16]


@pytest.mark.parametrize(("equation", "shapes", "macs"), [
    ("bhqd,bhkd->bhqk", [[1, 2, 5, 4], [1, 2, 6, 4]], 2 * 5 * 6 * 4),  # attention scores
    ("bhqk,bhkd->bhqd", [[1, 2, 5, 6], [1, 2, 6, 4]], 2 * 5 * 4 * 6),
    ("...ij,...jk->...ik", [[3, 2, 5, 4], [1, 2, 4, 7]], 2 * 5 * 7 * 4),  # ellipses broadcast
    ("ij,jk", [[5, 4], [4, 7]], 7 * 4),  # implicit output ik; per sample (dim 0 of x0 is the batch)
    ("nchw->nhwc", [[1, 3, 4, 5]], 0),
    ("ii->i", [[4, 4]], 0),
    ("bij,bjk,bkl->bil", [[1, 2, 3], [1, 3, 4], [1, 4, 5]], None),  # depends on the order
])
def test_einsum(equation, shapes, macs):
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    model = make_model([node], dict(zip(names, shapes)), opset=12)
    check(model)
    (einsum,) = report_of_model(model).nodes
    assert einsum.macs == macs


def test_einsum_sizes_must_agree():
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->ik")
    report = report_of_model(make_model([node], {"a": [2, 3], "b": [4, 5]}, opset=12))
    assert [d.code for d in report.diagnostics] == ["S104"]


@pytest.mark.parametrize(("data", "indices", "batch_dims"), [
    ([2, 3, 4, 5], ints(1, 0).reshape(1, 2), 0),
    ([2, 3, 4, 5], ints(1, 0, 0, 2, 1, 1).reshape(3, 2), 0),
    ([2, 3, 4], ints(0, 1, 2, 0, 1, 2).reshape(2, 3, 1), 1),
    ([2, 3, 4, 5], ints(1, 2, 0, 3).reshape(2, 1, 2), 1),
])
def test_gather_nd(data, indices, batch_dims):
    node = helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=batch_dims)
    check(make_model([node], {"x": data}, {"i": indices}, opset=13))


def recompute_scale_factor(scales: tuple[float, float], rounding: str = "Floor") -> tuple[list, dict]:
    """F.interpolate(x, scale_factor=scales, recompute_scale_factor=True) as the TorchScript
    exporter writes it: per spatial axis Shape -> Gather -> Cast(float) -> Mul -> Cast ->
    Floor -> Unsqueeze; Concat with (N, C) -> Cast(int64) -> Resize(sizes)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "zero", "two"], ["nc"])]
    parts = ["nc"]
    for axis in (2, 3):
        nodes += [
            helper.make_node("Gather", ["s", f"axis{axis}"], [f"d{axis}"], axis=0),
            helper.make_node("Cast", [f"d{axis}"], [f"f{axis}"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"f{axis}", f"scale{axis}"], [f"m{axis}"]),
            helper.make_node("Cast", [f"m{axis}"], [f"c{axis}"], to=TensorProto.FLOAT),
            helper.make_node(rounding, [f"c{axis}"], [f"r{axis}"]),
            helper.make_node("Cast", [f"r{axis}"], [f"i{axis}"], to=TensorProto.INT64),
            helper.make_node("Unsqueeze", [f"i{axis}", "zero"], [f"u{axis}"]),
        ]
        parts.append(f"u{axis}")
    nodes += [helper.make_node("Concat", parts, ["sizes"], axis=0),
              helper.make_node("Resize", ["x", "", "", "sizes"], ["r"], mode="linear")]
    constants = {"zero": ints(0), "two": ints(2), "axis2": np.array(2, np.int64), "axis3": np.array(3, np.int64),
                 "scale2": np.array(scales[0], np.float32), "scale3": np.array(scales[1], np.float32)}
    return nodes, constants


@pytest.mark.parametrize(("scales", "rounding", "size", "expected"), [
    ((0.5, 0.75), "Floor", (32, 48), (16, 36)),
    ((0.5, 0.75), "Floor", (33, 47), (16, 35)),
    ((0.5, 0.75), "Ceil", (33, 47), (17, 36)),
    ((0.25, 0.5), "Round", (10, 5), (2, 2)),  # 2.5 rounds to even, as ONNX's Round
])
def test_interpolate_recompute_scale_factor(scales, rounding, size, expected):
    nodes, constants = recompute_scale_factor(scales, rounding)
    model = make_model(nodes, {"x": [1, 3, *size]}, constants, opset=13)
    assert check(model)["r"] == [1, 3, *expected]


def check_free(model, feed_shape) -> dict[str, list]:
    """With free dims: convlint's known dims equal onnxruntime's at one concrete size, the
    batch keeps its name and unknown dims show as '?'."""
    ours = shapes_by_tensor(report_of_model(model))
    feeds = {"x": np.zeros(feed_shape, np.float32)}
    for name, shape in run_all_tensors(model, feeds).items():
        mine = ours.get(name)
        assert mine is not None and len(mine) == len(shape), name
        for d, theirs in zip(mine, shape):
            assert d in ("?", "N") or d == theirs, (name, mine, shape)
    return ours


def test_free_dims_keep_rank_and_channels_through_resize_concat_and_conv():
    nodes, constants = recompute_scale_factor((0.5, 0.75))
    nodes += [helper.make_node("Concat", ["r", "r"], ["cat"], axis=1),
              helper.make_node("Conv", ["cat", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    model = make_model(nodes, {"x": ["N", 3, "H", "W"]}, {**constants, "w": weights(4, 6, 3, 3)}, opset=13)
    ours = check_free(model, (1, 3, 32, 48))
    assert (ours["r"], ours["cat"], ours["y"]) == (["N", 3, "?", "?"], ["N", 6, "?", "?"], ["N", 4, "?", "?"])


def test_resize_to_the_size_of_a_skip_with_free_dims():
    """The FPN idiom: resize a coarse map to its skip's spatial size, taken by Shape."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["skip"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["skip"], ["coarse"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["coarse"], ["cs"]),
        helper.make_node("Shape", ["skip"], ["ss"]),
        helper.make_node("Slice", ["cs", "zero", "two"], ["nc"]),
        helper.make_node("Slice", ["ss", "two", "four"], ["hw"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["coarse", "", "", "sizes"], ["up"], mode="nearest"),
        helper.make_node("Concat", ["up", "skip"], ["y"], axis=1),
    ]
    model = make_model(nodes, {"x": ["N", 3, "H", "W"]},
                       {"w": weights(8, 3, 3, 3), "zero": ints(0), "two": ints(2), "four": ints(4)}, opset=13)
    ours = check_free(model, (1, 3, 40, 64))
    assert (ours["up"], ours["y"]) == (["N", 8, "?", "?"], ["N", 16, "?", "?"])
