"""Invalid specs: every problem on its own line with its JSON pointer, exit code 2."""

from __future__ import annotations

import json

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
        ("[1, 2]", "/: Input should be a valid dictionary"),
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
