"""Normalisations: shape kept; per-channel (or per normalised element) scale, bias, statistics."""

from __future__ import annotations

from analyzer.graph import Dim, Shape
from analyzer.ops import register
from analyzer.ops.base import InferContext
from analyzer.ops.common import axis_index, rf_statistics
from analyzer.rules import GROUPS_MISMATCH, NORM_SIZE_MISMATCH, RANK_MISMATCH

_VECTOR_NAMES = {1: "scale", 2: "bias", 3: "running mean", 4: "running variance"}


def _channels(ctx: InferContext, x: Shape) -> Dim:
    if len(x) < 2:
        ctx.fail(RANK_MISMATCH, f"needs (N, C, ...) input, got {ctx.fmt(x)}")
    return x[1]


def _check_vectors(ctx: InferContext, indices: range, expected: Shape, what: str) -> None:
    """Each present input among ``indices`` must have shape ``expected``: one finding for all."""
    wrong: list[str] = []
    for index in indices:
        if ctx.has(index):
            shape = ctx.weight(index, expected)
            if _differs(shape, expected):
                wrong.append(f"{_VECTOR_NAMES.get(index, f'input {index}')} {tuple(shape)}")
    if wrong:
        ctx.report(
            NORM_SIZE_MISMATCH,
            f"{', '.join(wrong)} but {what} {tuple(expected)}",
            "num_features",
        )


def _differs(a: Shape, b: Shape) -> bool:
    return len(a) != len(b) or any(
        isinstance(x, int) and isinstance(y, int) and x != y for x, y in zip(a, b)
    )


def infer_batch_norm(ctx: InferContext) -> None:
    x = ctx.shape(0)
    ctx.attr("epsilon", 1e-5)  # a number (spec export writes it as one)
    channels = ctx.attr("num_features", _channels(ctx, x))
    _check_vectors(ctx, range(1, 5), (channels,), "expected")
    if isinstance(channels, int) and isinstance(x[1], int) and channels != x[1]:
        ctx.report(
            NORM_SIZE_MISMATCH,
            f"expects {channels} channels but its input {ctx.fmt(x)} has {x[1]}; "
            f"set num_features to {x[1]}",
            "num_features",
        )
    ctx.set(0, x, ctx.dtype(0))
    for index in range(1, 5):  # training-mode outputs: running mean/var (and saved stats)
        ctx.set(index, (x[1],), ctx.dtype(0))


def infer_instance_norm(ctx: InferContext) -> None:
    x = ctx.shape(0)
    _check_vectors(ctx, range(1, 3), (_channels(ctx, x),), "expected")
    ctx.resolve("statistics", set(range(2, len(x))))
    ctx.set(0, x, ctx.dtype(0))


def infer_group_norm(ctx: InferContext) -> None:
    x = ctx.shape(0)
    channels = _channels(ctx, x)
    groups = ctx.attr("num_groups", 1)
    if isinstance(channels, int) and channels % groups:
        ctx.report(
            GROUPS_MISMATCH, f"{channels} channels are not divisible by num_groups={groups}",
            "num_groups",
        )
    # ONNX opset 18-20 took one scale per group; opset 21 and PyTorch one per channel.
    per = channels if ctx.opset >= 21 or ctx.node.domain else groups
    _check_vectors(ctx, range(1, 3), (per,), "expected")
    ctx.resolve("statistics", set(range(1, len(x))))
    ctx.set(0, x, ctx.dtype(0))


def infer_layer_norm(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis = axis_index(ctx, ctx.attr("axis", -1), len(x))
    normalised = tuple(x[axis:])
    declared = ctx.attr("normalized_shape")
    if type(declared) is int:  # PyTorch's LayerNorm(5) is LayerNorm([5])
        declared = [declared]
    elif declared is not None:
        declared = ctx.attr("normalized_shape", like=[0])
    if declared is not None and _differs(tuple(declared), normalised):
        ctx.report(
            NORM_SIZE_MISMATCH,
            f"normalized_shape {list(declared)} does not match the last dims "
            f"{list(normalised)} of its input {ctx.fmt(x)}",
            "normalized_shape",
        )
    for index in (1, 2):
        if not ctx.has(index):
            continue
        shape = ctx.weight(index, tuple(declared) if declared is not None else normalised)
        if declared is None and _differs(shape, normalised[len(normalised) - len(shape):]):
            ctx.report(
                NORM_SIZE_MISMATCH,
                f"{_VECTOR_NAMES[index]} {tuple(shape)} does not broadcast over the normalised "
                f"dims {normalised}",
            )
    stats = (*x[:axis], *(1 for _ in normalised))
    ctx.resolve("statistics", set(range(axis, len(x))))
    ctx.set(0, x, ctx.dtype(0))
    ctx.set(1, stats, "float32")
    ctx.set(2, stats, "float32")


def infer_lrn(ctx: InferContext) -> None:
    x = ctx.shape(0)
    _channels(ctx, x)
    ctx.set(0, x, ctx.dtype(0))


register(
    "BatchNormalization",
    infer=infer_batch_norm,
    max_inputs=5,
    weights={1: "param", 2: "param", 3: "buffer", 4: "buffer"},
    doc="Batch norm: scale and bias are parameters, running mean and variance buffers, each "
    "of length C.",
)
register(
    "InstanceNormalization",
    rf=rf_statistics,
    infer=infer_instance_norm,
    max_inputs=3,
    weights={1: "param", 2: "param"},
    doc="Instance norm: scale and bias of length C.",
)
register(
    "GroupNormalization",
    rf=rf_statistics,
    infer=infer_group_norm,
    max_inputs=3,
    weights={1: "param", 2: "param"},
    doc="Group norm: channels divisible by num_groups; scale and bias per channel "
    "(per group before ONNX opset 21).",
)
register(
    "LayerNormalization",
    rf=rf_statistics,
    infer=infer_layer_norm,
    max_inputs=3,
    weights={1: "param", 2: "param"},
    doc="Layer norm over the dims from axis on; scale and bias of that shape.",
)
register(
    "LRN",
    infer=infer_lrn,
    doc="Local response normalisation across channels: no parameters.",
)
