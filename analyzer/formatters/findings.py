"""Formats over one or many models (`check`, and `analyze` through a one-model CheckReport):
lint-style text, JSON, Markdown for pull-request comments, SARIF 2.1.0, GitHub annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from analyzer.formatters import View
from analyzer.formatters.escape import (
    markdown,
    markdown_code,
    mermaid_label,
    printable,
    terminal,
    text_lines,
    workflow_data,
    workflow_property,
)
from analyzer.formatters.figures import (
    axes_text,
    bytes_total,
    count_text,
    field_text,
    findings_count,
    macs_text,
    output_text,
    params_text,
)
from analyzer.formatters.json import to_json
from analyzer.formatters.rows import Row, table_rows
from analyzer.report.model import CheckReport, DiagnosticReport, Report
from analyzer.rules import FAMILIES, RULES, SEVERITY_RANK

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
    text = f"{findings_count(s.errors, s.warnings, s.info)} in {s.files} model{'s' * (s.files != 1)}"
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
MARKDOWN_BUDGET = 60_000
"""Characters: a comment stays under GitHub's limit (65,536), with room for a workflow's own words."""
MARKDOWN_FEWEST_ROWS = 5
"""A table cut shorter than this is left out."""
TABLE_HEAD = ["| name | op | output shape | RF | RF stride | params | MACs |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: |"]


def _node_row(row: Row) -> str:
    size, stride = field_text(row.last.receptive_field)
    cells = [markdown_code(row.name), markdown_code(row.op), markdown(output_text(row.last)), size, stride,
             count_text(row.params), count_text(row.macs)]
    return "| " + " | ".join(cells) + " |"


def _summary_html(text: str) -> str:
    """Text inside an HTML element of a comment (``<summary>``): escaped, and no mentions."""
    import html

    return html.escape(terminal(text)).replace("@", "&#64;")


def _model_summary(report: Report, exact: bool) -> str:
    """``path: 42 nodes, 25.5 M params (97.3 MiB as float32), 4.09 GMACs, ...``."""
    t = report.totals
    summary = (f"{relative(report.model.path)}: {len(report.nodes)} nodes, {params_text(t, exact)}, "
               f"{macs_text(t.macs, t.unknown.macs, exact)}")
    if t.peak_memory.bytes is not None:
        summary += f", peak activations {bytes_total(t.peak_memory.bytes, t.peak_memory.unknown, exact)}"
    if report.receptive_field is not None:
        rf = report.receptive_field
        summary += f", receptive field {axes_text(rf.size)} on a {'x'.join(map(str, rf.input))} input"
    return summary


def _length(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _details(report: Report, view: View, body: list[str]) -> list[str]:
    summary = f"<summary>{_summary_html(_model_summary(report, view.exact))}</summary>"
    return ["<details>", summary, "", *body, "", "</details>", ""] if body else ["<details>", summary, "</details>", ""]


def _full_report(report: Report) -> str:
    return f"{markdown_code('convlint analyze ' + relative(report.model.path))} prints every node."


def _least_block(report: Report, view: View) -> list[str]:
    """A model's block with its summary alone: what it takes when nothing else fits."""
    return _details(report, view, [] if view.summary else
                    [f"Per-node table left out to fit a pull-request comment: {_full_report(report)}"])


def _model_block(report: Report, view: View, room: int | None) -> list[str]:
    """A model's summary, drawing and per-node table in a ``<details>`` block, in at most
    ``room`` characters when it can: the drawing left out first, then the table cut short,
    each with a note saying so and how to get the whole report."""
    if view.summary:
        return _least_block(report, view)
    table = table_rows(report, view.all_nodes, view.depth)
    rows = [_node_row(row) for row in table.rows]
    hidden = ["", f"{table.constants} node{'s' * (table.constants != 1)} computing constants only not shown."] \
        if table.constants else []
    block = _details(report, view, [*mermaid(report), *TABLE_HEAD, *rows, *hidden])
    if room is None or _length(block) <= room:
        return block
    block = _details(report, view, [*TABLE_HEAD, *rows, *hidden])
    if _length(block) <= room:
        return block
    note = f"{{}} of {len(rows)} rows shown to fit a pull-request comment: {_full_report(report)}"
    room -= _length(_details(report, view, [*TABLE_HEAD, "", note, *hidden]))
    kept = []
    for row in rows:
        room -= len(row) + 1
        if room < 0:
            break
        kept.append(row)
    if len(kept) < min(len(rows), MARKDOWN_FEWEST_ROWS):
        return _least_block(report, view)
    return _details(report, view, [*TABLE_HEAD, *kept, "", note.format(len(kept)), *hidden])


