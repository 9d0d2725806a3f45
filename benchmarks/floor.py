"""The least a Python program does to write the node lines of a Conv/Relu/Add graph's report.

    python benchmarks/floor.py MODEL.onnx > nodes.jsonl

A yardstick, not an analyser: it reads the model as convlint does (its wire scanner and
protobuf classes), then per node reads the op, names and attributes, works out the output
shape (once per distinct conv and input shape), the parameters, MACs, receptive field and
memory with a rule written for each of the three ops, and writes the line convlint's JSON
report has for the node (run.py checks the two are equal). No validation, findings, coverage
or peak memory, no graph object, no registry: whatever convlint does beyond this is what a
faster convlint could save, so this bounds from below what any Python implementation of the
report costs on a graph of these ops.
"""

from __future__ import annotations

import gc
import sys
from json.encoder import encode_basestring as quote
from math import prod

from analyzer.frontends.onnx_messages import parse_model
from analyzer.frontends.onnx_wire import slim_model

Axis = tuple[int, int, int]
"""One spatial axis of a receptive field: (first, last) input position a unit sees relative to
its own position times the stride, and the stride in input pixels."""


def _conv_field(field: tuple[Axis, ...], kernel: list[int], strides: list[int], pads: list[int],
                dilations: list[int]) -> tuple[Axis, ...]:
    return tuple((lo - pads[a] * step, hi + (dilations[a] * (kernel[a] - 1) - pads[a]) * step, step * strides[a])
                 for a, (lo, hi, step) in enumerate(field))


def _union(first: tuple[Axis, ...], second: tuple[Axis, ...]) -> tuple[Axis, ...]:
    if first == second:
        return first
    return tuple((min(a[0], b[0]), max(a[1], b[1]), a[2]) for a, b in zip(first, second))


def _field_text(field: tuple[Axis, ...]) -> str:
    sizes = ", ".join(str(hi - lo + 1) for lo, hi, _ in field)
    offsets = []
    for lo, hi, step in field:
        twice = lo + hi - step + 1
        offsets.append(str(twice // 2 if twice % 2 == 0 else twice / 2))
    return (f'{{"size": [{sizes}], "stride": [{", ".join(str(s) for _, _, s in field)}], '
            f'"padding": [{", ".join(str(-lo) for lo, _, _ in field)}], "global": false, '
            f'"size_min": [{sizes}], "center_offset": [{", ".join(offsets)}]}}')


def node_lines(path: str) -> list[str]:
    with open(path, "rb") as file:
        graph = parse_model(slim_model(file)).graph
    dims = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in graph.input}
    fields = {name: tuple((0, 0, 1) for _ in shape[2:]) for name, shape in shapes.items()}
    decoded: dict[tuple[bytes, ...], dict] = {}
    convs: dict[tuple, tuple] = {}
    lines = []
    for proto in graph.node:
        op, inputs, outputs = proto.op_type, proto.input[:], proto.output[:]
        key = tuple([a.SerializeToString() for a in proto.attribute])
        attrs = decoded.get(key)
        if attrs is None:
            attrs = decoded[key] = {a.name: list(a.ints) if a.ints else a.i for a in proto.attribute}
        shape, field = shapes[inputs[0]], fields[inputs[0]]
        params = macs = 0
        if op == "Conv":
            weight = dims[inputs[1]]
            spatial = len(weight) - 2
            kernel = attrs.get("kernel_shape", weight[2:])
            strides = attrs.get("strides", [1] * spatial)
            pads = attrs.get("pads", [0] * 2 * spatial)
            dilations = attrs.get("dilations", [1] * spatial)
            found = convs.get((key, shape, weight))
            if found is None:
                out = tuple((shape[2 + a] + pads[a] + pads[a + spatial] - dilations[a] * (kernel[a] - 1) - 1)
                            // strides[a] + 1 for a in range(spatial))
                found = convs[(key, shape, weight)] = (
                    (shape[0], weight[0], *out),
                    prod(weight) + (prod(dims[inputs[2]]) if len(inputs) > 2 else 0),
                    prod(weight[1:]) * weight[0] * prod(out),
                )
            shape, params, macs = found
            field = _conv_field(field, kernel, strides, pads, dilations)
        elif op == "Add":
            field = _union(field, fields[inputs[1]])
        elif op != "Relu":
            raise SystemExit(f"floor.py writes Conv, Relu and Add nodes only, not {op}")
        shapes[outputs[0]], fields[outputs[0]] = shape, field
        elements = prod(shape[1:])
        lines.append(
            f'{{"name": {quote(proto.name)}, "op": {quote(op)}, "inputs": [{", ".join(map(quote, inputs))}], '
            f'"outputs": [{{"name": {quote(outputs[0])}, "shape": [{", ".join(map(str, shape))}]}}], '
            f'"params": {params}, "buffers": 0, "macs": {macs}, "receptive_field": {_field_text(field)}, '
            f'"memory": {{"elements": {elements}, "bytes": {4 * elements}}}}}'
        )
    return lines


if __name__ == "__main__":
    gc.disable()  # as convlint runs its analysis
    sys.stdout.write("\n".join(node_lines(sys.argv[1])) + "\n")
