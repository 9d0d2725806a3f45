"""`convlint diff` as text, Markdown (a review comment) or JSON."""

from __future__ import annotations

import json
from typing import Any

from analyzer.diff import Change, ModelDiff
from analyzer.formatters.escape import markdown, markdown_code, printable, text_lines
from analyzer.formatters.findings import relative
from analyzer.formatters.json import to_dict
from analyzer.formatters.rows import data_path
from analyzer.report.model import NodeReport


def _value(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list) and all(isinstance(v, (int, str)) for v in value):
        return "(" + ", ".join(map(str, value)) + ")"
    if isinstance(value, dict) and set(value) == {"size", "stride"}:
        return f"{'x'.join(map(str, value['size']))} /{'x'.join(map(str, value['stride']))}"
    return str(value)


def _delta(change: Change) -> str:
    a, b = change.old, change.new
    text = f"{_value(a)} -> {_value(b)}"
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and a != b:
        sign = "+" if b > a else "-"
        text += f" ({sign}{abs(b - a):,}" + (f", {sign}{abs(b - a) / a:.1%}" if a else "") + ")"
    return text


def _header(d: ModelDiff) -> str:
    return f"{relative(d.old.model.path)} -> {relative(d.new.model.path)}"


def _counts(d: ModelDiff) -> str:
    renamed = f" ({d.renamed} matched by position)" if d.renamed else ""
    return (f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
            f"{d.unchanged} unchanged{renamed}")


def _listed(d: ModelDiff) -> tuple[list[NodeReport], list[NodeReport], str]:
    """The added and removed nodes a reader is shown: those computing from the model's inputs
    (as `analyze` shows them; an exporter's aliases of weights differ between exporters), and
    a note of how many others there are."""
    new_path, old_path = {id(n) for n in data_path(d.new)}, {id(n) for n in data_path(d.old)}
    added = [n for n in d.added if id(n) in new_path]
    removed = [n for n in d.removed if id(n) in old_path]
    hidden = len(d.added) - len(added) + len(d.removed) - len(removed)
    note = f"{hidden} node{'s' * (hidden != 1)} computing constants only not listed" if hidden else ""
    return added, removed, note


def render_text(d: ModelDiff) -> str:
    lines = [f"convlint diff: {_header(d)}", ""]
    lines += [f"{c.what}: {_delta(c)}" for c in d.totals()]
    lines += ["", f"nodes: {_counts(d)}"]
    added, removed, note = _listed(d)
    for node in added:
        lines.append(f"+ {node.name} ({node.op}) {_value(node.outputs[0].shape if node.outputs else None)}")
    for node in removed:
        lines.append(f"- {node.name} ({node.op})")
    for change in d.changed:
        name = change.new if change.old == change.new else f"{change.old} -> {change.new}"
        lines.append(f"~ {name} ({change.op})")
        lines += [f"    {c.what} {_delta(c)}" for c in change.changes]
    lines += [note] if note else []
    lines += ["", f"findings: {len(d.new_findings)} new, {len(d.fixed_findings)} fixed"]
    lines += [f"+ {f.code} [{f.severity}] {f.node}: {f.message}" for f in d.new_findings]
    lines += [f"- {f.code} [{f.severity}] {f.node}: {f.message}" for f in d.fixed_findings]
    return text_lines(lines)


def render_markdown(d: ModelDiff) -> str:
    lines = [f"### convlint diff: {markdown_code(_header(d))}", "", "| | before | after | change |", "| --- | ---: | ---: | ---: |"]
    for c in d.totals():
        delta = _delta(c).split(" -> ", 1)[1].partition(" ")[2] or "="
        lines.append(f"| {c.what} | {_value(c.old)} | {_value(c.new)} | {delta} |")
    lines += ["", f"**Nodes:** {_counts(d)}", ""]
    added, removed, note = _listed(d)
    if added or removed or d.changed:
        lines += ["| | node | op | what changed |", "| --- | --- | --- | --- |"]
        lines += [f"| + | {markdown_code(n.name)} | {markdown_code(n.op)} | "
                  f"output {markdown(_value(n.outputs[0].shape if n.outputs else None))} |" for n in added]
        lines += [f"| - | {markdown_code(n.name)} | {markdown_code(n.op)} | |" for n in removed]
        for change in d.changed:
            name = change.new if change.old == change.new else f"{change.old} → {change.new}"
            what = "<br>".join(markdown(f"{c.what}: {_delta(c)}") for c in change.changes)
            lines.append(f"| ~ | {markdown_code(name)} | {markdown_code(change.op)} | {what} |")
        lines.append("")
    if note:
        lines += [note, ""]
    lines.append(f"**Findings:** {len(d.new_findings)} new, {len(d.fixed_findings)} fixed")
    if d.new_findings or d.fixed_findings:
        lines += ["", "| | code | node | finding |", "| --- | --- | --- | --- |"]
        lines += [f"| {kind} | {f.code} | {markdown_code(f.node or '')} | {markdown(f.message)} |"
                  for kind, found in (("new", d.new_findings), ("fixed", d.fixed_findings)) for f in found]
    return "".join(line + "\n" for line in lines)


def render_json(d: ModelDiff) -> str:
    def change(c: Change) -> dict:
        return {"what": c.what, "old": c.old, "new": c.new}

    document = {
        "old": {"path": printable(d.old.model.path), "format": d.old.model.format},
        "new": {"path": printable(d.new.model.path), "format": d.new.model.format},
        "totals": [change(c) for c in d.totals()],
        "nodes": {
            "added": [{"name": n.name, "op": n.op} for n in d.added],
            "removed": [{"name": n.name, "op": n.op} for n in d.removed],
            "changed": [{"old": c.old, "new": c.new, "op": c.op, "matched_by_position": c.by_position,
                         "changes": [change(x) for x in c.changes]} for c in d.changed],
            "unchanged": d.unchanged,
        },
        "findings": {
            "new": [to_dict(f) for f in d.new_findings],
            "fixed": [to_dict(f) for f in d.fixed_findings],
        },
    }
    return json.dumps(document, indent=2) + "\n"


FORMATS = {"text": render_text, "markdown": render_markdown, "json": render_json}
