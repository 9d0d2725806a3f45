"""The ``convlint`` command. Heavy modules are imported inside commands so ``--help`` is instant.

Exit codes: 0 no finding at or above the fail level, 1 findings, 2 the input could not be read
or the command was misused.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from analyzer import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2

app = typer.Typer(
    name="convlint",
    help="Static analysis of convolutional networks: shapes, receptive fields, parameters and "
    "mismatches of ONNX models and JSON architecture specs, without running them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"


class SchemaName(str, Enum):
    spec = "spec"
    report = "report"


PathArgument = Annotated[str, typer.Argument(help="An ONNX model or a JSON architecture spec.")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOption = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the result to FILE.")]
InputShapeOption = Annotated[
    Optional[list[str]],
    typer.Option("--input-shape", help="Fix an ONNX input's dims: NAME=1x3x224x224 (repeatable)."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convlint {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """convlint: lint and analyse CNN architectures."""


def _fail_input(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(EXIT_INPUT)


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
    format: FormatOption = Format.text,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Report per node: output shape, receptive field, parameters, MACs, and every mismatch."""
    from analyzer.formatters import formatter
    from analyzer.passes import analyze as run_passes
    from analyzer.report.build import build_report

    model = _load(path, input_shape)
    report = build_report(run_passes(model, debug=debug))
    color = output is None and format is Format.text and sys.stdout.isatty()
    _write(formatter(format.value)(report, color), output)
    if any(d.severity == "error" for d in report.diagnostics):
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def sizes(
    path: PathArgument,
    low: Annotated[int, typer.Option("--min", min=1, help="Smallest size to try.")] = 1,
    high: Annotated[int, typer.Option("--max", min=1, help="Largest size to try.")] = 4096,
    check: Annotated[
        Optional[list[int]], typer.Option("--size", "-s", help="Say whether this size is valid, and why not (repeatable).")
    ] = None,
    format: FormatOption = Format.text,
    output: OutputOption = None,
    input_shape: InputShapeOption = None,
) -> None:
    """Which input sizes the model accepts, per spatial axis, and why the others fail."""
    from analyzer.formatters.sizes import render_json, render_text
    from analyzer.passes.sizes import scan_sizes

    if low > high:
        _fail_input([f"--min {low} is larger than --max {high}"])
    model = _load(path, input_shape)
    result = scan_sizes(model, low, high)
    render = render_json if format is Format.json else render_text
    _write(render(model, result, list(check or [])), output)
    if any(not axis.valid for axis in result.axes):
        raise typer.Exit(EXIT_FINDINGS)


def _load(path: str, input_shape: list[str] | None):
    from analyzer.errors import InputError
    from analyzer.frontends import load
    from analyzer.frontends.onnx import parse_input_shapes

    try:
        return load(path, parse_input_shapes(input_shape or []))
    except ValueError as error:
        _fail_input([str(error)])
    except InputError as error:
        _fail_input(error.lines())


@app.command()
def schema(
    which: Annotated[SchemaName, typer.Argument(help="spec: the JSON spec format; report: the JSON report.")],
) -> None:
    """Print a JSON Schema (the files in schemas/ are these)."""
    from analyzer.schemas import schema_text

    sys.stdout.write(schema_text(which.value))


def main() -> None:
    app()
