"""Floor drops and skipped input (REFERENCE §2): input rows no window ever reads.

For each tensor, the rows its readers see are united: input that some reader sees is not
lost (a ResNet 1x1 stride-2 shortcut beside a 3x3 stride-2 conv drops nothing). Only readers
that slide windows (convolutions and pools) can miss rows; any other reader sees everything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from analyzer.graph import Model, Shape, axis_name, format_shape
from analyzer.ops.window import Geometry, Window
from analyzer.passes.shapes import ShapeResult
from analyzer.rules import INPUT_SKIPPED_BY_STRIDE, TRAILING_INPUT_DROPPED, Diagnostic

UNIT_NAMES = {"H": "row", "W": "column", "D": "slice", "L": "position"}


def _mark(covered: bytearray, w: Window, out: int) -> None:
    """Mark the input positions that output positions 0..out-1 read along one axis."""
    size = len(covered)
    assert w.pad_begin is not None
    for tap in range(w.kernel):
        start = tap * w.dilation - w.pad_begin
        first = max(0, -(-(0 - start) // w.stride))
        last = min(out - 1, (size - 1 - start) // w.stride)
        if last >= first:
            covered[start + first * w.stride : start + last * w.stride + 1 : w.stride] = (
                b"\x01" * (last - first + 1)
            )


def window_readers(model: Model, shapes: ShapeResult) -> dict[str, list[tuple[str, Geometry]]]:
    """Per tensor that only sliding windows read, each as its data input and at no other
    slot: those readers with their geometry, in topological order. Any other reader sees all
    of a tensor, so only these tensors can have rows that nothing reads."""
    found: dict[str, list[tuple[str, Geometry]]] = {}
    for (node, _), outcome in zip(model.steps(), shapes.outcomes, strict=True):
        geometry = outcome.resolved.get("window") if outcome is not None else None
        if geometry is None or geometry.transposed or not node.inputs:
            continue
        tensor = node.inputs[0]
        if tensor and node.inputs.count(tensor) == 1:
            found.setdefault(tensor, []).append((node.name, geometry))
    consumers = model.consumers
    return {t: readers for t, readers in found.items() if len(consumers.get(t, ())) == len(readers)}


@dataclass(frozen=True)
class _Miss:
    axis: str
    count: int
    of: int
    why: str


def floor_drops(model: Model, shapes: ShapeResult) -> list[Diagnostic]:
    trailing: dict[str, list[_Miss]] = defaultdict(list)
    skipped: dict[str, list[_Miss]] = defaultdict(list)
    for tensor, readers in window_readers(model, shapes).items():
        shape = shapes.shapes.get(tensor)
        if shape is None:
            continue
        for axis in readers[0][1].axes:
            _check_axis(shape, axis, readers, trailing, skipped)  # type: ignore[arg-type]
    diagnostics: list[Diagnostic] = []
    if not trailing and not skipped:
        return diagnostics
    for name in model.order:
        if name not in trailing and name not in skipped:
            continue
        node = model.nodes[name]
        x = format_shape(shapes.shapes.get(node.inputs[0]) if node.inputs else None, model.per_sample)
        for misses, rule, what in (
            (trailing.get(name), TRAILING_INPUT_DROPPED, "the last "),
            (skipped.get(name), INPUT_SKIPPED_BY_STRIDE, ""),
        ):
            if misses:
                diagnostics.append(
                    Diagnostic(rule.code, rule.severity, name,
                               f"never reads {what}{_describe(misses)} of its input {x}: "
                               f"{_reasons(misses)}",
                               node.location_of("strides"))
                )
    return diagnostics


def _describe(misses: list[_Miss]) -> str:
    return " and ".join(
        _count(m.count, UNIT_NAMES.get(m.axis, "position"))
        + (f" out of {m.of}" if m.of else "")
        for m in misses
    )


def _reasons(misses: list[_Miss]) -> str:
    """One reason per distinct explanation, naming the axes it applies to."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for m in misses:
        grouped[m.why].append(m.axis)
    return "; ".join(f"{why} along {' and '.join(axes)}" for why, axes in grouped.items())


EXACT_LIMIT = 1 << 20
"""Along axes longer than this, coverage is worked out arithmetically, not row by row."""


