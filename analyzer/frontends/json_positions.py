"""Line and column of every value in a JSON document, by JSON pointer.

Specs report findings by JSON pointer (``/layers/3/kernel_size``); editors, SARIF viewers
and GitHub annotations want a line. This scanner walks the text once, iteratively (deep
nesting cannot overflow the stack), and records where each value starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

_WHITESPACE = " \t\r\n"


class LazyPositions(Mapping[str, tuple[int, int]]):
    """:func:`positions` of a text, scanned when first asked: only findings need them, and a
    spec of 100,000 layers takes seconds to scan."""

    def __init__(self, text: str | bytes) -> None:
        self._text: str | bytes | None = text
        self._found: dict[str, tuple[int, int]] = {}

    def _scanned(self) -> dict[str, tuple[int, int]]:
        if self._text is not None:
            text, self._text = self._text, None
            self._found = positions(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        return self._found

    def __getitem__(self, pointer: str) -> tuple[int, int]:
        return self._scanned()[pointer]

    def __iter__(self) -> Iterator[str]:
        return iter(self._scanned())

    def __len__(self) -> int:
        return len(self._scanned())


def positions(text: str) -> dict[str, tuple[int, int]]:
    """JSON pointer -> (line, column), 1-based, for every value; {} if the text is not JSON."""
    try:
        return _scan(text)
    except (IndexError, ValueError):
        return {}


def _scan(text: str) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    line_starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            line_starts.append(index + 1)

    def where(index: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(line_starts, index) - 1
        return line + 1, index - line_starts[line] + 1

    # stack entries: [pointer, kind ('{' or '['), next array index, pending key]
    stack: list[list] = []
    i = 0
    n = len(text)

    def child_pointer() -> str:
        if not stack:
            return ""
        pointer, kind, index, key = stack[-1]
        part = str(index) if kind == "[" else key.replace("~", "~0").replace("/", "~1")
        return f"{pointer}/{part}"

    expecting_key = False
    while i < n:
        char = text[i]
        if char in _WHITESPACE or char in ",:":
            if char == "," and stack and stack[-1][1] == "[":
                stack[-1][2] += 1
            if char == "," and stack and stack[-1][1] == "{":
                expecting_key = True
            i += 1
            continue
        if char in "}]":
            stack.pop()
            expecting_key = False
            i += 1
            continue
        if char == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if expecting_key:
                import json

                stack[-1][3] = json.loads(text[i:end + 1])
                expecting_key = False
            else:
                found[child_pointer()] = where(i)
            i = end + 1
            continue
        found[child_pointer()] = where(i)
        if char in "{[":
            stack.append([child_pointer(), char, 0, ""])
            expecting_key = char == "{"
            i += 1
            continue
        while i < n and text[i] not in _WHITESPACE and text[i] not in ",]}":
            i += 1
    return found


def locate(found: Mapping[str, tuple[int, int]], pointer: str | None) -> tuple[int, int] | None:
    """The position of ``pointer``, or of its nearest ancestor present in the document."""
    if pointer is None or not found:
        return None
    while pointer:
        if pointer in found:
            return found[pointer]
        pointer = pointer.rsplit("/", 1)[0]
    return found.get("")
