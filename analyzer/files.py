"""Opening the files users name, safely: only regular files are read.

A model path comes from a command line or a folder walk over a pull request's files, so it
may name a FIFO (reading it blocks forever), a device (``/dev/zero`` never ends), or a link to
either. Such files are refused before they are read: the path is checked first, and the
descriptor again once open (the file could have been swapped in between).
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from analyzer.errors import InputError

_KINDS = (
    (stat.S_ISDIR, "is a directory, not a model file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def not_regular(mode: int) -> str | None:
    """Why a file of this mode is not read, or None for a regular file."""
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "is not a regular file"


def missing(path: str) -> bool:
    """Whether nothing is at ``path``. A path that cannot be looked at (permission denied, a
    name too long) is not missing: opening it says what is wrong."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except (OSError, ValueError):
        return False
    return False


def _refuse(path: str, error: OSError) -> InputError:
    if isinstance(error, FileNotFoundError):
        return InputError.one(path, None, "no such file")
    if isinstance(error, PermissionError):
        return InputError.one(path, None, "permission denied")
    return InputError.one(path, None, f"cannot read: {error.strerror or type(error).__name__}")


def open_regular(path: str) -> BinaryIO:
    """``path`` opened for binary reading, or InputError when it is not a readable regular
    file (links are followed; what they lead to must be a regular file)."""
    if not path:
        raise InputError.one('""', None, "the path is empty: name a model file")
    try:
        reason = not_regular(os.stat(path).st_mode)
        if reason is None:
            descriptor = os.open(path, _FLAGS)
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        if isinstance(error, ValueError):
            raise InputError.one(path, None, "cannot read: the path contains a NUL byte") from None
        raise _refuse(path, error) from None
    if reason is not None:
        raise InputError.one(path, None, reason)
    try:
        reason = not_regular(os.fstat(descriptor).st_mode)
    except OSError as error:
        os.close(descriptor)
        raise _refuse(path, error) from None
    if reason is not None:
        os.close(descriptor)
        raise InputError.one(path, None, reason)
    return os.fdopen(descriptor, "rb")
