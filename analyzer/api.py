"""The library entry point: a model file in, a report out.

    from analyzer.api import analyze_path
    report = analyze_path("model.onnx")
    print(report.totals.params, [d.code for d in report.diagnostics])
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from analyzer.frontends.inputs import InputSizes
from analyzer.graph import Shape
from analyzer.report.model import Report
from analyzer.settings import Settings


@contextmanager
def paused_gc() -> Iterator[None]:
    """Analysis allocates many small objects and frees them together; the cyclic collector's
    passes over them cost a third of the time on large graphs and find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                # What was made meanwhile is mostly a long-lived result: move it to the oldest
                # generation in O(1) (freeze, then unfreeze into it) rather than have the next
                # young collection walk all of it (30 ms for a 50k-node report). Cyclic garbage
                # among it is still collected, by the next full collection.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def analyze_path(path: str, settings: Settings | None = None,
                 input_shapes: dict[str, Shape] | InputSizes | None = None, debug: bool = False) -> Report:
    """Load an ONNX model or JSON spec, run every pass, build the report.

    Raises :class:`analyzer.errors.InputError` when the file cannot be read."""
    from analyzer.frontends import load
    from analyzer.passes import analyze
    from analyzer.report.build import build_report

    with paused_gc():
        return build_report(analyze(load(path, input_shapes), debug=debug), settings)
