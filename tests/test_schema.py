"""The JSON Schemas in schemas/ are generated from the models and validate real documents."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.schemas import SCHEMA_FILES, schema_text


@pytest.mark.parametrize("which", sorted(SCHEMA_FILES))
def test_schema_files_are_in_sync_with_the_models(which):
    on_disk = (ROOT / "schemas" / SCHEMA_FILES[which]).read_text()
    assert on_disk == schema_text(which), (
        f"schemas/{SCHEMA_FILES[which]} is stale: run `convlint schema {which} > "
        f"schemas/{SCHEMA_FILES[which]}`"
    )


@pytest.mark.parametrize("which", sorted(SCHEMA_FILES))
def test_schema_command_prints_the_file(which):
    result = CliRunner().invoke(app, ["schema", which])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "schemas" / SCHEMA_FILES[which]).read_text()


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_samples_validate_against_the_spec_schema(sample):
    schema = json.loads((ROOT / "schemas" / "spec.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads((SAMPLES / sample).read_text()))


def test_spec_schema_rejects_what_pydantic_rejects():
    schema = json.loads((ROOT / "schemas" / "spec.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"inputs": [{"name": "x", "shape": [3, 8, 8]}],
           "layers": [{"name": "c", "op": "conv", "out_channels": 4, "kernel_size": 0}]}
    assert not validator.is_valid(bad)
    bad["layers"][0]["kernel_size"] = [3, 3]
    assert validator.is_valid(bad)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_json_reports_validate_against_the_report_schema(sample):
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    result = CliRunner().invoke(app, ["analyze", str(SAMPLES / sample), "--format", "json"])
    assert result.exit_code in (0, 1)
    jsonschema.Draft202012Validator(schema).validate(json.loads(result.stdout))


REPORTED = [*sorted(SAMPLES.glob("*.json")), *sorted(SAMPLES.glob("*.onnx")),
            *(ROOT / "tests" / "corpus" / name for name in ("invalid_utf8.onnx", "markup_dim_param.onnx",
                                                            "custom_domain.onnx", "kernel_larger_than_input.json"))]


@pytest.mark.parametrize("path", REPORTED, ids=lambda p: p.name)
def test_json_reports_are_what_pydantic_makes_of_the_report_objects(path):
    """convlint writes its JSON without pydantic; pydantic, which generates the schema from the
    same classes, serialises them to the same values, and to the same numbers byte for byte."""
    from analyzer.api import analyze
    from analyzer.formatters.json import to_dict, to_json
    from analyzer.report.model import NodeReport, Report, adapter

    report = analyze(path)
    expected = adapter(Report).dump_python(report, by_alias=True, mode="json")
    assert to_dict(report) == expected
    assert json.loads(to_json(report)) == expected
    compact = json.dumps(to_dict(report), ensure_ascii=False, separators=(",", ":"))
    assert compact == adapter(Report).dump_json(report, by_alias=True).decode()
    # the node lines are written by hand (formatters.json._node_lines), byte for byte as json writes them
    lines = to_json(report).splitlines()
    start = lines.index('  "nodes": [')
    written = [line.strip().removesuffix(",") for line in lines[start + 1:start + 1 + len(report.nodes)]]
    assert written == [json.dumps(adapter(NodeReport).dump_python(node, by_alias=True, mode="json"), ensure_ascii=False)
                       for node in report.nodes]


def test_check_json_is_what_pydantic_makes_of_it():
    from analyzer.formatters.json import to_json
    from analyzer.lint import check_paths
    from analyzer.report.model import CheckReport, adapter
    from analyzer.settings import Settings

    run = check_paths([str(SAMPLES)], Settings())
    assert json.loads(to_json(run)) == adapter(CheckReport).dump_python(run, by_alias=True, mode="json")


def test_json_reports_have_one_node_per_line():
    result = CliRunner().invoke(app, ["analyze", str(SAMPLES / "resnet18.json"), "--format", "json"])
    lines = result.stdout.splitlines()
    document = json.loads(result.stdout)
    start = lines.index('  "nodes": [')
    node_lines = lines[start + 1:start + 1 + len(document["nodes"])]
    assert [json.loads(line.strip().removesuffix(",")) for line in node_lines] == document["nodes"]
    assert lines[start + 1 + len(document["nodes"])] == "  ],"
    assert lines[:3] == ["{", '  "tool": {', '    "name": "convlint",']
    diagnostics = [line for line in lines if line.startswith('    {"code": ')]
    assert len(diagnostics) == len(document["diagnostics"])
