"""Receptive fields on branchy graphs, checked by brute force.

Random 1-D networks are assembled from the blocks real CNNs use: residual blocks, Inception
branches joined by concat, dense blocks, dilated stacks, strided downsampling and U-Net style
decoders (upsampling or transposed convolutions, concatenated with the skip tensor). For each
layer the 0/1 matrix of which input positions each output position reads is built from the
layer's definition; a join unites its inputs' dependencies. The extent of input pixels that
reach units away from the borders must equal convlint's receptive field.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import node, report_of, spec
from test_receptive import interior_units, transposed_matrix, upsample_matrix, window_matrix

LENGTH = 1024


class Net:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.layers: list[dict] = []
        self.deps: dict[str, np.ndarray] = {"x": np.eye(LENGTH, dtype=np.float32)}
        self.count = 0

    def add(self, layer: dict, inputs: list[str], matrix=None) -> str:
        self.count += 1
        name = f"n{self.count}"
        self.layers.append({"name": name, "inputs": inputs, **layer})
        if matrix is None:  # a join: union of the inputs' dependencies
            dep = np.maximum.reduce([self.deps[i] for i in inputs])
        else:
            source = self.deps[inputs[0]]
            dep = (matrix(source.shape[0]).astype(np.float32) @ source > 0).astype(np.float32)
        self.deps[name] = dep
        return name

    def length(self, name: str) -> int:
        return self.deps[name].shape[0]

    # layers ------------------------------------------------------------------------------------
    def conv(self, x: str, k: int, s: int = 1, d: int = 1, pad: int | None = None) -> str:
        p = d * (k - 1) // 2 if pad is None else pad
        layer = {"op": "conv", "out_channels": 2, "kernel_size": k, "stride": s, "dilation": d, "padding": p}
        return self.add(layer, [x], lambda n: window_matrix(n, k, s, d, p, p))

    def pool(self, x: str, k: int, s: int, p: int) -> str:
        layer = {"op": "max_pool", "kernel_size": k, "stride": s, "padding": p}
        return self.add(layer, [x], lambda n: window_matrix(n, k, s, 1, p, p))

    # blocks ------------------------------------------------------------------------------------
    def residual(self, x: str) -> str:
        y = self.conv(self.conv(x, 3), self.rng.choice([1, 3]))
        shortcut = self.conv(x, 1)  # projection: x may have other channels
        return self.add({"op": "add"}, [y, shortcut])

    def inception(self, x: str) -> str:
        branches = [self.conv(x, 1), self.conv(self.conv(x, 1), 3), self.conv(self.conv(x, 1), 5),
                    self.conv(self.pool(x, 3, 1, 1), 1)]
        return self.add({"op": "concat"}, self.rng.sample(branches, self.rng.randint(2, 4)))

    def dense(self, x: str) -> str:
        features = [x]
        for _ in range(self.rng.randint(2, 3)):
            joined = features[0] if len(features) == 1 else self.add({"op": "concat"}, list(features))
            features.append(self.conv(joined, 3))
        return self.add({"op": "concat"}, features)

    def dilated(self, x: str) -> str:
        for d in self.rng.sample([1, 2, 4], self.rng.randint(1, 3)):
            x = self.conv(x, 3, d=d)
        return x

    def unet(self, x: str, depth: int) -> str:
        if depth == 0:
            return self.conv(x, 3)
        skip = self.conv(x, 3)
        down = self.pool(skip, 2, 2, 0) if self.rng.random() < 0.5 else self.conv(skip, 3, s=2)
        inner = self.unet(down, depth - 1)
        kind = self.rng.choice(["nearest", "linear", "transpose"])
        if kind == "transpose":
            layer = {"op": "conv_transpose", "out_channels": 2, "kernel_size": 2, "stride": 2}
            up = self.add(layer, [inner], lambda n: transposed_matrix(n, 2, 2, 1, 0, 0))
        else:
            layer = {"op": "upsample", "scale_factor": 2, "mode": kind}
            up = self.add(layer, [inner], lambda n, kind=kind: upsample_matrix(n, 2, kind))
        assert self.length(up) == self.length(skip)
        return self.conv(self.add({"op": "concat"}, [up, skip]), 3)


BLOCKS = ["residual", "inception", "dense", "dilated", "down", "unet"]


def build(seed: int) -> tuple[Net, str]:
    rng = random.Random(seed)
    net = Net(rng)
    x = "x"
    for _ in range(rng.randint(2, 4)):
        block = rng.choice(BLOCKS)
        if block == "down":
            x = net.conv(x, 3, s=2) if rng.random() < 0.5 else net.pool(x, 2, 2, 0)
        elif block == "unet":
            x = net.unet(x, rng.randint(1, 3))
        else:
            x = getattr(net, block)(x)
    return net, x


@pytest.mark.parametrize("seed", range(60))
def test_branchy_networks_against_brute_force(seed):
    net, _ = build(seed)
    report = report_of(spec(net.layers, [1, LENGTH]))
    for layer in net.layers:
        extents, _ = interior_units(net.deps[layer["name"]], LENGTH)
        if not extents:
            continue
        field = node(report, layer["name"]).receptive_field
        assert field.size == [max(extents)], layer
        assert field.size_min == [min(extents)], layer
    assert not [d for d in report.diagnostics if d.severity == "error"]
