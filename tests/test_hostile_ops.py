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
from test_onnx_ops import _checker_refuses


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


@pytest.mark.parametrize("op", ["Tanh", "Relu", "Abs", "Sigmoid", "Softmax", "Not", "Round"])
def test_an_extra_input_to_a_one_input_op_is_s108(op):
    """The fuzzer's Tanh(s, x), s a scalar: the checker refuses two inputs to a one-input op."""
    elem = TensorProto.BOOL if op == "Not" else TensorProto.FLOAT
    made = model([helper.make_node(op, ["s", "x"], ["y"], name="n")], [vi("s", [], elem), vi("x", [1, 2, 4, 4], elem)])
    assert _checker_refuses(made)
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


def ints(name: str, values, dims=None) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.INT64, dims if dims is not None else [len(values)], values)


CONVLINT = [helper.make_opsetid("convlint", 1)]


@pytest.mark.parametrize("node, inputs, inits, extra, code, text", [
    # a Constant whose value_floats is a tensor: the checker refuses the attribute's type
    (helper.make_node("Constant", [], ["y"], name="n", value_floats=ints("v", [0, 2, 1])), [], [], (),
     "S107", "value_floats must be a list of numbers, got a tensor of dims [3]"),
    # a Reshape target of floats (the spec: shape is an int64 tensor)
    (helper.make_node("Reshape", ["x", "s"], ["y"], name="n"), [vi("x", [1, 2, 4, 4])],
     [helper.make_tensor("s", TensorProto.FLOAT, [2], [2.5, 12.8])], (),
     "S107", "the target shape must hold integers, got [2.5, 12.800000190734863]"),
    (helper.make_node("LayerNormalization", ["x"], ["y"], name="n", normalized_shape=float("inf")),
     [vi("x", [1, 2, 4, 4])], [], (), "S107", "normalized_shape must be a list of integers, got inf"),
    (helper.make_node("AdaptiveAvgPool", ["x"], ["y"], name="n", domain="convlint"), [vi("x", ["N", 1, 3, 4])],
     [], CONVLINT, "S107", "AdaptiveAvgPool needs output_size"),
    (helper.make_node("Interpolate", ["x"], ["y"], name="n", domain="convlint"), [vi("x", [1, 4, 3, 3])],
     [], CONVLINT, "S107", "Interpolate needs size or scale_factor"),
    (helper.make_node("Interpolate", ["x"], ["y"], name="n", domain="convlint", size=ints("s", [7, 7])),
     [vi("x", [1, 2, 3, 3])], [], CONVLINT, "S107", "size must be integers, got a tensor of dims [2]"),
    (helper.make_node("Interpolate", ["x"], ["y"], name="n", domain="convlint", scale_factor=float("nan")),
     [vi("x", [1, 2, 3, 3])], [], CONVLINT, "S107", "scale_factor must be positive and finite, got nan"),
    (helper.make_node("Linear", ["x", "w"], ["y"], name="n", domain="convlint"),
     [vi("x", ["?", "N", 2**40]), vi("w", [2**40])], [], CONVLINT,
     "S106", "Linear's weight must have rank 2 (out_features, in_features), got (1099511627776,)"),
])
def test_malformed_attributes_and_operands_name_the_node(node, inputs, inits, extra, code, text):
    report = analysed(model([node], inputs, inits, extra=extra))
    assert codes(report, "n") == [code]
    assert message(report, "n", code) == text


def test_a_scalar_normalized_shape_is_pytorchs_one_axis():
    """``nn.LayerNorm(5)`` normalises the last axis of size 5: on a last axis of 4, C103."""
    made = model([helper.make_node("LayerNormalization", ["x"], ["y"], name="n", normalized_shape=5)],
                 [vi("x", [1, 2, 4, 4])])
    report = analysed(made)
    assert message(report, "n", "C103").startswith("normalized_shape [5] does not match the last dims [4]")


@pytest.mark.parametrize("length", [65, 200_000_000, 2**40 - 1])
def test_a_shape_tensor_of_huge_length_is_s111_not_allocated(length):
    """ConstantOfShape's output rank is its input's length (ONNX spec): past 64, S111."""
    made = model([helper.make_node("ConstantOfShape", ["x"], ["y"], name="n")], [vi("x", [length], TensorProto.INT64)])
    report = analysed(made)
    assert message(report, "n", "S111") == f"the output would have rank {length:,}, over convlint's limit of 64"


