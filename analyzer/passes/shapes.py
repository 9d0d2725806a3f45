"""Shape inference: propagate shapes, types and small constant values through the DAG.

Each node's op declaration computes its outputs and performs its checks. A node whose op is
not modelled gets unknown outputs (or the shape onnx.shape_inference found, said so), never
a guess. The first node where a dim becomes unknown says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.graph import ConstTensor, Model, Shape, format_shape
from analyzer.limits import MAX_DIM, MAX_RANK, describe
from analyzer.ops.base import Constraint, InferContext, ShapeError, UnknownInput
from analyzer.rules import (
    ANALYSIS_FAILED,
    INVALID_ATTRIBUTE,
    MISSING_INPUT,
    NOT_MODELLED,
    SHAPE_FROM_ONNX,
    SIZE_OUT_OF_RANGE,
    UNKNOWN_DIM,
    Diagnostic,
)
from analyzer.symbolic import ge, is_expr

LATEST_OPSET = 28


@dataclass
class ShapeResult:
    shapes: dict[str, Shape | None]
    dtypes: dict[str, str]
    """Element types other than float32: read them with ``dtypes.get(tensor, "float32")``."""
    values: dict[str, ConstTensor]
    steps: list[tuple[Any, Any]] = field(default_factory=list, repr=False)
    """The model's steps, which ``outcomes`` is aligned with."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    """Nodes whose rule reported an error and could not produce (all of) their outputs."""
    constraints: list[Constraint] = field(default_factory=list)
    """Checks that depend on a scanned input size, in topological order (``convlint sizes``);
    a node that fails whatever the size adds one that never holds."""
    outcomes: list[Any] = field(default_factory=list)
    """Per node, in ``Model.steps()`` order, what its rule produced (None if not modelled):
    nodes that share one (the same op, attributes and inputs) share every figure that follows
    from them (MACs, memory)."""
    _resolved: dict[str, dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def resolved(self) -> dict[str, dict[str, Any]]:
        """Per modelled node, by name: the geometry its rule worked out (windows, resampling...).
        Built on first use; passes that walk the steps read ``outcomes`` instead."""
        if self._resolved is None:
            self._resolved = {
                node.name: outcome.resolved
                for (node, _), outcome in zip(self.steps, self.outcomes, strict=True) if outcome is not None
            }
        return self._resolved


def _fully_known(shape: Shape | None) -> bool:
    return shape is not None and None not in shape


@dataclass(slots=True)
class _Outcome:
    """What a shape rule produced for a node, replayable for an identical node."""

    shapes: list[Shape | None]
    dtypes: list[str | None]
    values: list[ConstTensor | None]
    bound: dict[int, Shape]
    resolved: dict[str, Any]
    reports: list[tuple[Any, str, str | None]]
    error: tuple[Any, str, str | None] | None = None
    internal: str | None = None
    complete: bool | None = None
    """Every output shape fully known (worked out on first use)."""
    plain: bool | None = None
    """One fully known output, and nothing else to write: no bound inputs, values or findings."""
    in_shapes: tuple[Shape | None, ...] = ()
    """Its input shapes (part of what nodes sharing it have in common), with the shapes it
    bound deferred weights to: what later passes see of the inputs."""

    def malformed(self) -> bool:
        """The rule found the node itself invalid (a required input missing, an attribute of
        the wrong kind or out of range): the op's other rules (receptive field, MACs) do not
        run on it."""
        return self.error is not None and self.error[0] in (MISSING_INPUT, INVALID_ATTRIBUTE, SIZE_OUT_OF_RANGE)

    def out_shapes_for(self, node) -> Sequence[Shape | None]:
        """The output shapes as written for ``node``: None for an output it leaves out."""
        outputs = node.outputs
        if all(outputs):
            return self.shapes
        return [shape if tensor else None for tensor, shape in zip(outputs, self.shapes)]

    def is_plain(self) -> bool:
        if self.plain is None:
            self.plain = (len(self.shapes) == 1 and _fully_known(self.shapes[0]) and self.values[0] is None
                          and self.dtypes[0] in (None, "float32")
                          and not self.bound and not self.reports and self.error is None
                          and self.internal is None)
        return self.plain


_MISSING = object()


def _signature(node, known: dict[tuple, Any]) -> Any:
    """A hashable form of the node's op and attributes (None: do not memoise this node).
    Nodes often share one attribute mapping (the ONNX front end dedupes them): ``known``
    keeps the form per mapping, so it is worked out once."""
    attrs = node.attrs
    if not attrs:
        return (node.domain, node.op)
    key = (id(attrs), node.op, node.domain)
    found = known.get(key, _MISSING)
    if found is _MISSING:
        found = known[key] = _frozen(node.domain, node.op, attrs)
    return found


def _frozen(domain: str, op: str, attrs: Mapping[str, Any]) -> Any:
    frozen = []
    for key, value in attrs.items():
        kind = type(value)
        if kind is list:
            if value and type(value[0]) not in (int, float):
                return None
            value = tuple(value)
        elif kind not in (int, float, str):
            return None
        frozen.append((key, value))
    return (domain, op, tuple(frozen))


def _value_key(opdef, in_values: list[ConstTensor | None]) -> Any:
    """The input values that can change a rule's outcome (not those of weight operands, such
    as a conv's tiny bias), by input slot; None when there are none."""
    key = None
    for i, v in enumerate(in_values):
        if v is not None and i not in opdef.weights:
            key = key or [None] * len(in_values)
            key[i] = (v.dims, v.dtype, v.values)
    return key and tuple(key)


def _run(opdef, ctx: InferContext, debug: bool) -> _Outcome:
    outputs = len(ctx.node.outputs)
    try:
        ctx.require_inputs(opdef.min_inputs)
        ctx.require_at_most(opdef.max_inputs)
        opdef.infer(ctx)
    except UnknownInput:
        ctx.out_shapes = [None] * outputs
    except ShapeError as error:
        ctx.out_shapes = [error.partial] + [None] * (outputs - 1)
        ctx.out_dtypes = [ctx.dtype(0)] + [None] * (outputs - 1)
        return _Outcome(ctx.out_shapes, ctx.out_dtypes, ctx.out_values, ctx.bound, ctx.resolved,
                        ctx.reports, (error.rule, error.message, error.attr))
    except Exception as error:  # a bug in a rule must not take the whole report down
        if debug:
            raise
        return _Outcome([None] * outputs, [None] * outputs, [None] * outputs, {}, {}, ctx.reports,
                        internal=f"internal error modelling {ctx.node.op}: {type(error).__name__}: {error}")
    beyond = _out_of_range(ctx.out_shapes)
    if beyond is not None:
        return _Outcome([None] * outputs, [None] * outputs, [None] * outputs, ctx.bound, ctx.resolved,
                        ctx.reports, (SIZE_OUT_OF_RANGE, beyond, None))
    return _Outcome(ctx.out_shapes, ctx.out_dtypes, ctx.out_values, ctx.bound, ctx.resolved, ctx.reports)


def _out_of_range(shapes: list[Shape | None]) -> str | None:
    """Why an output is beyond what convlint computes with (analyzer.limits), else None: such
    sizes are refused where they arise, so that no figure downstream is built from them (with
    at most 64 dims of at most 2**40, every product stays far below Python's 4,300-digit
    limit for printing an integer)."""
    for index, shape in enumerate(shapes):
        if shape is None:
            continue
        what = f"output {index}" if len(shapes) > 1 else "the output"
        if len(shape) > MAX_RANK:
            return f"{what} would have rank {len(shape):,}, over convlint's limit of {MAX_RANK}"
        for axis, dim in enumerate(shape):
            if type(dim) is int and dim > MAX_DIM:
                return (f"{what} would be {dim:,} along axis {axis}, over convlint's limit of "
                        f"{describe(MAX_DIM)} per dim")
    return None


def infer_shapes(model: Model, debug: bool = False, inputs: dict[str, Shape] | None = None) -> ShapeResult:
    """Shapes of every tensor; ``inputs`` overrides model input shapes (dims may be size
    expressions, see analyzer.symbolic).

    Nodes identical in op, attributes and input shapes (repeated blocks) run their rule once.
    """
    shapes: dict[str, Shape | None] = {}
    dtypes: dict[str, str] = {}
    values: dict[str, ConstTensor] = {}
    for tensor in model.tensors.values():
        if tensor.role != "deferred":
            shapes[tensor.name] = tensor.shape
            if tensor.value is not None and tensor.value.values is not None:
                values[tensor.name] = tensor.value
        if tensor.dtype != "float32":
            dtypes[tensor.name] = tensor.dtype
    shapes.update(inputs or {})
    result = ShapeResult(shapes, dtypes, values, model.steps())
    diagnostics = result.diagnostics
    deferred = {t.name for t in model.tensors.values() if t.role == "deferred"}
    memo: dict[Any, _Outcome] | None = {} if not inputs else None  # symbolic runs record constraints

    shape_of, dtype_of, value_of = shapes.get, dtypes.get, values.get
    opsets, outcomes = model.opset, result.outcomes
    no_flags: dict[int, tuple[bool, ...]] = {}
    all_float: dict[int, tuple[str, ...]] = {}
    signatures: dict[tuple, Any] = {}
    scanned: set[int] = set()
    for node, opdef in model.steps():
        if opdef is None:
            _unmodelled(model, node, shapes, diagnostics)
            outcomes.append(None)
            continue
        in_tensors = node.inputs
        in_shapes = tuple(map(shape_of, in_tensors))
        if dtypes:
            in_dtypes = tuple([dtype_of(t, "float32") for t in in_tensors])
        else:  # every tensor float32 so far (most models): no lookups
            in_dtypes = all_float.get(len(in_tensors)) or all_float.setdefault(
                len(in_tensors), ("float32",) * len(in_tensors))
        in_values = list(map(value_of, in_tensors))
        if deferred:
            flags = tuple(t in deferred for t in in_tensors)
        else:
            flags = no_flags.get(len(in_tensors)) or no_flags.setdefault(len(in_tensors), (False,) * len(in_tensors))
        opset = opsets.get(node.domain or "", LATEST_OPSET)
        key = None
        if memo is not None:
            signature = _signature(node, signatures)
            if signature is not None:
                # an empty input ("") and one of unknown shape both read as None: told apart
                holes = tuple(not t for t in in_tensors) if "" in in_tensors else None
                key = (signature, opset, len(node.outputs), in_shapes, in_dtypes, flags,
                       _value_key(opdef, in_values) if any(in_values) else None, holes)
        outcome = memo.get(key) if key is not None else None  # type: ignore[union-attr]
        if outcome is None:
            ctx = InferContext(node, opset, in_shapes, in_dtypes, in_values, list(flags), diagnostics,
                               model.per_sample, result.constraints)
            outcome = _run(opdef, ctx, debug)
            bound = outcome.bound
            outcome.in_shapes = tuple([bound.get(i, s) for i, s in enumerate(in_shapes)]) if bound else in_shapes
            if key is not None:
                memo[key] = outcome  # type: ignore[index]
        outcomes.append(outcome)
        if memo is None:
            _bound_scanned(node, outcome, scanned, result.constraints)
        if outcome.is_plain() and node.outputs[0]:  # most nodes of a large graph: written inline
            shapes[node.outputs[0]] = outcome.shapes[0]
        else:
            _apply(model, node, outcome, result)
    return result


def _bound_scanned(node, outcome: _Outcome, seen: set[int], constraints: list[Constraint]) -> None:
    """A dim that depends on a scanned size is out of range (S111) at the sizes that make it
    over MAX_DIM, as a fixed dim is (``_out_of_range``): recorded once per expression."""
    for shape in outcome.shapes:
        for dim in shape or ():
            if is_expr(dim) and id(dim) not in seen:
                seen.add(id(dim))
                constraints.append(Constraint(node.name, SIZE_OUT_OF_RANGE, _BEYOND, node.location, ge(MAX_DIM, dim)))


_BEYOND = f"an output dim would be over convlint's limit of {describe(MAX_DIM)}"


def _apply(model: Model, node, outcome: _Outcome, result: ShapeResult) -> None:
    """Write a rule's outcome for ``node``: shapes, types, values, findings."""
    shapes, dtypes, values = result.shapes, result.dtypes, result.values
    name = node.name
    for index, shape in outcome.bound.items():
        shapes[node.inputs[index]] = shape
    for index, tensor in enumerate(node.outputs):
        if not tensor:
            continue
        shapes[tensor] = outcome.shapes[index]
        dtype = outcome.dtypes[index]
        if dtype is not None and dtype != "float32":
            dtypes[tensor] = dtype
        value = outcome.values[index]
        if value is not None:
            values[tensor] = value
    for rule, message, attr in outcome.reports:
        result.diagnostics.append(Diagnostic(rule.code, rule.severity_in(model.format), name, message,
                                             node.location_of(attr)))
    if outcome.error is not None:
        rule, message, attr = outcome.error
        location = node.location_of(attr)
        result.diagnostics.append(Diagnostic(rule.code, rule.severity_in(model.format), name, message, location))
        result.constraints.append(Constraint(name, rule, message, location, False))
        result.failed.add(name)
    elif outcome.internal is not None:
        result.diagnostics.append(
            Diagnostic(ANALYSIS_FAILED.code, ANALYSIS_FAILED.severity, name, outcome.internal, node.location)
        )
        result.failed.add(name)
    else:
        complete = outcome.complete
        if complete is None:
            complete = outcome.complete = all(_fully_known(s) for s in outcome.shapes)
        if not complete:
            _note_unknown(model, node, shapes, result.diagnostics)


def _unmodelled(model: Model, node, shapes: dict[str, Shape | None], diagnostics: list[Diagnostic]) -> None:
    op = f"{node.domain}::{node.op}" if node.domain else node.op
    hinted = []
    for tensor in node.outputs:
        if not tensor:
            continue
        hint = model.hints.get(tensor)
        shapes[tensor] = hint
        if hint is not None:
            hinted.append(f"{tensor} {format_shape(hint, model.per_sample)}")
    diagnostics.append(
        Diagnostic(NOT_MODELLED.code, NOT_MODELLED.severity, node.name,
                   f"op {op} is not modelled: its outputs are unknown"
                   + (" to convlint" if hinted else ""),
                   node.location)
    )
    if hinted:
        diagnostics.append(
            Diagnostic(SHAPE_FROM_ONNX.code, SHAPE_FROM_ONNX.severity, node.name,
                       f"output shape taken from onnx.shape_inference: {', '.join(hinted)}",
                       node.location)
        )


def _note_unknown(model: Model, node, shapes: dict[str, Shape | None], diagnostics: list[Diagnostic]) -> None:
    """Say where a dim first becomes unknown (not at every node downstream of it)."""
    out_shapes = [shapes.get(t) for t in node.outputs if t]
    if all(_fully_known(s) for s in out_shapes):
        return
    in_shapes = [shapes.get(t) for t in node.inputs if t]
    if not all(_fully_known(s) for s in in_shapes):
        return
    shown = ", ".join(format_shape(s, model.per_sample) for s in out_shapes)
    inputs = ", ".join(format_shape(s, model.per_sample) for s in in_shapes)
    diagnostics.append(
        Diagnostic(UNKNOWN_DIM.code, UNKNOWN_DIM.severity, node.name,
                   f"output {shown} cannot be known statically from input {inputs}",
                   node.location)
    )
