"""JSON Schemas generated from the pydantic models (kept in ``schemas/`` and checked by a test)."""

from __future__ import annotations

import json

SCHEMA_FILES = {"spec": "spec.schema.json", "report": "report.schema.json"}


def schema(which: str) -> dict:
    if which == "spec":
        from analyzer.frontends.spec_layers import Spec

        document = Spec.model_json_schema(by_alias=True)
    else:
        from analyzer.report.model import Report, json_schema

        document = json_schema(Report)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://convlint.dev/schemas/{SCHEMA_FILES[which]}",
        **document,
    }


def schema_text(which: str) -> str:
    return json.dumps(schema(which), indent=2, sort_keys=False) + "\n"