def test_a_reshape_to_a_target_of_huge_length_is_s111():
    made = model([helper.make_node("Reshape", ["x", "s"], ["y"], name="n")],
                 [vi("x", [1, 2, 4, 4]), vi("s", [10**9], TensorProto.INT64)])
    assert message(analysed(made), "n", "S111") == "the output would have rank 1,000,000,000, over convlint's limit of 64"


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), -2.0])
@pytest.mark.parametrize("op", ["Resize", "Upsample"])
def test_a_scale_that_is_not_a_positive_finite_number_is_s107(op, scale):
    """onnxruntime refuses such scales ("Scale value should be greater than 0")."""
    inputs = ["x", "", "s"] if op == "Resize" else ["x", "s"]
    made = model([helper.make_node(op, inputs, ["y"], name="n")], [vi("x", [1, 2, 4, 4])],
                 [helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0, 1.0, scale, scale])],
                 opset=17 if op == "Resize" else 9)
    if op == "Resize":
        with pytest.raises(Exception, match=r"Scale value (must be finite|should be greater than 0)"):
            run_all_values(made)
    assert message(analysed(made), "n", "S107") == f"scales must be positive and finite, got [1.0, 1.0, {scale}, {scale}]"


def export_problems(made: onnx.ModelProto) -> list[str]:
    from analyzer.frontends.onnx import build_graph
    from analyzer.frontends.spec_export import NotExportable, export_spec
    from analyzer.passes import analyze

    with pytest.raises(NotExportable) as refused:
        export_spec(analyze(build_graph("m.onnx", made, {})))
    return refused.value.problems


W = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")


@pytest.mark.parametrize("node, inits", [
    (helper.make_node("Conv", ["x", "w"], ["y"], name="n"), [W]),
    (helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="n"), [W]),
    (helper.make_node("LogSoftmax", ["x"], ["y"], name="n"), []),
    (helper.make_node("Concat", ["x", "x"], ["y"], name="n", axis=1), []),
    (helper.make_node("LayerNormalization", ["x"], ["y"], name="n"), []),
    (helper.make_node("MatMul", ["x", "x"], ["y"], name="n"), []),
])
def test_export_spec_of_an_input_without_a_shape_names_the_input_once(node, inits):
    """A spec needs every input's per-sample dims: the input is named, not the layers after it."""
    made = model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)], inits)
    assert export_problems(made) == ["input x: its shape is not declared (use --input-shape)"]


def test_export_spec_of_a_rank_0_input():
    made = model([helper.make_node("Resize", ["x", "", "s"], ["y"], name="n")], [vi("x", [])],
                 [helper.make_tensor("s", TensorProto.FLOAT, [0], [])])
    assert export_problems(made) == ["input x (): the per-sample dims must be known (use --input-shape)"]


def test_an_epsilon_that_is_not_a_number_is_s107_in_every_command():
    made = model([helper.make_node("BatchNormalization", ["x", "g", "g", "g", "g"], ["y"], name="n", epsilon=[1, 2])],
                 [vi("x", [1, 2, 4, 4])], [numpy_helper.from_array(np.ones(2, np.float32), "g")])
    assert message(analysed(made), "n", "S107") == "epsilon must be a number, got [1, 2]"
    assert export_problems(made) == ["n: epsilon must be a number, got [1, 2] [S107]"]


def test_export_spec_of_a_prelu_whose_slope_has_a_symbolic_dim():
    made = model([helper.make_node("PRelu", ["x", "s"], ["y"], name="n")], [vi("x", [1, 2, 4, 4]), vi("s", ["C", 1, 1])])
    assert export_problems(made) == ["n: the shape of s is not fully known"]


# -- convlint sizes: bounded arithmetic, bounded memory ------------------------------------------
def sizes_of(tmp_path, made: onnx.ModelProto, **bounds):
    from analyzer import api

    path = tmp_path / "m.onnx"
    path.write_bytes(made.SerializeToString())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return api.sizes(str(path), **bounds), path


def test_a_dilation_of_int64_max_is_out_of_range_at_every_size_as_in_analyze(tmp_path):
    """out = s*(in-1) + d*(k-1) + 1 - pads (ONNX ConvTranspose) is over 2**40 at every size
    for d = 2**63-1: the scan rejects each size with S111, as analysing at that size does."""
    made = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="n", dilations=[2**63 - 1, 1])],
                 [vi("x", [1, 1, 3, 3])], [numpy_helper.from_array(np.ones((1, 1, 7, 7), np.float32), "w")])
    scan, _ = sizes_of(tmp_path, made, high=64)
    height = scan.axis("H")
    assert height.valid == [] and {r.code for r in height.rejections} == {"S111"}
    for size in (1, 5, 64):
        at_size = model(made.graph.node, [vi("x", [1, 1, size, 3])], made.graph.initializer)
        assert "S111" in codes(analysed(at_size), "n")
    assert scan.axis("W").valid == list(range(1, 65))  # 3 + 7 - 1 along W, whatever H is


