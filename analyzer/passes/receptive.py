"""Receptive-field pass (REFERENCE §6): walk the DAG, ask each op to transform its inputs' fields.

Model inputs of rank 3 or more are (N, C, *spatial): their units see themselves. Inputs in
channels-last layout (N, *spatial, C) are recognised when the way to the first layer
transposes them to channels-first, as TensorFlow exports do.

Where an op cannot prove which positions its units see, the field is unknown from there on
(R103 says why, once); it never turns into a figure again, except that anything computed
from pooled tensors alone is pooled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.graph import SPATIAL_NAMES, Model
from analyzer.ops.base import PooledField, RfContext
from analyzer.ops.common import rf_metadata, rf_union
from analyzer.passes.shapes import ShapeResult
from analyzer.receptive import IDENTITY_AXIS, UNKNOWN, Field, FieldUnknown
from analyzer.rules import (
    ANALYSIS_FAILED,
    CLASSIFIER_FIELD,
    FIELD_EXCEEDS_INPUT,
    FIELD_UNKNOWN,
    Diagnostic,
)

LOOK_AHEAD = 16
"""Nodes looked at from a model input for the transpose that says its layout."""


@dataclass
class FieldResult:
    fields: dict[str, Field | None]
    """Per tensor; ``UNKNOWN`` where the field cannot be proven."""
    per_node: list[Field | None] = field(default_factory=list)
    """Per node, in ``Model.steps()`` order: the field of its outputs."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _input_field(model: Model, tensor: str, rank: int) -> Field:
    if rank >= 3 and _first_transpose(model, tensor) == [0, rank - 1, *range(1, rank - 1)]:
        axes = tuple(range(1, rank - 1))
        return Field(axes, tuple(IDENTITY_AXIS for _ in axes))
    return Field.identity(rank)


def _first_transpose(model: Model, tensor: str) -> list[int] | None:
    """The permutation of the first Transpose reached from ``tensor`` through element-wise ops
    (a channels-last input rescaled before it is transposed), if every way agrees."""
    from analyzer.ops import opdef_of

    found: list[int] | None = None
    frontier, seen = [tensor], 0
    while frontier and seen < LOOK_AHEAD:
        current = frontier.pop()
        for name in model.consumers.get(current, ()):
            seen += 1
            node = model.nodes[name]
            opdef = opdef_of(node)
            if node.op == "Transpose":
                perm = node.attrs.get("perm")
                if not isinstance(perm, (list, tuple)) or (found is not None and list(perm) != found):
                    return None
                found = list(perm)
            elif opdef is not None and opdef.rf is rf_union and node.outputs:
                frontier.extend(t for t in node.outputs[:1] if t)
            else:
                return None
    return found


def input_spatial_sizes(analysis) -> tuple | None:
    """Sizes of the first spatial model input along the axes its field tracks."""
    model = analysis.model
    for tensor in model.inputs:
        field = analysis.fields.fields.get(tensor)
        shape = analysis.shapes.shapes.get(tensor)
        if field is not None and shape is not None:
            return tuple(shape[a] for a in field.axes)
    return None


def receptive_fields(model: Model, shapes: ShapeResult, debug: bool = False) -> FieldResult:
    fields: dict[str, Field | None] = {}
    result = FieldResult(fields)
    sizes = None
    exceeded: set[int] = set()
    seen: set[int] = set()
    pools: list[PooledField] = []
    for tensor in model.inputs:
        shape = shapes.shapes.get(tensor)
        if shape is not None and len(shape) >= 3:
            fields[tensor] = _input_field(model, tensor, len(shape))
            if sizes is None:
                sizes = tuple(shape[a] for a in fields[tensor].axes)

    per_node = result.per_node
    fields_get, failed = fields.get, shapes.failed
    checked = len(sizes or ())  # axes along which R102 may still be said
    for (node, opdef), outcome in zip(model.steps(), shapes.outcomes, strict=True):
        in_fields = list(map(fields_get, node.inputs))  # no field is kept under ""
        known = unknown = 0  # inputs with a field, and those whose field is unknown
        for index, found in enumerate(in_fields):
            if found is not None:
                known, source = known + 1, index
                unknown += found is UNKNOWN
        if not known:
            out = None
        elif known == 1 and opdef is not None and opdef.rf is rf_union and _passes_through(node, source, outcome):
            out = in_fields[source]
        elif unknown:
            out = None if opdef is not None and opdef.rf is rf_metadata else UNKNOWN
        elif opdef is None or outcome.malformed():
            out = _beyond_reach(in_fields)  # U101 or the shape error already says why
        else:
            out = _transform(node, opdef, outcome, in_fields, sizes, pools, result, node.name in failed, debug)
        for tensor in node.outputs:
            if tensor:
                fields[tensor] = out
        per_node.append(out)
        if len(exceeded) < checked and out is not None and not out.is_global and id(out) not in seen:
            seen.add(id(out))  # a field passed through unchanged was checked where it was made
            _check_exceeds(node, out, sizes, exceeded, result.diagnostics)
    if pools:
        _pooling_heads(model, fields, pools, result.diagnostics)
    return result


