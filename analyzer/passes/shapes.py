"""Shape inference: propagate shapes, types and small constant values through the DAG.

Each node's op declaration computes its outputs and performs its checks. A node whose op is
not modelled gets unknown outputs (or the shape onnx.shape_inference found, said so), never
a guess. The first node where a dim becomes unknown says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.graph import ConstTensor, Model, Shape, format_shape
from analyzer.ops import lookup
from analyzer.ops.base import Constraint, InferContext, ShapeError, UnknownInput
from analyzer.rules import ANALYSIS_FAILED, NOT_MODELLED, SHAPE_FROM_ONNX, UNKNOWN_DIM, Diagnostic

LATEST_OPSET = 28


@dataclass
class ShapeResult:
    shapes: dict[str, Shape | None]
    dtypes: dict[str, str]
    values: dict[str, ConstTensor]
    resolved: dict[str, dict[str, Any]]
    """Per node: geometry its rule worked out (windows, resampling...)."""
    modelled: dict[str, bool]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    """Nodes whose rule reported an error and could not produce (all of) their outputs."""
    constraints: list[Constraint] = field(default_factory=list)
    """Checks that depend on a scanned input size, in topological order (``convlint sizes``);
    a node that fails whatever the size adds one that never holds."""


def _fully_known(shape: Shape | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def infer_shapes(model: Model, debug: bool = False, inputs: dict[str, Shape] | None = None) -> ShapeResult:
    """Shapes of every tensor; ``inputs`` overrides model input shapes (dims may be size
    expressions, see analyzer.symbolic)."""
    shapes: dict[str, Shape | None] = {}
    dtypes: dict[str, str] = {}
    values: dict[str, ConstTensor] = {}
    for tensor in model.tensors.values():
        if tensor.role in ("input", "constant"):
            shapes[tensor.name] = tensor.shape
            dtypes[tensor.name] = tensor.dtype
            if tensor.value is not None and tensor.value.values is not None:
                values[tensor.name] = tensor.value
        elif tensor.role == "deferred":
            dtypes[tensor.name] = tensor.dtype
    shapes.update(inputs or {})
    result = ShapeResult(shapes, dtypes, values, {}, {})
    diagnostics = result.diagnostics
    deferred = {t.name for t in model.tensors.values() if t.role == "deferred"}

    for name in model.order:
        node = model.nodes[name]
        opdef = lookup(node.domain, node.op)
        in_shapes = [shapes.get(t) if t else None for t in node.inputs]
        result.modelled[name] = opdef is not None
        if opdef is None:
            _unmodelled(model, node, shapes, diagnostics)
            continue
        opset = model.opset.get(node.domain or "", LATEST_OPSET)
        ctx = InferContext(
            node,
            opset,
            in_shapes,
            [dtypes.get(t, "float32") for t in node.inputs],
            [values.get(t) for t in node.inputs],
            [t in deferred for t in node.inputs],
            diagnostics,
            model.per_sample,
            result.constraints,
        )
        failed = False
        try:
            opdef.infer(ctx)
        except UnknownInput:
            ctx.out_shapes = [None] * len(node.outputs)
        except ShapeError as error:
            failed = True
            ctx.out_shapes = [error.partial] + [None] * (len(node.outputs) - 1)
            ctx.out_dtypes = [ctx.dtype(0)] + [None] * (len(node.outputs) - 1)
            location = node.location_of(error.attr)
            diagnostics.append(
                Diagnostic(error.rule.code, error.rule.severity, name, error.message, location)
            )
            result.constraints.append(Constraint(name, error.rule, error.message, location, False))
        except Exception as error:  # a bug in a rule must not take the whole report down
            if debug:
                raise
            failed = True
            ctx.out_shapes = [None] * len(node.outputs)
            diagnostics.append(
                Diagnostic(ANALYSIS_FAILED.code, ANALYSIS_FAILED.severity, name,
                           f"internal error modelling {node.op}: {type(error).__name__}: {error}",
                           node.location)
            )
        for index, shape in ctx.bound.items():
            shapes[node.inputs[index]] = shape
        for index, tensor in enumerate(node.outputs):
            if not tensor:
                continue
            shapes[tensor] = ctx.out_shapes[index]
            dtypes[tensor] = ctx.out_dtypes[index] or "float32"
            value = ctx.out_values[index]
            if value is not None:
                values[tensor] = value
        result.resolved[name] = ctx.resolved
        if failed:
            result.failed.add(name)
        else:
            _note_unknown(
                model, node, [shapes.get(t) if t else None for t in node.inputs],
                [shapes.get(t) for t in node.outputs if t], diagnostics,
            )
    return result


def _unmodelled(model: Model, node, shapes: dict[str, Shape | None], diagnostics: list[Diagnostic]) -> None:
    op = f"{node.domain}::{node.op}" if node.domain else node.op
    hinted = []
    for tensor in node.outputs:
        if not tensor:
            continue
        hint = model.tensors[tensor].hint
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


def _note_unknown(model: Model, node, in_shapes, out_shapes, diagnostics: list[Diagnostic]) -> None:
    """Say where a dim first becomes unknown (not at every node downstream of it)."""
    if all(_fully_known(s) for s in out_shapes):
        return
    if not all(_fully_known(s) for s, t in zip(in_shapes, node.inputs) if t):
        return
    shown = ", ".join(format_shape(s, model.per_sample) for s in out_shapes)
    inputs = ", ".join(format_shape(s, model.per_sample) for s, t in zip(in_shapes, node.inputs) if t)
    diagnostics.append(
        Diagnostic(UNKNOWN_DIM.code, UNKNOWN_DIM.severity, node.name,
                   f"output {shown} cannot be known statically from input {inputs}",
                   node.location)
    )
