"""Matrix products: Gemm, MatMul, and PyTorch's Linear (on the last dim)."""

from __future__ import annotations

from analyzer.graph import Dim, Shape
from analyzer.ops import CONVLINT_DOMAIN, register
from analyzer.ops.base import CostContext, InferContext, RfContext
from analyzer.ops.common import broadcast, channel_mismatch, per_sample, prod, rf_union
from analyzer.receptive import Field
from analyzer.rules import BROADCAST_MISMATCH, INNER_DIM_MISMATCH, RANK_MISMATCH
from analyzer.symbolic import eq, is_expr


def _check_inner(ctx: InferContext, x: Shape, have: Dim, want: Dim, weight: Shape) -> None:
    if is_expr(have) or is_expr(want):
        ctx.require(eq(have, want), INNER_DIM_MISMATCH, lambda: "",
                    generic=f"the input's feature count is not the weight's {want}")
    elif isinstance(have, int) and isinstance(want, int) and have != want:
        channel_mismatch(ctx, want, have, weight, "in_features")


def infer_gemm(ctx: InferContext) -> None:
    a, b = ctx.shape(0), ctx.shape(1)
    for name, shape in (("A", a), ("B", b)):
        if len(shape) != 2:
            ctx.fail(RANK_MISMATCH, f"Gemm needs 2-D inputs; {name} is {ctx.fmt(shape)}")
    m, k = (a[1], a[0]) if ctx.attr("transA", 0) else (a[0], a[1])
    k2, n = (b[1], b[0]) if ctx.attr("transB", 0) else (b[0], b[1])
    _check_inner(ctx, a, k, k2, b)
    if ctx.has(2):
        c = ctx.shape(2)
        if all(isinstance(d, int) for d in (m, n, *c)) and broadcast(ctx, [(m, n), c]) != (m, n):
            ctx.fail(BROADCAST_MISMATCH, f"bias {tuple(c)} does not broadcast to {(m, n)}", "bias")
    ctx.set(0, (m, n), ctx.dtype(0))
    ctx.resolve("contracted", 1)


def infer_matmul(ctx: InferContext) -> None:
    a, b = ctx.shape(0), ctx.shape(1)
    if not a or not b:
        ctx.fail(RANK_MISMATCH, "MatMul needs inputs of rank 1 or more")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    _check_inner(ctx, a, a2[-1], b2[-2], b)
    batch = broadcast(ctx, [a2[:-2], b2[:-2]]) if len(a2) > 2 or len(b2) > 2 else ()
    out = (*batch, *([a2[-2]] if len(a) > 1 else []), *([b2[-1]] if len(b) > 1 else []))
    ctx.set(0, out, ctx.dtype(0))
    ctx.resolve("contracted", len(a) - 1)


def infer_linear(ctx: InferContext) -> None:
    x = ctx.shape(0)
    features = ctx.attr("in_features", x[-1])
    w = ctx.weight(1, (ctx.attr("out_features", like=0), features))
    _check_inner(ctx, x, x[-1], w[1], w)
    if ctx.has(2):
        ctx.weight(2, (w[0],))
    ctx.set(0, (*x[:-1], w[0]), ctx.dtype(0))
    ctx.resolve("contracted", len(x) - 1)


def macs_matmul(ctx: CostContext) -> int | None:
    """Per sample: every output element is a dot product over the contracted dim."""
    out, a = ctx.out_shape(0), ctx.in_shape(0)
    contracted = ctx.resolved.get("contracted")
    if out is None or a is None or contracted is None:
        return None
    return prod((*per_sample(out, ctx.batch), a[contracted]))


def rf_matmul(ctx: RfContext) -> Field | None:
    """A product over a spatial axis mixes the whole input along it: global."""
    contracted = ctx.resolved.get("contracted")
    field = ctx.fields[0] if ctx.fields else None
    if field is not None and contracted in field.axes:
        return field.globalized()
    return rf_union(ctx)


register(
    "Gemm",
    infer=infer_gemm,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param", 2: "param"},
    doc="General matrix product A' B' + C on 2-D inputs (transA, transB).",
)
register(
    "MatMul",
    infer=infer_matmul,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param"},
    doc="numpy matmul: batch dims broadcast, inner dims must match.",
)
register(
    "Linear",
    domain=CONVLINT_DOMAIN,
    infer=infer_linear,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param", 2: "param"},
    doc="PyTorch Linear on the last dim: weight (out_features, in_features), bias (out_features).",
)
