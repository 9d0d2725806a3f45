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
    for tap in _taps(w, out, size):
        start = tap * w.dilation - w.pad_begin
        first = max(0, -(-(0 - start) // w.stride))
        last = min(out - 1, (size - 1 - start) // w.stride)
        if last >= first:
            covered[start + first * w.stride : start + last * w.stride + 1 : w.stride] = (
                b"\x01" * (last - first + 1)
            )


def _taps(w: Window, out: int, size: int) -> range:
    """The taps of a window that some of its ``out`` positions put inside an axis of ``size``
    (the others read only padding): few, however long the kernel (a dilation of 2**40)."""
    pad = w.pad_begin or 0
    low = max(0, -(-(pad - (out - 1) * w.stride) // w.dilation))
    return range(low, min(w.kernel - 1, (size - 1 + pad) // w.dilation) + 1)


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
    # Repeated blocks read equal tensors through equal windows: their shape rules share one
    # outcome, so one shape and geometry objects, and what they miss is worked out once.
    known: dict[tuple[int, ...], tuple[dict[int, list[_Miss]], dict[int, list[_Miss]]]] = {}
    for tensor, readers in window_readers(model, shapes).items():
        shape = shapes.shapes.get(tensor)
        if shape is None:
            continue
        key = (id(shape), *[id(geometry) for _, geometry in readers])  # the objects outlive the pass
        found = known.get(key)
        if found is None:
            found = known[key] = _misses(shape, tuple(geometry for _, geometry in readers))
        for misses, by_name in zip(found, (trailing, skipped)):
            for position, missed in misses.items():
                by_name[readers[position][0]] += missed
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


def _misses(shape: Shape, readers: tuple[Geometry, ...]) -> tuple[dict[int, list[_Miss]], dict[int, list[_Miss]]]:
    """What the readers of a tensor of ``shape`` miss along each of their axes, trailing (F101)
    and skipped (F102), by the reader's position in ``readers``."""
    trailing: dict[int, list[_Miss]] = defaultdict(list)
    skipped: dict[int, list[_Miss]] = defaultdict(list)
    for axis in readers[0].axes:
        _check_axis(shape, axis, readers, trailing, skipped)  # type: ignore[arg-type]
    return trailing, skipped


@dataclass(frozen=True)
class _Reader:
    position: int
    """In the tensor's readers."""
    window: Window
    out: int

    @property
    def reach(self) -> int:
        """The last input position inside its last window (padding included)."""
        w = self.window
        return (self.out - 1) * w.stride - (w.pad_begin or 0) + w.effective - 1


def _readers_along(axis: int, readers: tuple[Geometry, ...]) -> list[_Reader] | None:
    """The readers' windows along one axis; None when some window is not known."""
    found = []
    for position, geometry in enumerate(readers):
        if axis not in geometry.axes:
            return None
        index = geometry.axes.index(axis)
        w, out = geometry.windows[index], geometry.out_sizes[index]
        if w.pad_begin is None or not isinstance(out, int):
            return None
        found.append(_Reader(position, w, out))
    return found


def _check_axis(shape: Shape, axis: int, readers: tuple[Geometry, ...],
                trailing: dict[int, list[_Miss]], skipped: dict[int, list[_Miss]]) -> None:
    """Every unread position of one axis, explained once: past the last window (F101), or
    inside the windows' reach, between windows (stride) or between the taps of a dilated
    window (F102). The two counts add up to the positions no reader reads."""
    size = shape[axis]
    own = _readers_along(axis, readers)
    if not isinstance(size, int) or size <= 0 or own is None:
        return
    if size > EXACT_LIMIT or _marking_work(own, size) > EXACT_WORK:
        _check_long_axis(shape, axis, own, trailing, skipped)
        return
    covered = bytearray(size)
    for r in own:
        _mark(covered, r.window, r.out)
    if all(covered):
        return
    name = axis_name(axis, len(shape))
    tail = _trailing(size, own, name, trailing)
    inside = bytearray(size)  # positions some window spans, whether a tap reads them or not
    for r in own:
        _mark(inside, _spanned(r.window), r.out)
    between = dilated = 0
    for read, spanned in zip(covered[: size - tail], inside[: size - tail]):
        if not read:
            if spanned:
                dilated += 1
            else:
                between += 1
    if between or dilated:
        reader, why = _explain(own, between, dilated)
        skipped[reader].append(_Miss(name, between + dilated, size, why))


EXACT_WORK = 1 << 26
"""Row marks (or taps walked, each weighing 1,024 marks) past which coverage is worked out per
period: a kernel of half a million taps on a long axis would otherwise take hours."""


def _marking_work(own: list[_Reader], size: int) -> int:
    """What marking the rows each reader reads costs: the taps walked (each a step in Python)
    and the rows marked."""
    work = 0
    for r in own:
        rows = min(r.out, size // r.window.stride + 1)
        for w in (r.window, _spanned(r.window)):
            taps = len(_taps(w, r.out, size))
            work += taps * 1024 + taps * rows
    return work


def _spanned(w: Window) -> Window:
    """The window without gaps: every position between its first tap and its last."""
    return Window(w.effective, w.stride, 1, w.pad_begin, w.pad_end)


def _trailing(size: int, own: list[_Reader], name: str, trailing: dict[int, list[_Miss]]) -> int:
    """Positions past every window's reach, reported as F101; 0 when a stride larger than
    its window skips rows anyway (those at the end are skipped like the others)."""
    last = max(own, key=lambda r: r.reach)
    tail = size - 1 - last.reach
    if tail <= 0 or any(r.window.stride > r.window.effective for r in own):
        return 0
    w = last.window
    pads = (w.pad_begin or 0) + (w.pad_end or 0)
    span = size + pads - w.effective
    if last.out - 1 == span // w.stride:  # floor rounding
        why = f"{size} + {pads} padding - {w.effective} = {span} is not a multiple of stride {w.stride}"
    else:
        why = f"its last window (of {last.out}, stride {w.stride}) ends before them"
    trailing[last.position].append(_Miss(name, tail, 0, why))
    return tail


def _explain(own: list[_Reader], between: int, dilated: int) -> tuple[int, str]:
    """The reader to blame for unread positions inside the windows' reach, and why."""
    import math

    skipper = next((r for r in own if r.window.stride > r.window.effective), None)
    gapped = next((r for r in own if r.window.dilation > 1), None)
    reasons = []
    if between:
        w = (skipper or own[0]).window
        reasons.append(f"stride {w.stride} is larger than the window ({w.effective})" if skipper
                       else "no window covers them")
    if dilated and gapped is not None:
        w = gapped.window
        common = math.gcd(w.stride, w.dilation)
        reasons.append(
            f"dilation {w.dilation} leaves gaps between the taps of each window, and stride "
            f"{w.stride} never moves a tap into them (both are multiples of {common})" if common > 1
            else f"dilation {w.dilation} leaves gaps between the taps of a window that no other window fills"
        )
    reader = (skipper or own[0]) if between else (gapped or own[0])
    return reader.position, ", and ".join(reasons)


def _check_long_axis(shape: Shape, axis: int, own: list[_Reader],
                     trailing: dict[int, list[_Miss]], skipped: dict[int, list[_Miss]]) -> None:
    """Huge axes (hostile or absurd inputs): the last row read, and which residues of the
    rows modulo the strides' period no window reads, without a per-row pass."""
    import math

    size = shape[axis]
    name = axis_name(axis, len(shape))
    _trailing(size, own, name, trailing)
    period = math.lcm(*(r.window.stride for r in own))
    if period > EXACT_LIMIT:
        return
    import numpy as np

    covered, inside = np.zeros(period, dtype=bool), np.zeros(period, dtype=bool)
    for r in own:
        w = r.window
        for marks, offsets in ((covered, range(0, w.effective, w.dilation)), (inside, range(w.effective))):
            # the rows a window's taps read, modulo its stride (offsets repeat after `stride` of them)
            first = offsets[: w.stride]
            read = np.zeros(w.stride, dtype=bool)
            read[(np.arange(first.start, first.stop, first.step) - (w.pad_begin or 0)) % w.stride] = True
            marks |= np.tile(read, period // w.stride)
    between = int(np.count_nonzero(~covered & ~inside))
    dilated = int(np.count_nonzero(~covered & inside))
    if between or dilated:
        reader, why = _explain(own, between, dilated)
        unit = UNIT_NAMES.get(name, "position")
        skipped[reader].append(_Miss(name, between + dilated, period,
                                     f"{why}; {_count(between + dilated, unit)} of every {period}"))


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"
