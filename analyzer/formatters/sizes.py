"""``convlint sizes`` results as text or JSON."""

from __future__ import annotations

import json

from analyzer.formatters.escape import printable, text_lines
from analyzer.graph import Model, format_shape
from analyzer.passes.sizes import AxisScan, SizesResult, describe

EXAMPLES = 3


def to_dict(model: Model, result: SizesResult) -> dict:
    return {
        "model": {"path": printable(model.path), "format": model.format, "name": model.name},
        "inputs": [{"name": n, "shape": _dims(model, s)} for n, s in result.inputs.items()],
        "axes": [
            {
                "name": a.name,
                "axis": a.axis - 1 if model.per_sample else a.axis,
                "range": [a.low, a.high],
                "rule": a.rule,
                "smallest": a.valid[0] if a.valid else None,
                "valid": a.valid,
                "dropping": {"rule": a.drop_rule, "sizes": a.dropping},
                "rejections": [
                    {"node": r.node, "code": r.code, "message": r.message, "location": r.location,
                     "sizes": describe(a.name, r.sizes, a.low, a.high), "count": len(r.sizes),
                     "example": r.sizes[len(r.sizes) // 2]}
                    for r in a.rejections
                ],
                "blind_from": a.blind_from,
            }
            for a in result.axes
        ],
    }


def _dims(model: Model, shape) -> list | None:
    if shape is None:
        return None  # declared without a shape: even the rank is unknown
    dims = list(shape[1:] if model.per_sample else shape)
    return ["?" if d is None else d for d in dims]


def render_json(model: Model, result: SizesResult, checked: list[int]) -> str:
    document = to_dict(model, result)
    if checked:
        document["checked"] = [
            {"axis": a.name, "size": v, "valid": v in a.valid, **_why(a, v)} for a in result.axes for v in checked
        ]
    return json.dumps(document, indent=2) + "\n"


def _why(axis: AxisScan, value: int) -> dict:
    rejection = axis.reason(value)
    if rejection is None:
        return {"drops_input": value in axis.dropping}
    return {"node": rejection.node, "code": rejection.code, "message": rejection.message,
            "location": rejection.location}


def render_text(model: Model, result: SizesResult, checked: list[int]) -> str:
    inputs = ", ".join(f"{n} {format_shape(s, model.per_sample)}" for n, s in result.inputs.items())
    lines = [f"{model.name} ({model.format}: {model.path}), input {inputs}"]
    if not result.axes:
        lines.append("no spatial input axes to scan")
    for axis in result.axes:
        lines.append("")
        count = len(axis.valid)
        smallest = f", smallest {axis.valid[0]}" if axis.valid else ""
        lines.append(f"{axis.name}: valid sizes in {axis.low}..{axis.high}: {axis.rule} ({count} sizes{smallest})")
        if axis.rejections:
            lines.append("  rejected:")
            for r in axis.rejections:
                where = f" ({r.location})" if r.location else ""
                sizes = describe(axis.name, r.sizes, axis.low, axis.high)
                example = f", e.g. {r.sizes[len(r.sizes) // 2]}" if len(r.sizes) > 1 else ""
                count = f"{len(r.sizes)} size{'s' if len(r.sizes) > 1 else ''}"
                lines.append(f"    {sizes} ({count}{example}): {r.node}{where}: {r.message} [{r.code}]")
        drops = f"{axis.drop_rule} ({len(axis.dropping)} sizes)" if axis.dropping else "none"
        lines.append(f"  valid but never reading some input rows/columns (floor drop): {drops}")
        if axis.blind_from:
            lines.append(f"  note: sizes cannot be followed beyond {axis.blind_from} (unknown dims there)")
        for value in checked:
            rejection = axis.reason(value)
            if rejection is not None:
                lines.append(f"  {axis.name}={value}: rejected by {rejection.node}"
                             f"{f' ({rejection.location})' if rejection.location else ''}: {rejection.message} [{rejection.code}]")
            elif axis.low <= value <= axis.high:
                drop = ", but some input rows/columns are never read" if value in axis.dropping else ""
                lines.append(f"  {axis.name}={value}: valid{drop}")
    return text_lines(lines)
