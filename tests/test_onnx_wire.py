"""Weights are never read: the wire-format scanner leaves large payloads out unparsed."""

from __future__ import annotations

import json

import numpy as np
import onnx
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.frontends.onnx_wire import KEEP_PAYLOAD_BYTES, _encode_varint, slim_model

runner = CliRunner()


def _key(field: int, wire: int = 2) -> bytes:
    return _encode_varint(field << 3 | wire)


def test_slim_model_keeps_the_structure_and_drops_large_payloads():
    original = onnx.load(SAMPLES / "tiny_resnet.onnx")
    slim = onnx.ModelProto()
    with open(SAMPLES / "tiny_resnet.onnx", "rb") as file:
        slim.ParseFromString(slim_model(file))
    assert slim.graph.node == original.graph.node
    assert [(t.name, list(t.dims), t.data_type) for t in slim.graph.initializer] == [
        (t.name, list(t.dims), t.data_type) for t in original.graph.initializer
    ]
    for before, after in zip(original.graph.initializer, slim.graph.initializer):
        if len(before.raw_data) > KEEP_PAYLOAD_BYTES:
            assert after.raw_data == b""
        else:
            assert after.raw_data == before.raw_data


def _big_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 32, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.standard_normal((10, 64)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, fc])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_garbage_in_weight_payloads_gives_the_same_report(tmp_path):
    model = _big_model()
    clean = tmp_path / "clean.onnx"
    onnx.save(model, clean)
    data = bytearray(clean.read_bytes())
    payload = model.graph.initializer[0].raw_data
    start = bytes(data).find(payload)
    assert start > 0 and len(payload) > KEEP_PAYLOAD_BYTES
    data[start:start + len(payload)] = np.random.default_rng(1).bytes(len(payload))
    dirty = tmp_path / "dirty.onnx"
    dirty.write_bytes(bytes(data))
    reports = [json.loads(runner.invoke(app, ["analyze", str(p), "-f", "json"]).stdout) for p in (clean, dirty)]
    assert reports[0]["nodes"] == reports[1]["nodes"]
    assert reports[0]["totals"]["params"] == 64 * 32 * 9 + 640


def test_a_three_gigabyte_weight_is_never_read(tmp_path):
    """A sparse file whose 3.2 GB weight payload is a hole: protobuf alone could not even
    parse it (2 GB limit); convlint only reads the headers around it."""
    count = 800_000_000
    tensor = onnx.TensorProto(name="w", dims=[count, 1, 1, 1], data_type=TensorProto.FLOAT)
    tensor_prefix = tensor.SerializeToString() + _key(9) + _encode_varint(4 * count)
    tensor_length = len(tensor_prefix) + 4 * count
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "huge",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    graph_prefix = graph.SerializeToString() + _key(5) + _encode_varint(tensor_length) + tensor_prefix
    graph_length = len(graph_prefix) + 4 * count
    model = helper.make_model(onnx.GraphProto(), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    prefix = model.SerializeToString() + _key(7) + _encode_varint(graph_length) + graph_prefix
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as file:
        file.write(prefix)
        file.truncate(len(prefix) + 4 * count)
    result = runner.invoke(app, ["analyze", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["params"] == count
    assert report["nodes"][0]["outputs"][0]["shape"] == [1, count, 8, 8]
