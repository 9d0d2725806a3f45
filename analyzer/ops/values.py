"""Constant folding of small tensors: the integer shape computations exporters emit.

A folded tensor is its elements in row-major order with its dims (:class:`Items`), Python
objects so that symbolic dims (``"N"``) ride along with known sizes; an element that cannot be
known is ``None``. Only tensors of at most ``MAX_FOLD`` elements are folded, so weights never
are, and no result larger than that is ever built. Plain Python, not numpy object arrays:
importing numpy costs more than analysing most models (these functions are checked against
numpy by the tests).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from analyzer.graph import ConstTensor
from analyzer.ops.common import broadcast_dims
from analyzer.symbolic import eq, is_expr, is_size, where

MAX_FOLD = 1024


@dataclass(frozen=True, slots=True)
class Items:
    """A small tensor's elements, row-major, and its dims."""

    dims: tuple[int, ...]
    flat: tuple[Any, ...]


def array(value: ConstTensor) -> Items | None:
    """The elements of a folded constant (None if its values do not fill its dims)."""
    flat = tuple(value.values or ())
    return Items(value.dims, flat) if len(flat) == prod(value.dims) else None


def const(items: Items | None, dtype: str) -> ConstTensor | None:
    """A folded ConstTensor (None when there is nothing, or too much, to keep)."""
    if items is None or len(items.flat) > MAX_FOLD:
        return None
    return ConstTensor(items.dims, dtype, items.flat)


def _strides(dims: Sequence[int]) -> list[int]:
    strides, step = [], 1
    for size in reversed(dims):
        strides.append(step)
        step *= size
    return strides[::-1]


def _gather(items: Items, picks: Sequence[Sequence[int]], strides: Sequence[int], dims: tuple[int, ...]) -> Items | None:
    """The tensor of ``dims`` whose element at (i, j, ...) is ``items``' element at offset
    picks[0][i] * strides[0] + picks[1][j] * strides[1] + ...; None past MAX_FOLD elements."""
    if prod(dims) > MAX_FOLD:
        return None
    offsets = [0]
    for chosen, stride in zip(picks, strides):
        offsets = [offset + pick * stride for offset in offsets for pick in chosen]
    flat = items.flat
    return Items(dims, tuple([flat[offset] for offset in offsets]))


def concatenate(arrays: Sequence[Items], axis: int) -> Items | None:
    """numpy.concatenate: the arrays' dims agree except along ``axis``."""
    first = arrays[0].dims
    if not first or any(len(a.dims) != len(first) or a.dims[:axis] != first[:axis]
                        or a.dims[axis + 1:] != first[axis + 1:] for a in arrays):
        return None
    dims = (*first[:axis], sum(a.dims[axis] for a in arrays), *first[axis + 1:])
    if prod(dims) > MAX_FOLD:
        return None
    blocks = [(a.flat, prod(a.dims[axis:])) for a in arrays]
    flat: list[Any] = []
    for outer in range(prod(first[:axis])):
        for items, block in blocks:
            flat.extend(items[outer * block:(outer + 1) * block])
    return Items(dims, tuple(flat))


def sliced(items: Items, cuts: Sequence[slice]) -> Items | None:
    """``items[cuts]``: a Python slice per axis."""
    picks = [range(size)[cut] for size, cut in zip(items.dims, cuts)]
    return _gather(items, picks, _strides(items.dims), tuple(len(p) for p in picks))


def take(items: Items, indices: Items, axis: int) -> Items | None:
    """numpy.take along ``axis`` (indices already checked to lie in -size..size-1)."""
    size = items.dims[axis]
    picks = [range(d) for d in items.dims]
    picks[axis] = [i % size for i in indices.flat]  # type: ignore[call-overload]
    # the indices' axes take the picked axis' place: their elements, in order, are its picks
    return _gather(items, picks, _strides(items.dims), (*items.dims[:axis], *indices.dims, *items.dims[axis + 1:]))


def transpose(items: Items, perm: Sequence[int]) -> Items | None:
    strides = _strides(items.dims)
    return _gather(items, [range(items.dims[p]) for p in perm], [strides[p] for p in perm],
                   tuple(items.dims[p] for p in perm))


