"""Front ends: read a file, return the common graph.

``.onnx`` files are ONNX, ``.json`` files are specs; anything else is recognised by content.
Only regular files are read (analyzer.files), and each within its limit (analyzer.limits).
"""

from __future__ import annotations

from pathlib import Path

from analyzer.errors import InputError
from analyzer.files import open_regular
from analyzer.graph import Model, Shape
from analyzer.limits import MAX_SPEC_BYTES


def load(path: str, input_shapes: dict[str, Shape] | None = None) -> Model:
    """Load an ONNX model or a JSON spec from ``path``."""
    with open_regular(path) as handle:
        try:
            head = handle.read(4096)
        except OSError as error:
            raise InputError.one(path, None, f"cannot read: {error.strerror or error}") from None
        if not head:
            raise InputError.one(path, None, "the file is empty")
        suffix = Path(path).suffix.lower()
        looks_like_json = head.lstrip()[:1] in (b"{", b"[")
        if suffix == ".json" and not looks_like_json and head[:1] == b"\x08":
            raise InputError.one(path, None, "not a JSON spec: this looks like an ONNX model (rename it to .onnx)")
        if suffix == ".json" or (suffix != ".onnx" and looks_like_json):
            if input_shapes:
                raise InputError.one(path, None, "--input-shape applies to ONNX models; a spec declares its input shapes")
            from analyzer.frontends.spec import load_spec

            return load_spec(path, head + _rest(path, handle, MAX_SPEC_BYTES - len(head), "the spec"))
        if looks_like_json:
            raise InputError.one(path, None, "not a valid ONNX model: this is a JSON file (rename it to .json to analyse it as a spec)")
        from analyzer.frontends.onnx import load_onnx

        return load_onnx(path, handle, input_shapes)


def _rest(path: str, handle, limit: int, what: str) -> bytes:
    """What is left of ``handle``, refused past ``limit`` more bytes."""
    try:
        data = handle.read(limit + 1)
    except OSError as error:
        raise InputError.one(path, None, f"cannot read: {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError.one(path, None, f"{what} is larger than {MAX_SPEC_BYTES // 2**20} MiB, convlint's limit")
    return data
