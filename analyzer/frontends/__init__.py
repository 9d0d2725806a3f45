"""Front ends: read a file, return the common graph.

``.onnx`` files are ONNX, ``.json`` files are specs; anything else is recognised by content.
"""

from __future__ import annotations

from pathlib import Path

from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes
from analyzer.graph import Model, Shape


def load(path: str, input_shapes: dict[str, Shape] | InputSizes | None = None) -> Model:
    """Load an ONNX model or a JSON spec from ``path``, its inputs at ``input_shapes`` (what-if
    sizes: input shapes alone, or with a batch size and leave to override fixed dims)."""
    sizes = input_shapes if isinstance(input_shapes, InputSizes) else InputSizes(dict(input_shapes or {}))
    file = Path(path)
    try:
        if file.is_dir():
            raise InputError.one(path, None, "is a directory, not a model file")
        with open(file, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        raise InputError.one(path, None, "no such file") from None
    except PermissionError:
        raise InputError.one(path, None, "permission denied") from None
    except OSError as error:
        raise InputError.one(path, None, f"cannot read: {error.strerror or error}") from None
    if not head:
        raise InputError.one(path, None, "the file is empty")
    suffix = file.suffix.lower()
    looks_like_json = head.lstrip()[:1] in (b"{", b"[")
    if suffix == ".json" and not looks_like_json and head[:1] == b"\x08":
        raise InputError.one(path, None, "not a JSON spec: this looks like an ONNX model (rename it to .onnx)")
    if suffix == ".json" or (suffix != ".onnx" and looks_like_json):
        from analyzer.frontends.spec import load_spec

        return load_spec(path, file.read_bytes(), sizes)
    if looks_like_json:
        raise InputError.one(path, None, "not a valid ONNX model: this is a JSON file (rename it to .json to analyse it as a spec)")
    from analyzer.frontends.onnx import load_onnx

    return load_onnx(path, sizes)
