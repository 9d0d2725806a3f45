"""The report as JSON, exactly the shape of ``schemas/report.schema.json``.

Objects are laid out one member per line, indented by two spaces, and each element of a list
of objects (a node, a tensor, a diagnostic) is written on one line: a 50,000-node report reads
and diffs node by node, and the standard library's C encoder writes each line (it runs only
without indentation). The reports in `check`'s ``files`` are laid out as a report is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from analyzer.report import model
from analyzer.report.model import Report

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


def to_json(value: Any) -> str:
    """A report object as JSON text, laid out as the module says (no final newline)."""
    return _layout(value, "")


def _layout(value: Any, indent: str) -> str:
    inner = indent + "  "
    if dataclasses.is_dataclass(value):
        members = ",\n".join(f'{inner}"{_json_name(field)}": {_layout(getattr(value, field.name), inner)}'
                             for field in dataclasses.fields(value))
        return f"{{\n{members}\n{indent}}}"
    if type(value) is list and value and dataclasses.is_dataclass(value[0]):
        elements = ",\n".join(inner + (_layout(item, inner) if isinstance(item, Report) else _compact(to_dict(item)))
                              for item in value)
        return f"[\n{elements}\n{indent}]"
    return _compact(value)


def render(report: Report, view: object = None) -> str:
    return to_json(report) + "\n"
