"""Strings from files and paths as valid Unicode, once, where they enter convlint.

Model files may hold invalid UTF-8 (decoded with replacement by the front ends), and file
names on POSIX are bytes: Python hands undecodable ones over as lone surrogates, which JSON
and SARIF encoders refuse. Display paths go through :func:`printable`.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a file name) shown as escapes
    (``\\udcff``): valid Unicode every encoder accepts; anything else is kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text
