"""Parameters of exported graphs (REFERENCE §5) against what PyTorch counts for the modules
they came from, derived from the modules' documented parameter shapes. Each graph is built
with onnx.helper in the exporter's pattern and run in onnxruntime, so it is a real model."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import report_of_model, run_all_tensors, run_all_values, shapes_by_tensor

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def init(name: str, value) -> onnx.TensorProto:
    array = np.asarray(value)
    return numpy_helper.from_array(array.astype(np.float32) if array.dtype.kind == "f" else array, name)


def model_of(nodes, inputs: dict, inits: list, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
                              [helper.make_tensor_value_info(nodes[-1].output[0], F, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def checked(model: onnx.ModelProto):
    """The report, after checking every shape against onnxruntime's."""
    report = report_of_model(model)
    ours = shapes_by_tensor(report)
    for name, shape in run_all_tensors(model).items():  # run with N = 1
        assert [1 if d == "N" else d for d in ours.get(name) or ()] == list(shape), name
    return report


# -- ViT class token --------------------------------------------------------------------------
def vit(d: int = 8, patch: int = 4, size: int = 8, classes: int = 10, repeat: str = "Expand") -> onnx.ModelProto:
    """torchvision's VisionTransformer, one encoder-free step: conv_proj -> (N, D, T) ->
    (N, T, D); class_token (1, 1, D).expand(N, -1, -1) (or repeat: Tile) concatenated in
    front; + pos_embedding (1, T + 1, D); ln; the class token's features -> heads Linear."""
    tokens = (size // patch) ** 2
    shape_ops = [
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axis0"], ["n1"]),
    ]
    if repeat == "Expand":
        shape_ops += [helper.make_node("Concat", ["n1", "one", "one"], ["target"], axis=0),
                      helper.make_node("Expand", ["class_token", "target"], ["cls"])]
    else:
        shape_ops += [helper.make_node("Concat", ["n1", "one", "one"], ["target"], axis=0),
                      helper.make_node("Tile", ["class_token", "target"], ["cls"])]
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["p"], kernel_shape=[patch, patch], strides=[patch, patch]),
        helper.make_node("Reshape", ["p", "flat"], ["p3"]),
        helper.make_node("Transpose", ["p3"], ["t"], perm=[0, 2, 1]),
        *shape_ops,
        helper.make_node("Concat", ["cls", "t"], ["seq"], axis=1),
        helper.make_node("Add", ["seq", "pos_embedding"], ["e"]),
        helper.make_node("LayerNormalization", ["e", "ln_w", "ln_b"], ["ln"], axis=-1),
        helper.make_node("Gather", ["ln", "zero"], ["first"], axis=1),
        helper.make_node("Gemm", ["first", "head_w", "head_b"], ["logits"], transB=1),
    ]
    inits = [
        init("conv_w", RNG.standard_normal((d, 3, patch, patch))), init("conv_b", RNG.standard_normal(d)),
        init("flat", np.array([0, d, -1], np.int64)), init("zero", np.array(0, np.int64)),
        init("axis0", np.array([0], np.int64)), init("one", np.array([1], np.int64)),
        init("class_token", RNG.standard_normal((1, 1, d))),
        init("pos_embedding", RNG.standard_normal((1, tokens + 1, d))),
        init("ln_w", RNG.standard_normal(d)), init("ln_b", RNG.standard_normal(d)),
        init("head_w", RNG.standard_normal((classes, d))), init("head_b", RNG.standard_normal(classes)),
    ]
    return model_of(nodes, {"x": ["N", 3, size, size]}, inits)


