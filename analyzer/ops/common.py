"""Helpers shared by op families: dim arithmetic, axes, broadcasting, default transforms."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from analyzer.graph import Dim, Shape, axis_name
from analyzer.ops.base import CostContext, InferContext, RfContext
from analyzer.receptive import Field, FieldUnknown, union
from analyzer.rules import (
    BROADCAST_MISMATCH,
    CONV_CHANNEL_MISMATCH,
    INNER_DIM_MISMATCH,
    INVALID_ATTRIBUTE,
    MIXED_STRIDES,
    Diagnostic,
    Rule,
)
from analyzer.symbolic import eq, is_expr


def prod(dims: Iterable[Dim]) -> Any:
    """The product of sizes (an expression when one is scanned); None if any is unknown."""
    total: Any = 1
    for d in dims:
        if type(d) is int:
            total *= d
        elif is_expr(d):
            total = d * total
        else:
            return None
    return total


def per_sample(shape: Shape, batch: Dim) -> Shape:
    """The dims of one sample: dim 0 is left out when it is the model's batch dim."""
    if len(shape) > 1 and batch is not None and shape[0] == batch:
        return shape[1:]
    return shape


def axis_index(ctx: InferContext, axis: int, rank: int, attr: str = "axis") -> int:
    if not -rank <= axis < rank:
        ctx.fail(INVALID_ATTRIBUTE, f"{attr}={axis} is outside a rank-{rank} tensor", attr)
    return axis % rank


def axes_indices(ctx: InferContext, axes: Sequence[int], rank: int, attr: str = "axes") -> list[int]:
    return sorted({axis_index(ctx, a, rank, attr) for a in axes})


def broadcast_dims(dims: Sequence[Dim]) -> tuple[Dim, bool]:
    """The broadcast of one aligned column of dims, and whether they are compatible."""
    sizes = {d for d in dims if isinstance(d, int) and d != 1}
    if len(sizes) > 1:
        return None, False
    if sizes:
        return sizes.pop(), True
    names = {d for d in dims if isinstance(d, str)}
    if None in dims:
        return None, True
    if len(names) == 1:
        return names.pop(), True
    if names:
        return None, True
    return 1, True


def equal_sizes(ctx: InferContext, column: Sequence[Dim], rule: Rule, where: str) -> Dim | None:
    """For a column holding scanned sizes: require them equal (ints of 1 broadcast) and return
    one; None when no scanned size is involved."""
    exprs = [d for d in column if is_expr(d)]
    if not exprs:
        return None
    first = exprs[0]
    for other in {*exprs[1:], *(d for d in column if isinstance(d, int) and d != 1)}:
        if other is not first:
            ctx.require(eq(first, other), rule, lambda: where, generic=where)
    return first


LISTED = 8
"""Input shapes a message lists (a Concat or Sum may take thousands)."""


def shapes_text(ctx: InferContext, shapes: Sequence[Shape], joiner: str = ", ") -> str:
    """Shapes for a message: the first few distinct ones, and how many more there are."""
    shown = joiner.join(ctx.fmt(s) for s in dict.fromkeys(shapes[:LISTED]))
    return shown + (f" and {len(shapes) - LISTED:,} more" if len(shapes) > LISTED else "")


def broadcast(ctx: InferContext, shapes: Sequence[Shape]) -> Shape:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out: list[Dim] = []
    bad: list[tuple[Dim, ...]] = []
    for index, column in enumerate(zip(*padded)):
        scanned = equal_sizes(ctx, column, BROADCAST_MISMATCH,
                              f"operands differ along {axis_name(index, rank)}")
        if scanned is not None:
            out.append(scanned)
            continue
        dim, ok = broadcast_dims(column)
        if not ok:
            bad.append(column)
        out.append(dim)
    if bad:
        listed = shapes_text(ctx, shapes, " and ")
        dims = "; ".join(" vs ".join(map(str, column)) for column in bad)
        ctx.fail(BROADCAST_MISMATCH, f"shapes {listed} do not broadcast ({dims})", partial=tuple(out))
    return tuple(out)


def same_as_input(ctx: InferContext) -> None:
    """Output 0 has input 0's shape and type (activations, normalisations, dropout)."""
    ctx.set(0, ctx.shape(0), ctx.dtype(0))


