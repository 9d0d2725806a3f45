"""Receptive fields (REFERENCE §6): hand-worked values, and a brute-force dependency check.

The brute force builds, for each 1-D layer, the 0/1 matrix of which input positions each
output position reads, straight from the layer's definition (PyTorch's), multiplies them,
and measures the extent of input pixels that reach units away from the borders.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from conftest import node, report_of, spec


def rf(report, name):
    field = node(report, name).receptive_field
    return field.size, field.stride, field.padding, field.global_, field.size_min


def test_stacked_convs_and_pools_by_hand():
    layers = [
        {"name": "c1", "op": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"name": "c2", "op": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"name": "p1", "op": "max_pool", "kernel_size": 2},
        {"name": "c3", "op": "conv", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "g", "op": "global_avg_pool"},
    ]
    report = report_of(spec(layers, [3, 64, 64]))
    # r' = r + (k - 1) * S, S' = s * S, P' = P + p * S
    assert rf(report, "c1") == ([3, 3], [1, 1], [1, 1], False, [3, 3])
    assert rf(report, "c2") == ([5, 5], [1, 1], [2, 2], False, [5, 5])
    assert rf(report, "p1") == ([6, 6], [2, 2], [2, 2], False, [6, 6])
    assert rf(report, "c3") == ([10, 10], [4, 4], [4, 4], False, [10, 10])
    size, _, _, is_global, _ = rf(report, "g")
    assert is_global and size == [10, 10]


@pytest.mark.parametrize(
    ("layer", "offset"),
    [
        ({"kernel_size": 3, "padding": 1}, 0),  # centred: [u - 1, u + 1]
        ({"kernel_size": 2, "stride": 2}, 0),  # [2u, 2u + 1], the unit's own cell
        ({"kernel_size": 3, "stride": 2, "padding": 1}, -0.5),  # [2u - 1, 2u + 1]: centre 2u, cell centre 2u + 0.5
        ({"kernel_size": 4, "padding": 1}, 0.5),  # [u - 1, u + 2]
    ],
)
def test_centre_alignment(layer, offset):
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 1, **layer}], [1, 32]))
    assert node(report, "c").receptive_field.center_offset == [offset]


def test_dilated_stack_doubles():
    layers = [
        {"name": f"c{d}", "op": "conv", "out_channels": 2, "kernel_size": 3, "dilation": d, "padding": d}
        for d in (1, 2, 4, 8)
    ]
    report = report_of(spec(layers, [1, 100]))
    assert node(report, "c8").receptive_field.size == [1 + 2 * (1 + 2 + 4 + 8)]


def test_per_axis_kernels():
    report = report_of(spec([{"name": "c", "op": "conv", "out_channels": 2, "kernel_size": [1, 7],
                              "stride": [1, 2]}], [1, 20, 20]))
    assert rf(report, "c")[:2] == ([1, 7], [1, 2])


def test_squeeze_excitation_gate_adds_global_context_only():
    layers = [
        {"name": "c", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "squeeze", "op": "global_avg_pool", "inputs": ["c"]},
        {"name": "fc1", "op": "conv", "out_channels": 2, "kernel_size": 1},
        {"name": "gate", "op": "sigmoid"},
        {"name": "scaled", "op": "mul", "inputs": ["c", "gate"]},
        {"name": "after", "op": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1},
    ]
    report = report_of(spec(layers, [8, 32, 32]))
    assert rf(report, "scaled")[:4] == ([3, 3], [1, 1], [1, 1], True)
    assert rf(report, "after")[:4] == ([5, 5], [1, 1], [2, 2], True)


def test_upsampling_makes_units_differ():
    # Bilinear x2 (half-pixel): output unit 2u reads input units u-1, u; unit 2u+1 reads u, u+1.
    layers = [
        {"name": "down", "op": "conv", "out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "up", "op": "upsample", "scale_factor": 2, "mode": "linear"},
        {"name": "c", "op": "conv", "out_channels": 2, "kernel_size": 2},
    ]
    report = report_of(spec(layers, [1, 64]))
    size, stride, _, _, size_min = rf(report, "up")
    assert (size, stride, size_min) == ([5], [1], [5])
    size, stride, _, _, size_min = rf(report, "c")
    assert (size, stride, size_min) == ([7], [1], [5])


# -- brute force -------------------------------------------------------------------------------
def window_matrix(n_in, k, s, d, pb, pe, ceil=False):
    span = n_in + pb + pe - d * (k - 1) - 1
    n_out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (n_out - 1) * s >= n_in + pb:
        n_out -= 1
    m = np.zeros((n_out, n_in), dtype=bool)
    for o in range(n_out):
        for t in range(k):
            i = o * s - pb + t * d
            if 0 <= i < n_in:
                m[o, i] = True
    return m


def transposed_matrix(n_in, k, s, d, p, op):
    n_out = (n_in - 1) * s - 2 * p + d * (k - 1) + op + 1
    m = np.zeros((n_out, n_in), dtype=bool)
    for i in range(n_in):
        for t in range(k):
            o = i * s - p + t * d
            if 0 <= o < n_out:
                m[o, i] = True
    return m


def upsample_matrix(n_in, f, mode):
    n_out = n_in * f
    m = np.zeros((n_out, n_in), dtype=bool)
    for o in range(n_out):
        if mode == "nearest":  # PyTorch: src = floor(dst / scale)
            m[o, min(o // f, n_in - 1)] = True
        else:  # linear, align_corners=False: src = (dst + 0.5) / scale - 0.5, clamped at 0
            x = max((o + 0.5) / f - 0.5, 0.0)
            i0 = math.floor(x)
            lam = x - i0
            i1 = min(i0 + 1, n_in - 1)
            if lam < 1:
                m[o, i0] = True
            if lam > 0:
                m[o, i1] = True
    return m


def random_chain(rng: random.Random):
    layers, mats_fns = [], []
    for index in range(rng.randint(1, 6)):
        kind = rng.choice(["conv", "conv", "pool", "transpose", "upsample"])
        name = f"l{index}"
        if kind == "conv":
            k, s, d = rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3)
            pb, pe = rng.randint(0, 3), rng.randint(0, 3)
            layers.append({"name": name, "op": "conv", "out_channels": 1, "kernel_size": k,
                           "stride": s, "dilation": d, "padding": [[pb, pe]]})
            mats_fns.append(lambda n, k=k, s=s, d=d, pb=pb, pe=pe: window_matrix(n, k, s, d, pb, pe))
        elif kind == "pool":
            k, s = rng.randint(2, 4), rng.randint(1, 3)
            p = rng.randint(0, k // 2)
            ceil = rng.random() < 0.5
            layers.append({"name": name, "op": "max_pool", "kernel_size": k, "stride": s,
                           "padding": p, "ceil_mode": ceil})
            mats_fns.append(lambda n, k=k, s=s, p=p, ceil=ceil: window_matrix(n, k, s, 1, p, p, ceil))
        elif kind == "transpose":
            k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
            p = rng.randint(0, (d * (k - 1)) // 2)
            op = rng.randint(0, max(s, d) - 1)
            layers.append({"name": name, "op": "conv_transpose", "out_channels": 1, "kernel_size": k,
                           "stride": s, "dilation": d, "padding": p, "output_padding": op})
            mats_fns.append(lambda n, k=k, s=s, d=d, p=p, op=op: transposed_matrix(n, k, s, d, p, op))
        else:
            f, mode = rng.randint(2, 3), rng.choice(["nearest", "linear"])
            layers.append({"name": name, "op": "upsample", "scale_factor": f, "mode": mode})
            mats_fns.append(lambda n, f=f, mode=mode: upsample_matrix(n, f, mode))
    return layers, mats_fns


def brute_force(mats_fns, n_in):
    dependency = np.eye(n_in, dtype=bool)
    for make in mats_fns:
        m = make(dependency.shape[0])
        dependency = (m.astype(np.float32) @ dependency.astype(np.float32)) > 0
    return dependency


def interior_units(dependency, n_in):
    """Extents and first pixels of units whose fields are far from both input borders."""
    margin = n_in // 4
    extents, starts = [], {}
    for unit in range(dependency.shape[0]):
        seen = np.flatnonzero(dependency[unit])
        if len(seen) and seen[0] > margin and seen[-1] < n_in - margin:
            extents.append(seen[-1] - seen[0] + 1)
            starts[unit] = seen[0]
    return extents, starts


@pytest.mark.parametrize("seed", range(150))
def test_random_1d_chains_against_brute_force(seed):
    rng = random.Random(seed)
    n_in = 700
    extents: list[int] = []
    while not extents:  # draw chains until one leaves units away from the borders
        layers, mats_fns = random_chain(rng)
        dependency = brute_force(mats_fns, n_in)
        extents, starts = interior_units(dependency, n_in)
    report = report_of(spec(layers, [1, n_in]))
    last = node(report, layers[-1]["name"])
    assert last.outputs[0].shape == [1, dependency.shape[0]]
    field = last.receptive_field
    assert field.size == [max(extents)]
    assert field.size_min == [min(extents)]
    # Units one period apart are offset by exactly (period * stride) input pixels; the pattern
    # repeats after the stride's denominator units, or a multiple of it.
    stride = Fraction(field.stride[0]).limit_denominator(1000)
    units = sorted(starts)
    periods = [stride.denominator * m for m in range(1, 13)]
    assert any(
        all(starts[u + p] - starts[u] == p * stride for u in units if u + p in starts)
        for p in periods
    )
