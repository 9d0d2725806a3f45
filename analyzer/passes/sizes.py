"""Which input sizes a model accepts, per spatial axis (``convlint sizes``).

The ordinary shape rules run once with the scanned input dims set to size expressions
(analyzer.symbolic): every dim becomes a function of the sizes, and every check that depends
on them becomes a recorded condition. The conditions are then evaluated for every candidate
size at once with numpy. A size is valid when every condition holds; the first condition
that fails (in topological order) names the node that breaks and why.

Free (symbolic) spatial dims are scanned together, as square inputs. Fixed ones each get a
size of their own, so that the scan of one axis is not spoilt by another: a check on W alone
never rejects a height, a check on no scanned size (channels) rejects every one, and a check
that mixes axes (a flattened feature count) is evaluated at the other axes' declared sizes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.graph import SPATIAL_NAMES, Model, Shape
from analyzer.ops.base import Constraint
from analyzer.passes.coverage import window_readers
from analyzer.passes.shapes import ShapeResult, infer_shapes
from analyzer.rules import NOT_MODELLED, UNKNOWN_DIM
from analyzer.symbolic import Evaluation, Expr, gt, is_expr, maximum, size


@dataclass
class Rejection:
    node: str
    code: str
    message: str
    location: str | None
    sizes: list[int]
    """The sizes of the scanned range this check rejects first."""


@dataclass(frozen=True)
class Verdict:
    """One size of one axis: rejected (and by what), or valid and perhaps dropping input."""

    rejection: Rejection | None
    drops: bool = False


@dataclass
class AxisScan:
    name: str
    axis: int
    """Tensor axis of the model input(s) that was scanned."""
    low: int
    high: int
    valid: list[int]
    rule: str
    dropping: list[int]
    """Valid sizes at which some input rows/columns are never read (floor drop)."""
    rejections: list[Rejection]
    blind_from: str | None = None
    """A node beyond which the scan cannot see (unmodelled op, unknown dim)."""
    drop_rule: str = ""
    declared: int | None = None
    """The size the model declares for this axis, when it fixes one."""
    judge: Callable[[Sequence[int]], list[Verdict]] | None = field(default=None, repr=False, compare=False)
    """Evaluates sizes outside ``low..high`` (--size beyond the scanned range)."""

    def verdict(self, value: int) -> Verdict:
        """Whether ``value`` is valid, at any size (outside the range it is evaluated now)."""
        if not self.low <= value <= self.high:
            if self.judge is None:
                raise ValueError(f"{value} is outside the scanned {self.low}..{self.high}")
            return self.judge([value])[0]
        rejection = next((r for r in self.rejections if _has(r.sizes, value)), None)
        return Verdict(rejection, rejection is None and _has(self.dropping, value))

    def reason(self, value: int) -> Rejection | None:
        return self.verdict(value).rejection

    def accepts(self, value: int) -> bool:
        return self.verdict(value).rejection is None


def _has(ordered: list[int], value: int) -> bool:
    index = bisect_left(ordered, value)
    return index < len(ordered) and ordered[index] == value


@dataclass
class SizesResult:
    inputs: dict[str, Shape]
    axes: list[AxisScan] = field(default_factory=list)


def _spatial_inputs(model: Model) -> tuple[int, list[str]]:
    """The rank of the first input with spatial axes, and the inputs of that rank."""
    ranks = {t: len(model.tensors[t].shape or ()) for t in model.inputs}
    rank = next((r for r in ranks.values() if r >= 3), 0)
    return rank, [t for t, r in ranks.items() if r == rank] if rank else []


def scan_sizes(model: Model, low: int = 1, high: int = 4096) -> SizesResult:
    import numpy as np

    from analyzer.passes.receptive import spatial_axes

    rank, inputs = _spatial_inputs(model)
    result = SizesResult({t: model.tensors[t].shape for t in inputs or model.inputs})  # type: ignore[misc]
    if not inputs:
        return result
    shape = model.tensors[inputs[0]].shape
    assert shape is not None
    axes = spatial_axes(model, inputs[0], rank)
    names = dict(zip(axes, SPATIAL_NAMES.get(len(axes), tuple(f"S{i}" for i in range(len(axes))))))
    groups = _groups(shape, axes)
    symbols = {p: size("=".join(names[q] for q in group)) for group in groups for p in group}
    overrides = {t: tuple(symbols.get(i, d) for i, d in enumerate(model.tensors[t].shape or ())) for t in inputs}
    shapes = infer_shapes(model, inputs=overrides)
    declared = {symbols[group[0]].args[0]: shape[group[0]] for group in groups}
    candidates = np.arange(low, high + 1, dtype=np.int64)
    walk = _Walk.of(model, shapes)
    for group in groups:
        name = symbols[group[0]].args[0]
        others = {n: v for n, v in declared.items() if n != name}
        axis = _scan_axis(walk, shapes, name, group[0], others, candidates)
        axis.declared = declared[name] if isinstance(declared[name], int) else None
        result.axes.append(axis)
    return result


def _groups(shape: Shape, axes: Sequence[int]) -> list[list[int]]:
    """Axes scanned together: free (symbolic) spatial dims as one group, as square inputs;
    when every spatial dim is fixed, each one alone."""
    free = [p for p in axes if not isinstance(shape[p], int)]
    return [free] if free else [[p] for p in axes]


SCAN_BYTES = 128 * 2**20
"""Memory the arrays kept at once while a chunk of scanned sizes is evaluated may take."""


@dataclass
class _Walk:
    """What every scanned axis reads of the graph, worked out once per scan: each node's step
    in topological order, the tensors read by sliding windows, and the scanned sizes each
    check's expression depends on (by the expression's id)."""

    step: dict[str, int]
    readers: dict[str, list]
    symbols: dict[int, frozenset[str]]

    @classmethod
    def of(cls, model: Model, shapes: ShapeResult) -> _Walk:
        return cls({node.name: index for index, (node, _) in enumerate(model.steps())},
                   window_readers(model, shapes), {})


class _Judge:
    """The checks of one scanned axis, evaluated for any array of its sizes."""

    def __init__(self, walk: _Walk, shapes: ShapeResult, name: str, position: int, others: dict[str, Any]):
        self.name, self.others = name, others
        self.constraints = [c for c in shapes.constraints if _concerns(c.holds, name, walk.symbols)]
        self.drops = _floor_drops(walk.readers, shapes, position)
        # drop conditions go where their last reader is, among the checks (in topological
        # order): each value is then needed for a short while, not until the end
        step = walk.step
        order = sorted(
            [(step.get(c.node, 0), 0, index) for index, c in enumerate(self.constraints)]
            + [(step[last], 1, index) for index, (_, last) in enumerate(self.drops)]
        )
        self.order = [(kind, index) for _, kind, index in order]
        self.evaluation = Evaluation([self.constraints[i].holds if kind == 0 else self.drops[i][0]
                                      for kind, i in self.order])


    def __call__(self, sizes: Any) -> tuple[Any, list[tuple[Constraint, Any]], Any]:
        """Valid sizes (a mask), each check with the sizes it rejects first, and the valid
        sizes that drop input rows or columns. Sizes are evaluated a chunk at a time, so that
        the arrays kept at once (``Evaluation.peak`` of them) stay within SCAN_BYTES."""
        import numpy as np

        valid = np.ones(len(sizes), dtype=bool)
        dropping = np.zeros(len(sizes), dtype=bool)
        rejected: dict[int, Any] = {}
        step = max(1024, SCAN_BYTES // (8 * max(self.evaluation.peak, 1)))
        for start in range(0, len(sizes), step):
            part = slice(start, start + step)
            length = len(sizes[part])
            values = self.evaluation.values({self.name: sizes[part], **self.others})
            for (kind, index), value in zip(self.order, values):
                mask = np.broadcast_to(np.asarray(value, dtype=bool), (length,))
                if kind:
                    dropping[part] |= mask
                    continue
                newly = valid[part] & ~mask
                if newly.any():
                    rejected.setdefault(index, np.zeros(len(sizes), dtype=bool))[part] = newly
                    valid[part] &= mask
        rejecting = [(self.constraints[index], rejected[index]) for index in sorted(rejected)]
        return valid, rejecting, dropping & valid

    def verdicts(self, values: Sequence[int]) -> list[Verdict]:
        import numpy as np

        sizes = np.asarray(values, dtype=np.int64)
        _, rejecting, dropping = self(sizes)
        verdicts = [Verdict(None, bool(d)) for d in dropping]
        for constraint, newly in rejecting:
            for index in np.flatnonzero(newly):
                verdicts[index] = Verdict(_rejection(constraint, [int(sizes[index])]))
        return verdicts


def _concerns(holds: Any, name: str, memo: dict[int, frozenset[str]]) -> bool:
    """Whether a check bears on the scanned size ``name``: it depends on it, or on no scanned
    size at all (it fails at every size). A check on other axes alone is theirs."""
    if not isinstance(holds, Expr):
        return True
    symbols = holds.symbols(memo)
    return not symbols or name in symbols


def _scan_axis(walk: _Walk, shapes: ShapeResult, name: str, position: int, others: dict[str, Any],
               candidates: Any) -> AxisScan:
    judge = _Judge(walk, shapes, name, position, others)
    valid, rejecting, dropping = judge(candidates)
    low, high = int(candidates[0]), int(candidates[-1])
    sizes = [int(v) for v in candidates[valid]]
    dropped = [int(v) for v in candidates[dropping]]
    return AxisScan(
        name=name,
        axis=position,
        low=low,
        high=high,
        valid=sizes,
        rule=describe(name, sizes, low, high),
        dropping=dropped,
        rejections=[_rejection(c, [int(v) for v in candidates[newly]]) for c, newly in rejecting],
        blind_from=_blind_spot(shapes),
        drop_rule=describe(name, dropped, low, high),
        judge=judge.verdicts,
    )


def _rejection(constraint: Constraint, sizes: list[int]) -> Rejection:
    return Rejection(constraint.node, constraint.rule.code, constraint.message, constraint.location, sizes)


def _blind_spot(shapes: ShapeResult) -> str | None:
    for d in shapes.diagnostics:
        if d.code in (NOT_MODELLED.code, UNKNOWN_DIM.code):
            return d.node
    return None


def _floor_drops(readers_of: dict[str, list], shapes: ShapeResult, position: int) -> list[tuple[Any, str]]:
    """Per tensor read only by sliding windows (``readers_of``, from window_readers): true
    where its last rows are read by none; with the last of those readers."""
    conditions = []
    for tensor, readers in readers_of.items():
        shape = shapes.shapes.get(tensor)
        if shape is None or len(shape) <= position or not is_expr(shape[position]):
            continue
        last: Any = None
        for _, geometry in readers:
            if position not in geometry.axes:
                last = None
                break
            index = geometry.axes.index(position)
            w, out = geometry.windows[index], geometry.out_sizes[index]
            if w.pad_begin is None or out is None or isinstance(out, str):
                last = None
                break
            covered = (out - 1) * w.stride - w.pad_begin + w.effective - 1
            last = covered if last is None else maximum(last, covered)
        if last is not None:
            conditions.append((gt(shape[position] - 1, last), readers[-1][0]))
    return conditions


MAX_PERIOD = 256
"""The longest period a size rule is looked for with (``H % 32 == 0``: 32)."""
MAX_EXCEPTIONS = 4
"""Runs of sizes listed before a periodic rule (``3 <= H <= 5 or H == 9 or (...)``)."""


def describe(name: str, sizes: list[int], low: int, high: int) -> str:
    """A rule for a set of sizes of ``low..high``, as a Python condition on ``name``
    (``H % 32 == 0 and H >= 64``, ``H % 4 != 0 and H >= 24``), else its ranges."""
    if not sizes:
        return "none"
    if len(sizes) == high - low + 1:
        return f"any {name}"
    first, last = sizes[0], sizes[-1]
    step = sizes[1] - first if len(sizes) > 1 else 1
    if sizes == list(range(first, last + 1, step)):  # an arithmetic progression
        parts = [f"{name} % {step} == {first % step}"] if step > 1 else []
        below, above = first - step >= low, last + step <= high
        if len(sizes) == 1:
            parts = [f"{name} == {first}"]
        elif below and above:
            parts.append(f"{first} <= {name} <= {last}")
        elif below:
            parts.append(f"{name} >= {first}")
        elif above:
            parts.append(f"{name} <= {last}")
        return " and ".join(parts)
    return _periodic_rule(name, sizes, low, high) or _ranges(sizes)


def _periodic_rule(name: str, sizes: list[int], low: int, high: int) -> str | None:
    """A few runs of sizes, then sizes that repeat with a period from some size on:
    ``3 <= H <= 5 or H == 9 or (H % 4 != 0 and H >= 24)``; None when there is no such rule."""
    import numpy as np

    member = np.zeros(high - low + 1, dtype=bool)
    member[np.asarray(sizes) - low] = True
    periodic = _periodic(member)
    if periodic is None:
        return None
    start, period = low + periodic[0], periodic[1]
    head = _runs([v for v in sizes if v < start])
    if len(head) > MAX_EXCEPTIONS:
        return None
    parts = [_run_rule(name, a, b, low) for a, b in head]
    residues = sorted({v % period for v in sizes if v >= start})
    if residues:
        first = next(v for v in sizes if v >= start)  # the bound as people write it: a member
        known = set(sizes)
        bounded = any(v % period in residues and v not in known for v in range(low, first))
        tail = [] if len(residues) == period else [_residues(name, residues, period)]
        tail += [f"{name} >= {first}"] if bounded else []
        parts.append(" and ".join(tail) or f"any {name}")
    return " or ".join(f"({p})" if " and " in p and len(parts) > 1 else p for p in parts)


def _periodic(member: Any) -> tuple[int, int] | None:
    """The earliest offset from which membership repeats, with the shortest period seen at
    least four times over: (offset, period)."""
    import numpy as np

    n = len(member)
    best: tuple[int, int] | None = None
    for period in range(1, min(MAX_PERIOD, n // 4) + 1):
        differs = np.flatnonzero(member[:-period] != member[period:])
        start = int(differs[-1]) + 1 if len(differs) else 0
        if n - start >= 4 * period and (best is None or start < best[0]):
            best = (start, period)
            if start == 0:
                break
    return best


def _residues(name: str, residues: list[int], period: int) -> str:
    others = [r for r in range(period) if r not in residues]
    if len(residues) == 1:
        return f"{name} % {period} == {residues[0]}"
    if len(others) == 1:
        return f"{name} % {period} != {others[0]}"
    if residues == list(range(residues[0], residues[-1] + 1)):
        if residues[0] == 0:
            return f"{name} % {period} <= {residues[-1]}"
        if residues[-1] == period - 1:
            return f"{name} % {period} >= {residues[0]}"
        return f"{residues[0]} <= {name} % {period} <= {residues[-1]}"
    listed = residues if len(residues) <= len(others) else others
    return f"{name} % {period} {'in' if listed is residues else 'not in'} ({', '.join(map(str, listed))})"


def _runs(sizes: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in sizes:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _run_rule(name: str, first: int, last: int, low: int) -> str:
    if first == last:
        return f"{name} == {first}"
    if first == low:
        return f"{name} <= {last}"
    return f"{first} <= {name} <= {last}"


def _ranges(sizes: list[int], limit: int = 12) -> str:
    runs = _runs(sizes)
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (f", ... ({len(runs) - limit} more ranges)" if len(runs) > limit else "")
