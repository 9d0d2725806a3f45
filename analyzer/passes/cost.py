"""Cost figures (REFERENCE §7): MACs per sample, activation memory of each node's outputs, and
the peak of live activation memory over the model's schedule.

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


@dataclass(slots=True)
class Peak:
    """The most activation memory live at once, per sample, running the nodes in order."""

    bytes: int
    """Over the tensors of known size: at least this when ``unknown`` > 0."""
    step: int | None
    """The index (in ``Model.steps()``) of the node running at the peak; None when it is the
    inputs alone."""
    unknown: int
    """Model inputs and nodes whose outputs are of unknown size, left out."""


@dataclass
class CostResult:
    """Per node, in ``Model.steps()`` order."""

    macs: list[int | None]
    memory: list[Memory]
    batch: Dim = None
    """The model's batch dim: what the figures are per sample of."""
    peak: Peak | None = None


def batch_dim(model: Model, shapes: ShapeResult) -> Dim:
    """Dim 0 of the first model input of rank 2 or more: the batch."""
    for tensor in model.inputs:
        shape = shapes.shapes.get(tensor)
        if shape is not None and len(shape) >= 2:
            return shape[0]
    return None


def _tensor_memory(tensor: str, shapes: ShapeResult, batch: Dim, cache: dict) -> Memory:
    """One activation's size per sample; folded constants (shape computations) are none."""
    if not tensor or tensor in shapes.values:
        return NONE
    key = (shapes.shapes.get(tensor), shapes.dtypes.get(tensor, "float32"))
    found = cache.get(key)
    if found is None:
        shape, dtype = key
        count = prod(per_sample(shape, batch)) if shape is not None else None
        found = cache[key] = UNKNOWN if count is None else Memory(count, count * DTYPE_BYTES.get(dtype, 0))
    return found


def _memory(outputs: list[str], shapes: ShapeResult, batch: Dim, cache: dict) -> Memory:
    elements = 0
    size = 0
    for tensor in outputs:
        found = _tensor_memory(tensor, shapes, batch, cache)
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
    return CostResult(macs, memory, batch, peak_memory(model, shapes, memory, batch, cache))


def peak_memory(model: Model, shapes: ShapeResult, memory: list[Memory], batch: Dim, cache: dict) -> Peak:
    """The largest sum of live activations while each node runs, in ``Model.steps()`` order:
    the model's inputs (held by the caller for the whole pass), the outputs of earlier nodes
    that a later node still reads or that the model returns, and the running node's outputs
    (written while its inputs are still read). A tensor is freed once its last reader has
    run. Tensors of unknown size are left out (the peak is then a lower bound)."""
    steps = model.steps()
    last: dict[str, int] = {}
    for index, (node, _) in enumerate(steps):
        for tensor in node.inputs:
            last[tensor] = index
    for tensor in model.outputs:
        last[tensor] = len(steps)  # returned: live to the end
    freed = [0] * len(steps)
    live = unknown = 0
    for tensor in model.inputs:
        size = _tensor_memory(tensor, shapes, batch, cache).bytes
        if size is None:
            unknown += 1
        else:
            live += size
    peak, step = live, None
    for index, ((node, _), made) in enumerate(zip(steps, memory)):
        if made.bytes is None:
            unknown += 1
        elif made.bytes:  # constants and folded shapes make no activation
            live += made.bytes
            if live > peak:
                peak, step = live, index
            outputs = node.outputs
            for tensor in outputs:
                size = made.bytes if len(outputs) == 1 else _tensor_memory(tensor, shapes, batch, cache).bytes
                end = last.get(tensor, index)
                if size and end < len(steps):
                    freed[end] += size
        live -= freed[index]
    return Peak(peak, step, unknown)
