"""Size expressions: how a dim depends on a scanned input size, evaluated for many sizes at once.

``convlint sizes`` runs the ordinary shape rules once with an input dim set to the symbol
``Size("H")``. Dims become expressions (``(H + 2 - 3) // 2 + 1``) and the rules' checks
become recorded conditions; both are then evaluated with numpy over every candidate size in
one go. The helpers here (:func:`ge`, :func:`where`, :func:`cdiv`...) work on plain ints as
on expressions, so shape rules are written once for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterator
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
        """The expression as a formula people read: ``floor((H + 1) / 2)``, ``2*floor(H / 16)``
        (sums, products and nested floors simplified), as messages and reports show it."""
        return formula(self)

    def symbols(self, memo: dict[int, frozenset[str]] | None = None) -> frozenset[str]:
        """The names of the scanned sizes this expression depends on."""
        memo = {} if memo is None else memo
        key = id(self)
        if key not in memo:
            if self.op == "size":
                memo[key] = frozenset((self.args[0],))
            else:
                memo[key] = frozenset().union(*(a.symbols(memo) for a in self.args if isinstance(a, Expr)))
        return memo[key]

    def evaluate(self, env: dict[str, Any]) -> Any:
        """The value for every candidate at once: ``env`` maps size names to numpy arrays."""
        return next(Evaluation([self]).values(env))


def _np():
    import numpy as np

    return np


class Evaluation:
    """The values of many expressions (``roots``, in order) for every candidate at once, each
    sub-expression computed once and its array dropped as soon as nothing left needs it: what
    is kept at a time is ``peak`` arrays (worked out beforehand, without computing anything),
    so that a caller can size its chunks of candidates by it."""

    def __init__(self, roots: list[Any]):
        self.roots = roots
        self._uses: dict[int, int] = {}
        for root in roots:
            if isinstance(root, Expr):
                self._count(root)
        self._exact = self._within_bound()
        self.peak = max((kept for kept, _ in self._walk(None)), default=0)

    def _within_bound(self) -> set[int]:
        """The sub-expressions whose values cannot leave +-BOUND whatever the sizes (at most
        MAX_DIM each): worked out from bounds on their operands, once. Their arithmetic needs
        no saturation (every expression of a network that can run)."""
        from analyzer.limits import MAX_DIM

        bound: dict[int, int] = {}

        def of(arg: Any) -> int:
            if isinstance(arg, Expr):
                return bound[id(arg)]
            return min(abs(_bounded(arg)), BOUND + 1) if type(arg) is int else BOUND + 1

        for expr in (e for root in self.roots if isinstance(root, Expr) for e in _in_order(root, bound)):
            op, args = expr.op, expr.args
            if op == "size":
                value = MAX_DIM
            elif op in ("add", "sub"):
                value = of(args[0]) + of(args[1])
            elif op == "mul":
                value = of(args[0]) * of(args[1])
            elif op in ("floordiv", "where") or op in ("max", "min"):
                value = max(of(a) for a in (args[:1] if op == "floordiv" else args[-2:]))
            elif op == "mod":
                value = of(args[1])
            elif op in ("scale32", "scale64"):
                factor = abs(args[1])
                value = of(args[0]) * math.ceil(factor) + 1 if factor <= BOUND else BOUND + 1
            else:  # comparisons and logic
                value = 1
            bound[id(expr)] = min(value, BOUND + 1)
        return {key for key, value in bound.items() if value <= BOUND}

    def _count(self, root: Expr) -> None:
        uses = self._uses
        if id(root) in uses:
            uses[id(root)] += 1
            return
        uses[id(root)] = 1
        stack = [root]
        while stack:
            for arg in stack.pop().args:
                if isinstance(arg, Expr):
                    if id(arg) in uses:
                        uses[id(arg)] += 1
                    else:
                        uses[id(arg)] = 1
                        stack.append(arg)

    def values(self, env: dict[str, Any]) -> Iterator[Any]:
        """Each root's value at the sizes of ``env``, in order."""
        return (value for _, value in self._walk(env) if value is not _STEP)

    def _walk(self, env: dict[str, Any] | None) -> Iterator[tuple[int, Any]]:
        """Evaluate the roots in order (only count arrays when ``env`` is None), yielding how
        many arrays are kept after each step, and each root's value once it is known."""
        uses, memo = dict(self._uses), {}

        def release(expr: Expr) -> None:
            uses[id(expr)] -= 1
            if not uses[id(expr)]:
                del memo[id(expr)]

        for root in self.roots:
            if not isinstance(root, Expr):
                yield len(memo), root
                continue
            for expr in _in_order(root, memo):
                if env is None:
                    memo[id(expr)] = None
                else:
                    args = [memo[id(a)] if isinstance(a, Expr) else _bounded(a) for a in expr.args]
                    table = _EXACT if id(expr) in self._exact and expr.op in _EXACT else _EVAL
                    memo[id(expr)] = table[expr.op](env, *args)
                yield len(memo), _STEP
                for arg in expr.args:
                    if isinstance(arg, Expr):
                        release(arg)
            yield len(memo), memo[id(root)]
            release(root)


