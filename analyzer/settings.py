"""Which findings to report and which fail a run: ruff-style ``select``/``ignore`` by code or
prefix, per-node ignores, the fail level; read from ``[tool.convlint]`` in the nearest
``pyproject.toml`` (or a ``convlint.toml``), with the command line taking precedence.

    [tool.convlint]
    select = ["S", "C", "F"]          # default: every rule that is on by default
    extend-select = ["D101"]          # add to the selection
    ignore = ["F101"]
    fail-on = "warning"               # error (default), warning or info
    input-shape = ["image=1x3x224x224"]
    override-shape = false            # let input-shape and batch replace fixed ONNX dims
    batch = 8                         # batch size of the per-batch figures
    extend-exclude = ["legacy"]       # `check` leaves these out of folder searches
    exclude = [".*", "build"]         # replaces the default exclusions (DEFAULT_EXCLUDE)
    force-exclude = false             # leave them out when named one by one too (pre-commit)

    [tool.convlint.per-node-ignores]  # ONNX node names (glob) -> codes
    "*/downsample/*" = ["F102"]
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes, parse_input_shapes, valid_batch
from analyzer.limits import MAX_CONFIG_BYTES, MAX_PATTERNS
from analyzer.rules import RULES, SEVERITY_RANK, Severity
from analyzer.strings import did_you_mean

KEYS = ("select", "extend-select", "ignore", "per-node-ignores", "fail-on", "input-shape", "override-shape",
        "batch", "exclude", "extend-exclude", "force-exclude")


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_node_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fail_on: Severity = "error"
    input_shape: tuple[str, ...] = ()
    override_shape: bool = False
    batch: int | None = None
    exclude: tuple[str, ...] | None = None
    """Globs `check` leaves out of folder searches (None: analyzer.lint.DEFAULT_EXCLUDE)."""
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    source: str | None = None
    """The configuration file these settings came from, if any."""

    def enabled(self, code: str, node: str | None = None, node_ignores: tuple[str, ...] = ()) -> bool:
        rule = RULES.get(code)
        selected = _matches(code, self.select) if self.select else (rule is None or rule.default)
        selected = selected or _matches(code, self.extend_select)
        if not selected or _matches(code, self.ignore) or _matches(code, node_ignores):
            return False
        if node is not None:
            for names, codes in self._node_ignores:
                if _matches(code, codes) and names.match(node):
                    return False
        return True

    @cached_property
    def _node_ignores(self) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
        """per-node-ignores compiled once: per list of codes, one regex of all its patterns
        (matching a pattern at a time costs patterns x findings)."""
        grouped: dict[tuple[str, ...], list[str]] = {}
        for pattern, codes in self.per_node_ignores:
            grouped.setdefault(codes, []).append(pattern)
        return tuple((any_of(patterns), codes) for codes, patterns in grouped.items())

    def input_sizes(self) -> InputSizes:
        """The what-if input sizes asked for (ValueError for a malformed input shape)."""
        return InputSizes(parse_input_shapes(self.input_shape), self.batch, self.override_shape)

    def exclusions(self):
        """What `check` leaves out (:class:`analyzer.lint.Exclusions`); relative patterns are
        relative to the configuration file's folder, else to the working folder."""
        from analyzer.lint import DEFAULT_EXCLUDE, Exclusions

        base = DEFAULT_EXCLUDE if self.exclude is None else self.exclude
        root = str(Path(self.source).parent) if self.source else "."
        return Exclusions(base + self.extend_exclude, root, self.force_exclude)

    def fails(self, severity: str) -> bool:
        return SEVERITY_RANK[severity] >= SEVERITY_RANK[self.fail_on]

    def override(self, **changes: Any) -> Settings:
        """These settings with the command line's non-empty values taking precedence."""
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, (), [])})

    def selecting(self, select: tuple[str, ...], extend_select: tuple[str, ...], ignore: tuple[str, ...]) -> Settings:
        """These settings with a selection given on top (the command line's, the API's):
        ``select`` replaces the selection, extend-select included (as ruff's does);
        ``extend_select`` and ``ignore`` add to it."""
        extend = extend_select if select else self.extend_select + extend_select
        return replace(self, extend_select=extend, ignore=self.ignore + ignore).override(select=select)


def any_of(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex matching what any of these globs matches (fnmatch.fnmatchcase's rules)."""
    return re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns) or "(?!)")


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def check_selectors(selectors: tuple[str, ...], where: str) -> None:
    """Every selector must name a rule, a prefix of one, or ALL (as ruff does)."""
    for selector in selectors:
        if selector != "ALL" and not any(code.startswith(selector) for code in RULES):
            raise InputError.one(where, None, f"unknown rule code or prefix {selector!r} (see `convlint rules`)")