@pytest.mark.parametrize("repeat", ["Expand", "Tile"])
def test_vit_class_token_counts_like_pytorch(repeat):
    d, patch, size, classes = 8, 4, 8, 10
    report = checked(vit(d, patch, size, classes, repeat))
    tokens = (size // patch) ** 2
    pytorch = {  # VisionTransformer's parameters, by their documented shapes
        "conv_proj": d * 3 * patch * patch + d,
        "class_token": 1 * 1 * d,
        "encoder.pos_embedding": 1 * (tokens + 1) * d,
        "encoder.ln": 2 * d,
        "heads.head": classes * d + classes,
    }
    assert report.totals.params == sum(pytorch.values())
    joins = [n for n in report.nodes if n.op == "Concat" and n.params]
    assert [n.params for n in joins] == [pytorch["class_token"]]


def test_vit_b_16_class_token_is_768():
    """ViT-B/16's class_token is (1, 1, 768): the 768 the issue found missing."""
    report = checked(vit(d=768, patch=16, size=32, classes=4))
    (join,) = [n for n in report.nodes if n.op == "Concat" and n.params]
    assert join.params == 768


# -- GroupNorm lowered to InstanceNormalization -----------------------------------------------
def group_norm(channels: int, groups: int, scale=None, bias=None) -> onnx.ModelProto:
    """nn.GroupNorm(G, C) as the TorchScript exporter writes it: Reshape (N, G, -1) ->
    InstanceNormalization(ones(G), zeros(G)) -> Reshape to the input's shape -> Mul by
    weight (C, 1, 1) -> Add bias (C, 1, 1)."""
    nodes = [
        helper.make_node("Reshape", ["x", "grouped"], ["g"]),
        helper.make_node("InstanceNormalization", ["g", "ones", "zeros"], ["n"], epsilon=1e-5),
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Reshape", ["n", "xs"], ["r"]),
        helper.make_node("Mul", ["r", "weight"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["y"]),
    ]
    inits = [
        init("grouped", np.array([0, groups, -1], np.int64)),
        init("ones", np.ones(groups) if scale is None else scale),
        init("zeros", np.zeros(groups) if bias is None else bias),
        init("weight", RNG.standard_normal((channels, 1, 1))), init("bias", RNG.standard_normal((channels, 1, 1))),
    ]
    return model_of(nodes, {"x": ["N", channels, 5, 6]}, inits)


def test_group_norm_counts_2c_not_the_exporters_ones_and_zeros():
    channels, groups = 32, 8
    model = group_norm(channels, groups)
    report = checked(model)
    assert report.totals.params == 2 * channels  # nn.GroupNorm(8, 32): weight (32) + bias (32)
    # The lowering is exact: onnxruntime's output equals group normalisation computed directly.
    x = RNG.standard_normal((2, channels, 5, 6)).astype(np.float32)
    y = run_all_values(model, {"x": x})["y"]
    grouped = x.reshape(2, groups, -1)
    normed = (grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(grouped.var(-1, keepdims=True) + 1e-5)
    weight, bias = (numpy_helper.to_array(i) for i in model.graph.initializer[3:5])
    assert np.allclose(y, normed.reshape(x.shape) * weight + bias, atol=1e-4)


def test_an_instance_norm_with_learned_affine_on_groups_still_counts():
    """Scale and bias whose values are read (tiny tensors) and are not the identity are
    parameters, whatever the reshapes."""
    channels, groups = 8, 4
    report = checked(group_norm(channels, groups, scale=RNG.standard_normal(groups), bias=RNG.standard_normal(groups)))
    assert report.totals.params == 2 * channels + 2 * groups


# -- dynamo's adaptive average pooling to a size that does not divide the input -------------
def adaptive_avg_pool(size: int, out: int, channels: int = 4) -> onnx.ModelProto:
    """torch._decomp's adaptive_avg_pool2d for in % out != 0, as dynamo exports it: gather
    every window's rows and columns (padded to the longest window), zero the padding, sum
    the kernel positions one by one (Add), divide by the window element counts (out x out)."""
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-(i + 1) * size // out) for i in range(out)]
    lengths = [e - s for s, e in zip(starts, ends)]
    k = max(lengths)
    index = np.array([[min(s + j, size - 1) for j in range(k)] for s in starts], np.int64)  # (out, k)
    pad = np.array([[j >= n for j in range(k)] for n in lengths])  # (out, k)
    mask = pad[:, :, None, None] | pad[None, None, :, :]  # (out, k, out, k)
    nodes = [
        helper.make_node("Gather", ["x", "index"], ["rows"], axis=2),  # (N, C, out, k, W)
        helper.make_node("Gather", ["rows", "index"], ["vals"], axis=4),  # (N, C, out, k, out, k)
        helper.make_node("Where", ["mask", "zero_f", "vals"], ["masked"]),
    ]
    terms = []
    for i in range(k):
        for j in range(k):
            nodes += [helper.make_node("Gather", ["masked", f"i{i}"], [f"a{i}_{j}"], axis=3),
                      helper.make_node("Gather", [f"a{i}_{j}", f"i{j}"], [f"t{i}_{j}"], axis=4)]
            terms.append(f"t{i}_{j}")
    total = terms[0]
    for n, term in enumerate(terms[1:]):
        nodes.append(helper.make_node("Add", [total, term], [f"s{n}"]))
        total = f"s{n}"
    nodes.append(helper.make_node("Div", [total, "counts"], ["y"]))
    inits = [init("index", index), init("mask", mask), init("zero_f", np.array(0.0, np.float32)),
             init("counts", np.outer(lengths, lengths).astype(np.float32)),
             *(init(f"i{i}", np.array(i, np.int64)) for i in range(k))]
    return model_of(nodes, {"x": [1, channels, size, size]}, inits, opset=18)


def adaptive_avg_pool_by_definition(x: np.ndarray, out: int) -> np.ndarray:
    """nn.AdaptiveAvgPool2d: output (i, j) averages rows floor(i*in/out) .. ceil((i+1)*in/out)."""
    size = x.shape[-1]
    result = np.empty((*x.shape[:2], out, out), np.float32)
    for i in range(out):
        for j in range(out):
            rows = slice((i * size) // out, -(-(i + 1) * size // out))
            cols = slice((j * size) // out, -(-(j + 1) * size // out))
            result[:, :, i, j] = x[:, :, rows, cols].mean(axis=(-2, -1))
    return result


@pytest.mark.parametrize(("size", "out"), [(10, 7), (9, 7), (5, 3)])
def test_dynamo_adaptive_pool_divisor_is_no_parameter(size, out):
    model = adaptive_avg_pool(size, out)
    x = RNG.standard_normal((1, 4, size, size)).astype(np.float32)
    assert np.allclose(run_all_values(model, {"x": x})["y"], adaptive_avg_pool_by_definition(x, out), atol=1e-5)
    report = checked(model)
    assert report.totals.params == 0  # nn.AdaptiveAvgPool2d has no parameters
    assert report.totals.buffers == 0


def test_a_learned_per_channel_divisor_still_counts():
    """Div by a (C, 1, 1) constant is not the window-count pattern: it stays a parameter."""
    nodes = [helper.make_node("Add", ["x", "x"], ["s"]), helper.make_node("Div", ["s", "scale"], ["y"])]
    report = checked(model_of(nodes, {"x": [1, 4, 5, 5]}, [init("scale", np.full((4, 1, 1), 2.0))]))
    assert report.totals.params == 4


# -- lookup tables: embeddings, relative-position bias tables ----------------------------------
def float_initializers(model: onnx.ModelProto) -> int:
    """The file's own count: elements of its floating-point initializers."""
    return sum(int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type == F)


def lookup(op: str, through: str | None = None, tied: bool = False) -> onnx.ModelProto:
    """A relative-position bias as Swin reads it: table (V, H) gathered by a constant index
    (T*T), reshaped to (T, T, H), permuted to (H, T, T) and added to the logits; ``tied``
    also projects the result with the table itself (a head sharing an embedding)."""
    size, heads, tokens = 9, 2, 3
    index = RNG.integers(0, size, tokens * tokens)
    nodes = [helper.make_node("Identity", ["table"], ["data"])] if through else []
    data = "data" if through else "table"
    if op == "Gather":
        nodes.append(helper.make_node("Gather", [data, "index"], ["picked"], axis=0))
    else:
        nodes.append(helper.make_node("GatherND", [data, "index"], ["picked"]))
    nodes += [helper.make_node("Reshape", ["picked", "grid"], ["bias3"]),
              helper.make_node("Transpose", ["bias3"], ["bias"], perm=[2, 0, 1]),
              helper.make_node("Add", ["x", "bias"], ["y"])]
    if tied:
        nodes += [helper.make_node("Transpose", ["y"], ["per_head"], perm=[0, 2, 3, 1]),  # (N, T, T, H)
                  helper.make_node("MatMul", ["per_head", "table_t"], ["z"])]
        nodes.insert(0, helper.make_node("Transpose", ["table"], ["table_t"], perm=[1, 0]))
    inits = [init("table", RNG.standard_normal((size, heads))),
             init("index", index if op == "Gather" else index.reshape(-1, 1)),
             init("grid", np.array([tokens, tokens, heads], np.int64))]
    return model_of(nodes, {"x": ["N", heads, tokens, tokens]}, inits)


@pytest.mark.parametrize("op", ["Gather", "GatherND"])
@pytest.mark.parametrize("through", [None, "Identity"])
def test_a_gathered_float_initializer_is_a_parameter(op, through):
    model = lookup(op, through)
    report = checked(model)
    assert report.totals.params == float_initializers(model) == 9 * 2  # the index is int64: not counted
    (reader,) = [n for n in report.nodes if n.params]
    assert reader.op == op


def test_a_table_read_by_gather_and_matmul_counts_once():
    model = lookup("Gather", tied=True)
    assert checked(model).totals.params == float_initializers(model) == 9 * 2


def test_a_gathered_constant_node_or_shape_is_no_parameter():
    """A float table a Constant node holds is a value the graph computes; a shape is int64."""
    table = helper.make_tensor("t", F, [4, 3], RNG.standard_normal(12).astype(np.float32).tolist())
    nodes = [
        helper.make_node("Constant", [], ["table"], value=table),
        helper.make_node("Gather", ["table", "index"], ["picked"], axis=0),  # (2, 3)
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "last"], ["width"], axis=0),
        helper.make_node("Reshape", ["picked", "xs"], ["bias"]),
        helper.make_node("Add", ["x", "bias"], ["y"]),
    ]
    inits = [init("index", np.array([3, 1], np.int64)), init("last", np.array([1], np.int64))]
    report = checked(model_of(nodes, {"x": [2, 3]}, inits))
    assert report.totals.params == 0


# -- weight standardisation: F.batch_norm(w, None, None, weight, bias=None, training=True) ----
def standardised_conv(gain: bool = True, bias_init: bool = False, bias_values=None) -> onnx.ModelProto:
    """timm's ScaledStdConv2d (``gain``) or StdConv2d as the TorchScript exporter writes it:
    the weight reshaped to (1, C, -1) and normalised by BatchNormalization(training_mode=1)
    over statistics ReduceMean computes, with a Constant of zeros(C) as B (bias=None) and
    of ones(C) as scale when there is no gain; then reshaped back and used by Conv."""
    cout, cin, k = 4, 3, 3
    zeros = np.zeros(cout, np.float32) if bias_values is None else np.asarray(bias_values, np.float32)
    nodes = [
        helper.make_node("Reshape", ["w", "grouped"], ["w3"]),
        helper.make_node("Transpose", ["w3"], ["wt"], perm=[0, 2, 1]),
        helper.make_node("ReduceMean", ["wt", "axes"], ["mean"], keepdims=0),
        helper.make_node("ReduceMean", ["wt", "axes"], ["mean_k"], keepdims=1),
        helper.make_node("Sub", ["wt", "mean_k"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["squares"]),
        helper.make_node("ReduceMean", ["squares", "axes"], ["var"], keepdims=0),
        helper.make_node("BatchNormalization", ["w3", "scale", "b", "mean", "var"], ["ws", "running_mean", "running_var"],
                         epsilon=1e-6, momentum=1.0, training_mode=1),
        helper.make_node("Shape", ["w"], ["ws_shape"]),
        helper.make_node("Reshape", ["ws", "ws_shape"], ["w_std"]),
        helper.make_node("Conv", ["x", "w_std", "conv_b"], ["y"], pads=[1, 1, 1, 1]),
    ]
    if not bias_init:
        nodes.insert(0, helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(zeros)))
    if not gain:
        ones = numpy_helper.from_array(np.ones(cout, np.float32))
        nodes.insert(0, helper.make_node("Constant", [], ["scale"], value=ones))
    inits = [init("w", RNG.standard_normal((cout, cin, k, k))), init("conv_b", RNG.standard_normal(cout)),
             init("grouped", np.array([1, cout, -1], np.int64)), init("axes", np.array([0, 1], np.int64))]
    if gain:
        inits.append(init("scale", RNG.uniform(0.5, 1.5, cout)))
    if bias_init:
        inits.append(init("b", zeros))
    return model_of(nodes, {"x": ["N", cin, 6, 6]}, inits, opset=18)


@pytest.mark.parametrize("gain", [True, False])
def test_weight_standardisation_counts_the_files_initializers_not_its_fills(gain):
    model = standardised_conv(gain)
    values = run_all_values(model, {"x": RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)})
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    flat = weights["w"].reshape(4, -1)
    scale = weights["scale"][:, None] if gain else 1.0
    expected = (flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-6) * scale
    assert np.allclose(values["w_std"].reshape(4, -1), expected, atol=1e-4)  # the lowering is exact
    report = checked(model)
    assert report.totals.params == float_initializers(model) == 4 * 3 * 9 + 4 + (4 if gain else 0)
    assert report.totals.buffers == 0


def test_a_learned_or_nonzero_bias_of_a_standardisation_still_counts():
    """A B stored as an initializer is a module tensor; a Constant whose values are read and
    are not zeros is no fill the exporter made."""
    assert checked(standardised_conv(bias_init=True)).totals.params == 4 * 3 * 9 + 4 + 4 + 4
    assert checked(standardised_conv(bias_values=[0.0, 0.5, 0.0, 0.0])).totals.params == 4 * 3 * 9 + 4 + 4 + 4