def test_a_scanned_size_against_a_symbolic_feature_count_is_not_decided(tmp_path):
    """MatMul of a (1, 1, W) by b (3, 1, 1, N, N): whether W equals N is up to the runtime
    value of N, so no size is rejected for it (as analyze says nothing at a fixed W)."""
    made = model([helper.make_node("MatMul", ["a", "b"], ["y"], name="n")], [vi("a", [1, 1, 1]), vi("b", [3, 1, 1, "N", "N"])])
    scan, _ = sizes_of(tmp_path, made, high=32)
    assert scan.axes[0].valid == list(range(1, 33))


@pytest.mark.parametrize("factor", [2**63 - 1, 1e30])
def test_a_huge_scale_factor_is_out_of_range_not_a_warning(tmp_path, factor):
    made = model([helper.make_node("Interpolate", ["x"], ["y"], name="n", domain="convlint", scale_factor=factor)],
                 [vi("x", [8, 3, 8, 3])], extra=CONVLINT)
    scan, _ = sizes_of(tmp_path, made, high=16)
    assert all(a.valid == [] and {r.code for r in a.rejections} == {"S111"} for a in scan.axes)


def test_the_saturated_arithmetic_is_exact_within_its_bound():
    """Brute force with Python integers: every value within +-BOUND is exact, every larger one
    (or one computed from a constant past BOUND) is an infinity of its sign, and comparisons
    against real sizes come out as they do exactly."""
    from analyzer.symbolic import BOUND, ge, size

    H = size("H")
    sizes = np.arange(1, 200, dtype=np.int64)
    for big in (2**40, 2**61 - 5, 2**63 - 1, 10**30):
        for expr, exact in [
            ((H - 1) * 3 + big * 6 + 1, lambda h, b=big: (h - 1) * 3 + b * 6 + 1),
            ((H + 4 - big) // 2 + 1, lambda h, b=big: (h + 4 - b) // 2 + 1),
            (H * big - 7, lambda h, b=big: h * b - 7),
            ((H - big) * 2 - big, lambda h, b=big: (h - b) * 2 - b),
        ]:
            got = expr.evaluate({"H": sizes})
            want = [exact(int(h)) for h in sizes]
            for g, w in zip(got.tolist(), want):
                assert g == (w if abs(w) <= BOUND else (BOUND if w > 0 else -BOUND)), (expr, g, w)
            holds = ge(expr, 0).evaluate({"H": sizes})
            assert holds.tolist() == [w >= 0 for w in want]


def test_api_sizes_refuses_bounds_past_the_scan_limit(tmp_path):
    from analyzer import api
    from analyzer.limits import MAX_SCAN_SIZE

    path = tmp_path / "m.onnx"
    path.write_bytes(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [1, 3, 8, 8])]).SerializeToString())
    for bounds, text in [({"high": 10**12}, f"high must be an integer from 1 to {MAX_SCAN_SIZE:,}, got 1000000000000"),
                         ({"low": -10**9}, f"low must be an integer from 1 to {MAX_SCAN_SIZE:,}, got -1000000000"),
                         ({"low": 9, "high": 4}, "low 9 is larger than high 4")]:
        with pytest.raises(ValueError) as refused:
            api.sizes(str(path), **bounds)
        assert str(refused.value) == text


def conv_chain(count: int) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x" if i == 0 else f"t{i}", "w"], [f"t{i + 1}"], name=f"c{i}", pads=[1, 1, 1, 1])
             for i in range(count)]
    return model(nodes, [vi("x", [1, 3, "H", "W"])], [numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "w")])


def test_the_values_kept_while_scanning_do_not_grow_with_the_depth():
    """Each conv's dims are computed from the one before: what is kept at a time is the same
    for 50 and 500 of them (it was one array per sub-expression: 1 GiB at 3,000 convs)."""
    from analyzer.frontends.onnx import build_graph
    from analyzer.passes.shapes import infer_shapes
    from analyzer.passes.sizes import _Judge, _Walk
    from analyzer.symbolic import size

    peaks = []
    for count in (50, 500):
        graph = build_graph("m.onnx", conv_chain(count), {})
        shapes = infer_shapes(graph, inputs={"x": (1, 3, size("H"), size("H"))})
        peaks.append(_Judge(_Walk.of(graph, shapes), shapes, "H", 2, {}).evaluation.peak)
    assert peaks[0] == peaks[1] < 20


