"""Property tests (hypothesis): random valid specs never break the analysis; every reported
window output obeys REFERENCE §2 on its own input; receptive fields never shrink along a
chain; totals are the sums over nodes; mutated ONNX files end in exit 0, 1 or 2, never in a
traceback; edited models (inputs dropped, attributes of any kind, ops swapped) get findings,
never an internal error."""

from __future__ import annotations

import json
import math

from conftest import SAMPLES, report_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from analyzer.cli import app

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layer(draw, index: int, rank: int):
    kind = draw(st.sampled_from(["conv", "conv", "max_pool", "avg_pool", "relu", "batch_norm", "upsample",
                                 "conv_transpose", "residual"]))
    name = f"l{index}"
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    if kind == "conv":
        d = draw(st.integers(1, 2))
        padding = draw(st.one_of(st.integers(0, 2), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)).map(list), min_size=rank, max_size=rank)))
        return [{"name": name, "op": "conv", "out_channels": draw(st.integers(1, 8)), "kernel_size": k,
                 "stride": s, "dilation": d, "padding": padding}]
    if kind in ("max_pool", "avg_pool"):
        return [{"name": name, "op": kind, "kernel_size": k, "stride": s, "padding": draw(st.integers(0, k // 2)),
                 "ceil_mode": draw(st.booleans())}]
    if kind == "conv_transpose":
        return [{"name": name, "op": "conv_transpose", "out_channels": 3, "kernel_size": k, "stride": s,
                 "padding": draw(st.integers(0, (k - 1) // 2)), "output_padding": draw(st.integers(0, s - 1))}]
    if kind == "upsample":
        return [{"name": name, "op": "upsample", "scale_factor": draw(st.integers(1, 3)),
                 "mode": draw(st.sampled_from(["nearest", "linear" if rank == 1 else "bilinear" if rank == 2 else "trilinear"]))}]
    if kind == "residual":
        return [{"name": f"{name}a", "op": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
                {"name": f"{name}b", "op": "conv", "inputs": [f"{name}a"], "out_channels": 4, "kernel_size": 1},
                {"name": name, "op": "add", "inputs": [f"{name}a", f"{name}b"]}]
    return [{"name": name, "op": kind}]


@st.composite
def specs(draw):
    rank = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 6))] + [draw(st.integers(1, 40)) for _ in range(rank)]
    layers = []
    for i in range(draw(st.integers(1, 7))):
        layers += draw(layer(i, rank))
    if draw(st.booleans()):
        layers += [{"name": "gap", "op": "global_avg_pool"}, {"name": "flat", "op": "flatten"},
                   {"name": "fc", "op": "linear", "out_features": 3}]
    return {"inputs": [{"name": "x", "shape": shape}], "layers": layers}


def window_out(size: int, layer: dict, rank: int) -> int:
    k = layer["kernel_size"]
    s = layer.get("stride") or (1 if layer["op"] == "conv" else k)  # pools: the kernel by default
    d = layer.get("dilation", 1)
    padding = layer.get("padding", 0)
    pb, pe = (padding, padding) if isinstance(padding, int) else (padding[0][0], padding[0][1])
    span = size + pb + pe - d * (k - 1) - 1
    if not layer.get("ceil_mode"):
        return span // s + 1
    out = math.ceil(span / s) + 1
    return out - 1 if (out - 1) * s >= size + pb else out


@FAST
@given(specs())
def test_random_specs_are_analysed(document):
    report = report_of(document)
    assert not [d for d in report.diagnostics if d.code == "U199"]
    nodes = {n.name: n for n in report.nodes}
    rank = len(document["inputs"][0]["shape"]) - 1
    # Totals are the sums over nodes.
    if all(n.params is not None for n in report.nodes):
        assert report.totals.params == sum(n.params for n in report.nodes)
    if all(n.macs is not None for n in report.nodes):
        assert report.totals.macs == sum(n.macs for n in report.nodes)
    previous_shape, previous_size = document["inputs"][0]["shape"], [1] * rank
    for layer in document["layers"]:
        node = nodes[layer["name"]]
        shape = node.outputs[0].shape
        source = previous_shape if not layer.get("inputs") else nodes[layer["inputs"][0]].outputs[0].shape
        # Every window output obeys REFERENCE §2 on its own input (same padding on every axis here).
        if layer["op"] in ("conv", "max_pool", "avg_pool") and shape is not None and source is not None and not layer.get("inputs"):
            for axis in range(rank):
                padding = layer.get("padding", 0)
                per_axis = layer if isinstance(padding, int) else {**layer, "padding": [padding[axis]]}
                assert shape[1 + axis] == window_out(source[1 + axis], per_axis, rank)
        # Receptive fields never shrink along a chain: every unit reads at least one unit of
        # the layer before, so the smallest field cannot get smaller (the largest can, when a
        # stride picks out the smaller units of an upsampled map). The exception: a stride
        # that lands only on the units a transposed conv leaves empty (they see no input
        # pixel); then along that axis no unit sees any input, and both extents are 0.
        field = node.receptive_field
        if field is not None and not layer.get("inputs"):
            assert all(a >= b or a == s == 0 for a, b, s in zip(field.size_min, previous_size, field.size))
            assert all(a >= b for a, b in zip(field.size, field.size_min))
            previous_size = field.size_min
        previous_shape = shape
        if shape is None:
            break


runner = CliRunner()
ORIGINAL = (SAMPLES / "tiny_resnet.onnx").read_bytes()


@st.composite
def mutations(draw):
    return _mutated(bytearray(ORIGINAL), draw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=mutations())
def test_mutated_onnx_files_never_crash(tmp_path_factory, data):
    _report_or_one_error(tmp_path_factory.mktemp("mutated") / "model.onnx", data)


def _report_or_one_error(path, data: bytes) -> None:
    """``convlint analyze`` on ``data`` ends in a JSON report without U199, or in error lines
    naming the file (never a traceback or an internal error)."""
    path.write_bytes(data)
    result = runner.invoke(app, ["analyze", str(path), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert lines and all(line.startswith(f"error: {path}") for line in lines)
        assert "internal error" not in result.stderr
    else:
        assert "U199" not in [d["code"] for d in json.loads(result.stdout)["diagnostics"]]


_INTS = [0, 1, -1, 2, 3, 7, 2**31]
_ATTRIBUTES = ["axis", "group", "strides", "pads", "kernel_shape", "dilations", "perm", "axes", "auto_pad", "mode"]


@st.composite
def edited_models(draw):
    """The sample ResNet with a few edits an exporter bug or a hand edit could make: inputs
    dropped or blanked, attributes of any kind, ops swapped, weight dims changed, nodes
    removed. Many of the results are invalid ONNX; none may make convlint fail."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(ORIGINAL)
    graph = model.graph
    for _ in range(draw(st.integers(1, 3))):
        node = graph.node[draw(st.integers(0, len(graph.node) - 1))]
        edit = draw(st.sampled_from(["input", "attribute", "op", "dims", "remove", "rewire"]))
        if edit == "input" and node.input:
            slot = draw(st.integers(0, len(node.input) - 1))
            if draw(st.booleans()):
                node.input[slot] = ""
            else:
                del node.input[slot]
        elif edit == "attribute":
            value = draw(st.one_of(st.sampled_from(_INTS), st.lists(st.sampled_from(_INTS), min_size=1, max_size=5),
                                   st.sampled_from(["SAME_UPPER", "VALID", "H", "nearest"]), st.sampled_from([0.5, -1.0])))
            name = draw(st.sampled_from(_ATTRIBUTES))
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute(name, value)])
        elif edit == "op":
            node.op_type = draw(st.sampled_from(["Conv", "MaxPool", "Add", "Concat", "Gemm", "Gather", "Transpose",
                                                 "Unsqueeze", "Pad", "Resize", "ReduceMean", "Where", "Reshape"]))
        elif edit == "dims" and graph.initializer:
            tensor = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
            if tensor.dims:
                tensor.dims[draw(st.integers(0, len(tensor.dims) - 1))] = draw(st.sampled_from([0, 1, 2, 5, 64]))
        elif edit == "remove" and len(graph.node) > 1:
            graph.node.remove(node)
        elif edit == "rewire" and node.input:
            names = [o for n in graph.node for o in n.output] + [t.name for t in graph.initializer]
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
    return model


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(model=edited_models())
def test_edited_models_get_findings_never_internal_errors(model):
    """Whatever the edit, the analysis ends in a report or in one clear input error; a
    malformed node is a finding about the node (S107, S108...), never U199 ('a bug in
    convlint')."""
    from analyzer.errors import InputError
    from analyzer.frontends.onnx import build_graph
    from analyzer.passes import analyze
    from analyzer.report.build import build_report

    try:
        report = build_report(analyze(build_graph("model.onnx", model, {})))
    except InputError as error:
        assert error.problems
        return
    assert [d.message for d in report.diagnostics if d.code == "U199"] == []
    assert len(report.nodes) == len(model.graph.node)


def _seed_with_functions_and_custom_ops() -> bytes:
    """A model whose unmodelled parts send it to onnx shape inference in the child process: a
    custom-domain op, and a model-local function calling another twice."""
    from onnx import TensorProto, helper

    inner = helper.make_function("local", "Inner", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                                 [helper.make_opsetid("", 17)])
    outer = helper.make_function("local", "Outer", ["a"], ["b"],
                                 [helper.make_node("Inner", ["a"], ["t"], domain="local"),
                                  helper.make_node("Inner", ["t"], ["b"], domain="local")],
                                 [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    graph = helper.make_graph(
        [helper.make_node("Outer", ["x"], ["f"], domain="local"),
         helper.make_node("Warp", ["f"], ["w"], domain="com.acme", mode="bilinear"),
         helper.make_node("Conv", ["w", "k"], ["y"], pads=[1, 1, 1, 1])],
        "functions", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("k", TensorProto.FLOAT, [4, 3, 3, 3], [0.5] * 108)])
    model = helper.make_model(graph, functions=[inner, outer], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("local", 1), helper.make_opsetid("com.acme", 1)])
    return model.SerializeToString()


FUNCTIONS = _seed_with_functions_and_custom_ops()


def _mutated(data: bytearray, draw) -> bytes:
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position: position + draw(st.integers(1, 64))]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data or b"\x00")


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_models_with_functions_and_custom_ops_never_crash(tmp_path_factory, data):
    """Wire-level mutations of a model that goes through onnx shape inference (in the child):
    whatever the child meets, convlint ends in a report or one clear input error."""
    _report_or_one_error(tmp_path_factory.mktemp("functions") / "model.onnx", _mutated(bytearray(FUNCTIONS), data.draw))


def _toml(value) -> str:
    """A TOML value (JSON's string escapes are TOML's basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, int) or math.isfinite(value) else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_KEYS = st.sampled_from(["select", "extend-select", "ignore", "per-node-ignores", "fail-on", "input-shape",
                         "override-shape", "batch", "exclude", "unknown-key"])
_LEAVES = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=12),
                    st.sampled_from(["error", "warning", "S", "F101", "ALL", "image=1x3x8x8", "*/x/*"]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=10)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=st.dictionaries(_KEYS, _VALUES, max_size=4), pyproject=st.booleans())
def test_random_configuration_files_are_read_or_refused_in_one_line(tmp_path_factory, table, pyproject):
    folder = tmp_path_factory.mktemp("config")
    (folder / "seed.json").write_bytes((SAMPLES / "seed.json").read_bytes())
    body = "".join(f"{json.dumps(key)} = {_toml(value)}\n" for key, value in table.items())
    name = "pyproject.toml" if pyproject else "convlint.toml"
    (folder / name).write_text(("[tool.convlint]\n" if pyproject else "") + body)
    result = runner.invoke(app, ["check", str(folder / "seed.json"), "--config", str(folder / name)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert "internal error" not in lines[0]


_ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**25), st.floats(allow_nan=False),
                        st.text(max_size=4), st.lists(st.integers(-2, 4), max_size=4), st.just({"op": "relu"}))


@FAST
@given(document=specs(), edits=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(
    ["op", "kernel_size", "stride", "padding", "inputs", "name", "out_channels", "mode", "extra"]), _ODD_VALUES),
    max_size=3))
def test_the_model_built_for_a_specs_layer_types_judges_as_the_whole_spec_model(document, edits):
    """Spec validation builds validators only for the layer types a spec uses
    (spec_model_for): on valid and broken specs alike it must agree with :class:`Spec`."""
    from pydantic import ValidationError

    from analyzer.frontends.spec_layers import Spec, spec_model_for

    for index, key, value in edits:
        document["layers"][index % len(document["layers"])][key] = value

    def outcome(model):
        try:
            return model.model_validate(document).model_dump()
        except ValidationError as error:
            return error.errors(include_url=False)

    assert outcome(spec_model_for(document)) == outcome(Spec)
