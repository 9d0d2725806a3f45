"""Escaping of untrusted strings for each output format.

Names, dims, op types, attribute values and paths come from files in pull requests. Written
as they are, a node name can clear a terminal and print a fake verdict, forge a GitHub
Actions workflow command (a line of its own starting with ``::``), or end a Markdown code
fence and post free text, images and mentions in a pull-request comment. Every formatter
passes every such string through the function for its format; JSON and SARIF are escaped by
their encoder, the HTML page sets text only (never markup).
"""

from __future__ import annotations

import re

from analyzer.strings import UNSAFE_CHARACTERS, printable

__all__ = ["line_start", "markdown", "markdown_code", "mermaid_label", "printable", "terminal", "text_lines",
           "workflow_data", "workflow_property"]

# Unsafe characters (analyzer.strings), and lone surrogates (undecodable bytes of file names).
_UNSAFE = re.compile(rf"[{UNSAFE_CHARACTERS}\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """Control characters shown as escapes (``\\n``, ``\\x1b``): one line, no terminal
    commands, no reordering of what follows."""
    return _UNSAFE.sub(_visible, text) if _UNSAFE.search(text) else text


def line_start(text: str) -> str:
    """Terminal text that begins a line: the GitHub Actions runner reads a line that starts
    with ``::`` after blanks as a workflow command, so such text shows its first colon as
    ``\\x3a``."""
    text = terminal(text)
    stripped = text.lstrip()
    if not stripped.startswith("::"):
        return text
    return text[: len(text) - len(stripped)] + "\\x3a" + stripped[1:]


_MARKUP = re.compile(r"([\\`*_\[\]<>!|~@&:#$])")


def markdown(text: str) -> str:
    """Plain text in a Markdown line (a table cell, a list item): the punctuation that can
    start markup is backslash-escaped (CommonMark allows it for every ASCII punctuation mark),
    so nothing becomes a link, an image, an HTML tag, a mention, an emoji, math, a code span
    or a table column."""
    return _MARKUP.sub(r"\\\1", terminal(text))


def markdown_code(text: str) -> str:
    """A Markdown code span of ``text``: the fence is longer than any run of backticks
    inside, ``|`` is escaped for GitHub tables, and controls are shown as escapes."""
    text = terminal(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 _.,:/()+=?-]")


def mermaid_label(text: str) -> str:
    """Text in a quoted Mermaid label: everything but letters, digits and plain punctuation
    becomes an entity code (``#60;``), so a label can neither end itself, the diagram or
    the fence, nor carry markup."""
    return "".join(c if _MERMAID_SAFE.fullmatch(c) else f"#{ord(c)};" for c in terminal(text))


def workflow_data(text: str) -> str:
    """The message of a GitHub Actions workflow command (``::error ...::MESSAGE``)."""
    return terminal(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property value of a workflow command (``file=``, ``title=``)."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def text_lines(lines: list[str]) -> str:
    """Lines of a plain-text format, each kept on its line: a newline or escape sequence in a
    name inside one becomes visible text instead of a line (or command) of its own."""
    return "".join(line_start(line) + "\n" for line in lines)
