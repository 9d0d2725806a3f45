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