def rf_union(ctx: RfContext) -> Field | None:
    """Element-wise and joining ops: each output unit sees what its aligned input units see."""
    fields = ctx.data_fields()
    if not fields:
        return None
    out_shape = ctx.out_shape(0)
    out_rank = len(out_shape) if out_shape is not None else None
    aligned: list[Field] = []
    for index, field in fields:
        in_shape = ctx.in_shape(index)
        if out_rank is not None and in_shape is not None and len(in_shape) != out_rank:
            shift = out_rank - len(in_shape)
            if shift < 0:  # not broadcast to the output (a scatter's updates): no alignment known
                raise FieldUnknown(f"input {index} has more axes than the output; which output "
                                   "positions its units reach is not modelled")
            field = field.remapped(lambda a, shift=shift: a + shift, out_shape)  # type: ignore[arg-type]
        aligned.append(field)
    if len(aligned) == 1:
        return aligned[0]
    merged, same_strides = union(aligned)
    if not same_strides and _strides_differ(ctx, fields, aligned):
        strides = ", ".join(
            "x".join(str(a.stride) for a in f.per_axis) for f in aligned if not f.is_global
        )
        ctx.diagnostics.append(
            Diagnostic(
                MIXED_STRIDES.code, MIXED_STRIDES.severity, ctx.node.name,
                f"inputs have different strides relative to the model input ({strides}); "
                "the receptive field is their union over one period",
                ctx.node.location,
            )
        )
    return merged


def _strides_differ(ctx: RfContext, fields: list[tuple[int, Field]], aligned: list[Field]) -> bool:
    """Whether joined branches differ in stride, leaving out those resized to the joined
    size on purpose (their spatial dims are the output's)."""
    out = ctx.out_shape(0)
    kept = {
        tuple(a.stride for a in f.per_axis)
        for (index, _), f in zip(fields, aligned)
        if not f.is_global and not (f.aligned and out is not None and _same_spatial(ctx.in_shape(index), out, f))
    }
    return len(kept) > 1


def _same_spatial(shape, out, field: Field) -> bool:
    shift = len(out) - len(shape) if shape is not None else 0
    return shape is not None and all(shape[a - shift] == out[a] for a in field.axes if a >= shift)


def rf_global(ctx: RfContext) -> Field | None:
    """Each output unit summarises the whole input (data-dependent ops such as NonZero)."""
    fields = ctx.data_fields()
    if not fields:
        return None
    merged, _ = union([f for _, f in fields])
    return merged.as_pooled()


def rf_global_pool(ctx: RfContext) -> Field | None:
    """Global pooling: each output unit pools every unit of its input (D104 checks it)."""
    field = ctx.fields[0] if ctx.fields else None
    return ctx.pooled_globally(field) if field is not None else None


def rf_metadata(ctx: RfContext) -> Field | None:
    """The output describes its input (a shape, a size), not its values: no field."""
    return None


def rf_mix(ctx: RfContext) -> Field | None:
    """Ops that combine every unit along the axes they resolved as ``mixed`` (softmax):
    positions held there are all seen (global, REFERENCE §6)."""
    return _along_resolved(ctx, "mixed", Field.mixed)


def rf_statistics(ctx: RfContext) -> Field | None:
    """Normalisations: statistics over the axes resolved as ``statistics`` are global
    context where those axes hold positions; each unit keeps its local field."""
    return _along_resolved(ctx, "statistics", Field.with_context)


def _along_resolved(ctx: RfContext, key: str, transform: Callable[[Field, set[int]], Field]) -> Field | None:
    merged = rf_union(ctx)
    along = ctx.resolved.get(key)
    return merged if merged is None or along is None else transform(merged, along)


def no_macs(ctx: CostContext) -> int | None:
    return 0


def check_positive(ctx: InferContext, values: Sequence[int], attr: str) -> None:
    bad = [v for v in values if v <= 0]
    if bad:
        ctx.fail(INVALID_ATTRIBUTE, f"{attr} must be positive, got {list(values)}", attr)


def channel_mismatch(ctx: InferContext, expected: int, actual: int, weight: Shape, fix: str) -> None:
    """One message for a weight that wants other input channels (or features) than it gets."""
    if ctx.attr(fix) is not None:
        ctx.report(
            CONV_CHANNEL_MISMATCH if fix == "in_channels" else INNER_DIM_MISMATCH,
            f"{fix}={ctx.attr(fix)} but its input {ctx.fmt(ctx.shape(0))} has {actual}; set "
            f"{fix} to {actual}, or make the producer give {ctx.attr(fix)}",
            fix,
        )
    else:
        ctx.report(
            CONV_CHANNEL_MISMATCH if fix == "in_channels" else INNER_DIM_MISMATCH,
            f"weight {tuple(weight)} expects {expected} input "
            f"{'channels' if fix == 'in_channels' else 'features'} but its input "
            f"{ctx.fmt(ctx.shape(0))} has {actual}",
            fix,
        )
