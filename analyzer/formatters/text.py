"""The report for a terminal: a table per node, totals, then the findings.

Laid out here, in plain strings (rich would cost a millisecond per row): every column as
wide as its widest cell; when the table is wider than the terminal, ``global`` becomes ``*``,
long op names are abbreviated (``BatchNorm``), and a name longer than its column gets a line
of its own above its row. Figures are never cut: a table whose figures alone are wider than
the terminal runs past its edge. Colour is ANSI escape codes, only when asked for (a
terminal, ``--color always``); every string from the model goes through
:func:`~analyzer.formatters.escape.terminal` first, so none can add codes of its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from analyzer.formatters import View
from analyzer.formatters.escape import line_start, terminal
from analyzer.formatters.figures import (
    axes_text,
    bytes_total,
    count_text,
    field_text,
    findings_count,
    macs_text,
    output_text,
    params_text,
    shape_text,
    total_text,
    unknown_nodes,
)
from analyzer.formatters.rows import Rows, table_rows
from analyzer.report.model import Report

HEADERS = ("name", "op", "output shape", "RF", "RF stride", "params", "MACs")
RIGHT = (False, False, False, True, True, True, True)
NAME, OP, SHAPE, RF, STRIDE = 0, 1, 2, 3, 4
NARROWEST_NAME, NARROWEST_OP = 8, 10
"""Narrower than this, the name column goes (every name on a line of its own, above its row)
unless nine names in ten fit in it; ops are shortened to no fewer columns than this."""
ABBREVIATIONS = (("Normalization", "Norm"), ("Average", "Avg"))
"""Words of long ONNX op names, shortened as PyTorch names the layers, when the table is too wide."""
GLOBAL = " global"
GAP = "  "
ELLIPSIS = "…"

RESET = "\x1b[0m"
STYLE = {"error": "\x1b[1;31m", "warning": "\x1b[33m", "info": "\x1b[36m", "header": "\x1b[1m"}


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns: its start and end kept around an ellipsis."""
    if cell_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if text.isascii():
        tail = (width - 1) // 2
        return text[: width - 1 - tail] + ELLIPSIS + text[len(text) - tail:] if tail else text[: width - 1] + ELLIPSIS
    head, tail, room = "", "", width - 1
    start, end = 0, len(text)
    while start < end:  # take characters alternately from both ends while they fit
        if len(head) <= len(tail):
            step = cell_width(text[start])
            if step > room:
                break
            head, start, room = head + text[start], start + 1, room - step
        else:
            step = cell_width(text[end - 1])
            if step > room:
                break
            tail, end, room = text[end - 1] + tail, end - 1, room - step
    return head + ELLIPSIS + tail


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - cell_width(text))
    return fill + text if right else text + fill


@dataclass(slots=True)
class Layout:
    rows: list[tuple[str, ...]]
    widths: list[int]
    headers: tuple[str, ...] = HEADERS
    legend: list[str] = field(default_factory=list)
    """Lines under the table explaining what narrowing changed."""


def _natural(layout: Layout, column: int) -> int:
    header = layout.headers[column]
    cells = {row[column] for row in layout.rows}
    if "".join(cells).isascii():
        return max(len(header), *map(len, cells)) if cells else len(header)
    return max([cell_width(header), *map(cell_width, cells)])


def _overflow(found: list[int], limit: int) -> int:
    return sum(found) + len(GAP) * (len(found) - 1) - limit


