"""Size expressions: how a dim depends on a scanned input size, evaluated for many sizes at once.

``convlint sizes`` runs the ordinary shape rules once with an input dim set to the symbol
``Size("H")``. Dims become expressions (``(H + 2 - 3) // 2 + 1``) and the rules' checks
become recorded conditions; both are then evaluated with numpy over every candidate size in
one go. The helpers here (:func:`ge`, :func:`where`, :func:`cdiv`...) work on plain ints as
on expressions, so shape rules are written once for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Union

Number = Union[int, "Expr"]


class Expr:
    """A node of an expression tree over scanned sizes. Immutable; compared by identity.

    Ordering comparisons are deliberately not defined: a rule that branches on a size must
    use :func:`ge`/:func:`eq` and :func:`where`, or it fails loudly in symbolic mode.
    """

    __slots__ = ("args", "op")

    def __init__(self, op: str, *args: Any):
        self.op = op
        self.args = args

    # arithmetic ------------------------------------------------------------------------------
    def __add__(self, other: Number) -> Expr:
        return self if isinstance(other, int) and other == 0 else Expr("add", self, other)

    __radd__ = __add__

    def __sub__(self, other: Number) -> Expr:
        return self if isinstance(other, int) and other == 0 else Expr("sub", self, other)

    def __rsub__(self, other: Number) -> Expr:
        return Expr("sub", other, self)

    def __mul__(self, other: Number) -> Expr:
        return self if isinstance(other, int) and other == 1 else Expr("mul", self, other)

    __rmul__ = __mul__

    def __floordiv__(self, other: Number) -> Expr:
        return self if isinstance(other, int) and other == 1 else Expr("floordiv", self, other)

    def __rfloordiv__(self, other: Number) -> Expr:
        return Expr("floordiv", other, self)

    def __mod__(self, other: Number) -> Expr:
        return Expr("mod", self, other)

    def __neg__(self) -> Expr:
        return Expr("sub", 0, self)

    def __index__(self) -> int:  # pragma: no cover - guard
        raise TypeError("a scanned size has no single value")

    def __bool__(self) -> bool:
        raise TypeError("a condition on a scanned size has no single truth value")

    def __repr__(self) -> str:
        if self.op == "size":
            return str(self.args[0])
        return f"{self.op}({', '.join(map(repr, self.args))})"

    # evaluation ------------------------------------------------------------------------------
    def evaluate(self, env: dict[str, Any], memo: dict[int, Any] | None = None) -> Any:
        """The value for every candidate at once: ``env`` maps size names to numpy arrays."""
        memo = {} if memo is None else memo
        key = id(self)
        if key in memo:
            return memo[key]
        args = [a.evaluate(env, memo) if isinstance(a, Expr) else a for a in self.args]
        value = _EVAL[self.op](env, *args)
        memo[key] = value
        return value


def _np():
    import numpy as np

    return np


_EVAL: dict[str, Callable[..., Any]] = {
    "size": lambda env, name: env[name],
    "add": lambda env, a, b: a + b,
    "sub": lambda env, a, b: a - b,
    "mul": lambda env, a, b: a * b,
    "floordiv": lambda env, a, b: _np().floor_divide(a, _np().maximum(b, 1)),
    "mod": lambda env, a, b: _np().mod(a, _np().maximum(b, 1)),
    "max": lambda env, a, b: _np().maximum(a, b),
    "min": lambda env, a, b: _np().minimum(a, b),
    "ge": lambda env, a, b: _np().greater_equal(a, b),
    "gt": lambda env, a, b: _np().greater(a, b),
    "eq": lambda env, a, b: _np().equal(a, b),
    "and": lambda env, a, b: _np().logical_and(a, b),
    "or": lambda env, a, b: _np().logical_or(a, b),
    "not": lambda env, a: _np().logical_not(a),
    "where": lambda env, c, a, b: _np().where(c, a, b),
    "scale64": lambda env, a, factor: _np().floor(_np().asarray(a, dtype=_np().float64) * factor).astype(_np().int64),
    "scale32": lambda env, a, factor: _np().floor(
        _np().asarray(a, dtype=_np().float32) * _np().float32(factor)
    ).astype(_np().int64),
}


def size(name: str) -> Expr:
    return Expr("size", name)


def is_expr(value: Any) -> bool:
    return isinstance(value, Expr)


def is_size(value: Any) -> bool:
    """A known size: an int, or an expression of scanned sizes."""
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, Expr)


def _binary(op: str, py: Callable[[int, int], Any]) -> Callable[[Number, Number], Any]:
    def apply(a: Number, b: Number) -> Any:
        if isinstance(a, Expr) or isinstance(b, Expr):
            return Expr(op, a, b)
        return py(a, b)

    return apply


ge = _binary("ge", lambda a, b: a >= b)
gt = _binary("gt", lambda a, b: a > b)
eq = _binary("eq", lambda a, b: a == b)
maximum = _binary("max", max)
minimum = _binary("min", min)
both = _binary("and", lambda a, b: bool(a) and bool(b))
either = _binary("or", lambda a, b: bool(a) or bool(b))


def negate(c: Any) -> Any:
    return Expr("not", c) if isinstance(c, Expr) else not c


def where(condition: Any, a: Number, b: Number) -> Number:
    if isinstance(condition, Expr):
        return Expr("where", condition, a, b)
    return a if condition else b


def cdiv(a: Number, b: int) -> Number:
    """Ceiling division for sizes and expressions."""
    return -((-a) // b)


def scaled(size_: Number, factor: float, float32: bool) -> Number:
    """floor(size * factor): in float32 as onnxruntime computes it, else exactly (PyTorch)."""
    if isinstance(size_, Expr):
        return Expr("scale32" if float32 else "scale64", size_, factor)
    if float32:
        import struct

        def f32(x: float) -> float:
            return struct.unpack("f", struct.pack("f", x))[0]

        return math.floor(f32(f32(size_) * f32(factor)))
    return math.floor(size_ * factor)
