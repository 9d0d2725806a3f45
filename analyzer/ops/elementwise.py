"""Element-wise ops: activations keep the shape; binary and variadic ops broadcast (numpy rules)."""

from __future__ import annotations

import math
from collections.abc import Callable

from analyzer.graph import ConstTensor
from analyzer.ops import register
from analyzer.ops.base import InferContext
from analyzer.ops.common import axis_index, broadcast, prod, rf_mix, same_as_input
from analyzer.ops.values import ELEMENTWISE, fold_elementwise
from analyzer.rules import BROADCAST_MISMATCH

UNARY = (
    "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Erf", "Gelu", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Softplus", "Softsign",
    "Mish", "Sign", "Sin", "Cos", "ThresholdedRelu", "Shrink", "Swish",
)
BOOL_OUT = ("IsNaN", "IsInf", "Not")
COMPARISONS = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor")

ARITHMETIC = ("Add", "Sub", "Mul", "Div")


def infer_unary(ctx: InferContext) -> None:
    same_as_input(ctx)
    value = ctx.value(0)
    if ctx.node.op == "Identity" and value is not None:
        ctx.set(0, ctx.shape(0), ctx.dtype(0), value)
    ctx.set(1, ctx.shape(0), "bool")  # Dropout's optional mask


ROUNDING: dict[str, Callable[[float], int]] = {
    "Floor": math.floor, "Ceil": math.ceil, "Round": round,  # round: half to even, as ONNX
}


def infer_rounding(ctx: InferContext) -> None:
    """Floor/Ceil/Round keep the shape; folded values are rounded (a size worked out as
    floor(H * 0.5) by F.interpolate(recompute_scale_factor=True)). A symbolic dim is an
    integer already; an unknown value stays unknown."""
    same_as_input(ctx)
    value = ctx.value(0)
    if value is not None and value.values is not None:
        rounded = tuple(
            float(ROUNDING[ctx.node.op](v)) if isinstance(v, float) else v if isinstance(v, (int, str)) else None
            for v in value.values
        )
        ctx.set(0, ctx.shape(0), ctx.dtype(0), ConstTensor(value.dims, value.dtype, rounded))


def infer_bool_unary(ctx: InferContext) -> None:
    ctx.set(0, ctx.shape(0), "bool")


def infer_softmax(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis = axis_index(ctx, ctx.attr("axis", -1 if ctx.opset >= 13 else 1), len(x))
    # before opset 13 the input is coerced to 2-D: the op runs over every axis from axis on
    ctx.resolve("mixed", {axis} if ctx.opset >= 13 else set(range(axis, len(x))))
    same_as_input(ctx)


def infer_broadcast(ctx: InferContext) -> None:
    present = [i for i in range(ctx.n_inputs) if ctx.has(i)]
    shapes = [ctx.shape(i) for i in present]
    shape = broadcast(ctx, shapes)
    op = ctx.node.op
    dtype = "bool" if op in COMPARISONS else ctx.dtype(present[-1] if op == "Where" else 0)
    value = None
    inputs = [ctx.value(i) for i in present]
    if (op in ELEMENTWISE or op == "Where") and all(v is not None and v.values is not None for v in inputs):
        value = fold_elementwise(op, inputs, dtype)  # type: ignore[arg-type]
    ctx.set(0, shape, dtype, value)


def infer_prelu(ctx: InferContext) -> None:
    """The output is the input's shape; the slope must broadcast to it (opset 7+), or before
    opset 7 hold one value or one per channel."""
    x = ctx.shape(0)
    count = ctx.attr("num_parameters", 1)
    expected = (count, *(1 for _ in x[2:])) if count > 1 else (1,)
    slope = ctx.weight(1, expected)
    ctx.set(0, x, ctx.dtype(0))
    if ctx.opset < 7:
        size = prod(slope)
        ok = size is None or size == 1 or (len(x) > 1 and size == x[1])
    else:
        ok = len(slope) <= len(x) and all(
            s == 1 or d == s or not isinstance(s, int) or not isinstance(d, int)
            for s, d in zip(reversed(slope), reversed(x))
        )
    if not ok:
        ctx.report(
            BROADCAST_MISMATCH,
            f"slope {tuple(slope)} does not broadcast to its input {ctx.fmt(x)}",
            "num_parameters",
        )


_ACTIVATION_DOC = "Element-wise activation: output shape = input shape."
register(*UNARY, infer=infer_unary, max_inputs=1, doc=_ACTIVATION_DOC)
register("Clip", "Dropout", infer=infer_unary, max_inputs=3, doc=_ACTIVATION_DOC + " The optional inputs "
         "are its bounds (Clip) or ratio and training mode (Dropout).")
register(*ROUNDING, infer=infer_rounding, max_inputs=1, doc="Element-wise rounding: output shape = input shape; "
         "folds the values of shape computations.")
register(
    "ScatterND", "ScatterElements", "Scatter", "CumSum", "Trilu",
    infer=same_as_input,
    max_inputs=3,
    doc="Writes into or accumulates over its first input: output shape = that input's shape.",
)
register("Identity", infer=infer_unary, max_inputs=1, shape_only=True, doc="Passes its input through.")
register(*BOOL_OUT, infer=infer_bool_unary, max_inputs=1, doc="Element-wise test: boolean output, same shape.")
register(
    "Softmax", "LogSoftmax", "Hardmax",
    infer=infer_softmax,
    max_inputs=1,
    rf=rf_mix,
    doc="Normalises along axis; output shape = input shape.",
)
register(
    *ARITHMETIC,
    infer=infer_broadcast,
    min_inputs=2,
    max_inputs=2,
    scale_operands=True,
    doc="Element-wise arithmetic with numpy broadcasting; constant operands with more than one "
    "element (biases, per-channel scales) are parameters.",
)
_BROADCAST_DOC = "Element-wise op with numpy broadcasting of all inputs."
register("Pow", "Mod", "BitShift", *COMPARISONS, infer=infer_broadcast, min_inputs=2, max_inputs=2, doc=_BROADCAST_DOC)
register("Where", infer=infer_broadcast, min_inputs=3, max_inputs=3, doc=_BROADCAST_DOC)
register("Sum", "Max", "Min", "Mean", infer=infer_broadcast, min_inputs=1, doc=_BROADCAST_DOC)
register(
    "PRelu",
    infer=infer_prelu,
    max_inputs=2,
    weights={1: "param"},
    doc="Leaky ReLU with a learned slope that broadcasts to the input (one per channel or one).",
)