def fit(rows: list[tuple[str, ...]], limit: int | None) -> Layout:
    """Rows, headers and column widths for a table at most ``limit`` columns wide, when it can
    be: first ``global`` becomes a ``*`` and the header ``RF stride`` becomes ``stride`` (both
    explained under the table), then long op names are abbreviated, then the name column
    narrows (longer names go on a line of their own, and every name does once it would be
    narrower than NARROWEST_NAME and more than one name in ten would move: width 0), then ops
    are shortened in the middle."""
    layout = Layout(rows, [])
    layout.widths = [_natural(layout, column) for column in range(len(HEADERS))]
    if limit is None or _overflow(layout.widths, limit) <= 0:
        return layout
    if any(row[RF].endswith(GLOBAL) for row in layout.rows):
        layout.rows = [(*row[:RF], row[RF][: -len(GLOBAL)] + "*", *row[RF + 1:]) if row[RF].endswith(GLOBAL) else row
                       for row in layout.rows]
        layout.widths[RF] = _natural(layout, RF)
        layout.legend.append("RF *: global (units see the whole input or carry global context)")
    if _overflow(layout.widths, limit) > 0:
        layout.headers = (*HEADERS[:STRIDE], "stride", *HEADERS[STRIDE + 1:])
        layout.widths[STRIDE] = _natural(layout, STRIDE)
        layout.legend.append("stride: of the receptive field, in input pixels between neighbouring units")
    if _overflow(layout.widths, limit) > 0:
        ops = {op: _abbreviated(op) for op in {row[OP] for row in layout.rows}}
        layout.rows = [(row[NAME], ops[row[OP]], *row[OP + 1:]) for row in layout.rows]
        layout.widths[OP] = _natural(layout, OP)
    layout.widths[NAME], layout.widths[OP] = _narrowed(layout.rows, layout.widths, limit)
    if layout.widths[OP] < _natural(layout, OP):
        layout.rows = [(row[NAME], shorten(row[OP], layout.widths[OP]), *row[OP + 1:]) for row in layout.rows]
    return layout


def _narrowed(rows: list[tuple[str, ...]], found: list[int], limit: int) -> tuple[int, int]:
    """Widths of the name and op columns that fit best: each shortened op counts as two names
    on a line of their own, and a column past the edge as a thousand."""
    names = [cell_width(row[NAME]) for row in rows]
    ops = [cell_width(row[OP]) for row in rows]
    best: tuple[int, int, int] | None = None
    for op in range(found[OP], min(found[OP], NARROWEST_OP) - 1, -1):
        room = found[NAME] - _overflow([*found[:OP], op, *found[OP + 1:]], limit)
        name = min(found[NAME], max(room, 0))
        if name < NARROWEST_NAME and sum(w > name for w in names) > len(names) // 10:
            name = 0  # a narrow column most names leave: every name above its row reads better
        past = max(0, name - room)
        cost = sum(w > name for w in names) + 2 * sum(w > op for w in ops) + 1000 * past
        if best is None or cost < best[0]:
            best = (cost, name, op)
    assert best is not None
    return best[1], best[2]


def _abbreviated(op: str) -> str:
    for word, short in ABBREVIATIONS:
        op = op.replace(word, short)
    return op


def _cells(report: Report, table: Rows) -> list[tuple[str, ...]]:
    """Each row's cells, escaped. Shapes and fields are shared between nodes: made once each."""
    shapes: dict[int, str] = {}
    fields: dict[int, tuple[str, str]] = {}
    ops: dict[str, str] = {}
    leading = 1 if report.model.format == "spec" else 2
    rows = []
    for item in report.inputs:
        unit = "x".join("1" * max(0, len(item.shape or ()) - leading)) or "-"
        rows.append((line_start(item.name), "input", terminal(shape_text(item.shape)), unit, unit, "", ""))
    for row in table.rows:
        last = row.last
        outputs = last.outputs
        key = id(outputs[0].shape) if len(outputs) == 1 else -1
        shape = shapes.get(key)
        if shape is None:
            shape = terminal(output_text(last))
            if key != -1:
                shapes[key] = shape
        rf = last.receptive_field
        field = fields.get(id(rf))
        if field is None:
            field = fields[id(rf)] = field_text(rf)
        op = ops.get(row.op)
        if op is None:
            op = ops[row.op] = line_start(row.op)  # starts a line when names get lines of their own
        rows.append((line_start(row.name), op, shape, field[0], field[1],
                     count_text(row.params), count_text(row.macs)))
    return rows


