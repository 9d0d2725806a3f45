"""Benchmark models, generated (nothing large is committed): VGG-16- and ResNet-50-like
networks with random weights of the real sizes embedded, and synthetic conv/relu/add chains
of a given node count, each conv with its own weight and bias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Net:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def weight(self, *shape: int) -> str:
        self.count += 1
        name = f"w{self.count}"
        self.inits.append(numpy_helper.from_array(self.rng.random(shape, dtype=np.float32), name))
        return name

    def scalar(self, value: float) -> str:
        self.count += 1
        name = f"s{self.count}"
        self.inits.append(numpy_helper.from_array(np.array(value, np.float32), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op.lower()}_{self.count}", **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, bias: bool = True) -> str:
        inputs = [x, self.weight(c_out, c_in, k, k)] + ([self.weight(c_out)] if bias else [])
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride] * 2, pads=[k // 2] * 4)

    def model(self, x: str, y: str, shape: list, name: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def vgg16() -> onnx.ModelProto:
    net = _Net()
    x, c = "image", 3
    for width, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            x = net.op("Relu", [net.conv(x, c, width, 3)])
            c = width
        x = net.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = net.op("Flatten", [x], axis=1)
    for fan_in, fan_out in ((25088, 4096), (4096, 4096), (4096, 1000)):
        x = net.op("Gemm", [x, net.weight(fan_out, fan_in), net.weight(fan_out)], transB=1)
    return net.model("image", x, [1, 3, 224, 224], "vgg16")


def resnet50() -> onnx.ModelProto:
    net = _Net()

    def bn(x: str, c: int) -> str:
        return net.op("BatchNormalization", [x, net.weight(c), net.weight(c), net.weight(c), net.weight(c)])

    x = net.op("Relu", [bn(net.conv("image", 3, 64, 7, 2, bias=False), 64)])
    x = net.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            y = net.op("Relu", [bn(net.conv(x, c, width, 1, bias=False), width)])
            y = net.op("Relu", [bn(net.conv(y, width, width, 3, s, bias=False), width)])
            y = bn(net.conv(y, width, width * 4, 1, bias=False), width * 4)
            shortcut = x if b else bn(net.conv(x, c, width * 4, 1, s, bias=False), width * 4)
            x = net.op("Relu", [net.op("Add", [y, shortcut])])
            c = width * 4
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)
    x = net.op("Gemm", [x, net.weight(1000, 2048), net.weight(1000)], transB=1)
    return net.model("image", x, [1, 3, 224, 224], "resnet50")


def chain(nodes: int, channels: int = 16) -> onnx.ModelProto:
    """conv -> relu -> add(residual) repeated: ``nodes`` nodes, each conv with its own weights."""
    net = _Net()
    x = "x"
    while len(net.nodes) < nodes:
        y = net.op("Relu", [net.conv(x, channels, channels, 3)])
        x = net.op("Add", [y, x])
    return net.model("x", x, [1, channels, 32, 32], f"chain{nodes}")


def residual(nodes: int) -> onnx.ModelProto:
    """Issue 16's residual graph: blocks of Conv (4 -> 4 channels, 3x3, pads 1, its own weights)
    + Relu on a 1x4x64x64 input, and after every second block an Add of the block's output and
    the input of the block before it: five nodes per two blocks."""
    net = _Net()
    x = "x"
    while len(net.nodes) < nodes:
        y = net.op("Relu", [net.conv(x, 4, 4, 3)])
        y = net.op("Relu", [net.conv(y, 4, 4, 3)])
        x = net.op("Add", [y, x])
    return net.model("x", x, [1, 4, 64, 64], f"residual{nodes}")


def inception(blocks: int) -> onnx.ModelProto:
    """Inception-style: each block concatenates four branches (1x1; 1x1 -> 3x3; 1x1 -> 5x5;
    3x3 max pool -> 1x1) of 8 channels each, 32 channels out."""
    net = _Net()
    x, c = "x", 32
    for _ in range(blocks):
        a = net.conv(x, c, 8, 1)
        b = net.conv(net.conv(x, c, 8, 1), 8, 8, 3)
        d = net.conv(net.conv(x, c, 8, 1), 8, 8, 5)
        e = net.conv(net.op("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), c, 8, 1)
        x = net.op("Concat", [a, b, d, e], axis=1)
    return net.model("x", x, [1, 32, 32, 32], f"inception{blocks}")


def densenet(blocks: int, layers: int = 12, growth: int = 4) -> onnx.ModelProto:
    """DenseNet-style: in each block every layer reads the concat of the block's input and every
    earlier layer's output (so edges grow as layers**2 per block), then a 1x1 transition."""
    net = _Net()
    x, c = "x", 16
    for _ in range(blocks):
        features, width = [x], c
        for _ in range(layers):
            joined = features[0] if len(features) == 1 else net.op("Concat", features, axis=1)
            features.append(net.op("Relu", [net.conv(joined, width, growth, 3)]))
            width += growth
        x = net.conv(net.op("Concat", features, axis=1), width, c, 1)
    return net.model("x", x, [1, 16, 16, 16], f"densenet{blocks}")


