"""Ops that move, join, cut or describe tensors, and the small integer computations of shapes.

Exporters compute reshape targets at run time (``Shape -> Gather -> Unsqueeze -> Concat ->
Reshape``); these rules fold such small integer tensors so the targets resolve statically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from analyzer.graph import ConstTensor, Dim, Shape, dtype_name
from analyzer.ops import register, values
from analyzer.ops.base import (
    FixedSizeContext,
    InferContext,
    RfContext,
    Run,
    UnknownInput,
    known,
    shown,
)
from analyzer.ops.common import (
    axes_indices,
    axis_index,
    broadcast,
    equal_sizes,
    prod,
    rf_global,
    rf_metadata,
    rf_union,
    shapes_text,
)
from analyzer.ops.values import MAX_FOLD
from analyzer.ops.window import Window, rf_shift
from analyzer.receptive import Field, FieldUnknown
from analyzer.rules import CONCAT_MISMATCH, INVALID_ATTRIBUTE, RESHAPE_MISMATCH
from analyzer.symbolic import cdiv, eq, ge, is_expr, is_size, maximum, minimum


def _const(shape: Shape, dtype: str, values: Sequence[Any] | None) -> ConstTensor | None:
    if values is None or any(not isinstance(d, int) for d in shape) or len(values) > MAX_FOLD:
        return None
    if prod(shape) != len(values):
        return None
    return ConstTensor(tuple(shape), dtype, tuple(values))  # type: ignore[arg-type]


def _folded(ctx: InferContext, *indices: int) -> list[values.Items] | None:
    """The inputs' elements, when every one of ``indices`` is a folded constant."""
    found = [ctx.value(i) for i in indices]
    if any(v is None or v.values is None for v in found):
        return None
    arrays = [values.array(v) for v in found]  # type: ignore[arg-type]
    return None if None in arrays else arrays  # type: ignore[return-value]


def _values(ctx: InferContext, index: int) -> tuple[Any, ...] | None:
    value = ctx.value(index)
    return value.values if value is not None else None


# -- constants and shape descriptions -------------------------------------------------------
_CONSTANT_FORMS = {  # attribute: (element type, the kind of value it holds)
    "value_float": ("float32", 0.0), "value_floats": ("float32", [0.0]), "value_int": ("int64", 0),
    "value_ints": ("int64", [0]), "value_string": ("string", ""), "value_strings": ("string", [""]),
}


def infer_constant(ctx: InferContext) -> None:
    value: ConstTensor | None = _tensor_attr(ctx, "value") or _tensor_attr(ctx, "sparse_value")
    for form, (dtype, kind) in _CONSTANT_FORMS.items():
        given = ctx.attr(form, like=kind)
        if given is not None:
            items = tuple(given) if isinstance(given, list) else (given,)
            dims = (len(items),) if isinstance(given, list) else ()
            value = ConstTensor(dims, dtype, items)
    if value is None:
        ctx.fail(INVALID_ATTRIBUTE, "Constant has no value", "value")
    ctx.set(0, tuple(value.dims), value.dtype, value if value.values is not None else None)


def infer_constant_of_shape(ctx: InferContext) -> None:
    dims = ctx.ints(0)
    if dims is None:
        length = ctx.shape(0)[0] if ctx.shape(0) else 0
        ctx.set(0, ctx.unknown_dims(length), _fill(ctx).dtype)
        return
    if any(d < 0 for d in dims):
        ctx.fail(INVALID_ATTRIBUTE, f"negative dims {list(dims)}", "value")
    fill = _fill(ctx)
    count = prod(dims)
    values = None
    if count is not None and count <= MAX_FOLD and fill.values:
        values = fill.values * count
    ctx.set(0, dims, fill.dtype, _const(dims, fill.dtype, values))


def _fill(ctx: InferContext) -> ConstTensor:
    return _tensor_attr(ctx, "value") or ConstTensor((1,), "float32", (0.0,))


def _tensor_attr(ctx: InferContext, name: str) -> ConstTensor | None:
    value = ctx.attr(name)
    if value is not None and not isinstance(value, ConstTensor):
        ctx.fail(INVALID_ATTRIBUTE, f"{name} must be a tensor, got {shown(value)}", name)
    return value


def infer_shape(ctx: InferContext) -> None:
    x = ctx.shape(0)
    rank = len(x)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", rank)
    start, end = (max(0, min(rank, v + rank if v < 0 else v)) for v in (start, end))
    dims = x[start:end]
    ctx.set(0, (len(dims),), "int64", ConstTensor((len(dims),), "int64", tuple(dims)))


