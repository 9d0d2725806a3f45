"""Every shipped sample: its figures against values derived independently, and its findings."""

from __future__ import annotations

import json

from conftest import SAMPLES, codes, node, shape_of

from analyzer.frontends.spec import load_spec
from analyzer.passes import analyze
from analyzer.report.build import build_report


def load(name: str):
    path = SAMPLES / name
    return build_report(analyze(load_spec(str(path)))), json.loads(path.read_text())


def conv_params(c_in: int, c_out: int, k: int, groups: int = 1, bias: bool = True) -> int:
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def test_seed():
    report, _ = load("seed.json")
    assert shape_of(report, "conv1") == [64, 2, 2]
    assert codes(report) == ["F101"]
    assert report.totals.params == conv_params(3, 64, 3)
    assert node(report, "conv1").macs == 64 * 2 * 2 * 3 * 3 * 3


def test_vgg16_matches_published_figures():
    report, _ = load("vgg16.json")
    assert report.totals.params == 138_357_544  # torchvision.models.vgg16
    pool5 = node(report, "pool5")
    assert pool5.outputs[0].shape == [512, 7, 7]
    assert pool5.receptive_field.size == [212, 212]  # published receptive field of VGG-16
    assert pool5.receptive_field.stride == [32, 32]
    assert shape_of(report, "fc8") == [1000]
    assert report.totals.buffers == 0
    assert codes(report) == []


def test_vgg16_macs_by_layer_formula():
    report, spec = load("vgg16.json")
    size, c_in, expected = 224, 3, 0
    for layer in spec["layers"]:
        if layer["op"] == "conv":
            expected += size * size * layer["out_channels"] * c_in * 9
            c_in = layer["out_channels"]
        elif layer["op"] == "max_pool":
            size //= 2
    expected += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert report.totals.macs == expected


def test_resnet18_matches_published_figures():
    report, _ = load("resnet18.json")
    assert report.totals.params == 11_689_512  # torchvision.models.resnet18
    assert round(report.totals.macs / 1e9, 2) == 1.81  # torchvision's documented 1.81 GFLOPS (MACs)
    last = node(report, "layer4.1.relu2")
    assert last.outputs[0].shape == [512, 7, 7]
    assert last.receptive_field.size == [435, 435]
    assert last.receptive_field.stride == [32, 32]
    # Buffers: running mean and variance of every BatchNorm (2 per channel).
    bn_channels = sum(
        n.outputs[0].shape[0] for n in report.nodes if n.op == "batch_norm"
    )
    assert report.totals.buffers == 2 * bn_channels
    # The 1x1 shortcuts drop nothing the 3x3 convs do not read; the field outgrows the input
    # in the last stage: 211 + 2 * 16 = 243 > 224 at its first conv.
    assert [(d.code, d.node) for d in report.diagnostics] == [("R102", "layer4.0.conv1")]


def test_resnet18_projection_shortcut():
    report, _ = load("resnet18.json")
    assert shape_of(report, "layer2.0.downsample.0") == [128, 28, 28]
    assert node(report, "layer2.0.downsample.0").params == 64 * 128
    assert shape_of(report, "layer2.0.add") == [128, 28, 28]


def test_unet_at_a_multiple_of_16():
    report, spec = load("unet.json")
    assert shape_of(report, "head") == [2, 256, 256]
    assert shape_of(report, "bottleneck.relu2") == [1024, 16, 16]
    assert codes(report) == []
    expected, channels, previous = 0, {"image": 1}, "image"
    for layer in spec["layers"]:
        inputs = layer.get("inputs") or [previous]
        c_in = sum(channels[i] for i in inputs)
        c_out = layer.get("out_channels", c_in)
        if layer["op"] in ("conv", "conv_transpose"):
            expected += conv_params(c_in, c_out, layer["kernel_size"])
        channels[layer["name"]] = c_out
        previous = layer["name"]
    assert report.totals.params == expected


def test_unet_breaks_at_100():
    report, _ = load("unet_bad_size.json")
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert [(d.code, d.node) for d in errors] == [("S103", "cat3")]
    assert "(256, 24, 24), (256, 25, 25)" in errors[0].message
    assert errors[0].location == "/layers/31/axis"
    # The channels are still known after the failed concat, so parameters are too.
    assert report.totals.params == load("unet.json")[0].totals.params


def test_depthwise_separable_block():
    report, _ = load("depthwise.json")
    assert node(report, "dw1").params == 32 * 1 * 3 * 3  # one 3x3 filter per channel
    assert node(report, "pw1").params == 64 * 32
    assert node(report, "dw2").macs == 64 * 24 * 24 * 9
    assert shape_of(report, "pw3") == [128, 24, 24]
    expected = (
        conv_params(3, 32, 3, bias=False) + 32 * 9 + 64 * 32 + 64 * 9 + 128 * 64 + 128 * 9
        + 128 * 128 + 2 * (32 + 32 + 64 + 64 + 128 + 128 + 128) + 128 * 10 + 10
    )
    assert report.totals.params == expected
    # Global pooling of features that each see 19x19 of the 96x96 input.
    assert [(d.code, d.node) for d in report.diagnostics] == [("D104", "pool")]


def test_audio_1d():
    report, _ = load("audio1d.json")
    length = (16000 + 2 * 32 - 80) // 16 + 1
    assert shape_of(report, "conv1") == [32, length]
    assert shape_of(report, "pool1") == [32, length // 4]
    assert shape_of(report, "pool2") == [64, length // 16]
    assert node(report, "conv1").receptive_field.size == [80]
    (drop,) = report.diagnostics  # the pooling layer's "ignore": ["D104"] silences D104
    assert (drop.code, drop.node) == ("F101", "pool2")
    assert "2 positions" in drop.message  # 250 = 4 * 62 + 2
    _, spec = load("audio1d.json")
    for layer in spec["layers"]:
        layer.pop("ignore", None)
    unsilenced = build_report(analyze(load_spec("audio1d.json", json.dumps(spec))))
    assert [(d.code, d.node) for d in unsilenced.diagnostics] == [("F101", "pool2"), ("D104", "pool")]


def test_broken_channels():
    report, _ = load("broken_channels.json")
    found = [(d.code, d.node, d.location) for d in report.diagnostics]
    assert found == [
        ("C101", "conv2", "/layers/2/in_channels"),
        ("S104", "fc", "/layers/6/in_features"),
    ]
    # The output channel count is the number of filters, whatever the input.
    assert shape_of(report, "conv2") == [64, 32, 32]
    assert "16384" in report.diagnostics[1].message
