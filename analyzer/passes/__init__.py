"""Passes: plain functions over a loaded :class:`~analyzer.graph.Model`, run by :func:`analyze`."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.graph import Model
from analyzer.passes.cost import CostResult, cost
from analyzer.passes.coverage import floor_drops
from analyzer.passes.params import ParamResult, count_parameters
from analyzer.passes.receptive import FieldResult, receptive_fields
from analyzer.passes.shapes import ShapeResult, infer_shapes
from analyzer.passes.whatif import fixed_size_dependencies
from analyzer.rules import Diagnostic


@dataclass
class Analysis:
    model: Model
    shapes: ShapeResult
    params: ParamResult
    fields: FieldResult
    cost: CostResult
    diagnostics: list[Diagnostic]


def analyze(model: Model, debug: bool = False) -> Analysis:
    shapes = infer_shapes(model, debug=debug)
    params = count_parameters(model, shapes)
    fields = receptive_fields(model, shapes, debug)
    costs = cost(model, shapes)
    diagnostics = [*model.notes, *shapes.diagnostics, *fields.diagnostics, *floor_drops(model, shapes),
                   *fixed_size_dependencies(model, shapes)]
    if len(diagnostics) > 1:
        rank = {name: i for i, name in enumerate(model.order)}
        diagnostics.sort(key=lambda d: rank.get(d.node, -1) if d.node else -1)
    return Analysis(model, shapes, params, fields, costs, diagnostics)
