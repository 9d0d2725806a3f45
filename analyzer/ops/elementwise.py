"""Element-wise ops: activations keep the shape; binary and variadic ops broadcast (numpy rules)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from analyzer.graph import ConstTensor, Shape
from analyzer.ops import register
from analyzer.ops.base import InferContext
from analyzer.ops.common import axis_index, broadcast, prod, same_as_input
from analyzer.rules import BROADCAST_MISMATCH

UNARY = (
    "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Erf", "Gelu", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Softplus", "Softsign",
    "Mish", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "ThresholdedRelu", "Shrink", "Swish",
    "Clip", "Dropout",
)
BOOL_OUT = ("IsNaN", "IsInf", "Not")
COMPARISONS = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor")
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mul": operator.mul,
    "Div": lambda a, b: int(a / b) if isinstance(a, int) and isinstance(b, int) else a / b,
}


def infer_unary(ctx: InferContext) -> None:
    same_as_input(ctx)
    value = ctx.value(0)
    if ctx.node.op == "Identity" and value is not None:
        ctx.set(0, ctx.shape(0), ctx.dtype(0), value)
    ctx.set(1, ctx.shape(0), "bool")  # Dropout's optional mask


def infer_bool_unary(ctx: InferContext) -> None:
    ctx.set(0, ctx.shape(0), "bool")


def infer_softmax(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis_index(ctx, ctx.attr("axis", -1 if ctx.opset >= 13 else 1), len(x))
    same_as_input(ctx)


def _fold(fn: Callable[[Any, Any], Any], values: Sequence[ConstTensor | None], shape: Shape,
          dtype: str) -> ConstTensor | None:
    """Element-wise arithmetic on small constant tensors (shape computations)."""
    if len(values) != 2 or any(v is None or v.values is None for v in values):
        return None
    a, b = values[0].values, values[1].values  # type: ignore[union-attr]
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        return None
    n = max(len(a), len(b))
    out = []
    for i in range(n):
        x, y = a[0 if len(a) == 1 else i], b[0 if len(b) == 1 else i]
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)) or (
            fn is ARITHMETIC["Div"] and y == 0
        ):
            out.append(None)
        else:
            out.append(fn(x, y))
    dims = tuple(d for d in shape if isinstance(d, int))
    return ConstTensor(dims, dtype, tuple(out)) if len(dims) == len(shape) else None


def infer_broadcast(ctx: InferContext) -> None:
    present = [i for i in range(ctx.n_inputs) if ctx.has(i)]
    shapes = [ctx.shape(i) for i in present]
    shape = broadcast(ctx, shapes)
    op = ctx.node.op
    dtype = "bool" if op in COMPARISONS else ctx.dtype(present[-1] if op == "Where" else 0)
    value = None
    if op in ARITHMETIC:
        value = _fold(ARITHMETIC[op], [ctx.value(i) for i in present], shape, dtype)
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


register(*UNARY, infer=infer_unary, doc="Element-wise activation: output shape = input shape.")
register("Identity", infer=infer_unary, shape_only=True, doc="Passes its input through.")
register(*BOOL_OUT, infer=infer_bool_unary, doc="Element-wise test: boolean output, same shape.")
register(
    "Softmax", "LogSoftmax", "Hardmax",
    infer=infer_softmax,
    doc="Normalises along axis; output shape = input shape.",
)
register(
    *ARITHMETIC,
    infer=infer_broadcast,
    scale_operands=True,
    doc="Element-wise arithmetic with numpy broadcasting; constant operands with more than one "
    "element (biases, per-channel scales) are parameters.",
)
register(
    "Pow", "Mod", "BitShift", "Where", "Sum", "Max", "Min", "Mean", *COMPARISONS,
    infer=infer_broadcast,
    doc="Element-wise op with numpy broadcasting of all inputs.",
)
register(
    "PRelu",
    infer=infer_prelu,
    weights={1: "param"},
    doc="Leaky ReLU with a learned slope that broadcasts to the input (one per channel or one).",
)
