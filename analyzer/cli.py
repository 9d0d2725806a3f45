"""The ``convlint`` command's entry point: ``convlint --version`` is answered at once, every
other command line by the typer application of :mod:`analyzer.commands` (``app``, imported
on first use)."""

from __future__ import annotations

import os
import sys
from typing import Any

from analyzer import __version__


def main() -> None:
    """Run the CLI. An internal error is one line and exit code 2, unless --debug is given."""
    if sys.argv[1:] == ["--version"]:  # needs no command-line parser: not even typer is imported
        sys.stdout.write(f"convlint {__version__}\n")
        return
    # pydantic validates convlint's own spec and config here; third-party pydantic plugins
    # (found by scanning every installed distribution's metadata: ~25 ms) have no part in it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from analyzer.commands import EXIT_INPUT, app

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        sys.exit(0)
    except Exception as error:
        if "--debug" in sys.argv:
            raise
        from analyzer.formatters.escape import terminal

        sys.stderr.write(f"error: internal error: {type(error).__name__}: {terminal(str(error))} (a bug in "
                         "convlint: run again with --debug for the traceback, and report it)\n")
        sys.exit(EXIT_INPUT)


def __getattr__(name: str) -> Any:
    if name == "app":
        from analyzer.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