def _table(report: Report, table: Rows, view: View) -> list[str]:
    layout = fit(_cells(report, table), view.width)
    found = layout.widths
    template = GAP.join(f"{{:{'>' if right else '<'}{w}}}" for w, right in zip(found, RIGHT))
    paint = _painter(view.color)

    def line(row: tuple[str, ...]) -> str:
        if row[NAME].isascii() and row[OP].isascii() and row[SHAPE].isascii():
            return template.format(*row).rstrip()
        return GAP.join(_pad(c, w, r) for c, w, r in zip(row, found, RIGHT)).rstrip()

    headers = layout.headers
    header = [headers[NAME], line(("", *headers[1:]))] if not found[NAME] else [line(headers)]
    lines = [paint(text, "header") for text in header]
    lines.append("─" * (sum(found) + len(GAP) * (len(found) - 1)))
    severities = [None] * len(report.inputs) + [row.severity for row in table.rows]
    for row, severity in zip(layout.rows, severities):
        if cell_width(row[NAME]) > found[NAME]:  # a line of its own, the figures below it
            lines.append(paint(row[NAME], severity))
            row = ("", *row[1:])
        lines.append(paint(line(row), severity))
    if layout.legend:
        lines += ["", *layout.legend]
    return lines


def _painter(color: bool) -> Callable[[str, str | None], str]:
    if not color:
        return lambda text, style: text
    return lambda text, style: f"{STYLE[style]}{text}{RESET}" if style else text


def totals_lines(report: Report, exact: bool = False) -> list[str]:
    """Totals, activation memory, per-batch figures and the receptive field summary."""
    totals = report.totals
    unknown = totals.unknown
    lines = [f"Totals: {params_text(totals, exact)}, "
             f"{total_text(totals.buffers, unknown.buffers, 'buffers', exact)}, "
             f"{macs_text(totals.macs, unknown.macs, exact)} per sample"]
    peak = totals.peak_memory
    if peak.bytes is not None:
        at = f" at {peak.node}" if peak.node else ""
        left_out = f"; {peak.unknown} unknown size{'s' * (peak.unknown != 1)} left out" if peak.unknown else ""
        lines.append(f"Activations: peak {bytes_total(peak.bytes, peak.unknown, exact)}{at} "
                     f"(batch 1, input included{left_out}); {bytes_total(totals.memory.bytes, unknown.memory, exact)} "
                     f"over all outputs{unknown_nodes(unknown.memory)}")
    if totals.per_batch is not None and totals.per_batch.size != 1:  # batch 1: the figures above
        batch = totals.per_batch
        lines.append(f"Per batch of {batch.size}: {macs_text(batch.macs, unknown.macs, exact)}, "
                     f"peak activations {bytes_total(batch.peak_memory, peak.unknown, exact)}")
    if report.receptive_field is not None:
        summary = report.receptive_field
        inputs = "x".join(str(d) for d in summary.input)
        ratios = [f"{r:g}x" for r in summary.ratio if r is not None]
        ratio = ratios[0] if len(set(ratios)) == 1 else " by ".join(ratios)
        lines.append(f"Receptive field: {axes_text(summary.size)} at {summary.node} (stride {axes_text(summary.stride)}) "
                     f"on a {inputs} input" + (f": {ratio} the input" if ratio else ""))
    return [terminal(line) for line in lines]


def _folded(lines: list[str], width: int | None) -> list[str]:
    """Lines folded at spaces to ``width`` columns, continued two columns in (a word longer
    than that, a long node name, stays whole). `convlint check` prints a finding per line."""
    if not width or all(cell_width(line) <= width for line in lines):
        return lines
    import textwrap

    return [part for line in lines for part in textwrap.wrap(
        line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False) or [line]]


def render(report: Report, view: View | None = None) -> str:
    view = view or View()
    paint = _painter(view.color)
    lines = [line_start(f"{report.model.name} ({report.model.format}: {report.model.path})"), ""]
    if not view.summary:
        table = table_rows(report, view.all_nodes, view.depth)
        lines += _table(report, table, view)
        lines.append("")
        if table.constants:
            lines.append(f"{table.constants} node{'s' * (table.constants != 1)} computing constants only "
                         "not shown (--all-nodes shows them)")
    lines += _folded(totals_lines(report, view.exact), view.width)
    counts = [sum(1 for d in report.diagnostics if d.severity == s) for s in ("error", "warning", "info")]
    lines.append(f"Findings: {findings_count(*counts)}")
    for d in report.diagnostics:
        where = f" ({d.location})" if d.location else ""
        tag = f"{d.severity}[{d.code}]"
        first, *rest = _folded([tag + terminal(f" {d.node or report.model.name}{where}: {d.message}")], view.width)
        lines += [paint(tag, d.severity) + first[len(tag):], *rest]
    return "".join(line + "\n" for line in lines)
