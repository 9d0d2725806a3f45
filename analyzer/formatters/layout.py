"""A drawable view of a report's graph: runs of element-wise ops collapsed into the node they
follow, and a layered (Sugiyama-style) layout, for the HTML report and Mermaid diagrams.

Everything is computed from the report alone: edges come from the tensors nodes read and
write, and a node counts as element-wise when it reads one data tensor, writes one of the
same shape and costs no MACs (activations, normalisations, dropout, identity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.formatters.figures import shape_text
from analyzer.formatters.rows import data_path, worse
from analyzer.report.model import NodeReport, Report


@dataclass
class Box:
    """One drawn node: a report node, with the element-wise nodes collapsed into it."""

    id: int
    node: NodeReport
    members: list[NodeReport]
    layer: int = 0
    order: float = 0.0
    severity: str | None = None
    findings: list[int] = field(default_factory=list)

    @property
    def last(self) -> NodeReport:
        return self.members[-1]

    @property
    def ops(self) -> str:
        """``Conv +BatchNormalization +Relu``: the head's op and the folded ones."""
        return self.node.op + "".join(f" +{m.op}" for m in self.members[1:])


@dataclass
class Drawing:
    boxes: list[Box]
    edges: list[tuple[int, int, str]]
    """(from box, to box, label: the tensor's shape)."""
    layers: int


def _elementwise(node: NodeReport, shapes: dict[str, list | None]) -> bool:
    data = [t for t in node.inputs if t in shapes]
    return (node.macs == 0 and len(data) == 1 and len(node.outputs) == 1
            and node.outputs[0].shape is not None and node.outputs[0].shape == shapes[data[0]])


def drawing(report: Report, collapse: bool | None = None) -> Drawing:
    nodes = data_path(report)
    if collapse is None:
        collapse = len(nodes) > 40
    producer = {o.name: n.name for n in nodes for o in n.outputs}
    shapes = {o.name: o.shape for n in nodes for o in n.outputs}
    readers: dict[str, int] = {}
    for n in nodes:
        for t in set(n.inputs):
            if t in producer:
                readers[producer[t]] = readers.get(producer[t], 0) + 1

    boxes: list[Box] = []
    box_of: dict[str, Box] = {}
    for n in nodes:
        sources = [producer[t] for t in n.inputs if t in producer]
        if (collapse and _elementwise(n, shapes) and len(sources) == 1 and readers.get(sources[0]) == 1
                and sources[0] in box_of and box_of[sources[0]].last.name == sources[0]):
            box = box_of[sources[0]]
            box.members.append(n)
        else:
            box = Box(len(boxes), n, [n])
            boxes.append(box)
        box_of[n.name] = box

    edges: list[tuple[int, int, str]] = []
    seen: set[tuple[int, int]] = set()
    for n in nodes:
        target = box_of[n.name]
        for t in n.inputs:
            if t not in producer:
                continue
            source = box_of[producer[t]]
            if source is target or (source.id, target.id) in seen:
                continue
            seen.add((source.id, target.id))
            edges.append((source.id, target.id, shape_text(shapes.get(t))))

    for index, d in enumerate(report.diagnostics):
        if d.node in box_of:
            box = box_of[d.node]
            box.findings.append(index)
            box.severity = worse(box.severity, d.severity)

    _layer(boxes, edges)
    return Drawing(boxes, edges, 1 + max((b.layer for b in boxes), default=0))


def _layer(boxes: list[Box], edges: list[tuple[int, int, str]]) -> None:
    """Longest-path layers, then barycentre ordering within each layer (a few sweeps)."""
    parents: dict[int, list[int]] = {b.id: [] for b in boxes}
    children: dict[int, list[int]] = {b.id: [] for b in boxes}
    for a, b, _ in edges:
        parents[b].append(a)
        children[a].append(b)
    for box in boxes:  # boxes are in topological order
        box.layer = max((boxes[p].layer + 1 for p in parents[box.id]), default=0)
    by_layer: dict[int, list[Box]] = {}
    for box in boxes:
        by_layer.setdefault(box.layer, []).append(box)
    for row in by_layer.values():
        for i, box in enumerate(row):
            box.order = i
    for sweep in range(4):
        for layer in sorted(by_layer, reverse=bool(sweep % 2)):
            row = by_layer[layer]
            for box in row:
                linked = parents[box.id] if sweep % 2 == 0 else children[box.id]
                if linked:
                    box.order = sum(boxes[i].order for i in linked) / len(linked)
            row.sort(key=lambda b: b.order)
            for i, box in enumerate(row):
                box.order = i
