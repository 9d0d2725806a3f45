"""Receptive-field algebra (REFERENCE §6), exact per unit along each spatial axis.

Along one axis, a tensor's units see input pixels in a pattern that repeats every
``period`` units and ``pixels`` input pixels: unit ``q*period + r`` sees
``[q*pixels + lo[r], q*pixels + hi[r]]``. The stride is ``pixels / period`` (a fraction after
upsampling). A plain network keeps ``period == 1``; upsampling and transposed convolutions
make neighbouring units differ, which this form captures exactly. Borders are ignored: these
are the figures of a unit away from them.

A tensor's spatial content need not sit on axes of its own: flattening, attention and group
normalisation merge the spatial axes into one tensor axis (tokens), or split one across two.
:class:`Field` then records where each spatial axis lies (``layout``), so that ops which mix
units along an axis know which positions they mix, and a reshape back restores the axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import NamedTuple

Dim = int | str | None
Shape = tuple[Dim, ...]

MAX_PERIOD = 4096
"""Beyond this many distinct unit phases the field is reported unknown rather than computed."""
MAX_WORK = 10_000_000
"""Phases times kernel taps beyond which a field is reported unknown (hostile kernels)."""


class FieldUnknown(ValueError):
    """The field cannot be proven from here on; the message says why (an R103 note)."""


class FieldTooComplex(FieldUnknown):
    """The per-unit pattern would exceed MAX_PERIOD phases."""


_BORDER = 1 << 60
"""Phases whose units all lie at the two ends of an axis (when one period spans the whole
axis) see ``[-_BORDER, _BORDER]``: whatever reads them lies at a border too, as the union
propagates it, and no figure counts them."""


def _interior(lo: int) -> bool:
    return lo > -_BORDER // 2


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
        """Per phase away from the borders: the extent of input pixels its units see."""
        return [max(0, h - lo + 1) for lo, h in zip(self.lo, self.hi) if _interior(lo)]

    def with_border_units(self, length: int) -> AxisField:
        """Mark the phases that only the first and last of ``length`` units have (one period
        spans the whole axis, as align_corners makes it): they are border units."""
        marked = {u % self.period for u in (0, length - 1)
                  if (u % self.period or self.period) >= length - 1}
        if not marked or len(marked) == self.period:
            return self
        lo = tuple(-_BORDER if r in marked else v for r, v in enumerate(self.lo))
        hi = tuple(_BORDER if r in marked else v for r, v in enumerate(self.hi))
        return AxisField(self.period, self.pixels, lo, hi)

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
        if self.period == 1 and self.hi[0] >= self.lo[0]:
            # One phase: intervals grow with the unit index, so the first and last of the taps
            # that feed o bound its field. Those taps are t = t0 (mod stride/g), g = gcd(d, s),
            # t0 solving dilation*t = o + pad_begin (mod stride): found without a pass over taps.
            g = math.gcd(dilation, stride)
            step = stride // g

            def bounds(r: int) -> Iterable[int]:
                c = r + pad_begin
                if c % g:
                    return ()
                t0 = c // g * pow(dilation // g, -1, step) % step if step > 1 else 0
                if t0 >= kernel:
                    return ()
                t1 = t0 + (kernel - 1 - t0) // step * step
                return ((c - dilation * t1) // stride, (c - dilation * t0) // stride)

            return self.gather(stride, 1, bounds)
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


class Piece(NamedTuple):
    """Where (part of) a spatial axis lies in a tensor: along tensor axis ``axis``, unit ``t``
    holds spatial digit ``((t - offset) // inner) % size``. A spatial axis split across
    tensor axes has several pieces, outermost first. ``inner`` is None when the axis was
    merged with dims of unknown size: the positions are somewhere along ``axis``."""

    axis: int
    inner: int | None
    size: Dim
    offset: int = 0


Placement = tuple[Piece, ...]
"""The pieces of one spatial axis; empty when the axis is no longer there (a size-1 axis
reshaped away)."""


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: frozen ones cost 3x to build
class Field:
    """The receptive field of a tensor's units, per spatial axis of the model input.

    ``axes[i]`` is the tensor axis holding input spatial axis ``i`` on its own (the common
    case, ``layout is None``); otherwise ``layout[i]`` says where its pieces lie and ``axes``
    holds -1. ``is_global``: each unit sees the whole input; ``per_axis`` then keeps the
    extent seen before that. ``pooled``: a global field that no longer varies with position
    (global pooling, a product over every position): joined back to a local path it is
    global context, while a global field that still has positions (tokens after attention)
    makes the join global. ``global_context``: global information was mixed back in
    (squeeze-and-excitation gates, normalisation statistics); ``per_axis`` is the local part.
    ``anchored``: offsets are known (SAME padding on an input of unknown size leaves them
    open; sizes stay exact). ``aligned``: resampled to an explicit size (FPN, U-Net and
    DeepLab decoders resize a branch to its skip's size): joined to a branch of that size, a
    different stride is deliberate (no R101).
    """

    axes: tuple[int, ...]
    per_axis: tuple[AxisField, ...]
    is_global: bool = False
    global_context: bool = False
    anchored: bool = True
    layout: tuple[Placement, ...] | None = None
    pooled: bool = False
    aligned: bool = False

    @staticmethod
    def identity(rank: int) -> Field:
        axes = tuple(range(2, rank))
        return Field(axes, tuple(IDENTITY_AXIS for _ in axes))

    def on_axes(self, fn: Callable[[int, AxisField], AxisField]) -> Field:
        """Apply ``fn(tensor_axis, field)`` to every spatial axis (unless already global); the
        spatial axes must lie on tensor axes of their own."""
        if self.is_global:
            return self
        if self.layout is not None:
            raise FieldUnknown("a sliding window or resampling runs along merged spatial axes")
        return replace(self, per_axis=tuple(fn(a, f) for a, f in zip(self.axes, self.per_axis)),
                       aligned=False)

    def everywhere(self) -> Field:
        """Every unit sees the whole input; units still stand for their positions."""
        return self if self.is_global else replace(self, is_global=True, aligned=False)

    def as_pooled(self) -> Field:
        """Every unit summarises the whole input and no longer stands for a position."""
        return replace(self, is_global=True, pooled=True, layout=None, aligned=False)

    # -- where the spatial content lies --------------------------------------------------------
    def placements(self, shape: Shape | None = None) -> tuple[Placement, ...]:
        if self.layout is not None:
            return self.layout
        return tuple((Piece(a, 1, shape[a] if shape is not None else None),) for a in self.axes)

    def content_axes(self) -> set[int]:
        """The tensor axes that hold spatial positions."""
        if self.pooled:
            return set()
        if self.layout is None:
            return set(self.axes)
        return {p.axis for pieces in self.layout for p in pieces}

    def positions_only(self, shape: Shape | None) -> bool:
        """Whether the axes holding positions hold nothing else but a few extra units (a class
        token): a feature map or tokens, not features flattened with their channels."""
        if shape is None:
            return False
        for axis in self.content_axes():
            pieces = [p for placement in self.placements() for p in placement if p.axis == axis]
            span = max((p.inner * p.size + p.offset if isinstance(p.size, int) and isinstance(p.inner, int)
                        else None for p in pieces), default=None, key=lambda v: v or 0)
            dim = shape[axis]
            if not isinstance(span, int) or not isinstance(dim, int) or span * 2 <= dim:
                return False
        return True

    def placed(self, layout: Sequence[Placement], shape: Shape) -> Field:
        """This field with its spatial axes at ``layout`` in a tensor of ``shape``: axes that
        lie whole on axes of their own are written as ``axes``."""
        layout = tuple(_merged(pieces) for pieces in layout)
        axes = tuple(
            pieces[0].axis
            if len(pieces) == 1 and pieces[0].inner == 1 and pieces[0].offset == 0
            and pieces[0].size == shape[pieces[0].axis] else -1
            for pieces in layout
        )
        if -1 not in axes and len(set(axes)) == len(axes):
            return replace(self, axes=axes, layout=None)
        return replace(self, axes=tuple(-1 for _ in axes), layout=layout)

    def remapped(self, new_axis: Callable[[int], int | None], shape: Shape) -> Field:
        """The same units on other tensor axes (transposes, added or removed axes): tensor
        axis ``a`` becomes ``new_axis(a)``; content on an axis that disappears is unknown."""
        if self.pooled:
            return self
        layout = []
        for pieces in self.placements():
            moved = []
            for p in pieces:
                axis = new_axis(p.axis)
                if axis is None:
                    raise FieldUnknown("spatial positions are dropped along an axis")
                moved.append(p._replace(axis=axis, size=shape[axis] if p.size is None else p.size))
            layout.append(tuple(moved))
        return self.placed(layout, shape)

    def reshaped(self, src: Shape, dst: Shape) -> Field:
        """The same units after a row-major reshape: spatial axes follow the dims that hold
        them, merged into one tensor axis (flattening, tokens) or back on their own."""
        if self.pooled:
            return self
        groups = _reshape_groups(src, dst)
        layout = []
        for pieces in self.placements(src):
            moved: list[Piece] = []
            for p in pieces:
                if p.size == 1:
                    continue  # a digit that is always 0: nothing to follow
                group = groups.get(p.axis)
                if group is None:
                    raise FieldUnknown("a reshape regroups a spatial axis with dims of unknown size")
                moved.extend(_repiece(p, group, src, dst))
            layout.append(tuple(moved))
        return self.placed(layout, dst)

    def shifted_along(self, axis: int, units: int, shape: Shape) -> Field:
        """Units moved ``units`` further along tensor axis ``axis`` (what lies before them in
        a concatenation): output unit ``v`` is input unit ``v - units``."""
        if self.pooled or not units:
            return self
        if self.layout is None:
            if axis not in self.axes or self.is_global:
                return self
            i = self.axes.index(axis)
            per_axis = list(self.per_axis)
            per_axis[i] = per_axis[i].window(1, 1, 1, units)
            return replace(self, per_axis=tuple(per_axis))
        layout = [tuple(p._replace(offset=p.offset + units) if p.axis == axis else p for p in pieces)
                  for pieces in self.layout]
        return self.placed(layout, shape)

    # -- mixing units along axes ---------------------------------------------------------------
    def mixed(self, along: Collection[int]) -> Field:
        """Each output unit combines every unit along tensor axes ``along`` (softmax, a
        product's contraction, a reduction): positions held there are all seen, so the
        field becomes global; pooled when no position is left on other axes."""
        if self.pooled:
            return self
        placements = self.placements()
        hit = [bool(pieces) and all(p.axis in along for p in pieces) for pieces in placements]
        for pieces, whole in zip(placements, hit):
            if not whole and any(p.axis in along for p in pieces):
                raise FieldUnknown(
                    "units are mixed along part of a spatial axis (attention within windows?): "
                    "which positions each unit combines cannot be proven"
                )
        if not any(hit):
            return self
        if all(h or not pieces for h, pieces in zip(hit, placements)):
            return self.as_pooled()
        layout = [() if h else pieces for h, pieces in zip(hit, placements)]
        return replace(self, is_global=True, axes=tuple(-1 for _ in self.axes), layout=tuple(layout), aligned=False)

    def with_context(self, along: Collection[int]) -> Field:
        """Statistics over tensor axes ``along`` (normalisations) mixed back into every unit:
        global context where positions lie there, the local field kept."""
        if self.is_global or self.global_context or not (self.content_axes() & set(along)):
            return self
        return replace(self, global_context=True)


UNKNOWN = Field((), (), anchored=False)
"""The field of a tensor whose dependence on input positions cannot be proven (compare with
``is``): everything computed from it is unknown too."""


def _merged(pieces: Placement) -> Placement:
    """Adjacent pieces of one spatial axis that tile one tensor axis contiguously, as one."""
    out: list[Piece] = []
    for p in pieces:
        if out:
            q = out[-1]
            if (q.axis == p.axis and q.offset == p.offset == 0 and isinstance(q.size, int)
                    and isinstance(p.size, int) and isinstance(p.inner, int) and q.inner == p.inner * p.size):
                out[-1] = Piece(p.axis, p.inner, q.size * p.size)
                continue
        out.append(p)
    return tuple(out)


def _product(dims: Sequence[Dim]) -> int | None:
    total = 1
    for d in dims:
        if not isinstance(d, int):
            return None
        total *= d
    return total


Group = tuple[int, int, int, int, bool]
"""Source axes ``[i0, i1)`` and target axes ``[j0, j1)`` of a reshape holding the same
elements; True when the sizes inside are not known (dims of unknown size merged into one)."""


def _reshape_groups(src: Shape, dst: Shape) -> dict[int, Group]:
    """Source axis -> the group it belongs to: runs of dims whose products agree, matched
    from both ends (a symbolic dim matches only itself; the dims left between the two
    matched ends form one group when they are one axis on each side)."""
    groups: dict[int, Group] = {}

    def run(i: int, j: int, step: int, stop_i: int, stop_j: int) -> tuple[int, int]:
        """Match groups from (i, j) in direction ``step`` while indices stay before the stops."""
        inside = (lambda a, stop: a < stop) if step > 0 else (lambda a, stop: a > stop)
        while inside(i, stop_i) and inside(j, stop_j):
            i2, j2 = i + step, j + step
            if src[i] == dst[j] and src[i] is not None:
                pass
            elif isinstance(src[i], int) and isinstance(dst[j], int):
                have, want = src[i], dst[j]
                while have != want:
                    if have < want:
                        if not inside(i2, stop_i) or not isinstance(src[i2], int):
                            return i, j
                        have, i2 = have * src[i2], i2 + step  # type: ignore[operator]
                    else:
                        if not inside(j2, stop_j) or not isinstance(dst[j2], int):
                            return i, j
                        want, j2 = want * dst[j2], j2 + step  # type: ignore[operator]
            else:
                return i, j
            group = (min(i, i2 + 1), max(i, i2 - 1) + 1, min(j, j2 + 1), max(j, j2 - 1) + 1, False)
            for a in range(group[0], group[1]):
                groups[a] = group
            i, j = i2, j2
        return i, j

    i, j = run(0, 0, 1, len(src), len(dst))
    end_i, end_j = run(len(src) - 1, len(dst) - 1, -1, i - 1, j - 1)
    if end_j == j and end_i >= i:  # what is left between both ends goes into one axis
        for a in range(i, end_i + 1):
            groups[a] = (i, end_i + 1, j, j + 1, end_i > i)
    return groups


def _sole_axis(shape: Shape, start: int, stop: int) -> int | None:
    """The one axis in ``[start, stop)`` not of size 1, if there is exactly one."""
    found = None
    for axis in range(start, stop):
        if shape[axis] != 1:
            if found is not None:
                return None
            found = axis
    return found


def _repiece(p: Piece, group: Group, src: Shape, dst: Shape) -> list[Piece]:
    """Where a piece lies after a reshape of its group: the target axes its digit spans."""
    i0, i1, j0, j1, opaque = group
    kept = _sole_axis(dst, j0, j1)
    if kept is not None and _sole_axis(src, i0, i1) == p.axis:
        # the group only adds or drops size-1 axes: the axis moves whole, shift and all
        return [p._replace(axis=kept)]
    if opaque:
        return [Piece(j0, None, p.size)]
    if p.offset or not isinstance(p.size, int) or not isinstance(p.inner, int):
        raise FieldUnknown("a reshape regroups a spatial axis that was shifted or cut")
    flat = p.inner * _product(src[p.axis + 1:i1])  # type: ignore[operator]
    end = flat * p.size
    out: list[Piece] = []
    for b in range(j0, j1):
        step = _product(dst[b + 1:j1])
        top = step * dst[b]  # type: ignore[operator]
        lo, hi = max(flat, step), min(end, top)  # type: ignore[type-var]
        if lo >= hi:
            continue
        if lo % step or lo % flat or hi % lo:  # type: ignore[operator]
            raise FieldUnknown("a reshape splits a spatial axis unevenly")
        out.append(Piece(b, lo // step, hi // lo))  # type: ignore[operator]
    return out


def _plain_branches(fields: Sequence[Field]) -> bool:
    """The common case of a join: local, anchored branches on the same axes, one phase each,
    of the same stride."""
    first = fields[0]
    for f in fields:
        if f.is_global or f.global_context or not f.anchored or f.axes != first.axes or f.layout is not None:
            return False
        for a, b in zip(f.per_axis, first.per_axis):
            if a.period != 1 or a.pixels != b.pixels or a.hi[0] < a.lo[0]:
                return False
    return True


def union(fields: Sequence[Field]) -> tuple[Field, bool]:
    """Join branches: local fields are unioned; pooled branches add global context; a branch
    that is global at every position makes the join global."""
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
    everywhere = next((f for f in fields if f.is_global and not f.pooled), None)
    if everywhere is not None:
        return everywhere, True
    local = [f for f in fields if not f.is_global]
    if not local:
        widest = max(fields, key=lambda f: sum(max(a.sizes(), default=0) for a in f.per_axis))
        return widest, True
    context = len(local) < len(fields) or any(f.global_context for f in fields)
    axes, layout = local[0].axes, local[0].layout
    if any(f.axes != axes or f.layout != layout for f in local):
        raise FieldUnknown("joins tensors whose spatial axes lie on different tensor axes")
    per_axis = []
    aligned = True
    for i in range(len(axes)):
        merged, same = union_axis([f.per_axis[i] for f in local])
        per_axis.append(merged)
        aligned &= same
    anchored = all(f.anchored for f in local)
    return Field(axes, tuple(per_axis), False, context, anchored, layout), aligned


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
    lo, hi = next(((lo, hi) for lo, hi in zip(axis.lo, axis.hi) if hi >= lo and _interior(lo)), (0, 0))
    offset = Fraction(lo + hi, 2) - (axis.stride - 1) / 2
    return AxisSummary(max(sizes), min(sizes), axis.stride, -lo, offset)
