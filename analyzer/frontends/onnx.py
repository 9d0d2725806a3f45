"""ONNX front end: a ModelProto -> the common graph, by dims only.

Weights are never read: initializers contribute their dims and type, and only tiny tensors
(shape computations, scales, axes) have their values decoded. External data is never
opened. Nodes keep ONNX's op types and attributes; the op registry knows their semantics.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from math import prod
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO

from analyzer.builder import GraphBuilder
from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes, apply_sizes
from analyzer.graph import FLOAT_DTYPES, ConstTensor, Dim, Model, Node, Shape, Tensor, dtype_name
from analyzer.limits import MAX_DIM, MAX_RANK, describe
from analyzer.rules import EXTERNAL_DATA_OUTSIDE, INFERENCE_FAILED, Diagnostic

if TYPE_CHECKING:
    import onnx

MAX_VALUES = 256
"""Integer tensors (shape computations, axes, indices) with at most this many elements have
their values decoded (onnx_wire keeps payloads of up to 2 KiB)."""
MAX_FLOAT_VALUES = 5
"""Floating-point tensors are decoded only when tiny (Resize scales, Clip bounds): never weights."""

ONNX_DOMAINS = ("", "ai.onnx")


EXTERNAL = 1  # TensorProto.DataLocation


class _BadTensor(ValueError):
    """A tensor in an attribute declares dims convlint refuses (see ``dims_problem``)."""


def dims_problem(dims: tuple[int, ...]) -> str | None:
    """Why declared dims are refused: negative, or past analyzer.limits; None if fine."""
    if len(dims) > MAX_RANK:
        return f"has {len(dims):,} dims, over convlint's limit of {MAX_RANK}"
    if dims and min(dims) < 0:
        return f"has negative dims {list(dims)}"
    if dims and max(dims) > MAX_DIM:
        return f"has a dim of {max(dims):,}, over convlint's limit of {describe(MAX_DIM)}"
    return None


def const_tensor(tensor: onnx.TensorProto) -> ConstTensor:
    """Dims and type of a TensorProto; values only when small and stored inline."""
    dims = tuple(tensor.dims)
    problem = dims_problem(dims)
    if problem is not None:
        raise _BadTensor(f"tensor {_text(tensor.name) or '(unnamed)'!r} {problem}")
    dtype = dtype_name(tensor.data_type)
    return ConstTensor(dims, dtype, _small_values(tensor, dims, dtype))


def _small_values(tensor: onnx.TensorProto, dims: tuple[int, ...], dtype: str) -> tuple[Any, ...] | None:
    """The values of a small inline tensor (shape computations, scales); None for weights."""
    if len(dims) > MAX_RANK:
        return None
    count = prod(dims)  # bounded: the dims were checked against analyzer.limits
    if count > (MAX_FLOAT_VALUES if dtype in FLOAT_DTYPES else MAX_VALUES) or tensor.data_location == EXTERNAL:
        return None
    values = _decode(tensor)
    return values if values is not None and len(values) == count else None


# TensorProto.DataType -> struct format of one element in raw_data, and its size
_RAW_FORMATS = {kind: (code, struct.calcsize(code)) for kind, code in
                {1: "f", 2: "B", 3: "b", 4: "H", 5: "h", 6: "i", 7: "q", 9: "?", 10: "e", 11: "d", 12: "I",
                 13: "Q"}.items()}


def _decode(tensor: onnx.TensorProto) -> tuple[Any, ...] | None:
    """The elements of a small tensor, from raw_data or the typed fields (None if unusual)."""
    kind = tensor.data_type
    raw = tensor.raw_data
    if raw:
        found = _RAW_FORMATS.get(kind)
        if found is None:
            return None
        code, size = found
        count = len(raw) // size
        return struct.unpack(f"<{count}{code}", raw[: count * size])  # floats, ints or bools
    if kind == 8:  # strings
        return tuple(v.decode("utf-8", "replace") for v in tensor.string_data)
    if kind in (1,):
        return tuple(tensor.float_data)
    if kind == 11:
        return tuple(tensor.double_data)
    if kind == 7:
        return tuple(tensor.int64_data)
    if kind in (2, 3, 4, 5, 6, 9):
        return tuple(bool(v) if kind == 9 else v for v in tensor.int32_data)
    if kind in (12, 13):
        return tuple(tensor.uint64_data)
    return None


def _text(value: str | bytes) -> str:
    """A string field as text: protobuf hands invalid UTF-8 in proto2 strings back as bytes."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _texts(values) -> tuple[str, ...]:
    values = tuple(values)  # a tuple: one allocation, where a list takes two
    try:
        "".join(values)  # fails, at C speed, only when some value came back as bytes
    except TypeError:
        return tuple(_text(v) for v in values)
    return values


