"""Strings from files and paths as valid Unicode, once, where they enter convlint; and the
"did you mean" of messages about unknown names.

Model files may hold invalid UTF-8 (decoded with replacement by the front ends), and file
names on POSIX are bytes: Python hands undecodable ones over as lone surrogates, which JSON
and SARIF encoders refuse. Display paths go through :func:`printable`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SURROGATE = re.compile("[\ud800-\udfff]")

UNSAFE_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""A regex character-class body: C0 and C1 controls, DEL, line and paragraph separators,
bidirectional overrides and isolates ("Trojan Source"). Never part of a spec name, always
escaped in output."""


def printable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a file name) shown as escapes
    (``\\udcff``): valid Unicode every encoder accepts; anything else is kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def _name_key(name: str) -> str:
    """A name as people misremember it: case, ``_`` and ``-`` ignored, and PyTorch's ``2d``
    suffix dropped (``MaxPool2d`` is ``max_pool``, ``out-channels`` is ``out_channels``)."""
    return re.sub(r"[123]d$", "", name.lower().replace("_", "").replace("-", ""))


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name ``word`` most likely meant: the same name spelt otherwise, a close
    spelling (difflib's ratio of at least 0.6), or a known name it starts with
    (``convolution``: ``conv``); None when nothing is close."""
    import difflib

    keys = {_name_key(k): k for k in known}
    key = _name_key(word[:100])
    if key in keys:
        return keys[key]
    close = difflib.get_close_matches(key, keys, n=1)
    if close:
        return keys[close[0]]
    prefixes = [k for k in keys if len(k) >= 3 and key.startswith(k)]
    return keys[max(prefixes, key=len)] if prefixes else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'out_channels'?)`` to follow an unknown name in a message, or ''."""
    match = closest(word, known)
    return f" (did you mean {match!r}?)" if match is not None else ""