def infer_size(ctx: InferContext) -> None:
    count = prod(ctx.shape(0))
    ctx.set(0, (), "int64", ConstTensor((), "int64", (count,)))


def infer_cast(ctx: InferContext) -> None:
    to = ctx.attr("to", 1)
    _cast(ctx, dtype_name(to) if isinstance(to, int) else str(to))


def infer_cast_like(ctx: InferContext) -> None:
    ctx.require_inputs(2)
    _cast(ctx, ctx.dtype(1))


def _cast(ctx: InferContext, dtype: str) -> None:
    """Input 0 in another element type; folded values follow (shape computations)."""
    x = ctx.shape(0)
    values = _values(ctx, 0)
    if values is not None:
        if dtype.startswith(("int", "uint")):
            values = tuple(int(v) if isinstance(v, (int, float)) else v for v in values)
        elif dtype.startswith("float"):
            values = tuple(float(v) if isinstance(v, (int, float)) else v for v in values)
    ctx.set(0, x, dtype, _const(x, dtype, values))


# -- joining and cutting ----------------------------------------------------------------------
def infer_concat(ctx: InferContext) -> None:
    present = [i for i in range(ctx.n_inputs) if ctx.has(i)]
    shapes = [ctx.shape(i) for i in present]
    rank = len(shapes[0])
    axis = axis_index(ctx, ctx.attr("axis", 0), rank)
    for i, shape in zip(present, shapes):
        if len(shape) != rank:
            ctx.fail(
                CONCAT_MISMATCH,
                f"input {i} {ctx.fmt(shape)} has another rank than {ctx.fmt(shapes[0])}",
            )
    out: list[Dim] = []
    bad: list[int] = []
    for a in range(rank):
        column = [s[a] for s in shapes]
        if a == axis:  # summable when every size is known (or a scanned expression)
            out.append(_sum(column) if all(type(d) is int or is_expr(d) for d in column) else None)
            continue
        scanned = equal_sizes(ctx, column, CONCAT_MISMATCH,
                              f"concatenated inputs differ in {_axis_label(ctx, a, rank)}")
        if scanned is not None:
            out.append(scanned)
            continue
        sizes = {d for d in column if isinstance(d, int)}
        if len(sizes) > 1:
            bad.append(a)
            out.append(None)
        else:
            out.append(sizes.pop() if sizes else (column[0] if len(set(column)) == 1 else None))
    if bad:
        listed = shapes_text(ctx, shapes)
        where = " and ".join(_axis_label(ctx, a, rank) for a in bad)
        ctx.fail(
            CONCAT_MISMATCH,
            f"inputs {listed} differ in {where}; only the concat axis may differ",
            "axis",
            partial=tuple(out),
        )
    value = None
    arrays = _folded(ctx, *present)
    if arrays is not None:
        value = values.const(values.concatenate(arrays, axis), ctx.dtype(present[0]))
    ctx.set(0, tuple(out), ctx.dtype(present[0]), value)


def _sum(dims: Sequence[Any]) -> Any:
    total: Any = 0
    for d in dims:
        total = d + total if is_expr(d) else total + d
    return total


def _axis_label(ctx: InferContext, axis: int, rank: int) -> str:
    from analyzer.graph import axis_name

    name = axis_name(axis, rank)
    index = axis - 1 if ctx.per_sample else axis
    return f"axis {index} ({name})" if len(name) == 1 else name


