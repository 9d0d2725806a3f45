"""Constant folding of small tensors: the integer shape computations exporters emit.

Values are numpy arrays of Python objects so that symbolic dims (``"N"``) ride along with
known sizes; an element that cannot be known is ``None``. Only tensors of at most
``MAX_FOLD`` elements are folded, so weights never are.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from analyzer.graph import ConstTensor
from analyzer.symbolic import eq, is_expr, is_size, where

MAX_FOLD = 1024


def array(value: ConstTensor):
    import numpy as np

    items = np.empty(len(value.values or ()), dtype=object)
    items[:] = list(value.values or ())
    return items.reshape(value.dims)


def const(items, dtype: str) -> ConstTensor | None:
    """A folded ConstTensor from an object array or scalar (None when too large to keep)."""
    import numpy as np

    if not isinstance(items, np.ndarray):
        scalar = np.empty((), dtype=object)
        scalar[()] = items
        items = scalar
    if items.size > MAX_FOLD:
        return None
    flat = tuple(_plain(v) for v in items.reshape(-1).tolist())
    return ConstTensor(tuple(int(d) for d in items.shape), dtype, flat)


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    return v


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
    import numpy as np

    arrays = [array(v) for v in values]
    try:
        if op == "Where":
            cond, a, b = np.broadcast_arrays(*arrays)
            out = np.empty(cond.shape, dtype=object)
            for index in np.ndindex(cond.shape):
                c = cond[index]
                if c is None:
                    out[index] = a[index] if a[index] is b[index] or a[index] == b[index] else None
                else:
                    out[index] = where(c, a[index], b[index])
            return const(out, dtype)
        fn = ELEMENTWISE[op]
        result = arrays[0]
        for other in arrays[1:]:
            result = np.frompyfunc(fn, 2, 1)(result, other)
        return const(np.asarray(result, dtype=object), dtype)
    except (ValueError, TypeError, OverflowError):
        return None
