"""Parameters and buffers (REFERENCE §5), counted from dims alone.

A constant floating-point tensor counts when it feeds a weight operand (declared by the op),
directly or through shape-only ops, is a multi-element constant operand of Add/Sub/Mul/Div,
or is an initializer read as a lookup table (Gather's data).
A tensor read by several nodes (tied weights) counts once, for its first consumer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analyzer.graph import FLOAT_DTYPES, Model
from analyzer.ops import opdef_of
from analyzer.ops.common import prod
from analyzer.passes.shapes import ShapeResult

CONSTANT_SOURCES = ("Constant", "ConstantOfShape")


@dataclass
class ParamResult:
    params: list[int | None]
    """Per node, in ``Model.steps()`` order; None when some weight has unknown dims."""
    buffers: list[int | None]
    """Per node, like ``params``."""


def constant_source(model: Model, tensor: str, shapes: ShapeResult) -> str | None:
    """The constant tensor behind ``tensor`` through shape-only ops, if there is one."""
    tensors, nodes = model.tensors, model.nodes
    for _ in range(64):
        info = tensors.get(tensor)
        if info is not None:
            return tensor if info.role != "input" else None
        producer = model.producers.get(tensor)  # built only when a walk needs it
        if producer is None:
            return None
        node = nodes[producer]
        if not _leads_to_constants(node, opdef_of(node)):
            return None
        if node.op in CONSTANT_SOURCES and not node.domain:
            if node.op == "ConstantOfShape" and (not node.inputs or node.inputs[0] not in shapes.values):
                return None
            return tensor
        if not node.inputs:
            return None
        tensor = node.inputs[0]
    return None


def _leads_to_constants(node, opdef) -> bool:
    """Whether constant_source can stop at (Constant) or walk through (shape-only ops) the
    node producing a tensor: any other producer makes an activation."""
    return (node.op in CONSTANT_SOURCES and not node.domain) or (opdef is not None and opdef.shape_only)


def _group_norm_identity(model: Model, node, index: int, source: str, shapes: ShapeResult) -> bool:
    """GroupNorm as exporters lower it: Reshape (N, G, -1) -> InstanceNormalization with
    constant ones(G) / zeros(G) -> Reshape back, then Mul/Add by the module's weight and bias
    (which are counted there). The ones and zeros are no module parameter."""
    if index not in (1, 2) or not node.inputs or not node.outputs:
        return False
    producer = model.producer(node.inputs[0])
    readers = model.consumers.get(node.outputs[0], ())
    if producer is None or model.nodes[producer].op != "Reshape" or not readers:
        return False
    if any(model.nodes[r].op != "Reshape" for r in readers):
        return False
    return _identity_affine(index, source, shapes)


def _identity_affine(index: int, source: str, shapes: ShapeResult) -> bool:
    """Whether a normalisation's scale (input 1) or bias (input 2) is ones or zeros, where its
    values are read (tiny tensors; an unread one passes: the lowering's pattern is the proof)."""
    value = shapes.values.get(source)
    fill = 1.0 if index == 1 else 0.0
    return value is None or value.values is None or all(v == fill for v in value.values)


def _window_counts(model: Model, node, index: int, source: str, shapes: ShapeResult) -> bool:
    """Adaptive average pooling to a size that does not divide the input, as the dynamo
    exporter lowers it: the gathered windows are summed (Add) and divided by a constant of
    window element counts, one per output position (e.g. 7x7). A sum divided by a constant
    shaped like the output's trailing spatial dims (positive integers, where its values are
    read) is that pattern: counts, not a module parameter."""
    dims = shapes.shapes.get(source)
    out = shapes.shapes.get(node.outputs[0]) if node.outputs else None
    producer = model.producer(node.inputs[0]) if node.inputs else None
    if index != 1 or dims is None or out is None or producer is None:
        return False
    value = shapes.values.get(source)  # only tiny float tensors have their values read
    return (
        model.nodes[producer].op in ("Add", "Sum")
        and 2 <= len(dims) <= len(out) - 2
        and tuple(dims) == tuple(out[len(out) - len(dims):])
        and (value is None or value.values is None or all(float(v).is_integer() and v > 0 for v in value.values))
    )


def _functional_batch_norm(model: Model, node, index: int, source: str, shapes: ShapeResult) -> bool:
    """``F.batch_norm(x, None, None, weight, bias, training=True)`` (weight standardisation:
    timm's StdConv2d, ScaledStdConv2d) as the TorchScript exporter writes it: a
    BatchNormalization over statistics the graph computes (ReduceMean, not constants), with a
    Constant node of zeros as B where bias is None (ones as scale where weight is None). A
    Constant node there is made by the exporter: the module's own tensors are initializers."""
    if index not in (1, 2) or source in model.tensors or len(node.inputs) < 5:
        return False
    if any(constant_source(model, node.inputs[i], shapes) is not None for i in (3, 4)):
        return False
    return _identity_affine(index, source, shapes)


LOWERINGS = {"InstanceNormalization": _group_norm_identity, "Div": _window_counts,
             "BatchNormalization": _functional_batch_norm}
"""Ops whose constant operands an exporter's lowering may add (REFERENCE §5), with the test
that proves such an operand is not a module parameter."""


def _operand_slots(opdef, count: int, cache: dict[tuple, dict[int, str]]) -> Mapping[int, str]:
    """The inputs of a node with ``count`` inputs that may hold parameters, by kind: its
    weight operands ("param", "buffer"), every operand of an op with scale operands
    ("param": Add, Mul...), lookup tables ("table": counted as params, initializers only)."""
    if not opdef.scale_operands and not opdef.tables:
        return opdef.weights
    key = (id(opdef), count)
    slots = cache.get(key)
    if slots is None:
        slots = {i: "param" for i in range(count)} if opdef.scale_operands else {}
        slots = cache[key] = slots | {i: "table" for i in opdef.tables} | dict(opdef.weights)
    return slots


def count_parameters(model: Model, shapes: ShapeResult) -> ParamResult:
    steps = model.steps()
    params: list[int | None] = [0] * len(steps)
    buffers: list[int | None] = [0] * len(steps)
    unknown: list[int] = []
    counted: set[str] = set()
    dtypes, sizes, tensors = shapes.dtypes, shapes.shapes, model.tensors
    slot_cache: dict[tuple, dict[int, str]] = {}
    # Outputs of the nodes constant_source can walk through: any other activation is no
    # constant, which is then known without the walk (the steps come in topological order).
    passable: set[str] = set()
    for position, (node, opdef) in enumerate(steps):
        if _leads_to_constants(node, opdef):
            passable.update(node.outputs)
        if opdef is None:
            continue
        inputs = node.inputs
        for index, kind in _operand_slots(opdef, len(inputs), slot_cache).items():
            tensor = inputs[index] if index < len(inputs) else ""
            if not tensor:
                continue
            info = tensors.get(tensor)
            if info is not None and info.role == "constant":  # a weight: the common case, read directly
                source, dtype, shape = tensor, info.dtype, info.shape
            elif info is None and tensor not in passable:
                continue
            else:
                source = constant_source(model, tensor, shapes)
                if source is None:
                    continue
                dtype, shape = dtypes.get(source, "float32"), sizes.get(source)
                if source not in tensors and (kind == "table" or model.stored_parameters):
                    continue  # made by a Constant node: a value computed, not a stored parameter
            if source in counted or dtype not in FLOAT_DTYPES:
                continue
            count = prod(shape) if shape is not None else None
            if count is None:
                unknown.append(position)
                continue
            if opdef.scale_operands and index not in opdef.weights and count <= 1:
                continue
            if node.op in LOWERINGS and LOWERINGS[node.op](model, node, index, source, shapes):
                continue
            counted.add(source)
            counts = buffers if kind == "buffer" else params
            counts[position] += count  # type: ignore[operator]
    for position in unknown:  # a count that leaves out a weight would be wrong, not small
        params[position] = buffers[position] = None
    return ParamResult(params, buffers)
