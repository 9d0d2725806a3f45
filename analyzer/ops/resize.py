"""Resampling: Resize, Upsample, DepthToSpace, SpaceToDepth.

Resize's receptive field follows its coordinate transform exactly: output unit ``v`` maps to
input coordinate ``x(v)`` and reads the units its mode interpolates from (nearest 1, linear 2,
cubic 4; fewer where ``x`` falls exactly on a unit and the other weights vanish).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from analyzer.graph import Dim
from analyzer.ops import CONVLINT_DOMAIN, register
from analyzer.ops.base import FixedSizeContext, InferContext, RfContext, UnknownInput
from analyzer.ops.common import axis_index
from analyzer.ops.window import Window, rf_shift, spatial_of
from analyzer.receptive import MAX_PERIOD, AxisField, Field, FieldUnknown
from analyzer.rules import INVALID_ATTRIBUTE, RANK_MISMATCH
from analyzer.symbolic import eq, gt, is_size, scaled


@dataclass(frozen=True, slots=True)
class Resample:
    """How one axis is resampled: output size = floor(in * scale), and how units map back."""

    in_size: Dim
    out_size: Dim
    scale: float
    mode: str = "nearest"
    transform: str = "asymmetric"
    nearest: str = "floor"


def _scaled(size: Dim, scale: float, float32: bool = True) -> Dim:
    """floor(in * scale): in float32 as onnxruntime computes it, in float64 as PyTorch does."""
    if not is_size(size):
        return size if scale == 1 else None
    return scaled(size, scale, float32)


def infer_resize(ctx: InferContext) -> None:
    x = ctx.shape(0)
    op = ctx.node.op
    mode = ctx.attr("mode", "nearest")
    if op == "Upsample":
        transform, nearest = "asymmetric", "floor"
        scales = ctx.attr("scales", like=[0.0]) if ctx.opset < 9 else _floats(ctx, 1)
        sizes = None
    else:
        transform = ctx.attr("coordinate_transformation_mode", "half_pixel")
        nearest = ctx.attr("nearest_mode", "round_prefer_floor")
        scales = _floats(ctx, 1 if ctx.opset < 11 else 2)
        sizes = _sizes(ctx, 3) if ctx.opset >= 11 and ctx.has(3) else None
        if ctx.opset >= 11 and ctx.has(2) and scales is None and sizes is None:
            raise UnknownInput("scales are not constant")
    axes = ctx.attr("axes", like=[0])
    axes = [axis_index(ctx, a, len(x), "axes") for a in axes] if axes else list(range(len(x)))
    given = sizes if sizes else scales
    if not given:
        ctx.fail(INVALID_ATTRIBUTE, "Resize needs scales or sizes", "scales")
    if len(given) != len(axes):
        ctx.fail(RANK_MISMATCH, f"{len(given)} scales/sizes for a rank-{len(x)} input {ctx.fmt(x)}", "scales")
    if sizes and ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        sizes = given = _keep_aspect(ctx, x, axes, sizes)
    out = list(x)
    plan: dict[int, Resample] = {}
    for axis, value in zip(axes, given):
        size = x[axis]
        if sizes:
            target: Dim = value
            if isinstance(size, int) and isinstance(value, int):
                scale = value / size
            else:
                scale = 1.0 if value is not None and value == size else 0.0
        else:
            if not 0 < value < math.inf:  # NaN too
                ctx.fail(INVALID_ATTRIBUTE, f"scales must be positive and finite, got {list(given)}", "scales")
            target, scale = _scaled(size, value), value
        out[axis] = target
        plan[axis] = Resample(size, target, scale, mode, transform, nearest)
    ctx.resolve("resample", plan)
    ctx.resolve("sized", bool(sizes))
    ctx.resolve("antialias", bool(ctx.attr("antialias", 0)))
    ctx.set(0, tuple(out), ctx.dtype(0))


def infer_interpolate(ctx: InferContext) -> None:
    """PyTorch ``F.interpolate``: ``size`` or ``scale_factor`` per spatial axis (one for all)."""
    x = ctx.shape(0)
    spatial = spatial_of(ctx, x)
    size, factor = ctx.ints_attr("size"), ctx.numbers_attr("scale_factor")
    given = size if size is not None else factor
    if given is None:
        ctx.fail(INVALID_ATTRIBUTE, "Interpolate needs size or scale_factor", "size")
    values = [given] * len(spatial) if isinstance(given, (int, float)) else list(given)
    if len(values) != len(spatial):
        ctx.fail(
            RANK_MISMATCH,
            f"{len(values)} values for {len(spatial)} spatial axes of {ctx.fmt(x)}",
            "size" if size is not None else "scale_factor",
        )
    mode = ctx.attr("mode", "nearest")
    align = bool(ctx.attr("align_corners", False))
    interpolation = "nearest" if mode in ("nearest", "nearest-exact") else (
        "cubic" if mode == "bicubic" else "linear"
    )
    transform = (
        "align_corners" if align and interpolation != "nearest"
        else "half_pixel" if mode != "nearest" else "asymmetric"
    )
    nearest = "round_prefer_ceil" if mode == "nearest-exact" else "floor"
    out: list[Dim] = []
    plan: dict[int, Resample] = {}
    for axis, (d, v) in enumerate(zip(spatial, values), start=2):
        if size is not None:
            target: Dim = v
            scale = v / d if isinstance(d, int) else 0.0
        else:
            if not 0 < v < math.inf:
                ctx.fail(INVALID_ATTRIBUTE, f"scale_factor must be positive and finite, got {given}", "scale_factor")
            target = _scaled(d, v, float32=False)
            scale = v
        if is_size(target):
            ctx.require(gt(target, 0), INVALID_ATTRIBUTE,
                        lambda axis=axis: f"the output would be empty along axis {axis - 1}", "scale_factor",
                        generic="the upsampled size would be 0")
        out.append(target)
        plan[axis] = Resample(d, target, scale, interpolation, transform, nearest)
    ctx.resolve("resample", plan)
    ctx.resolve("sized", size is not None)
    ctx.set(0, (x[0], x[1], *out), ctx.dtype(0))


def _keep_aspect(ctx: InferContext, x, axes: list[int], sizes: Sequence[Dim]) -> tuple[int, ...]:
    ratios = [s / x[a] for a, s in zip(axes, sizes) if isinstance(x[a], int) and isinstance(s, int)]
    if len(ratios) != len(axes):
        raise UnknownInput("keep_aspect_ratio_policy on unknown dims")
    pick = min if ctx.attr("keep_aspect_ratio_policy") == "not_larger" else max
    scale = pick(ratios)
    return tuple(math.floor(x[a] * scale + 0.5) for a in axes)


def _sizes(ctx: InferContext, index: int) -> tuple[Dim, ...]:
    """Resize's sizes: each a size, a symbolic dim, or unknown (None) where a shape
    computation cannot be folded (a size taken from a free dim): rank and channels stay known."""
    value = ctx.value(index)
    if value is not None and value.values is not None:
        return tuple(v if isinstance(v, str) or is_size(v) else None for v in value.values)
    count = ctx.shape(index)
    if len(count) != 1 or not isinstance(count[0], int):
        raise UnknownInput("sizes are not constant")
    return ctx.unknown_dims(count[0])  # type: ignore[return-value]


def _floats(ctx: InferContext, index: int) -> tuple[float, ...] | None:
    value = ctx.value(index)
    if value is None or value.values is None:
        return None
    if not value.values:
        return None
    return tuple(float(v) for v in value.values)


def _blocksize(ctx: InferContext) -> int:
    spatial_of(ctx, ctx.shape(0))
    block = ctx.attr("blocksize", like=0)
    if not isinstance(block, int) or block <= 0:
        ctx.fail(INVALID_ATTRIBUTE, f"blocksize must be a positive integer, got {block}", "blocksize")
    return block


def infer_depth_to_space(ctx: InferContext) -> None:
    x = ctx.shape(0)
    block = _blocksize(ctx)
    factor = block ** (len(x) - 2)
    c = x[1]
    if isinstance(c, int) and c % factor:
        ctx.fail(INVALID_ATTRIBUTE, f"{c} channels are not divisible by blocksize^{len(x) - 2} = {factor}", "blocksize")
    out_c = c // factor if isinstance(c, int) else None
    spatial = [d * block if is_size(d) else None for d in x[2:]]
    ctx.resolve(
        "resample",
        {a: Resample(d, o, float(block)) for a, d, o in zip(range(2, len(x)), x[2:], spatial)},
    )
    ctx.set(0, (x[0], out_c, *spatial), ctx.dtype(0))


def infer_space_to_depth(ctx: InferContext) -> None:
    x = ctx.shape(0)
    block = _blocksize(ctx)
    for d in x[2:]:
        if is_size(d):
            ctx.require(eq(d % block, 0), INVALID_ATTRIBUTE,
                        lambda: f"spatial dims {ctx.fmt(x)} are not divisible by blocksize {block}",
                        "blocksize", generic=f"the size is not divisible by blocksize {block}")
    c = x[1]
    out_c = c * block ** (len(x) - 2) if isinstance(c, int) else None
    spatial = [d // block if is_size(d) else None for d in x[2:]]
    ctx.resolve("shift", {a: Window(block, block, 1, 0, 0) for a in range(2, len(x))})
    ctx.set(0, (x[0], out_c, *spatial), ctx.dtype(0))


# -- receptive fields ---------------------------------------------------------------------------
def _coordinate(r: Resample) -> Callable[[int], Fraction] | None:
    """x_original(v) for the op's coordinate transform, exact; None if not translation-invariant."""
    f = Fraction(r.scale).limit_denominator(MAX_PERIOD)
    half = Fraction(1, 2)
    if r.transform == "asymmetric":
        return lambda v: v / f
    if r.transform in ("half_pixel", "pytorch_half_pixel"):
        if r.transform == "pytorch_half_pixel" and r.out_size == 1:
            return lambda v: Fraction(0)
        return lambda v: (v + half) / f - half
    if r.transform == "align_corners":
        if not isinstance(r.in_size, int) or not isinstance(r.out_size, int):
            return None
        if r.out_size == 1:
            return lambda v: Fraction(0)
        step = Fraction(r.in_size - 1, r.out_size - 1)
        return lambda v: v * step
    if r.transform == "half_pixel_symmetric":
        if not isinstance(r.in_size, int) or not isinstance(r.out_size, int):
            return None
        adjustment = Fraction(r.out_size) / (f * r.in_size)
        offset = Fraction(r.in_size, 2) * (1 - adjustment)
        return lambda v: offset + (v + half) / f - half
    return None


