"""`convlint export-spec`: the JSON spec equivalent of an ONNX model, where its ops map.

The reverse of the spec front end: each data-path ONNX node becomes one spec layer with
PyTorch-style fields; weights, constants and shape computations disappear into the layers
that use them. Ops without a spec equivalent are listed, and nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from analyzer.graph import Model, Node
from analyzer.passes import Analysis
from analyzer.passes.params import constant_source

Layer = dict[str, Any]


class NotExportable(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _one(values: list[int]) -> int | list[int]:
    return values[0] if len(set(values)) == 1 else values


class _Exporter:
    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.model: Model = analysis.model
        self.shapes = analysis.shapes
        self.names: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def shape(self, tensor: str) -> tuple:
        """A tensor's shape; the node is checked to have every shape known before it is read."""
        return self.shapes.shapes.get(tensor) or ()

    def known_shape(self, node: Node, tensor: str, rank: int = 0, batched: bool = False) -> tuple:
        """The shape of ``tensor`` (of rank ``rank`` at least), every dim a known size but a
        ``batched`` tensor's first; else the node cannot be written as a layer."""
        shape = self.shapes.shapes.get(tensor) if tensor else None
        if shape is None or len(shape) < rank or not all(isinstance(d, int) for d in shape[1 if batched else 0:]):
            raise NotExportable([f"{node.name}: the shape of {tensor or 'an input'} is not fully known"
                                 + (f" as rank {rank} or more" if shape is not None and len(shape) < rank else "")])
        return shape

    def is_constant(self, tensor: str) -> bool:
        return bool(tensor) and (tensor in self.shapes.values or constant_source(self.model, tensor, self.shapes) is not None)

    def data_inputs(self, node: Node) -> list[str]:
        return [t for t in node.inputs if t and not self.is_constant(t)]

    def window_fields(self, node: Node) -> Layer:
        geometry = self.shapes.resolved[node.name]["window"]
        windows = geometry.windows
        fields: Layer = {"kernel_size": _one([w.kernel for w in windows])}
        strides = [w.stride for w in windows]
        if any(s != 1 for s in strides) or node.op in ("MaxPool", "AveragePool", "LpPool"):
            fields["stride"] = _one(strides)  # pools: the spec's default stride is the kernel
        pads = [(w.pad_begin, w.pad_end) for w in windows]
        if any(p is None for pair in pads for p in pair):
            raise NotExportable([f"{node.name}: padding depends on an unknown input size"])
        if all(b == e for b, e in pads):
            if any(b for b, _ in pads):
                fields["padding"] = _one([b for b, _ in pads])
        else:
            fields["padding"] = [[b, e] for b, e in pads]
        dilations = [w.dilation for w in windows]
        if any(d != 1 for d in dilations):
            fields["dilation"] = _one(dilations)
        return fields

    # -- ops -------------------------------------------------------------------------------------
    def conv(self, node: Node) -> Layer:
        """Conv and ConvTranspose: channels from the weight's dims, groups, bias."""
        weight = self.known_shape(node, node.inputs[1], 2)
        group = node.attrs.get("group", 1)
        transposed = node.op == "ConvTranspose"
        layer = {"op": "conv_transpose" if transposed else "conv",
                 "out_channels": weight[1] * group if transposed else weight[0], **self.window_fields(node)}
        output_padding = node.attrs.get("output_padding")
        if transposed and output_padding and any(output_padding):
            layer["output_padding"] = _one(list(output_padding))
        if group != 1:
            layer["groups"] = group
        if len(node.inputs) < 3 or not node.inputs[2]:
            layer["bias"] = False
        return layer

    def pool(self, node: Node) -> Layer:
        layer = {"op": "max_pool" if node.op == "MaxPool" else "avg_pool", **self.window_fields(node)}
        if node.attrs.get("ceil_mode"):
            layer["ceil_mode"] = True
        if node.op == "AveragePool" and node.attrs.get("count_include_pad", 0) == 0 and "padding" in layer:
            layer["count_include_pad"] = False
        return layer

    def batch_norm(self, node: Node) -> Layer:
        layer: Layer = {"op": "batch_norm"}
        eps = float(f"{node.attrs.get('epsilon', 1e-5):.7g}")  # float32 attributes: 1e-5 stays 1e-5
        if eps != 1e-5:
            layer["eps"] = eps
        return layer

    def layer_norm(self, node: Node) -> Layer:
        x = self.shape(node.inputs[0])
        axis = node.attrs.get("axis", -1) % len(x)
        if axis == 0:
            raise NotExportable([f"{node.name}: LayerNormalization over the batch axis"])
        return {"op": "layer_norm", "normalized_shape": list(x[axis:]), **({} if len(node.inputs) > 2 and node.inputs[2] else {"bias": False})}

    def linear(self, node: Node) -> Layer:
        weight = self.known_shape(node, node.inputs[1], 1)
        if node.op == "Gemm":
            if node.attrs.get("transA", 0) or node.attrs.get("alpha", 1.0) != 1.0 or node.attrs.get("beta", 1.0) != 1.0:
                raise NotExportable([f"{node.name}: Gemm with transA, alpha or beta"])
            out = weight[0] if node.attrs.get("transB", 0) else weight[1]
            bias = len(node.inputs) > 2 and bool(node.inputs[2])
        else:
            out, bias = weight[-1], False
        return {"op": "linear", "out_features": out, **({} if bias else {"bias": False})}

    def flatten(self, node: Node) -> Layer:
        x, y = self.shape(node.inputs[0]), self.shape(node.outputs[0])
        if len(y) != 2 or not x or y[0] != x[0]:
            raise NotExportable([f"{node.name}: {node.op} that does not flatten each sample"])
        return {"op": "flatten"}

    def resize(self, node: Node) -> Layer:
        plan = self.shapes.resolved[node.name].get("resample", {})
        spatial = range(2, len(self.shape(node.inputs[0])))
        if not spatial or any(plan.get(a) is None for a in spatial) or any(a not in spatial for a in plan if plan[a].scale != 1):
            raise NotExportable([f"{node.name}: resizing other than the spatial axes"])
        mode = plan[2].mode
        layer: Layer = {"op": "upsample"}
        scales = [plan[a].scale for a in spatial]
        if all(float(s).is_integer() for s in scales):
            layer["scale_factor"] = _one([float(s) for s in scales])
        else:
            layer["size"] = _one([plan[a].out_size for a in spatial])
        rank = len(spatial)
        layer["mode"] = {"nearest": "nearest", "cubic": "bicubic"}.get(
            mode, {1: "linear", 2: "bilinear", 3: "trilinear"}[rank])
        if plan[2].transform == "align_corners":
            layer["align_corners"] = True
        return layer

    def pad(self, node: Node) -> Layer:
        windows = self.shapes.resolved[node.name].get("shift", {})
        x = self.shape(node.inputs[0])
        if any(a < 2 and (w.pad_begin or w.pad_end) for a, w in windows.items()):
            raise NotExportable([f"{node.name}: padding of the batch or channel axis"])
        pairs = [[windows[a].pad_begin, windows[a].pad_end] if a in windows else [0, 0] for a in range(2, len(x))]
        mode = {"edge": "replicate", "wrap": "circular"}.get(node.attrs.get("mode", "constant"), node.attrs.get("mode", "constant"))
        return {"op": "pad", "padding": pairs, **({} if mode == "constant" else {"mode": mode})}

    def reduce_mean(self, node: Node) -> Layer:
        rank = len(self.shape(node.inputs[0]))
        reduced = self.shapes.resolved[node.name].get("reduced")
        if reduced != set(range(2, rank)) or not node.attrs.get("keepdims", 1):
            raise NotExportable([f"{node.name}: ReduceMean other than a global average pool"])
        return {"op": "global_avg_pool"}

    def softmax(self, node: Node) -> Layer:
        rank = len(self.shape(node.inputs[0]))
        axis = node.attrs.get("axis", -1 if self.model.opset.get("", 13) >= 13 else 1) % rank
        return {"op": "softmax" if node.op == "Softmax" else "log_softmax", "axis": axis - 1}

    def concat(self, node: Node) -> Layer:
        rank = len(self.shape(node.outputs[0]))
        return {"op": "concat", "axis": node.attrs.get("axis", 0) % rank - 1}

    def binary(self, node: Node) -> Layer:
        if any(self.is_constant(t) for t in node.inputs if t):
            raise NotExportable([f"{node.name}: {node.op} with a constant operand (a folded scale or bias)"])
        return {"op": "add" if node.op in ("Add", "Sum") else "mul"}

    def clip(self, node: Node) -> Layer:
        bounds = [node.attrs.get("min"), node.attrs.get("max")]
        for i, index in enumerate((1, 2)):
            value = self.shapes.values.get(node.inputs[index]) if len(node.inputs) > index and node.inputs[index] else None
            if value is not None and value.values:
                bounds[i] = value.values[0]
        if bounds == [0.0, 6.0] or bounds == [0, 6]:
            return {"op": "relu6"}
        raise NotExportable([f"{node.name}: Clip({bounds[0]}, {bounds[1]}) is not relu6"])

    def prelu(self, node: Node) -> Layer:
        slope = self.known_shape(node, node.inputs[1])
        count = 1
        for d in slope:
            count *= d
        return {"op": "prelu", **({"num_parameters": count} if count > 1 else {})}

    def simple(self, op: str, **fields: Any) -> Callable[[Node], Layer]:
        return lambda node: {"op": op, **{k: f(node) for k, f in fields.items()}}