# AttributeProto.AttributeType values
_FLOAT, _INT, _STRING, _TENSOR, _GRAPH, _FLOATS, _INTS, _STRINGS, _GRAPHS, _SPARSE = 1, 2, 3, 4, 5, 6, 7, 8, 10, 11


def _attribute(attr: onnx.AttributeProto) -> Any:
    kind = attr.type
    if kind == _INT:
        return attr.i
    if kind == _INTS:
        return list(attr.ints)
    if kind == _FLOAT:
        return attr.f
    if kind == _FLOATS:
        return list(attr.floats)
    if kind == _STRING:
        return _text(attr.s)
    if kind == _STRINGS:
        return list(_texts(attr.strings))
    if kind == _TENSOR:
        return const_tensor(attr.t)
    if kind == _SPARSE:
        dims = tuple(attr.sparse_tensor.dims)
        problem = dims_problem(dims)
        if problem is not None:
            raise _BadTensor(f"sparse tensor {problem}")
        return ConstTensor(dims, dtype_name(attr.sparse_tensor.values.data_type))
    if kind in (_GRAPH, _GRAPHS):
        return "<subgraph>"
    return None  # types convlint never reads (type protos)


_NO_ATTRIBUTES = MappingProxyType({})
"""Shared by every node without attributes (most ReLUs and Adds): read-only."""


class _AttributeCache:
    """Attribute dicts by the attributes' encoding: nodes with the same attributes (every 3x3
    conv of a network) share one dict, decoded once. Serialising the few attribute messages
    costs half what reading their fields does. Node attributes are never changed."""

    def __init__(self) -> None:
        self._decoded: dict[tuple[bytes, ...], dict[str, Any]] = {}

    def __call__(self, attributes) -> Mapping[str, Any]:
        if not attributes:
            return _NO_ATTRIBUTES
        key = tuple([a.SerializeToString() for a in attributes])
        found = self._decoded.get(key)
        if found is None:
            found = self._decoded[key] = {_text(a.name): _attribute(a) for a in attributes}
        return found


def _value_shape(value_info: onnx.ValueInfoProto) -> tuple[Shape | None, str, str | None]:
    """(shape, dtype, problem) of a graph input; ``problem`` for non-tensor types."""
    from analyzer.frontends.onnx_messages import value_kind

    kind = value_kind(value_info.type)
    if kind != "tensor_type":
        return None, "float32", f"is a {kind or 'value of unknown type'}, not a tensor"
    tensor_type = value_info.type.tensor_type
    dtype = dtype_name(tensor_type.elem_type)
    if not tensor_type.HasField("shape"):
        return None, dtype, None
    declared = tensor_type.shape.dim
    if len(declared) > MAX_RANK:
        return None, dtype, f"has rank {len(declared):,}, over convlint's limit of {MAX_RANK}"
    dims: list[Dim] = []
    for dim in declared:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            if dim.dim_value > MAX_DIM:
                return None, dtype, f"has a dim of {dim.dim_value:,}, over convlint's limit of {describe(MAX_DIM)}"
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(_text(dim.dim_param))
        else:
            dims.append(None)
    return tuple(dims), dtype, None


def read_model(path: str, source: BinaryIO | bytes) -> tuple[onnx.ModelProto, bytes]:
    """Parse the model's structure from an open file or its bytes; large weight payloads are
    skipped unread (onnx_wire). Returns the parsed structure and its slim bytes (what onnx
    shape inference may be shown)."""
    from google.protobuf.message import DecodeError

    from analyzer.frontends.onnx_messages import parse_model
    from analyzer.frontends.onnx_wire import LimitError, WireError, slim_bytes, slim_model

    try:
        data = slim_bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else slim_model(source)
    except LimitError as error:
        raise InputError.one(path, None, str(error)) from None
    except WireError as error:
        raise InputError.one(path, None, f"not a valid ONNX model: {error}") from None
    except (OSError, ValueError) as error:  # mmap: no address space for the file, or an odd file
        import errno

        if getattr(error, "errno", None) == errno.ENOMEM:
            raise InputError.one(path, None, "cannot map the file into memory: this process's address space is "
                                 "limited (ulimit -v) below the file's size") from None
        raise InputError.one(path, None, f"cannot read: {getattr(error, 'strerror', None) or error}") from None
    try:
        model = parse_model(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise InputError.one(path, None, f"not a valid ONNX model: {error}") from None
    except RecursionError:
        raise InputError.one(path, None, "not a valid ONNX model: nested too deeply") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.input):
        raise InputError.one(path, None, "not an ONNX model (no graph)")
    if model.ir_version < 3:
        raise InputError.one(path, None, f"ONNX IR version {model.ir_version} is not supported (3 or later)")
    return model, data


