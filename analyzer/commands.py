"""The ``convlint`` commands (typer), run by :func:`analyzer.cli.main`. Heavy modules are
imported inside commands so ``--help`` is instant.

Exit codes: 0 no finding at or above the fail level, 1 findings, 2 the input could not be read
or the command was misused.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from analyzer import __version__
from analyzer.limits import MAX_DIM, MAX_SCAN_SIZE

try:  # typer vendors click since 0.22
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_errors  # type: ignore[no-redef]

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
DEBUG = False
"""--debug before the command: internal errors show their traceback."""


def usage_message(error: Exception) -> str:
    """A usage error in one line, as every convlint error: ``--max: 0 is not in the range ...``."""
    param = getattr(error, "param", None)
    if isinstance(error, click_errors.MissingParameter) and param is not None:
        return f"missing {param.param_type_name} {_param_name(param)}"
    if isinstance(error, click_errors.BadParameter) and param is not None:
        return f"{_param_name(param)}: {_sentence(error.message.removeprefix('Value error, '))}"
    return _sentence(error.format_message())


def _param_name(param) -> str:
    """An option by its long name, an argument by its metavar (``--max``, ``MODEL``)."""
    if param.param_type_name == "option" and param.opts:
        return max(param.opts, key=len)
    return getattr(param, "metavar", None) or str(param.name).upper()


def _sentence(text: str) -> str:
    """click's message as the rest of a one-line convlint error: lower case first, no full stop."""
    text = " ".join(text.split()).removesuffix(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


class _Group(TyperGroup):
    """typer's group, with usage errors on one line (``error: --max: ...``, exit code 2)
    instead of a boxed panel with the usage; --help, --version and exit codes unchanged."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as error:
            typer.echo(error.format_message())  # the help, on standard output as --help writes it
            code = EXIT_INPUT
        except click_errors.ClickException as error:
            from analyzer.formatters.escape import terminal

            typer.echo(f"error: {terminal(usage_message(error))}", err=True)
            code = getattr(error, "exit_code", EXIT_INPUT)
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = EXIT_FINDINGS
        code = code if isinstance(code, int) else EXIT_OK
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Group,
    name="convlint",
    help="Static analysis of convolutional networks: shapes, receptive fields, parameters and "
    "mismatches of ONNX models and JSON architecture specs, without running them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: importing rich to draw it would double the time --help takes
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 1 << 16},  # the terminal's width
)


class Format(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    github = "github"
    html = "html"


FormatT = TypeVar("FormatT", bound=Enum)


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


class ScanFormat(str, Enum):
    text = "text"
    json = "json"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class SchemaName(str, Enum):
    spec = "spec"
    report = "report"


PathArgument = Annotated[str, typer.Argument(
    metavar="MODEL", help="An ONNX model, a JSON architecture spec, or a PyTorch module as package.module:name "
    "(an nn.Module, its class, or a function building it; needs --input-shape and convlint[torch]).")]
FORMAT_HELP = "Output format (default: the one --output's extension names, else text)."
FormatOption = Annotated[Format | None, typer.Option("--format", "-f", help=FORMAT_HELP)]
CheckFormatOption = Annotated[Format | None, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help="Output format: text, json, markdown, sarif or github (default: the one the --output file's extension "
    "names, else the first).")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the result to FILE.")]
SelectOption = Annotated[str | None, typer.Option("--select", metavar="CODES", help="Rule codes or prefixes to report, comma-separated (replaces the configured selection; ALL for every rule).")]
ExtendSelectOption = Annotated[str | None, typer.Option("--extend-select", metavar="CODES", help="Rule codes or prefixes to add to the selection.")]
IgnoreOption = Annotated[str | None, typer.Option("--ignore", metavar="CODES", help="Rule codes or prefixes not to report, comma-separated.")]
FailOnOption = Annotated[FailOn | None, typer.Option("--fail-on", help="Exit with 1 on findings of this severity or above (default: error).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", metavar="FILE", help="Read settings from FILE: a convlint.toml, or the [tool.convlint] table of a pyproject.toml-style file.")]
IsolatedOption = Annotated[bool, typer.Option("--isolated", help="Ignore configuration files.")]
InputShapeOption = Annotated[
    list[str] | None,
    typer.Option("--input-shape", metavar="NAME=DIMS", help="Analyse at these input dims: NAME=1x3x224x224 for ONNX and "
                 "PyTorch (every dim), NAME=3x512x512 for specs (per sample); NAME= may be left out for one input "
                 "(repeatable)."),
]
OverrideShapeOption = Annotated[
    bool,
    typer.Option("--override-shape", help="Let --input-shape and --batch replace dims an ONNX model fixes; "
                 "constants baked in at export that do not follow are reported (S109)."),
]
BatchOption = Annotated[
    int | None,
    typer.Option("--batch", min=1, max=MAX_DIM, metavar="N", help="Batch size: sets the inputs' batch dim, and totals give "
                 "MACs and activation memory per batch of N as well as per sample."),
]


# -- how the text report is shown (analyze) ----------------------------------------------------
WidthOption = Annotated[int | None, typer.Option("--width", min=0, metavar="N", help="Lay the text report out in N "
                        "columns (default: $COLUMNS, else the terminal's; 80 when piped or written to a file; 0: no "
                        "limit). Names move or are shortened to fit; figures never.")]
ColorOption = Annotated[Color, typer.Option("--color", help="Colour the text report: auto (on a terminal, unless "
                        "NO_COLOR is set), always, never.")]
ExactOption = Annotated[bool, typer.Option("--exact", help="Totals as exact integers (25,507,944 params), not "
                        "magnitudes (25.5 M).")]
AllNodesOption = Annotated[bool, typer.Option("--all-nodes", help="Rows for nodes computing constants only too "
                           "(hidden by default).")]
SummaryOption = Annotated[bool, typer.Option("--summary", help="Totals and findings only, no per-node table.")]
DepthOption = Annotated[int | None, typer.Option("--depth", min=1, metavar="N", help="One row per module N levels "
                        "deep in the node names (layer1.0.conv1, /layer1/layer1.0/conv1/Conv), as torchinfo's depth.")]


def _view(format: Format, output: Path | None, width: int | None, color: Color, exact: bool, all_nodes: bool,
          summary: bool, depth: int | None):
    """How the report is shown: the terminal's width and colour unless told otherwise."""
    import shutil

    from analyzer.formatters import View

    if width is None:
        width = shutil.get_terminal_size().columns if output is None else 80
    tty = output is None and format is Format.text and sys.stdout.isatty()
    colored = color is Color.always or (color is Color.auto and tty and not os.environ.get("NO_COLOR")
                                        and os.environ.get("TERM") != "dumb")
    return View(width=width or None, color=colored, exact=exact, all_nodes=all_nodes, summary=summary, depth=depth)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convlint {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an internal error (for bug reports).")] = False,
) -> None:
    """convlint: lint and analyse CNN architectures.

    Exit codes: 0 no finding at or above the fail level, 1 findings, 2 the input could not be
    read, the command was misused, or convlint failed (an internal error)."""
    global DEBUG
    DEBUG = debug


def _fail_input(lines: list[str]) -> NoReturn:
    from analyzer.formatters.escape import terminal

    for line in lines:
        typer.echo(f"error: {terminal(line)}", err=True)
    raise typer.Exit(EXIT_INPUT)


EXTENSIONS = {".txt": "text", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".sarif": "sarif",
              ".html": "html", ".htm": "html"}
"""The format an --output file's extension names, when --format is not given."""


def _chosen(format: FormatT | None, output: Path | None, formats: type[FormatT], command: str) -> FormatT:
    """The format asked for; else the one the output file's extension names; else text."""
    if format is not None:
        return format
    named = EXTENSIONS.get(output.suffix.lower()) if output is not None else None
    if named is None:
        return formats("text")
    if named not in formats.__members__:
        _fail_input([f"--output {output}: `convlint {command}` writes no {named} "
                     f"({', '.join(formats.__members__)}); give --format"])
    return formats(named)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail_input([f"{output}: cannot write: {error.strerror or error}"])


@app.command()
def analyze(
    path: PathArgument,
    format: FormatOption = None,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
    override_shape: OverrideShapeOption = False,
    batch: BatchOption = None,
    select: SelectOption = None,
    extend_select: ExtendSelectOption = None,
    ignore: IgnoreOption = None,
    fail_on: FailOnOption = None,
    config: ConfigOption = None,
    isolated: IsolatedOption = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
    width: WidthOption = None,
    color: ColorOption = Color.auto,
    exact: ExactOption = False,
    all_nodes: AllNodesOption = False,
    summary: SummaryOption = False,
    depth: DepthOption = None,
) -> None:
    """Report per node: output shape, receptive field, parameters, MACs, and every mismatch."""
    from analyzer.api import analyze_path, paused_gc
    from analyzer.errors import InputError

    format = _chosen(format, output, Format, "analyze")
    settings = _settings(path, select, extend_select, ignore, fail_on, input_shape, config, isolated,
                         override_shape, batch)
    sizes = _input_sizes(settings)
    with paused_gc():  # the report and its text are long-lived: nothing for the collector to find
        try:
            report = analyze_path(path, settings, sizes, debug=debug or DEBUG)
        except InputError as error:
            _fail_input(error.lines())
        view = _view(format, output, width, color, exact, all_nodes, summary, depth)
        if format in (Format.text, Format.json, Format.html):
            from analyzer.formatters import formatter

            text = formatter(format.value)(report, view)
        else:
            from analyzer.formatters.findings import FORMATS, render_markdown
            from analyzer.lint import single

            text = render_markdown(single(report), view=view) if format is Format.markdown else \
                FORMATS[format.value](single(report), view.color)
    _write(text, output)
    if any(settings.fails(d.severity) for d in report.diagnostics):
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def check(
    paths: Annotated[list[str] | None, typer.Argument(metavar="PATHS", help="ONNX models, JSON specs, folders or globs (default: the current folder).")] = None,
    format: CheckFormatOption = None,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
    override_shape: OverrideShapeOption = False,
    batch: BatchOption = None,
    select: SelectOption = None,
    extend_select: ExtendSelectOption = None,
    ignore: IgnoreOption = None,
    fail_on: FailOnOption = None,
    config: ConfigOption = None,
    isolated: IsolatedOption = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, metavar="N", help="Parallel processes (default: one per core).")] = None,
    models_only: Annotated[bool, typer.Option("--models-only", help="Skip named .json files that are not convlint specs (for pre-commit).")] = False,
    exclude: Annotated[str | None, typer.Option("--exclude", metavar="GLOBS", help="Files and folders to leave out of folder searches, comma-separated (replaces the configured and default exclusions).")] = None,
    extend_exclude: Annotated[str | None, typer.Option("--extend-exclude", metavar="GLOBS", help="Files and folders to leave out as well, comma-separated.")] = None,
    force_exclude: Annotated[bool, typer.Option("--force-exclude", help="Apply the exclusions to files named one by one too (pre-commit).")] = False,
) -> None:
    """Lint models for CI and pre-commit: findings only, exit code 1 at the fail level."""
    from analyzer.formatters.findings import FORMATS
    from analyzer.lint import check_paths, is_spec

    format = _chosen(format, output, Format, "check")
    if format is Format.html:
        _fail_input(["--format html draws one model: use `convlint analyze MODEL --format html`"])
    named = paths or ["."]
    if models_only:  # pre-commit names staged files: other JSON files are none of convlint's business
        named = [p for p in named if not p.endswith(".json") or not os.path.isfile(p) or is_spec(Path(p))]
    settings = _settings(named[0] if named else ".", select, extend_select, ignore, fail_on, input_shape, config,
                         isolated, override_shape, batch, _globs(exclude), _globs(extend_exclude), force_exclude)
    _input_sizes(settings)  # a malformed --input-shape is a usage error, not one per model
    with _progress() as progress:
        run = check_paths(named, settings, jobs, progress)
    _write(FORMATS[format.value](run, False), output)
    if run.errors:
        raise typer.Exit(EXIT_INPUT)
    if any(settings.fails(d.severity) for report in run.files for d in report.diagnostics):
        raise typer.Exit(EXIT_FINDINGS)


class DiffFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def diff(
    old: Annotated[str, typer.Argument(metavar="OLD", help="The model before the change (ONNX or spec).")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The model after the change (ONNX or spec).")],
    format: Annotated[DiffFormat | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
    override_shape: OverrideShapeOption = False,
    batch: BatchOption = None,
    select: SelectOption = None,
    extend_select: ExtendSelectOption = None,
    ignore: IgnoreOption = None,
    fail_on: FailOnOption = None,
    config: ConfigOption = None,
    isolated: IsolatedOption = False,
) -> None:
    """What a change did to a model: nodes added, removed and changed, totals, findings.

    Exits with 1 when the new version has new findings at the fail level."""
    from analyzer.api import diff_sources, paused_gc
    from analyzer.errors import InputError
    from analyzer.formatters.diff import FORMATS

    format = _chosen(format, output, DiffFormat, "diff")
    settings = _settings(new, select, extend_select, ignore, fail_on, input_shape, config, isolated,
                         override_shape, batch)
    with paused_gc():  # the text too is made of the long-lived results
        try:
            result = diff_sources(old, new, _input_sizes(settings), settings)
        except InputError as error:
            _fail_input(error.lines())
        text = FORMATS[format.value](result)
    _write(text, output)
    if any(settings.fails(f.severity) for f in result.new_findings):
        raise typer.Exit(EXIT_FINDINGS)


@app.command("export-spec")
def export_spec(
    path: Annotated[str, typer.Argument(metavar="MODEL", help="An ONNX model.")],
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
) -> None:
    """Write the JSON spec equivalent of an ONNX model (one layer per line, for readable diffs).

    Exits with 1, writing nothing, when some op has no spec equivalent."""
    from analyzer.frontends.spec_export import NotExportable, dump
    from analyzer.frontends.spec_export import export_spec as export
    from analyzer.passes import analyze as run_passes

    model = _load(path, _shapes_only(input_shape))
    if model.format != "onnx":
        _fail_input([f"{path}: export-spec takes an ONNX model; this is already a spec"])
    try:
        spec = export(run_passes(model))
    except NotExportable as error:
        from analyzer.formatters.escape import terminal

        for problem in error.problems:
            typer.echo(f"error: {terminal(f'{path}: {problem}')}", err=True)
        raise typer.Exit(EXIT_FINDINGS) from None
    _write(dump(spec), output)


def _globs(value: str | None) -> tuple[str, ...]:
    """A comma-separated option's items."""
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _split(value: str | None) -> tuple[str, ...]:
    """Rule codes or prefixes, as written in any case."""
    return tuple(v.upper() for v in _globs(value))


def _settings(start: str, select, extend_select, ignore, fail_on, input_shape, config, isolated,
              override_shape: bool = False, batch: int | None = None, exclude: tuple[str, ...] = (),
              extend_exclude: tuple[str, ...] = (), force_exclude: bool = False):
    from analyzer.errors import InputError
    from analyzer.settings import Cli, resolve_settings

    cli = Cli(select=_split(select), extend_select=_split(extend_select), ignore=_split(ignore),
              fail_on=fail_on.value if fail_on else None, input_shape=tuple(input_shape or ()),
              override_shape=override_shape, batch=batch, config=config, isolated=isolated,
              exclude=exclude, extend_exclude=extend_exclude, force_exclude=force_exclude)
    try:
        return resolve_settings(cli, Path(start) if os.path.exists(start) else Path.cwd())
    except InputError as error:
        _fail_input(error.lines())


class _progress:
    """A rich progress bar on stderr when it is a terminal and several models are checked."""

    def __enter__(self):
        self.bar = None
        self.task = None
        return self.update if sys.stderr.isatty() else None

    def update(self, done: int, total: int) -> None:
        if total < 2:
            return
        if self.bar is None:
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("checking", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def sizes(
    path: PathArgument,
    low: Annotated[int, typer.Option("--min", min=1, max=MAX_SCAN_SIZE, metavar="N", help="Smallest size to try.")] = 1,
    high: Annotated[int, typer.Option("--max", min=1, max=MAX_SCAN_SIZE, metavar="N",
                                      help=f"Largest size to try (at most {MAX_SCAN_SIZE:,}).")] = 4096,
    check: Annotated[
        list[int] | None, typer.Option("--size", "-s", min=1, max=MAX_SCAN_SIZE, metavar="N", help="Say whether this size is valid, and why not, within --min..--max or not (repeatable).")
    ] = None,
    format: Annotated[ScanFormat | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
) -> None:
    """Which input sizes the model accepts, per spatial axis, and why the others fail."""
    from analyzer.formatters.sizes import render_json, render_text
    from analyzer.passes.sizes import scan_sizes

    format = _chosen(format, output, ScanFormat, "sizes")
    if low > high:
        _fail_input([f"--min {low} is larger than --max {high}"])
    model = _load(path, _shapes_only(input_shape))
    result = scan_sizes(model, low, high)
    render = render_json if format is ScanFormat.json else render_text
    _write(render(model, result, list(check or [])), output)
    if any(not axis.valid for axis in result.axes):
        raise typer.Exit(EXIT_FINDINGS)


def _input_sizes(settings):
    try:
        return settings.input_sizes()
    except ValueError as error:
        _fail_input([str(error)])


def _shapes_only(input_shape: list[str] | None):
    """The what-if sizes of --input-shape alone (commands without --batch)."""
    from analyzer.settings import Settings

    return _input_sizes(Settings(input_shape=tuple(input_shape or ())))


def _load(path: str, sizes):
    """The model at ``path`` (or a PyTorch reference), its inputs at what-if ``sizes``."""
    from analyzer.errors import InputError
    from analyzer.frontends import load_source

    try:
        return load_source(path, sizes)
    except InputError as error:
        _fail_input(error.lines())


class RulesFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def rules(
    format: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] = RulesFormat.text,
) -> None:
    """List every rule: code, default severity, whether it is on by default, summary."""
    from analyzer.formatters.rules import rules_markdown, rules_table

    if format is RulesFormat.json:
        import json
        from dataclasses import asdict

        from analyzer.rules import RULES

        sys.stdout.write(json.dumps([asdict(r) for r in RULES.values()], indent=2) + "\n")
    else:
        sys.stdout.write(rules_markdown() if format is RulesFormat.markdown else rules_table())


@app.command()
def rule(code: Annotated[str, typer.Argument(metavar="CODE", help="A rule code, e.g. F101.")]) -> None:
    """Explain one rule: what it does, why it matters, an example, the fix."""
    from analyzer.formatters.rules import rule_text
    from analyzer.rules import RULES

    found = RULES.get(code.upper())
    if found is None:
        _fail_input([f"unknown rule {code!r}; `convlint rules` lists them"])
    sys.stdout.write(rule_text(found))


@app.command()
def schema(
    which: Annotated[SchemaName, typer.Argument(help="spec: the JSON spec format; report: the JSON report.")],
) -> None:
    """Print a JSON Schema (the files in schemas/ are these)."""
    from analyzer.schemas import schema_text

    sys.stdout.write(schema_text(which.value))
