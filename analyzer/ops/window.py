"""Sliding-window arithmetic shared by Conv, ConvTranspose and the pools (REFERENCE §2, §3).

Per spatial axis, with effective kernel ``ke = d*(k-1) + 1`` and ``span = in + pb + pe - ke``:
floor mode ``out = span // s + 1``; ceil mode ``out = ceil(span / s) + 1``, minus one when the
last window would start beyond the input and its begin padding (PyTorch's and onnxruntime's
rule). The resolved geometry is recorded for the receptive-field and floor-drop passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.graph import Dim, Shape, axis_name
from analyzer.ops.base import InferContext, RfContext
from analyzer.ops.common import check_positive
from analyzer.receptive import Field, FieldUnknown
from analyzer.rules import (
    INVALID_ATTRIBUTE,
    KERNEL_EXCEEDS_INPUT,
    PADDING_EXCEEDS_WINDOW,
    POOL_PADDING,
    RANK_MISMATCH,
    STRIDE_EXCEEDS_WINDOW,
)
from analyzer.symbolic import cdiv, ge, gt, is_size, maximum, where


@dataclass(frozen=True, slots=True)
class Window:
    kernel: int
    stride: int
    dilation: int
    pad_begin: int | None
    """``None`` when it depends on an unknown input size (SAME padding, stride > 1)."""
    pad_end: int | None

    @property
    def effective(self) -> int:
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True, slots=True)
class Geometry:
    """The windows of one node along its spatial axes (tensor axes ``axes``)."""

    axes: tuple[int, ...]
    windows: tuple[Window, ...]
    in_sizes: tuple[Dim, ...]
    out_sizes: tuple[Dim, ...]
    transposed: bool = False


def _shared(windows: list[Window]) -> tuple[Window, ...]:
    """Equal windows as one object: the receptive-field pass then transforms a field that is
    the same along two axes once (square kernels on square inputs)."""
    kept: list[Window] = []
    for w in windows:
        kept.append(next((k for k in kept if k == w), w))
    return tuple(kept)


def per_axis(ctx: InferContext, attr: str, rank: int, default: int) -> tuple[int, ...]:
    """An attribute given as one value for all axes or one per axis."""
    value = ctx.ints_attr(attr)
    if value is None:
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(value)
    if len(values) != rank:
        ctx.fail(
            RANK_MISMATCH,
            f"{attr} has {len(values)} values {list(values)} but the input has {rank} spatial "
            f"{'axis' if rank == 1 else 'axes'}",
            attr,
        )
    return values


def explicit_pads(ctx: InferContext, rank: int) -> list[tuple[int, int]]:
    """``pads`` as (begin, end) per axis; ONNX order is all begins, then all ends."""
    value = ctx.ints_attr("pads")
    if value is None:
        return [(0, 0)] * rank
    if isinstance(value, int):
        return [(value, value)] * rank
    values = tuple(value)
    if len(values) != 2 * rank:
        ctx.fail(
            RANK_MISMATCH,
            f"pads has {len(values)} values {list(values)}; {2 * rank} expected "
            f"(begin and end for {rank} spatial {'axis' if rank == 1 else 'axes'})",
            "pads",
        )
    return [(values[i], values[i + rank]) for i in range(rank)]


def spatial_of(ctx: InferContext, shape: Shape, kernel_rank: int | None = None) -> Shape:
    """The spatial dims of an (N, C, *spatial) input, checking its rank."""
    if len(shape) < 3:
        ctx.fail(
            RANK_MISMATCH,
            f"{ctx.node.label or ctx.node.op} needs (N, C, *spatial) input with at least one "
            f"spatial axis, got {ctx.fmt(shape)}",
        )
    spatial = shape[2:]
    if kernel_rank is not None and kernel_rank != len(spatial):
        ctx.fail(
            RANK_MISMATCH,
            f"a {kernel_rank}-D kernel cannot slide over {ctx.fmt(shape)} "
            f"({len(spatial)} spatial {'axis' if len(spatial) == 1 else 'axes'})",
            "kernel_shape",
        )
    return spatial


def _same_pads(total: int, upper: bool) -> tuple[int, int]:
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def sliding(ctx: InferContext, shape: Shape, kernel: Sequence[int], ceil_mode: bool = False,
            pool: bool = False) -> Shape:
    """Output spatial dims of a Conv or pool over ``shape``; records the geometry."""
    spatial = spatial_of(ctx, shape, len(kernel))
    rank = len(spatial)
    strides = per_axis(ctx, "strides", rank, 1)
    dilations = per_axis(ctx, "dilations", rank, 1)
    check_positive(ctx, kernel, "kernel_shape")
    check_positive(ctx, strides, "strides")
    check_positive(ctx, dilations, "dilations")
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    pads = explicit_pads(ctx, rank) if auto_pad == "NOTSET" else [(0, 0)] * rank
    if any(b < 0 or e < 0 for b, e in pads):
        ctx.fail(INVALID_ATTRIBUTE, f"pads must not be negative, got {ctx.attr('pads')}", "pads")
    windows: list[Window] = []
    out: list[Dim] = []
    for axis, (size, k, s, d, (pb, pe)) in enumerate(zip(spatial, kernel, strides, dilations, pads)):
        window = Window(k, s, d, pb, pe)
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            window, dim = _same(window, size, auto_pad == "SAME_UPPER")
        else:
            dim = _out_size(ctx, window, size, ceil_mode, axis_name(axis + 2, len(shape)))
        windows.append(window)
        out.append(dim)
    _design_checks(ctx, windows, len(shape), pool)
    ctx.resolve(
        "window",
        Geometry(tuple(range(2, len(shape))), _shared(windows), tuple(spatial), tuple(out)),
    )
    return tuple(out)


def _design_checks(ctx: InferContext, windows: list[Window], rank: int, pool: bool) -> None:
    """D101-D103: strides that skip rows, padding that only pads, over-padded pools."""
    names = [axis_name(i + 2, rank) for i in range(len(windows))]
    skipping = [n for n, w in zip(names, windows) if w.stride > w.effective]
    if skipping:
        w = next(w for w in windows if w.stride > w.effective)
        ctx.report(STRIDE_EXCEEDS_WINDOW, f"stride {w.stride} is larger than the window ({w.effective}) "
                   f"along {' and '.join(skipping)}", "strides")
    padded = [(n, w) for n, w in zip(names, windows)
              if isinstance(w.pad_begin, int) and isinstance(w.pad_end, int)
              and max(w.pad_begin, w.pad_end) >= w.effective]
    if padded:
        _, w = padded[0]
        ctx.report(PADDING_EXCEEDS_WINDOW, f"padding {max(w.pad_begin, w.pad_end)} is at least the window "  # type: ignore[type-var]
                   f"({w.effective}) along {' and '.join(p for p, _ in padded)}: border windows see only padding", "pads")
    elif pool:
        over = [(n, w) for n, w in zip(names, windows)
                if isinstance(w.pad_begin, int) and isinstance(w.pad_end, int)
                and max(w.pad_begin, w.pad_end) > w.effective // 2]
        if over:
            _, w = over[0]
            ctx.report(POOL_PADDING, f"padding {max(w.pad_begin, w.pad_end)} is more than half the window "  # type: ignore[type-var]
                       f"({w.effective}) along {' and '.join(p for p, _ in over)}; PyTorch rejects this pool", "pads")


def _same(window: Window, size: Dim, upper: bool) -> tuple[Window, Dim]:
    """SAME padding: out = ceil(in / stride); the odd pixel at the end (UPPER) or begin."""
    k, s, d = window.kernel, window.stride, window.dilation
    if is_size(size):
        out = cdiv(size, s)
        total = maximum(0, (out - 1) * s + window.effective - size)
        pb, pe = _same_pads(total, upper)
        return Window(k, s, d, pb, pe), out
    if s == 1:
        pb, pe = _same_pads(window.effective - 1, upper)
        return Window(k, s, d, pb, pe), size
    return Window(k, s, d, None, None), None


def _out_size(ctx: InferContext, w: Window, size: Dim, ceil_mode: bool, axis: str) -> Dim:
    assert w.pad_begin is not None and w.pad_end is not None
    if not is_size(size):
        keeps = w.stride == 1 and w.pad_begin + w.pad_end == w.effective - 1
        return size if keeps and size is not None else None
    span = size + w.pad_begin + w.pad_end - w.effective
    window = (f"the window (kernel {w.kernel}" + (f", dilation {w.dilation}" if w.dilation > 1 else "")
              + f", {w.effective} wide)")
    # Ceil mode keeps a window that runs past the end while ceil(span / s) + 1 >= 1, i.e.
    # span > -s: onnxruntime, ONNX shape inference and PyTorch all give one output there.
    slack, allowance = (w.stride - 1, f" plus the {w.stride - 1} that ceil mode lets a window overhang") \
        if ceil_mode else (0, "")
    ctx.require(
        ge(span + slack, 0), KERNEL_EXCEEDS_INPUT,
        lambda: f"along {axis}, {window} is larger than the padded input ({size} + "
        f"{w.pad_begin + w.pad_end} padding){allowance}",
        "kernel_shape",
        generic=f"along {axis}, {window} is larger than the padded input{allowance}",
    )
    if not ceil_mode:
        return span // w.stride + 1
    out = cdiv(span, w.stride) + 1
    return where(ge((out - 1) * w.stride, size + w.pad_begin), out - 1, out)


def transposed(ctx: InferContext, shape: Shape, kernel: Sequence[int]) -> Shape:
    """Output spatial dims of a ConvTranspose (REFERENCE §3); records the geometry."""
    spatial = spatial_of(ctx, shape, len(kernel))
    rank = len(spatial)
    strides = per_axis(ctx, "strides", rank, 1)
    dilations = per_axis(ctx, "dilations", rank, 1)
    output_padding = per_axis(ctx, "output_padding", rank, 0)
    check_positive(ctx, kernel, "kernel_shape")
    check_positive(ctx, strides, "strides")
    check_positive(ctx, dilations, "dilations")
    for op, s, d in zip(output_padding, strides, dilations):
        if not 0 <= op < max(s, d):
            ctx.fail(
                INVALID_ATTRIBUTE,
                f"output_padding {list(output_padding)} must be smaller than the stride or the "
                "dilation",
                "output_padding",
            )
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    output_shape = ctx.attr("output_shape", like=[0])
    if output_shape is not None:
        output_shape = tuple(output_shape)[-rank:]
    pads = explicit_pads(ctx, rank) if auto_pad == "NOTSET" and output_shape is None else None
    windows: list[Window] = []
    out: list[Dim] = []
    for axis in range(rank):
        size, k, s, d, op = spatial[axis], kernel[axis], strides[axis], dilations[axis], output_padding[axis]
        ke = d * (k - 1) + 1
        if pads is not None:
            pb, pe = pads[axis]
            if is_size(size):
                dim: Dim = s * (size - 1) + op + ke - pb - pe
            else:
                dim = size if s == 1 and op + ke - pb - pe == 1 else None
        else:
            target: Dim = output_shape[axis] if output_shape is not None else (
                s * size if is_size(size) else (size if s == 1 else None)
            )
            if is_size(size) and is_size(target):
                total = s * (size - 1) + op + ke - target
                pb, pe = _same_pads(total, auto_pad != "SAME_LOWER")
            elif s == 1 and target == size:
                pb, pe = _same_pads(op + ke - 1, auto_pad != "SAME_LOWER")
            else:
                pb, pe = None, None  # type: ignore[assignment]
            dim = target
        if is_size(dim):
            name = axis_name(axis + 2, len(shape))
            ctx.require(
                gt(dim, 0), KERNEL_EXCEEDS_INPUT,
                lambda name=name, dim=dim: f"along {name}, the padding removes the whole output (size {dim})",
                "pads", generic=f"along {name}, the padding removes the whole output",
            )
        windows.append(Window(k, s, d, pb, pe))
        out.append(dim)
    ctx.resolve(
        "window",
        Geometry(tuple(range(2, len(shape))), _shared(windows), tuple(spatial), tuple(out), True),
    )
    return tuple(out)


def rf_window(ctx: RfContext) -> Field | None:
    """Receptive field through the recorded windows (sliding or transposed). A spatial axis
    must lie on one of the op's window axes, alone; a window axis that holds no position (a
    size-1 axis added to run a 1-D signal through a 2-D op) leaves the field as it is."""
    geometry: Geometry | None = ctx.resolved.get("window")
    field = ctx.fields[0] if ctx.fields else None
    if geometry is None or field is None:
        return None
    if field.is_global:
        return field
    if field.axes != geometry.axes:
        if field.layout is not None or not set(field.axes) <= set(geometry.axes):
            raise FieldUnknown("a sliding window runs along axes that hold spatial positions "
                               "in another layout (merged, or on the channel axis)")
        windows = dict(zip(geometry.axes, geometry.windows))
        return _through_windows(field, [windows[a] for a in field.axes], geometry.transposed)
    return _through_windows(field, geometry.windows, geometry.transposed)


def _through_windows(field: Field, windows: Sequence[Window], transposed: bool) -> Field:
    per_axis_fields = []
    anchored = field.anchored
    last = None  # (window, field in, field out): an axis like the one before is not redone
    for w, axis_field in zip(windows, field.per_axis):
        anchored &= w.pad_begin is not None
        if last is not None and last[0] is w and last[1] is axis_field:
            per_axis_fields.append(last[2])
            continue
        pb = w.pad_begin if w.pad_begin is not None else 0
        if transposed:
            out = axis_field.transposed(w.kernel, w.stride, w.dilation, pb)
        else:
            out = axis_field.window(w.kernel, w.stride, w.dilation, pb)
        per_axis_fields.append(out)
        last = (w, axis_field, out)
    aligned = field.aligned and not transposed and all(w.stride == 1 for w in windows)
    return Field(field.axes, tuple(per_axis_fields), False, field.global_context, anchored, aligned=aligned)


def rf_shift(ctx: RfContext) -> Field | None:
    """Ops that move or gather units along some axes without mixing channels (Pad, Slice,
    SpaceToDepth): the per-axis windows recorded under ``shift``. Along merged spatial axes
    only a plain shift (a crop or pad by whole units) is followed."""
    field = ctx.fields[0] if ctx.fields else None
    windows: dict[int, Window] | None = ctx.resolved.get("shift")
    if field is None or windows is None:
        return None if field is None or not field.pooled else field
    if field.layout is not None:
        out = ctx.out_shape(0)
        for axis, w in windows.items():
            if axis in field.content_axes() and out is not None:
                if (w.kernel, w.stride) != (1, 1) or w.pad_begin is None:
                    raise FieldUnknown("strides or windows along merged spatial axes")
                field = field.shifted_along(axis, w.pad_begin, out)
        return field
    return field.on_axes(
        lambda axis, f: f.window(
            windows[axis].kernel, windows[axis].stride, windows[axis].dilation,
            windows[axis].pad_begin or 0,
        )
        if axis in windows
        else f
    )