def infer_split(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis = axis_index(ctx, ctx.attr("axis", 0), len(x))
    count = len(ctx.node.outputs)
    split = ctx.ints_from("split", 1, since=13)
    size = x[axis]
    if split is None:
        if not isinstance(size, int):
            parts: list[Dim] = [None] * count
        else:
            chunk = -(-size // count)
            parts = [min(chunk, size - i * chunk) for i in range(count)]
    else:
        parts = list(split)
        if isinstance(size, int) and sum(split) != size:
            ctx.fail(
                RESHAPE_MISMATCH, f"split sizes {list(split)} do not add up to {size}", "split"
            )
    offset: int | None = 0
    for i, part in enumerate(parts):
        ctx.set(i, (*x[:axis], part, *x[axis + 1:]), ctx.dtype(0))
        ctx.resolve(f"offset{i}", (axis, offset))
        offset = offset + part if isinstance(offset, int) and isinstance(part, int) else None


def _clamp_slice(start: int, end: int, step: int, size: Any) -> tuple[Any, Any]:
    """ONNX Slice clamping: returns (clamped start, number of elements); works on scanned sizes."""
    first: Any = start + size if start < 0 else start
    last: Any = end + size if end < 0 else end
    if step > 0:
        first = maximum(0, minimum(size, first))
        last = maximum(0, minimum(size, last))
        return first, maximum(0, cdiv(last - first, step))
    first = maximum(-1, minimum(size - 1, first))
    last = maximum(-1, minimum(size - 1, last))
    return first, maximum(0, cdiv(first - last, -step))


def infer_slice(ctx: InferContext) -> None:
    x = ctx.shape(0)
    if ctx.opset < 10:
        starts, ends = ctx.attr("starts", like=[0]), ctx.attr("ends", like=[0])
        axes, steps = ctx.attr("axes", like=[0]), None
        if starts is None or ends is None:
            ctx.fail(INVALID_ATTRIBUTE, "Slice needs starts and ends", "starts")
    else:
        starts, ends = ctx.ints(1), ctx.ints(2)
        axes = ctx.ints(3) if ctx.has(3) else None
        steps = ctx.ints(4) if ctx.has(4) else None
        if starts is None or ends is None or (ctx.has(3) and axes is None) or (
            ctx.has(4) and steps is None
        ):
            raise UnknownInput("slice bounds are not constant")
    axes = [axis_index(ctx, a, len(x), "axes") for a in (axes or range(len(starts)))]
    steps = list(steps) if steps is not None else [1] * len(starts)
    out = list(x)
    windows: dict[int, Window] = {}
    for axis, start, end, step in zip(axes, starts, ends, steps):
        if step == 0:
            ctx.fail(INVALID_ATTRIBUTE, "slice step must not be 0", "steps")
        size = x[axis]
        if not is_size(size):
            out[axis] = size if (start, end, step) == (0, _INT_MAX, 1) else None
            continue
        begin, count = _clamp_slice(start, end, step, size)
        out[axis] = count
        if step > 0:
            windows[axis] = Window(1, step, 1, -begin, 0)
    ctx.resolve("shift", windows)
    value = None
    arrays = _folded(ctx, 0)
    if arrays is not None and all(isinstance(x[a], int) for a in axes):
        cut = [slice(None)] * len(x)
        for axis, start, end, step in zip(axes, starts, ends, steps):
            begin, count = _clamp_slice(start, end, step, x[axis])  # type: ignore[arg-type]
            cut[axis] = slice(begin, begin + count * step if begin + count * step >= 0 else None, step)
        value = values.const(values.sliced(arrays[0], cut), ctx.dtype(0))
    ctx.set(0, tuple(out), ctx.dtype(0), value)


_INT_MAX = 2**63 - 1


def infer_gather(ctx: InferContext) -> None:
    x = ctx.shape(0)
    indices = ctx.shape(1)
    axis = axis_index(ctx, ctx.attr("axis", 0), len(x))
    out = (*x[:axis], *indices, *x[axis + 1:])
    value = None
    arrays = _folded(ctx, 0, 1)
    if arrays is not None and isinstance(x[axis], int):
        size = x[axis]
        picks = arrays[1].flat
        if any(not isinstance(p, int) or not -size <= p < size for p in picks):
            ctx.fail(INVALID_ATTRIBUTE, f"indices {list(picks)} are outside {size} elements", "axis")
        value = values.const(values.take(arrays[0], arrays[1], axis), ctx.dtype(0))
    ctx.set(0, out, ctx.dtype(0), value)


def infer_gather_nd(ctx: InferContext) -> None:
    """out = indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:] (ONNX GatherND)."""
    x, indices = ctx.shape(0), ctx.shape(1)
    batch = ctx.attr("batch_dims", 0)
    depth = indices[-1] if indices else None
    if not indices or not isinstance(batch, int) or batch < 0 or batch >= min(len(x), len(indices)):
        ctx.fail(INVALID_ATTRIBUTE, f"batch_dims={batch} must be smaller than the ranks of data {ctx.fmt(x)} "
                 f"and indices {ctx.fmt(indices)}", "batch_dims")
    if not isinstance(depth, int):
        ctx.set(0, None, ctx.dtype(0))
        return
    if not 1 <= depth <= len(x) - batch:
        ctx.fail(INVALID_ATTRIBUTE, f"indices {ctx.fmt(indices)} index {depth} axes of data {ctx.fmt(x)} "
                 f"after {batch} batch dims", "batch_dims")
    ctx.resolve("gathered", (batch, depth, len(indices) - 1))
    ctx.set(0, (*indices[:-1], *x[batch + depth:]), ctx.dtype(0))


# -- reshaping --------------------------------------------------------------------------------
def infer_flatten(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis = ctx.attr("axis", 1)
    if not -len(x) <= axis <= len(x):
        ctx.fail(INVALID_ATTRIBUTE, f"axis={axis} is outside a rank-{len(x)} tensor", "axis")
    if axis < 0:
        axis += len(x)
    out = (_merge(x[:axis]), _merge(x[axis:]))
    _set_reshaped(ctx, out)


def _merge(dims: Sequence[Dim]) -> Dim:
    """The product of dims; a lone symbolic dim (times ones) keeps its name."""
    rest = [d for d in dims if d != 1]
    if len(rest) == 1:
        return rest[0]
    return prod(dims)


def _set_reshaped(ctx: InferContext, out: Shape) -> None:
    """Output 0 holds input 0's elements in shape ``out`` (values follow when folded)."""
    value = ctx.value(0)
    ctx.set(0, out, ctx.dtype(0), _const(out, ctx.dtype(0), value.values if value else None))


def infer_reshape(ctx: InferContext) -> None:
    x = ctx.shape(0)
    target = ctx.attr("shape", like=[0]) if ctx.opset < 5 else ctx.ints(1)
    if target is None:
        target_value = ctx.value(1) if ctx.opset >= 5 else None
        if target_value is None or target_value.values is None:
            length = ctx.shape(1)[0] if ctx.opset >= 5 and ctx.shape(1) else None
            ctx.set(0, ctx.unknown_dims(length), ctx.dtype(0))
            return
        target = target_value.values
    if any(not isinstance(d, int | str) and d is not None for d in target):
        ctx.fail(INVALID_ATTRIBUTE, f"the target shape must hold integers, got {shown(list(target))}", "shape")
    _set_reshaped(ctx, tuple(_reshape_target(ctx, x, list(target))))


def _reshape_target(ctx: InferContext, x: Shape, target: list[Any]) -> list[Dim]:
    allow_zero = bool(ctx.attr("allowzero", 0))
    out: list[Dim] = []
    infer_at = None
    for i, d in enumerate(target):
        if d == 0 and not allow_zero:
            if i >= len(x):
                ctx.fail(RESHAPE_MISMATCH, f"target {target} copies dim {i} of {ctx.fmt(x)}")
            out.append(x[i])
        elif d == -1:
            if infer_at is not None:
                ctx.fail(RESHAPE_MISMATCH, f"target {target} has more than one -1")
            infer_at = i
            out.append(None)
        elif isinstance(d, int) and d < -1:
            ctx.fail(RESHAPE_MISMATCH, f"target {target} has a negative dim")
        else:
            out.append(d)
    src_rest, dst_rest = _cancel(list(x), [d for i, d in enumerate(out) if i != infer_at])
    have, want = prod(src_rest), prod(dst_rest)
    if have is None or want is None:
        if infer_at is not None:
            out[infer_at] = _one_symbol_left(src_rest, dst_rest)
        return out
    if infer_at is not None:
        if isinstance(want, int) and want == 0:
            return out
        ctx.require(
            eq(have % want, 0), RESHAPE_MISMATCH,
            lambda: f"cannot reshape {ctx.fmt(x)} into {target}: {have} elements are not "
            f"divisible by {want}",
            generic=f"the element count is not divisible by the target's {want}",
        )
        out[infer_at] = have // want
    else:
        ctx.require(
            eq(have, want), RESHAPE_MISMATCH,
            lambda: f"cannot reshape {ctx.fmt(x)} ({_count(x)} elements) into {target}",
            generic=f"the input does not hold the target's {want} elements",
        )
    return out


def _target(node: Any, run: Run) -> tuple[Any, ...] | None:
    """A Reshape's target as written: the attribute (opset < 5) or input 1's value."""
    if len(run.in_values) < 2:
        shape = node.attrs.get("shape")
        return tuple(shape) if isinstance(shape, list) else None
    value = run.in_values[1]
    return None if value is None else value.values


def reshape_groups(src: Sequence[int], dst: Sequence[int]) -> list[tuple[range, range]]:
    """Runs of source axes and target axes holding the same elements: (512, 7, 7) -> (25088,)
    is one group, (1, 512, 7, 7) -> (1, 25088) two. Trailing 1s join the last group."""
    groups: list[tuple[range, range]] = []
    i = j = 0
    while i < len(src) and j < len(dst):
        a, b = i + 1, j + 1
        have, want = src[i], dst[j]
        while have != want:
            if have < want and a < len(src):
                have *= src[a]
                a += 1
            elif b < len(dst):
                want *= dst[b]
                b += 1
            else:
                return []  # the counts never meet: not a reshape of this input
        groups.append((range(i, a), range(j, b)))
        i, j = a, b
    if groups and (i < len(src) or j < len(dst)):
        last_in, last_out = groups[-1]
        groups[-1] = (range(last_in.start, len(src)), range(last_out.start, len(dst)))
    return groups


def fixed_reshape(ctx: FixedSizeContext) -> str | None:
    """S109: a constant target whose explicit dims held a group of input axes that changed size.
    A -1 (or a 0 copying a dim) in that group takes the change, as it would at any size."""
    target = _target(ctx.node, ctx.then)
    x_then, x_now, out_then = ctx.then.in_shape(0), ctx.now.in_shape(0), ctx.then.out_shape(0)
    if target is None or target != _target(ctx.node, ctx.now) or x_then == x_now:
        return None  # a target computed from shapes follows them
    if not (x_then and x_now and out_then and known(*x_then, *x_now, *out_then)) or len(x_then) != len(x_now):
        return None
    for sources, targets in reshape_groups(x_then, out_then):  # type: ignore[arg-type]
        before, after = prod(x_then[a] for a in sources), prod(x_now[a] for a in sources)
        if before == after or any(not isinstance(target[t], int) or target[t] <= 0 for t in targets):
            continue
        written = ", ".join(str(target[t]) for t in targets)
        return (f"target shape {tuple(target)} is a constant of the model: its {_axes('dim', targets)} ({written}) "
                f"{'hold' if len(targets) > 1 else 'holds'} {_axes('axis', sources)} of the input, "
                f"{_product(x_then, sources)} at the declared input size; the input is now {ctx.fmt(x_now)}, where "
                f"{'they hold' if len(sources) > 1 else 'it holds'} {_product(x_now, sources)}")
    return None


def _axes(word: str, axes: range) -> str:
    if len(axes) == 1:
        return f"{word} {axes[0]}"
    return f"{'axes' if word == 'axis' else word + 's'} {axes[0]}-{axes[-1]}"


def _product(shape: Sequence[Any], axes: range) -> str:
    dims = [shape[a] for a in axes]
    return str(dims[0]) if len(dims) == 1 else "x".join(map(str, dims)) + f" = {prod(dims)}"


def _count(shape: Shape) -> str:
    n = prod(shape)
    return str(n) if n is not None else "?"


def _cancel(src: list[Dim], dst: list[Dim]) -> tuple[list[Dim], list[Dim]]:
    """The dims of src and dst left after cancelling the symbolic dims they share."""
    src_rest = list(src)
    dst_rest: list[Dim] = []
    for d in dst:
        if isinstance(d, str) and d in src_rest:
            src_rest.remove(d)
        else:
            dst_rest.append(d)
    return src_rest, dst_rest


def _one_symbol_left(src_rest: list[Dim], dst_rest: list[Dim]) -> Dim:
    """A -1 that stands for one symbolic dim: what is left of the input after cancelling is
    that dim and known sizes whose product the target's known dims take up (a flatten that
    keeps a free batch: (N, 2048, 1, 1) -> (-1, 2048) is (N, 2048)); else unknown."""
    symbols = [d for d in src_rest if isinstance(d, str)]
    known = [d for d in src_rest if not isinstance(d, str)]
    if len(symbols) != 1 or not all(type(d) is int for d in known + dst_rest):
        return None
    return symbols[0] if prod(known) == prod(dst_rest) else None


def infer_transpose(ctx: InferContext) -> None:
    x = ctx.shape(0)
    perm = ctx.attr("perm", like=[0]) or list(reversed(range(len(x))))
    if sorted(perm) != list(range(len(x))):
        ctx.fail(INVALID_ATTRIBUTE, f"perm {list(perm)} is not a permutation of {len(x)} axes", "perm")
    arrays = _folded(ctx, 0)
    value = values.const(values.transpose(arrays[0], perm), ctx.dtype(0)) if arrays is not None else None
    ctx.set(0, tuple(x[p] for p in perm), ctx.dtype(0), value)


def infer_squeeze(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axes = ctx.ints_from("axes", 1, since=13)
    if axes is None:
        if any(d is None or isinstance(d, str) for d in x):
            raise UnknownInput("squeeze of unknown dims")
        drop = {i for i, d in enumerate(x) if d == 1}
    else:
        drop = set(axes_indices(ctx, axes, len(x)))
        bad = [i for i in drop if isinstance(x[i], int) and x[i] != 1]
        if bad:
            ctx.fail(INVALID_ATTRIBUTE, f"cannot squeeze axis {bad[0]} of {ctx.fmt(x)}: not 1", "axes")
    _set_reshaped(ctx, tuple(d for i, d in enumerate(x) if i not in drop))


def infer_unsqueeze(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axes = ctx.ints_from("axes", 1, since=13)
    if axes is None:
        ctx.fail(INVALID_ATTRIBUTE, "Unsqueeze needs axes", "axes")
    rank = len(x) + len(axes)
    where = set(axes_indices(ctx, axes, rank))
    if len(where) != len(axes):
        ctx.fail(INVALID_ATTRIBUTE, f"axes {list(axes)} name an axis twice", "axes")
    rest = iter(x)
    _set_reshaped(ctx, tuple(1 if i in where else next(rest) for i in range(rank)))


def infer_expand(ctx: InferContext) -> None:
    x = ctx.shape(0)
    target = ctx.dims(1)
    if target is None:
        raise UnknownInput("expand shape is not constant")
    out = broadcast(ctx, [x, tuple(target)])
    arrays = _folded(ctx, 0)
    value = None
    if arrays is not None and all(isinstance(d, int) for d in out):
        value = values.const(values.broadcast_to(arrays[0], out), ctx.dtype(0))  # type: ignore[arg-type]
    ctx.set(0, out, ctx.dtype(0), value)


def infer_tile(ctx: InferContext) -> None:
    """Repeats may be symbolic (a ViT class token tiled to the batch): 1 x N is N."""
    x = ctx.shape(0)
    repeats = ctx.dims(1)
    if repeats is None:
        raise UnknownInput("tile repeats are not constant")
    if len(repeats) != len(x):
        ctx.fail(INVALID_ATTRIBUTE, f"repeats {list(repeats)} do not match rank {len(x)}")
    ctx.set(0, tuple(_repeated(d, r) for d, r in zip(x, repeats)), ctx.dtype(0))


def _repeated(dim: Dim, repeats: Dim) -> Dim:
    if dim == 1 or repeats == 1:
        return repeats if dim == 1 else dim
    return dim * repeats if isinstance(dim, int) and isinstance(repeats, int) else None


def infer_range(ctx: InferContext) -> None:
    values = [_values(ctx, i) for i in range(3)]
    if any(v is None or not isinstance(v[0], (int, float)) for v in values):
        ctx.set(0, (None,), ctx.dtype(0))
        return
    start, limit, delta = (v[0] for v in values)  # type: ignore[index]
    if delta == 0:
        ctx.fail(INVALID_ATTRIBUTE, "Range delta must not be 0")
    count = max(0, int(-(-(limit - start) // delta)))
    items = [start + i * delta for i in range(count)] if count <= MAX_FOLD else None
    ctx.set(0, (count,), ctx.dtype(0), _const((count,), ctx.dtype(0), items))


def infer_pad(ctx: InferContext) -> None:
    """ONNX Pad; JSON specs may give ``pads`` as one int for every side of every spatial axis."""
    x = ctx.shape(0)
    if isinstance(ctx.attr("pads"), int):
        spatial = len(x) - 2
        pads, axes = (ctx.attr("pads"),) * (2 * spatial), list(range(2, len(x)))
    else:
        pads = ctx.ints_from("pads", 1, since=11)
        axes = ctx.ints(3) if ctx.has(3) else ctx.attr("axes", like=[0])
    if pads is None:
        ctx.fail(INVALID_ATTRIBUTE, "Pad needs pads", "pads")
    axes = [axis_index(ctx, a, len(x), "axes") for a in axes] if axes is not None else list(range(len(x)))
    if len(pads) != 2 * len(axes):
        ctx.fail(INVALID_ATTRIBUTE, f"pads {list(pads)} need {2 * len(axes)} values", "pads")
    out = list(x)
    windows: dict[int, Window] = {}
    for i, axis in enumerate(axes):
        begin, end = pads[i], pads[i + len(axes)]
        size = x[axis]
        if is_size(size):
            out[axis] = size + begin + end
            ctx.require(
                ge(out[axis], 0), INVALID_ATTRIBUTE,
                lambda: f"pads {list(pads)} remove more than the input", "pads",
                generic="negative pads remove more than the input",
            )
        else:
            out[axis] = size if begin + end == 0 else None
        windows[axis] = Window(1, 1, 1, begin, end)
    ctx.resolve("shift", windows)
    ctx.set(0, tuple(out), ctx.dtype(0))


def infer_reduce(ctx: InferContext) -> None:
    x = ctx.shape(0)
    since = 13 if ctx.node.op == "ReduceSum" else 18
    axes = ctx.ints_from("axes", 1, since=since)
    keep = bool(ctx.attr("keepdims", 1))
    if not axes:
        reduced = set() if ctx.attr("noop_with_empty_axes", 0) else set(range(len(x)))
    else:
        reduced = set(axes_indices(ctx, axes, len(x)))
    ctx.resolve("reduced", reduced)
    out = tuple(1 if i in reduced else d for i, d in enumerate(x) if keep or i not in reduced)
    ctx.set(0, out, ctx.dtype(0))


def infer_arg_reduce(ctx: InferContext) -> None:
    x = ctx.shape(0)
    axis = axis_index(ctx, ctx.attr("axis", 0), len(x))
    keep = bool(ctx.attr("keepdims", 1))
    ctx.resolve("reduced", {axis})
    out = tuple(1 if i == axis else d for i, d in enumerate(x) if keep or i != axis)
    ctx.set(0, out, "int64")


def infer_data_dependent(ctx: InferContext) -> None:
    x = ctx.shape(0)
    ctx.set(0, (len(x), None), "int64")


# -- receptive fields ---------------------------------------------------------------------------
def rf_gather_nd(ctx: RfContext) -> Field | None:
    """Batch axes keep their field; the indexed axes are replaced by the indices' leading dims
    (picking entries by data: unknown where they hold positions, unless the field was global
    there already); the axes after them move up."""
    field = ctx.fields[0] if ctx.fields else None
    found = ctx.resolved.get("gathered")
    out = ctx.out_shape(0)
    if field is None or found is None or out is None:
        return None if field is None or not field.pooled else field
    batch, depth, leading = found
    indexed = set(range(batch, batch + depth))
    if indexed & field.content_axes():
        if not field.is_global:
            raise FieldUnknown("picks single positions along a spatial axis")
        field = field.mixed(indexed)
        if field.pooled:
            return field
    return field.remapped(lambda a: a if a < batch else None if a in indexed else a - batch - depth + leading, out)


def rf_first(ctx: RfContext) -> Field | None:
    """Only input 0's data flows on (CastLike's input 1 gives just its type)."""
    return ctx.fields[0] if ctx.fields else None


def rf_reshape(ctx: RfContext) -> Field | None:
    """Reshapes move units without mixing them: spatial axes follow the dims that hold them,
    merged into one axis (flattening, tokens) or restored to axes of their own."""
    field = ctx.fields[0] if ctx.fields else None
    src, dst = ctx.in_shape(0), ctx.out_shape(0)
    if field is None or src is None or dst is None:
        return None if field is None or not field.pooled else field
    return field.reshaped(src, dst)


def rf_transpose(ctx: RfContext) -> Field | None:
    field = ctx.fields[0] if ctx.fields else None
    out = ctx.out_shape(0)
    if field is None or out is None:
        return None if field is None or not field.pooled else field
    perm = list(ctx.node.attrs.get("perm") or reversed(range(len(out))))
    return field.remapped(perm.index, out)


def rf_reduce(ctx: RfContext) -> Field | None:
    """Reductions over every axis holding positions are global pooling (D104 checks it);
    over some, the field is global; kept axes move when keepdims is 0."""
    field = ctx.fields[0] if ctx.fields else None
    reduced: set[int] | None = ctx.resolved.get("reduced")
    out = ctx.out_shape(0)
    if field is None or reduced is None or out is None:
        return None
    mixed = field.mixed(reduced)
    if mixed.pooled and not field.pooled:
        mixed = ctx.pooled_globally(field)
    if ctx.node.attrs.get("keepdims", 1):
        return mixed
    return mixed.remapped(lambda a: None if a in reduced else a - sum(1 for r in reduced if r < a), out)


def rf_split(ctx: RfContext) -> Field | None:
    return rf_union(ctx)


def rf_gather(ctx: RfContext) -> Field | None:
    """Picking entries along an axis that holds positions keeps only some positions: the
    field is known only when it was global there already."""
    field = ctx.fields[0] if ctx.fields else None
    x, indices, out = ctx.in_shape(0), ctx.in_shape(1), ctx.out_shape(0)
    if field is None or x is None or indices is None or out is None:
        return None if field is None or not field.pooled else field
    axis = ctx.node.attrs.get("axis", 0) % len(x)
    if axis in field.content_axes():
        if not field.is_global:
            raise FieldUnknown("picks single positions along a spatial axis")
        field = field.mixed((axis,))  # the positions there are gone
        if field.pooled:
            return field
    shift = len(indices) - 1
    return field.remapped(lambda a: a + shift if a > axis else a, out)


def rf_concat(ctx: RfContext) -> Field | None:
    """Along channels (or any axis without positions) a join. Along an axis that holds
    positions the inputs lie side by side: units away from the borders come from the input
    covering most of the axis (circular padding: the wrapped strips are borders), so the
    field is that input's, shifted by the units before it."""
    out = ctx.out_shape(0)
    fields = ctx.data_fields()
    if out is None or not fields:
        return rf_union(ctx)
    axis = ctx.node.attrs.get("axis", 0) % len(out)
    if not any(axis in f.content_axes() for _, f in fields):
        return rf_union(ctx)
    sizes = [s[axis] if s is not None else None for s in ctx.in_shapes]
    if any(not isinstance(sizes[i], int) for i, _ in fields):
        raise FieldUnknown("joins inputs of unknown size along a spatial axis")
    largest = max(sizes[i] for i, _ in fields)  # type: ignore[type-var]
    widest = [(i, f) for i, f in fields if sizes[i] == largest]
    index, field = widest[0]
    if any(not isinstance(s, int) for s in sizes[:index]):
        raise FieldUnknown("joins inputs of unknown size along a spatial axis")
    shifted = field.shifted_along(axis, sum(sizes[:index]), out)  # type: ignore[arg-type]
    if len(widest) == 1:
        return shifted
    # Inputs of equal size: units differ by where they come from; sizes are known if they agree.
    if any(_extents(f) != _extents(field) for _, f in widest):
        raise FieldUnknown("joins inputs of equal size along a spatial axis whose fields differ")
    return replace(shifted, anchored=False)


def _extents(field: Field) -> tuple:
    return field.is_global, field.layout, tuple((a.stride, tuple(a.sizes())) for a in field.per_axis)


register("Constant", infer=infer_constant, doc="A constant tensor given as an attribute.")
register(
    "ConstantOfShape",
    infer=infer_constant_of_shape,
    doc="A tensor of the given (constant) shape filled with one value.",
)
register("Shape", infer=infer_shape, rf=rf_metadata, doc="The shape of its input, as int64.")
register("Size", infer=infer_size, rf=rf_metadata, doc="The element count of its input.")
register("Cast", infer=infer_cast, shape_only=True, doc="Changes the element type.")
register("CastLike", infer=infer_cast_like, rf=rf_first, shape_only=True,
         doc="Changes the element type to that of input 1.")
register(
    "Concat",
    infer=infer_concat,
    rf=rf_concat,
    min_inputs=1,
    scale_operands=True,
    doc="Joins tensors along axis; other dims must match. A constant operand with more than one "
    "element (a ViT class token, through Expand or Tile) is a parameter.",
)
register("Split", infer=infer_split, rf=rf_split, doc="Cuts a tensor along axis.")
register("Slice", infer=infer_slice, rf=rf_shift, doc="Takes start:end:step along axes.")
register("Gather", infer=infer_gather, rf=rf_gather, tables=(0,),
         doc="Takes entries along axis by index. A float initializer as data is a parameter (an "
         "embedding, a relative-position bias table).")
register("GatherND", infer=infer_gather_nd, rf=rf_gather_nd, tables=(0,),
         doc="Takes slices of data by index tuples (the last dim of indices), after batch_dims. A "
         "float initializer as data is a parameter.")
register(
    "Flatten",
    infer=infer_flatten,
    rf=rf_reshape,
    shape_only=True,
    doc="Reshapes to 2-D: dims before axis, dims from axis on.",
)
register("Reshape", infer=infer_reshape, rf=rf_reshape, shape_only=True, fixed_size=fixed_reshape,
         doc="Reshapes to a target shape.")
register("Squeeze", infer=infer_squeeze, rf=rf_reshape, shape_only=True, doc="Removes axes of size 1.")
register("Unsqueeze", infer=infer_unsqueeze, rf=rf_reshape, shape_only=True, doc="Inserts axes of size 1.")
register("Transpose", infer=infer_transpose, rf=rf_transpose, shape_only=True, doc="Permutes axes.")
register("Expand", infer=infer_expand, shape_only=True, doc="Broadcasts to a shape.")
register("Tile", infer=infer_tile, shape_only=True, doc="Repeats the input along each axis.")
register("Range", infer=infer_range, rf=rf_metadata, doc="A 1-D sequence start:limit:delta.")
register("Pad", infer=infer_pad, rf=rf_shift, doc="Pads (or crops, when negative) each axis.")
register(
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    infer=infer_reduce,
    rf=rf_reduce,
    doc="Reduces axes (all when none given); keepdims keeps them as 1. Over spatial axes it is "
    "global pooling.",
)
register("ArgMax", "ArgMin", infer=infer_arg_reduce, rf=rf_reduce, doc="Index of the extreme along axis.")
register("NonZero", infer=infer_data_dependent, rf=rf_global, doc="Indices of non-zero elements: data-dependent count.")
