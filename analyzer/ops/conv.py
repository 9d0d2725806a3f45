"""Conv and ConvTranspose (REFERENCE §2-§4)."""

from __future__ import annotations

from analyzer.graph import Dim, Shape
from analyzer.ops import register
from analyzer.ops.base import CostContext, InferContext
from analyzer.ops.common import channel_mismatch, check_positive, per_sample, prod
from analyzer.ops.window import per_axis, rf_window, sliding, spatial_of, transposed
from analyzer.rules import CONV_CHANNEL_MISMATCH, GROUPS_MISMATCH, RANK_MISMATCH


def _kernel(ctx: InferContext, rank: int, weight: Shape | None) -> tuple[int, ...] | None:
    if ctx.attr("kernel_shape") is not None:
        return per_axis(ctx, "kernel_shape", rank, 1)
    if weight is not None and all(isinstance(d, int) for d in weight[2:]):
        return tuple(weight[2:])  # type: ignore[arg-type]
    return None


def _div(a: Dim, b: int) -> Dim:
    return a // b if isinstance(a, int) and a % b == 0 else None


def _groups(ctx: InferContext) -> int:
    group = ctx.attr("group", 1)
    check_positive(ctx, [group], "group")
    return group


def _check_weight_rank(ctx: InferContext, x: Shape, w: Shape) -> None:
    if len(w) != len(x):
        ctx.fail(
            RANK_MISMATCH,
            f"weight {tuple(w)} has rank {len(w)}, but the input {ctx.fmt(x)} has rank {len(x)}",
        )


def _check_bias(ctx: InferContext, channels: Dim) -> None:
    if not ctx.has(2):
        return
    bias = ctx.weight(2, (channels,))
    if len(bias) != 1 or (isinstance(channels, int) and isinstance(bias[0], int) and bias[0] != channels):
        ctx.report(
            CONV_CHANNEL_MISMATCH,
            f"bias has shape {tuple(bias)} but the layer has {channels} output channels",
            "bias",
        )


def infer_conv(ctx: InferContext) -> None:
    x = ctx.shape(0)
    spatial_of(ctx, x)
    rank = len(x) - 2
    group = _groups(ctx)
    channels = x[1]
    kernel = _kernel(ctx, rank, None if ctx.attr("kernel_shape") is not None else ctx.shape(1))
    expected_in = ctx.attr("in_channels", channels)
    w = ctx.weight(1, (ctx.attr("out_channels", like=0), _div(expected_in, group), *(kernel or ())))
    _check_weight_rank(ctx, x, w)
    kernel = kernel or _kernel(ctx, rank, w)
    if kernel is None:
        ctx.fail(RANK_MISMATCH, f"kernel size unknown (weight {w})")
    out_channels, per_group = w[0], w[1]
    if isinstance(out_channels, int) and out_channels % group:
        ctx.report(
            GROUPS_MISMATCH,
            f"{out_channels} output channels are not divisible by groups={group}",
            "group",
        )
    if isinstance(channels, int) and channels % group:
        ctx.report(
            GROUPS_MISMATCH, f"input channels {channels} are not divisible by groups={group}", "group"
        )
    elif isinstance(channels, int) and isinstance(per_group, int) and per_group * group != channels:
        channel_mismatch(ctx, per_group * group, channels, w, "in_channels")
    _check_bias(ctx, out_channels)
    out = sliding(ctx, x, kernel)
    ctx.set(0, (x[0], out_channels, *out), ctx.dtype(0))


def infer_conv_transpose(ctx: InferContext) -> None:
    x = ctx.shape(0)
    spatial_of(ctx, x)
    rank = len(x) - 2
    group = _groups(ctx)
    channels = x[1]
    kernel = _kernel(ctx, rank, None if ctx.attr("kernel_shape") is not None else ctx.shape(1))
    out_attr = ctx.attr("out_channels", like=0)
    w = ctx.weight(
        1,
        (ctx.attr("in_channels", channels), _div(out_attr, group) if out_attr else None, *(kernel or ())),
    )
    _check_weight_rank(ctx, x, w)
    kernel = kernel or _kernel(ctx, rank, w)
    if kernel is None:
        ctx.fail(RANK_MISMATCH, f"kernel size unknown (weight {w})")
    if isinstance(channels, int) and isinstance(w[0], int) and w[0] != channels:
        channel_mismatch(ctx, w[0], channels, w, "in_channels")
    if isinstance(channels, int) and channels % group:
        ctx.report(
            GROUPS_MISMATCH, f"input channels {channels} are not divisible by groups={group}", "group"
        )
    out_channels = w[1] * group if isinstance(w[1], int) else None
    _check_bias(ctx, out_channels)
    out = transposed(ctx, x, kernel)
    ctx.set(0, (x[0], out_channels, *out), ctx.dtype(0))


def macs_conv(ctx: CostContext) -> int | None:
    """Per sample: every output element is a dot product over (C_in / groups) * prod(kernel)."""
    out, w = ctx.out_shape(0), ctx.in_shape(1)
    if out is None or w is None:
        return None
    return prod((*per_sample(out, ctx.batch), *w[1:]))


def macs_conv_transpose(ctx: CostContext) -> int | None:
    """Per sample: every input element is scattered through (C_out / groups) * prod(kernel) weights."""
    x, w = ctx.in_shape(0), ctx.in_shape(1)
    if x is None or w is None:
        return None
    return prod((*per_sample(x, ctx.batch), *w[1:]))


register(
    "Conv",
    infer=infer_conv,
    max_inputs=3,
    rf=rf_window,
    macs=macs_conv,
    weights={1: "param", 2: "param"},
    doc="Convolution: weight (M, C/group, *kernel), output (N, M, *out) with "
    "out = floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1.",
)
register(
    "ConvTranspose",
    infer=infer_conv_transpose,
    max_inputs=3,
    rf=rf_window,
    macs=macs_conv_transpose,
    weights={1: "param", 2: "param"},
    doc="Transposed convolution: weight (C, M/group, *kernel), "
    "out = stride*(in-1) + output_padding + dilation*(kernel-1) + 1 - pads; output_shape wins.",
)
