"""Cost figures (REFERENCE §7): MACs per sample and activation memory of each node's outputs.

Activations are what nodes compute from the model's inputs: a node that reads only constants
(a weight made by ConstantOfShape, a reshaped initializer) costs no MACs and no memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.graph import DTYPE_BYTES, Dim, Model
from analyzer.ops.base import CostContext
from analyzer.ops.common import no_macs, per_sample, prod
from analyzer.passes.shapes import ShapeResult


@dataclass(slots=True, unsafe_hash=True)  # immutable by convention: frozen ones cost 3x to build
class Memory:
    elements: int | None
    bytes: int | None


UNKNOWN = Memory(None, None)
NONE = Memory(0, 0)
"""Outputs computed from constants alone (weights made by ConstantOfShape, folded shapes)."""


@dataclass
class CostResult:
    """Per node, in ``Model.steps()`` order."""

    macs: list[int | None]
    memory: list[Memory]
    batch: Dim = None
    """The model's batch dim: what the figures are per sample of."""


def batch_dim(model: Model, shapes: ShapeResult) -> Dim:
    """Dim 0 of the first model input of rank 2 or more: the batch."""
    for tensor in model.inputs:
        shape = shapes.shapes.get(tensor)
        if shape is not None and len(shape) >= 2:
            return shape[0]
    return None


def _memory(outputs: list[str], shapes: ShapeResult, batch: Dim, cache: dict) -> Memory:
    elements = 0
    size = 0
    for tensor in outputs:
        if not tensor or tensor in shapes.values:
            continue  # folded constants (shape computations) are not activations
        key = (shapes.shapes.get(tensor), shapes.dtypes.get(tensor, "float32"))
        found = cache.get(key)
        if found is None:
            shape, dtype = key
            count = prod(per_sample(shape, batch)) if shape is not None else None
            found = cache[key] = UNKNOWN if count is None else Memory(count, count * DTYPE_BYTES.get(dtype, 0))
        if len(outputs) == 1 or found is UNKNOWN:
            return found  # shared: Memory values are never changed
        elements += found.elements
        size += found.bytes
    return Memory(elements, size)


def cost(model: Model, shapes: ShapeResult) -> CostResult:
    macs: list[int | None] = []
    memory: list[Memory] = []
    batch = batch_dim(model, shapes)
    cache: dict = {}
    shared: dict[int, tuple[int | None, Memory]] = {}  # per shape outcome, for single-output nodes
    tensors = model.tensors  # the model's inputs and constants; other tensors are computed
    constant: set[str] = set()  # outputs of nodes that read only constants
    for (node, opdef), outcome in zip(model.steps(), shapes.outcomes, strict=True):
        outputs = node.outputs
        inputs = node.inputs
        first = inputs[0] if inputs else ""
        from_inputs = (first and first not in tensors and first not in constant) or any(
            t and t not in constant and (t not in tensors or tensors[t].role == "input") for t in inputs)
        if not from_inputs:
            constant.update(outputs)
        key = id(outcome) if outcome is not None and len(outputs) == 1 and outputs[0] else None
        found = shared.get(key) if key is not None else None  # type: ignore[arg-type]
        if found is None:
            if opdef is None or outcome.malformed():
                count = None
            elif opdef.macs is no_macs:
                count = 0
            else:
                count = opdef.macs(CostContext(node, outcome.in_shapes, outcome.out_shapes_for(node), outcome.resolved, batch))
            found = (count, _memory(outputs, shapes, batch, cache))
            if key is not None:
                shared[key] = found
        macs.append(found[0] if from_inputs or found[0] is None else 0)
        memory.append(found[1] if from_inputs else NONE)
    return CostResult(macs, memory, batch)
