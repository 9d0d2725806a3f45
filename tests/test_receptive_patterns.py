"""Receptive fields of the patterns modern networks are exported with (issue 14), against
perturbation truth from onnxruntime.

Each graph is built with ``onnx.helper`` the way the exporter writes the pattern: GroupNorm
as the TorchScript exporter lowers it, circular padding as Slice + Concat, a squeeze-and-
excitation gate, bilinear upsampling with align_corners, a tf2onnx channels-last input, ViT
and Swin-style attention. The truth: run the model in onnxruntime on a zero input and on
every one-pixel impulse (weights positive or random, biases zero), and see which units of
each tensor change. Global statistics (the gate, the normalisation's mean and variance) are
then frozen at their values for the zero input to measure the local field they leave; the
unfrozen model shows that they do carry global context.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model

from analyzer.passes import analyze
from analyzer.report.build import build_report

RNG = np.random.default_rng(14)
DATA = Path(__file__).parent / "data"


# -- building graphs ---------------------------------------------------------------------------
class Graph:
    """A graph under construction: nodes, initializers (random positive weights), an input."""

    def __init__(self, shape: list, opset: int = 17):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.shape = shape
        self.opset = opset
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value, stem: str = "k") -> str:
        name = self.name(stem)
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, *shape: int) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return self.const(RNG.uniform(0.5, 1.5, shape).astype(np.float32) / fan_in, "w")

    def op(self, op: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        out = name or self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int = 3, s: int = 1, p: int | None = None,
             name: str | None = None) -> str:
        p = k // 2 if p is None else p
        return self.op("Conv", [x, self.weight(c_out, c_in, k, k)], name, kernel_shape=[k, k],
                       strides=[s, s], pads=[p] * 4)

    def model(self, output: str) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *self.shape])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])


def squeeze_excite(g: Graph, x: str, c: int, name: str = "se") -> str:
    """torchvision's SqueezeExcitation: pool, 1x1 conv, ReLU, 1x1 conv, HardSigmoid, scale."""
    pooled = g.op("GlobalAveragePool", [x], f"{name}_pool")
    gate = g.op("HardSigmoid", [g.conv(g.op("Relu", [g.conv(pooled, c, c // 2, k=1)]), c // 2, c, k=1)],
                f"{name}_gate", alpha=1 / 6, beta=0.5)
    return g.op("Mul", [x, gate], f"{name}_scaled")


def group_norm(g: Graph, x: str, c: int, groups: int, name: str = "gn") -> str:
    """nn.GroupNorm as the TorchScript exporter writes it: Reshape (N, G, -1), an
    InstanceNormalization with constant ones and zeros, Reshape back, then the affine
    weight and bias as Mul and Add."""
    grouped = g.op("Reshape", [x, g.const(np.array([0, groups, -1]))])
    normed = g.op("InstanceNormalization", [grouped, g.const(np.ones(groups)), g.const(np.zeros(groups))],
                  f"{name}_instance", epsilon=1e-5)
    back = g.op("Reshape", [normed, g.op("Shape", [x])])
    scaled = g.op("Mul", [back, g.const(RNG.uniform(0.5, 1.5, (c, 1, 1)))])
    return g.op("Add", [scaled, g.const(np.zeros((c, 1, 1)))], name)


def circular_pad(g: Graph, x: str, pad: int, name: str = "wrapped") -> str:
    """F.pad(mode='circular') as the TorchScript exporter writes it: per spatial axis, the
    last ``pad`` rows, the tensor, the first ``pad`` rows, concatenated."""
    current = x
    for axis in (2, 3):
        left = g.op("Slice", [current, g.const(np.array([-pad])), g.const(np.array([2**63 - 1])),
                              g.const(np.array([axis]))])
        right = g.op("Slice", [current, g.const(np.array([0])), g.const(np.array([pad])),
                               g.const(np.array([axis]))])
        current = g.op("Concat", [left, current, right], name if axis == 3 else None, axis=axis)
    return current


# -- measuring ---------------------------------------------------------------------------------
def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    del exposed.graph.output[:]
    kind = exposed.graph.input[0].type.tensor_type.elem_type
    exposed.graph.output.extend(helper.make_tensor_value_info(n, kind, None) for n in names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    if exposed.graph.input[0].type.tensor_type.shape.dim[0].dim_value != 1:
        return dict(zip(names, session.run(names, feeds)))
    # an export for batch 1 (its reshapes name it): one sample a run, joined along axis 0
    runs = [session.run(names, {k: v[i:i + 1] for k, v in feeds.items()}) for i in range(len(feeds["x"]))]
    return {name: np.concatenate(values) for name, values in zip(names, zip(*runs))}


def freeze(model: onnx.ModelProto, tensors: list[str]) -> onnx.ModelProto:
    """The model with ``tensors`` made inputs: what computed them is cut off."""
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    kept = [n for n in frozen.graph.node if not set(n.output) & set(tensors)]
    del frozen.graph.node[:]
    frozen.graph.node.extend(kept)
    frozen.graph.input.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in tensors)
    return frozen


def impulses(shape: tuple[int, ...], spatial: tuple[int, int], pixels: list[tuple[int, int]],
             base: float, amplitude: float) -> np.ndarray:
    """A batch: the constant input first, then one impulse per pixel (all channels) on it."""
    batch = np.full((len(pixels) + 1, *shape), base, np.float32)
    for b, (h, w) in enumerate(pixels, start=1):
        index: list = [b] + [slice(None)] * len(shape)
        index[1 + spatial[0]], index[1 + spatial[1]] = h, w
        batch[tuple(index)] += amplitude
    return batch


def reach(model: onnx.ModelProto, names: list[str], shape: tuple[int, ...], spatial: tuple[int, int],
          frozen: list[str] = (), base: float = 0.0, amplitudes: tuple[float, ...] = (1.0,),
          pixels: list[tuple[int, int]] | None = None, chunk: int = 4096, batch_axes: dict[str, int] | None = None,
          ) -> tuple[list[tuple[int, int]], dict[str, np.ndarray]]:
    """Every pixel of the input probed: per tensor, which units an impulse changes (against
    the constant input ``base``), as a boolean array (pixel, *unit). Tensors in ``frozen``
    keep their values for the constant input. (On a zero input a gate multiplies zeros: the
    global check needs a positive one. Through layer norms and a softmax a unit impulse can
    move a far-away weight by less than float32 resolves, or by chance by nearly nothing:
    attention is probed with strong impulses of two signs, and a change to either counts.)
    ``batch_axes``: tensors whose batch axis is not the first (sequence-first attention)."""
    if pixels is None:
        pixels = [(h, w) for h in range(shape[spatial[0]]) for w in range(shape[spatial[1]])]
    found: dict[str, list] = {n: [] for n in names}
    for start in range(0, len(pixels), chunk):
        part: dict[str, np.ndarray] = {}
        for amplitude in amplitudes:
            batch = impulses(shape, spatial, pixels[start:start + chunk], base, amplitude)
            feeds, probed = {"x": batch}, model
            if frozen:
                values = run(model, {"x": batch[:1]}, list(frozen))
                probed = freeze(model, list(frozen))
                feeds |= {t: np.repeat(v, len(batch), axis=0) for t, v in values.items()}
            for name, value in run(probed, feeds, names).items():
                value = np.moveaxis(value, (batch_axes or {}).get(name, 0), 0)
                part[name] = part.get(name, False) | (value[1:] != value[:1])
        for name in names:
            found[name].append(part[name])
    return pixels, {n: np.concatenate(v) for n, v in found.items()}


def extents(pixels, changed: np.ndarray, size: tuple[int, int]) -> tuple[list[tuple[int, int]], bool]:
    """For units whose field stays clear of the input's borders: (rows, columns) each sees;
    and whether every unit sees every pixel. ``changed``: (pixel, *units) with the units
    already laid out as a (rows, columns) grid."""
    coords = np.array(pixels)
    seen = []
    for unit in np.ndindex(*changed.shape[1:]):
        reached = coords[changed[(slice(None), *unit)]]
        if len(reached) == 0:
            continue
        lo, hi = reached.min(axis=0), reached.max(axis=0)
        if (lo > 0).all() and (hi < np.array(size) - 1).all():
            seen.append((int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)))
    return seen, bool(changed.all())


def fields_by_tensor(report) -> dict:
    return {o.name: n.receptive_field for n in report.nodes for o in n.outputs}


def assert_local(field, seen: list[tuple[int, int]]) -> None:
    assert seen, "no unit away from the borders"
    assert field is not None
    assert field.size == [max(r for r, _ in seen), max(c for _, c in seen)]
    assert field.size_min == [min(r for r, _ in seen), min(c for _, c in seen)]


def assert_context(fields, names, pixels, local, whole, size, before: str) -> None:
    """Each tensor's field is the one measured with the global statistics frozen (``local``);
    it is marked global exactly where every unit depends on every pixel once they are not
    (``whole``): after the first gate or normalisation, not at ``before``."""
    for name in names:
        seen, _ = extents(pixels, maps(local[name]), size)
        assert_local(fields[name], seen)
        _, everywhere = extents(pixels, maps(whole[name]), size)
        assert fields[name].global_ == everywhere == (name != before), name


def maps(changed: np.ndarray) -> np.ndarray:
    """(pixel, C, H, W) -> (pixel, H, W): a unit position changed in any channel."""
    return changed.any(axis=1)


# -- squeeze-and-excitation, D104, the summary line ---------------------------------------------
def se_net() -> onnx.ModelProto:
    g = Graph([8, 48, 48])
    x = g.conv("x", 8, 8, s=2, name="stem")
    x = squeeze_excite(g, g.conv(x, 8, 8, name="block1"), 8, "se1")
    x = squeeze_excite(g, g.conv(x, 8, 8, s=2, name="block2"), 8, "se2")
    x = g.conv(x, 8, 16, k=1, name="last")
    flat = g.op("Flatten", [g.op("GlobalAveragePool", [x], "head_pool")], axis=1)
    return g.model(g.op("Gemm", [flat, g.weight(10, 16)], "classifier", transB=1))


def test_squeeze_excitation_keeps_the_local_field_against_impulses():
    model = se_net()
    names = ["stem", "se1_scaled", "block2", "se2_scaled", "last"]
    report = report_of_model(model, {"x": (1, 8, 48, 48)})
    fields = fields_by_tensor(report)
    pixels, frozen = reach(model, names, (8, 48, 48), (1, 2), frozen=["se1_pool", "se2_pool"])
    _, whole = reach(model, names, (8, 48, 48), (1, 2), base=1.0)
    assert_context(fields, names, pixels, frozen, whole, (48, 48), before="stem")


def test_summary_names_the_last_feature_map_not_the_first_gate():
    model = se_net()
    report = report_of_model(model, {"x": (1, 8, 48, 48)})
    pixels, frozen = reach(model, ["last"], (8, 48, 48), (1, 2), frozen=["se1_pool", "se2_pool"])
    seen, _ = extents(pixels, maps(frozen["last"]), (48, 48))
    summary = report.receptive_field
    assert summary.node == "last"
    assert summary.size == [max(r for r, _ in seen), max(c for _, c in seen)] == [11, 11]
    assert summary.input == [48, 48]
    # the gates' pools saw 7x7 and 11x11 of 48x48 but gate the trunk: no D104; the head pools 11x11
    assert [(d.code, d.node) for d in report.diagnostics if d.code == "D104"] == [("D104", "head_pool")]


def test_spec_with_squeeze_excitation_blocks():
    from conftest import report_of, spec

    def se(name: str, source: str) -> list[dict]:
        return [
            {"name": f"{name}_pool", "op": "global_avg_pool", "inputs": [source]},
            {"name": f"{name}_fc1", "op": "conv", "out_channels": 4, "kernel_size": 1},
            {"name": f"{name}_relu", "op": "relu"},
            {"name": f"{name}_fc2", "op": "conv", "out_channels": 8, "kernel_size": 1},
            {"name": f"{name}_gate", "op": "hardsigmoid"},
            {"name": f"{name}_scaled", "op": "mul", "inputs": [source, f"{name}_gate"]},
        ]

    layers = [
        {"name": "c1", "op": "conv", "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1},
        *se("se1", "c1"),
        {"name": "c2", "op": "conv", "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1},
        *se("se2", "c2"),
        {"name": "c3", "op": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "pool", "op": "global_avg_pool"},
        {"name": "flat", "op": "flatten"},
        {"name": "fc", "op": "linear", "out_features": 10},
    ]
    report = report_of(spec(layers, [3, 64, 64]))
    # r = 3, then 3 + 2*2 = 7 (stride 4), then 7 + 2*4 = 15: by the sliding-window rule
    assert (report.receptive_field.node, report.receptive_field.size) == ("c3", [15, 15])
    assert [(d.code, d.node) for d in report.diagnostics if d.code == "D104"] == [("D104", "pool")]


# -- GroupNorm as exported ---------------------------------------------------------------------
@pytest.mark.parametrize("groups", [1, 2])  # GroupNorm(1, C): the "LayerNorm over (C, H, W)" of PoolFormer
def test_group_norm_as_exported_marks_global_context_and_keeps_the_local_field(groups):
    g = Graph([8, 32, 32])
    x = g.conv("x", 8, 8, name="c1")
    x = group_norm(g, x, 8, groups=groups, name="gn1")
    x = g.conv(g.op("Relu", [x]), 8, 8, name="c2")
    x = group_norm(g, x, 8, groups=4, name="gn2")
    x = g.conv(x, 8, 8, s=2, name="c3")
    model = g.model(x)
    names = ["c1", "gn1", "c2", "gn2", "c3"]
    report = report_of_model(model, {"x": (1, 8, 32, 32)})
    fields = fields_by_tensor(report)

    # The statistics frozen at their zero-input values: InstanceNormalization becomes the
    # affine map it is for those statistics, (x - mean) / sqrt(var + eps).
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    stats = run(model, {"x": np.zeros((1, 8, 32, 32), np.float32)}, [n.input[0] for n in model.graph.node
                                                                      if n.op_type == "InstanceNormalization"])
    nodes = []
    for node in frozen.graph.node:
        if node.op_type != "InstanceNormalization":
            nodes.append(node)
            continue
        value = stats[node.input[0]]
        mean = value.mean(axis=-1, keepdims=True)[0]
        scale = 1 / np.sqrt(value.var(axis=-1, keepdims=True)[0] + 1e-5)
        frozen.graph.initializer.extend([numpy_helper.from_array(mean, f"{node.name}_mean"),
                                         numpy_helper.from_array(scale.astype(np.float32), f"{node.name}_scale")])
        nodes += [helper.make_node("Sub", [node.input[0], f"{node.name}_mean"], [f"{node.name}_centred"]),
                  helper.make_node("Mul", [f"{node.name}_centred", f"{node.name}_scale"], list(node.output))]
    del frozen.graph.node[:]
    frozen.graph.node.extend(nodes)

    pixels, local = reach(frozen, names, (8, 32, 32), (1, 2))
    _, whole = reach(model, names, (8, 32, 32), (1, 2), base=1.0)
    assert_context(fields, names, pixels, local, whole, (32, 32), before="c1")
    assert report.receptive_field.node == "c3" and report.receptive_field.size == [7, 7]


def test_layer_norm_over_channels_after_a_permute_is_local():
    """ConvNeXt's LayerNorm2d: permute to channels-last, LayerNormalization over C, back."""
    g = Graph([8, 24, 24])
    x = g.conv("x", 8, 8, name="c1")
    last = g.op("Transpose", [x], perm=[0, 2, 3, 1])
    normed = g.op("LayerNormalization", [last, g.const(np.ones(8)), g.const(np.zeros(8))], axis=-1)
    x = g.conv(g.op("Transpose", [normed], "ln", perm=[0, 3, 1, 2]), 8, 8, name="c2")
    model = g.model(x)
    fields = fields_by_tensor(report_of_model(model, {"x": (1, 8, 24, 24)}))
    pixels, changed = reach(model, ["ln", "c2"], (8, 24, 24), (1, 2))
    for name in ("ln", "c2"):
        seen, everywhere = extents(pixels, maps(changed[name]), (24, 24))
        assert_local(fields[name], seen)
        assert not everywhere and not fields[name].global_


def test_flattening_features_of_free_size_into_a_classifier():
    """Flatten of (N, C, H, W) with free H and W: the merged size is unknown, yet the
    classifier's product over it sees every position."""
    g = Graph([3, "H", "W"])
    flat = g.op("Flatten", [g.conv("x", 3, 4, name="c")], "flat", axis=1)
    model = g.model(g.op("Gemm", [flat, g.weight(10, 4 * 8 * 8)], "fc", transB=1))
    report = report_of_model(model)
    fields = fields_by_tensor(report)
    assert fields["flat"].size == [3, 3] and not fields["flat"].global_
    assert fields["fc"].global_ and not [d for d in report.diagnostics if d.code == "R103"]
    _, changed = reach(model, ["fc"], (3, 8, 8), (1, 2))
    assert changed["fc"].all()


# -- circular padding --------------------------------------------------------------------------
def test_circular_padding_as_slices_and_concats():
    g = Graph([1, 40, 50])
    x = circular_pad(g, "x", 1, "wrapped1")
    x = g.conv(x, 1, 2, p=0, name="c1")
    x = g.conv(circular_pad(g, x, 1, "wrapped2"), 2, 2, p=0, name="c2")
    model = g.model(x)
    names = ["wrapped1", "c1", "wrapped2", "c2"]
    fields = fields_by_tensor(report_of_model(model, {"x": (1, 1, 40, 50)}))
    pixels, changed = reach(model, names, (1, 40, 50), (1, 2))
    for name in names:
        seen, _ = extents(pixels, maps(changed[name]), (40, 50))
        assert_local(fields[name], seen)
    assert fields["c2"].size == [5, 5] and fields["c2"].padding == [2, 2]


# -- align_corners -----------------------------------------------------------------------------
@pytest.mark.parametrize(("size", "scale"), [(40, 2), (64, 2), (46, 3)])
def test_bilinear_align_corners_against_impulses(size, scale):
    g = Graph([1, size, size])
    x = g.conv(g.conv("x", 1, 4, s=2, name="c1"), 4, 4, s=2, name="c2")
    up = g.op("Resize", [x, "", g.const(np.array([1, 1, scale, scale], np.float32))], "up", mode="linear",
              coordinate_transformation_mode="align_corners")
    model = g.model(g.conv(up, 4, 2, name="c3"))
    report = report_of_model(model, {"x": (1, 1, size, size)})
    fields = fields_by_tensor(report)
    pixels, changed = reach(model, ["up", "c3"], (1, size, size), (1, 2))
    for name in ("up", "c3"):
        seen, _ = extents(pixels, maps(changed[name]), (size, size))
        assert_local(fields[name], seen)
    # stride 4 times (in - 1) / (out - 1) input units between output units
    in_size = -(-size // 4)
    assert fields["up"].stride[0] == pytest.approx(4 * (in_size - 1) / (in_size * scale - 1))


# -- channels-last inputs ----------------------------------------------------------------------
def test_channels_last_input_as_tf2onnx_writes_it():
    g = Graph([36, 40, 3])
    scaled = g.op("Add", [g.op("Mul", ["x", g.const(np.float32(1 / 127.5))]), g.const(np.float32(-1))])
    x = g.conv(g.op("Transpose", [scaled], perm=[0, 3, 1, 2]), 3, 8, s=2, name="stem")
    x = g.conv(x, 8, 8, name="c2")
    model = g.model(x)
    report = report_of_model(model, {"x": (1, 36, 40, 3)})
    fields = fields_by_tensor(report)
    pixels, changed = reach(model, ["stem", "c2"], (36, 40, 3), (0, 1))
    for name in ("stem", "c2"):
        seen, _ = extents(pixels, maps(changed[name]), (36, 40))
        assert_local(fields[name], seen)
    assert report.receptive_field.input == [36, 40]


def test_keras_efficientnet_from_tf2onnx_has_spatial_fields():
    path = DATA / "tensorflow" / "EfficientNetB0.tf2onnx.onnx.gz"
    model = onnx.ModelProto()
    model.ParseFromString(gzip.decompress(path.read_bytes()))
    report = build_report(analyze(build_model(model, {"input": (1, 224, 224, 3)})))
    stem = next(n for n in report.nodes if n.op == "Conv")
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    kernel = next(a.ints for a in conv.attribute if a.name == "kernel_shape")
    strides = next(a.ints for a in conv.attribute if a.name == "strides")
    assert (stem.receptive_field.size, stem.receptive_field.stride) == (list(kernel), list(strides))
    assert not stem.receptive_field.global_
    assert report.receptive_field.input == [224, 224]
    assert report.receptive_field.node == _input_of_last_pool(model)


def build_model(model: onnx.ModelProto, shapes: dict):
    from analyzer.frontends.onnx import build_graph

    return build_graph("model.onnx", model, shapes)


def _input_of_last_pool(model: onnx.ModelProto) -> str:
    """The node that produces what the classifier's global pool reads (from the graph alone)."""
    pools = [n for n in model.graph.node if n.op_type in ("GlobalAveragePool", "ReduceMean")]
    producers = {o: n.name for n in model.graph.node for o in n.output}
    return producers[pools[-1].input[0]]


# -- attention ---------------------------------------------------------------------------------
def attention(g: Graph, x: str, tokens: int | None, dim: int, heads: int, name: str) -> str:
    """Multi-head self-attention on (batch, tokens, dim), as exported: projections by MatMul,
    heads split by Reshape and Transpose, softmax(q k^T) v, heads merged, output projection."""
    def split(t: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [t, g.const(np.array([0, -1, heads, dim // heads]))])], perm=perm)

    q, k, v = (g.op("MatMul", [x, g.weight(dim, dim)]) for _ in range(3))
    scores = g.op("MatMul", [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])], f"{name}_scores")
    weights = g.op("Softmax", [g.op("Mul", [scores, g.const(np.float32((dim // heads) ** -0.5))])],
                   f"{name}_softmax", axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [weights, split(v, [0, 2, 1, 3])])], perm=[0, 2, 1, 3])
    merged = g.op("Reshape", [mixed, g.const(np.array([0, -1, dim]))])
    return g.op("MatMul", [merged, g.weight(dim, dim)], f"{name}_out")


def layer_norm(g: Graph, x: str, dim: int, name: str | None = None) -> str:
    return g.op("LayerNormalization", [x, g.const(RNG.uniform(0.5, 1.5, dim)), g.const(np.zeros(dim))],
                name, axis=-1)


def torchscript_attention(g: Graph, x: str, tokens: int, dim: int, heads: int, name: str) -> str:
    """nn.MultiheadAttention as the TorchScript exporter writes it in torchvision's ViT:
    sequence first (tokens, batch, dim); the packed in-projection split into q, k, v by
    Reshape, an Unsqueeze, a Transpose and a Squeeze (size-1 axes around the shifted token
    axis), then Gather; heads folded into the batch; the output projection by Gemm on
    (tokens * batch, dim) and reshaped back."""
    def heads_first(t: str) -> str:
        folded = g.op("Transpose", [g.op("Reshape", [t, g.const(np.array([tokens, -1, dim // heads]))])], perm=[1, 0, 2])
        return g.op("Reshape", [folded, g.const(np.array([-1, heads, tokens, dim // heads]))])

    packed = g.op("MatMul", [g.op("Transpose", [x], perm=[1, 0, 2]), g.weight(dim, 3 * dim)])
    split = g.op("Reshape", [packed, g.const(np.array([tokens, -1, 3, dim]))])
    unsqueezed = g.op("Unsqueeze", [split, g.const(np.array([0]))], f"{name}_unsqueezed")
    moved = g.op("Transpose", [unsqueezed], perm=[3, 1, 2, 0, 4])
    qkv = g.op("Squeeze", [moved, g.const(np.array([3]))], f"{name}_squeezed")
    q, k, v = (heads_first(g.op("Gather", [qkv, g.const(np.array(i))], axis=0)) for i in range(3))
    scaled = g.op("Mul", [q, g.const(np.float32((dim // heads) ** -0.5))])
    scores = g.op("MatMul", [scaled, g.op("Transpose", [k], perm=[0, 1, 3, 2])], f"{name}_scores")
    weights = g.op("Softmax", [scores], f"{name}_softmax", axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [weights, v])], perm=[2, 0, 1, 3])
    projected = g.op("Gemm", [g.op("Reshape", [mixed, g.const(np.array([-1, dim]))]), g.weight(dim, dim)], transB=1)
    back = g.op("Reshape", [projected, g.const(np.array([tokens, -1, dim]))])
    return g.op("Transpose", [back], f"{name}_out", perm=[1, 0, 2])


def vit(block=attention) -> onnx.ModelProto:
    """torchvision's VisionTransformer in small: patch embedding by a strided conv, flattened
    to tokens, a class token expanded to the batch and prepended, position embeddings, one
    pre-norm encoder block (its attention written by ``block``), the class token taken by
    Gather into the head."""
    g = Graph([3, 32, 32])
    dim = 16
    patches = g.conv("x", 3, dim, k=8, s=8, p=0, name="patch_embed")
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.const(np.array([0, dim, -1]))])], "tokens", perm=[0, 2, 1])
    batch = g.op("Unsqueeze", [g.op("Gather", [g.op("Shape", ["x"]), g.const(np.array(0))], axis=0),
                               g.const(np.array([0]))])
    cls = g.op("Expand", [g.const(RNG.uniform(0.5, 1.5, (1, 1, dim))),
                          g.op("Concat", [batch, g.const(np.array([1, dim]))], axis=0)])
    x = g.op("Add", [g.op("Concat", [cls, tokens], axis=1), g.const(RNG.uniform(0, 1, (1, 17, dim)))], "embedded")
    x = g.op("Add", [x, block(g, layer_norm(g, x, dim, "ln1"), 17, dim, 2, "attn")], "block_attn")
    hidden = g.op("MatMul", [layer_norm(g, x, dim), g.weight(dim, 2 * dim)])
    swish = g.op("Mul", [hidden, g.op("Sigmoid", [hidden])])
    x = g.op("Add", [x, g.op("MatMul", [swish, g.weight(2 * dim, dim)])], "block_out")
    x = layer_norm(g, x, dim, "final_ln")
    cls_out = g.op("Gather", [x, g.const(np.array(0))], "cls", axis=1)
    return g.model(g.op("Gemm", [cls_out, g.weight(10, dim)], "head", transB=1))


def patch_grid(changed: np.ndarray, axis: int = 1) -> np.ndarray:
    """(pixel, ..., 17 along ``axis``, ...) -> (pixel, 4, 4): the 16 patch tokens (the class
    token left out)."""
    others = tuple(a for a in range(1, changed.ndim) if a != axis)
    return changed.any(axis=others)[:, 1:].reshape(len(changed), 4, 4)


def test_vit_tokens_see_their_patch_then_everything_after_attention():
    model = vit()
    report = report_of_model(model, {"x": (1, 3, 32, 32)})
    fields = fields_by_tensor(report)
    names = ["tokens", "embedded", "ln1", "attn_softmax", "block_attn", "block_out", "final_ln"]
    pixels, changed = reach(model, names, (3, 32, 32), (1, 2), base=1.0, amplitudes=(1000.0, -300.0))
    for name in ("tokens",):
        seen, _ = extents(pixels, changed[name].any(axis=2).reshape(len(pixels), 4, 4), (32, 32))
        assert_local(fields[name], seen)
        assert fields[name].stride == [8, 8]
    for name in ("embedded", "ln1"):
        seen, _ = extents(pixels, patch_grid(changed[name]), (32, 32))
        assert_local(fields[name], seen)
    for name in ("attn_softmax", "block_attn", "block_out", "final_ln"):
        assert changed[name].all(), name  # every unit changes with every pixel
        assert fields[name].global_, name
    summary = report.receptive_field
    assert (summary.node, summary.size, summary.input) == ("final_ln", [32, 32], [32, 32])
    assert not [d for d in report.diagnostics if d.code in ("D104", "R101", "R103")]


def test_vit_as_torchscript_writes_its_attention_keeps_token_positions_through_size_one_axes():
    """Field sweep finding 5: the class token shifts the token axis by one, then Unsqueeze and
    Squeeze add and drop size-1 axes around it; each token still sees its own patch there,
    and every unit sees every pixel from the attention's softmax on."""
    model = vit(torchscript_attention)
    report = report_of_model(model, {"x": (1, 3, 32, 32)})
    fields = fields_by_tensor(report)
    tokens_at = {"attn_unsqueezed": 2, "attn_squeezed": 2}  # (1, 17, N, 3, dim), (3, 17, N, dim)
    global_ = ["attn_softmax", "attn_out", "block_attn", "final_ln"]
    pixels, changed = reach(model, [*tokens_at, *global_], (3, 32, 32), (1, 2), base=1.0,
                            amplitudes=(1000.0, -300.0), batch_axes=tokens_at)
    for name, axis in tokens_at.items():
        seen, _ = extents(pixels, patch_grid(changed[name], axis), (32, 32))
        assert_local(fields[name], seen)
        assert fields[name].stride == [8, 8] and not fields[name].global_
    for name in global_:
        assert changed[name].all(), name
        assert fields[name].global_, name
    assert report.receptive_field.node == "final_ln"
    assert not [d for d in report.diagnostics if d.code in ("D104", "R101", "R103")]


def _with_random_weights(model: onnx.ModelProto, seed: int = 21) -> onnx.ModelProto:
    """The stripped float initializers filled with positive random values (fan-in scaled)."""
    rng = np.random.default_rng(seed)
    filled = onnx.ModelProto()
    filled.CopyFrom(model)
    for tensor in filled.graph.initializer:
        if tensor.data_type == TensorProto.FLOAT and not tensor.raw_data and not tensor.float_data:
            dims = tuple(tensor.dims)
            value = rng.uniform(0.5, 1.5, dims) / (int(np.prod(dims[1:])) if len(dims) > 1 else 1)
            tensor.CopyFrom(numpy_helper.from_array(value.astype(np.float32), tensor.name))
    return filled


@pytest.mark.parametrize("name", ["vit_tiny.ts", "vit_tiny.dynamo"])
def test_torchvision_vit_goes_global_at_its_first_attention(name, tmp_path):
    """torchvision's VisionTransformer (32x32 images, 8x8 patches, two layers) through both
    exporters: tokens entering the first attention see their patch, and from its softmax on
    every unit sees every pixel (onnxruntime on impulses); the summary names the field."""
    from typer.testing import CliRunner

    from analyzer.cli import app

    model = _export(name)
    report = _report(model)
    fields = {n.name: n.receptive_field for n in report.nodes}
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    probed = {"tokens": norms[0].output[0], "softmax": softmax.output[0], "last": norms[-1].output[0]}
    pixels, changed = reach(_with_random_weights(model), list(probed.values()), (3, 32, 32), (1, 2),
                            base=1.0, amplitudes=(1000.0, -300.0))
    seen, _ = extents(pixels, patch_grid(changed[probed["tokens"]]), (32, 32))
    assert_local(fields[norms[0].name], seen)
    assert fields[norms[0].name].stride == [8, 8]
    for node in (softmax, norms[-1]):
        assert changed[node.output[0]].all(), node.name
        assert fields[node.name].global_, node.name
    assert not [d for d in report.diagnostics if d.code == "R103"]
    file = tmp_path / "vit.onnx"
    file.write_bytes(model.SerializeToString())
    text = CliRunner().invoke(app, ["analyze", str(file), "--summary", "--input-shape", "x=1x3x32x32",
                                    "--width", "0"]).output
    assert f"Receptive field: 32x32 at {norms[-1].name} (stride 8x8) on a 32x32 input" in text


def swin_like() -> onnx.ModelProto:
    """Swin's window attention in small: patches in channels-last layout, split into 4x4
    windows by Reshape and Transpose (windows on the batch axis), attention within each
    window, the windows put back, a residual add, the tokens averaged into the head."""
    g = Graph([3, 32, 32])
    dim = 16
    x = g.op("Transpose", [g.conv("x", 3, dim, k=4, s=4, p=0, name="patch_embed")], "tokens", perm=[0, 2, 3, 1])
    windows = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [layer_norm(g, x, dim), g.const(np.array([0, 2, 4, 2, 4, dim]))])],
                                    perm=[0, 1, 3, 2, 4, 5]), g.const(np.array([-1, 16, dim]))], "windows")
    mixed = attention(g, windows, 16, dim, 2, "attn")
    back = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [mixed, g.const(np.array([-1, 2, 2, 4, 4, dim]))])],
                                 perm=[0, 1, 3, 2, 4, 5]), g.const(np.array([-1, 8, 8, dim]))], "unwindowed")
    x = g.op("Add", [x, back], "block_out")
    pooled = g.op("ReduceMean", [layer_norm(g, x, dim)], "pool", axes=[1, 2], keepdims=0)
    return g.model(g.op("Gemm", [pooled, g.weight(10, dim)], "head", transB=1))


def test_windowed_attention_is_unknown_with_a_note():
    model = swin_like()
    report = report_of_model(model, {"x": (1, 3, 32, 32)})
    fields = fields_by_tensor(report)
    assert fields["windows"].size == [4, 4] and not fields["windows"].global_  # tokens regrouped, not mixed
    notes = [d for d in report.diagnostics if d.code == "R103"]
    assert [d.node for d in notes] == ["attn_scores"] and "window" in notes[0].message
    assert fields["unwindowed"] is None and fields["block_out"] is None and fields["head"] is None
    assert report.receptive_field is None
    assert not [d for d in report.diagnostics if d.code == "D104"]
    # Why no one figure: a unit sees its whole window, which is not centred on it, so where
    # its field starts relative to the unit depends on where in the window the unit lies.
    pixels, changed = reach(model, ["block_out"], (3, 32, 32), (1, 2), base=1.0, amplitudes=(1000.0, -300.0))
    starts = set()
    coords = np.array(pixels)
    for w in range(1, 7):
        reached = coords[changed["block_out"][:, 3, w].any(axis=-1)]
        starts.add(int(reached[:, 1].min()) - 4 * w)
    assert len(starts) > 1


# -- R101: resizing a branch to its skip's size --------------------------------------------------
def fpn(sizes_from: str) -> onnx.ModelProto:
    """A top-down merge: the stride-16 map resized to the stride-8 map's size and added to its
    lateral 1x1 conv. ``sizes_from``: ``shape`` computes the sizes from the lateral map's
    shape as the TorchScript exporter writes F.interpolate(size=lateral.shape[-2:]); ``const``
    writes them as constants, as the dynamo exporter does for static shapes."""
    g = Graph([3, 100, 100])
    x = g.conv(g.conv("x", 3, 8, s=2), 8, 8, s=2)
    c3 = g.conv(x, 8, 8, s=2, name="c3")
    top = g.conv(c3, 8, 8, s=2, name="top")
    lateral = g.conv(c3, 8, 8, k=1, name="lateral")
    if sizes_from == "shape":
        sizes = g.op("Concat", [g.op("Slice", [g.op("Shape", [top]), g.const(np.array([0])), g.const(np.array([2]))]),
                                g.op("Slice", [g.op("Shape", [c3]), g.const(np.array([2])), g.const(np.array([4]))])], axis=0)
    else:  # the batch dim is free here; the spatial sizes are written as numbers
        sizes = g.op("Concat", [g.op("Slice", [g.op("Shape", [top]), g.const(np.array([0])), g.const(np.array([2]))]),
                                g.const(np.array([13, 13]))], axis=0)
    up = g.op("Resize", [top, "", "", sizes], "up", mode="nearest")
    return g.model(g.op("Add", [lateral, up], "merged"))


@pytest.mark.parametrize("sizes_from", ["shape", "const"])
def test_resizing_to_the_skip_size_is_no_mixed_strides(sizes_from):
    model = fpn(sizes_from)
    report = report_of_model(model, {"x": (1, 3, 100, 100)})
    fields = fields_by_tensor(report)
    assert fields["top"].stride == [16, 16] and fields["lateral"].stride == [8, 8]  # 7 and 13 units
    assert not [d for d in report.diagnostics if d.code == "R101"]
    pixels, changed = reach(model, ["up", "merged"], (3, 100, 100), (1, 2))
    for name in ("up", "merged"):
        seen, _ = extents(pixels, maps(changed[name]), (100, 100))
        assert_local(fields[name], seen)


def test_mixed_strides_without_a_resize_to_the_joined_size_still_warn():
    """Upsampled by a scale (3.2: 20 units to 64), not to a size: the strides 15/16 and 1 differ."""
    g = Graph([3, 64, 64])
    a = g.conv("x", 3, 4, k=1, name="a")
    b = g.op("Resize", [g.conv("x", 3, 4, k=5, s=3, p=0), "", g.const(np.array([1, 1, 3.2, 3.2], np.float32))],
             mode="nearest")
    report = report_of_model(g.model(g.op("Add", [a, g.conv(b, 4, 4, k=1)], "sum")), {"x": (1, 3, 64, 64)})
    assert [d.node for d in report.diagnostics if d.code == "R101"] == ["sum"]


# -- D104: pools that gate or join the trunk ---------------------------------------------------
def aspp() -> onnx.ModelProto:
    """DeepLab's ASPP in small: 1x1 and dilated branches, and image pooling (global pool,
    1x1 conv, resized back to the trunk's size), concatenated and projected."""
    g = Graph([3, 64, 64])
    trunk = g.conv(g.conv("x", 3, 8, s=2), 8, 8, s=2, name="trunk")
    branches = [g.conv(trunk, 8, 8, k=1), g.op("Conv", [trunk, g.weight(8, 8, 3, 3)], kernel_shape=[3, 3], pads=[2] * 4, dilations=[2, 2])]
    pooled = g.op("Relu", [g.conv(g.op("GlobalAveragePool", [trunk], "image_pool"), 8, 8, k=1)])
    sizes = g.op("Concat", [g.op("Slice", [g.op("Shape", [pooled]), g.const(np.array([0])), g.const(np.array([2]))]),
                            g.op("Slice", [g.op("Shape", [trunk]), g.const(np.array([2])), g.const(np.array([4]))])], axis=0)
    branches.append(g.op("Resize", [pooled, "", "", sizes], mode="linear"))
    return g.model(g.conv(g.op("Concat", branches, axis=1), 24, 8, k=1, name="project"))


def test_image_pooling_joined_back_is_no_d104():
    report = report_of_model(aspp(), {"x": (1, 3, 64, 64)})
    fields = fields_by_tensor(report)
    assert fields["trunk"].size == [7, 7]  # pooled while far smaller than the 64x64 input
    assert not [d for d in report.diagnostics if d.code == "D104"]
    assert report.receptive_field.node == "project" and fields["project"].global_


def _export(name: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(gzip.decompress((DATA / "torchvision" / f"{name}.onnx.gz").read_bytes()))
    return model


def _report(model: onnx.ModelProto):
    dims = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    return report_of_model(model, {model.graph.input[0].name: tuple(dims)})


SE_EXPORTS = ["mobilenet_v3_large.ts", "mobilenet_v3_large.dynamo", "efficientnet_b0.ts", "regnet_y_400mf.ts",
              "deeplabv3_mobilenet_v3_large.ts", "deeplabv3_mobilenet_v3_large.dynamo", "lraspp_mobilenet_v3_large.ts"]


@pytest.mark.parametrize("name", SE_EXPORTS)
def test_exports_with_gates_and_image_pooling_have_no_d104(name):
    model = _export(name)
    report = _report(model)
    pools = [n for n in model.graph.node if n.op_type in ("GlobalAveragePool", "ReduceMean")]
    assert len(pools) >= 3
    assert not [d for d in report.diagnostics if d.code in ("D104", "R101")]
    summary = report.receptive_field
    outputs = {o.name for o in model.graph.output}
    last = next(n.name for n in reversed(model.graph.node) if set(n.output) & outputs)
    expected = last if name.startswith(("deeplab", "lraspp")) else _input_of_last_pool(model)
    assert summary.node == expected
    # the line reports the field of that node, which is past every gate
    assert summary.size == next(n.receptive_field.size for n in report.nodes if n.name == expected)


def test_a_classifier_head_on_a_small_field_is_still_d104():
    model = _export("squeezenet1_1.ts")
    report = _report(model)
    pool = next(n for n in model.graph.node if n.op_type == "GlobalAveragePool")
    assert [d.node for d in report.diagnostics if d.code == "D104"] == [pool.name]


def test_mobilenet_v3_gated_fields_against_impulses():
    """The real export, cut after the fifth and sixth blocks (both with squeeze-and-excitation),
    run on 128x128 impulses with the gates frozen (their pools fed the zero-input values)."""
    model = _export("mobilenet_v3_large.ts")
    names = ["/features/features.4/block/block.2/Mul_output_0", "/features/features.5/Add_output_0",
             "/features/features.6/Add_output_0"]
    cut = _cut(model, names)
    for dim, size in zip(cut.graph.input[0].type.tensor_type.shape.dim[2:], (128, 128)):
        dim.dim_value = size
    fill = []
    for tensor in cut.graph.initializer:
        shape = tuple(tensor.dims)
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else 1
        value = RNG.uniform(0.5, 1.5, shape) / fan_in if len(shape) == 4 else np.zeros(shape)
        fill.append(numpy_helper.from_array(value.astype(np.float32), tensor.name))
    del cut.graph.initializer[:]
    cut.graph.initializer.extend(fill)
    pools = [n.output[0] for n in cut.graph.node if n.op_type == "GlobalAveragePool"]
    fields = fields_by_tensor(report_of_model(cut, {"x": (1, 3, 128, 128)}))
    # impulses along the centre row and column (a whole plane of them would take minutes)
    cross = [(64, w) for w in range(128)] + [(h, 64) for h in range(128)]
    pixels, changed = reach(cut, names, (3, 128, 128), (1, 2), frozen=pools, pixels=cross, chunk=64)
    for name in names:
        units = maps(changed[name])
        seen = []
        for unit in np.ndindex(*units.shape[1:]):
            if not units[cross.index((64, 64)), unit[0], unit[1]]:
                continue  # the field misses the crossing: the lines do not measure it
            rows = [h for (h, w), hit in zip(pixels, units[:, unit[0], unit[1]]) if hit and w == 64]
            cols = [w for (h, w), hit in zip(pixels, units[:, unit[0], unit[1]]) if hit and h == 64]
            if min(rows) > 0 and max(rows) < 127 and min(cols) > 0 and max(cols) < 127:
                seen.append((max(rows) - min(rows) + 1, max(cols) - min(cols) + 1))
        assert_local(fields[name], seen)
        assert fields[name].global_


def _cut(model: onnx.ModelProto, outputs: list[str]) -> onnx.ModelProto:
    """The part of ``model`` that computes ``outputs``."""
    producers = {o: n for n in model.graph.node for o in n.output}
    needed, frontier = set(), list(outputs)
    while frontier:
        node = producers.get(frontier.pop())
        if node is not None and node.name not in needed:
            needed.add(node.name)
            frontier.extend(node.input)
    nodes = [n for n in model.graph.node if n.name in needed]
    read = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, "cut", list(model.graph.input),
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              [t for t in model.graph.initializer if t.name in read])
    return helper.make_model(graph, opset_imports=list(model.opset_import))


# -- where positions lie: brute force ----------------------------------------------------------
def _random_reshape(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Merge a run of neighbouring dims, or split one into two factors."""
    dims = list(shape)
    if rng.random() < 0.5 and len(dims) > 2:
        i = int(rng.integers(0, len(dims) - 1))
        j = int(rng.integers(i + 2, min(len(dims), i + 3) + 1))
        return (*dims[:i], int(np.prod(dims[i:j])), *dims[j:])
    splittable = [i for i, d in enumerate(dims) if any(d % f == 0 for f in range(2, d))]
    if not splittable:
        return tuple(dims)
    i = int(rng.choice(splittable))
    factor = int(rng.choice([f for f in range(2, dims[i]) if dims[i] % f == 0]))
    return (*dims[:i], factor, dims[i] // factor, *dims[i + 1:])


def assert_positions(field, shape: tuple[int, ...], labels: list[np.ndarray]) -> None:
    """The row and column convlint's layout gives every unit are its labels (-1: a unit that
    holds no position, a class token)."""
    index = np.indices(shape)
    for placement, truth in zip(field.placements(shape), labels):
        predicted = np.zeros(shape, np.int64)
        weight = 1
        for piece in reversed(placement):
            predicted += ((index[piece.axis] - piece.offset) // piece.inner % piece.size) * weight
            weight *= piece.size
        positions = truth >= 0
        assert (predicted[positions] == truth[positions]).all()


@pytest.mark.parametrize("seed", range(40))
def test_positions_followed_through_reshapes_and_transposes(seed):
    """Random reshapes and transposes of an (N, C, H, W) tensor whose elements are labelled
    with their row and column: wherever convlint says a spatial axis lies, the labels
    computed from its layout are the true ones."""
    from analyzer.receptive import Field, FieldUnknown

    rng = np.random.default_rng(seed)
    shape: tuple[int, ...] = (2, 6, 4, 6)
    rows, cols = np.indices((4, 6))
    labels = [np.broadcast_to(rows, shape), np.broadcast_to(cols, shape)]
    field = Field.identity(4)
    known = 0
    for _ in range(6):
        if rng.random() < 0.5:
            target = _random_reshape(rng, shape)
            labels = [lab.reshape(target) for lab in labels]
            try:
                field = field.reshaped(shape, target)
            except FieldUnknown:
                return
        else:
            perm = [int(a) for a in rng.permutation(len(shape))]
            target = tuple(shape[a] for a in perm)
            labels = [lab.transpose(perm) for lab in labels]
            field = field.remapped(perm.index, target)
        shape = target
        assert_positions(field, shape, labels)
        known += 1
    assert known == 6


def _size_one_step(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Insert a size-1 axis anywhere, or drop one of the size-1 axes."""
    ones = [i for i, d in enumerate(shape) if d == 1]
    if ones and rng.random() < 0.5:
        drop = int(rng.choice(ones))
        return shape[:drop] + shape[drop + 1:]
    at = int(rng.integers(0, len(shape) + 1))
    return (*shape[:at], 1, *shape[at:])


@pytest.mark.parametrize("seed", range(30))
def test_shifted_positions_kept_through_size_one_axes(seed):
    """Tokens (N, 1 + H*W, C) with a class token before them, then random steps that insert
    or drop size-1 axes (as Unsqueeze, Squeeze or Reshape) and transposes: the labels convlint
    computes for every token stay the true row and column (field sweep finding 5)."""
    from analyzer.receptive import Field

    rng = np.random.default_rng(seed)
    rows, cols = np.indices((4, 6))
    labels = [np.broadcast_to(lab.reshape(1, 24, 1), (2, 24, 3)) for lab in (rows, cols)]
    labels = [np.concatenate([np.full((2, 1, 3), -1), lab], axis=1) for lab in labels]  # the class token
    shape: tuple[int, ...] = (2, 25, 3)
    field = Field.identity(4).reshaped((2, 3, 4, 6), (2, 3, 24)).remapped([0, 2, 1].index, (2, 24, 3))
    field = field.shifted_along(1, 1, shape)
    for _ in range(8):
        if rng.random() < 0.7:
            target = _size_one_step(rng, shape)
            field = field.reshaped(shape, target)
            labels = [lab.reshape(target) for lab in labels]
        else:
            perm = [int(a) for a in rng.permutation(len(shape))]
            target = tuple(shape[a] for a in perm)
            field = field.remapped(perm.index, target)
            labels = [lab.transpose(perm) for lab in labels]
        shape = target
        assert_positions(field, shape, labels)


# -- align_corners in 1-D: brute force ---------------------------------------------------------
def _align_corners_matrix(n_in: int, n_out: int):
    """PyTorch's linear interpolation with align_corners=True: x = o * (in - 1) / (out - 1)."""
    import math

    m = np.zeros((n_out, n_in), dtype=bool)
    for o in range(n_out):
        x = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        i0 = math.floor(x)
        m[o, i0] = True
        if x > i0:
            m[o, min(i0 + 1, n_in - 1)] = True
    return m


@pytest.mark.parametrize("seed", range(30))
def test_align_corners_chains_against_brute_force(seed):
    from conftest import node, report_of, spec
    from test_receptive import interior_units, window_matrix

    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(150, 400))
    layers, matrices = [], []
    for index in range(int(rng.integers(1, 4))):
        k, s = int(rng.integers(1, 5)), int(rng.integers(1, 3))
        layers.append({"name": f"d{index}", "op": "conv", "out_channels": 1, "kernel_size": k, "stride": s,
                       "padding": k // 2})
        matrices.append(lambda n, k=k, s=s: window_matrix(n, k, s, 1, k // 2, k // 2))
    factor = int(rng.integers(2, 4))
    layers.append({"name": "up", "op": "upsample", "scale_factor": factor, "mode": "linear", "align_corners": True})
    matrices.append(lambda n, f=factor: _align_corners_matrix(n, n * f))
    for index in range(int(rng.integers(0, 3))):
        k = int(rng.integers(2, 6))
        layers.append({"name": f"u{index}", "op": "conv", "out_channels": 1, "kernel_size": k, "padding": k // 2})
        matrices.append(lambda n, k=k: window_matrix(n, k, 1, 1, k // 2, k // 2))
    report = report_of(spec(layers, [1, n_in]))
    dependency = np.eye(n_in, dtype=bool)
    for layer, make in zip(layers, matrices):
        dependency = make(dependency.shape[0]).astype(np.float32) @ dependency.astype(np.float32) > 0
        extents, _ = interior_units(dependency, n_in)
        field = node(report, layer["name"]).receptive_field
        assert (field.size, field.size_min) == ([max(extents)], [min(extents)]), layer["name"]


EXPORTS = sorted(DATA.glob("*/*.onnx.gz"))


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name.removesuffix(".onnx.gz"))
def test_every_real_export_has_a_proven_field_to_its_last_feature_map(path):
    model = onnx.ModelProto()
    model.ParseFromString(gzip.decompress(path.read_bytes()))
    value = model.graph.input[0]
    dims = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
    report = report_of_model(model, {value.name: tuple(dims)})
    assert not [d for d in report.diagnostics if d.code == "R103"]
    summary = report.receptive_field
    spatial = dims[1:3] if dims[-1] == 3 else dims[2:]  # tf2onnx inputs are channels-last
    assert summary is not None and summary.input == spatial
    assert all(n.receptive_field is not None for n in report.nodes if n.op in ("Conv", "MaxPool", "AveragePool"))