def find_config(start: Path) -> Path | None:
    """The nearest convlint.toml, or pyproject.toml with a [tool.convlint] table, upwards."""
    directory = start if os.path.isdir(start) else start.parent
    for folder in (directory.resolve(), *directory.resolve().parents):
        dedicated = folder / "convlint.toml"
        if os.path.lexists(dedicated):  # read (or refused, when not a regular file), never skipped
            return dedicated
        project = folder / "pyproject.toml"
        if os.path.lexists(project):
            tool = _read_toml(project).get("tool")
            if isinstance(tool, dict) and "convlint" in tool:
                return project
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    """A TOML file, read only if it is a regular file within the size limit (tomllib reads
    about 4 MiB a second)."""
    from analyzer.files import open_regular

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    with open_regular(str(path)) as handle:
        try:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as error:
            raise InputError.one(str(path), None, f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError.one(str(path), None, f"a configuration file larger than "
                             f"{MAX_CONFIG_BYTES // 2**20} MiB, convlint's limit")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InputError.one(str(path), None, f"not UTF-8 text: {error.reason}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError.one(str(path), None, f"invalid TOML: {error}") from None
    except RecursionError:
        raise InputError.one(str(path), None, "invalid TOML: nested too deeply") from None


def _table(path: Path) -> tuple[dict[str, Any], str]:
    """convlint's table of a configuration file, and how messages name it: the
    ``[tool.convlint]`` table of a pyproject.toml or of any file with a ``tool`` table
    (``--config``), else the whole file (convlint.toml)."""
    document = _read_toml(path)
    tool = document.get("tool")
    if path.name != "pyproject.toml" and "tool" not in document:
        return document, "top level"
    if not isinstance(tool, dict):
        raise InputError.one(str(path), "tool", f"must be a table, not {_kind(tool)}")
    if "convlint" not in tool:
        raise InputError.one(str(path), None, "no [tool.convlint] table")
    table = tool["convlint"]
    if not isinstance(table, dict):
        raise InputError.one(str(path), "[tool.convlint]", f"must be a table, not {_kind(table)}")
    return table, "[tool.convlint]"


def _kind(value: Any) -> str:
    """What a TOML value is, for messages (never the value itself: it may be huge)."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), "a date or time")


def load_settings(path: Path) -> Settings:
    table, where = _table(path)
    source = str(path)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise InputError.one(source, where, f"unknown key {unknown[0][:40]!r}{did_you_mean(unknown[0], KEYS)}; "
                             f"known: {', '.join(KEYS)}")

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError.one(source, f"{where} {key}", f"must be a list of strings, not {_kind(value)}"
                                 + (" with other values" if isinstance(value, list) else ""))
        return tuple(dict.fromkeys(value))  # each is matched against every finding: once is enough

    def globs(key: str) -> tuple[str, ...]:
        patterns = strings(key)
        if len(table[key]) > MAX_PATTERNS:  # the list as written
            raise InputError.one(source, f"{where} {key}", f"{len(table[key]):,} patterns; at most {MAX_PATTERNS:,}")
        return patterns

    per_node = table.get("per-node-ignores", {})
    if not isinstance(per_node, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in per_node.values()
    ):
        raise InputError.one(source, f"{where} per-node-ignores", "must map node name patterns to lists of codes")
    if len(per_node) > MAX_PATTERNS:
        raise InputError.one(source, f"{where} per-node-ignores",
                             f"{len(per_node):,} patterns; at most {MAX_PATTERNS:,}")
    for key in ("override-shape", "force-exclude"):
        if not isinstance(table.get(key, False), bool):
            raise InputError.one(source, f"{where} {key}", f"must be true or false, not {_kind(table[key])}")
    batch = table.get("batch")
    if batch is not None and not valid_batch(batch):
        shown = f"{batch:,}" if isinstance(batch, int) and not isinstance(batch, bool) else _kind(batch)
        raise InputError.one(source, f"{where} batch", f"must be a positive integer up to 2**40, not {shown}")
    fail_on = table.get("fail-on", "error")
    if not isinstance(fail_on, str) or fail_on not in SEVERITY_RANK:
        shown = repr(fail_on[:40]) if isinstance(fail_on, str) else _kind(fail_on)
        raise InputError.one(source, f"{where} fail-on", f"must be error, warning or info, not {shown}")
    settings = Settings(
        select=strings("select"),
        extend_select=strings("extend-select"),
        ignore=strings("ignore"),
        per_node_ignores=tuple((pattern, tuple(dict.fromkeys(codes))) for pattern, codes in per_node.items()),
        fail_on=fail_on,
        input_shape=strings("input-shape"),
        override_shape=table.get("override-shape", False),
        batch=batch,
        exclude=globs("exclude") if "exclude" in table else None,
        extend_exclude=globs("extend-exclude") if "extend-exclude" in table else (),
        force_exclude=table.get("force-exclude", False),
        source=source,
    )
    for key, selectors in (("select", settings.select), ("extend-select", settings.extend_select),
                           ("ignore", settings.ignore),
                           ("per-node-ignores", tuple(c for _, cs in settings.per_node_ignores for c in cs))):
        try:
            check_selectors(selectors, source)
        except InputError as error:
            raise InputError.one(source, f"{where} {key}", error.problems[0][1]) from None
    return settings


@dataclass(frozen=True)
class Cli:
    """Settings given on the command line."""

    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    input_shape: tuple[str, ...] = ()
    override_shape: bool = False
    batch: int | None = None
    config: Path | None = None
    isolated: bool = False
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_settings(cli: Cli, start: Path) -> Settings:
    """Configuration file (unless isolated), overridden by the command line."""
    for key, selectors in (("--select", cli.select), ("--extend-select", cli.extend_select),
                           ("--ignore", cli.ignore)):
        try:
            check_selectors(selectors, key)
        except InputError as error:
            raise InputError.one("convlint", None, f"{key}: {error.problems[0][1]}") from None
    base = Settings()
    if not cli.isolated:
        path = cli.config or find_config(start)
        if path is not None:
            from analyzer.files import missing

            if missing(str(path)):
                raise InputError.one(str(path), None, "no such configuration file")
            base = load_settings(path)
    settings = replace(base.selecting(cli.select, cli.extend_select, cli.ignore),
                       extend_exclude=base.extend_exclude + cli.extend_exclude,
                       force_exclude=cli.force_exclude or base.force_exclude)
    return settings.override(fail_on=cli.fail_on, input_shape=cli.input_shape, batch=cli.batch,
                             override_shape=cli.override_shape or None, exclude=cli.exclude)
