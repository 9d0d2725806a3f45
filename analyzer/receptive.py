"""Receptive-field algebra (REFERENCE §6), exact per unit along each spatial axis.

Along one axis, a tensor's units see input pixels in a pattern that repeats every
``period`` units and ``pixels`` input pixels: unit ``q*period + r`` sees
``[q*pixels + lo[r], q*pixels + hi[r]]``. The stride is ``pixels / period`` (a fraction after
upsampling). A plain network keeps ``period == 1``; upsampling and transposed convolutions
make neighbouring units differ, which this form captures exactly. Borders are ignored: these
are the figures of a unit away from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

MAX_PERIOD = 4096
"""Beyond this many distinct unit phases the field is reported unknown rather than computed."""
MAX_WORK = 10_000_000
"""Phases times kernel taps beyond which a field is reported unknown (hostile kernels)."""


class FieldTooComplex(ValueError):
    """The per-unit pattern would exceed MAX_PERIOD phases."""


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: frozen ones cost 3x to build
class AxisField:
    period: int
    pixels: int
    lo: tuple[int, ...]
    hi: tuple[int, ...]
    """Per phase; ``hi < lo`` marks a unit fed by no input pixel (a transposed conv's gap)."""

    @property
    def stride(self) -> Fraction:
        return Fraction(self.pixels, self.period)

    def interval(self, unit: int) -> tuple[int, int]:
        q, r = divmod(unit, self.period)
        return q * self.pixels + self.lo[r], q * self.pixels + self.hi[r]

    def sizes(self) -> list[int]:
        return [max(0, h - lo + 1) for lo, h in zip(self.lo, self.hi)]

    def gather(self, period: int, shift: int, units_of: Callable[[int], Iterable[int]]) -> AxisField:
        """The field of output units that read input units ``units_of(v)``.

        Output unit ``v + period`` reads the units of ``v`` shifted by ``shift`` input units.
        """
        repeats = self.period // math.gcd(self.period, shift)
        out_period = repeats * period
        if out_period > MAX_PERIOD:
            raise FieldTooComplex(f"{out_period} distinct unit phases")
        pixels = repeats * shift // self.period * self.pixels
        lo: list[int] = []
        hi: list[int] = []
        for r in range(out_period):
            a, b = _EMPTY
            units = units_of(r)
            if isinstance(units, range) and len(units) > 2 * self.period:
                # unit u + period sees unit u's pixels shifted: the extremes lie in the first
                # and last period of a long run (adaptive pooling over a huge input)
                units = [*units[: self.period], *units[-self.period:]]
            for unit in units:
                ua, ub = self.interval(unit)
                if ub >= ua:
                    a, b = min(a, ua), max(b, ub)
            lo.append(a if b >= a else 0)
            hi.append(b if b >= a else -1)
        return AxisField(out_period, pixels, tuple(lo), tuple(hi)).reduced()

    def window(self, kernel: int, stride: int, dilation: int, pad_begin: int) -> AxisField:
        """Output unit v reads input units ``v*stride - pad_begin + dilation*i``, i < kernel."""
        if self.period == 1 and self.hi[0] >= self.lo[0]:
            # One phase: intervals grow with the unit index, so the first and last taps bound them.
            step = self.pixels
            return AxisField(1, stride * step, (self.lo[0] - pad_begin * step,),
                             (self.hi[0] + (dilation * (kernel - 1) - pad_begin) * step,))
        if kernel * self.period > MAX_WORK:
            raise FieldTooComplex(f"a {kernel}-tap window over {self.period} phases")
        taps = [dilation * i - pad_begin for i in range(kernel)]
        return self.gather(1, stride, lambda r: (r * stride + t for t in taps))

    def transposed(self, kernel: int, stride: int, dilation: int, pad_begin: int) -> AxisField:
        """Output unit o is fed by input unit i when ``o + pad_begin - dilation*t == i*stride``."""
        if kernel * stride * self.period > MAX_WORK:
            raise FieldTooComplex(f"a {kernel}-tap transposed window over {stride * self.period} phases")

        def units(r: int) -> Iterable[int]:
            for t in range(kernel):
                q, rem = divmod(r + pad_begin - dilation * t, stride)
                if rem == 0:
                    yield q

        return self.gather(stride, 1, units)

    def resample(
        self, scale: Fraction, coordinate: Callable[[int], Fraction], taps: Callable[[Fraction], Sequence[int]]
    ) -> AxisField:
        """Output unit v reads the input units ``taps(coordinate(v))`` (Resize, DepthToSpace)."""
        return self.gather(scale.numerator, scale.denominator, lambda r: taps(coordinate(r)))

    def shifted(self, pixels_offset: int) -> AxisField:
        return AxisField(
            self.period,
            self.pixels,
            tuple(v + pixels_offset for v in self.lo),
            tuple(v + pixels_offset for v in self.hi),
        )

    def expanded(self, period: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Per-phase intervals over ``period`` units (a multiple of ``self.period``)."""
        pairs = [self.interval(r) for r in range(period)]
        return tuple(a for a, _ in pairs), tuple(b for _, b in pairs)

    def reduced(self) -> AxisField:
        """The same pattern with the smallest period."""
        for d in range(1, self.period):
            if self.period % d or (self.pixels * d) % self.period:
                continue
            shift = self.pixels * d // self.period
            if all(
                self.lo[r] == self.lo[r % d] + (r // d) * shift
                and self.hi[r] == self.hi[r % d] + (r // d) * shift
                for r in range(d, self.period)
            ):
                return AxisField(d, shift, self.lo[:d], self.hi[:d])
        return self


_EMPTY = (1 << 62, -(1 << 62))

IDENTITY_AXIS = AxisField(1, 1, (0,), (0,))


def union_axis(fields: Sequence[AxisField]) -> tuple[AxisField, bool]:
    """Union of the intervals each unit sees through several branches; True if strides agree."""
    first = fields[0]
    if all(f.period == 1 and f.pixels == first.pixels for f in fields):
        return AxisField(1, first.pixels, (min(f.lo[0] for f in fields),), (max(f.hi[0] for f in fields),)), True
    strides = {f.stride for f in fields}
    period = math.lcm(*(f.period for f in fields))
    if period > MAX_PERIOD:
        raise FieldTooComplex(f"{period} distinct unit phases")
    pixels = max(f.stride * period for f in fields)
    lo: list[int] = []
    hi: list[int] = []
    for r in range(period):
        a, b = _EMPTY
        for f in fields:
            fa, fb = f.interval(r)
            if fb >= fa:
                a, b = min(a, fa), max(b, fb)
        lo.append(a if b >= a else 0)
        hi.append(b if b >= a else -1)
    merged = AxisField(period, math.ceil(pixels), tuple(lo), tuple(hi)).reduced()
    return merged, len(strides) == 1


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: frozen ones cost 3x to build
class Field:
    """The receptive field of a tensor's units, per spatial axis of the model input.

    ``axes[i]`` is the tensor axis holding input spatial axis ``i``. ``is_global``: each unit
    sees the whole input (after global pooling or flattening); ``per_axis`` then keeps the
    extent seen before that. ``global_context``: global information was mixed back in
    (squeeze-and-excitation); ``per_axis`` is the local part. ``anchored``: offsets are
    known (SAME padding on an input of unknown size leaves them open; sizes stay exact).
    """

    axes: tuple[int, ...]
    per_axis: tuple[AxisField, ...]
    is_global: bool = False
    global_context: bool = False
    anchored: bool = True

    @staticmethod
    def identity(rank: int) -> Field:
        axes = tuple(range(2, rank))
        return Field(axes, tuple(IDENTITY_AXIS for _ in axes))

    def on_axes(self, fn: Callable[[int, AxisField], AxisField]) -> Field:
        """Apply ``fn(tensor_axis, field)`` to every spatial axis (unless already global)."""
        if self.is_global:
            return self
        return replace(self, per_axis=tuple(fn(a, f) for a, f in zip(self.axes, self.per_axis)))

    def globalized(self) -> Field:
        return replace(self, is_global=True)

    def moved(self, axes: tuple[int, ...]) -> Field:
        """The same field on other tensor axes (a global field sits on none in particular)."""
        return self if self.is_global else replace(self, axes=axes)


def _plain_branches(fields: Sequence[Field]) -> bool:
    """The common case of a join: local, anchored branches on the same axes, one phase each,
    of the same stride."""
    first = fields[0]
    for f in fields:
        if f.is_global or f.global_context or not f.anchored or f.axes != first.axes:
            return False
        for a, b in zip(f.per_axis, first.per_axis):
            if a.period != 1 or a.pixels != b.pixels or a.hi[0] < a.lo[0]:
                return False
    return True


def union(fields: Sequence[Field]) -> tuple[Field, bool]:
    """Join branches: local fields are unioned; global-only branches add global context."""
    first = fields[0]
    if _plain_branches(fields):
        per_axis: list[AxisField] = []
        last = None  # axes whose branches are the same objects as the axis before share its union
        for axes in zip(*[f.per_axis for f in fields]):
            if last is None or axes != last[0]:
                last = axes, AxisField(1, axes[0].pixels, (min([a.lo[0] for a in axes]),),
                                       (max([a.hi[0] for a in axes]),))
            per_axis.append(last[1])
        return Field(first.axes, tuple(per_axis)), True
    local = [f for f in fields if not f.is_global]
    if not local:
        widest = max(fields, key=lambda f: sum(a.sizes()[0] for a in f.per_axis))
        return widest, True
    context = len(local) < len(fields) or any(f.global_context for f in fields)
    axes = local[0].axes
    if any(f.axes != axes for f in local):
        return replace(local[0], global_context=context), False
    per_axis = []
    aligned = True
    for i in range(len(axes)):
        merged, same = union_axis([f.per_axis[i] for f in local])
        per_axis.append(merged)
        aligned &= same
    anchored = all(f.anchored for f in local)
    return Field(axes, tuple(per_axis), False, context, anchored), aligned


@dataclass(frozen=True, slots=True)
class AxisSummary:
    size: int
    size_min: int
    stride: int | Fraction
    padding: int
    center_offset: int | float | Fraction
    """Centre of unit 0's field minus the centre of its stride cell, (stride - 1) / 2: zero
    when fields are centred on their units."""


def summarize(axis: AxisField) -> AxisSummary:
    """Largest and smallest extent over units that see any input (a transposed convolution
    with stride above its kernel leaves units that see none)."""
    if axis.period == 1 and axis.hi[0] >= axis.lo[0]:
        lo, hi, step = axis.lo[0], axis.hi[0], axis.pixels
        size = hi - lo + 1
        offset = (lo + hi - step + 1) / 2
        return AxisSummary(size, size, step, -lo, int(offset) if offset == int(offset) else offset)
    sizes = [s for s in axis.sizes() if s > 0] or [0]
    lo, hi = next(((lo, hi) for lo, hi in zip(axis.lo, axis.hi) if hi >= lo), (0, 0))
    offset = Fraction(lo + hi, 2) - (axis.stride - 1) / 2
    return AxisSummary(max(sizes), min(sizes), axis.stride, -lo, offset)
