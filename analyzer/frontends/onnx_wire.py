"""Read an ONNX file's structure without its weights, by scanning the protobuf wire format.

Every weight lives in a TensorProto payload field (``raw_data``, ``float_data``...). This
scanner walks the file (memory-mapped) and copies everything except large payloads into a
slim ModelProto, which protobuf then parses: the weights are never decoded, copied or even
paged in, so a 2 GB model costs what its graph costs. Only messages that can hold a tensor
(graphs, nodes, attributes, tensors) are descended into; fields convlint does not read (doc
strings, metadata, unknown fields) are skipped, never copied; small messages are copied as
they are. Counts and sizes are checked against analyzer.limits on the way.
"""

from __future__ import annotations

import mmap
from typing import BinaryIO

from analyzer.limits import MAX_FIELD_BYTES, MAX_LIST_VALUES, MAX_NODE_INPUTS, MAX_NODES

KEEP_PAYLOAD_BYTES = 2048
"""Payloads up to this size are kept: shape tensors, axes and scales must stay readable
(256 int64 values); anything larger is a weight."""

# Which fields of which message hold messages that may contain tensors (field -> kind).
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "function": {7: "node"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {},
}
# The fields kept, by onnx.proto's numbers: what convlint reads, and what onnx shape inference
# needs (functions, value infos). Everything else (doc strings, metadata, training state,
# fields unknown to ONNX) is skipped unread, whatever its size: never copied.
_KEPT: dict[str, frozenset[int]] = {
    "model": frozenset({1, 7, 8, 25}),
    "graph": frozenset({1, 2, 5, 11, 12, 13, 15}),
    "function": frozenset({1, 4, 5, 6, 7, 9, 10, 11, 12, 13}),
    "node": frozenset({1, 2, 3, 4, 5, 7, 8}),
    "attribute": frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 20, 21, 22, 23}),
    "sparse": frozenset({1, 2, 3}),
    "tensor": frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14}),
}
# Fields whose large values are data convlint never reads: weight payloads, string lists.
_PAYLOADS: dict[str, frozenset[int]] = {
    "tensor": frozenset({4, 5, 6, 7, 9, 10, 11}),
    "attribute": frozenset({9}),
}
_STRINGS: dict[str, frozenset[int]] = {"attribute": frozenset({4})}
"""Strings kept up to MAX_FIELD_BYTES (an Einsum equation padded with spaces is still read),
skipped unread past it (a blob stored in a custom op's attribute)."""
_NONE: frozenset[int] = frozenset()
_LISTS = frozenset({"tensor", "attribute"})
"""Messages whose repeated numbers are counted (packed ones are bounded by MAX_FIELD_BYTES)."""
# Field names for locations in error messages (JSON-pointer-like, as the front end writes them).
_NAMES: dict[str, dict[int, str]] = {
    "model": {7: "graph", 8: "opset_import", 25: "functions"},
    "graph": {1: "node", 2: "name", 5: "initializer", 11: "input", 12: "output", 13: "value_info",
              15: "sparse_initializer"},
    "function": {1: "name", 4: "input", 5: "output", 7: "node", 12: "value_info"},
    "node": {1: "input", 2: "output", 3: "name", 4: "op_type", 5: "attribute", 7: "domain"},
    "attribute": {1: "name", 5: "t", 6: "g", 7: "floats", 8: "ints", 10: "tensors", 11: "graphs",
                  22: "sparse_tensor", 23: "sparse_tensors"},
    "sparse": {1: "values", 2: "indices", 3: "dims"},
    "tensor": {1: "dims", 8: "name"},
}
_REPEATED = {"model": {8, 25}, "graph": {1, 5, 11, 12, 13, 15}, "function": {4, 5, 7, 12},
             "node": {1, 2, 5}, "attribute": {10, 11, 23}}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class LimitError(WireError):
    """A well-formed message asks for more than convlint's limits allow (analyzer.limits)."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset
        """Where the offending field starts in the file: ``locate`` names its place."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


_ONE_BYTE = [bytes((v,)) for v in range(0x80)]