def broadcast_to(items: Items, dims: tuple[int, ...]) -> Items | None:
    """numpy.broadcast_to (ValueError when the dims do not broadcast)."""
    extra = len(dims) - len(items.dims)
    if extra < 0:
        raise ValueError(f"cannot broadcast {items.dims} to {dims}")
    strides = [0] * extra + _strides(items.dims)
    own = (1,) * extra + items.dims
    for axis, (have, want) in enumerate(zip(own, dims)):
        if have == 1:
            strides[axis] = 0
        elif have != want:
            raise ValueError(f"cannot broadcast {items.dims} to {dims}")
    return _gather(items, [range(d) for d in dims], strides, dims)


def _broadcast_dims(*all_dims: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's broadcast of the dims (ValueError when they do not broadcast)."""
    rank = max(len(d) for d in all_dims)
    out = []
    for column in zip(*[(1,) * (rank - len(d)) + d for d in all_dims]):
        dim, compatible = broadcast_dims(column)
        if not compatible:
            raise ValueError(f"dims {all_dims} do not broadcast")
        out.append(dim)
    return tuple(out)  # type: ignore[arg-type]


def _known(*values: Any) -> bool:
    return all((isinstance(v, (int, float)) and not isinstance(v, bool)) or isinstance(v, bool) for v in values)


def _arith(fn: Callable[[Any, Any], Any], identity: int | None = None) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if _known(a, b):
            return fn(a, b)
        if (is_expr(a) or is_expr(b)) and is_size(a) and is_size(b):
            return fn(a, b)
        if identity is not None and isinstance(a, str) and b == identity:
            return a  # N * 1, N + 0
        if identity is not None and fn in (operator.add, operator.mul) and isinstance(b, str) and a == identity:
            return b
        return None

    return apply


def _divide(a: Any, b: Any) -> Any:
    if is_expr(a) and isinstance(b, int) and b > 0:
        return a // b  # sizes are positive: truncation is floor
    if _known(a, b):
        if b == 0:
            return None
        return int(a / b) if isinstance(a, int) and isinstance(b, int) else a / b
    return a if isinstance(a, str) and b == 1 else None


def _equal(a: Any, b: Any) -> Any:
    if (is_expr(a) or is_expr(b)) and is_size(a) and is_size(b):
        return eq(a, b)
    if _known(a, b):
        return a == b
    if isinstance(a, str) and isinstance(b, str) and a == b:
        return True
    symbolic, other = (a, b) if isinstance(a, str) else (b, a)
    if isinstance(symbolic, str) and isinstance(other, int) and other <= 0:
        return False  # a dim is positive
    return None


def _compare(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    return lambda a, b: fn(a, b) if _known(a, b) else None


ELEMENTWISE: dict[str, Callable[[Any, Any], Any]] = {
    "Add": _arith(operator.add, 0),
    "Sub": _arith(operator.sub, 0),
    "Mul": _arith(operator.mul, 1),
    "Div": _divide,
    "Mod": _compare(lambda a, b: a % b if b else None),
    "Max": _compare(max),
    "Min": _compare(min),
    "Equal": _equal,
    "Less": _compare(operator.lt),
    "LessOrEqual": _compare(operator.le),
    "Greater": _compare(operator.gt),
    "GreaterOrEqual": _compare(operator.ge),
    "And": _compare(lambda a, b: bool(a) and bool(b)),
    "Or": _compare(lambda a, b: bool(a) or bool(b)),
}


def fold_elementwise(op: str, values: Sequence[ConstTensor], dtype: str) -> ConstTensor | None:
    """Broadcasting element-wise folding for ``ELEMENTWISE`` ops and ``Where``."""
    arrays = [array(v) for v in values]
    try:
        if any(a is None for a in arrays):
            return None
        dims = _broadcast_dims(*(a.dims for a in arrays))  # type: ignore[union-attr]
        spread = [broadcast_to(a, dims) for a in arrays]  # type: ignore[arg-type]
        if any(a is None for a in spread):
            return None  # more than MAX_FOLD elements
        if op == "Where":
            flat = tuple(
                (a if a is b or a == b else None) if c is None else where(c, a, b)
                for c, a, b in zip(*(s.flat for s in spread))  # type: ignore[union-attr]
            )
            return const(Items(dims, flat), dtype)
        fn = ELEMENTWISE[op]
        result = spread[0].flat  # type: ignore[union-attr]
        for other in spread[1:]:
            result = tuple(map(fn, result, other.flat))  # type: ignore[union-attr]
        return const(Items(dims, result), dtype)
    except (ValueError, TypeError, OverflowError):
        return None