def _finding_lines(run: CheckReport, room: int | None) -> list[str]:
    """The findings table, in ``room`` characters: when they do not all fit, the most severe
    first, and a line saying how many more there are."""
    rows = [(SEVERITY_RANK[d.severity], f"| {MARK[d.severity]} | {d.code} | {markdown_code(where(report, d))} "
             f"| {markdown_code(d.node) if d.node else ''} | {markdown(d.message)} |")
            for report in run.files for d in report.diagnostics]
    rows += [(SEVERITY_RANK["error"] + 1, f"| :no_entry: | - | {markdown_code(relative(e.path))} | | {markdown(e.message)} |")
             for e in run.errors]
    if not rows:
        return []
    head = ["| | code | where | node | finding |", "| --- | --- | --- | --- | --- |"]
    lines = [*head, *(line for _, line in rows), ""]
    if room is None or _length(lines) <= room:
        return lines
    room -= _length([*head, "", "", "x" * 200])  # the note about the rest
    keep: set[int] = set()
    for index in sorted(range(len(rows)), key=lambda i: -rows[i][0]):
        room -= len(rows[index][1]) + 1
        if room < 0:
            break
        keep.add(index)
    left = len(rows) - len(keep)
    return [*head, *(line for i, (_, line) in enumerate(rows) if i in keep), "",
            f"{left} more finding{'s' * (left != 1)} not shown to fit a pull-request comment: "
            "`convlint check` with `--format text` lists them all.", ""]


def render_markdown(run: CheckReport, color: bool = False, view: View | None = None,
                    budget: int | None = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: the counts, every finding, then per model its summary, a
    drawing and the per-node table, in at most ``budget`` characters: the summaries and the
    findings come first, then each model gets an equal share of the rest for its drawing and
    table, cut short as needed."""
    view = view or View()
    total = run.summary.errors + run.summary.warnings + run.summary.info
    status = ":x:" if run.summary.errors or run.errors else (":warning:" if total else ":white_check_mark:")
    lines = [f"### {status} convlint: {_counts(run)}", ""]
    summaries = [_least_block(report, view) for report in run.files]
    reserved = _length([line for block in summaries for line in block])
    skipped = [f"Skipped: {markdown_code(relative(s.path))} ({markdown(s.message)})" for s in run.skipped]
    skipped += [""] if skipped else []
    room = None if budget is None else budget - _length(lines) - _length(skipped) - reserved
    lines += _finding_lines(run, room)
    lines += skipped
    for left, (report, least) in enumerate(zip(run.files, summaries)):
        # An equal share of what the summaries leave; what a model does not use goes on.
        share = None if budget is None else (budget - _length(lines) - reserved) // (len(run.files) - left)
        reserved -= _length(least)
        lines += _model_block(report, view, None if share is None else share + _length(least))
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


def _uri(path: str) -> str:
    """A path as a SARIF ``artifactLocation.uri``: a relative URI reference, percent-encoded
    (spaces, newlines and the like in a file name must not break it)."""
    from urllib.parse import quote

    return quote(relative(path), safe="/")


def render_sarif(run: CheckReport, color: bool = False) -> str:
    rules = _sarif_rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for report in run.files:
        uri = _uri(report.model.path)
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
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path), "uriBaseId": "%SRCROOT%"},
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
