"""`convlint diff OLD NEW`: what a change did to a model.

Nodes are matched by name; when an exporter regenerated the names (``Conv_12``, ``node_7``),
or for the nodes a name match leaves over, by graph position: the two topological op
sequences are aligned (their common start and end, difflib between) and nodes in aligned runs
of the same op are paired.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from analyzer.graph import ConstTensor, Model
from analyzer.passes.shapes import LATEST_OPSET
from analyzer.report.model import DiagnosticReport, NodeReport, Report

GENERATED = re.compile(r"^(\d+|node_?\d+|n\d+)$")


@dataclass
class Change:
    what: str
    old: Any
    new: Any


@dataclass
class NodeChange:
    old: str
    new: str
    op: str
    changes: list[Change]
    by_position: bool


@dataclass
class ModelDiff:
    """What a change did to a model (``convlint diff``): ``added``, ``removed`` and ``changed``
    nodes, ``totals()``, ``new_findings`` and ``fixed_findings``."""

    old: Report
    new: Report
    added: list[NodeReport] = field(default_factory=list)
    removed: list[NodeReport] = field(default_factory=list)
    changed: list[NodeChange] = field(default_factory=list)
    unchanged: int = 0
    renamed: int = 0
    new_findings: list[DiagnosticReport] = field(default_factory=list)
    fixed_findings: list[DiagnosticReport] = field(default_factory=list)

    def totals(self) -> list[Change]:
        a, b = self.old.totals, self.new.totals
        return [Change(what, a.exact(figure), b.exact(figure)) for what, figure in
                (("params", "params"), ("buffers", "buffers"), ("MACs", "macs"), ("activation bytes", "memory"),
                 ("peak activation bytes", "peak_memory"))]

    def to_dict(self) -> dict[str, Any]:
        import json

        return json.loads(self.to_json())

    def to_json(self) -> str:
        """As ``convlint diff --format json`` writes it."""
        from analyzer.formatters.diff import render_json

        return render_json(self)

    def to_text(self) -> str:
        from analyzer.formatters.diff import render_text

        return render_text(self)


def _generated(model: Model) -> bool:
    """Whether an exporter numbered the nodes (``Conv_12``, ``node_7``): then names say nothing
    about which layer is which. Spec layer names are always a person's."""
    if model.format != "onnx" or not model.nodes:
        return False
    numbered = sum(
        bool(GENERATED.match(name) or re.fullmatch(rf"{re.escape(node.op)}_\d+", name))
        for name, node in model.nodes.items()
    )
    return numbered * 2 >= len(model.nodes)


ALIGN_BUDGET = 4_000_000
"""Pairs of same-op nodes difflib may weigh when aligning the parts of two op sequences that
differ (its work grows with them: 16,000 Relus against 16,000 Relus are 256 million)."""


def match_nodes(old: Model, new: Model) -> tuple[dict[str, str], set[str]]:
    """Old name -> new name for every matched node, and the pairs matched by position."""
    pairs: dict[str, str] = {}
    if not (_generated(old) or _generated(new)):
        pairs = {n: n for n in old.order if n in new.nodes and old.nodes[n].op == new.nodes[n].op}
    rest_old = [n for n in old.order if n not in pairs]
    taken = set(pairs.values())
    rest_new = [n for n in new.order if n not in taken]
    by_position = set()
    for a, b in _align([old.nodes[n].op for n in rest_old], [new.nodes[n].op for n in rest_new]):
        pairs[rest_old[a]] = rest_new[b]
        by_position.add(rest_old[a])
    return pairs, by_position