_STEP = object()


def _in_order(root: Expr, done: Container[int]) -> Iterator[Expr]:
    """The sub-expressions of ``root`` whose ids are not in ``done``, each after its operands;
    the caller records each one in ``done`` as it gets it."""
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        expr, ready = stack.pop()
        if id(expr) in done:
            continue
        if ready:
            yield expr
            continue
        stack.append((expr, True))
        stack.extend((a, False) for a in expr.args if isinstance(a, Expr) and id(a) not in done)


BOUND = 2**61
"""Values are evaluated as int64 in -BOUND..BOUND, where +-BOUND stands for a value beyond it
(an infinity): far past any dim convlint computes with (analyzer.limits.MAX_DIM, checked as
S111), yet the sum of two never overflows int64. A file's constant past it (a dilation of
2**63 - 1) is such an infinity, and arithmetic keeps it one (BOUND - 5 stays BOUND), so every
comparison with a real size comes out as it would exactly. Only an infinity minus another, or
times 0, has no right value; the second operand's infinity, or 0, stands for it."""


def _bounded(value: Any) -> Any:
    if type(value) is int and not -BOUND <= value <= BOUND:
        return BOUND if value > 0 else -BOUND
    return value


def _beyond(values: Any) -> Any:
    return _np().abs(values) >= BOUND


def _keep_infinite(result: Any, *operands: Any) -> Any:
    """``result``, clipped to +-BOUND, except where an operand is infinite: that infinity
    (the last one given wins)."""
    np = _np()
    result = np.clip(result, -BOUND, BOUND)
    for operand in operands:
        result = np.where(_beyond(operand), operand, result)
    return result


def _times(a: Any, b: Any) -> Any:
    """a * b: exact where it stays within BOUND, else an infinity of its sign (infinity
    times 0 is 0). float64 tells where int64 holds the product: its error is far below the
    margin between 2 * BOUND and 2**63."""
    np = _np()
    estimate = np.multiply(a, b, dtype=np.float64)
    fits = np.abs(estimate) < 2 * BOUND  # int64 holds it exactly
    exact = np.clip(np.multiply(np.where(fits, a, 0), b), -BOUND, BOUND)
    return np.where(fits, exact, np.sign(estimate).astype(np.int64) * BOUND)


def _floor_scaled(a: Any, factor: float, float32: bool) -> Any:
    """floor(a * factor) in float32 (onnxruntime) or float64 (PyTorch). Beyond BOUND it is an
    infinity (a NaN, which validated scales never give, is -BOUND: no size)."""
    np = _np()
    with np.errstate(invalid="ignore", over="ignore"):
        product = _floor_product(a, factor, float32)
        product = np.clip(np.nan_to_num(product, nan=-BOUND), -BOUND, BOUND).astype(np.int64)
    return np.where(_beyond(a), a, product)