def load_onnx(path: str, file: BinaryIO, sizes: InputSizes | None = None) -> Model:
    model, data = read_model(path, file)
    return build_graph(path, model, sizes or InputSizes(), data)


def build_graph(path: str, model: onnx.ModelProto, sizes: InputSizes | Mapping[str, Shape],
                data: bytes | None = None) -> Model:
    """The graph of ``model``, its inputs at ``sizes`` (a mapping: input shapes alone);
    ``data`` is its serialised form (what onnx shape inference is shown for unmodelled ops;
    the model is serialised when not given)."""
    if not isinstance(sizes, InputSizes):
        sizes = InputSizes(dict(sizes))
    built = _translate(path, model, sizes)
    _hint_unmodelled(built, model, data)
    return built


def _translate(path: str, model: onnx.ModelProto, sizes: InputSizes) -> Model:
    graph = model.graph
    builder = GraphBuilder(path, "onnx", _text(graph.name) or Path(path).stem)
    for opset in model.opset_import:
        domain = _text(opset.domain)
        builder.opset["" if domain in ONNX_DOMAINS else domain] = opset.version
    builder.opset.setdefault("", 1)

    folder = Path(path).resolve().parent
    external: dict[str, list[tuple[str, str]]] = {}  # location -> (initializer, where) pointing at it
    add_tensor = builder.add_tensor
    for i, tensor in enumerate(graph.initializer):
        name, dims, kind = tensor.name, tuple(tensor.dims), tensor.data_type
        if type(name) is not str:
            name = _text(name)
        dtype = dtype_name(kind)
        if len(dims) > MAX_RANK or (dims and (min(dims) < 0 or max(dims) > MAX_DIM)):
            builder.problem(f"/graph/initializer/{i}", f"initializer {name!r} {dims_problem(dims)}")
            add_tensor(Tensor(name, "constant", None, dtype))
            continue
        if tensor.data_location == EXTERNAL:
            location = next((_text(e.value) for e in tensor.external_data if _text(e.key) == "location"), "")
            external.setdefault(location, []).append((name, f"/graph/initializer/{i}"))
        values = _small_values(tensor, dims, dtype)
        const = None if values is None else ConstTensor(dims, dtype, values)
        add_tensor(Tensor(name, "constant", dims, dtype, const), f"/graph/initializer/{i}")
    for i, sparse in enumerate(graph.sparse_initializer):
        name = _text(sparse.values.name)
        problem = dims_problem(tuple(sparse.dims))
        if problem is not None:
            builder.problem(f"/graph/sparse_initializer/{i}", f"sparse initializer {name!r} {problem}")
            continue
        const = ConstTensor(tuple(sparse.dims), dtype_name(sparse.values.data_type))
        builder.add_tensor(Tensor(name, "constant", const.dims, const.dtype, const), f"/graph/sparse_initializer/{i}")
    for location, readers in external.items():
        _check_external(builder, location, readers, folder)

    declared: list[tuple[str, Shape | None]] = []
    sources = []
    for i, value_info in enumerate(graph.input):
        name = _text(value_info.name)
        if name in builder.tensors:
            continue  # IR < 4: initializers are listed as inputs too; they are not model inputs
        shape, dtype, problem = _value_shape(value_info)
        if problem:
            raise InputError.one(path, f"/graph/input/{i}", f"input {name!r} {problem}")
        declared.append((name, shape))
        sources.append((name, dtype, f"/graph/input/{i}"))
    applied = apply_sizes(path, declared, sizes)
    for name, dtype, where in sources:
        builder.add_tensor(Tensor(name, "input", applied.shapes[name], dtype), where)

    add_node = builder.add_node
    attributes_of = _AttributeCache()
    for i, proto in enumerate(graph.node):
        op, name, domain = proto.op_type, proto.name, proto.domain
        inputs, outputs = proto.input[:], proto.output[:]  # lists: slicing is the fastest copy
        try:
            "".join((op, name, domain, *inputs, *outputs))  # fails, at C speed, only on bytes
        except TypeError:  # protobuf hands invalid UTF-8 back as bytes
            op, name, domain, inputs, outputs = _text(op), _text(name), _text(domain), _texts(inputs), _texts(outputs)
        try:
            attrs = attributes_of(proto.attribute)
        except _BadTensor as error:
            builder.problem(f"/graph/node/{i}", f"{name or op!r}: an attribute's {error}")
            attrs = _NO_ATTRIBUTES
        add_node(
            Node(name or f"{op}_{i}", op, inputs, outputs, attrs, "" if domain in ONNX_DOMAINS else domain, op,
                 location=f"/graph/node/{i}", attributes_at="/attribute/"),
            rename=True,  # ONNX names need not be unique: a repeated one becomes name_i
        )
    builder.outputs = [_text(o.name) for o in graph.output]
    built = builder.build()
    built.declared = applied.declared
    return built