def _check_axis(shape: Shape, axis: int, readers: list[tuple[str, Geometry]],
                trailing: dict[str, list[_Miss]], skipped: dict[str, list[_Miss]]) -> None:
    size = shape[axis]
    if not isinstance(size, int) or size <= 0:
        return
    if size > EXACT_LIMIT or any(_window(g, axis).kernel > EXACT_LIMIT for _, g in readers if axis in g.axes):
        _check_long_axis(shape, axis, readers, trailing, skipped)
        return
    covered = bytearray(size)
    own: list[tuple[str, Window, bytearray]] = []
    for name, geometry in readers:
        index = geometry.axes.index(axis) if axis in geometry.axes else None
        if index is None:
            return
        w, out = geometry.windows[index], geometry.out_sizes[index]
        if w.pad_begin is None or not isinstance(out, int):
            return
        mine = bytearray(size)
        _mark(mine, w, out)
        own.append((name, w, mine))
        covered = _union(covered, mine) if len(own) > 1 else mine
    if all(covered):
        return
    name = axis_name(axis, len(shape))
    tail = size - 1 - max((i for i, c in enumerate(covered) if c), default=-1)
    skipper = next((r for r in own if r[1].stride > r[1].effective), None)
    if tail and skipper is None:
        reader, w, _ = next((r for r in own if not any(r[2][size - tail:])), own[0])
        pads = (w.pad_begin or 0) + (w.pad_end or 0)
        span = size + pads - w.effective
        why = f"{size} + {pads} padding - {w.effective} = {span} is not a multiple of stride {w.stride}"
        trailing[reader].append(_Miss(name, tail, 0, why))
    else:
        tail = 0
    missed = sum(1 for c in covered[: size - tail] if not c)
    if missed:
        reader, w, _ = skipper or own[0]
        why = (f"stride {w.stride} is larger than the window ({w.effective})"
               if w.stride > w.effective else "no window covers them")
        skipped[reader].append(_Miss(name, missed, size, why))


def _window(geometry: Geometry, axis: int) -> Window:
    return geometry.windows[geometry.axes.index(axis)]


def _check_long_axis(shape: Shape, axis: int, readers: list[tuple[str, Geometry]],
                     trailing: dict[str, list[_Miss]], skipped: dict[str, list[_Miss]]) -> None:
    """Huge axes (hostile or absurd inputs): the last row read, and which residues of the
    rows modulo the strides' period no window reads, without a per-row pass."""
    import math

    size = shape[axis]
    name = axis_name(axis, len(shape))
    unit = UNIT_NAMES.get(name, "position")
    windows = []
    for reader, geometry in readers:
        index = geometry.axes.index(axis) if axis in geometry.axes else None
        if index is None:
            return
        w, out = geometry.windows[index], geometry.out_sizes[index]
        if w.pad_begin is None or not isinstance(out, int) or w.kernel > EXACT_LIMIT:
            return
        windows.append((reader, w, out))
    last = max((out - 1) * w.stride - w.pad_begin + w.effective - 1 for _, w, out in windows)
    skipper = next(((r, w) for r, w, _ in windows if w.stride > w.effective), None)
    if last < size - 1 and skipper is None:
        reader, w, out = windows[0]
        pads = (w.pad_begin or 0) + (w.pad_end or 0)
        span = size + pads - w.effective
        why = f"{size} + {pads} padding - {w.effective} = {span} is not a multiple of stride {w.stride}"
        trailing[reader].append(_Miss(name, size - 1 - last, 0, why))
    period = math.lcm(*(w.stride for _, w, _ in windows))
    if skipper is None or period > EXACT_LIMIT or any(w.kernel > EXACT_LIMIT for _, w, _ in windows):
        return
    covered = bytearray(period)
    for _, w, _ in windows:
        for tap in range(w.kernel):
            offset = (tap * w.dilation - (w.pad_begin or 0)) % w.stride
            covered[offset::w.stride] = b"\x01" * len(range(offset, period, w.stride))
    missed = period - sum(covered)
    if missed:
        reader, w = skipper
        skipped[reader].append(_Miss(name, missed, period, f"stride {w.stride} is larger than the window ({w.effective})"
                                     f"; {_count(missed, unit)} of every {period}"))


def _union(a: bytearray, b: bytearray) -> bytearray:
    merged = int.from_bytes(a, "little") | int.from_bytes(b, "little")
    return bytearray(merged.to_bytes(len(a), "little"))


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"
