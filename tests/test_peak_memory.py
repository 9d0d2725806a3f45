"""Peak activation memory (REFERENCE §7): the most bytes live at once in a forward pass at batch
1, checked against the tensors onnxruntime computes. The truth is brute force over the ONNX
node order: while node i runs, the inputs (held by the caller), every activation made at or
before i that some node at or after i reads, and every model output made so far are live."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import random_input, run_all_values, with_input_dims
from test_exported_models import with_zero_weights

from analyzer.api import analyze

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
DATA = Path(__file__).parent / "data"
MODELS = [
    SAMPLES / "tiny_resnet.onnx",
    ONNX_DATA / "light" / "light_inception_v1.onnx",  # branches joined by Concat
    ONNX_DATA / "light" / "light_squeezenet.onnx",
    DATA / "torchvision" / "efficientnet_b0.ts.onnx.gz",  # squeeze-and-excitation gates
    DATA / "torchvision" / "densenet121.ts.onnx.gz",  # every feature map read again by later concats
]


def activations(model: onnx.ModelProto) -> set[str]:
    """Tensors computed from a model input (not from constants, nor from shapes alone)."""
    weights = {t.name for t in model.graph.initializer}
    reached = {i.name for i in model.graph.input if i.name not in weights}
    for node in model.graph.node:
        if node.op_type not in ("Shape", "Size") and reached.intersection(node.input):
            reached.update(node.output)
    return reached


def brute_force_peak(model: onnx.ModelProto, sizes: dict[str, int]) -> tuple[int, str | None]:
    nodes = list(model.graph.node)
    made = {t: i for i, node in enumerate(nodes) for t in node.output if t in sizes}
    returned = {o.name for o in model.graph.output}
    inputs = sum(sizes[i.name] for i in model.graph.input if i.name in sizes)
    best, at = inputs, None
    for i, node in enumerate(nodes):
        live = inputs
        for tensor, j in made.items():
            read_later = any(tensor in later.input for later in nodes[i:])
            if j == i or (j < i and (read_later or tensor in returned)):
                live += sizes[tensor]
        if live > best:
            best, at = live, node.name
    return best, at


def load_model(path: Path) -> onnx.ModelProto:
    model = onnx.ModelProto()
    data = path.read_bytes()
    model.ParseFromString(gzip.decompress(data) if path.suffix == ".gz" else data)
    return model


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name.split(".")[0])
def test_peak_is_the_brute_force_over_onnxruntimes_tensors(path, tmp_path):
    model = load_model(path)
    if not model.graph.input[0].type.tensor_type.shape.dim[0].dim_value:
        model = with_input_dims(model, [1])  # a free batch dim, at batch 1
    file = tmp_path / "model.onnx"
    file.write_bytes(model.SerializeToString())
    feeds = {i.name: random_input(i) for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}}
    values = {**feeds, **run_all_values(with_zero_weights(model), feeds)}
    kept = activations(model)
    sizes = {name: value.nbytes for name, value in values.items() if name in kept}
    peak, node = brute_force_peak(model, sizes)
    totals = analyze(str(file)).totals
    assert (totals.peak_memory.bytes, totals.peak_memory.node) == (peak, node)
    assert totals.peak_memory.unknown == 0
    assert peak < totals.memory.bytes + sum(v.nbytes for v in feeds.values())


def test_seed_by_hand():
    """(3, 6, 6) float32 in, (64, 2, 2) out: both live while the conv runs."""
    totals = analyze(str(SAMPLES / "seed.json")).totals
    assert totals.peak_memory.bytes == 3 * 6 * 6 * 4 + 64 * 2 * 2 * 4
    assert totals.peak_memory.node == "conv1"


def test_per_batch_peak_and_unknown_sizes():
    totals = analyze(str(SAMPLES / "seed.json"), batch=8).totals
    assert totals.per_batch.peak_memory == 8 * (3 * 6 * 6 * 4 + 64 * 2 * 2 * 4)
    # Free spatial sizes: the input and both nodes' outputs are of unknown size.
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]), helper.make_node("Relu", ["c"], ["r"])],
        "free", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")])
    peak = analyze(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).totals.peak_memory
    assert (peak.bytes, peak.node, peak.unknown) == (0, None, 3)
