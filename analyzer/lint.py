"""`convlint check`: expand paths, analyse every model (in parallel processes when there are
several), and gather one :class:`~analyzer.report.model.CheckReport`."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from analyzer import __version__
from analyzer.report.model import CheckReport, FileError, Report, Summary, Tool
from analyzer.settings import Settings

SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".mypy_cache",
                ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs"}


def is_spec(path: Path) -> bool:
    """A JSON file in a folder is checked when it is a convlint spec (an object with inputs and layers)."""
    try:
        import json

        with open(path, "rb") as handle:
            document = json.loads(handle.read(64 * 1024 * 1024))
        return isinstance(document, dict) and "layers" in document and "inputs" in document
    except (OSError, ValueError, RecursionError):
        return False


def expand(paths: list[str]) -> tuple[list[str], list[FileError]]:
    """Files, folders (searched for *.onnx and spec *.json) and globs -> model files."""
    found: list[str] = []
    errors: list[FileError] = []
    for item in paths:
        if any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                errors.append(FileError(path=item, message="no file matches this pattern"))
            found.extend(m for m in matches if Path(m).is_file())
            continue
        path = Path(item)
        if path.is_dir():
            found.extend(_walk(path))
        elif path.exists():
            found.append(item)
        else:
            errors.append(FileError(path=item, message="no such file or folder"))
    unique = list(dict.fromkeys(found))
    return unique, errors


def _walk(folder: Path) -> list[str]:
    models = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")
                         and not (Path(root, d) / "pyvenv.cfg").exists())
        for name in sorted(files):
            path = Path(root, name)
            if name.endswith(".onnx") or (name.endswith(".json") and is_spec(path)):
                models.append(str(path))
    return models


def check_one(path: str, settings: Settings) -> tuple[Report | None, list[str]]:
    """Analyse one model: its report, or the lines saying why it cannot be read."""
    from analyzer.api import analyze_path
    from analyzer.errors import InputError
    from analyzer.frontends.inputs import InputSizes

    try:
        sizes = settings.input_sizes()
        if not path.endswith(".onnx"):  # input shapes name ONNX inputs; a batch size fits every model
            sizes = InputSizes(batch=sizes.batch)
        return analyze_path(path, settings, sizes), []
    except InputError as error:
        return None, error.lines()
    except ValueError as error:
        return None, [f"{path}: {error}"]


def check_paths(paths: list[str], settings: Settings, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> CheckReport:
    files, errors = expand(paths)
    outcomes: dict[str, tuple[Report | None, list[str]]] = {}
    workers = min(jobs or os.cpu_count() or 1, len(files))
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(check_one, f, settings): f for f in files}
            for done, future in enumerate(as_completed(futures), start=1):
                outcomes[futures[future]] = future.result()
                if progress:
                    progress(done, len(files))
    else:
        for done, f in enumerate(files, start=1):
            outcomes[f] = check_one(f, settings)
            if progress:
                progress(done, len(files))
    reports = [outcomes[f][0] for f in files if outcomes[f][0] is not None]
    for f in files:
        errors.extend(FileError(path=f, message=line) for line in outcomes[f][1])
    findings = [d for r in reports for d in r.diagnostics]  # type: ignore[union-attr]
    return CheckReport(
        tool=Tool(name="convlint", version=__version__),
        files=reports,  # type: ignore[arg-type]
        errors=errors,
        summary=Summary(
            files=len(files),
            unreadable=len({e.path for e in errors}),
            errors=sum(d.severity == "error" for d in findings),
            warnings=sum(d.severity == "warning" for d in findings),
            info=sum(d.severity == "info" for d in findings),
        ),
    )


def single(report: Report) -> CheckReport:
    """One analysed model as a CheckReport, so every multi-model format serves `analyze` too."""
    findings = report.diagnostics
    return CheckReport(
        tool=report.tool, files=[report], errors=[],
        summary=Summary(files=1, unreadable=0, errors=sum(d.severity == "error" for d in findings),
                        warnings=sum(d.severity == "warning" for d in findings),
                        info=sum(d.severity == "info" for d in findings)),
    )