def _encode_varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _slim(buf, start: int, end: int, kind: str, out: list[bytes], depth: int = 0) -> None:
    """Append the slimmed encoding of the message ``buf[start:end]`` of type ``kind`` to out."""
    if depth > 64:
        raise WireError("messages nested too deeply")
    children = _CHILDREN[kind]
    kept = _KEPT[kind]
    payloads = _PAYLOADS.get(kind, _NONE)
    strings = _STRINGS.get(kind, _NONE)
    counting = kind == "graph"
    edges = kind == "node"
    listing = kind in _LISTS
    nodes = inputs = values = 0
    pos = start
    copied = start  # fields from here to the current one are kept as they are: copied in one piece
    while pos < end:
        field_start = pos
        key = buf[pos]
        if key < 0x80:  # one-byte varints inline: most keys and short lengths
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        key_end = pos
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if wire != 2 and listing:  # unpacked repeated numbers: dims, attribute lists
            values += 1
            if values > MAX_LIST_VALUES:
                raise LimitError(f"more than {MAX_LIST_VALUES:,} values in one {kind}, convlint's limit", start)
        if wire == 0:
            if pos < end and buf[pos] < 0x80:
                pos += 1
            else:
                _, pos = _varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length = buf[pos] if pos < end else 0x80
            if length < 0x80:
                value_start = pos + 1
            elif pos + 1 < end and buf[pos + 1] < 0x80:  # two-byte lengths (most nodes) inline too
                length = (length & 0x7F) | (buf[pos + 1] << 7)
                value_start = pos + 2
            else:
                length, value_start = _varint(buf, pos, end)
            pos = value_start + length
            if pos > end:
                raise WireError("truncated field")
            if counting and field == 1:
                nodes += 1
                if nodes > MAX_NODES:
                    raise LimitError(f"the graph has more than {MAX_NODES:,} nodes, convlint's limit", field_start)
            elif edges and field <= 2:
                inputs += 1
                if inputs > MAX_NODE_INPUTS:
                    raise LimitError(f"a node with more than {MAX_NODE_INPUTS:,} inputs and outputs, "
                                     "convlint's limit", field_start)
            if length <= KEEP_PAYLOAD_BYTES and field in kept:
                continue  # small fields (most nodes) are kept as they are
            if field not in kept or field in payloads or (field in strings and length > MAX_FIELD_BYTES):
                _copy(buf, copied, field_start, out)
                copied = pos
                continue
            child = children.get(field)
            if child is None:
                if length > MAX_FIELD_BYTES:
                    raise LimitError(f"{length:,} bytes, over convlint's limit of {MAX_FIELD_BYTES // 2**20} MiB "
                                     "for one name, dims list, attribute or type", field_start)
                continue
            parts: list[bytes] = []
            _slim(buf, value_start, pos, child, parts, depth + 1)
            body = b"".join(parts)
            _copy(buf, copied, field_start, out)
            out.append(buf[field_start:key_end])
            out.append(_encode_varint(len(body)))
            out.append(body)
            copied = pos
            continue
        else:
            raise WireError(f"unsupported wire type {wire}")
        if pos > end:
            raise WireError("truncated field")
        if field not in kept:
            _copy(buf, copied, field_start, out)
            copied = pos
    _copy(buf, copied, end, out)


def _copy(buf, start: int, end: int, out: list[bytes]) -> None:
    if end > start:
        out.append(buf[start:end])


def locate(buf, offset: int) -> str:
    """Where the field starting at ``offset`` is, or the message whose value starts there, as
    the front end names places: ``/graph/node/17/attribute/0``. Only errors need it, so it
    walks the file again."""
    kind, start, end, place = "model", 0, len(buf), ""
    while True:
        counts: dict[int, int] = {}
        pos = start
        while pos < end:
            field_start = pos
            key, pos = _varint(buf, pos, end)
            field, wire = key >> 3, key & 7
            if wire != 2:
                pos = _varint(buf, pos, end)[1] if wire == 0 else pos + (8 if wire == 1 else 4)
                if offset < pos:
                    return place or "/"
                continue
            length, value_start = _varint(buf, pos, end)
            pos = value_start + length
            index = counts[field] = counts.get(field, -1) + 1
            if field_start <= offset < pos:
                name = _NAMES.get(kind, {}).get(field, f"field {field}")
                place += f"/{name}" + (f"/{index}" if field in _REPEATED.get(kind, ()) else "")
                child = _CHILDREN[kind].get(field)
                if field_start == offset or value_start == offset or child is None:
                    return place
                kind, start, end = child, value_start, pos
                break
        else:
            return place or "/"


def slim_model(file: BinaryIO) -> bytes:
    """The ModelProto bytes of the open ``file`` with every large tensor payload left out."""
    size = file.seek(0, 2)
    if size == 0:
        return b""
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return slim_bytes(buf)


def slim_bytes(buf) -> bytes:
    """The ModelProto in ``buf`` (bytes, or a memory map) with every large tensor payload left
    out; a limit exceeded is said with its place in the model."""
    parts: list[bytes] = []
    try:
        _slim(buf, 0, len(buf), "model", parts)
    except LimitError as error:
        where = locate(buf, error.offset)
        raise LimitError(f"{where}: {error}" if where != "/" else str(error), error.offset) from None
    return b"".join(parts)
