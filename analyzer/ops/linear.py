"""Matrix products: Gemm, MatMul, Einsum, and PyTorch's Linear (on the last dim)."""

from __future__ import annotations

from analyzer.graph import Dim, Shape
from analyzer.ops import CONVLINT_DOMAIN, register
from analyzer.ops.base import CostContext, InferContext, RfContext
from analyzer.ops.common import (
    broadcast,
    broadcast_dims,
    channel_mismatch,
    per_sample,
    prod,
)
from analyzer.receptive import Field, FieldUnknown, union
from analyzer.rules import BROADCAST_MISMATCH, INNER_DIM_MISMATCH, INVALID_ATTRIBUTE, RANK_MISMATCH
from analyzer.symbolic import eq, is_expr, is_size


def _check_inner(ctx: InferContext, x: Shape, have: Dim, want: Dim, weight: Shape) -> None:
    if (is_expr(have) or is_expr(want)) and is_size(have) and is_size(want):  # not a symbolic name
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
    if not x:
        ctx.fail(RANK_MISMATCH, "Linear needs an input of rank 1 or more")
    features = ctx.attr("in_features", x[-1], like=0)  # the default may be a scanned size
    w = ctx.weight(1, (ctx.attr("out_features", like=0), features))
    if len(w) != 2:
        ctx.fail(RANK_MISMATCH, f"Linear's weight must have rank 2 (out_features, in_features), got {tuple(w)}")
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
    """A product mixes the units along its contracted axes: positions held there are all
    seen (global). When both operands hold positions on separate output axes (attention
    scores: query rows, key columns), each unit pairs two positions and every pair occurs:
    over all units the extent is the whole input, so the field is global too. When they
    share some of those axes (windows on the batch axis, tokens of a window on their own),
    only pairs within a group occur, which the graph does not pin down: unknown."""
    out = ctx.out_shape(0)
    if out is None:
        return None
    moved: list[Field] = []
    for index, field in ctx.data_fields():
        shape = ctx.in_shape(index)
        if shape is None or index > 1:  # Gemm's bias C: broadcast like an element-wise operand
            moved.append(field if shape is None else _aligned(field, shape, out))
            continue
        rank = len(shape)
        contracted = _contracted_axis(ctx, index, rank)
        field = field.mixed((contracted,))
        if not field.pooled:
            field = field.remapped(
                lambda a, i=index, c=contracted, r=rank: _output_axis(ctx, i, a, c, r, len(out)), out)
        moved.append(field)
    return _product_field(moved)


def _product_field(moved: list[Field]) -> Field | None:
    """The field of a product's output from its operands' fields, moved to the output axes."""
    if not moved:
        return None
    held = [frozenset(f.content_axes()) for f in moved if not f.pooled]
    if len(held) == 2 and held[0] != held[1]:
        if held[0] & held[1]:
            raise FieldUnknown("a product pairs positions within groups (attention within windows?): "
                               "which positions each unit combines cannot be proven")
        return next(f for f in moved if not f.pooled).everywhere()  # every pair of positions
    return union(moved)[0]


def _contracted_axis(ctx: RfContext, index: int, rank: int) -> int:
    """The axis of operand ``index`` the product sums over."""
    if ctx.node.op == "Gemm":
        return (0 if ctx.node.attrs.get("transA", 0) else 1) if index == 0 else (
            1 if ctx.node.attrs.get("transB", 0) else 0)
    if index == 0:
        return rank - 1
    return 0 if rank == 1 else rank - 2


def _output_axis(ctx: RfContext, index: int, axis: int, contracted: int, rank: int, out_rank: int) -> int | None:
    """Where axis ``axis`` of operand ``index`` lands in the product's output."""
    if axis == contracted:
        return None
    if ctx.node.op == "Gemm":
        return 0 if index == 0 else 1
    if ctx.node.op == "Linear":  # the weight is a constant: only the input's axes move
        return axis
    if index == 0:
        return axis + out_rank - rank if rank > 1 else None
    if axis == rank - 1:
        return out_rank - 1
    return axis + out_rank - rank


def _aligned(field: Field, shape, out) -> Field:
    shift = len(out) - len(shape)
    return field if not shift else field.remapped(lambda a: a + shift, out)


Label = str | int
"""An einsum axis: its letter, or an ellipsis axis by its position counted from the right."""


