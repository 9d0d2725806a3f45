"""Which nodes a per-node table shows: nodes computing from the model's inputs (constants out of
sight unless asked for), each node on a row, or the nodes of one module on one row
(``--depth``, as torchinfo's depth groups by module path)."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.report.model import NodeReport, Report
from analyzer.rules import SEVERITY_RANK


@dataclass(slots=True)
class Row:
    """One row: a node, or the consecutive nodes of one module."""

    name: str
    op: str
    last: NodeReport
    """The node whose output (shape, receptive field) the row shows."""
    params: int | None
    macs: int | None
    severity: str | None
    nodes: int = 1


@dataclass(slots=True)
class Rows:
    rows: list[Row]
    constants: int
    """Nodes left out because they compute from constants alone."""


def data_path(report: Report) -> list[NodeReport]:
    """Nodes fed, directly or not, by a model input: weights and constants stay out of sight."""
    reached = {i.name for i in report.inputs}
    kept = []
    for node in report.nodes:
        if not reached.isdisjoint(node.inputs):
            kept.append(node)
            for output in node.outputs:
                reached.add(output.name)
    return kept or list(report.nodes)


def worse(severity: str | None, other: str | None) -> str | None:
    """The more severe of two severities (None: no finding)."""
    return other if SEVERITY_RANK.get(other or "", -1) > SEVERITY_RANK.get(severity or "", -1) else severity


def severities(report: Report) -> dict[str, str]:
    """Per node with findings, the most severe."""
    worst: dict[str, str] = {}
    for d in report.diagnostics:
        if d.node:
            worst[d.node] = worse(worst.get(d.node), d.severity)  # type: ignore[assignment]
    return worst


def module_path(name: str) -> list[str]:
    """The module a node belongs to, as a list of names: ``layer1.0.conv1`` (a layer or module
    named by its path) is ``[layer1, 0, conv1]``; an exporter's ``/layer1/layer1.0/conv1/Conv``
    is the same module (each scope repeats its parent's path; the last part names the op)."""
    if "/" not in name:
        return name.split(".")
    atoms: list[str] = []
    parent = ""
    for part in [p for p in name.split("/") if p][:-1]:
        atoms += (part[len(parent) + 1:] if parent and part.startswith(parent + ".") else part).split(".")
        parent = part
    return atoms


def table_rows(report: Report, all_nodes: bool = False, depth: int | None = None) -> Rows:
    """The rows of a per-node table: every node with ``all_nodes``, else those computing from
    the inputs and those with findings; grouped by module path ``depth`` levels deep."""
    worst = severities(report)
    nodes = report.nodes
    constants = 0
    if not all_nodes:
        shown = data_path(report)
        if len(shown) < len(nodes):
            kept = {id(n) for n in shown}
            shown = [n for n in nodes if id(n) in kept or n.name in worst]
            constants = len(nodes) - len(shown)
        nodes = shown
    if depth is None:
        return Rows([Row(n.name, n.op, n, n.params, n.macs, worst.get(n.name)) for n in nodes], constants)
    rows: list[Row] = []
    key: tuple[str, ...] | None = None
    for node in nodes:
        atoms = module_path(node.name)
        found = tuple(atoms[:depth]) if len(atoms) >= depth else None
        severity = worst.get(node.name)
        if found is not None and found == key:
            row = rows[-1]
            row.last, row.nodes, row.op = node, row.nodes + 1, f"{row.nodes + 1} nodes"
            row.params = None if row.params is None or node.params is None else row.params + node.params
            row.macs = None if row.macs is None or node.macs is None else row.macs + node.macs
            row.severity = worse(row.severity, severity)
            if row.nodes == 2:  # named as the model's names write module paths
                row.name = ("/" if "/" in node.name and "." not in node.name else ".").join(found)
            continue
        rows.append(Row(node.name, node.op, node, node.params, node.macs, severity))
        key = found
    return Rows(rows, constants)
