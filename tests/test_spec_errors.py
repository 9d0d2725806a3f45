"""Invalid specs: every problem on its own line with its JSON pointer, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from analyzer.cli import app

VALID_LAYER = {"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 3}


def run(tmp_path, text: str | dict, name: str = "spec.json"):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    result = CliRunner().invoke(app, ["analyze", str(path)])
    return result, str(path)


def lines(result) -> list[str]:
    return result.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{**VALID_LAYER, "kernel_size": 0}]},
         ["/layers/0/kernel_size: must be a positive integer or a list of 1 to 3 of them (one per spatial axis), got 0"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": "c", "op": "convolution"}]},
         ["/layers/0/op: unknown op 'convolution'"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": "c"}]},
         ["/layers/0: missing 'op'"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{**VALID_LAYER, "strides": 2}]},
         ["/layers/0/strides: unknown field"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{**VALID_LAYER, "stride": -1}]},
         ["/layers/0/stride: must be a positive integer"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": "c", "op": "conv", "kernel_size": 3}]},
         ["/layers/0/out_channels: missing required field"]),
        ({"inputs": [{"name": "x", "shape": [3, 0, 8]}], "layers": [VALID_LAYER]},
         ["/inputs/0/shape/1: Input should be greater than or equal to 1"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{**VALID_LAYER, "padding": "full"}]},
         ["/layers/0/padding: must be a non-negative integer"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{**VALID_LAYER, "stride": 2, "padding": "same"}]},
         ['/layers/0: padding="same" is not supported for strided convolutions']),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [{"name": "a", "op": "add", "inputs": ["x"]}]},
         ["/layers/0: add needs at least 2 inputs, got 1"]),
        ({"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": []},
         ["/layers: List should have at least 1 item"]),
        ({"layers": [VALID_LAYER]}, ["/inputs: missing required field"]),
    ],
)
def test_schema_violations(tmp_path, document, expected):
    result, path = run(tmp_path, document)
    assert result.exit_code == 2
    assert result.stdout == ""
    got = lines(result)
    assert len(got) == len(expected)
    for line, want in zip(got, expected):
        assert line.startswith(f"error: {path}: {want}")


def test_every_error_is_reported_at_once(tmp_path):
    document = {
        "inputs": [{"name": "x", "shape": [3, 8, 8]}],
        "layers": [{**VALID_LAYER, "kernel_size": 0}, {"name": "r", "op": "relu", "extra": 1},
                   {"name": "p", "op": "max_pool"}],
    }
    result, _ = run(tmp_path, document)
    assert result.exit_code == 2
    assert [line.split(": ")[2] for line in lines(result)] == [
        "/layers/0/kernel_size", "/layers/1/extra", "/layers/2/kernel_size",
    ]


@pytest.mark.parametrize(
    ("layers", "location", "message"),
    [
        ([VALID_LAYER, {**VALID_LAYER}], "/layers/1/name", "duplicate name 'c' (first used at /layers/0)"),
        ([{**VALID_LAYER, "name": "x"}], "/layers/0/name", "duplicate name 'x' (a model input)"),
        ([{**VALID_LAYER, "inputs": ["nope"]}], "/layers/0/inputs/0", "'c' reads 'nope', which is not defined"),
        ([{"name": "a", "op": "add", "inputs": ["x", "b"]}, {"name": "b", "op": "relu", "inputs": ["a"]}],
         "/layers/0", "the graph has a cycle: a -> b -> a"),
    ],
)
def test_graph_errors(tmp_path, layers, location, message):
    result, path = run(tmp_path, {"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": layers})
    assert result.exit_code == 2
    assert lines(result) == [f"error: {path}: {location}: {message}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"inputs": [', "line 1 column 13: invalid JSON: Expecting value"),
        ('{"inputs": 1,}', "line 1 column 14: invalid JSON: Expecting property name enclosed in double quotes"),
        ("", "the file is empty"),
        ("[" * 100000 + "]" * 100000, "invalid JSON: nested too deeply"),
        ("[1, 2]", "/: must be an object, got a list [1, 2]"),
    ],
)
def test_unreadable_json(tmp_path, text, expected):
    result, path = run(tmp_path, text)
    assert result.exit_code == 2
    (line,) = lines(result)
    assert line.startswith(f"error: {path}: {expected}")


def test_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert lines(result) == [f"error: {tmp_path / 'nope.json'}: no such file"]


SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "spec.schema.json").read_text())
LINEAR = {"name": "fc", "op": "linear", "out_features": 10}


@pytest.mark.parametrize(
    ("layer", "inputs", "pointer"),
    [
        ({**LINEAR, "out_features": "10"}, None, "/layers/0/out_features"),
        ({**LINEAR, "bias": "yes"}, None, "/layers/0/bias"),
        ({**LINEAR, "bias": 1}, None, "/layers/0/bias"),
        ({**LINEAR, "bias": None}, None, "/layers/0/bias"),
        ({**LINEAR, "name": 3}, None, "/layers/0/name"),
        ({**LINEAR, "out_features": True}, None, "/layers/0/out_features"),
        ({"name": "s", "op": "softmax", "axis": True}, None, "/layers/0/axis"),
        ({"name": "s", "op": "softmax", "axis": "0"}, None, "/layers/0/axis"),
        ({"name": "p", "op": "max_pool", "kernel_size": 2, "ceil_mode": "false"}, None, "/layers/0/ceil_mode"),
        ({"name": "b", "op": "batch_norm", "eps": "1e-5"}, None, "/layers/0/eps"),
        (LINEAR, [{"name": "x", "shape": ["3", 8, 8]}], "/inputs/0/shape/0"),
        # accepted by both: integers where numbers belong, null where allowed
        ({"name": "b", "op": "batch_norm", "eps": 1, "momentum": None}, None, None),
        ({"name": "d", "op": "dropout", "p": 1}, None, None),
        ({"name": "u", "op": "upsample", "scale_factor": 2, "align_corners": None, "mode": "bilinear"}, None, None),
        (LINEAR, None, None),
    ],
)
def test_types_are_checked_as_the_json_schema_says(tmp_path, layer, inputs, pointer):
    """No coercion: a spec is refused exactly when the JSON Schema (validated by jsonschema,
    as editors do) refuses it, with the pointer of the offending value."""
    document = {"inputs": inputs or [{"name": "x", "shape": [3, 8, 8]}], "layers": [layer]}
    valid = jsonschema.Draft202012Validator(SCHEMA).is_valid(document)
    assert valid == (pointer is None)
    result, path = run(tmp_path, document)
    assert (result.exit_code == 2) == (not valid), result.stderr
    if pointer is not None:
        (line,) = lines(result)
        assert line.startswith(f"error: {path}: {pointer}: must be "), line


@pytest.mark.parametrize(
    ("field", "value", "build"),
    [
        ("out_features", 10.0, lambda torch: torch.nn.Linear(4, 10.0)),
        ("in_features", 4.0, lambda torch: torch.nn.Linear(4.0, 10)),
    ],
)
def test_integral_floats_are_refused_as_pytorch_refuses_them(tmp_path, field, value, build):
    """JSON Schema's integer type lets 10.0 pass; PyTorch does not build nn.Linear(4, 10.0),
    and a spec describes a PyTorch model: 10.0 where an integer belongs is an error."""
    import torch

    with pytest.raises(TypeError):
        build(torch)
    document = {"inputs": [{"name": "x", "shape": [4]}], "layers": [{**LINEAR, field: value}]}
    result, path = run(tmp_path, document)
    assert result.exit_code == 2
    assert lines(result) == [f"error: {path}: /layers/0/{field}: must be an integer, got {value}"]


@pytest.mark.parametrize(
    ("layer", "pointer", "message"),
    [
        ({**VALID_LAYER, "out_chanels": 4}, "/layers/0/out_chanels",
         "unknown field of this conv layer (did you mean 'out_channels'?)"),
        ({**VALID_LAYER, "strides": 2}, "/layers/0/strides", "unknown field of this conv layer (did you mean 'stride'?)"),
        ({**VALID_LAYER, "kernel": 2}, "/layers/0/kernel", "unknown field of this conv layer (did you mean 'kernel_size'?)"),
        ({"name": "r", "op": "relu", "input": "x"}, "/layers/0/input",
         "unknown field of this relu layer (did you mean 'inputs'?)"),
        ({**VALID_LAYER, "weight_decay": 2}, "/layers/0/weight_decay", "unknown field of this conv layer"),
        ({"name": "c", "op": "Conv2d"}, "/layers/0/op", "unknown op 'Conv2d' (did you mean 'conv'?); known ops: conv, "),
        ({"name": "c", "op": "convolution"}, "/layers/0/op", "unknown op 'convolution' (did you mean 'conv'?); known ops:"),
        ({"name": "p", "op": "MaxPool2d"}, "/layers/0/op", "unknown op 'MaxPool2d' (did you mean 'max_pool'?)"),
        ({"name": "b", "op": "batchnorm"}, "/layers/0/op", "unknown op 'batchnorm' (did you mean 'batch_norm'?)"),
        ({"name": "b", "op": "dense"}, "/layers/0/op", "unknown op 'dense'; known ops: conv, "),
    ],
)
def test_did_you_mean(tmp_path, layer, pointer, message):
    result, path = run(tmp_path, {"inputs": [{"name": "x", "shape": [3, 8, 8]}], "layers": [layer]})
    assert result.exit_code == 2
    (line,) = lines(result)
    assert line.startswith(f"error: {path}: {pointer}: {message}"), line
    if "did you mean" not in message:
        assert "did you mean" not in line


def test_did_you_mean_for_inputs_and_the_spec(tmp_path):
    document = {"inputs": [{"name": "x", "shape": [3, 8, 8], "dype": "float16"}], "layers": [VALID_LAYER],
                "outpts": ["c"]}
    result, path = run(tmp_path, document)
    assert lines(result) == [
        f"error: {path}: /inputs/0/dype: unknown field of this input (did you mean 'dtype'?)",
        f"error: {path}: /outpts: unknown field of the spec (did you mean 'outputs'?)",
    ]


@pytest.mark.parametrize(
    ("shape", "layer", "evidence"),
    [
        ([1, 3, 224, 224], {**VALID_LAYER, "in_channels": 3}, "has in_channels=3"),
        ([1, 3, 224, 224], {**VALID_LAYER, "kernel_size": [7, 7]}, "has a 2-D kernel_size [7, 7]"),
        ([1, 16, 100], {**VALID_LAYER, "kernel_size": 3, "stride": [2]}, "has a 1-D stride [2]"),
        ([1, 3, 32, 32], {"name": "c", "op": "batch_norm", "num_features": 3}, "has num_features=3"),
    ],
)
def test_an_input_written_with_a_batch_dim(tmp_path, shape, layer, evidence):
    """Spec shapes are per sample: [1, 3, 224, 224] is 1 channel of a 3x224x224 volume. When
    the layer reading it shows the 1 is a batch dim, the message says so (not "set in_channels
    to 1", which would make the spec consistent and wrong)."""
    result, path = run(tmp_path, {"inputs": [{"name": "x", "shape": shape}], "layers": [layer]})
    assert result.exit_code == 2
    per_sample = ", ".join(map(str, shape[1:]))
    assert lines(result) == [
        f"error: {path}: /inputs/0/shape: {shape} reads as 1 channel of {'x'.join(map(str, shape[1:]))}, "
        f"but c (/layers/0) {evidence}: spec shapes are per sample, (C, *spatial), without the batch dim; "
        f"write [{per_sample}] (--batch sets the batch size)"]
    fixed, _ = run(tmp_path, {"inputs": [{"name": "x", "shape": shape[1:]}], "layers": [layer]})
    assert fixed.exit_code == 0, fixed.stdout


@pytest.mark.parametrize(
    "layer",
    [{**VALID_LAYER, "in_channels": 1}, {**VALID_LAYER, "kernel_size": [3, 3]}, VALID_LAYER,
     {"name": "c", "op": "batch_norm", "num_features": 1}],
)
def test_single_channel_inputs_are_not_mistaken_for_batched_ones(tmp_path, layer):
    """[1, 28, 28] is a grey image; a layer that agrees (1 channel, 2-D sizes) is no evidence."""
    result, _ = run(tmp_path, {"inputs": [{"name": "x", "shape": [1, 28, 28]}], "layers": [layer]})
    assert result.exit_code == 0, result.stderr
