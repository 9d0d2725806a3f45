"""Receptive-field pass (REFERENCE §6): walk the DAG, ask each op to transform its inputs' fields.

Model inputs of rank 3 or more are (N, C, *spatial): their units see themselves. Inputs in
channels-last layout (N, *spatial, C) are recognised when they are transposed to
channels-first before any other use, as TensorFlow exports do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.graph import Model
from analyzer.ops import lookup
from analyzer.ops.base import RfContext
from analyzer.passes.shapes import ShapeResult
from analyzer.receptive import IDENTITY_AXIS, Field, FieldTooComplex
from analyzer.rules import Diagnostic


@dataclass
class FieldResult:
    fields: dict[str, Field | None]
    """Per tensor."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _input_field(model: Model, tensor: str, rank: int) -> Field:
    consumers = model.consumers.get(tensor, [])
    channels_last = (
        rank >= 3
        and consumers
        and all(
            model.nodes[c].op == "Transpose"
            and list(model.nodes[c].attrs.get("perm", ())) == [0, rank - 1, *range(1, rank - 1)]
            for c in consumers
        )
    )
    if channels_last:
        axes = tuple(range(1, rank - 1))
        return Field(axes, tuple(IDENTITY_AXIS for _ in axes))
    return Field.identity(rank)


def receptive_fields(model: Model, shapes: ShapeResult) -> FieldResult:
    fields: dict[str, Field | None] = {}
    result = FieldResult(fields)
    for tensor in model.inputs:
        shape = shapes.shapes.get(tensor)
        if shape is not None and len(shape) >= 3:
            fields[tensor] = _input_field(model, tensor, len(shape))
    for name in model.order:
        node = model.nodes[name]
        opdef = lookup(node.domain, node.op)
        out: Field | None = None
        if opdef is not None:
            ctx = RfContext(
                node,
                [fields.get(t) if t else None for t in node.inputs],
                [shapes.shapes.get(t) if t else None for t in node.inputs],
                [shapes.shapes.get(t) if t else None for t in node.outputs],
                shapes.resolved.get(name, {}),
                # a node that already failed shape inference gets no further findings
                [] if name in shapes.failed else result.diagnostics,
            )
            try:
                out = opdef.rf(ctx)
            except FieldTooComplex:
                out = None
        for tensor in node.outputs:
            if tensor:
                fields[tensor] = out
    return result
