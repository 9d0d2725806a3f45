"""Pooling: no parameters, channels kept, the sliding-window size rule (REFERENCE §2)."""

from __future__ import annotations

import math

from analyzer.graph import Dim
from analyzer.ops import CONVLINT_DOMAIN, register
from analyzer.ops.base import InferContext, RfContext, shown
from analyzer.ops.common import rf_global_pool
from analyzer.ops.window import per_axis, rf_window, sliding, spatial_of
from analyzer.receptive import AxisField, Field
from analyzer.rules import INVALID_ATTRIBUTE


def infer_pool(ctx: InferContext) -> None:
    x = ctx.shape(0)
    spatial = spatial_of(ctx, x)
    if ctx.attr("kernel_shape") is None:
        ctx.fail(INVALID_ATTRIBUTE, "kernel_shape is required", "kernel_shape")
    kernel = per_axis(ctx, "kernel_shape", len(spatial), 1)
    out = sliding(ctx, x, kernel, ceil_mode=bool(ctx.attr("ceil_mode", 0)), pool=True)
    shape = (x[0], x[1], *out)
    ctx.set(0, shape, ctx.dtype(0))
    ctx.set(1, shape, "int64")  # MaxPool's optional Indices


def infer_global_pool(ctx: InferContext) -> None:
    x = ctx.shape(0)
    spatial = spatial_of(ctx, x)
    ctx.set(0, (x[0], x[1], *(1 for _ in spatial)), ctx.dtype(0))


def infer_adaptive_pool(ctx: InferContext) -> None:
    """PyTorch's AdaptiveAvgPool/MaxPool: ``output_size`` per axis (None keeps the input's)."""
    x = ctx.shape(0)
    spatial = spatial_of(ctx, x)
    sizes = ctx.attr("output_size")
    if type(sizes) is int:
        sizes = [sizes] * len(spatial)
    if sizes is None:
        ctx.fail(INVALID_ATTRIBUTE, f"{ctx.node.op} needs output_size", "output_size")
    if not isinstance(sizes, list) or not all(s is None or type(s) is int for s in sizes):
        ctx.fail(INVALID_ATTRIBUTE, f"output_size must be integers, got {shown(sizes)}", "output_size")
    if len(sizes) != len(spatial):
        per_axis(ctx, "output_size", len(spatial), 1)  # reports the rank mismatch
    out: list[Dim] = [s if o is None else o for s, o in zip(spatial, sizes)]
    if any(isinstance(o, int) and o <= 0 for o in out):
        ctx.fail(INVALID_ATTRIBUTE, f"output_size must be positive, got {sizes}", "output_size")
    ctx.set(0, (x[0], x[1], *out), ctx.dtype(0))


def _adaptive_axis(field: AxisField, size: int, out: int) -> AxisField:
    """Output unit o pools input units floor(o*in/out) .. ceil((o+1)*in/out) - 1."""
    g = math.gcd(size, out)
    return field.gather(
        out // g, size // g, lambda r: range((r * size) // out, -(-(r + 1) * size // out))
    )


def rf_adaptive_pool(ctx: RfContext) -> Field | None:
    field = ctx.fields[0]
    x, y = ctx.in_shape(0), ctx.out_shape(0)
    if field is None or x is None or y is None or field.is_global:
        return field
    if all(o == 1 for o in y[2:]):
        return ctx.pooled_globally(field)
    if any(not isinstance(d, int) for d in (*x[2:], *y[2:])):
        return None
    sizes = dict(zip(range(2, len(x)), zip(x[2:], y[2:])))
    return field.on_axes(lambda axis, f: _adaptive_axis(f, *sizes[axis]))


register(
    "MaxPool", "AveragePool", "LpPool",
    infer=infer_pool,
    max_inputs=1,
    rf=rf_window,
    doc="Pooling windows: channels kept, no parameters; kernel, strides, pads, dilations, "
    "ceil_mode and auto_pad as for Conv.",
)
register(
    "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
    infer=infer_global_pool,
    max_inputs=1,
    rf=rf_global_pool,
    doc="Global pooling: every spatial dim becomes 1; each unit sees the whole input.",
)
register(
    "AdaptiveAvgPool", "AdaptiveMaxPool",
    domain=CONVLINT_DOMAIN,
    infer=infer_adaptive_pool,
    max_inputs=1,
    rf=rf_adaptive_pool,
    doc="PyTorch adaptive pooling to output_size; unit o covers floor(o*in/out) .. "
    "ceil((o+1)*in/out) - 1.",
)
