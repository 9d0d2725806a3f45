"""Constant folding (analyzer.ops.values) computes in plain Python what numpy computes on
object arrays: each operation is checked against numpy on random small tensors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.graph import ConstTensor
from analyzer.ops import values
from analyzer.ops.values import MAX_FOLD, Items

DIMS = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
ELEMENT = st.one_of(st.integers(-9, 9), st.sampled_from(["N", None]))


def _items(draw, dims: tuple[int, ...], element=ELEMENT) -> Items:
    count = int(np.prod(dims, dtype=np.int64))
    return Items(dims, tuple(draw(st.lists(element, min_size=count, max_size=count))))


def _numpy(items: Items) -> np.ndarray:
    array = np.empty(len(items.flat), dtype=object)
    array[:] = list(items.flat)
    return array.reshape(items.dims)


def _same(found: Items | None, expected) -> None:
    if not isinstance(expected, np.ndarray):  # numpy hands a single element back as itself
        scalar = np.empty((), dtype=object)
        scalar[()] = expected
        expected = scalar
    assert found is not None
    assert found.dims == expected.shape
    assert list(found.flat) == expected.reshape(-1).tolist()


@st.composite
def slicing(draw):
    items = _items(draw, draw(DIMS))
    cuts = [slice(draw(st.integers(-6, 6) | st.none()), draw(st.integers(-6, 6) | st.none()),
                  draw(st.sampled_from([1, 2, 3, -1, -2]))) for _ in items.dims]
    return items, cuts


@given(slicing())
def test_slices_are_numpys(case):
    items, cuts = case
    _same(values.sliced(items, cuts), _numpy(items)[tuple(cuts)])


@st.composite
def taking(draw):
    dims = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(0, len(dims) - 1))
    indices = _items(draw, draw(st.lists(st.integers(0, 3), max_size=2).map(tuple)),
                     st.integers(-dims[axis], dims[axis] - 1))
    return _items(draw, dims), indices, axis


@given(taking())
def test_gathers_are_numpys_take(case):
    items, indices, axis = case
    _same(values.take(items, indices, axis), np.take(_numpy(items), _numpy(indices).astype(np.int64), axis=axis))


@given(st.data())
def test_transposes_are_numpys(data):
    items = _items(data.draw, data.draw(DIMS))
    perm = data.draw(st.permutations(range(len(items.dims))))
    _same(values.transpose(items, perm), _numpy(items).transpose(perm))


@given(st.data())
def test_concatenations_are_numpys(data):
    dims = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    axis = data.draw(st.integers(0, len(dims) - 1))
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        dims[axis] = data.draw(st.integers(0, 3))
        parts.append(_items(data.draw, tuple(dims)))
    _same(values.concatenate(parts, axis), np.concatenate([_numpy(p) for p in parts], axis=axis))


@given(st.data())
def test_broadcasts_are_numpys(data):
    items = _items(data.draw, data.draw(st.lists(st.integers(1, 3), max_size=3).map(tuple)))
    target = [data.draw(st.integers(0, 3)) if d == 1 else d for d in items.dims]
    target = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2))) + tuple(target)
    _same(values.broadcast_to(items, target), np.broadcast_to(_numpy(items), target))


def test_a_broadcast_that_does_not_fit_fails_as_numpys_does():
    with pytest.raises(ValueError):
        np.broadcast_to(np.zeros((2, 3)), (2, 4))
    with pytest.raises(ValueError):
        values.broadcast_to(Items((2, 3), (0,) * 6), (2, 4))


@settings(max_examples=200)
@given(st.data(), st.sampled_from(["Add", "Sub", "Mul", "Div", "Equal", "Less", "Max", "Where"]))
def test_elementwise_folding_is_numpys_broadcasting(data, op):
    shapes = st.lists(st.integers(1, 3), max_size=3).map(tuple)
    count = 3 if op == "Where" else data.draw(st.integers(2, 3)) if op == "Max" else 2
    inputs = [_items(data.draw, data.draw(shapes), st.integers(-5, 5)) for _ in range(count)]
    if op == "Where":
        inputs[0] = Items(inputs[0].dims, tuple(bool(v % 2) for v in inputs[0].flat))
    arrays = [_numpy(i) for i in inputs]
    try:
        np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        assert values.fold_elementwise(op, [ConstTensor(i.dims, "int64", i.flat) for i in inputs], "int64") is None
        return
    if op == "Where":
        expected = np.where(arrays[0].astype(bool), arrays[1], arrays[2])
    else:
        fn = np.frompyfunc(values.ELEMENTWISE[op], 2, 1)
        expected = arrays[0]
        for other in arrays[1:]:
            expected = fn(expected, other)
    found = values.fold_elementwise(op, [ConstTensor(i.dims, "int64", i.flat) for i in inputs], "int64")
    _same(values.array(found), np.asarray(expected, dtype=object))


def test_nothing_larger_than_max_fold_is_ever_built():
    """A hostile Expand or Gather asks for a huge result: refused before it is made (numpy's
    broadcast_to made a view of it for free; a tuple of 2**40 elements would never be done)."""
    one = Items((1,), (7,))
    assert values.broadcast_to(one, (2**20, 2**20)) is None
    assert values.take(Items((1024,), tuple(range(1024))), Items((1024, 2), (0,) * 2048), 0) is None
    assert values.concatenate([Items((MAX_FOLD,), (0,) * MAX_FOLD)] * 2, 0) is None
    assert values.fold_elementwise("Add", [ConstTensor((1024, 1), "int64", (1,) * 1024),
                                           ConstTensor((1, 1024), "int64", (1,) * 1024)], "int64") is None
    assert values.broadcast_to(one, (4, 256)) == Items((4, 256), (7,) * MAX_FOLD)
