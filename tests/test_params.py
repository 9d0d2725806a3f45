"""Parameters, buffers and MACs per layer, from PyTorch's documented weight shapes."""

from __future__ import annotations

import pytest
from conftest import codes, node, report_of, shape_of, spec


@pytest.mark.parametrize(
    ("layer", "shape", "params", "buffers"),
    [
        # nn.Conv2d: weight (out, in/groups, kH, kW), bias (out)
        ({"op": "conv", "out_channels": 16, "kernel_size": [3, 5]}, [8, 20, 20], 16 * 8 * 15 + 16, 0),
        ({"op": "conv", "out_channels": 16, "kernel_size": 3, "groups": 4, "bias": False}, [8, 20, 20], 16 * 2 * 9, 0),
        ({"op": "conv", "out_channels": 6, "kernel_size": 5}, [2, 40], 6 * 2 * 5 + 6, 0),
        ({"op": "conv", "out_channels": 4, "kernel_size": 3}, [2, 9, 9, 9], 4 * 2 * 27 + 4, 0),
        # nn.ConvTranspose2d: weight (in, out/groups, kH, kW), bias (out)
        ({"op": "conv_transpose", "out_channels": 6, "kernel_size": 2, "stride": 2, "groups": 2}, [4, 8, 8], 4 * 3 * 4 + 6, 0),
        # nn.Linear: weight (out, in), bias (out)
        ({"op": "linear", "out_features": 10}, [64], 64 * 10 + 10, 0),
        ({"op": "linear", "out_features": 10, "bias": False}, [64], 640, 0),
        # nn.BatchNorm2d: weight, bias (params); running_mean, running_var (buffers)
        ({"op": "batch_norm"}, [32, 4, 4], 64, 64),
        ({"op": "batch_norm", "affine": False}, [32, 4, 4], 0, 64),
        ({"op": "batch_norm", "track_running_stats": False}, [32, 4, 4], 64, 0),
        # nn.LayerNorm(normalized_shape): weight, bias of that shape
        ({"op": "layer_norm", "normalized_shape": [4, 4]}, [32, 4, 4], 32, 0),
        ({"op": "layer_norm"}, [32, 4, 4], 2 * 32 * 16, 0),
        ({"op": "layer_norm", "normalized_shape": 4, "bias": False}, [32, 4, 4], 4, 0),
        # nn.GroupNorm: weight, bias per channel
        ({"op": "group_norm", "num_groups": 4}, [32, 4, 4], 64, 0),
        ({"op": "instance_norm", "affine": True}, [32, 4, 4], 64, 0),
        ({"op": "instance_norm"}, [32, 4, 4], 0, 0),
        ({"op": "prelu"}, [32, 4, 4], 1, 0),
        ({"op": "prelu", "num_parameters": 32}, [32, 4, 4], 32, 0),
        # no parameters
        ({"op": "max_pool", "kernel_size": 2}, [32, 4, 4], 0, 0),
        ({"op": "avg_pool", "kernel_size": 2}, [32, 4, 4], 0, 0),
        ({"op": "global_avg_pool"}, [32, 4, 4], 0, 0),
        ({"op": "upsample", "scale_factor": 2}, [32, 4, 4], 0, 0),
        ({"op": "relu"}, [32, 4, 4], 0, 0),
        ({"op": "pad", "padding": 1}, [32, 4, 4], 0, 0),
    ],
)
def test_layer_parameters(layer, shape, params, buffers):
    report = report_of(spec([{"name": "l", **layer}], shape))
    assert (node(report, "l").params, node(report, "l").buffers) == (params, buffers)
    assert (report.totals.params, report.totals.buffers) == (params, buffers)
    assert not [d for d in report.diagnostics if d.severity == "error"]


def test_pooling_keeps_channels():
    report = report_of(spec([
        {"name": "m", "op": "max_pool", "inputs": ["x"], "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "a", "op": "avg_pool", "inputs": ["x"], "kernel_size": 2},
    ], [37, 10, 10]))
    assert shape_of(report, "m") == [37, 5, 5]
    assert shape_of(report, "a") == [37, 5, 5]


def test_output_channels_do_not_depend_on_input_channels():
    for c_in in (1, 3, 17):
        report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 64, "kernel_size": 3}],
                                [c_in, 6, 6]))
        assert shape_of(report, "c") == [64, 4, 4]
        assert node(report, "c").params == 64 * c_in * 9 + 64


@pytest.mark.parametrize(
    ("layer", "shape", "macs"),
    [
        # Conv: prod(out dims) * (C_in / groups) * prod(kernel)
        ({"op": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1}, [4, 10, 10], 8 * 10 * 10 * 4 * 9),
        ({"op": "conv", "out_channels": 8, "kernel_size": 3, "groups": 4}, [4, 10, 10], 8 * 8 * 8 * 1 * 9),
        # ConvTranspose: every input element times (C_out / groups) * prod(kernel)
        ({"op": "conv_transpose", "out_channels": 6, "kernel_size": 2, "stride": 2}, [4, 5, 5], 4 * 25 * 6 * 4),
        # Linear: in * out
        ({"op": "linear", "out_features": 7}, [20], 140),
        ({"op": "relu"}, [4, 10, 10], 0),
        ({"op": "max_pool", "kernel_size": 2}, [4, 10, 10], 0),
    ],
)
def test_layer_macs(layer, shape, macs):
    report = report_of(spec([{"name": "l", **layer}], shape))
    assert node(report, "l").macs == macs


def test_activation_memory_per_sample():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 8, "kernel_size": 1}],
                            [3, 5, 7]))
    memory = node(report, "c").memory
    assert (memory.elements, memory.bytes) == (8 * 5 * 7, 4 * 8 * 5 * 7)


def test_norm_channel_mismatch():
    report = report_of(spec([{"name": "bn", "op": "batch_norm", "num_features": 16}], [32, 4, 4]))
    assert codes(report) == ["C103"]
    assert report.diagnostics[0].location == "/layers/0/num_features"


def test_groups_must_divide_channels():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 30, "kernel_size": 1,
                              "groups": 4}], [8, 4, 4]))
    assert codes(report) == ["C102"]
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 8, "kernel_size": 1,
                              "groups": 3}], [9, 4, 4]))
    assert codes(report) == ["C102"]


def test_broadcast_mismatch_in_residual_add():
    layers = [
        {"name": "a", "op": "conv", "inputs": ["x"], "out_channels": 128, "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "sum", "op": "add", "inputs": ["a", "x"]},
    ]
    report = report_of(spec(layers, [64, 56, 56]))
    assert codes(report) == ["S102"]
    assert "(128, 28, 28) and (64, 56, 56)" in report.diagnostics[0].message


def test_concat_adds_channels_and_softmax_keeps_shape():
    layers = [
        {"name": "a", "op": "conv", "inputs": ["x"], "out_channels": 5, "kernel_size": 1},
        {"name": "b", "op": "conv", "inputs": ["x"], "out_channels": 7, "kernel_size": 1},
        {"name": "cat", "op": "concat", "inputs": ["a", "b", "x"]},
        {"name": "sm", "op": "softmax"},
    ]
    report = report_of(spec(layers, [3, 4, 4]))
    assert shape_of(report, "cat") == [15, 4, 4]
    assert shape_of(report, "sm") == [15, 4, 4]
