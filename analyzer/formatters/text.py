"""The report as a table per node, totals, then diagnostics (rich; plain without a terminal)."""

from __future__ import annotations

import io

from analyzer.formatters.escape import terminal
from analyzer.report.model import NodeReport, ReceptiveField, Report, TensorInfo

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def shape_text(shape: list[int | str] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def output_text(node: NodeReport) -> str:
    """The shape of a node's first output."""
    return shape_text(node.outputs[0].shape if node.outputs else None)


def count_text(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def total_text(value: int | None, unknown: int, what: str) -> str:
    """A total and what it is: ``at least 1,234 params (3 nodes unknown)`` when some node's
    figure is unknown; ``? params`` when there is no graph to sum over."""
    if value is None or not unknown:
        return f"{count_text(value)} {what}"
    return f"at least {value:,} {what} ({unknown} node{'' if unknown == 1 else 's'} unknown)"


def _axes(values: list) -> str:
    return "x".join("?" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def field_text(rf: ReceptiveField | None) -> tuple[str, str]:
    """(size, stride) cells: ``35x35`` (``31..35x35`` when units differ), ``g`` when global."""
    if rf is None:
        return "-", "-"
    if rf.size_min != rf.size:
        size = "x".join(f"{a}..{b}" if a != b else str(b) for a, b in zip(rf.size_min, rf.size))
    else:
        size = _axes(rf.size)
    return size + (" global" if rf.global_ else ""), _axes(rf.stride)


def _outputs(outputs: list[TensorInfo]) -> str:
    return ", ".join(shape_text(o.shape) for o in outputs[:1]) + (" …" if len(outputs) > 1 else "")


def render(report: Report, color: bool = False) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=200 if not color else None,
                      highlight=False, soft_wrap=False)
    flagged = {d.node: d.severity for d in reversed(report.diagnostics) if d.node}
    title = Text(terminal(f"{report.model.name} ({report.model.format}: {report.model.path})"))
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    for column, justify in (("name", "left"), ("op", "left"), ("output shape", "left"),
                            ("RF", "right"), ("RF stride", "right"), ("params", "right"),
                            ("MACs", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    leading = 1 if report.model.format == "spec" else 2
    for item in report.inputs:
        spatial = max(0, len(item.shape or ()) - leading)
        unit = "x".join("1" * spatial) or "-"
        table.add_row(*(Text(terminal(cell)) for cell in (item.name, "input", shape_text(item.shape), unit, unit, "", "")))
    for node in report.nodes:
        table.add_row(*(Text(terminal(cell)) for cell in _row(node)), style=SEVERITY_STYLE.get(flagged.get(node.name, ""), ""))
    console.print(table)
    totals = report.totals
    unknown = totals.unknown
    console.print(
        f"Totals: {total_text(totals.params, unknown.params, 'params')}, "
        f"{total_text(totals.buffers, unknown.buffers, 'buffers')}, {total_text(totals.macs, unknown.macs, 'MACs')}, "
        f"{total_text(totals.memory.bytes, unknown.memory, 'bytes of activations')} (per sample)"
    )
    if totals.per_batch is not None:
        batch = totals.per_batch
        console.print(
            f"Per batch of {batch.size}: {total_text(batch.macs, unknown.macs, 'MACs')}, "
            f"{total_text(batch.memory.bytes, unknown.memory, 'bytes of activations')}"
        )
    if report.receptive_field is not None:
        summary = report.receptive_field
        inputs = "x".join(str(d) for d in summary.input)
        ratios = [f"{r:g}x" for r in summary.ratio if r is not None]
        ratio = ratios[0] if len(set(ratios)) == 1 else " by ".join(ratios)
        console.print(Text(terminal(
            f"Receptive field: {_axes(summary.size)} at {summary.node} (stride {_axes(summary.stride)}) "
            f"on a {inputs} input" + (f": {ratio} the input" if ratio else "")
        )))
    counts = {s: sum(1 for d in report.diagnostics if d.severity == s) for s in SEVERITY_STYLE}
    console.print(
        f"Findings: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info"
    )
    for d in report.diagnostics:
        line = Text()
        line.append(f"{d.severity}[{d.code}]", style=SEVERITY_STYLE[d.severity])
        where = d.location or ""
        line.append(terminal(f" {d.node or report.model.name}" + (f" ({where})" if where else "") + f": {d.message}"))
        console.print(line)
    return buffer.getvalue()


def _row(node: NodeReport) -> list[str]:
    size, stride = field_text(node.receptive_field)
    return [node.name, node.op, _outputs(node.outputs), size, stride, count_text(node.params),
            count_text(node.macs)]
