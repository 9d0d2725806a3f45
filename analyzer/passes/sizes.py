"""Which input sizes a model accepts, per spatial axis (``convlint sizes``).

The ordinary shape rules run once with the scanned input dim set to a size expression
(analyzer.symbolic): every dim becomes a function of the size, and every check that depends
on it becomes a recorded condition. All conditions are then evaluated for every candidate
size at once with numpy. A size is valid when every condition holds; the first condition
that fails (in topological order) names the node that breaks and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.graph import SPATIAL_NAMES, Model, Shape
from analyzer.ops.base import Constraint
from analyzer.passes.coverage import window_readers
from analyzer.passes.shapes import ShapeResult, infer_shapes
from analyzer.rules import NOT_MODELLED, UNKNOWN_DIM
from analyzer.symbolic import Expr, gt, is_expr, maximum, size


@dataclass
class Rejection:
    node: str
    code: str
    message: str
    location: str | None
    sizes: list[int]


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

    def reason(self, value: int) -> Rejection | None:
        return next((r for r in self.rejections if value in r.sizes), None)


@dataclass
class SizesResult:
    inputs: dict[str, Shape]
    axes: list[AxisScan] = field(default_factory=list)


def _spatial_inputs(model: Model) -> tuple[int, list[str]]:
    """The rank of the first input with spatial axes, and the inputs of that rank."""
    ranks = {t: len(model.tensors[t].shape or ()) for t in model.inputs}
    rank = next((r for r in ranks.values() if r >= 3), 0)
    return rank, [t for t, r in ranks.items() if r == rank]


def scan_sizes(model: Model, low: int = 1, high: int = 4096) -> SizesResult:
    import numpy as np

    rank, inputs = _spatial_inputs(model)
    result = SizesResult({t: model.tensors[t].shape for t in inputs})  # type: ignore[misc]
    names = SPATIAL_NAMES.get(rank - 2, tuple(f"S{i}" for i in range(rank - 2)))
    candidates = np.arange(low, high + 1, dtype=np.int64)
    for group in _groups(model.tensors[inputs[0]].shape if inputs else (), rank):
        name = "=".join(names[p - 2] for p in group)
        symbol = size(name)
        overrides = {t: _with_symbol(model.tensors[t].shape, group, symbol) for t in inputs}
        shapes = infer_shapes(model, inputs=overrides)
        result.axes.append(_evaluate(model, shapes, name, group[0], symbol, candidates))
    return result


def _groups(shape: Shape | None, rank: int) -> list[list[int]]:
    """Axes scanned together: free (symbolic) spatial dims as one group, as square inputs;
    when every spatial dim is fixed, each one alone with the others kept."""
    positions = list(range(2, rank))
    free = [p for p in positions if shape is None or not isinstance(shape[p], int)]
    return [free] if free else [[p] for p in positions]


def _with_symbol(shape: Shape | None, group: list[int], symbol: Expr) -> Shape:
    assert shape is not None
    return tuple(symbol if i in group else d for i, d in enumerate(shape))


def _evaluate(model: Model, shapes: ShapeResult, name: str, position: int, symbol: Expr,
              candidates: Any) -> AxisScan:
    import numpy as np

    env = {name: candidates}
    memo: dict[int, Any] = {}
    valid = np.ones(len(candidates), dtype=bool)
    rejections: list[Rejection] = []
    for constraint in shapes.constraints:
        holds = _as_mask(constraint.holds, env, memo, len(candidates))
        newly = valid & ~holds
        if newly.any():
            rejections.append(_rejection(constraint, candidates[newly]))
            valid &= holds
    dropping = np.zeros(len(candidates), dtype=bool)
    for condition in _floor_drops(model, shapes, position):
        dropping |= _as_mask(condition, env, memo, len(candidates))
    dropping &= valid
    sizes = [int(v) for v in candidates[valid]]
    return AxisScan(
        name=name,
        axis=position,
        low=int(candidates[0]),
        high=int(candidates[-1]),
        valid=sizes,
        rule=describe(name, sizes, int(candidates[0]), int(candidates[-1])),
        dropping=[int(v) for v in candidates[dropping]],
        rejections=rejections,
        blind_from=_blind_spot(shapes),
        drop_rule=describe(name, [int(v) for v in candidates[dropping]], int(candidates[0]),
                           int(candidates[-1])),
    )


def _as_mask(condition: Any, env: dict[str, Any], memo: dict[int, Any], length: int):
    import numpy as np

    value = condition.evaluate(env, memo) if isinstance(condition, Expr) else condition
    return np.broadcast_to(np.asarray(value, dtype=bool), (length,))


def _rejection(constraint: Constraint, sizes: Any) -> Rejection:
    return Rejection(constraint.node, constraint.rule.code, constraint.message, constraint.location,
                     [int(v) for v in sizes])


def _blind_spot(shapes: ShapeResult) -> str | None:
    for d in shapes.diagnostics:
        if d.code in (NOT_MODELLED.code, UNKNOWN_DIM.code):
            return d.node
    return None


def _floor_drops(model: Model, shapes: ShapeResult, position: int) -> list[Any]:
    """Per tensor read only by sliding windows: true where its last rows are read by none."""
    conditions = []
    for tensor, readers in window_readers(model, shapes).items():
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
            conditions.append(gt(shape[position] - 1, last))
    return conditions


def describe(name: str, sizes: list[int], low: int, high: int) -> str:
    """A rule for a set of sizes (``H % 32 == 0 and H >= 64``), else its ranges."""
    if not sizes:
        return "none"
    first, last = sizes[0], sizes[-1]
    if len(sizes) == 1:
        return f"{name} == {first}"
    step = sizes[1] - first
    if sizes != list(range(first, last + 1, step)):
        return _ranges(sizes)
    parts = [f"{name} % {step} == {first % step}"] if step > 1 else []
    bounded_below, bounded_above = first - step >= low, last + step <= high
    if bounded_below and bounded_above:
        parts.append(f"{first} <= {name} <= {last}")
    elif bounded_below:
        parts.append(f"{name} >= {first}")
    elif bounded_above:
        parts.append(f"{name} <= {last}")
    return " and ".join(parts) or f"any {name}"


def _ranges(sizes: list[int], limit: int = 12) -> str:
    runs: list[tuple[int, int]] = []
    for v in sizes:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (f", ... ({len(runs) - limit} more ranges)" if len(runs) > limit else "")
