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
        """One line per problem; past analyzer.limits.MAX_PROBLEMS, the rest are counted."""
        from analyzer.limits import MAX_PROBLEMS

        lines = [
            f"{self.path}: {loc}: {msg}" if loc else f"{self.path}: {msg}"
            for loc, msg in self.problems[:MAX_PROBLEMS]
        ]
        if len(self.problems) > MAX_PROBLEMS:
            rest = len(self.problems) - MAX_PROBLEMS
            lines.append(f"{self.path}: and {rest:,} more problem{'s' if rest > 1 else ''}")
        return lines
