"""pytest helpers: architecture tests in your own suite, failing the way ``convlint check`` does.

    from analyzer.testing import assert_no_findings, check_model, models_in

    @models_in("models")                          # one test per ONNX model and spec in models/
    def test_architecture(model):
        check_model(model)                        # fails on warnings and errors

    def test_unet_at_the_training_size():
        report = check_model("models/unet.json", input_shapes={"image": (3, 512, 512)}, batch=16)
        assert report.node("logits").outputs[0].shape == [2, 512, 512]

A failing check raises AssertionError listing each finding as `convlint check` prints it
(``path:line:col: CODE [severity] node: message``). pytest is needed only by
:func:`models_in`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.report.model import Report
from analyzer.rules import SEVERITY_RANK, Severity

__all__ = ["assert_no_findings", "check_model", "model_files", "models_in"]


def assert_no_findings(report: Report, fail_on: Severity = "warning", *, ignore: Iterable[str] = ()) -> None:
    """Fail when ``report`` has findings of severity ``fail_on`` or above (``error``,
    ``warning`` or ``info``), leaving out the codes or prefixes in ``ignore``."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    from analyzer.formatters.findings import finding_line

    if fail_on not in SEVERITY_RANK:
        raise ValueError(f"fail_on must be error, warning or info, not {fail_on!r}")
    skipped = tuple(code.upper() for code in ignore)
    failing = [d for d in report.diagnostics if SEVERITY_RANK[d.severity] >= SEVERITY_RANK[fail_on]
               and not d.code.startswith(skipped or ("\0",))]
    if failing:
        count = f"{len(failing)} finding{'s' * (len(failing) != 1)}"
        lines = [finding_line(report, d) for d in failing]
        raise AssertionError(f"convlint: {count} at or above {fail_on} in {report.model.path}:\n" + "\n".join(lines))


def check_model(source: Any, fail_on: Severity = "warning", **options: Any) -> Report:
    """Analyse ``source`` (anything :func:`analyzer.api.analyze` takes, with its keyword
    arguments: ``input_shapes``, ``batch``, ``select``...) and :func:`assert_no_findings`;
    the report, for further checks. A source that cannot be read fails with the reasons."""
    __tracebackhide__ = True
    from analyzer.api import analyze

    try:
        report = analyze(source, **options)
    except InputError as error:
        raise AssertionError("convlint cannot read the model:\n" + "\n".join(error.lines())) from None
    assert_no_findings(report, fail_on, ignore=options.get("ignore") or ())
    return report


def model_files(*folders: str | PathLike[str]) -> list[str]:
    """The ONNX models and convlint specs in ``folders`` (searched as `convlint check`
    searches them; files and globs are taken as they are). A folder without any is an error:
    a test over nothing passes silently."""
    from analyzer.lint import expand

    found = expand([str(f) for f in folders])
    if found.errors or not found.files:
        problems = "; ".join(f"{e.path}: {e.message}" for e in found.errors) or "no ONNX model or spec"
        raise ValueError(f"no models to test in {', '.join(map(str, folders))}: {problems}")
    return found.files


def models_in(*folders: str | PathLike[str], argument: str = "model") -> Callable[[Callable], Callable]:
    """Parametrize a test over :func:`model_files` (``argument``: the test's parameter),
    each case named by its file."""
    import os

    import pytest

    files = model_files(*folders)
    root = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
    ids = [Path(os.path.relpath(os.path.abspath(f), root)).as_posix() for f in files]
    return pytest.mark.parametrize(argument, files, ids=ids)