def _align(old: list[str], new: list[str]) -> list[tuple[int, int]]:
    """Index pairs of the same op in two op sequences, in order: the common start and end,
    then difflib's alignment of what lies between, or, when that would cost more than
    ALIGN_BUDGET, the k-th node of each op there paired with the k-th of the same op."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    pairs = [(i, i) for i in range(start)]
    middle_old, middle_new = old[start:len(old) - end], new[start:len(new) - end]
    counts = Counter(middle_new)
    if sum(counts[op] for op in middle_old) <= ALIGN_BUDGET:
        matcher = difflib.SequenceMatcher(a=middle_old, b=middle_new, autojunk=False)
        for i, j, size in matcher.get_matching_blocks():
            pairs += [(start + i + k, start + j + k) for k in range(size)]
    else:
        waiting: dict[str, deque[int]] = defaultdict(deque)
        for j, op in enumerate(middle_new):
            waiting[op].append(j)
        for i, op in enumerate(middle_old):
            if waiting[op]:
                pairs.append((start + i, start + waiting[op].popleft()))
    pairs += [(len(old) - end + k, len(new) - end + k) for k in range(end)]
    return pairs


def _attrs(model: Model, name: str) -> dict[str, Any]:
    node = model.nodes[name]
    plain = {}
    for key, value in node.attrs.items():
        plain[key] = list(value.dims) if isinstance(value, ConstTensor) else value
    # A weight's dims are part of what a layer is (an ONNX Conv's channels live there), read
    # through the Identity aliases one exporter makes of shared initializers.
    for index, tensor in enumerate(node.inputs):
        seen = 0
        while tensor and tensor not in model.tensors and seen < 16:
            source = model.producer(tensor)
            if source is None or model.nodes[source].op != "Identity" or not model.nodes[source].inputs:
                break
            tensor, seen = model.nodes[source].inputs[0], seen + 1
        info = model.tensors.get(tensor) if tensor else None
        if info is not None and info.role == "constant" and info.shape is not None:
            plain[f"input {index} dims"] = list(info.shape)
    return plain


def _field(node: NodeReport) -> Any:
    rf = node.receptive_field
    return None if rf is None else {"size": rf.size, "stride": rf.stride}


def _compare(old_model: Model, new_model: Model, a: NodeReport, b: NodeReport) -> list[Change]:
    changes = []
    if a.op != b.op:
        changes.append(Change("op", a.op, b.op))
    shapes_a, shapes_b = [o.shape for o in a.outputs], [o.shape for o in b.outputs]
    if shapes_a != shapes_b:
        changes.append(Change("output shape", shapes_a[0] if len(shapes_a) == 1 else shapes_a,
                              shapes_b[0] if len(shapes_b) == 1 else shapes_b))
    for what in ("params", "buffers", "macs"):
        if getattr(a, what) != getattr(b, what):
            changes.append(Change(what if what != "macs" else "MACs", getattr(a, what), getattr(b, what)))
    if _field(a) != _field(b):
        changes.append(Change("receptive field", _field(a), _field(b)))
    attrs_a, attrs_b = _attrs(old_model, a.name), _attrs(new_model, b.name)
    for key in sorted(set(attrs_a) | set(attrs_b)):
        was, now = attrs_a.get(key, _UNSET), attrs_b.get(key, _UNSET)
        if was is _UNSET:
            was = _default(old_model, a.name, key, now)
        if now is _UNSET:
            now = _default(new_model, b.name, key, was)
        if was != now:
            changes.append(Change(f"attribute {key}", was, now))
    return changes


_UNSET = object()


def _default(model: Model, name: str, key: str, other: Any) -> Any:
    """The value ONNX gives an attribute a node leaves out (``auto_pad`` is ``NOTSET``; one
    exporter writes it, another does not), None when it has none; ``other`` is the value the
    other version writes. Asked of onnx's schemas only for the ONNX ops convlint models: no
    string from the file reaches its native code."""
    from analyzer.ops import opdef_of

    node = model.nodes[name]
    if model.format != "onnx" or node.domain or opdef_of(node) is None or key.startswith("input "):
        return None
    if key in PER_AXIS_DEFAULTS:  # one per axis the other version writes: no schema gives these
        return [PER_AXIS_DEFAULTS[key]] * len(other) if isinstance(other, list) else None
    return _schema_default(node.op, min(model.opset.get("", 1), LATEST_OPSET), key)


PER_AXIS_DEFAULTS = {"strides": 1, "dilations": 1, "pads": 0, "output_padding": 0}
"""ONNX's defaults of the window attributes left out, one per axis (the schemas give none: the
count follows the input's rank)."""


@cache
def _schema_default(op: str, version: int, key: str) -> Any:
    import onnx.defs
    from onnx.helper import get_attribute_value

    try:
        attribute = onnx.defs.get_schema(op, version, "").attributes.get(key)
    except onnx.defs.SchemaError:
        return None
    if attribute is None or not attribute.default_value.type:
        return None
    value = get_attribute_value(attribute.default_value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return list(value) if isinstance(value, (list, tuple)) else value


def diff_models(old_model: Model, old: Report, new_model: Model, new: Report) -> ModelDiff:
    result = ModelDiff(old, new)
    pairs, by_position = match_nodes(old_model, new_model)
    old_nodes = {n.name: n for n in old.nodes}
    new_nodes = {n.name: n for n in new.nodes}
    matched_new = set(pairs.values())
    result.removed = [n for n in old.nodes if n.name not in pairs]
    result.added = [n for n in new.nodes if n.name not in matched_new]
    position = {name: index for index, name in enumerate(new_model.order)}
    for a_name, b_name in sorted(pairs.items(), key=lambda p: position[p[1]]):
        changes = _compare(old_model, new_model, old_nodes[a_name], new_nodes[b_name])
        result.renamed += a_name != b_name
        if changes:
            result.changed.append(NodeChange(a_name, b_name, new_nodes[b_name].op, changes, a_name in by_position))
        else:
            result.unchanged += 1

    def key(d: DiagnosticReport, mapping: dict[str, str]) -> tuple:
        return d.code, mapping.get(d.node, d.node) if d.node else None

    before = {key(d, pairs) for d in old.diagnostics}
    after = {key(d, {}) for d in new.diagnostics}
    result.new_findings = [d for d in new.diagnostics if key(d, {}) not in before]
    result.fixed_findings = [d for d in old.diagnostics if key(d, pairs) not in after]
    return result