def test_sizes_of_3000_convs_fits_in_1_gib(tmp_path):
    import resource
    import subprocess
    import sys

    path = tmp_path / "m.onnx"
    path.write_bytes(conv_chain(3000).SerializeToString())

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    done = subprocess.run([sys.executable, "-m", "analyzer", "sizes", str(path)],
                          capture_output=True, timeout=60, preexec_fn=cap, check=False)
    assert done.returncode == 0, done.stderr
    assert b"H=W: valid sizes in 1..4096: any H=W" in done.stdout


# -- huge numbers in windows -------------------------------------------------------------------
def unread(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, out: int) -> int:
    """Positions of an axis no tap of any window reads: brute force over every tap."""
    read = {o * stride - pad_begin + t * dilation for o in range(out) for t in range(kernel)}
    return sum(1 for p in range(size) if p not in read)


@pytest.mark.parametrize("op", ["MaxPool", "Conv"])
@pytest.mark.parametrize("dilation", [2**24, 2**28, 2**40])
@pytest.mark.parametrize("stride", [1, 2])
def test_same_padding_with_a_huge_dilation_is_closed_form(op, dilation, stride):
    """SAME_UPPER: out = ceil(in / s), total padding (out-1)*s + d*(k-1) + 1 - in, the odd one at
    the end (ONNX spec); only the centre tap of each window lands in the input. This used to
    walk every position of a window 2*d + 1 long."""
    import time

    inputs = ["x", "w"] if op == "Conv" else ["x"]
    inits = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")] if op == "Conv" else []
    node = helper.make_node(op, inputs, ["y"], name="n", kernel_shape=[3, 3], auto_pad="SAME_UPPER",
                            strides=[stride, stride], dilations=[dilation, dilation])
    started = time.perf_counter()
    report = analysed(model([node], [vi("x", [1, 2, 8, 8])], inits))
    assert time.perf_counter() - started < 2
    out = -(-8 // stride)
    assert report.nodes[0].outputs[0].shape == [1, 2, out, out]
    total = (out - 1) * stride + 2 * dilation + 1 - 8
    missed = unread(8, 3, stride, dilation, total // 2, out)
    f102 = [d.message for d in report.diagnostics if d.code == "F102"]
    if missed:
        assert f102[0].startswith(f"never reads {missed} rows out of 8 and {missed} columns out of 8")
    else:
        assert not f102


@pytest.mark.parametrize("rank", [26, 64])
def test_memory_of_a_tensor_past_floats_range_prints_as_a_power_of_ten(rank):
    """Rank 64 with every dim 2**40: 4 bytes x 2**2560 per tensor, far past a float (1.8e308).
    The text report rounds it to three digits as it does any size; the figure itself stays
    an exact integer (JSON)."""
    from decimal import Decimal

    from analyzer.formatters.figures import size_text
    from analyzer.formatters.text import render

    made = model([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "x"], ["y"])],
                 [vi("x", [2**40] * rank)])
    report = analysed(made)
    per_tensor = 4 * 2 ** (40 * (rank - 1))  # per sample: the batch dim is 2**40 too
    assert f"Activations: peak {Decimal(3 * per_tensor) / Decimal(1024**8):.2e} YiB" in render(report)
    assert size_text(3 * per_tensor) == f"{Decimal(3 * per_tensor) / Decimal(1024**8):.2e} YiB"
    assert size_text(1023 * 1024**8) == "1,023 YiB" and size_text(2**83) == "8.00 YiB"


def test_an_einsum_equation_padded_past_2_kib_is_read_as_onnxruntime_reads_it(tmp_path):
    """Spaces in an Einsum equation mean nothing (onnxruntime runs this model); the front end
    used to drop attribute strings over 2 KiB, leaving an empty equation: a wrong S107."""
    from analyzer.frontends import load
    from analyzer.passes import analyze
    from analyzer.report.build import build_report

    made = model([helper.make_node("Einsum", ["x", "w"], ["y"], name="n", equation="nchw,oc->nohw" + " " * 3000)],
                 [vi("x", [1, 3, 8, 8])], [numpy_helper.from_array(np.ones((4, 3), np.float32), "w")], opset=12)
    expected = list(run_all_values(made)["y"].shape)
    path = tmp_path / "m.onnx"
    path.write_bytes(made.SerializeToString())
    report = build_report(analyze(load(str(path), {})))  # through the wire scan, as files are read
    assert [d.code for d in report.diagnostics] == []
    assert report.nodes[0].outputs[0].shape == expected == [1, 4, 8, 8]


