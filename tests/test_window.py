"""Sliding-window output sizes (REFERENCE §2) against an independent enumeration of windows."""

from __future__ import annotations

import itertools
import math

import pytest
from conftest import codes, report_of, shape_of, spec


def windows_by_enumeration(size: int, k: int, s: int, d: int, pb: int, pe: int, ceil: bool) -> int:
    """Count window start positions directly, as PyTorch's docs describe them.

    Floor mode: a window must lie inside the padded input. Ceil mode: a window may run past
    the end padding, but must start inside the input or the begin padding, and must not start
    beyond where ceil rounding would allow.
    """
    effective = d * (k - 1) + 1
    padded = size + pb + pe
    count = 0
    for start in itertools.count(0, s):  # start in padded coordinates
        fits = start + effective <= padded
        if ceil:
            allowed = start < size + pb and start <= padded - effective + s - 1
        else:
            allowed = fits
        if not allowed:
            break
        count += 1
    return count


CASES = [
    # size, k, s, d, pb, pe
    (6, 3, 2, 1, 0, 0), (7, 3, 2, 1, 0, 0), (224, 7, 2, 1, 3, 3), (112, 3, 2, 1, 1, 1),
    (5, 2, 2, 1, 0, 0), (5, 3, 3, 1, 1, 1), (10, 3, 1, 2, 0, 0), (10, 3, 3, 2, 2, 1),
    (13, 4, 3, 1, 0, 2), (1, 1, 1, 1, 0, 0), (8, 5, 4, 1, 2, 2), (31, 3, 2, 3, 3, 3),
]


POOL_CASES = [
    (*case, ceil)
    for case in CASES
    for ceil in (False, True)
    # PyTorch rejects pools padded by more than half their window.
    if max(case[4], case[5]) <= (case[3] * (case[1] - 1) + 1) // 2
]


@pytest.mark.parametrize(("size", "k", "s", "d", "pb", "pe", "ceil"), POOL_CASES)
def test_pool_output_size_matches_enumeration(size, k, s, d, pb, pe, ceil):
    layer = {"name": "p", "op": "max_pool", "kernel_size": k, "stride": s, "dilation": d,
             "padding": [[pb, pe]], "ceil_mode": ceil}
    report = report_of(spec([layer], [4, size]))
    expected = windows_by_enumeration(size, k, s, d, pb, pe, ceil)
    assert shape_of(report, "p") == [4, expected]


@pytest.mark.parametrize(("size", "k", "s", "d", "pb", "pe"), CASES)
def test_conv_output_size_is_the_floor_formula(size, k, s, d, pb, pe):
    layer = {"name": "c", "op": "conv", "out_channels": 8, "kernel_size": k, "stride": s,
             "dilation": d, "padding": [[pb, pe]]}
    report = report_of(spec([layer], [3, size]))
    expected = math.floor((size + pb + pe - d * (k - 1) - 1) / s) + 1
    assert shape_of(report, "c") == [8, expected]
    assert expected == windows_by_enumeration(size, k, s, d, pb, pe, False)


def test_seed_example_rounds_down_and_warns():
    report = report_of(spec([{"name": "conv1", "op": "conv", "out_channels": 64,
                              "kernel_size": 3, "stride": 2}], [3, 6, 6]))
    assert shape_of(report, "conv1") == [64, 2, 2]
    (warning,) = [d for d in report.diagnostics if d.code == "F101"]
    assert warning.severity == "warning" and warning.node == "conv1"
    assert "1 row and 1 column" in warning.message


def test_exact_division_does_not_warn():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 3,
                              "stride": 2}], [3, 7, 7]))
    assert shape_of(report, "c") == [4, 3, 3]
    assert codes(report) == []


def test_padding_absorbs_the_remainder():
    # (8 + 1 + 1 - 3) = 7, 7 mod 2 = 1 <= pad_end 1: only padding is left over.
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 3,
                              "stride": 2, "padding": 1}], [3, 8, 8]))
    assert shape_of(report, "c") == [4, 4, 4]
    assert "F101" not in codes(report)


def test_sibling_reader_sees_what_a_strided_reader_drops():
    # ResNet: a 1x1 stride-2 shortcut skips odd rows; the 3x3 stride-2 conv beside it reads them.
    layers = [
        {"name": "a", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel_size": 3,
         "stride": 2, "padding": 1},
        {"name": "b", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel_size": 1, "stride": 2},
        {"name": "sum", "op": "add", "inputs": ["a", "b"]},
    ]
    report = report_of(spec(layers, [4, 56, 56]))
    assert shape_of(report, "sum") == [8, 28, 28]
    assert codes(report) == []


def test_lone_strided_pointwise_conv_skips_rows():
    report = report_of(spec([{"name": "b", "op": "conv", "out_channels": 8, "kernel_size": 1,
                              "stride": 2}], [4, 8, 8]))
    (finding,) = report.diagnostics
    assert finding.code == "F102"
    assert "4 rows out of 8 and 4 columns out of 8" in finding.message


def test_same_padding_keeps_the_size_at_stride_one():
    for k in (1, 2, 3, 4, 5):
        report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 2, "kernel_size": k,
                                  "padding": "same"}], [1, 11, 10]))
        assert shape_of(report, "c") == [2, 11, 10]