def _taps(r: Resample) -> Callable[[Fraction], Sequence[int]]:
    if r.mode == "nearest":
        pick = {
            "round_prefer_floor": lambda x: math.ceil(x - Fraction(1, 2)),
            "round_prefer_ceil": lambda x: math.floor(x + Fraction(1, 2)),
            "floor": math.floor,
            "ceil": math.ceil,
        }.get(r.nearest, math.floor)
        return lambda x: (pick(x),)
    reach = 1 if r.mode == "linear" else 2
    return lambda x: (
        (int(x),) if x.denominator == 1 else range(math.floor(x) - reach + 1, math.floor(x) + reach + 1)
    )


def rf_resample(ctx: RfContext) -> Field | None:
    field = ctx.fields[0] if ctx.fields else None
    plan: dict[int, Resample] | None = ctx.resolved.get("resample")
    if field is None or plan is None or field.is_global:
        return field if field is None or field.is_global else None
    if ctx.resolved.get("antialias") and any(r.scale < 1 for r in plan.values()):
        raise FieldUnknown("antialiased downsampling reads a window that depends on the scale")
    axes: dict[int, AxisField] = {}
    for axis, axis_field in zip(field.axes, field.per_axis):
        r = plan.get(axis)
        if r is None or (r.scale == 1 and r.in_size == r.out_size):
            axes[axis] = axis_field
            continue
        coordinate = _coordinate(r)
        if coordinate is None or r.scale <= 0:
            return None
        if isinstance(r.out_size, int) and r.out_size < 1:
            raise FieldUnknown("resampled to an empty axis: no unit is left")
        scale = (
            Fraction(r.out_size - 1, r.in_size - 1)
            if r.transform == "align_corners" and isinstance(r.in_size, int) and r.in_size > 1
            and isinstance(r.out_size, int) and r.out_size > 1
            else Fraction(r.scale).limit_denominator(MAX_PERIOD)
        )
        if scale == 0:
            raise FieldUnknown(f"a scale of {r.scale:g} is below what the field can follow (1/{MAX_PERIOD})")
        resampled = axis_field.resample(scale, coordinate, _taps(r))
        axes[axis] = resampled.with_border_units(r.out_size) if isinstance(r.out_size, int) else resampled
    out = field.on_axes(lambda axis, f: axes[axis])
    return replace(out, aligned=True) if ctx.resolved.get("sized") else out