def _check_external(builder: GraphBuilder, location: str, readers: list[tuple[str, str]], folder: Path) -> None:
    """External data is never opened; a location that leaves the model's folder, or that no
    file system could open, is pointed out once, at the first initializer naming it (a file
    from elsewhere must not make a tool read /etc/passwd)."""
    problem = _unusable_location(location, folder)
    if problem is None:
        return
    (first, where), others = readers[0], len(readers) - 1
    who = f"initializer {first!r}" + (f" and {others:,} more" if others else "")
    builder.note(
        EXTERNAL_DATA_OUTSIDE, None,
        f"{who} point{'' if others else 's'} {'their' if others else 'its'} external data at {location!r}, "
        f"{problem}; convlint never opens external data, and did not open it",
        where,
    )


def _unusable_location(location: str, folder: Path) -> str | None:
    """Why an external-data location is not a file inside the model's folder, else None.
    Only names are resolved (links followed), nothing is opened."""
    if "\0" in location:
        return "which contains a NUL byte"
    if Path(location).is_absolute():
        return "outside the model's folder"
    named = folder / location
    try:
        target = named.resolve()
    except RuntimeError:  # Python 3.10-3.12 on a link loop; 3.13 leaves the loop unresolved
        return "a link loop"
    except (OSError, ValueError) as error:
        return f"which cannot be resolved ({getattr(error, 'strerror', None) or error})"
    if folder in target.parents:
        return None
    if folder in Path(os.path.normpath(named)).parents:
        return "a link leading outside the model's folder"
    return "outside the model's folder"


def _at_analysed_sizes(model: Model, proto: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy of ``proto`` whose inputs have the shapes the model is analysed at, when they
    are not the declared ones (--input-shape, --batch); None when they are. Its declared
    intermediate and output shapes, valid at the declared sizes only, are left out: onnx
    shape inference works out those of the unmodelled ops at the analysed sizes."""
    analysed = {}
    for value_info in proto.graph.input:
        name = _text(value_info.name)
        tensor = model.tensors.get(name)
        if tensor is not None and tensor.role == "input" and tensor.shape != _value_shape(value_info)[0]:
            analysed[name] = tensor.shape
    if not analysed:
        return None
    resized = type(proto)()  # the front end's own message classes, or onnx's
    resized.CopyFrom(proto)
    del resized.graph.value_info[:]
    for output in resized.graph.output:
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    for value_info in resized.graph.input:
        shape = analysed.get(_text(value_info.name))
        if shape is None:
            continue
        dims = value_info.type.tensor_type.shape
        dims.ClearField("dim")
        for size in shape:
            dim = dims.dim.add()
            if isinstance(size, int):
                dim.dim_value = size
            elif isinstance(size, str):
                dim.dim_param = size
    return resized


def _hint_unmodelled(model: Model, proto: onnx.ModelProto, data: bytes | None) -> None:
    """For ops convlint does not model, take output shapes from onnx.shape_inference, run in
    a child process (analyzer.frontends.onnx_infer); its failure is a finding (U105)."""
    pending = [(node, t) for node, opdef in model.steps() if opdef is None for t in node.outputs if t]
    if not pending:
        return
    from analyzer.frontends.onnx_infer import infer_in_child

    resized = _at_analysed_sizes(model, proto)
    if resized is not None:
        data = resized.SerializeToString()
    inferred = infer_in_child(data if data is not None else proto.SerializeToString(), [t for _, t in pending])
    model.hints.update(inferred.shapes)
    if inferred.failure is not None:
        first = pending[0][0]
        unmodelled = len({id(node) for node, _ in pending})
        model.notes.append(Diagnostic(
            INFERENCE_FAILED.code, INFERENCE_FAILED.severity, first.name,
            f"onnx shape inference, asked for the outputs of the {unmodelled} op"
            f"{'s' if unmodelled > 1 else ''} convlint does not model, {inferred.failure}; "
            "those outputs stay unknown", first.location,
        ))