def mobilenet_v2() -> onnx.ModelProto:
    """torchvision's MobileNetV2 layer for layer (inverted residuals, ReLU6 as Clip, BatchNorm
    folded into the convs as the TorchScript exporter does in eval mode): 3.5 M parameters."""
    net = _Net()

    def relu6(x: str) -> str:
        return net.op("Clip", [x, net.scalar(0.0), net.scalar(6.0)])

    x = relu6(net.conv("image", 3, 32, 3, 2))
    c = 32
    for t, width, repeats, stride in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                      (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for r in range(repeats):
            s = stride if r == 0 else 1
            hidden = c * t
            y = relu6(net.conv(x, c, hidden, 1)) if t != 1 else x
            y = relu6(net.op("Conv", [y, net.weight(hidden, 1, 3, 3), net.weight(hidden)], kernel_shape=[3, 3],
                             strides=[s, s], pads=[1, 1, 1, 1], group=hidden))
            y = net.conv(y, hidden, width, 1)
            x = net.op("Add", [x, y]) if s == 1 and c == width else y
            c = width
    x = relu6(net.conv(x, c, 1280, 1))
    x = net.op("Flatten", [net.op("GlobalAveragePool", [x])], axis=1)
    x = net.op("Gemm", [x, net.weight(1000, 1280), net.weight(1000)], transB=1)
    return net.model("image", x, [1, 3, 224, 224], "mobilenet_v2")


def small_models(folder: Path, count: int = 100) -> Path:
    """A folder of ``count`` small models, as a repository of them for `convlint check`: the
    first ten layers of MobileNetV2 at varied widths, half as ONNX, half as specs."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        width = 8 * (1 + i % 8)
        layers = []
        for j in range(5):
            layers += [{"name": f"conv{j}", "op": "conv", "out_channels": width, "kernel_size": 3, "padding": 1,
                        "stride": 2 if j % 2 else 1},
                       {"name": f"relu{j}", "op": "relu"}]
        spec = {"name": f"small{i}", "inputs": [{"name": "image", "shape": [3, 64, 64]}], "layers": layers}
        if i % 2:
            (folder / f"small{i}.json").write_text(json.dumps(spec))
            continue
        net, x, c = _Net(i), "image", 3
        for j in range(5):
            x = net.op("Relu", [net.conv(x, c, width, 3, 2 if j % 2 else 1)])
            c = width
        onnx.save(net.model("image", x, [1, 3, 64, 64], f"small{i}"), folder / f"small{i}.onnx")
    return folder


def ten_layer_spec(folder: Path) -> Path:
    """A spec of ten layers, as people write them before training."""
    import json

    layers = [{"name": "conv1", "op": "conv", "out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1},
              {"name": "bn1", "op": "batch_norm"}, {"name": "relu1", "op": "relu"},
              {"name": "conv2", "op": "conv", "out_channels": 64, "kernel_size": 3, "stride": 2, "padding": 1},
              {"name": "bn2", "op": "batch_norm"}, {"name": "relu2", "op": "relu"},
              {"name": "pool", "op": "global_avg_pool"}, {"name": "flat", "op": "flatten"},
              {"name": "fc", "op": "linear", "out_features": 10}, {"name": "out", "op": "softmax"}]
    path = folder / "ten_layers.json"
    path.write_text(json.dumps({"inputs": [{"name": "image", "shape": [3, 224, 224]}], "layers": layers}))
    return path


def generate(folder: Path, sizes: tuple[int, ...] = (1000, 10000, 50000)) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    makers = [("vgg16", vgg16), ("resnet50", resnet50), ("mobilenet_v2", mobilenet_v2)]
    makers += [(f"chain{n // 1000}k", lambda n=n: chain(n)) for n in sizes]
    makers += [(f"residual{n // 1000}k", lambda n=n: residual(n)) for n in sizes]
    makers += [(f"inception{n}", lambda n=n: inception(n)) for n in (200, 1000)]
    makers += [(f"densenet{n}", lambda n=n: densenet(n)) for n in (50, 250)]
    for name, make in makers:
        path = folder / f"{name}.onnx"
        if not path.exists():
            onnx.save(make(), path)
        made[name] = path
    return made