@pytest.mark.parametrize("sizes, analysed_at", [({"shapes": {"x": (1, 3, 32, 32)}}, (1, 3, 32, 32)),
                                                ({"batch": 8}, (8, 3, 8, 8))])
def test_shapes_onnx_infers_for_unmodelled_ops_follow_what_if_sizes(sizes, analysed_at):
    """TopK is not modelled: its shape comes from onnx shape inference, which must see the
    sizes the model is analysed at, not the declared 1x3x8x8. The truth: onnxruntime on the
    model at those sizes."""
    from analyzer.frontends.inputs import InputSizes
    from analyzer.frontends.onnx import build_graph
    from analyzer.passes import analyze
    from analyzer.report.build import build_report

    def topk(shape) -> onnx.ModelProto:
        return model([helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, name="t"),
                      helper.make_node("Conv", ["v", "w"], ["y"], name="c")],
                     [vi("x", list(shape))], [ints("k", [2]), numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")])

    truth = run_all_values(topk(analysed_at))
    declared = topk((1, 3, 8, 8))
    report = build_report(analyze(build_graph("m.onnx", declared, InputSizes(override=True, **sizes))))
    shapes = {o.name: o.shape for n in report.nodes for o in n.outputs}
    assert shapes["v"] == list(truth["v"].shape)
    assert shapes["y"] == list(truth["y"].shape)


@pytest.mark.parametrize("batch", [-1, 0, 10**30, 2.5, True])
def test_api_batch_is_checked_as_the_cli_checks_it(batch):
    from analyzer import api
    from analyzer.limits import MAX_DIM

    spec = {"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 3}]}
    with pytest.raises(ValueError) as refused:
        api.analyze(spec, batch=batch)
    assert str(refused.value) == f"batch must be an integer from 1 to {MAX_DIM:,}, got {batch!r}"


def test_a_transposed_window_of_a_million_taps_is_bounded_by_its_extreme_taps():
    """Output unit o of a transposed window is fed by input units i with o + pad - d*t = i*s
    (t < kernel): brute force over every tap against the closed form, for fields of one
    phase (the input itself, and a strided field), including the 2**20-tap kernel that used
    to take seconds per axis."""
    import itertools
    import time

    from analyzer.receptive import AxisField

    for base in (AxisField(1, 1, (0,), (0,)), AxisField(1, 2, (-1,), (3,))):
        for kernel, stride, dilation, pad in itertools.product((1, 2, 3, 7), (1, 2, 3, 4, 6), (1, 2, 3, 4), (0, 1, 5)):
            field = base.transposed(kernel, stride, dilation, pad)
            for o in range(3 * stride * dilation + kernel):
                fed = [i for t in range(kernel) for i, rem in [divmod(o + pad - dilation * t, stride)] if rem == 0]
                a, b = field.interval(o)
                if not fed:
                    assert b < a
                    continue
                assert (a, b) == (base.interval(min(fed))[0], base.interval(max(fed))[1])
    started = time.perf_counter()
    for stride in (1, 3, 8):
        AxisField(1, 1, (0,), (0,)).transposed(2**20, stride, 2, 0)
    assert time.perf_counter() - started < 0.05  # each took half a second walking every tap


@pytest.mark.parametrize("length, kernel, pad", [(2**20, 2**19, 0), (7, 2**20, 2**38), (1000, 999, 0)])
def test_coverage_of_huge_kernels_is_bounded_work(length, kernel, pad):
    """Half a million taps over a million rows (or a million taps over 7 rows padded by 2**38):
    the per-row marking is skipped for the per-period count, in well under the time limit. A
    kernel one short of the axis still counts row by row: both windows read everything."""
    import time

    node = helper.make_node("MaxPool", ["x"], ["y"], name="n", kernel_shape=[1, kernel], pads=[0, pad, 0, pad])
    started = time.perf_counter()
    report = analysed(model([node], [vi("x", [1, 1, 1, length])]))
    assert time.perf_counter() - started < 3
    assert report.nodes[0].outputs[0].shape == [1, 1, 1, length + 2 * pad - kernel + 1]
    assert "F101" not in codes(report, "n") and "F102" not in codes(report, "n")
