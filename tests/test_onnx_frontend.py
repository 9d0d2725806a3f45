"""The ONNX front end as users meet it: the shipped sample, free dims, unmodelled ops,
external data that is never read, and files that are not models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import ROOT, SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_tensors, shapes_by_tensor
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.frontends.onnx import build_graph

runner = CliRunner()


def test_sample_matches_onnxruntime_and_its_weights():
    model = onnx.load(SAMPLES / "tiny_resnet.onnx")
    report = report_of_model(model, {"image": (2, 3, 64, 64)})
    theirs = run_all_tensors(model, {"image": np.zeros((2, 3, 64, 64), np.float32)})
    ours = shapes_by_tensor(report)
    for name, shape in theirs.items():
        assert ours[name] == list(shape)
    weights = [numpy_helper.to_array(i) for i in model.graph.initializer]
    bn_stats = sum(w.size for i, w in zip(model.graph.initializer, weights) if "running" in i.name)
    assert report.totals.params == sum(w.size for w in weights) - bn_stats
    assert report.totals.buffers == bn_stats


def test_sample_generator_is_reproducible(tmp_path):
    names = ("tiny_resnet.onnx", "tiny_resnet_wide.onnx")
    committed = {name: (SAMPLES / name).read_bytes() for name in names}
    subprocess.run([sys.executable, str(SAMPLES / "make_onnx.py")], check=True, capture_output=True)
    assert {name: (SAMPLES / name).read_bytes() for name in names} == committed


def test_cli_on_the_sample_keeps_the_batch_symbolic():
    result = runner.invoke(app, ["analyze", str(SAMPLES / "tiny_resnet.onnx"), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"]["format"] == "onnx"
    assert report["inputs"] == [{"name": "image", "shape": ["N", 3, 64, 64]}]
    logits = report["nodes"][-1]
    assert logits["outputs"] == [{"name": "logits", "shape": ["N", 10]}]
    assert logits["macs"] == 320


def test_input_shape_option():
    result = runner.invoke(app, ["analyze", str(SAMPLES / "tiny_resnet.onnx"), "-f", "json",
                                 "--input-shape", "image=4x3x64x64"])
    assert json.loads(result.stdout)["nodes"][-1]["outputs"][0]["shape"] == [4, 10]
    for bad, message in [
        ("image=1x3x32", "has rank 3, the model's input has rank 4"),
        ("image=1x3x32x32", "conflicts with its fixed shape"),
        ("pixels=1x3x64x64", "--input-shape names pixels, but the model's inputs are image"),
        ("image=", "expected NAME=1x3x224x224"),
    ]:
        result = runner.invoke(app, ["analyze", str(SAMPLES / "tiny_resnet.onnx"), "--input-shape", bad])
        assert result.exit_code == 2
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _free_spatial_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
    ]
    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(nodes, "free", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("g", TensorProto.FLOAT, None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_free_spatial_dims(tmp_path):
    path = tmp_path / "free.onnx"
    onnx.save(_free_spatial_model(), path)
    report = json.loads(runner.invoke(app, ["analyze", str(path), "-f", "json"]).stdout)
    assert [n["outputs"][0]["shape"] for n in report["nodes"]] == [["N", 8, "?", "?"], ["N", 8, "?", "?"], ["N", 8, 1, 1]]
    assert report["totals"]["params"] == 8 * 27
    assert report["nodes"][0]["receptive_field"]["size"] == [3, 3]
    assert [d["code"] for d in report["diagnostics"]] == ["U102"]
    fixed = json.loads(runner.invoke(app, ["analyze", str(path), "-f", "json", "--input-shape", "x=1x3x33x32"]).stdout)
    assert fixed["nodes"][0]["outputs"][0]["shape"] == [1, 8, 17, 16]


def test_missing_external_data_is_never_needed(tmp_path):
    model = onnx.load(SAMPLES / "tiny_resnet.onnx")
    path = tmp_path / "external.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0)
    expected = runner.invoke(app, ["analyze", str(SAMPLES / "tiny_resnet.onnx"), "-f", "json"]).stdout
    (tmp_path / "weights.bin").unlink()
    result = runner.invoke(app, ["analyze", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    ours, theirs = json.loads(result.stdout), json.loads(expected)
    assert ours["nodes"] == theirs["nodes"] and ours["totals"] == theirs["totals"]


def test_unmodelled_ops_are_reported_not_guessed(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Det", ["r"], ["cs"]),  # ONNX shape inference knows it
        helper.make_node("Mystery", ["cs"], ["m"], domain="com.example"),  # nobody knows it
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(1, np.int64), "axis")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, path)
    result = runner.invoke(app, ["analyze", str(path), "-f", "json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    shapes = {n["name"]: n["outputs"][0]["shape"] for n in report["nodes"]}
    assert shapes == {"Relu_0": [1, 3, 8, 8], "Det_1": [1, 3], "Mystery_2": None, "Relu_3": None}
    found = [(d["code"], d["node"]) for d in report["diagnostics"]]
    assert found == [("U101", "Det_1"), ("U103", "Det_1"), ("U101", "Mystery_2")]
    assert "com.example::Mystery is not modelled" in report["diagnostics"][2]["message"]
    assert (report["totals"]["macs"], report["totals"]["unknown"]["macs"]) == (0, 2)  # Det's and Mystery's


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.onnx", b"\x00\xff\x13 not a model at all \x99" * 10, "not a valid ONNX model"),
        ("spec.onnx", b'{"inputs": []}', "not a valid ONNX model: this is a JSON file"),
        ("empty.onnx", b"", "the file is empty"),
        ("model.json", b"\x08\x07\x12\x04test", "not a JSON spec: this looks like an ONNX model (rename it to .onnx)"),
    ],
)
def test_files_that_are_not_models(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: ") and message in line


def test_truncated_model(tmp_path):
    data = (SAMPLES / "tiny_resnet.onnx").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 2
    assert "not a valid ONNX model" in result.stderr


def test_readme_shows_the_onnx_sample():
    assert "convlint analyze samples/tiny_resnet.onnx" in (ROOT / "README.md").read_text()


def test_ops_sharing_one_attribute_encoding_keep_their_own_semantics():
    """A Conv and a MaxPool with byte-identical attributes share one decoded attribute dict;
    each must still get its own shape rule, parameters and MACs (onnxruntime for shapes)."""
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1", **attrs),
            helper.make_node("MaxPool", ["c1"], ["p1"], name="pool1", **attrs),
            helper.make_node("MaxPool", ["p1"], ["p2"], name="pool2", **{**attrs, "pads": [0, 0, 0, 0]}),
        ],
        "shared",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
        [helper.make_tensor_value_info("p2", TensorProto.FLOAT, None)],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    loaded = build_graph("model.onnx", model, {})
    assert loaded.nodes["conv1"].attrs is loaded.nodes["pool1"].attrs
    assert loaded.nodes["pool2"].attrs is not loaded.nodes["pool1"].attrs
    report = report_of_model(model)
    expected = run_all_tensors(model)
    assert {t: tuple(s) for t, s in shapes_by_tensor(report).items()} == expected
    # (9 + 2 - 3) // 2 + 1 = 5, then (5 + 2 - 3) // 2 + 1 = 3, then (3 - 3) // 2 + 1 = 1
    assert expected == {"c1": (1, 4, 5, 5), "p1": (1, 4, 3, 3), "p2": (1, 4, 1, 1)}
    nodes = {n.name: n for n in report.nodes}
    assert (nodes["conv1"].params, nodes["pool1"].params) == (4 * 3 * 3 * 3, 0)
    assert (nodes["conv1"].macs, nodes["pool1"].macs) == (4 * 5 * 5 * 3 * 3 * 3, 0)


def _wheel_models() -> list:
    import glob
    import os

    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    return sorted(glob.glob(os.path.join(data, "pytorch-converted", "*", "model.onnx")))[:12]


def _renamed_and_shuffled() -> onnx.ModelProto:
    """Nodes out of topological order, one name used twice and one left empty."""
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["r", "x"], ["y"], name="dup"),
            helper.make_node("Relu", ["x"], ["r"], name="dup"),
            helper.make_node("Relu", ["y"], ["z"]),
        ],
        "shuffled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("source", [*_wheel_models(), "shuffled"])
def test_producers_and_consumers_match_the_protobuf(source):
    """Who writes and who reads each tensor, against the node lists of the file itself (the
    builder records readers as nodes arrive; producers are built when first asked for)."""
    model = _renamed_and_shuffled() if source == "shuffled" else onnx.load(source, load_external_data=False)
    loaded = build_graph("model.onnx", model, {})
    protos = list(model.graph.node)
    names = [loaded.nodes[name] for name in loaded.order]
    by_proto = {int(node.location.rsplit("/", 1)[1]): node.name for node in names}
    expected_producers = {out: by_proto[i] for i, p in enumerate(protos) for out in p.output if out}
    assert loaded.producers == expected_producers
    assert all(loaded.producer(t) == n for t, n in expected_producers.items())
    rank = {name: i for i, name in enumerate(loaded.order)}
    expected_readers: dict[str, list[str]] = {}
    for i, proto in enumerate(protos):
        for tensor in proto.input:
            if tensor:
                expected_readers.setdefault(tensor, []).append(by_proto[i])
    for tensor, readers in expected_readers.items():
        assert loaded.consumers[tensor] == sorted(readers, key=rank.__getitem__)
    assert all(not readers for t, readers in loaded.consumers.items() if t not in expected_readers)
    if source == "shuffled":
        assert sorted(loaded.nodes) == ["Relu_2", "dup", "dup_1"]
        assert loaded.order == ["dup_1", "dup", "Relu_2"]  # Relu before the Add that reads it
        assert loaded.producers == {"r": "dup_1", "y": "dup", "z": "Relu_2"}


def test_a_node_without_outputs_is_refused(tmp_path):
    """ONNX's checker refuses a node that writes nothing; so does convlint, in one line that
    names the node (the passes would otherwise have an op with no output to describe)."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Relu", ["r"], [], name="sink")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model)
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {path}: /graph/node/1: 'sink' has no output (every op writes at least one)"
    ]
