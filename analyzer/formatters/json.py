"""The report as JSON, exactly the shape of ``schemas/report.schema.json``.

Objects are laid out one member per line, indented by two spaces, and each element of a list
of objects (a node, a tensor, a diagnostic) is written on one line: a 50,000-node report reads
and diffs node by node. The standard library's C encoder writes each line (it runs only
without indentation), except the nodes' lines, which are written as it would write them but
without building their dicts (most of a large report's time went there). The reports in
`check`'s ``files`` are laid out as a report is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring as _string  # the C function when the interpreter has it
from typing import Any

from analyzer.report import model
from analyzer.report.model import NodeReport, Report

_compact = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
"""A value as JSON on one line (reports hold no cycles: none to look for)."""

_REPORT_CLASSES = frozenset(name for name, value in vars(model).items()
                            if dataclasses.is_dataclass(value) and value.__module__ == model.__name__)
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def _json_name(field: dataclasses.Field) -> str:
    """A field named after a Python keyword has a trailing underscore (``global_``); its JSON
    name has none."""
    return field.name.removesuffix("_")


def to_dict(value: Any) -> Any:
    """A report object (or a list of them) as JSON values: dicts, lists, strings, numbers."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if type(value) is list:
        return [to_dict(v) for v in value]
    kind = type(value)
    convert = _CONVERTERS.get(kind) or _CONVERTERS.setdefault(kind, _converter(kind))
    return convert(value)


def _converter(kind: type) -> Callable[[Any], Any]:
    """The function turning an object of a report class into a dict, written from the class's
    fields (as dataclasses writes ``__init__``): members whose type names a report class are
    converted, the others are JSON values already and taken as they are."""
    members = []
    for field in dataclasses.fields(kind):
        nested = _REPORT_CLASSES & set(re.findall(r"\w+", str(field.type)))
        members.append(f"{_json_name(field)!r}: {f'to_dict(o.{field.name})' if nested else f'o.{field.name}'}")
    namespace: dict[str, Any] = {"to_dict": to_dict}
    exec(f"def convert(o):\n    return {{{', '.join(members)}}}", namespace)
    return namespace["convert"]


def to_json(value: Any, end: str = "") -> str:
    """A report object as JSON text, laid out as the module says, then ``end``."""
    chunks: list[str] = []
    _layout(value, "", chunks.append)
    chunks.append(end)
    return "".join(chunks)


def _layout(value: Any, indent: str, write: Callable[[str], Any]) -> None:
    """Write ``value``'s text in pieces: a 19 MB report is joined once, not once per level."""
    inner = indent + "  "
    if dataclasses.is_dataclass(value):
        write("{")
        separator = "\n"
        for field in dataclasses.fields(value):
            write(f'{separator}{inner}"{_json_name(field)}": ')
            _layout(getattr(value, field.name), inner, write)
            separator = ",\n"
        write(f"\n{indent}}}")
    elif type(value) is list and value and dataclasses.is_dataclass(value[0]):
        write("[")
        separator = "\n"
        if type(value[0]) is NodeReport:
            for line in _node_lines(value):
                write(separator + inner)
                write(line)
                separator = ",\n"
        else:
            for item in value:
                write(separator + inner)
                if isinstance(item, Report):
                    _layout(item, inner, write)
                else:
                    write(_compact(to_dict(item)))
                separator = ",\n"
        write(f"\n{indent}]")
    else:
        write(_compact(value))


def _node_lines(nodes: list[NodeReport]) -> Iterator[str]:
    """Each node as ``_compact(to_dict(node))`` writes it (a test holds the two equal), without
    building its dicts: a node's parts that build_report shares between nodes (shape lists,
    receptive fields, memory figures) are written once per object."""
    written: dict[int, str] = {}  # id -> text; the objects live as long as the report

    def shared(value: Any) -> str:
        text = written.get(id(value))
        if text is None:
            text = written[id(value)] = _compact(to_dict(value))
        return text

    for node in nodes:
        outputs = node.outputs
        if len(outputs) == 1:
            output = outputs[0]
            outputs_text = f'[{{"name": {_string(output.name)}, "shape": {shared(output.shape)}}}]'
        else:
            outputs_text = _compact(to_dict(outputs))
        params, buffers, macs = node.params, node.buffers, node.macs
        yield (f'{{"name": {_string(node.name)}, "op": {_string(node.op)}, '
               f'"inputs": [{", ".join(map(_string, node.inputs))}], "outputs": {outputs_text}, '
               f'"params": {params if type(params) is int else _compact(params)}, '
               f'"buffers": {buffers if type(buffers) is int else _compact(buffers)}, '
               f'"macs": {macs if type(macs) is int else _compact(macs)}, '
               f'"receptive_field": {shared(node.receptive_field)}, "memory": {shared(node.memory)}}}')


def render(report: Report, view: object = None) -> str:
    return to_json(report, "\n")
