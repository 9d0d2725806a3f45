"""What-if input sizes: the dims a user asks for (``--input-shape``, ``--batch``), checked
against and applied to the input shapes a source declares. Shared by every front end."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from analyzer.errors import InputError
from analyzer.graph import Shape
from analyzer.limits import MAX_DIM, describe


@dataclass(frozen=True)
class InputSizes:
    """Dims to analyse a model at instead of the ones its source declares."""

    shapes: Mapping[str, Shape] = field(default_factory=dict)
    """By input name (``""``: the first input). ONNX and PyTorch: every dim, the batch
    included; specs: per sample, ``(C, *spatial)``."""
    batch: int | None = None
    """Dim 0 of every batched input (rank 2 or more, dim 0 that of the first such input)."""
    override: bool = False
    """Whether the dims given may replace dims an ONNX model fixes (a model exported at 224
    checked at 320); otherwise only free (symbolic or unknown) dims may be given."""


def parse_input_shapes(specs: list[str] | tuple[str, ...]) -> dict[str, Shape]:
    """``NAME=1x3x224x224`` (or just ``1x3x224x224`` for a single input). A dim is a positive
    integer (at most analyzer.limits.MAX_DIM) or a name, which stays symbolic (``Nx3x224x224``);
    anything else is a ValueError saying which dim is wrong."""
    shapes: dict[str, Shape] = {}
    for spec in specs:
        name, _, dims = spec.rpartition("=")
        parts = [p.strip() for p in dims.replace(",", "x").split("x")]
        if not dims.strip() or "" in parts:
            raise ValueError(f"--input-shape {spec!r}: expected NAME=1x3x224x224")
        shapes[name] = tuple(_dim(spec, part) for part in parts)
    return shapes


_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def valid_batch(value: object) -> bool:
    """A batch size convlint computes with: an integer (not a bool) from 1 to MAX_DIM, as
    --batch takes."""
    return type(value) is int and 1 <= value <= MAX_DIM


def _dim(spec: str, part: str) -> int | str:
    if re.fullmatch(r"[+-]?[0-9]+", part):
        value = int(part) if len(part) <= 20 else None
        if value is not None and 1 <= value <= MAX_DIM:
            return value
        why = "must be positive" if value is not None and value < 1 else f"is larger than {describe(MAX_DIM)}"
        raise ValueError(f"--input-shape {spec!r}: dim {part[:24]} {why}")
    if _SYMBOL.fullmatch(part):
        return part
    raise ValueError(f"--input-shape {spec!r}: dim {part[:24]!r} is neither a positive integer nor a name")


def _text(shape: Shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def _tuple(shape: Shape, per_sample: bool) -> str:
    dims = shape[1:] if per_sample else shape
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


@dataclass
class Applied:
    shapes: dict[str, Shape | None]
    """Every input's shape to analyse at."""
    declared: dict[str, Shape | None]
    """Every input's shape as the source declares it, when the sizes replaced a dim the source
    fixes (the fixed-size check compares the two); empty otherwise."""


def apply_sizes(path: str, declared: list[tuple[str, Shape | None]], sizes: InputSizes,
                per_sample: bool = False) -> Applied:
    """The shapes to analyse each input at. ``declared`` is in the source's order; for a spec
    (``per_sample``) every shape has the implicit batch dim in front and the given dims do not.
    Raises InputError for names that are not inputs, wrong ranks and (unless ``override``)
    dims that contradict fixed ones."""
    given = dict(sizes.shapes)
    shapes: dict[str, Shape | None] = {}
    replaced = False
    chosen: dict[str, str] = {}  # input -> the option text that set its dims
    for position, (name, shape) in enumerate(declared):
        wanted = given.pop(name, None)
        if wanted is None and position == 0 and "" in given:
            wanted = given.pop("")
        if wanted is not None:
            if per_sample and shape is not None:
                if len(wanted) == len(shape):
                    raise InputError.one(
                        path, None, f"--input-shape {_text(wanted)} for {name!r}: a spec's input shapes are per "
                        f"sample, (C, *spatial) like its {_tuple(shape, True)}; give {_text(wanted[1:])} "
                        "(--batch sets the batch size)")
                wanted = (shape[0], *wanted)
            option = "--input-shape " + _text(wanted[1:] if per_sample else wanted)
            replaced |= _check(path, name, shape, wanted, option, sizes.override or per_sample, per_sample)
            shape = wanted
            if not per_sample:
                chosen[name] = option
        shapes[name] = shape
    if given:
        unknown = ", ".join(sorted(n or "(unnamed)" for n in given))
        names = ", ".join(name for name, _ in declared) or "none"
        raise InputError.one(path, None, f"--input-shape names {unknown}, but the model's inputs are {names}")
    if sizes.batch is not None:
        replaced |= _apply_batch(path, shapes, sizes, per_sample, chosen)
    return Applied(shapes, {name: shape for name, shape in declared} if replaced else {})


def _check(path: str, name: str, declared: Shape | None, wanted: Shape, option: str, may_replace: bool,
           per_sample: bool) -> bool:
    """Whether ``wanted`` replaces fixed dims of ``declared`` (InputError when it may not)."""
    if declared is None:
        return False
    if len(declared) != len(wanted):
        shift = 1 if per_sample else 0
        raise InputError.one(
            path, None, f"{option} for {name!r} has rank {len(wanted) - shift}, the model's input has "
            f"rank {len(declared) - shift} {_tuple(declared, per_sample)}"
        )
    fixed = [(mine, theirs) for mine, theirs in zip(declared, wanted) if isinstance(mine, int)]
    if all(mine == theirs for mine, theirs in fixed):
        return False
    if not may_replace:
        raise InputError.one(
            path, None, f"{option} for {name!r} conflicts with its fixed shape {_tuple(declared, per_sample)}; "
            "add --override-shape to analyse the model at this size"
        )
    return True


def _apply_batch(path: str, shapes: dict[str, Shape | None], sizes: InputSizes, per_sample: bool,
                 chosen: dict[str, str]) -> bool:
    """Set the batch dim of every batched input; whether a fixed batch dim was replaced."""
    batch = sizes.batch
    assert batch is not None
    batched = [name for name, shape in shapes.items() if shape is not None and len(shape) >= 2]
    if not batched:
        raise InputError.one(path, None, f"--batch {batch}: the model has no batched input (rank 2 or more)")
    first = shapes[batched[0]][0]  # type: ignore[index]
    replaced = False
    for name in batched:
        shape = shapes[name]
        assert shape is not None
        if shape[0] != first or shape[0] == batch:
            continue
        if name in chosen and shape[0] is not None:
            raise InputError.one(path, None, f"--batch {batch} and {chosen[name]} for {name!r} disagree on the batch size")
        if isinstance(shape[0], int) and not per_sample:
            if not sizes.override:
                raise InputError.one(
                    path, None, f"--batch {batch} conflicts with the batch dim {shape[0]} fixed in {name!r} "
                    f"{_tuple(shape, False)}; add --override-shape to analyse the model at batch {batch}"
                )
            replaced = True
        shapes[name] = (batch, *shape[1:])
    return replaced
