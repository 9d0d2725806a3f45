"""What-if input sizes: a spec at another size, an ONNX model made at one size checked at
another. The truth is the spec written at that size, and onnxruntime running the model with
its input set to that size; constants the file fixed are reported (S109)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import run_all_tensors, with_input_dims
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.frontends.inputs import InputSizes
from analyzer.frontends.onnx import build_graph
from analyzer.passes import analyze
from analyzer.report.build import build_report

runner = CliRunner()


def cli_json(*arguments: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["analyze", *arguments, "-f", "json"])
    return result.exit_code, json.loads(result.stdout)


def without_path(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "model"}


@pytest.mark.parametrize("size", [512, 100, 64])
def test_a_spec_at_another_size_is_the_spec_written_at_that_size(tmp_path, size):
    written = json.loads((SAMPLES / "unet.json").read_text())
    written["inputs"][0]["shape"] = [1, size, size]
    path = tmp_path / "unet.json"
    path.write_text(json.dumps(written))
    code, asked = cli_json(str(SAMPLES / "unet.json"), "--input-shape", f"image=1x{size}x{size}")
    expected_code, expected = cli_json(str(path))
    assert code == expected_code == (1 if size == 100 else 0)
    assert asked["inputs"] == [{"name": "image", "shape": [1, size, size]}]
    def findings(report: dict) -> list[dict]:  # the two files are laid out differently: no lines
        return [{k: v for k, v in d.items() if k not in ("line", "column")} for d in report["diagnostics"]]

    assert findings(asked) == findings(expected)
    assert asked["nodes"] == expected["nodes"] and asked["totals"] == expected["totals"]


def test_a_spec_takes_per_sample_dims():
    for bad, message in [
        ("image=1x3x64x64", "a spec's input shapes are per sample, (C, *spatial) like its (1, 256, 256); give 3x64x64"),
        ("image=3x64", "has rank 2, the model's input has rank 3 (1, 256, 256)"),
        ("pixels=3x64x64", "--input-shape names pixels, but the model's inputs are image"),
    ]:
        result = runner.invoke(app, ["analyze", str(SAMPLES / "unet.json"), "--input-shape", bad])
        assert result.exit_code == 2, result.stdout
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    unnamed = runner.invoke(app, ["analyze", str(SAMPLES / "seed.json"), "--input-shape", "3x7x7", "-f", "json"])
    assert json.loads(unnamed.stdout)["nodes"][0]["outputs"][0]["shape"] == [64, 3, 3]  # (7 - 3) / 2 + 1


W = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
STRIDED_CONV = helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])


def model_at(nodes, output: str, initializers, dims=(1, 3, 8, 8)) -> onnx.ModelProto:
    graph = helper.make_graph([STRIDED_CONV, *nodes], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], [W, *initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def analysed(model: onnx.ModelProto, dims=None, batch=None):
    sizes = InputSizes({"x": tuple(dims)} if dims else {}, batch, override=True)
    report = build_report(analyze(build_graph("model.onnx", model, sizes)))
    return {o.name: None if o.shape is None else tuple(o.shape) for n in report.nodes for o in n.outputs}, report.diagnostics


def int64(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


LITERAL_RESHAPE = model_at([helper.make_node("Reshape", ["c", "t"], ["y"])], "y", [int64("t", [-1, 64])])
FLATTEN_RESHAPE = model_at([helper.make_node("Reshape", ["c", "t"], ["y"])], "y", [int64("t", [1, -1])])
COMPUTED_RESHAPE = model_at([
    helper.make_node("Shape", ["c"], ["s"]),
    helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
    helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
    helper.make_node("Concat", ["n1", "minus_one"], ["t"], axis=0),
    helper.make_node("Reshape", ["c", "t"], ["y"]),
], "y", [int64("zero", 0), int64("axes", [0]), int64("minus_one", [-1])])
LITERAL_RESIZE = model_at([helper.make_node("Resize", ["c", "", "", "sizes"], ["y"], mode="nearest")], "y",
                          [int64("sizes", [1, 4, 8, 8])])
SCALED_RESIZE = model_at([helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest")], "y",
                         [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])


@pytest.mark.parametrize(("model", "dims", "fixed"), [
    (LITERAL_RESHAPE, (1, 3, 16, 16), True),     # (1, 4, 8, 8) -> (4, 64): a batch of 4
    (LITERAL_RESHAPE, (1, 3, 12, 16), True),     # (1, 4, 6, 8) -> (3, 64)
    (FLATTEN_RESHAPE, (1, 3, 16, 16), False),    # (1, -1) takes any size
    (FLATTEN_RESHAPE, (3, 3, 8, 8), True),       # its 1 was the batch
    (COMPUTED_RESHAPE, (5, 3, 16, 16), False),   # recomputed from the input's shape
    (LITERAL_RESIZE, (1, 3, 16, 16), True),      # stays 8x8
    (SCALED_RESIZE, (1, 3, 16, 16), False),      # scales follow
])
def test_shapes_at_another_size_are_onnxruntimes(model, dims, fixed):
    shapes, findings = analysed(model, dims)
    truth = run_all_tensors(with_input_dims(model, dims))
    assert {name: shapes[name] for name in truth} == truth
    reported = [d for d in findings if d.code == "S109"]
    assert bool(reported) == fixed
    assert [d.code for d in findings if d.code != "S109"] == []


def test_the_finding_says_what_the_constant_held_and_what_the_input_is_now():
    _, findings = analysed(LITERAL_RESHAPE, (1, 3, 16, 16))
    (finding,) = findings
    assert finding.node == "Reshape_1" and finding.severity == "warning"
    assert finding.message == ("target shape (-1, 64) is a constant of the model: its dim 1 (64) holds axes 1-3 of "
                               "the input, 4x4x4 = 64 at the declared input size; the input is now (1, 4, 8, 8), "
                               "where they hold 4x8x8 = 256")
    _, findings = analysed(FLATTEN_RESHAPE, batch=3)
    assert [d.message for d in findings] == [
        "target shape (1, -1) is a constant of the model: its dim 0 (1) holds axis 0 of the input, 1 at the "
        "declared input size; the input is now (3, 4, 4, 4), where it holds 3"]
    _, findings = analysed(LITERAL_RESIZE, (1, 3, 16, 16))
    assert [d.message for d in findings] == [
        "resizes to a constant 8x8 (its size at the declared input size, from 4x4); its input is now 8x8 and still "
        "becomes 8x8, where the declared scale would give 16x16"]


def test_a_reshape_that_cannot_hold_the_new_size_fails_and_says_why():
    _, findings = analysed(LITERAL_RESHAPE, (1, 3, 10, 10))  # 4x5x5 = 100 elements, not a multiple of 64
    assert [d.code for d in findings] == ["S105", "S109"]
    with pytest.raises(Exception, match=r"Reshape"):
        run_all_tensors(with_input_dims(LITERAL_RESHAPE, (1, 3, 10, 10)))


def test_fixed_dims_are_replaced_only_when_asked(tmp_path):
    path = tmp_path / "fixed.onnx"
    onnx.save(LITERAL_RESHAPE, path)
    refused = runner.invoke(app, ["analyze", str(path), "--input-shape", "x=1x3x16x16"])
    assert refused.exit_code == 2
    assert refused.stderr == ("error: " + str(path) + ": --input-shape 1x3x16x16 for 'x' conflicts with its fixed shape "
                              "(1, 3, 8, 8); add --override-shape to analyse the model at this size\n")
    refused = runner.invoke(app, ["analyze", str(path), "--batch", "2"])
    assert refused.exit_code == 2 and "--batch 2 conflicts with the batch dim 1 fixed in 'x'" in refused.stderr
    code, report = cli_json(str(path), "--input-shape", "x=1x3x16x16", "--override-shape")
    assert code == 0  # S109 is a warning
    assert report["inputs"] == [{"name": "x", "shape": [1, 3, 16, 16]}]
    assert [d["code"] for d in report["diagnostics"]] == ["S109"]
    assert report["nodes"][-1]["outputs"][0]["shape"] == list(run_all_tensors(with_input_dims(LITERAL_RESHAPE, (1, 3, 16, 16)))["y"])
    disagree = runner.invoke(app, ["analyze", str(path), "--input-shape", "x=1x3x16x16", "--batch", "2", "--override-shape"])
    assert disagree.exit_code == 2 and "--batch 2 and --input-shape 1x3x16x16 for 'x' disagree on the batch size" in disagree.stderr


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("image=1x3x-5x64", "dim -5 must be positive"),
        ("1x3x0x64", "dim 0 must be positive"),
        ("image=1x3x" + "9" * 30 + "x64", "dim 999999999999999999999999 is larger than 2**40 = 1,099,511,627,776"),
        ("image=1x3x2199023255552x64", "dim 2199023255552 is larger than 2**40"),
        ("image=1x3x3.5x64", "dim '3.5' is neither a positive integer nor a name"),
        ("image=1xx3x64", "expected NAME=1x3x224x224"),
        ("image=", "expected NAME=1x3x224x224"),
    ],
)
def test_input_shape_refuses_dims_that_are_not_sizes(given, message):
    """A dim is a positive integer or a name (a symbolic dim): -5 is neither, and is refused
    before any analysis (onnxruntime refuses a negative dim as well)."""
    for command in (["analyze", str(SAMPLES / "tiny_resnet.onnx")], ["sizes", str(SAMPLES / "tiny_resnet.onnx")],
                    ["check", str(SAMPLES / "tiny_resnet.onnx")]):
        result = runner.invoke(app, [*command, "--input-shape", given])
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: --input-shape {given!r}: {message}"), line
    with pytest.raises(ValueError, match="must be positive"):
        from analyzer.api import analyze as analyze_api

        analyze_api(str(SAMPLES / "tiny_resnet.onnx"), input_shape=(1, 3, -5, 64))


def test_input_shape_names_stay_symbolic():
    code, report = cli_json(str(SAMPLES / "tiny_resnet.onnx"), "--input-shape", "image=Bx3x64x64")
    assert code == 0 and report["inputs"][0]["shape"] == ["B", 3, 64, 64]
