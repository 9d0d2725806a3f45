"""Front ends: read a file, return the common graph.

``.onnx`` files are ONNX, ``.json`` files are specs; anything else is recognised by content.
Only regular files are read (analyzer.files), and each within its limit (analyzer.limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.files import missing, open_regular
from analyzer.frontends.inputs import InputSizes
from analyzer.graph import Model, Shape
from analyzer.limits import MAX_SPEC_BYTES

SPEC_SOURCE = "<spec>"
ONNX_SOURCE = "<onnx>"
"""What a model given in memory is called in reports and messages, in place of a path."""


def load(path: str, input_shapes: dict[str, Shape] | InputSizes | None = None) -> Model:
    """Load an ONNX model or a JSON spec from ``path``, its inputs at ``input_shapes`` (what-if
    sizes: input shapes alone, or with a batch size and leave to override fixed dims)."""
    sizes = input_shapes if isinstance(input_shapes, InputSizes) else InputSizes(dict(input_shapes or {}))
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
            from analyzer.frontends.spec import load_spec

            return load_spec(path, head + _rest(path, handle, MAX_SPEC_BYTES - len(head), "the spec"), sizes)
        if looks_like_json:
            raise InputError.one(path, None, "not a valid ONNX model: this is a JSON file (rename it to .json to analyse it as a spec)")
        from analyzer.frontends.onnx import load_onnx

        return load_onnx(path, handle, sizes)


def _rest(path: str, handle, limit: int, what: str) -> bytes:
    """What is left of ``handle``, refused past ``limit`` more bytes."""
    try:
        data = handle.read(limit + 1)
    except OSError as error:
        raise InputError.one(path, None, f"cannot read: {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError.one(path, None, f"{what} is larger than {MAX_SPEC_BYTES // 2**20} MiB, convlint's limit")
    return data


def load_source(source: Any, sizes: InputSizes | None = None) -> Model:
    """The graph of any model convlint reads: a path (ONNX or spec), a PyTorch reference
    (``package.module:build_model``), a spec document (a dict) or a parsed
    :class:`~analyzer.frontends.spec_layers.Spec`, an ``onnx.ModelProto``, the bytes of either
    kind of file, or a ``torch.nn.Module``."""
    from analyzer.frontends import torch as pytorch

    sizes = sizes or InputSizes()
    if isinstance(source, (str, PathLike)):
        path = str(source)
        if pytorch.is_reference(path) and missing(path):
            return pytorch.load_module(pytorch.resolve(path), sizes, path)
        return load(path, sizes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data.lstrip()[:1] == b"{":
            from analyzer.frontends.spec import load_spec

            return load_spec(SPEC_SOURCE, data, sizes)
        from analyzer.frontends.onnx import build_graph, read_model

        proto, slim = read_model(ONNX_SOURCE, data)
        return build_graph(ONNX_SOURCE, proto, sizes, slim)
    if isinstance(source, Mapping):
        from analyzer.frontends.spec import build_spec, validate

        return build_spec(SPEC_SOURCE, validate(SPEC_SOURCE, source), sizes)
    if type(source).__name__ == "Spec" and hasattr(source, "layers"):
        from analyzer.frontends.spec import build_spec

        return build_spec(SPEC_SOURCE, source, sizes)
    if type(source).__name__ == "ModelProto" and hasattr(source, "graph"):
        from analyzer.frontends.onnx import build_graph

        return build_graph(ONNX_SOURCE, source, sizes)
    if pytorch.is_module(source):
        return pytorch.load_module(source, sizes)
    raise TypeError(f"cannot analyse a {type(source).__name__}: give a path, a spec (dict or Spec), an "
                    "onnx.ModelProto, bytes or a torch.nn.Module")
