"""Helpers for the ONNX tests: analyse a ModelProto, and run it in onnxruntime with every
intermediate tensor exposed, to compare shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from analyzer.frontends.onnx import build_graph
from analyzer.passes import analyze
from analyzer.report.build import build_report

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def report_of_model(model: onnx.ModelProto, input_shapes=None):
    return build_report(analyze(build_graph("model.onnx", model, input_shapes or {})))


def shapes_by_tensor(report) -> dict[str, list]:
    return {o.name: o.shape for n in report.nodes for o in n.outputs}


def random_input(value_info: onnx.ValueInfoProto, shape=None) -> np.ndarray:
    tensor_type = value_info.type.tensor_type
    dims = shape or [d.dim_value if d.dim_value > 0 else 1 for d in tensor_type.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 3, size=dims).astype(dtype)
    return rng.standard_normal(size=dims).astype(dtype)


def run_all_values(model: onnx.ModelProto, feeds: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every node output as onnxruntime computes it (each intermediate tensor exposed)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in
             (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)}
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in present and name in types:
                exposed.graph.output.append(helper.make_tensor_value_info(name, types[name], None))
                present.add(name)
    initializers = {i.name for i in model.graph.initializer}
    if feeds is None:
        feeds = {v.name: random_input(v) for v in model.graph.input if v.name not in initializers}
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def run_all_tensors(model: onnx.ModelProto, feeds: dict[str, np.ndarray] | None = None) -> dict[str, tuple]:
    """Every node output's shape as onnxruntime computes it."""
    return {name: tuple(value.shape) for name, value in run_all_values(model, feeds).items()}


def read_tensor(path: Path) -> np.ndarray:
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def with_input_dims(model: onnx.ModelProto, dims) -> onnx.ModelProto:
    """The model declaring other dims for its first input (``None`` keeps one): what
    onnxruntime runs at another size."""
    moved = onnx.ModelProto()
    moved.CopyFrom(model)
    for dim, value in zip(moved.graph.input[0].type.tensor_type.shape.dim, dims):
        if value is not None:
            dim.dim_value = value
    return moved
