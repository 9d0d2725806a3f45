"""The library entry point leaves the garbage collector as it found it, and files what it made
as old: the next young collection does not walk a large report."""

from __future__ import annotations

import gc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.api import analyze_path


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> str:
    """300 conv/relu pairs: tens of thousands of objects in the analysis."""
    weight = numpy_helper.from_array(np.zeros((4, 4, 3, 3), np.float32), "w")
    nodes, last = [], "x"
    for i in range(300):
        nodes.append(helper.make_node("Conv", [last, "w"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        last = f"r{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)], [weight])
    path = tmp_path_factory.mktemp("api") / "chain.onnx"
    onnx.save(helper.make_model(graph), path)
    return str(path)


def test_the_result_is_filed_as_old_and_gc_restored(chain):
    assert gc.isenabled()
    before = [s["collections"] for s in gc.get_stats()]
    report = analyze_path(chain)
    after = [s["collections"] for s in gc.get_stats()]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert after == before  # no collection walked what the analysis made
    assert len(gc.get_objects(generation=0)) < 1000
    assert len(report.nodes) == 600 and report.totals.params == 4 * 4 * 3 * 3


def test_a_callers_frozen_objects_stay_frozen(chain):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        analyze_path(chain)
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_disabled_gc_stays_disabled(chain):
    gc.disable()
    try:
        analyze_path(chain)
        assert not gc.isenabled()
    finally:
        gc.enable()
