"""Read an ONNX file's structure without its weights, by scanning the protobuf wire format.

Every weight lives in a TensorProto payload field (``raw_data``, ``float_data``...). This
scanner walks the file (memory-mapped) and copies everything except large payloads into a
slim ModelProto, which protobuf then parses: the weights are never decoded, copied or even
paged in, so a 2 GB model costs what its graph costs. Only messages that can hold a tensor
(graphs, nodes, attributes, tensors) are descended into; everything else is copied as is.
"""

from __future__ import annotations

import mmap
from pathlib import Path

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
_TENSOR_PAYLOAD = frozenset({4, 5, 6, 7, 9, 10, 11})
_DROPPED = {"model": frozenset({20})}  # training_info: graphs of training state, with weights
_NONE: frozenset[int] = frozenset()


MAX_NODES = 2_000_000
"""Larger graphs are refused before any work is done on them (hostile files)."""


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


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
    dropped = _DROPPED.get(kind, _NONE)
    counting = kind == "graph"
    nodes = 0
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
                    raise WireError(f"the graph has more than {MAX_NODES:,} nodes, convlint's limit")
            if length <= KEEP_PAYLOAD_BYTES and field not in dropped:
                continue  # small fields (most nodes) are kept as they are
            if field in dropped:
                _copy(buf, copied, field_start, out)
                copied = pos
                continue
            if kind == "tensor" and field in _TENSOR_PAYLOAD:
                _copy(buf, copied, field_start, out)
                copied = pos
                continue
            child = children.get(field)
            if child is not None:
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
    _copy(buf, copied, end, out)


def _copy(buf, start: int, end: int, out: list[bytes]) -> None:
    if end > start:
        out.append(buf[start:end])


def slim_model(path: str | Path) -> bytes:
    """The ModelProto bytes of ``path`` with every large tensor payload left out."""
    with open(path, "rb") as file:
        size = file.seek(0, 2)
        if size == 0:
            return b""
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return slim_bytes(buf)


def slim_bytes(buf) -> bytes:
    """The ModelProto in ``buf`` (bytes, or a memory map) with every large tensor payload left out."""
    parts: list[bytes] = []
    _slim(buf, 0, len(buf), "model", parts)
    return b"".join(parts)