def fixed_resample(ctx: FixedSizeContext) -> str | None:
    """S109: axes whose output size stayed the same while the input's changed (sizes that are
    constants of the model); scales, and sizes computed from shapes, follow the input."""
    then, now = ctx.then.resolved.get("resample"), ctx.now.resolved.get("resample")
    if not then or not now:
        return None
    fixed = [a for a in sorted(then) if a in now and then[a].in_size != now[a].in_size
             and then[a].out_size == now[a].out_size and is_size(then[a].out_size)]
    if not fixed:
        return None
    sizes = "x".join(str(then[a].out_size) for a in fixed)
    following = [_follow(then[a], now[a].in_size) for a in fixed]
    wanted = "x".join("?" if f is None else str(f) for f in following)
    return (f"resizes to a constant {sizes} (its size at the declared input size, from "
            f"{'x'.join(str(then[a].in_size) for a in fixed)}); its input is now "
            f"{'x'.join(str(now[a].in_size) for a in fixed)} and still becomes {sizes}"
            + (f", where the declared scale would give {wanted}" if None not in following else ""))


def _follow(then: Resample, size: Dim) -> int | None:
    """The output size for ``size`` at the ratio the declared sizes had (when both are known)."""
    if not (isinstance(then.in_size, int) and isinstance(then.out_size, int) and isinstance(size, int)):
        return None
    return size * then.out_size // then.in_size


register(
    "Resize", "Upsample",
    infer=infer_resize,
    rf=rf_resample,
    fixed_size=fixed_resample,
    doc="Resampling by scales or to sizes: out = floor(in * scale); the receptive field "
    "follows the coordinate transform and interpolation mode.",
)
register(
    "DepthToSpace",
    infer=infer_depth_to_space,
    rf=rf_resample,
    doc="Moves blocksize^k channel groups into space: (C, H, W) -> (C/b^2, H*b, W*b).",
)
register(
    "SpaceToDepth",
    infer=infer_space_to_depth,
    rf=rf_shift,
    doc="Moves b x b spatial blocks into channels: (C, H, W) -> (C*b^2, H/b, W/b).",
)
register(
    "Interpolate",
    domain=CONVLINT_DOMAIN,
    infer=infer_interpolate,
    rf=rf_resample,
    fixed_size=fixed_resample,
    doc="PyTorch F.interpolate / nn.Upsample: out = floor(in * scale_factor) or size; nearest "
    "maps back with floor(v / scale), linear modes by half-pixel or align_corners.",
)
