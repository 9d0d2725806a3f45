"""``convlint sizes`` results as text or JSON."""

from __future__ import annotations

import json

from analyzer.formatters.escape import printable, text_lines
from analyzer.graph import Model, format_shape
from analyzer.passes.sizes import AxisScan, Rejection, SizesResult, describe


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
                "declared": None if a.declared is None else {"size": a.declared, **_why(a, a.declared)},
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
        document["checked"] = [{"axis": a.name, "size": v, **_why(a, v)} for a in result.axes for v in checked]
    return json.dumps(document, indent=2) + "\n"


def _why(axis: AxisScan, value: int) -> dict:
    verdict = axis.verdict(value)
    rejection = verdict.rejection
    if rejection is None:
        return {"valid": True, "drops_input": verdict.drops}
    return {"valid": False, "node": rejection.node, "code": rejection.code, "message": rejection.message,
            "location": rejection.location}


def _by(rejection: Rejection) -> str:
    where = f" ({rejection.location})" if rejection.location else ""
    return f"{rejection.node}{where}: {rejection.message} [{rejection.code}]"


def _plural(count: int) -> str:
    return f"{count:,} size{'s' if count != 1 else ''}"


def render_text(model: Model, result: SizesResult, checked: list[int]) -> str:
    inputs = ", ".join(f"{n} {format_shape(s, model.per_sample)}" for n, s in result.inputs.items())
    lines = [f"{model.name} ({model.format}: {model.path}), input {inputs}"]
    if not result.axes:
        lines.append("no spatial input axes to scan")
    for axis in result.axes:
        lines.append("")
        smallest = f", smallest {axis.valid[0]}" if axis.valid else ""
        lines.append(f"{axis.name}: valid sizes in {axis.low}..{axis.high}: {axis.rule} "
                     f"({_plural(len(axis.valid))}{smallest})")
        if axis.rejections:
            lines.append("  rejected:")
            for r in axis.rejections:
                example = f", e.g. {r.sizes[len(r.sizes) // 2]}" if len(r.sizes) > 1 else ""
                lines.append(f"    {describe(axis.name, r.sizes, axis.low, axis.high)} "
                             f"({_plural(len(r.sizes))}{example}): {_by(r)}")
        drops = f"{axis.drop_rule} ({_plural(len(axis.dropping))})" if axis.dropping else "none"
        lines.append(f"  valid but never reading some input rows/columns (floor drop): {drops}")
        if axis.blind_from:
            lines.append(f"  note: sizes cannot be followed beyond {axis.blind_from} (unknown dims there)")
        for value in checked:
            lines.append(f"  {_verdict_text(axis, value)}")
    rejected = [a for a in result.axes if a.declared is not None and not a.accepts(a.declared)]
    if rejected:  # the axes to blame, each judged on its own
        lines += ["", f"The declared input {inputs} is rejected:"]
        lines += [f"  {_verdict_text(a, a.declared)}" for a in rejected]  # type: ignore[arg-type]
    return text_lines(lines)


def _verdict_text(axis: AxisScan, value: int) -> str:
    outside = "" if axis.low <= value <= axis.high else f" (outside {axis.low}..{axis.high})"
    verdict = axis.verdict(value)
    if verdict.rejection is not None:
        return f"{axis.name}={value}{outside}: rejected by {_by(verdict.rejection)}"
    drop = ", but some input rows/columns are never read" if verdict.drops else ""
    return f"{axis.name}={value}{outside}: valid{drop}"
