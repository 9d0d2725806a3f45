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


def generate(folder: Path, sizes: tuple[int, ...] = (1000, 10000, 50000)) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, make in [("vgg16", vgg16), ("resnet50", resnet50)] + [(f"chain{n // 1000}k", lambda n=n: chain(n)) for n in sizes]:
        path = folder / f"{name}.onnx"
        if not path.exists():
            onnx.save(make(), path)
        made[name] = path
    return made
