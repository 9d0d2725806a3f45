"""Figures as people read them: shapes, receptive fields, counts, and totals either exact
(``25,507,944``) or as magnitudes (``25.5 M``, ``97.3 MiB``). Plain strings, no escaping:
each format escapes what it prints."""

from __future__ import annotations

from analyzer.report.model import NodeReport, ReceptiveField, Totals

FLOAT32_BYTES = 4


def shape_text(shape: list[int | str] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def output_text(node: NodeReport) -> str:
    """The shape of a node's first output (`` …`` after it when there are more)."""
    if not node.outputs:
        return "?"
    return shape_text(node.outputs[0].shape) + (" …" if len(node.outputs) > 1 else "")


def axes_text(values: list) -> str:
    if len(values) == 2 and type(values[0]) is int and type(values[1]) is int:  # the common case, quickly
        return f"{values[0]}x{values[1]}"
    return "x".join("?" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def field_text(rf: ReceptiveField | None) -> tuple[str, str]:
    """(size, stride) cells: ``35x35`` (``31..35x35`` when units differ), ``global`` after it
    when units see the whole input or carry global context; ``-`` when there is none."""
    if rf is None:
        return "-", "-"
    if rf.size_min != rf.size:
        size = "x".join(f"{a}..{b}" if a != b else str(b) for a, b in zip(rf.size_min, rf.size))
    else:
        size = axes_text(rf.size)
    return size + (" global" if rf.global_ else ""), axes_text(rf.stride)


def count_text(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _scaled(value: float, base: int, units: tuple[str, ...]) -> str:
    """Three significant digits in the largest unit that keeps the number at least 1 (past
    the largest unit, as a power of ten: ``1.24e+750 YiB``, the integer never becoming a
    float it does not fit)."""
    for power, unit in enumerate(units):
        whole = value // base**power
        if whole >= base * base and power < len(units) - 1:
            continue  # a larger unit fits
        if whole >= 10**15:
            from decimal import Decimal

            return f"{Decimal(value) / Decimal(base**power):.2e} {unit}"
        scaled = value / base**power
        digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
        text = f"{scaled:,.{digits}f}"
        if float(text.replace(",", "")) < base or power == len(units) - 1:
            return f"{text} {unit}" if unit else text
    raise AssertionError("unreachable")


def magnitude(value: int, exact: bool = False) -> str:
    """``25.5 M`` (``25,507,944`` when ``exact``); below 10,000 always exact (``1,792``)."""
    if exact or value < 10_000:
        return f"{value:,}"
    return _scaled(value, 1000, ("", "k", "M", "G", "T", "P", "E", "Z", "Y"))


def size_text(value: int, exact: bool = False) -> str:
    """Bytes: ``97.3 MiB`` (``102,031,776 bytes`` when ``exact``)."""
    if exact:
        return f"{value:,} byte{'s' * (value != 1)}"
    if value < 1024:
        return f"{value} B"
    return _scaled(value, 1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"))


def _nodes(count: int) -> str:
    return f"{count} node{'s' * (count != 1)} unknown"


def total_text(value: int | None, unknown: int, what: str, exact: bool = True, notes: tuple[str, ...] = ()) -> str:
    """A total and what it is: ``1,234 params``; ``at least 1,234 params (3 nodes unknown)``
    when some node's figure is unknown; ``? params`` when there is no graph to sum over.
    ``what`` follows the number after a space, or is glued to its unit (``4.09 GMACs``) when
    it starts with one; ``notes`` go in the parentheses."""
    if value is None:
        return f"? {what}"
    number = magnitude(value, exact)
    text = f"{number}{what}" if what == "MACs" and number[-1].isalpha() else f"{number} {what}"
    notes = (*notes, _nodes(unknown)) if unknown else notes
    text = f"at least {text}" if unknown else text
    return text + (f" ({'; '.join(notes)})" if notes else "")


def params_text(totals: Totals, exact: bool = False) -> str:
    """``25.5 M params (97.3 MiB as float32)``."""
    if totals.params is None:
        return "? params"
    weights = f"{size_text(totals.params * FLOAT32_BYTES, exact)} as float32"
    return total_text(totals.params, totals.unknown.params, "params", exact, (weights,))


def macs_text(value: int | None, unknown: int, exact: bool = False) -> str:
    """``4.09 GMACs``, ``320 MACs``."""
    return total_text(value, unknown, "MACs", exact)


def bytes_total(value: int | None, unknown: int, exact: bool = False) -> str:
    """An activation size: ``101 MiB``; ``at least 101 MiB`` when ``unknown`` sizes are left out."""
    if value is None:
        return "?"
    return f"at least {size_text(value, exact)}" if unknown else size_text(value, exact)


def unknown_nodes(count: int) -> str:
    """`` (3 nodes unknown)`` when some are; else nothing."""
    return f" ({_nodes(count)})" if count else ""


def findings_count(errors: int, warnings: int, info: int) -> str:
    """``1 error, 2 warnings`` (and ``, 3 info`` when there is any)."""
    parts = [f"{errors} error{'s' * (errors != 1)}", f"{warnings} warning{'s' * (warnings != 1)}"]
    return ", ".join(parts + ([f"{info} info"] if info else []))
