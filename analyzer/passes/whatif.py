"""What-if input sizes (REFERENCE §8): nodes whose output a constant of the model fixes.

When a model is analysed at input sizes that replace dims its source fixes (a model exported
at 224 checked at 320), shape inference also runs at the declared sizes, and each op that a
constant can pin (Reshape targets, Resize sizes) compares the two runs in its registry entry.
"""

from __future__ import annotations

from analyzer.graph import Model
from analyzer.ops.base import FixedSizeContext, Run
from analyzer.passes.shapes import ShapeResult, infer_shapes
from analyzer.rules import FIXED_SIZE_DEPENDENCY, Diagnostic


def fixed_size_dependencies(model: Model, now: ShapeResult) -> list[Diagnostic]:
    """S109 for every node that does not follow the what-if sizes; none without them."""
    if not model.declared:
        return []
    then = infer_shapes(model, inputs=model.declared)  # type: ignore[arg-type]
    found = []
    for (node, opdef), before, after in zip(model.steps(), then.outcomes, now.outcomes, strict=True):
        if opdef is None or opdef.fixed_size is None or before is None or after is None:
            continue
        context = FixedSizeContext(node, _run(node, before, then), _run(node, after, now), model.per_sample)
        message = opdef.fixed_size(context)
        if message is not None:
            found.append(Diagnostic(FIXED_SIZE_DEPENDENCY.code, FIXED_SIZE_DEPENDENCY.severity, node.name,
                                    message, node.location))
    return found


def _run(node, outcome, result: ShapeResult) -> Run:
    return Run(outcome.in_shapes, outcome.out_shapes_for(node), [result.values.get(t) for t in node.inputs],
               outcome.resolved)
