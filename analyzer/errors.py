"""Errors that stop convlint before analysis: the input could not be read (exit code 2)."""

from __future__ import annotations

from analyzer.strings import printable


class InputError(Exception):
    """An input that cannot be turned into a graph: unreadable, invalid, or inconsistent.

    Carries one or more one-line problems, each with the place in the file it concerns.
    """

    def __init__(self, path: str, problems: list[tuple[str | None, str]]):
        self.path = printable(path)
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    @classmethod
    def one(cls, path: str, location: str | None, message: str) -> InputError:
        return cls(path, [(location, message)])

    def lines(self) -> list[str]:
        return [
            f"{self.path}: {loc}: {msg}" if loc else f"{self.path}: {msg}"
            for loc, msg in self.problems
        ]
