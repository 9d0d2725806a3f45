"""Generate the sample ONNX models in this folder (deterministic: same bytes every run).

    python samples/make_onnx.py

tiny_resnet.onnx: a small residual network for 3x64x64 images with a free batch dim, as a
PyTorch export would produce it: Conv/BatchNormalization/Relu, a max pool, two residual
stages (the second with a 1x1 stride-2 projection shortcut), global pooling, Flatten, Gemm.

tiny_resnet_wide.onnx: the next version of it, its second stage widened from 32 to 48
channels, exported with regenerated node names (Conv_0, Relu_2...), as old exporters number
them: `convlint diff samples/tiny_resnet.onnx samples/tiny_resnet_wide.onnx` shows the change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent


class Builder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def weight(self, name: str, *shape: int) -> str:
        self.inits.append(numpy_helper.from_array((self.rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv_bn(self, x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1, relu: bool = True) -> str:
        pad = k // 2
        y = self.node("Conv", [x, self.weight(f"{name}.weight", c_out, c_in, k, k)], f"{name}.conv",
                      kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)
        bn = [self.weight(f"{name}.bn.{p}", c_out) for p in ("weight", "bias", "running_mean")]
        bn.append(self.weight(f"{name}.bn.running_var", c_out))
        y = self.node("BatchNormalization", [y, *bn], f"{name}.bn", epsilon=1e-5)
        return self.node("Relu", [y], f"{name}.relu") if relu else y

    def block(self, x: str, name: str, c_in: int, c_out: int, stride: int) -> str:
        y = self.conv_bn(x, f"{name}.a", c_in, c_out, 3, stride)
        y = self.conv_bn(y, f"{name}.b", c_out, c_out, 3, relu=False)
        shortcut = x if stride == 1 and c_in == c_out else self.conv_bn(x, f"{name}.down", c_in, c_out, 1, stride, relu=False)
        return self.node("Relu", [self.node("Add", [y, shortcut], f"{name}.add")], f"{name}.out")


def tiny_resnet(width: int = 32, renumber: bool = False) -> onnx.ModelProto:
    b = Builder()
    x = b.conv_bn("image", "stem", 3, 16, 3, stride=2)
    x = b.node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.block(x, "stage1", 16, 16, 1)
    x = b.block(x, "stage2", 16, width, 2)
    x = b.node("GlobalAveragePool", [x], "gap")
    x = b.node("Flatten", [x], "flatten", axis=1)
    b.node("Gemm", [x, b.weight("fc.weight", 10, width), b.weight("fc.bias", 10)], "logits", transB=1)
    if renumber:
        _renumber(b.nodes)
    graph = helper.make_graph(
        b.nodes, "tiny_resnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="convlint-samples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _renumber(nodes: list[onnx.NodeProto]) -> None:
    """Name nodes and intermediate tensors by position, as exporters that number them do."""
    renamed: dict[str, str] = {}
    for i, node in enumerate(nodes):
        node.name = f"{node.op_type}_{i}"
        for j, output in enumerate(node.output):
            if output != "logits":
                renamed[output] = str(len(renamed) + 100)
                node.output[j] = renamed[output]
        for j, name in enumerate(node.input):
            node.input[j] = renamed.get(name, name)


MODELS = {
    "tiny_resnet.onnx": tiny_resnet,
    "tiny_resnet_wide.onnx": lambda: tiny_resnet(width=48, renumber=True),
}


def main() -> None:
    for name, make in MODELS.items():
        (HERE / name).write_bytes(make().SerializeToString())
        print(f"wrote samples/{name}")


if __name__ == "__main__":
    main()