def _floor_product(a: Any, factor: float, float32: bool) -> Any:
    """floor(a * factor), computed in float32 or float64 as the runtime computes it."""
    np = _np()
    kind = np.float32 if float32 else np.float64
    return np.floor(np.asarray(a, dtype=kind) * kind(factor))


def _scaled_exact(a: Any, factor: float, float32: bool) -> Any:
    return _floor_product(a, factor, float32).astype(_np().int64)


_EXACT: dict[str, Callable[..., Any]] = {
    "add": lambda env, a, b: a + b,
    "sub": lambda env, a, b: a - b,
    "mul": lambda env, a, b: a * b,
    "floordiv": lambda env, a, b: _np().floor_divide(a, _np().maximum(b, 1)),
    "scale64": lambda env, a, factor: _scaled_exact(a, factor, float32=False),
    "scale32": lambda env, a, factor: _scaled_exact(a, factor, float32=True),
}
"""Arithmetic on values known to stay within +-BOUND (see ``Evaluation._within_bound``): that
of every network that can run."""

_EVAL: dict[str, Callable[..., Any]] = {
    "size": lambda env, name: env[name],
    "add": lambda env, a, b: _keep_infinite(_np().add(a, b), a, b),
    "sub": lambda env, a, b: _keep_infinite(_np().subtract(a, b), a, -_np().asarray(b)),
    "mul": lambda env, a, b: _times(a, b),
    "floordiv": lambda env, a, b: _keep_infinite(_np().floor_divide(a, _np().maximum(b, 1)), a),
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
    "scale64": lambda env, a, factor: _floor_scaled(a, factor, float32=False),
    "scale32": lambda env, a, factor: _floor_scaled(a, factor, float32=True),
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


# -- formulas ----------------------------------------------------------------------------------
# An expression is shown as a sum of integer multiples of atoms plus a constant: sizes (``H``),
# floors of such sums divided by an integer, and what has no simpler form (max, a product of
# two sizes, a choice). Floors of floors merge (floor(floor(x / a) / b) = floor(x / (a*b)) for
# integer x), and whole multiples leave a floor (floor((2H + 3) / 2) = H + 1), so the stride-2
# stages of a network read as ``floor(H / 16)`` rather than as sixteen nested operations.
Atom = tuple  # ("size", name) | ("floor", Linear, d) | ("mod", Linear, m) | ("text", str)
Linear = tuple[tuple[tuple[Atom, int], ...], int]  # (sorted (atom, coefficient) pairs, constant)


def _linear(terms: dict[Atom, int], constant: int) -> Linear:
    return tuple(sorted(((a, c) for a, c in terms.items() if c), key=_order)), constant


def _order(term: tuple[Atom, int]) -> tuple:
    atom = term[0]
    return (atom[0] != "size", repr(atom))


def _constant(value: int) -> Linear:
    return (), value


def _add(a: Linear, b: Linear, sign: int = 1) -> Linear:
    terms = dict(a[0])
    for atom, coefficient in b[0]:
        terms[atom] = terms.get(atom, 0) + sign * coefficient
    return _linear(terms, a[1] + sign * b[1])


def _scale(a: Linear, factor: int) -> Linear:
    return _linear({atom: c * factor for atom, c in a[0]}, a[1] * factor)


def _atom(atom: Atom) -> Linear:
    return ((atom, 1),), 0


def _floor(a: Linear, d: int) -> Linear:
    """floor(a / d) for a positive integer d, simplified."""
    if d == 1:
        return a
    whole = {atom: c // d for atom, c in a[0] if c % d == 0}
    rest = {atom: c for atom, c in a[0] if c % d}
    quotient, remainder = divmod(a[1], d)
    if not rest:
        return _linear(whole, quotient)
    if len(rest) == 1:
        ((atom, c),) = rest.items()
        if c == 1 and atom[0] == "floor":  # floor((floor(m / e) + r) / d) = floor((m + r*e) / (d*e))
            _, inner, e = atom
            merged = _floor(_add(inner, _constant(remainder * e)), d * e)
            return _add(_linear(whole, quotient), merged)
    floored = _atom(("floor", _linear(rest, remainder), d))
    return _add(_linear(whole, quotient), floored)


def _linear_of(value: Any, memo: dict[int, Linear]) -> Linear:
    if not isinstance(value, Expr):
        return _constant(value) if isinstance(value, int) else _atom(("text", repr(value)))
    key = id(value)
    if key not in memo:
        memo[key] = _reduce(value, memo)
    return memo[key]


def _reduce(expr: Expr, memo: dict[int, Linear]) -> Linear:
    op, args = expr.op, expr.args
    if op == "size":
        return _atom(("size", args[0]))
    if op in ("add", "sub"):
        return _add(_linear_of(args[0], memo), _linear_of(args[1], memo), 1 if op == "add" else -1)
    if op == "mul":
        a, b = (_linear_of(x, memo) for x in args)
        if not a[0] or not b[0]:
            return _scale(b, a[1]) if not a[0] else _scale(a, b[1])
        return _atom(("text", f"{_operand(a)} * {_operand(b)}"))
    if op == "floordiv" and isinstance(args[1], int) and args[1] > 0:
        return _floor(_linear_of(args[0], memo), args[1])
    if op == "mod" and isinstance(args[1], int) and args[1] > 0:
        a, m = _linear_of(args[0], memo), args[1]
        reduced = _linear({atom: c % m for atom, c in a[0]}, a[1] % m)
        return _constant(reduced[1]) if not reduced[0] else _atom(("mod", reduced, m))
    if op in ("scale32", "scale64"):
        factor = args[1]
        if float(factor).is_integer():
            return _scale(_linear_of(args[0], memo), int(factor))
        return _atom(("text", f"floor({_render(_linear_of(args[0], memo))} * {factor:g})"))
    return _atom(("text", _call(expr, memo)))


_INFIX = {"ge": ">=", "gt": ">", "eq": "==", "and": "and", "or": "or"}


def _call(expr: Expr, memo: dict[int, Linear]) -> str:
    parts = [_render(_linear_of(a, memo)) if not isinstance(a, float) else f"{a:g}" for a in expr.args]
    if expr.op in _INFIX:
        return f"{parts[0]} {_INFIX[expr.op]} {parts[1]}"
    if expr.op == "not":
        return f"not ({parts[0]})"
    if expr.op == "where":
        return f"({parts[1]} if {parts[0]} else {parts[2]})"
    return f"{expr.op}({', '.join(parts)})"


def _render_atom(atom: Atom) -> str:
    kind = atom[0]
    if kind == "size":
        return atom[1]
    if kind == "floor":
        return f"floor({_operand(atom[1])} / {atom[2]})"
    if kind == "mod":
        return f"{_operand(atom[1])} % {atom[2]}"
    return atom[1]


def _operand(a: Linear) -> str:
    """A sum inside a larger formula: parenthesised unless it is one plain term."""
    text = _render(a)
    single = len(a[0]) == 1 and a[1] == 0 and a[0][0][1] == 1
    return text if single or not a[0] else f"({text})"


def _render(a: Linear) -> str:
    pieces: list[str] = []
    for atom, c in a[0]:
        if atom[0] == "floor" and c < 0 and a[0] and all(k < 0 for _, k in atom[1][0]):
            atom, c = ("ceil", _scale(atom[1], -1), atom[2]), -c  # -floor(-x / d) = ceil(x / d)
        body = f"ceil({_operand(atom[1])} / {atom[2]})" if atom[0] == "ceil" else _render_atom(atom)
        if atom[0] == "mod" and (len(a[0]) > 1 or a[1] or c != 1):
            body = f"({body})"  # % binds as * does, and after a unary minus
        size = abs(c)
        term = body if size == 1 else f"{size}*{body}"
        pieces.append(("- " if c < 0 else "+ ") + term)
    if a[1] or not pieces:
        pieces.append(("- " if a[1] < 0 else "+ ") + str(abs(a[1])))
    text = " ".join(pieces)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def formula(expr: Expr) -> str:
    """``expr`` as a simplified formula (see above)."""
    return _render(_linear_of(expr, {}))
