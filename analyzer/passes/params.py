"""Parameters and buffers (REFERENCE §5), counted from dims alone.

A constant floating-point tensor counts when it feeds a weight operand (declared by the op),
directly or through shape-only ops, or is a multi-element constant operand of Add/Sub/Mul/Div.
A tensor read by several nodes (tied weights) counts once, for its first consumer.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.graph import FLOAT_DTYPES, Model
from analyzer.ops import opdef_of
from analyzer.ops.common import prod
from analyzer.passes.shapes import ShapeResult

CONSTANT_SOURCES = ("Constant", "ConstantOfShape")


@dataclass
class ParamResult:
    params: dict[str, int]
    buffers: dict[str, int]
    unknown: set[str]
    """Nodes whose weights have unknown dims: their counts are lower bounds."""

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    @property
    def total_buffers(self) -> int:
        return sum(self.buffers.values())


def constant_source(model: Model, tensor: str, shapes: ShapeResult) -> str | None:
    """The constant tensor behind ``tensor`` through shape-only ops, if there is one."""
    seen = 0
    while seen < 64:
        seen += 1
        info = model.tensors.get(tensor)
        if info is None:
            return None
        if info.role in ("constant", "deferred"):
            return tensor
        if info.role == "input":
            return None
        producer = model.nodes[model.producer(tensor)]  # type: ignore[index]
        if producer.op in CONSTANT_SOURCES and not producer.domain:
            if producer.op == "ConstantOfShape" and producer.inputs[0] not in shapes.values:
                return None
            return tensor
        opdef = opdef_of(producer)
        if opdef is None or not opdef.shape_only or not producer.inputs:
            return None
        tensor = producer.inputs[0]
    return None


def count_parameters(model: Model, shapes: ShapeResult) -> ParamResult:
    params = dict.fromkeys(model.order, 0)
    buffers = dict.fromkeys(model.order, 0)
    unknown: set[str] = set()
    counted: set[str] = set()
    for name in model.order:
        node = model.nodes[name]
        opdef = opdef_of(node)
        if opdef is None:
            continue
        slots = opdef.weights
        if opdef.scale_operands:
            slots = {i: "param" for i in range(len(node.inputs))} | dict(slots)
        for index, kind in slots.items():
            if index >= len(node.inputs) or not node.inputs[index]:
                continue
            source = constant_source(model, node.inputs[index], shapes)
            if source is None or source in counted:
                continue
            if shapes.dtypes.get(source, "float32") not in FLOAT_DTYPES:
                continue
            shape = shapes.shapes.get(source)
            count = prod(shape) if shape is not None else None
            if count is None:
                unknown.add(name)
                continue
            if opdef.scale_operands and index not in opdef.weights and count <= 1:
                continue
            counted.add(source)
            (params if kind == "param" else buffers)[name] += count
    return ParamResult(params, buffers, unknown)
