"""Receptive-field pass (REFERENCE §6): walk the DAG, ask each op to transform its inputs' fields.

Model inputs of rank 3 or more are (N, C, *spatial): their units see themselves. Inputs in
channels-last layout (N, *spatial, C) are recognised when they are transposed to
channels-first before any other use, as TensorFlow exports do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.graph import SPATIAL_NAMES, Model
from analyzer.ops.base import RfContext
from analyzer.ops.common import rf_union
from analyzer.passes.shapes import ShapeResult
from analyzer.receptive import IDENTITY_AXIS, Field, FieldTooComplex
from analyzer.rules import FIELD_EXCEEDS_INPUT, Diagnostic


@dataclass
class FieldResult:
    fields: dict[str, Field | None]
    """Per tensor."""
    per_node: list[Field | None] = field(default_factory=list)
    """Per node, in ``Model.steps()`` order: the field of its outputs."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _input_field(model: Model, tensor: str, rank: int) -> Field:
    consumers = model.consumers.get(tensor, [])
    channels_last = (
        rank >= 3
        and consumers
        and all(
            model.nodes[c].op == "Transpose"
            and model.nodes[c].attrs.get("perm") == [0, rank - 1, *range(1, rank - 1)]
            for c in consumers
        )
    )
    if channels_last:
        axes = tuple(range(1, rank - 1))
        return Field(axes, tuple(IDENTITY_AXIS for _ in axes))
    return Field.identity(rank)


def input_spatial_sizes(analysis) -> tuple | None:
    """Sizes of the first spatial model input along the axes its field tracks."""
    model = analysis.model
    for tensor in model.inputs:
        field = analysis.fields.fields.get(tensor)
        shape = analysis.shapes.shapes.get(tensor)
        if field is not None and shape is not None:
            return tuple(shape[a] for a in field.axes)
    return None


def receptive_fields(model: Model, shapes: ShapeResult) -> FieldResult:
    fields: dict[str, Field | None] = {}
    result = FieldResult(fields)
    sizes = None
    exceeded: set[int] = set()
    seen: set[int] = set()
    for tensor in model.inputs:
        shape = shapes.shapes.get(tensor)
        if shape is not None and len(shape) >= 3:
            fields[tensor] = _input_field(model, tensor, len(shape))
            if sizes is None:
                sizes = tuple(shape[a] for a in fields[tensor].axes)
    per_node = result.per_node
    for (node, opdef), outcome in zip(model.steps(), shapes.outcomes, strict=True):
        name = node.name
        out: Field | None = None
        in_fields = list(map(fields.get, node.inputs))  # no field is kept under ""
        if opdef is None or not any(in_fields) or outcome.malformed():
            out = None
        elif opdef.rf is rf_union and _passes_through(node, in_fields, outcome):
            out = next(f for f in in_fields if f is not None)
        else:
            ctx = RfContext(
                node,
                in_fields,
                outcome.in_shapes,
                outcome.out_shapes_for(node),
                outcome.resolved,
                # a node that already failed shape inference gets no further findings
                [] if name in shapes.failed else result.diagnostics,
                sizes,
            )
            try:
                out = opdef.rf(ctx)
            except FieldTooComplex:
                out = None
        for tensor in node.outputs:
            if tensor:
                fields[tensor] = out
        per_node.append(out)
        if out is not None and not out.is_global and id(out) not in seen and len(exceeded) < len(sizes or ()):
            seen.add(id(out))  # a field passed through unchanged was checked where it was made
            _check_exceeds(node, out, sizes, exceeded, result.diagnostics)
    return result


def _passes_through(node, in_fields: list, outcome) -> bool:
    """An element-wise op with one spatial input of its (first) output's rank keeps its field as is."""
    if not node.outputs or not node.outputs[0]:
        return False
    found = -1
    for i, f in enumerate(in_fields):
        if f is not None:
            if found >= 0:
                return False
            found = i
    source, target = outcome.in_shapes[found], outcome.shapes[0]
    return source is not None and target is not None and len(source) == len(target)


def _check_exceeds(node, field: Field, sizes, exceeded: set[int], diagnostics: list[Diagnostic]) -> None:
    """Say once per axis where units start to see beyond the whole input (R102)."""
    if sizes is None or len(sizes) != len(field.per_axis):
        return
    names = SPATIAL_NAMES.get(len(sizes)) or tuple(f"axis {i}" for i in range(len(sizes)))
    beyond = []
    for i, (axis, size) in enumerate(zip(field.per_axis, sizes)):
        extent = max(axis.sizes())
        if i not in exceeded and isinstance(size, int) and extent > size:
            exceeded.add(i)
            beyond.append((names[i], extent, size))
    if not beyond:
        return
    if len({(e, s) for _, e, s in beyond}) == 1:
        _, extent, size = beyond[0]
        what = f"receptive field {extent} exceeds the {size}-pixel input along {' and '.join(n for n, _, _ in beyond)}"
    else:
        what = "receptive field exceeds the input: " + ", ".join(f"{e} > {s} along {n}" for n, e, s in beyond)
    mostly = ", mostly padding" if any(e > 2 * s for _, e, s in beyond) else ""
    diagnostics.append(
        Diagnostic(FIELD_EXCEEDS_INPUT.code, FIELD_EXCEEDS_INPUT.severity, node.name,
                   f"{what}: from here on units see the whole input plus padding{mostly}",
                   node.location)
    )
