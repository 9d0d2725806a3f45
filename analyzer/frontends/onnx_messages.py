"""The ONNX messages convlint reads, as protobuf classes of their own.

ONNX files are protobuf: parsing them needs the message descriptors, not the ``onnx``
package, whose import (with numpy) costs more than analysing a ResNet-50. These are the
fields of onnx.proto that convlint reads, with ONNX's field numbers; protobuf (upb) keeps
every other field as unknown bytes. The ``onnx`` package itself is imported only for
``onnx.shape_inference`` when a model has ops convlint does not model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_REPEATED, _OPTIONAL = 3, 1
_TYPES = {"double": 1, "float": 2, "int64": 3, "uint64": 4, "int32": 5, "string": 9, "message": 11, "bytes": 12}

# message -> [(field, number, type, repeated, message type)]
_MESSAGES: dict[str, list[tuple[str, int, str, bool, str | None]]] = {
    "ModelProto": [("ir_version", 1, "int64", False, None), ("graph", 7, "message", False, "GraphProto"),
                   ("opset_import", 8, "message", True, "OperatorSetIdProto")],
    "OperatorSetIdProto": [("domain", 1, "string", False, None), ("version", 2, "int64", False, None)],
    "GraphProto": [("node", 1, "message", True, "NodeProto"), ("name", 2, "string", False, None),
                   ("initializer", 5, "message", True, "TensorProto"),
                   ("input", 11, "message", True, "ValueInfoProto"), ("output", 12, "message", True, "ValueInfoProto"),
                   ("value_info", 13, "message", True, "ValueInfoProto"),
                   ("sparse_initializer", 15, "message", True, "SparseTensorProto")],
    "NodeProto": [("input", 1, "string", True, None), ("output", 2, "string", True, None),
                  ("name", 3, "string", False, None), ("op_type", 4, "string", False, None),
                  ("attribute", 5, "message", True, "AttributeProto"), ("domain", 7, "string", False, None)],
    "AttributeProto": [("name", 1, "string", False, None), ("f", 2, "float", False, None),
                       ("i", 3, "int64", False, None), ("s", 4, "bytes", False, None),
                       ("t", 5, "message", False, "TensorProto"), ("g", 6, "message", False, "GraphProto"),
                       ("floats", 7, "float", True, None), ("ints", 8, "int64", True, None),
                       ("strings", 9, "bytes", True, None), ("tensors", 10, "message", True, "TensorProto"),
                       ("graphs", 11, "message", True, "GraphProto"), ("type", 20, "int32", False, None),
                       ("sparse_tensor", 22, "message", False, "SparseTensorProto")],
    "TensorProto": [("dims", 1, "int64", True, None), ("data_type", 2, "int32", False, None),
                    ("float_data", 4, "float", True, None), ("int32_data", 5, "int32", True, None),
                    ("string_data", 6, "bytes", True, None), ("int64_data", 7, "int64", True, None),
                    ("name", 8, "string", False, None), ("raw_data", 9, "bytes", False, None),
                    ("double_data", 10, "double", True, None), ("uint64_data", 11, "uint64", True, None),
                    ("external_data", 13, "message", True, "StringStringEntryProto"),
                    ("data_location", 14, "int32", False, None)],
    "StringStringEntryProto": [("key", 1, "string", False, None), ("value", 2, "string", False, None)],
    "SparseTensorProto": [("values", 1, "message", False, "TensorProto"),
                          ("indices", 2, "message", False, "TensorProto"), ("dims", 3, "int64", True, None)],
    "ValueInfoProto": [("name", 1, "string", False, None), ("type", 2, "message", False, "TypeProto")],
    "TypeProto": [("tensor_type", 1, "message", False, "TensorType"), ("sequence_type", 4, "message", False, "Other"),
                  ("map_type", 5, "message", False, "Other"), ("sparse_tensor_type", 8, "message", False, "Other"),
                  ("optional_type", 9, "message", False, "Other")],
    "TensorType": [("elem_type", 1, "int32", False, None), ("shape", 2, "message", False, "TensorShapeProto")],
    "TensorShapeProto": [("dim", 1, "message", True, "Dimension")],
    "Dimension": [("dim_value", 1, "int64", False, None), ("dim_param", 2, "string", False, None)],
    "Other": [],
}

PACKAGE = "convlint.onnx"


@cache
def messages() -> dict[str, Any]:
    """Message classes by name, built once from the table above in a private descriptor pool."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="convlint/onnx_subset.proto", package=PACKAGE, syntax="proto2")
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for field, number, kind, repeated, type_name in fields:
            entry = message.field.add(name=field, number=number, type=_TYPES[kind],
                                      label=_REPEATED if repeated else _OPTIONAL)
            if type_name:
                entry.type_name = f".{PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
            for name in _MESSAGES}


def parse_model(data: bytes) -> Any:
    model = messages()["ModelProto"]()
    model.ParseFromString(data)
    return model


def value_kind(type_proto: Any) -> str | None:
    """Which kind of value a TypeProto describes: ``tensor_type``, ``sequence_type``..."""
    for kind in ("tensor_type", "sequence_type", "map_type", "sparse_tensor_type", "optional_type"):
        if type_proto.HasField(kind):
            return kind
    return None
