"""Analysis results -> :class:`~analyzer.report.model.Report`."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from analyzer import __version__
from analyzer.frontends.json_positions import locate
from analyzer.graph import Dim, Shape
from analyzer.passes import Analysis
from analyzer.passes.cost import Peak
from analyzer.passes.receptive import input_spatial_sizes
from analyzer.receptive import UNKNOWN, Field, summarize
from analyzer.report.model import (
    BatchTotals,
    DiagnosticReport,
    FieldSummary,
    Memory,
    ModelInfo,
    NodeReport,
    PeakMemory,
    ReceptiveField,
    Report,
    TensorInfo,
    Tool,
    Totals,
    UnknownNodes,
)
from analyzer.settings import Settings


def _number(value: int | float | Fraction) -> int | float:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return int(value) if value.denominator == 1 else float(value)


def receptive_field(field: Field | None) -> ReceptiveField | None:
    if field is None or not field.per_axis:
        return None
    if field.anchored:  # the common case (one phase per axis), without the general summary
        sizes, strides, padding, offsets = [], [], [], []
        for a in field.per_axis:
            lo, hi = a.lo[0], a.hi[0]
            if a.period != 1 or hi < lo:
                break
            sizes.append(hi - lo + 1)
            strides.append(a.pixels)
            padding.append(-lo)
            twice = lo + hi - a.pixels + 1  # twice the centre offset
            offsets.append(twice // 2 if twice % 2 == 0 else twice / 2)
        else:
            return ReceptiveField(sizes, strides, padding, field.is_global or field.global_context,
                                  sizes, offsets)
    axes = [summarize(a) for a in field.per_axis]
    return ReceptiveField(
        size=[a.size for a in axes],
        stride=[_number(a.stride) for a in axes],
        padding=[a.padding if field.anchored else None for a in axes],
        global_=field.is_global or field.global_context,
        size_min=[a.size_min for a in axes],
        center_offset=[_number(a.center_offset) if field.anchored else None for a in axes],
    )


def field_summary(analysis: Analysis, nodes: list[NodeReport]) -> FieldSummary | None:
    """The last feature map of the main path against the model input's spatial size: the
    last node whose units still stand for positions (squeeze-and-excitation gates and
    normalisation statistics only add global context; tokens after attention see the whole
    input). Pooled tensors, flattened features and heads are not feature maps. None when
    that field is unknown."""
    shapes = analysis.shapes.shapes
    for report, field in zip(reversed(nodes), reversed(analysis.fields.per_node)):
        if field is None or field.pooled:
            continue
        if field.layout is not None and report.outputs and not field.positions_only(shapes.get(report.outputs[0].name)):
            continue
        if field is UNKNOWN or report.receptive_field is None:
            return None
        sizes = input_spatial_sizes(analysis)
        rf = report.receptive_field
        if sizes is None or len(sizes) != len(rf.size):
            return None
        size = [s if field.is_global and isinstance(s, int) else r for r, s in zip(rf.size, sizes)]
        return FieldSummary(
            node=report.name,
            size=size,
            stride=rf.stride,
            input=list(sizes),
            ratio=[round(r / s, 3) if isinstance(s, int) and s > 0 else None for r, s in zip(size, sizes)],
        )
    return None


def _position(found: Mapping[str, tuple[int, int]], location: str | None) -> dict[str, int]:
    position = locate(found, location)
    return {"line": position[0], "column": position[1]} if position else {}


def _known_sum(values: list[int | None]) -> tuple[int, int]:
    """The sum of the known values, and how many are unknown."""
    return sum(v for v in values if v is not None), values.count(None)


def totals(nodes: list[NodeReport], batch: Dim = None, per_sample: bool = False, partial: bool = False,
           peak: Peak | None = None) -> Totals:
    """Sums over the nodes whose figures are known (per sample), with how many are unknown, the
    peak of live activations, and per batch when the batch size is known. A spec's batch dim is
    convlint's own symbol: it is no batch size unless --batch gave one. Without the graph
    (``partial``) every figure is unknown."""
    if per_sample and not isinstance(batch, int):
        batch = None
    if partial or peak is None:
        return Totals(None, None, None, Memory(elements=None, bytes=None), UnknownNodes(0, 0, 0, 0),
                      PeakMemory(None, None, 0), batch=batch if isinstance(batch, int) else None)
    params, no_params = _known_sum([n.params for n in nodes])
    buffers, no_buffers = _known_sum([n.buffers for n in nodes])
    macs, no_macs = _known_sum([n.macs for n in nodes])
    elements, _ = _known_sum([n.memory.elements for n in nodes])
    size, no_memory = _known_sum([n.memory.bytes for n in nodes])
    memory = Memory(elements=elements, bytes=size)
    per_batch = None
    if isinstance(batch, int):
        per_batch = BatchTotals(size=batch, macs=macs * batch,
                                memory=Memory(elements=elements * batch, bytes=size * batch),
                                peak_memory=peak.bytes * batch)
    at = nodes[peak.step].name if peak.step is not None else None
    return Totals(params, buffers, macs, memory,
                  UnknownNodes(params=no_params, buffers=no_buffers, macs=no_macs, memory=no_memory),
                  PeakMemory(peak.bytes, at, peak.unknown), batch=batch, per_batch=per_batch)


def build_report(analysis: Analysis, settings: Settings | None = None) -> Report:
    """The report of an analysis, with the findings ``settings`` select (default: the rules
    that are on by default, minus each spec layer's own ``ignore``)."""
    settings = settings or Settings()
    model = analysis.model
    shapes = analysis.shapes.shapes

    shown: dict[Shape, list[int | str]] = {}

    def dims(shape: Shape | None) -> list[int | str] | None:
        if shape is None:
            return None
        found = shown.get(shape)
        if found is None:
            kept = shape[1:] if model.per_sample else shape
            found = shown[shape] = ["?" if d is None else d for d in kept]
        return found

    # A field passed through unchanged (ReLU after a conv) is the same object: summarised once.
    last_field: object = object()
    summary: ReceptiveField | None = None

    memories: dict[int, Memory] = {}
    implicit = {t.name for t in model.tensors.values() if t.implicit}
    nodes = []
    per_node = zip(model.steps(), analysis.shapes.outcomes, analysis.params.params, analysis.params.buffers,
                   analysis.cost.macs, analysis.cost.memory, analysis.fields.per_node, strict=True)
    for (node, _), outcome, params, buffers, macs, memory, field in per_node:
        found = memories.get(id(memory))  # cost Memory values are shared by equal figures
        if found is None:
            found = memories[id(memory)] = Memory(elements=memory.elements, bytes=memory.bytes)
        outputs = node.outputs
        if len(outputs) == 1 and outputs[0] and outcome is not None:  # most nodes: no look-ups
            infos = [TensorInfo(outputs[0], dims(outcome.shapes[0]))]
        else:
            outputs = [t for t in outputs if t]
            field = field if outputs else None
            infos = [TensorInfo(t, dims(shapes.get(t))) for t in outputs]
        if field is not last_field:
            last_field, summary = field, receptive_field(field)
        nodes.append(
            NodeReport(
                node.name,
                node.label or node.op,
                [t for t in node.inputs if t and t not in implicit] if implicit else list(filter(None, node.inputs)),
                infos,
                params,
                buffers,
                macs,
                summary,
                found,
            )
        )
    diagnostics = [
        DiagnosticReport(
            code=d.code, severity=d.severity, node=d.node, message=d.message, location=d.location,
            **_position(model.positions, d.location),
        )
        for d in analysis.diagnostics
        if settings.enabled(d.code, d.node, model.nodes[d.node].ignore if d.node in model.nodes else ())
    ]
    return Report(
        tool=Tool(name="convlint", version=__version__),
        model=ModelInfo(path=model.path, format=model.format, name=model.name),
        inputs=[TensorInfo(name=t, shape=dims(shapes.get(t))) for t in model.inputs],
        nodes=nodes,
        totals=totals(nodes, analysis.cost.batch, model.per_sample, model.partial, analysis.cost.peak),
        receptive_field=field_summary(analysis, nodes),
        diagnostics=diagnostics,
    )

