"""`convlint check`: expand paths, analyse every model (in parallel processes when there are
several), and gather one :class:`~analyzer.report.model.CheckReport`."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from analyzer import __version__
from analyzer.files import missing
from analyzer.limits import MAX_SPEC_BYTES
from analyzer.report.model import CheckReport, FileError, Report, Summary, Tool
from analyzer.settings import Settings, any_of
from analyzer.strings import printable

DEFAULT_EXCLUDE = (".*", "__pycache__", "build", "dist", "node_modules", "venv")
"""What folder searches leave out unless the ``exclude`` setting replaces it: hidden files and
folders (.git, .venv, .tox...), caches, build output. Virtual environments of any name (a
folder holding pyvenv.cfg) are always left out."""


@dataclass(frozen=True)
class Exclusions:
    """ruff-like exclusion globs. A pattern without a slash matches any file or folder of that
    name (``legacy``, ``*_old.onnx``); one with a slash matches a path relative to ``root``,
    the folder of the configuration file (``models/archive``, ``specs/*.json``)."""

    patterns: tuple[str, ...] = DEFAULT_EXCLUDE
    root: str = "."
    force: bool = False
    """Also leave out files named one by one (pre-commit names every staged file)."""

    def excluded(self, path: str, base: str) -> bool:
        """Whether ``path``, met while searching ``base``, is left out (name patterns match
        the names below ``base``)."""
        by_name, by_path = self._compiled
        names = Path(os.path.relpath(path, base)).parts
        if any(by_name.match(name) for name in names if name not in (".", "..")):
            return True
        inside = os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))
        if inside.startswith(".."):
            return False
        relative = Path(inside).parts
        return any(by_path.match("/".join(relative[:n])) for n in range(1, len(relative) + 1))

    def below(self, base: str) -> Callable[[str, str], bool]:
        """:meth:`excluded` for what a search of ``base`` meets under folders that passed it:
        called with an entry's name and its path below ``base``, it matches only what the
        entry adds (its name, and its whole path from ``root``), not every folder above."""
        by_name, by_path = self._compiled
        root, folder = os.path.abspath(self.root), os.path.abspath(base)
        inside = os.path.relpath(folder, root)
        if not inside.startswith(".."):  # base in root: paths from root are base's and below
            parts = () if inside == "." else Path(inside).parts
            if any(by_path.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
                return lambda name, below: True
            prefix = "".join(part + "/" for part in parts)
            return lambda name, below: by_name.match(name) is not None or by_path.match(prefix + below) is not None
        lower = os.path.relpath(root, folder)
        if lower.startswith(".."):  # root elsewhere: names only
            return lambda name, below: by_name.match(name) is not None
        start = lower + "/"  # root below base: paths from root within it
        return lambda name, below: by_name.match(name) is not None or (
            below.startswith(start) and by_path.match(below[len(start):]) is not None)

    @cached_property
    def _compiled(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """The patterns without a slash, and those with one, each as one regex: a folder search
        meets every file and folder, each matched against every pattern."""
        patterns = [pattern.removeprefix("./").rstrip("/") for pattern in self.patterns]
        return any_of(p for p in patterns if "/" not in p), any_of(p for p in patterns if "/" in p)


def _file_error(path: str, message: str) -> FileError:
    return FileError(path=printable(path), message=printable(message))


def is_spec(path: Path) -> bool:
    """A JSON file in a folder is checked when it is a convlint spec (an object with inputs and
    layers). Only regular files are opened, and read up to the spec size limit."""
    import json

    from analyzer.errors import InputError
    from analyzer.files import open_regular

    try:
        with open_regular(str(path)) as handle:
            document = json.loads(handle.read(MAX_SPEC_BYTES))
        return isinstance(document, dict) and "layers" in document and "inputs" in document
    except (InputError, OSError, ValueError, RecursionError):
        return False


@dataclass
class Found:
    """What a list of paths names: model files, paths that name nothing, and files skipped."""

    files: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    skipped: list[FileError] = field(default_factory=list)


def expand(paths: list[str], exclusions: Exclusions | None = None) -> Found:
    """Files, folders (searched for *.onnx and spec *.json) and globs -> model files.

    Folders and globs are searched alike: links to folders are not followed (those leading
    out of the searched folder are listed as skipped), nor are links to files outside it, and
    files that are not regular files (FIFOs, devices) are skipped, and said so: a pull request
    can add all of these. What ``exclusions`` match is left out in silence. A folder or glob
    that yields no model is an error: a CI job pointed at the wrong place must not pass."""
    exclusions = exclusions or Exclusions()
    found = Found()
    for item in paths:
        before = len(found.files)
        if not item:
            found.errors.append(_file_error('""', '"": the path is empty'))
            continue
        if any(c in item for c in "*?["):
            base, rest = _glob_parts(item)
            # named as glob.glob names them: "*.onnx" finds m.onnx, "./*.onnx" ./m.onnx
            matches = _search(base, _Pattern(rest, hidden=False), found, exclusions,
                              relative=base == "." and not item.startswith("./"))
            if matches is None:
                found.errors.append(_file_error(item, f"no models found under {item} (no file matches this pattern)"))
                continue
            for match in sorted(matches):
                _candidate(match, base, found)
        elif os.path.isdir(item):
            for path in _search(item, _Pattern(("**", "*"), hidden=True), found, exclusions,
                                suffixes=(".onnx", ".json")) or ():
                _candidate(path, item, found)
        elif not missing(item):  # what cannot be looked at is opened, and refused with the reason
            if not exclusions.force or not exclusions.excluded(item, exclusions.root):
                found.files.append(item)
            continue
        else:
            found.errors.append(_file_error(item, f"{item}: no such file or folder"))
            continue
        if len(found.files) == before:
            found.errors.append(_file_error(item, f"no models found under {item} (ONNX files or convlint specs)"))
    found.files = list(dict.fromkeys(found.files))
    return found


def _glob_parts(pattern: str) -> tuple[str, tuple[str, ...]]:
    """The folder a glob searches (its leading parts without wildcards) and the parts below."""
    parts = Path(pattern).parts
    plain = 0
    while plain < len(parts) and not any(c in parts[plain] for c in "*?["):
        plain += 1
    return (str(Path(*parts[:plain])) if plain else "."), parts[plain:]


@dataclass(frozen=True)
class _Pattern:
    """A glob below its base folder, matched one name at a time as the search goes down (so
    folders that cannot match are never entered). A state is the index of the next part to
    match; ``**`` matches any number of folders. As glob.glob, wildcards match no hidden name
    unless ``hidden``."""

    parts: tuple[str, ...]
    hidden: bool

    def start(self) -> frozenset[int]:
        return self._skip_stars({0})

    def step(self, states: frozenset[int], name: str) -> frozenset[int]:
        """The states after a folder or file of this name."""
        shown = self.hidden or not name.startswith(".")
        after = set()
        for state in states:
            if state == len(self.parts):
                continue
            part = self.parts[state]
            if part == "**":
                if shown:
                    after.add(state)
            elif (shown or part.startswith(".")) and fnmatch.fnmatchcase(name, part):
                after.add(state + 1)
        return self._skip_stars(after)

    def complete(self, states: frozenset[int]) -> bool:
        return len(self.parts) in states

    def _skip_stars(self, states: set[int]) -> frozenset[int]:
        done = set(states)
        for state in states:
            while state < len(self.parts) and self.parts[state] == "**":
                state += 1
                done.add(state)
        return frozenset(done)


def _search(base: str, pattern: _Pattern, found: Found, exclusions: Exclusions, relative: bool = False,
            suffixes: tuple[str, ...] = ("",)) -> list[str] | None:
    """The files below ``base`` that ``pattern`` matches and whose names end with one of
    ``suffixes``, named and ordered as os.walk names them (without the leading ``./`` when
    ``relative``); None when nothing matches, not even a folder. Links to folders are never
    followed, so a link loop costs nothing; those leading out of ``base`` are listed as
    skipped. Excluded names and virtual environments are left out; a folder that cannot be
    searched is an error."""
    matches: list[str] = []
    matched_folder = False
    real_base = os.path.realpath(base)
    excluded = exclusions.below(base)
    pending = [(base, pattern.start(), "")]
    while pending:
        folder, states, inside = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            if folder != base or not isinstance(error, (FileNotFoundError, NotADirectoryError)):
                where = error.filename or folder
                found.errors.append(_file_error(where, f"{where}: cannot search this folder: "
                                                       f"{error.strerror or error}"))
            continue
        below = []
        for entry in entries:
            after = pattern.step(states, entry.name)
            if not after:
                continue
            path = entry.path.removeprefix("./") if relative else entry.path
            name = entry.name
            if _is_folder(entry, follow=False):
                if not excluded(name, inside + name) and not os.path.lexists(os.path.join(path, "pyvenv.cfg")):
                    matched_folder |= pattern.complete(after)
                    below.append((path, after, inside + name + "/"))
            elif _is_folder(entry, follow=True):
                if not excluded(name, inside + name) and not _inside(path, real_base):
                    found.skipped.append(_file_error(path, f"a link to a folder outside {base}: not followed"))
            elif pattern.complete(after) and name.endswith(suffixes) and not excluded(name, inside + name):
                matches.append(path)
        pending.extend(reversed(below))
    return matches if matches or matched_folder else None


def _is_folder(entry: os.DirEntry, follow: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def _inside(path: str, real_folder: str) -> bool:
    """Whether ``path``, links followed, is in the folder whose real path is ``real_folder``."""
    return os.path.commonpath([os.path.realpath(path), real_folder]) == real_folder


def _candidate(path: str, folder: str, found: Found) -> None:
    """A file met while searching ``folder``: a model to check, or skipped (and why)."""
    from analyzer.files import not_regular

    if os.path.islink(path) and not _inside(path, os.path.realpath(folder)):
        found.skipped.append(_file_error(path, f"a link to a file outside {folder}: not followed"))
        return
    try:
        reason = not_regular(os.stat(path).st_mode)
    except OSError as error:
        found.skipped.append(_file_error(path, f"cannot read: {error.strerror or error}"))
        return
    if reason is not None:
        found.skipped.append(_file_error(path, f"{reason}: not read"))
    elif path.endswith(".onnx") or is_spec(Path(path)):
        found.files.append(path)


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
    except Exception as error:  # a bug: this model fails, the others are still checked
        return None, [f"{path}: internal error: {type(error).__name__}: {error} (a bug in convlint: "
                      "run `convlint --debug analyze` on this file for the traceback, and report it)"]


Outcome = tuple[Report | None, list[str]]


def _analyse(files: list[str], settings: Settings, workers: int,
             progress: Callable[[int, int], None] | None) -> dict[str, Outcome]:
    """Every file's outcome, in worker processes when there are several workers."""
    outcomes: dict[str, Outcome] = {}

    def record(path: str, outcome: Outcome) -> None:
        outcomes[path] = outcome
        if progress:
            progress(len(outcomes), len(files))

    if workers <= 1:
        for path in files:
            record(path, check_one(path, settings))
        return outcomes
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    _prepare(files)
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(check_one, path, settings): path for path in files}
            for future in as_completed(futures):
                record(futures[future], future.result())
    except BrokenProcessPool:
        # A worker died (killed, or native code crashed): the files not done yet are analysed
        # one at a time, each in a process of its own, so the one that kills it is named.
        for path in files:
            if path not in outcomes:
                record(path, _alone(path, settings))
    return outcomes


def _prepare(files: list[str]) -> None:
    """Import what analysing ``files`` takes (the front ends they need, every pass), so that
    worker processes forked from this one start with it instead of each importing it."""
    import analyzer.api
    import analyzer.passes
    import analyzer.report.build
    from analyzer.ops import _load

    _load()
    if any(path.endswith(".onnx") for path in files):
        from analyzer.frontends.onnx_messages import messages

        messages()
    if not all(path.endswith(".onnx") for path in files):
        import analyzer.frontends.spec_layers  # noqa: F401  (pydantic's validators of every layer)


def _alone(path: str, settings: Settings) -> Outcome:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(check_one, path, settings).result()
    except BrokenProcessPool:
        return None, [f"{path}: the process analysing this file died (killed, or a crash in native "
                      "code): a bug in convlint or its dependencies; please report it"]


def check_paths(paths: list[str], settings: Settings, jobs: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> CheckReport:
    found = expand(paths, settings.exclusions())
    files, errors = found.files, found.errors
    workers = min(jobs or os.cpu_count() or 1, len(files))
    outcomes = _analyse(files, settings, workers, progress)
    reports = [outcomes[f][0] for f in files if outcomes[f][0] is not None]
    for f in files:
        errors.extend(_file_error(f, line) for line in outcomes[f][1])
    findings = [d for r in reports for d in r.diagnostics]  # type: ignore[union-attr]
    return CheckReport(
        tool=Tool(name="convlint", version=__version__),
        files=reports,  # type: ignore[arg-type]
        errors=errors,
        skipped=found.skipped,
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
        tool=report.tool, files=[report], errors=[], skipped=[],
        summary=Summary(files=1, unreadable=0, errors=sum(d.severity == "error" for d in findings),
                        warnings=sum(d.severity == "warning" for d in findings),
                        info=sum(d.severity == "info" for d in findings)),
    )