def test_kernel_larger_than_input_is_an_error():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 2, "kernel_size": 5}],
                            [1, 4, 9]))
    (error,) = report.diagnostics
    assert (error.code, error.severity, error.location) == ("S101", "error", "/layers/0/kernel_size")
    assert shape_of(report, "c") is None


def test_kernel_rank_must_match_the_input():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 2,
                              "kernel_size": [3, 3]}], [1, 40]))
    assert codes(report) == ["S106"]


def test_three_d_and_one_d():
    report = report_of(spec([
        {"name": "c3", "op": "conv", "inputs": ["x"], "out_channels": 2, "kernel_size": [3, 5, 5],
         "stride": [1, 2, 2], "padding": [1, 2, 2]},
    ], [1, 16, 64, 64]))
    assert shape_of(report, "c3") == [2, 16, 32, 32]


def test_transposed_convolution_size():
    # PyTorch: (in - 1)*s - 2p + d*(k - 1) + output_padding + 1
    for size, k, s, p, op, d in [(7, 3, 2, 1, 1, 1), (16, 4, 2, 1, 0, 1), (5, 3, 3, 0, 2, 2)]:
        layer = {"name": "t", "op": "conv_transpose", "out_channels": 3, "kernel_size": k,
                 "stride": s, "padding": p, "output_padding": op, "dilation": d}
        report = report_of(spec([layer], [4, size, size]))
        expected = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        assert shape_of(report, "t") == [3, expected, expected]


def test_adaptive_pool_and_global_pool():
    report = report_of(spec([
        {"name": "a", "op": "adaptive_avg_pool", "inputs": ["x"], "output_size": [7, None]},
        {"name": "g", "op": "global_max_pool", "inputs": ["x"]},
    ], [5, 13, 9]))
    assert shape_of(report, "a") == [5, 7, 9]
    assert shape_of(report, "g") == [5, 1, 1]


def _pool_model(op: str, k: int, s: int, p: int, ceil: int, spatial: list):
    from onnx import TensorProto, helper

    node = helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=[k, k], strides=[s, s],
                            pads=[p] * 4, ceil_mode=ceil)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, *spatial])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _onnxruntime_output(model, spatial: list[int]) -> int | None:
    """onnxruntime's output size along H, or None where it refuses to run the pool."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return session.run(None, {"x": np.ones((1, 2, *spatial), np.float32)})[0].shape[2]
    except Exception:
        return None


def torch_pool_output(size: int, k: int, s: int, p: int) -> int:
    """PyTorch's documented ceil-mode size (nn.MaxPool2d): ceil((in + 2p - (k-1) - 1) / s + 1),
    one less when the last window would start in the right padding; below 1 it raises."""
    out = math.ceil((size + 2 * p - (k - 1) - 1) / s + 1)
    return out - 1 if (out - 1) * s >= size + p else out


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(("k", "s", "p", "size"), [
    (3, 3, 0, 1), (3, 2, 0, 2), (3, 2, 0, 1), (4, 3, 0, 2), (3, 3, 1, 1), (2, 2, 0, 1),
    (5, 3, 0, 1), (5, 2, 0, 1), (3, 1, 0, 1), (7, 4, 1, 2),
])
def test_ceil_mode_window_larger_than_the_input(op, k, s, p, size):
    """A ceil-mode window may overhang the input by up to stride - 1 (AveragePool k3 s3 on a
    1x1 map gives 1x1 in onnxruntime and PyTorch); beyond that it is S101, as both refuse."""
    from onnx_utils import report_of_model

    model = _pool_model(op, k, s, p, 1, [size, size])
    expected = torch_pool_output(size, k, s, p)
    ran = _onnxruntime_output(model, [size, size])
    report = report_of_model(model)
    if expected >= 1:
        assert ran == expected
        assert report.nodes[0].outputs[0].shape == [1, 2, expected, expected]
        assert not [d for d in report.diagnostics if d.severity == "error"]
    else:
        assert ran in (None, 0)  # refused, or an empty tensor: PyTorch raises either way
        assert codes(report) == ["S101"]
        assert "ceil mode" in report.diagnostics[0].message


def test_sizes_follow_ceil_mode_pools_down_to_one():
    """`convlint sizes` accepts what onnxruntime runs for a k3 s3 ceil-mode pool: every size
    from 1. Its floor-mode twin starts at 3, where PyTorch's floor((in - 3) / 3) + 1 reaches 1
    (onnxruntime truncates -2/3 toward zero and runs sizes 1 and 2; PyTorch raises)."""
    from analyzer.frontends.onnx import build_graph
    from analyzer.passes.sizes import scan_sizes

    for ceil in (1, 0):
        model = _pool_model("AveragePool", 3, 3, 0, ceil, ["H", "W"])
        (axis,) = scan_sizes(build_graph("pool.onnx", model, {}), high=40).axes
        if ceil:
            assert axis.valid == [n for n in range(1, 41) if _onnxruntime_output(model, [n, n])]
            assert axis.valid == list(range(1, 41))
        else:
            assert axis.valid == [n for n in range(1, 41) if math.floor((n - 3) / 3) + 1 >= 1]
            assert axis.reason(2).code == "S101"
