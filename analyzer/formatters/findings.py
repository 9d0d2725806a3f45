"""Formats over one or many models (`check`, and `analyze` through a one-model CheckReport):
lint-style text, JSON, Markdown for pull-request comments, SARIF 2.1.0, GitHub annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from analyzer.formatters.escape import (
    markdown,
    markdown_code,
    mermaid_label,
    printable,
    text_lines,
    workflow_data,
    workflow_property,
)
from analyzer.formatters.text import count_text, output_text, total_text
from analyzer.report.model import CheckReport, DiagnosticReport, NodeReport, Report, to_json
from analyzer.rules import FAMILIES, RULES

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
MARK = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}


def relative(path: str) -> str:
    """A path as reviewers see it: relative to the working folder when inside it, with slashes."""
    try:
        inside = os.path.relpath(path)
    except ValueError:  # another drive
        return printable(Path(path).as_posix())
    return printable(Path(path if inside.startswith("..") else inside).as_posix())


def where(report: Report, d: DiagnosticReport) -> str:
    path = relative(report.model.path)
    if d.line is not None:
        return f"{path}:{d.line}:{d.column}"
    return f"{path}:{d.location}" if d.location else path


def _counts(run: CheckReport) -> str:
    s = run.summary
    parts = [f"{s.errors} error{'s' * (s.errors != 1)}", f"{s.warnings} warning{'s' * (s.warnings != 1)}"]
    if s.info:
        parts.append(f"{s.info} info")
    text = f"{', '.join(parts)} in {s.files} model{'s' * (s.files != 1)}"
    return text + (f"; {s.unreadable} could not be read" if s.unreadable else "")


def finding_line(report: Report, d: DiagnosticReport) -> str:
    """``path:line:col: CODE [severity] node: message``, as `convlint check` prints a finding."""
    node = f"{d.node}: " if d.node else ""
    return f"{where(report, d)}: {d.code} [{d.severity}] {node}{d.message}"


def render_text(run: CheckReport, color: bool = False) -> str:
    lines = [finding_line(report, d) for report in run.files for d in report.diagnostics]
    lines += [f"error: {e.message}" for e in run.errors]
    lines += [f"skipped: {relative(s.path)}: {s.message}" for s in run.skipped]
    total = run.summary.errors + run.summary.warnings + run.summary.info
    lines.append(("All checks passed: " if not total and not run.errors else "Found ") + _counts(run) + ".")
    return text_lines(lines)


def render_json(run: CheckReport, color: bool = False) -> str:
    return to_json(run) + "\n"


# -- Markdown -----------------------------------------------------------------------------------
def _node_row(node: NodeReport) -> str:
    rf = node.receptive_field
    field = "-" if rf is None else "x".join(map(str, rf.size)) + (" (global)" if rf.global_ else "")
    stride = "-" if rf is None else "x".join(f"{s:g}" if isinstance(s, float) else str(s) for s in rf.stride)
    cells = [markdown_code(node.name), markdown_code(node.op), markdown(output_text(node)), field, stride,
             count_text(node.params), count_text(node.macs)]
    return "| " + " | ".join(cells) + " |"


def _summary_html(text: str) -> str:
    """Text inside an HTML element of a comment (``<summary>``): escaped, and no mentions."""
    import html

    return html.escape(text).replace("@", "&#64;")


def render_markdown(run: CheckReport, color: bool = False) -> str:
    total = run.summary.errors + run.summary.warnings + run.summary.info
    status = ":x:" if run.summary.errors or run.errors else (":warning:" if total else ":white_check_mark:")
    lines = [f"### {status} convlint: {_counts(run)}", ""]
    findings = [(r, d) for r in run.files for d in r.diagnostics]
    if findings or run.errors:
        lines += ["| | code | where | node | finding |", "| --- | --- | --- | --- | --- |"]
        for report, d in findings:
            node = markdown_code(d.node) if d.node else ""
            lines.append(f"| {MARK[d.severity]} | {d.code} | {markdown_code(where(report, d))} "
                         f"| {node} | {markdown(d.message)} |")
        for e in run.errors:
            lines.append(f"| :no_entry: | - | {markdown_code(relative(e.path))} | | {markdown(e.message)} |")
        lines.append("")
    if run.skipped:
        lines += [f"Skipped: {markdown_code(relative(s.path))} ({markdown(s.message)})" for s in run.skipped]
        lines.append("")
    for report in run.files:
        t = report.totals
        summary = (f"{relative(report.model.path)}: {len(report.nodes)} nodes, "
                   f"{total_text(t.params, t.unknown.params, 'params')}, {total_text(t.macs, t.unknown.macs, 'MACs')}")
        if report.receptive_field is not None:
            rf = report.receptive_field
            summary += f", receptive field {'x'.join(map(str, rf.size))} on a {'x'.join(map(str, rf.input))} input"
        lines += ["<details>", f"<summary>{_summary_html(summary)}</summary>", "", *mermaid(report),
                  "| name | op | output shape | RF | RF stride | params | MACs |",
                  "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
        lines += [_node_row(n) for n in report.nodes]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


MERMAID_BOXES = 60


def mermaid(report: Report) -> list[str]:
    """A Mermaid diagram of the graph (GitHub renders it), element-wise runs folded; a large
    graph is trimmed to the nodes with findings, their neighbours and the start."""
    from analyzer.formatters.layout import drawing

    picture = drawing(report, collapse=True)
    boxes = picture.boxes
    shown = set(range(len(boxes)))
    trimmed = len(boxes) > MERMAID_BOXES
    if trimmed:
        shown = {b.id for b in boxes if b.findings}
        for a, b, _ in picture.edges:
            if a in shown or b in shown:
                shown.update((a, b))
        for box in boxes:
            if len(shown) >= MERMAID_BOXES:
                break
            shown.add(box.id)
    lines = [f"Graph: {len(shown)} of {len(boxes)} boxes, those with findings and their neighbours first.", ""] if trimmed else []
    lines += ["```mermaid", "graph TD"]
    for box in boxes:
        if box.id not in shown:
            continue
        label = "<br/>".join(mermaid_label(part) for part in (box.node.name, box.ops, output_text(box.last)))
        lines.append(f'  n{box.id}["{label}"]')
        if box.severity:
            lines.append(f"  class n{box.id} {box.severity}")
    for a, b, label in picture.edges:
        if a in shown and b in shown:
            lines.append(f'  n{a} -->|"{mermaid_label(label)}"| n{b}')
    lines += ["  classDef error fill:#fdecea,stroke:#c62828,stroke-width:2px",
              "  classDef warning fill:#fff4e0,stroke:#e08a00,stroke-width:2px",
              "  classDef info fill:#e8f1fb,stroke:#1565c0", "```", ""]
    return lines


# -- SARIF 2.1.0 --------------------------------------------------------------------------------
UNREADABLE = {
    "id": "E000",
    "name": "UnreadableInput",
    "shortDescription": {"text": "A model could not be read, or a path named no model."},
    "fullDescription": {"text": "The file is not a valid ONNX model or convlint spec (or cannot be opened), or "
                                "a folder or glob holds no model: nothing was checked there (exit code 2)."},
    "help": {"text": "Fix the file or the path; the message names the place in the file and what was expected.",
             "markdown": "Fix the file or the path; the message names the place in the file and what was expected."},
    "defaultConfiguration": {"level": "error", "enabled": True},
    "properties": {"tags": ["input"], "precision": "very-high"},
}
"""The rule of the results for inputs that could not be read (not a convlint rule: not selectable)."""


def _sarif_rules() -> list[dict]:
    rules = [UNREADABLE]
    for rule in sorted(RULES.values(), key=lambda r: r.code):
        help_text = f"{rule.summary}\n\nWhy: {rule.why}\n\nExample: {rule.example}\n\nFix: {rule.fix}"
        rules.append({
            "id": rule.code,
            "name": "".join(part.capitalize() for part in rule.name.split("-")),
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.why},
            "help": {
                "text": help_text,
                "markdown": f"**{rule.summary}**\n\n*Why?* {rule.why}\n\n*Example:* `{rule.example}`\n\n*Fix:* {rule.fix}",
            },
            "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity], "enabled": rule.default},
            "properties": {"tags": [FAMILIES[rule.code[0]].lower()], "precision": "very-high"},
        })
    return rules


def render_sarif(run: CheckReport, color: bool = False) -> str:
    rules = _sarif_rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for report in run.files:
        uri = relative(report.model.path)
        for d in report.diagnostics:
            region = {"startLine": d.line, "startColumn": d.column} if d.line is not None else {"startLine": 1}
            location: dict = {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                                   "region": region}}
            if d.node:
                location["logicalLocations"] = [{"name": d.node, "fullyQualifiedName": f"{report.model.name}/{d.node}",
                                                 "kind": "object"}]
            results.append({
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": SARIF_LEVEL[d.severity],
                "message": {"text": f"{d.node}: {d.message}" if d.node else d.message},
                "locations": [location],
                "partialFingerprints": {"convlint/v1": f"{uri}:{d.code}:{d.node}:{d.location}"},
            })
    for e in run.errors:
        results.append({
            "ruleId": UNREADABLE["id"],
            "ruleIndex": index[UNREADABLE["id"]],
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": relative(e.path), "uriBaseId": "%SRCROOT%"},
                                                "region": {"startLine": 1}}}],
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "convlint", "version": run.tool.version, "semanticVersion": run.tool.version,
                                "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(document, indent=2) + "\n"


# -- GitHub workflow annotations ------------------------------------------------------------------
def render_github(run: CheckReport, color: bool = False) -> str:
    lines = []
    for report in run.files:
        path = workflow_property(relative(report.model.path))
        for d in report.diagnostics:
            properties = [f"file={path}"]
            if d.line is not None:
                properties += [f"line={d.line}", f"col={d.column}"]
            title = workflow_property(f"{d.code} {RULES[d.code].name}" if d.code in RULES else d.code)
            node = f"{d.node}: " if d.node else ""
            lines.append(f"::{GITHUB_LEVEL[d.severity]} {','.join(properties)},title={title}::{workflow_data(node + d.message)}")
    for e in run.errors:
        lines.append(f"::error file={workflow_property(relative(e.path))},title=convlint::{workflow_data(e.message)}")
    for s in run.skipped:
        lines.append(f"::notice file={workflow_property(relative(s.path))},title=convlint::{workflow_data('skipped: ' + s.message)}")
    return "".join(line + "\n" for line in lines)


FORMATS = {"text": render_text, "json": render_json, "markdown": render_markdown, "sarif": render_sarif,
           "github": render_github}