def _table(e: _Exporter) -> dict[str, Callable[[Node], Layer]]:
    activations = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Elu": "elu", "Selu": "selu",
                   "Celu": "celu", "Gelu": "gelu", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid",
                   "Softplus": "softplus", "Softsign": "softsign", "Mish": "mish", "Swish": "silu"}
    table: dict[str, Callable[[Node], Layer]] = {op: e.simple(name) for op, name in activations.items()}
    table.update({
        "Conv": e.conv, "ConvTranspose": e.conv, "MaxPool": e.pool, "AveragePool": e.pool,
        "GlobalAveragePool": e.simple("global_avg_pool"), "GlobalMaxPool": e.simple("global_max_pool"),
        "BatchNormalization": e.batch_norm, "LayerNormalization": e.layer_norm,
        "InstanceNormalization": e.simple("instance_norm", affine=lambda n: True),
        "GroupNormalization": e.simple("group_norm", num_groups=lambda n: n.attrs.get("num_groups", 1)),
        "LeakyRelu": e.simple("leaky_relu", negative_slope=lambda n: n.attrs.get("alpha", 0.01)),
        "PRelu": e.prelu, "Clip": e.clip, "Softmax": e.softmax, "LogSoftmax": e.softmax,
        "Dropout": e.simple("dropout"), "Identity": e.simple("identity"),
        "Add": e.binary, "Sum": e.binary, "Mul": e.binary, "Concat": e.concat,
        "Flatten": e.flatten, "Reshape": e.flatten, "Gemm": e.linear, "MatMul": e.linear,
        "Resize": e.resize, "Upsample": e.resize, "Pad": e.pad, "ReduceMean": e.reduce_mean,
    })
    return table