def _transform(node, opdef, outcome, in_fields: list[Field | None], sizes, pools: list[PooledField],
               result: FieldResult, failed: bool, debug: bool) -> Field | None:
    """The field of the node's outputs, from its op's transform (``opdef.rf``)."""
    # a node that already failed shape inference gets no further findings
    diagnostics = [] if failed else result.diagnostics
    ctx = RfContext(node, in_fields, outcome.in_shapes, outcome.out_shapes_for(node), outcome.resolved,
                    diagnostics, sizes, pools)
    why = "the op's dependence on input positions is not modelled"
    try:
        out = opdef.rf(ctx)
    except FieldUnknown as error:
        out, why = None, str(error)
    except Exception as error:  # a bug in a transform must not take the whole report down
        if debug:
            raise
        result.diagnostics.append(Diagnostic(
            ANALYSIS_FAILED.code, ANALYSIS_FAILED.severity, node.name,
            f"internal error following the receptive field through {node.op}: "
            f"{type(error).__name__}: {error}", node.location,
        ))
        out, why = None, "convlint failed here (U199)"
    if out is None and opdef.rf is not rf_metadata:
        out = _beyond_reach(in_fields)
        if out is UNKNOWN:
            diagnostics.append(Diagnostic(
                FIELD_UNKNOWN.code, FIELD_UNKNOWN.severity, node.name,
                f"receptive field unknown from here on: {why}", node.location,
            ))
    return out


def _beyond_reach(in_fields: list[Field | None]) -> Field:
    """The field of an output the op could not work out: pooled if every input it has is
    pooled (nothing computed from a summary of the whole input has positions), else unknown."""
    known = [f for f in in_fields if f is not None]
    if known and all(f.pooled for f in known):
        return known[0]
    return UNKNOWN


def _passes_through(node, index: int, outcome) -> bool:
    """An element-wise op whose only input with a field (``index``) has its (first) output's
    rank keeps that field as is."""
    if not node.outputs or not node.outputs[0]:
        return False
    source, target = outcome.in_shapes[index], outcome.shapes[0]
    return source is not None and target is not None and len(source) == len(target)


def _pooling_heads(model: Model, fields: dict[str, Field | None], pools: list[PooledField],
                   diagnostics: list[Diagnostic]) -> None:
    """D104 for the global pools whose result only flows into more pooled tensors (a
    classifier head), not into a tensor that keeps positions (a gate, an image-pooling
    branch joined to the trunk)."""
    memo: dict[str, bool] = {}
    for pool in pools:
        if not _reaches_positions(model, fields, pool.node.name, memo):
            diagnostics.append(Diagnostic(
                CLASSIFIER_FIELD.code, CLASSIFIER_FIELD.severity, pool.node.name,
                f"pools features whose receptive field ({pool.size}) is smaller than the input "
                f"({pool.input}), and only pooled tensors follow: nothing downstream can relate "
                "parts of the input farther apart",
                pool.node.location,
            ))


def _reaches_positions(model: Model, fields: dict[str, Field | None], start: str, memo: dict[str, bool]) -> bool:
    """Whether node ``start``'s outputs reach, through pooled tensors only, a tensor that keeps
    positions (or one whose field is unknown: then nothing is claimed). Memoised in ``memo``."""
    stack = [start]
    while stack:
        name = stack[-1]
        if name in memo:
            stack.pop()
            continue
        pending: list[str] = []
        reached = False
        for tensor in model.nodes[name].outputs:
            for reader in model.consumers.get(tensor, ()) if tensor else ():
                if reader not in memo:
                    outputs = [t for t in model.nodes[reader].outputs if t]
                    field = fields.get(outputs[0]) if outputs else None
                    if field is None:
                        memo[reader] = False  # a shape or size: no values flow on
                    elif field is UNKNOWN or not field.pooled:
                        memo[reader] = True
                    else:
                        pending.append(reader)
                        continue
                reached = reached or memo[reader]
        if reached or not pending:
            memo[name] = reached
            stack.pop()
        else:
            stack.extend(pending)
    return memo[start]


def _check_exceeds(node, field: Field, sizes, exceeded: set[int], diagnostics: list[Diagnostic]) -> None:
    """Say once per axis where units start to see beyond the whole input (R102)."""
    if sizes is None or len(sizes) != len(field.per_axis):
        return
    names = SPATIAL_NAMES.get(len(sizes)) or tuple(f"axis {i}" for i in range(len(sizes)))
    beyond = []
    for i, (axis, size) in enumerate(zip(field.per_axis, sizes)):
        extent = max(axis.sizes(), default=0)
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


def spatial_axes(model: Model, tensor: str, rank: int) -> tuple[int, ...]:
    """The spatial axes of a model input of ``rank`` >= 3: 2.. for (N, C, *spatial), 1..r-2
    for a channels-last input (see :func:`_input_field`)."""
    return _input_field(model, tensor, rank).axes
