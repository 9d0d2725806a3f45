"""Every rule fires on a model that has its problem and stays silent on the near miss."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from conftest import SAMPLES, spec
from onnx import TensorProto, helper, numpy_helper

from analyzer.frontends.inputs import InputSizes
from analyzer.frontends.onnx import build_graph
from analyzer.frontends.spec import load_spec
from analyzer.passes import analyze
from analyzer.report.build import build_report
from analyzer.rules import RULES
from analyzer.settings import Settings


def from_spec(layers, shape, code):
    return build_report(analyze(load_spec("spec.json", json.dumps(spec(layers, shape)))), Settings(select=(code,)))


def external(name: str, dims: list[int], location: str) -> TensorProto:
    tensor = TensorProto(name=name, dims=dims, data_type=TensorProto.FLOAT, data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def from_onnx(nodes, inputs, inits, code, opset=17, domains=(), sizes=None):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        [v if isinstance(v, TensorProto) else numpy_helper.from_array(v, n) for n, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    *(helper.make_opsetid(d, 1) for d in domains)])
    return build_report(analyze(build_graph("model.onnx", model, sizes or {})), Settings(select=(code,)))


AT_8X8 = InputSizes({"x": (1, 3, 8, 8)}, override=True)


def from_module(size: int, code: str):
    """A PyTorch classifier whose linear layer fits an 8x8 input, analysed at ``size``."""
    from torch import nn

    from analyzer.api import analyze

    classifier = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 2))
    return analyze(classifier, input_shape=(1, 3, size, size), select=[code])


def sample(name, code):
    return build_report(analyze(load_spec(str(SAMPLES / name))), Settings(select=(code,)))


def conv(name="c", **fields):
    return {"name": name, "op": "conv", "out_channels": fields.pop("out_channels", 4), **fields}


W = np.ones((4, 3, 3, 3), np.float32)

CASES: dict[str, tuple[Callable, Callable]] = {
    "S101": (lambda c: from_spec([conv(kernel_size=5)], [3, 4, 4], c),
             lambda c: from_spec([conv(kernel_size=3)], [3, 4, 4], c)),
    "S102": (lambda c: from_spec([conv(inputs=["x"], out_channels=8, kernel_size=3, stride=2, padding=1),
                                  {"name": "sum", "op": "add", "inputs": ["c", "x"]}], [4, 8, 8], c),
             lambda c: from_spec([conv(inputs=["x"], out_channels=4, kernel_size=3, padding=1),
                                  {"name": "sum", "op": "add", "inputs": ["c", "x"]}], [4, 8, 8], c)),
    "S103": (lambda c: sample("unet_bad_size.json", c), lambda c: sample("unet.json", c)),
    "S104": (lambda c: from_spec([{"name": "f", "op": "flatten"}, {"name": "l", "op": "linear", "in_features": 10, "out_features": 2}], [3, 2, 2], c),
             lambda c: from_spec([{"name": "f", "op": "flatten"}, {"name": "l", "op": "linear", "in_features": 12, "out_features": 2}], [3, 2, 2], c)),
    "S105": (lambda c: from_onnx([helper.make_node("Reshape", ["x", "t"], ["y"])], {"x": [1, 3, 4, 4]}, {"t": np.array([1, 50], np.int64)}, c),
             lambda c: from_onnx([helper.make_node("Reshape", ["x", "t"], ["y"])], {"x": [1, 3, 4, 4]}, {"t": np.array([1, 48], np.int64)}, c)),
    "S109": (lambda c: from_onnx([helper.make_node("Reshape", ["x", "t"], ["y"])], {"x": [1, 3, 4, 4]}, {"t": np.array([-1, 48], np.int64)}, c, sizes=AT_8X8),
             lambda c: from_onnx([helper.make_node("Reshape", ["x", "t"], ["y"])], {"x": [1, 3, 4, 4]}, {"t": np.array([1, -1], np.int64)}, c, sizes=AT_8X8)),
    "S110": (lambda c: from_module(9, c), lambda c: from_module(8, c)),
    "S106": (lambda c: from_spec([conv(kernel_size=[3, 3])], [3, 20], c), lambda c: from_spec([conv(kernel_size=[3])], [3, 20], c)),
    "S107": (lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 1])], {"x": [1, 3, 8, 8]}, {"w": W}, c),
             lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], strides=[1, 1])], {"x": [1, 3, 8, 8]}, {"w": W}, c)),
    # 2**40 + 1 rows: past convlint's per-dim limit (2**40); 2**40 rows are still computed
    "S111": (lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2**39 + 1, 0, 2**39, 0])], {"x": [1, 3, 2, 8]}, {"w": W}, c),
             lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2**39, 0, 2**39, 0])], {"x": [1, 3, 2, 8]}, {"w": W}, c)),
    "S108": (lambda c: from_onnx([helper.make_node("Conv", ["x", ""], ["y"], kernel_shape=[3, 3])], {"x": [1, 3, 8, 8]}, {}, c),
             lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])], {"x": [1, 3, 8, 8]}, {"w": W}, c)),
    "C101": (lambda c: from_spec([conv(kernel_size=1, in_channels=4)], [3, 8, 8], c), lambda c: from_spec([conv(kernel_size=1, in_channels=3)], [3, 8, 8], c)),
    "C102": (lambda c: from_spec([conv(kernel_size=1, out_channels=6, groups=4)], [8, 8, 8], c), lambda c: from_spec([conv(kernel_size=1, out_channels=8, groups=4)], [8, 8, 8], c)),
    "C103": (lambda c: from_spec([{"name": "bn", "op": "batch_norm", "num_features": 4}], [3, 8, 8], c), lambda c: from_spec([{"name": "bn", "op": "batch_norm", "num_features": 3}], [3, 8, 8], c)),
    "F101": (lambda c: sample("seed.json", c), lambda c: from_spec([conv(kernel_size=3, stride=2)], [3, 7, 7], c)),
    "F102": (lambda c: from_spec([conv(kernel_size=1, stride=2)], [3, 8, 8], c),
             lambda c: from_spec([conv("a", inputs=["x"], kernel_size=1, stride=2), conv("b", inputs=["x"], kernel_size=3, stride=2, padding=1),
                                  {"name": "s", "op": "add", "inputs": ["a", "b"]}], [3, 8, 8], c)),
    "D101": (lambda c: from_spec([conv(kernel_size=1, stride=2)], [3, 8, 8], c), lambda c: from_spec([conv(kernel_size=2, stride=2)], [3, 8, 8], c)),
    "D102": (lambda c: from_spec([conv(kernel_size=3, padding=3)], [3, 8, 8], c), lambda c: from_spec([conv(kernel_size=3, padding=2)], [3, 8, 8], c)),
    "D103": (lambda c: from_spec([{"name": "p", "op": "max_pool", "kernel_size": 3, "padding": 2}], [3, 8, 8], c),
             lambda c: from_spec([{"name": "p", "op": "max_pool", "kernel_size": 3, "padding": 1}], [3, 8, 8], c)),
    "D104": (lambda c: from_spec([conv(kernel_size=3), {"name": "g", "op": "global_avg_pool"}], [3, 8, 8], c),
             lambda c: from_spec([conv(kernel_size=9), {"name": "g", "op": "global_avg_pool"}], [3, 8, 8], c)),
    "R101": (lambda c: from_spec([conv("a", inputs=["x"], kernel_size=1), conv("b", inputs=["x"], kernel_size=1, stride=8),
                                  {"name": "s", "op": "add", "inputs": ["a", "b"]}], [3, 8, 8], c),
             lambda c: from_spec([conv("a", inputs=["x"], kernel_size=1), conv("b", inputs=["x"], kernel_size=3, padding=1),
                                  {"name": "s", "op": "add", "inputs": ["a", "b"]}], [3, 8, 8], c)),
    "R102": (lambda c: sample("resnet18.json", c), lambda c: sample("vgg16.json", c)),
    # Softmax over 4x4 windows of an 8x8 map (H and W each split in two), or over all 64 positions
    "R103": (lambda c: from_onnx([helper.make_node("Reshape", ["x", "windows"], ["w6"]),
                                  helper.make_node("Transpose", ["w6"], ["t"], perm=[0, 2, 4, 1, 3, 5]),
                                  helper.make_node("Reshape", ["t", "tokens"], ["w"]),
                                  helper.make_node("Softmax", ["w"], ["y"], axis=-1)], {"x": [1, 3, 8, 8]},
                                 {"windows": np.array([1, 3, 2, 4, 2, 4]), "tokens": np.array([4, 3, 16])}, c),
             lambda c: from_onnx([helper.make_node("Reshape", ["x", "flat"], ["w"]),
                                  helper.make_node("Softmax", ["w"], ["y"], axis=-1)], {"x": [1, 3, 8, 8]},
                                 {"flat": np.array([1, 3, 64])}, c)),
    "U101": (lambda c: from_onnx([helper.make_node("Mystery", ["x"], ["y"], domain="com.example")], {"x": [1, 3, 4, 4]}, {}, c, domains=("com.example",)),
             lambda c: from_onnx([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 3, 4, 4]}, {}, c)),
    "U102": (lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2])], {"x": [1, 3, "H", "W"]}, {"w": W}, c),
             lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2])], {"x": [1, 3, 9, 9]}, {"w": W}, c)),
    "U104": (lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 3, 8, 8]}, {"w": external("w", [4, 3, 3, 3], "../../etc/passwd")}, c),
             lambda c: from_onnx([helper.make_node("Conv", ["x", "w"], ["y"])], {"x": [1, 3, 8, 8]}, {"w": external("w", [4, 3, 3, 3], "weights.bin")}, c)),
    "U105": (lambda c: from_onnx([helper.make_node("RegexFullMatch", [""], ["r"], pattern="a"),  # onnx segfaults
                                  helper.make_node("Mystery", ["x"], ["y"], domain="com.example")],
                                 {"x": [1, 3, 4, 4]}, {}, c, opset=22, domains=("com.example",)),
             lambda c: from_onnx([helper.make_node("Mystery", ["x"], ["y"], domain="com.example")], {"x": [1, 3, 4, 4]}, {}, c, domains=("com.example",))),
    "U103": (lambda c: from_onnx([helper.make_node("Det", ["x"], ["y"])], {"x": [1, 3, 4, 4]}, {}, c),
             lambda c: from_onnx([helper.make_node("Mystery", ["x"], ["y"], domain="com.example")], {"x": [1, 3, 4, 4]}, {}, c, domains=("com.example",))),
}


def test_every_rule_has_a_case():
    assert sorted(CASES) == sorted(code for code in RULES if code != "U199")


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires(code):
    report = CASES[code][0](code)
    found = list(report.diagnostics)
    assert found and {d.code for d in found} == {code}
    assert all(d.severity == RULES[code].severity_in(report.model.format) for d in found)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_stays_silent(code):
    assert CASES[code][1](code).diagnostics == []


def test_rules_off_by_default_need_selecting():
    layers = [conv(kernel_size=1, stride=2)]
    report = build_report(analyze(load_spec("spec.json", json.dumps(spec(layers, [3, 8, 8])))))
    assert [d.code for d in report.diagnostics] == ["F102"]  # D101 holds but is off by default


def test_a_bug_in_an_op_rule_is_a_finding_not_a_crash(monkeypatch):
    from analyzer import ops

    def broken(ctx):
        raise ZeroDivisionError("oops")

    relu = ops.lookup("", "Relu")
    monkeypatch.setitem(ops.REGISTRY, ("", "Relu"), type(relu)(**{**{f: getattr(relu, f) for f in relu.__dataclass_fields__}, "infer": broken}))
    report = from_onnx([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 3, 4, 4]}, {}, "U199")
    (finding,) = report.diagnostics
    assert finding.code == "U199" and "ZeroDivisionError: oops" in finding.message
    with pytest.raises(ZeroDivisionError):
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        analyze(build_graph("m.onnx", helper.make_model(graph), {}), debug=True)


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
def test_an_over_padded_pool_is_an_error_in_a_spec_and_a_warning_in_onnx(op):
    """PyTorch refuses to run the pool a spec describes; onnxruntime runs the same ONNX pool
    (padding 2 around a 3x3 window), so there D103 stays a warning."""
    import onnxruntime as ort
    import torch

    module = (torch.nn.MaxPool2d if op == "max_pool" else torch.nn.AvgPool2d)(3, padding=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        module(torch.zeros(1, 3, 8, 8))
    layer = {"name": "p", "op": op, "kernel_size": 3, "padding": 2}
    (finding,) = from_spec([layer], [3, 8, 8], "D103").diagnostics
    assert finding.severity == "error"

    onnx_op = "MaxPool" if op == "max_pool" else "AveragePool"
    nodes = [helper.make_node(onnx_op, ["x"], ["y"], kernel_shape=[3, 3], pads=[2, 2, 2, 2])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)})[0].shape == (1, 3, 10, 10)
    (finding,) = from_onnx(nodes, {"x": [1, 3, 8, 8]}, {}, "D103").diagnostics
    assert finding.severity == "warning"
