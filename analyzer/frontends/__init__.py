"""Front ends: read a file, return the common graph. Chosen by content, not by name alone."""

from __future__ import annotations

from pathlib import Path

from analyzer.errors import InputError
from analyzer.graph import Model


def load(path: str) -> Model:
    """Load an ONNX model or a JSON spec from ``path``."""
    file = Path(path)
    try:
        if file.is_dir():
            raise InputError.one(path, None, "is a directory, not a model file")
        data = file.read_bytes()
    except FileNotFoundError:
        raise InputError.one(path, None, "no such file") from None
    except PermissionError:
        raise InputError.one(path, None, "permission denied") from None
    except OSError as error:
        raise InputError.one(path, None, f"cannot read: {error.strerror or error}") from None
    if not data.strip():
        raise InputError.one(path, None, "the file is empty")
    if _looks_like_json(data):
        from analyzer.frontends.spec import load_spec

        return load_spec(path, data)
    if file.suffix.lower() == ".json":
        raise InputError.one(path, None, "not a JSON file (it does not start with '{')")
    raise InputError.one(path, None, "not a JSON spec; ONNX models are not supported yet")


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")
