"""F101/F102 (REFERENCE §2) against brute force: onnxruntime runs each sliding window to get
its output size, the windows are then enumerated tap by tap, and the rows no tap reads are
counted and classified (past the last window, between windows, between a window's taps)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_tensors

F = TensorProto.FLOAT


def window_model(readers: list[dict], length: int, opset: int = 19):
    """Sliding-window nodes (1-D) reading one input of length ``length``, each to an output."""
    nodes, inits, outputs = [], [], []
    for i, attrs in enumerate(readers):
        op = attrs.pop("op")
        inputs = ["x"]
        if op == "Conv":
            inits.append(numpy_helper.from_array(np.ones((1, 1, attrs["kernel_shape"][0]), np.float32), f"w{i}"))
            inputs.append(f"w{i}")
        nodes.append(helper.make_node(op, inputs, [f"y{i}"], name=f"r{i}", **attrs))
        outputs.append(helper.make_tensor_value_info(f"y{i}", F, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 1, length])], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def unread_by_enumeration(length: int, readers: list[dict], outs: list[int]) -> dict[str, int]:
    """Rows no tap reads: past every window ('trailing', unless some stride exceeds its
    window, which then explains them too), inside some window between its taps
    ('dilated'), or between windows ('between')."""
    read, spanned, ends = set(), set(), []
    for attrs, out in zip(readers, outs):
        (k,), (s,), (d,) = attrs["kernel_shape"], attrs.get("strides", [1]), attrs.get("dilations", [1])
        pb = attrs.get("pads", [0, 0])[0]
        for o in range(out):
            start = o * s - pb
            read.update(start + t * d for t in range(k))
            spanned.update(range(start, start + d * (k - 1) + 1))
            ends.append(start + d * (k - 1))
    skipping = any(a.get("strides", [1])[0] > a.get("dilations", [1])[0] * (a["kernel_shape"][0] - 1) + 1 for a in readers)
    counts = {"trailing": 0, "dilated": 0, "between": 0}
    for row in range(length):
        if row in read:
            continue
        if row > max(ends) and not skipping:
            counts["trailing"] += 1
        elif row in spanned:
            counts["dilated"] += 1
        else:
            counts["between"] += 1
    return counts


def reported(report) -> tuple[int, int]:
    """Positions F101 and F102 say are never read."""
    found = {"F101": 0, "F102": 0}
    for d in report.diagnostics:
        if d.code in found:
            found[d.code] += int(re.match(r"never reads (?:the last )?(\d+) position", d.message).group(1))
    return found["F101"], found["F102"]


CASES = [
    # the MaxPool: k3 s2 p1 dilation 2 ceil_mode; 13 and 21 long
    ([{"op": "MaxPool", "kernel_shape": [3], "strides": [2], "pads": [1, 1], "dilations": [2], "ceil_mode": 1}], 13),
    ([{"op": "MaxPool", "kernel_shape": [3], "strides": [2], "pads": [1, 1], "dilations": [2], "ceil_mode": 1}], 21),
    ([{"op": "Conv", "kernel_shape": [3], "strides": [2], "dilations": [2]}], 12),
    ([{"op": "Conv", "kernel_shape": [2], "strides": [7], "dilations": [3]}], 30),
    ([{"op": "Conv", "kernel_shape": [2], "dilations": [4]}], 5),
    ([{"op": "Conv", "kernel_shape": [3], "strides": [2]}], 6),
    ([{"op": "Conv", "kernel_shape": [1], "strides": [3]}], 11),
    ([{"op": "MaxPool", "kernel_shape": [2], "strides": [4], "ceil_mode": 1}], 9),
    # two readers: one's dilation gaps are the other's taps
    ([{"op": "Conv", "kernel_shape": [3], "strides": [2], "dilations": [2]},
      {"op": "Conv", "kernel_shape": [1], "strides": [2], "pads": [1, 1]}], 12),
    ([{"op": "Conv", "kernel_shape": [3], "strides": [4], "dilations": [2]},
      {"op": "Conv", "kernel_shape": [1], "strides": [4]}], 17),
]
GRID = [
    ([{"op": op, "kernel_shape": [k], "strides": [s], "dilations": [d], "pads": [p, p], **extra}], n)
    for (op, extra), k, s, d, p, n in itertools.product(
        [("Conv", {}), ("MaxPool", {"ceil_mode": 1})], (1, 2, 3), (1, 2, 3, 5), (1, 2, 3), (0, 1), (7, 10, 16))
    if p <= (d * (k - 1) + 1) // 2 and d * (k - 1) + 1 <= n
][::5]


@pytest.mark.parametrize(("readers", "length"), CASES + GRID)
def test_f101_and_f102_count_exactly_the_rows_no_window_reads(readers, length):
    model = window_model([dict(r) for r in readers], length)
    outs = [shape[-1] for name, shape in sorted(run_all_tensors(model).items())]
    truth = unread_by_enumeration(length, readers, outs)
    report = report_of_model(model)
    assert [n.outputs[0].shape[-1] for n in report.nodes] == outs
    assert reported(report) == (truth["trailing"], truth["dilated"] + truth["between"])
    messages = " ".join(d.message for d in report.diagnostics)
    assert ("dilation" in messages) == bool(truth["dilated"])
    assert ("larger than the window" in messages) == bool(truth["between"])


def test_dilation_gaps_are_explained_as_such():
    """The issue's example: 10 is a multiple of 2; the even rows fall between dilated taps."""
    readers = [{"op": "MaxPool", "kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                "dilations": [2, 2], "ceil_mode": 1}]
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", **{k: v for k, v in readers[0].items() if k != "op"})
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, [1, 1, 13, 21])],
                              [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    assert run_all_tensors(model)["y"] == (1, 1, 6, 10)
    (finding,) = report_of_model(model).diagnostics
    assert finding.code == "F102"
    assert finding.message == (
        "never reads 7 rows out of 13 and 11 columns out of 21 of its input (1, 1, 13, 21): dilation 2 "
        "leaves gaps between the taps of each window, and stride 2 never moves a tap into them (both "
        "are multiples of 2) along H and W")
    assert "not a multiple" not in finding.message


def test_dilation_gaps_on_a_huge_axis_are_counted_per_period():
    """Past a million rows coverage is worked out per stride period: with stride 2 and
    dilation 2 every tap lands on an even row, so one row in every 2 is never read."""
    length = (1 << 20) + 5
    model = window_model([{"op": "Conv", "kernel_shape": [3], "strides": [2], "dilations": [2]}], length)
    (finding,) = report_of_model(model).diagnostics
    assert finding.code == "F102"
    assert finding.message.startswith(f"never reads 1 position out of 2 of its input (1, 1, {length}): dilation 2")
    assert finding.message.endswith("1 position of every 2 along L")
