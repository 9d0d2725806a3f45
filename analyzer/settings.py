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

    [tool.convlint.per-node-ignores]  # ONNX node names (glob) -> codes
    "*/downsample/*" = ["F102"]
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes, parse_input_shapes
from analyzer.rules import RULES, SEVERITY_RANK, Severity

KEYS = ("select", "extend-select", "ignore", "per-node-ignores", "fail-on", "input-shape", "override-shape",
        "batch")


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
    source: str | None = None
    """The configuration file these settings came from, if any."""

    def enabled(self, code: str, node: str | None = None, node_ignores: tuple[str, ...] = ()) -> bool:
        rule = RULES.get(code)
        selected = _matches(code, self.select) if self.select else (rule is None or rule.default)
        selected = selected or _matches(code, self.extend_select)
        if not selected or _matches(code, self.ignore) or _matches(code, node_ignores):
            return False
        if node is not None:
            for pattern, codes in self.per_node_ignores:
                if fnmatch.fnmatchcase(node, pattern) and _matches(code, codes):
                    return False
        return True

    def input_sizes(self) -> InputSizes:
        """The what-if input sizes asked for (ValueError for a malformed input shape)."""
        return InputSizes(parse_input_shapes(self.input_shape), self.batch, self.override_shape)

    def fails(self, severity: str) -> bool:
        return SEVERITY_RANK[severity] >= SEVERITY_RANK[self.fail_on]

    def override(self, **changes: Any) -> Settings:
        """These settings with the command line's non-empty values taking precedence."""
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, (), [])})


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def check_selectors(selectors: tuple[str, ...], where: str) -> None:
    """Every selector must name a rule, a prefix of one, or ALL (as ruff does)."""
    for selector in selectors:
        if selector != "ALL" and not any(code.startswith(selector) for code in RULES):
            raise InputError.one(where, None, f"unknown rule code or prefix {selector!r} (see `convlint rules`)")


def find_config(start: Path) -> Path | None:
    """The nearest convlint.toml, or pyproject.toml with a [tool.convlint] table, upwards."""
    directory = start if start.is_dir() else start.parent
    for folder in (directory.resolve(), *directory.resolve().parents):
        dedicated = folder / "convlint.toml"
        if dedicated.is_file():
            return dedicated
        project = folder / "pyproject.toml"
        if project.is_file() and "tool" in (table := _read_toml(project)) and "convlint" in table["tool"]:
            return project
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(str(path), None, f"cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError.one(str(path), None, f"invalid TOML: {error}") from None


def load_settings(path: Path) -> Settings:
    table = _read_toml(path)
    if path.name == "pyproject.toml":
        table = table.get("tool", {}).get("convlint", {})
        where = "[tool.convlint]"
    else:
        where = "top level"
    source = str(path)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise InputError.one(source, where, f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError.one(source, f"{where} {key}", "must be a list of strings")
        return tuple(value)

    per_node = table.get("per-node-ignores", {})
    if not isinstance(per_node, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in per_node.values()
    ):
        raise InputError.one(source, f"{where} per-node-ignores", "must map node name patterns to lists of codes")
    override = table.get("override-shape", False)
    if not isinstance(override, bool):
        raise InputError.one(source, f"{where} override-shape", f"must be true or false, not {override!r}")
    batch = table.get("batch")
    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise InputError.one(source, f"{where} batch", f"must be a positive integer, not {batch!r}")
    fail_on = table.get("fail-on", "error")
    if fail_on not in SEVERITY_RANK:
        raise InputError.one(source, f"{where} fail-on", f"must be error, warning or info, not {fail_on!r}")
    settings = Settings(
        select=strings("select"),
        extend_select=strings("extend-select"),
        ignore=strings("ignore"),
        per_node_ignores=tuple((pattern, tuple(codes)) for pattern, codes in per_node.items()),
        fail_on=fail_on,
        input_shape=strings("input-shape"),
        override_shape=override,
        batch=batch,
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
            if not path.is_file():
                raise InputError.one(str(path), None, "no such configuration file")
            base = load_settings(path)
    # --select replaces the configured selection; --extend-select and --ignore add to it.
    return base.override(select=cli.select, extend_select=base.extend_select + cli.extend_select,
                         ignore=base.ignore + cli.ignore, fail_on=cli.fail_on,
                         input_shape=cli.input_shape, batch=cli.batch,
                         override_shape=cli.override_shape or None)
