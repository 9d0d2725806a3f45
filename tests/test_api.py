"""The library: every kind of source gives the report the command line gives; and the entry
point leaves the garbage collector as it found it, filing what it made as old, so the next
young collection does not walk a large report."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import jsonschema
import numpy as np
import onnx
import pytest
from conftest import ROOT, SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import run_all_tensors, with_input_dims
from typer.testing import CliRunner

from analyzer import api
from analyzer.api import analyze_path
from analyzer.cli import app
from analyzer.errors import InputError
from analyzer.frontends.spec import validate


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


# -- the library API: every kind of source, the same report as the command line --------------
runner = CliRunner()


def cli(*arguments: str) -> dict:
    result = runner.invoke(app, [*arguments, "-f", "json"])
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def without_path(report: dict) -> dict:
    return {**report, "model": {k: v for k, v in report["model"].items() if k != "path"},
            "diagnostics": [{k: v for k, v in d.items() if k not in ("line", "column")} for d in report["diagnostics"]]}


@pytest.mark.parametrize("name", ["unet.json", "broken_channels.json", "tiny_resnet.onnx"])
def test_a_path_gives_the_command_lines_report(name):
    report = api.analyze(SAMPLES / name)
    expected = cli("analyze", str(SAMPLES / name))
    expected["model"]["path"] = str(SAMPLES / name)
    assert report.to_dict() == expected
    assert json.loads(report.to_json()) == expected
    jsonschema.validate(report.to_dict(), json.loads((ROOT / "schemas" / "report.schema.json").read_text()))


def test_every_kind_of_spec_source_gives_the_same_report():
    path = SAMPLES / "unet.json"
    document = json.loads(path.read_text())
    expected = without_path(api.analyze(str(path)).to_dict())
    for source in (document, validate("unet.json", document), path.read_bytes(), Path(path)):
        assert without_path(api.analyze(source).to_dict()) == expected
    assert api.analyze(document).model.path == "<spec>"


def test_every_kind_of_onnx_source_gives_onnxruntimes_shapes():
    path = SAMPLES / "tiny_resnet.onnx"
    proto = onnx.load(path)
    truth = run_all_tensors(with_input_dims(proto, [2]))
    for source in (str(path), proto, path.read_bytes()):
        report = api.analyze(source, input_shape=(2, 3, 64, 64))
        shapes = {o.name: tuple(o.shape) for n in report.nodes for o in n.outputs}
        assert {name: shapes[name] for name in truth} == truth
    assert api.analyze(proto).model.path == "<onnx>"


def test_what_if_sizes_and_the_selection_are_the_command_lines():
    path = str(SAMPLES / "unet.json")
    report = api.analyze(path, input_shapes={"image": "1x100x100"}, batch=4, select=["S"])
    assert report.to_dict() == {**cli("analyze", path, "--input-shape", "image=1x100x100", "--batch", "4",
                                      "--select", "S"), "model": report.to_dict()["model"]}
    assert {d.code for d in report.findings} == {"S103"} and report.findings is report.diagnostics
    seed = str(SAMPLES / "seed.json")
    assert [d.code for d in api.analyze(seed).findings] == ["F101"]
    assert api.analyze(seed, ignore=["F1"]).findings == []
    assert [d.code for d in api.analyze(seed, extend_select=["D101"]).findings] == ["F101"]
    fixed = api.analyze(SAMPLES / "tiny_resnet.onnx", input_shapes={"image": (1, 3, 96, 96)}, override_shape=True)
    assert fixed.node("logits").outputs[0].shape == [1, 10]
    with pytest.raises(InputError, match="conflicts with its fixed shape"):
        api.analyze(with_input_dims(onnx.load(SAMPLES / "tiny_resnet.onnx"), [1]), input_shape=(4, 3, 64, 64))
    assert api.analyze(with_input_dims(onnx.load(SAMPLES / "tiny_resnet.onnx"), [1]), input_shape=(4, 3, 64, 64),
                       override_shape=True).node("logits").outputs[0].shape == [4, 10]


def test_node_and_the_networkx_graph_follow_the_onnx_file():
    proto = onnx.load(SAMPLES / "tiny_resnet.onnx")
    report = api.analyze(proto)
    assert report.node("stem.conv").op == "Conv"
    with pytest.raises(KeyError, match="no node 'ghost' in tiny_resnet"):
        report.node("ghost")
    producers = {out: n.name for n in proto.graph.node for out in n.output}
    expected = {(producers[t], n.name) for n in proto.graph.node for t in n.input if t in producers}
    graph = report.graph()
    assert set(graph.edges) == expected and set(graph.nodes) == {n.name for n in proto.graph.node}
    assert graph.nodes["logits"]["report"] is report.node("logits") and graph.nodes["logits"]["op"] == "Gemm"


def test_sizes_and_diff_are_the_command_lines():
    scan = api.sizes(SAMPLES / "unet.json", high=512)
    assert scan.to_dict() == cli("sizes", str(SAMPLES / "unet.json"), "--max", "512")
    assert scan.axis("H").rule == "H % 16 == 0" and scan.accepts(512) and not scan.accepts(100)
    changed = api.diff(SAMPLES / "tiny_resnet.onnx", SAMPLES / "tiny_resnet_wide.onnx")
    assert changed.to_dict() == cli("diff", str(SAMPLES / "tiny_resnet.onnx"), str(SAMPLES / "tiny_resnet_wide.onnx"))
    assert changed.totals()[0].what == "params" and changed.totals()[0].new > changed.totals()[0].old


def test_what_cannot_be_read_raises():
    with pytest.raises(InputError, match="no such file"):
        api.analyze("missing.onnx")
    with pytest.raises(TypeError, match="cannot analyse a int"):
        api.analyze(3)
    with pytest.raises(InputError) as error:
        api.analyze({"inputs": [], "layers": []})
    assert error.value.lines()[0].startswith("<spec>: /")


def test_select_replaces_the_given_settings_extend_select_as_on_the_command_line():
    """As --select over a configuration file: ``select`` is the whole selection, the
    settings' extend-select does not add to it, ``extend_select`` given with it does."""
    from analyzer.settings import Settings

    seed, settings = str(SAMPLES / "seed.json"), Settings(extend_select=("F101",))
    assert [d.code for d in api.analyze(seed, settings=settings).findings] == ["F101"]
    assert api.analyze(seed, settings=settings, select=["C"]).findings == []
    assert [d.code for d in api.analyze(seed, settings=settings, select=["C"], extend_select=["F1"]).findings] \
        == ["F101"]