def _einsum_terms(ctx: InferContext, count: int) -> tuple[list[str], str]:
    equation = ctx.attr("equation", "").replace(" ", "")
    given, arrow, output = equation.partition("->")
    terms = given.split(",")
    letters = given.replace(",", "").replace("...", "")
    if len(terms) != count or not all(c.isalpha() for c in letters + output.replace("...", "")):
        ctx.fail(INVALID_ATTRIBUTE, f"equation {equation!r} does not describe {count} operand(s)", "equation")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        output = ("..." if "..." in given else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output


def _labels(term: str, rank: int) -> list[Label] | None:
    """Per axis of an operand of rank ``rank``: its letter, or its ellipsis position."""
    head, dots, tail = term.partition("...")
    spread = rank - len(head) - len(tail) if dots else 0
    if spread < 0 or (not dots and len(term) != rank):
        return None
    return [*head, *range(spread - 1, -1, -1), *tail]


def infer_einsum(ctx: InferContext) -> None:
    """numpy/ONNX einsum: an axis per letter (sizes must agree, 1 broadcasts), ellipses
    broadcast; the output follows the equation's right-hand side."""
    present = [i for i in range(ctx.n_inputs) if ctx.has(i)]
    shapes = [ctx.shape(i) for i in present]
    terms, output = _einsum_terms(ctx, len(shapes))
    sizes: dict[Label, list] = {}
    labelled = []
    for term, shape in zip(terms, shapes):
        labels = _labels(term, len(shape))
        if labels is None:
            ctx.fail(RANK_MISMATCH, f"operand {ctx.fmt(shape)} does not have the axes of {term!r}", "equation")
        labelled.append(labels)
        for label, dim in zip(labels, shape):
            sizes.setdefault(label, []).append(dim)
    dims: dict[Label, object] = {}
    for label, column in sizes.items():
        dim, ok = broadcast_dims(column)
        if not ok:
            ctx.fail(INNER_DIM_MISMATCH, f"axis {label!r} of the equation has sizes {column}", "equation")
        dims[label] = dim
    spread = max((sum(1 for a in labels if isinstance(a, int)) for labels in labelled), default=0)
    out_labels = _labels(output, len(output.replace("...", "")) + spread)
    if out_labels is None or any(a not in dims for a in out_labels if isinstance(a, str)):
        ctx.fail(INVALID_ATTRIBUTE, f"the output {output!r} names an axis no operand has", "equation")
    ctx.resolve("einsum", (labelled, out_labels, [dims[a] for a in dims if a not in out_labels]))
    ctx.set(0, tuple(dims.get(a, 1) for a in out_labels), ctx.dtype(present[0]))  # type: ignore[misc]


def macs_einsum(ctx: CostContext) -> int | None:
    """Per sample, one operand: 0 (a sum or a permutation); two: each output element is a
    dot product over the summed axes. Three or more depend on the contraction order: unknown."""
    found, out = ctx.resolved.get("einsum"), ctx.out_shape(0)
    if found is None or out is None or len(found[0]) > 2:
        return None
    if len(found[0]) == 1:
        return 0
    return prod((*per_sample(out, ctx.batch), *found[2]))


def rf_einsum(ctx: RfContext) -> Field | None:
    """As a product: summed letters mix their axes whole; kept letters move to the output
    axes that carry them; two operands holding positions on different axes pair them."""
    found = ctx.resolved.get("einsum")
    out = ctx.out_shape(0)
    if found is None or out is None:
        return None
    labelled, out_labels, _ = found
    moved = []
    for index, field in ctx.data_fields():
        if index >= len(labelled):
            continue
        labels = labelled[index]
        field = field.mixed([a for a, label in enumerate(labels) if label not in out_labels])
        if not field.pooled:
            field = field.remapped(lambda a, ls=labels: out_labels.index(ls[a]) if a < len(ls) and ls[a] in out_labels
                                   else None, out)
        moved.append(field)
    return _product_field(moved)


register(
    "Einsum",
    infer=infer_einsum,
    rf=rf_einsum,
    macs=macs_einsum,
    min_inputs=1,
    doc="Einstein summation by equation (numpy semantics, ellipsis broadcasting).",
)
register(
    "Gemm",
    infer=infer_gemm,
    max_inputs=3,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param", 2: "param"},
    doc="General matrix product A' B' + C on 2-D inputs (transA, transB).",
)
register(
    "MatMul",
    infer=infer_matmul,
    max_inputs=2,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param"},
    doc="numpy matmul: batch dims broadcast, inner dims must match.",
)
register(
    "Linear",
    domain=CONVLINT_DOMAIN,
    infer=infer_linear,
    max_inputs=3,
    rf=rf_matmul,
    macs=macs_matmul,
    weights={1: "param", 2: "param"},
    doc="PyTorch Linear on the last dim: weight (out_features, in_features), bias (out_features).",
)