def _layer_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[\s/]+", ".", name.strip("/ ")) or "layer"
    candidate, index = base, 1
    while candidate in taken:
        index += 1
        candidate = f"{base}_{index}"
    taken.add(candidate)
    return candidate


def export_spec(analysis: Analysis) -> dict[str, Any]:
    """The spec as a JSON-ready dict; raises NotExportable listing every op that does not map."""
    model = analysis.model
    exporter = _Exporter(analysis)
    table = _table(exporter)
    problems: list[str] = []
    taken: set[str] = set()
    inputs = []
    failed: set[str] = set()
    for tensor in model.inputs:
        shape = analysis.shapes.shapes.get(tensor)
        if shape is None or len(shape) < 2 or not all(isinstance(d, int) for d in shape[1:]):
            problems.append(f"input {tensor}: its shape is not declared (use --input-shape)" if shape is None else
                            f"input {tensor} {shape}: the per-sample dims must be known (use --input-shape)")
            failed.add(tensor)  # the layers reading it are not listed again
            continue
        exporter.names[tensor] = _layer_name(tensor, taken)
        inputs.append({"name": exporter.names[tensor], "shape": list(shape[1:])})
    layers: list[Layer] = []
    broken = {d.node: d for d in reversed(analysis.diagnostics) if d.severity == "error" and d.node}
    for name in model.order:
        node = model.nodes[name]
        outputs = [t for t in node.outputs if t]
        if not outputs or all(exporter.is_constant(t) for t in outputs[:1]):
            continue  # weights, constants and shape computations live inside the layers
        sources = exporter.data_inputs(node)
        if any(t in failed for t in sources):
            failed.update(outputs)  # already reported where it started
            continue
        if name in analysis.shapes.failed:  # its attributes or inputs do not make a layer
            error = broken.get(name)
            problems.append(f"{name}: {error.message} [{error.code}]" if error else f"{name}: no output shape")
            failed.update(outputs)
            continue
        try:
            if node.domain or node.op not in table:
                raise NotExportable([f"{name}: {node.domain + '::' if node.domain else ''}{node.op} has no spec equivalent"])
            for tensor in (*sources, outputs[0]):
                exporter.known_shape(node, tensor, batched=True)
            layer = table[node.op](node)
        except NotExportable as error:
            problems.extend(error.problems)
            failed.update(outputs)
            continue
        unknown = [t for t in sources if t not in exporter.names]
        if unknown:
            problems.append(f"{name}: reads {unknown[0]}, which no exported layer produces")
            continue
        layer_name = _layer_name(name, taken)
        for tensor in outputs:
            exporter.names[tensor] = layer_name
        layers.append({"name": layer_name, "op": layer.pop("op"), "inputs": [exporter.names[t] for t in sources], **layer})
    if problems:
        raise NotExportable(problems)
    _drop_default_inputs(layers, inputs)
    return {"name": model.name, "description": f"Exported by convlint from {model.path}",
            "inputs": inputs, "layers": layers}


def _drop_default_inputs(layers: list[Layer], inputs: list[Layer]) -> None:
    """Leave out ``inputs`` where it is the default (the previous layer), as a person would."""
    previous = inputs[0]["name"] if inputs else None
    for layer in layers:
        if layer["inputs"] == [previous]:
            del layer["inputs"]
        previous = layer["name"]


def dump(spec: dict[str, Any]) -> str:
    """One layer per line: reviewable as a readable diff in git."""
    lines = ["{"]
    for key, value in spec.items():
        if key != "layers":
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "layers": [')
    lines.append(",\n".join(f"    {json.dumps(layer)}" for layer in spec["layers"]))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
