"""Field types of the JSON architecture spec: one clear message per invalid value.

Union types (``3`` or ``[3, 3]``) validate with a single function, so an invalid value gives
one error naming what is accepted instead of one error per union member; the JSON Schema
still spells the alternatives out for editors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from analyzer.limits import MAX_DIM, describe
from analyzer.strings import UNSAFE_CHARACTERS

MAX_SPATIAL = 3

PositiveInt = Annotated[int, Field(ge=1, le=MAX_DIM)]
NonNegativeInt = Annotated[int, Field(ge=0, le=MAX_DIM)]
_UNPRINTABLE = UNSAFE_CHARACTERS
Name = Annotated[str, Field(
    min_length=1, max_length=256,
    pattern=rf"^[^\s/{_UNPRINTABLE}]([^/{_UNPRINTABLE}]*[^\s/{_UNPRINTABLE}])?$",
    description="No slash, no control characters, no leading or trailing space.",
)]
Title = Annotated[str, Field(max_length=256, pattern=rf"^[^{_UNPRINTABLE}]*$")]
"""Free text shown in reports (a model's name): any printable characters."""


class Digits:
    """An integer too long to be a size, as the spec reader hands it on (never converted:
    a 5,000-digit number is past Python's own limit, and nothing needs its value)."""

    __slots__ = ("count",)

    def __init__(self, count: int):
        self.count = count

    def __str__(self) -> str:
        return f"a {self.count:,}-digit number"


MAX_DIGITS = 20
"""Integers in a spec with more digits than this are read as :class:`Digits`."""


def _is_int(value: Any) -> bool:
    """An integer within convlint's size limit (analyzer.limits.MAX_DIM)."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_DIM <= value <= MAX_DIM


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -MAX_DIM <= value <= MAX_DIM


def _too_large(value: Any) -> bool:
    if isinstance(value, list):
        return any(_too_large(v) for v in value)
    return isinstance(value, Digits) or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                         and not -MAX_DIM <= value <= MAX_DIM)


def _shown(value: Any) -> str:
    import json

    if isinstance(value, Digits) or (isinstance(value, int) and abs(value) > 10**MAX_DIGITS):
        return str(value) if isinstance(value, Digits) else str(Digits(len(str(abs(value)))))
    return json.dumps(value, default=str)[:80]


def _error(kind: str, message: str, value: Any) -> PydanticCustomError:
    if _too_large(value):
        message += f" (sizes are at most {describe(MAX_DIM)})"
    return PydanticCustomError(kind, message + ", got {value}", {"value": _shown(value)})


def _per_axis(minimum: int, what: str):
    def validate(value: Any) -> int | list[int]:
        if _is_int(value) and value >= minimum:
            return value
        if (
            isinstance(value, list)
            and 1 <= len(value) <= MAX_SPATIAL
            and all(_is_int(v) and v >= minimum for v in value)
        ):
            return list(value)
        raise _error(
            "per_axis",
            f"must be {what} or a list of 1 to {MAX_SPATIAL} of them (one per spatial axis)",
            value,
        )

    return validate


_POSITIVE_OR_LIST = PositiveInt | Annotated[list[PositiveInt], Field(min_length=1, max_length=MAX_SPATIAL)]
_NON_NEG_OR_LIST = NonNegativeInt | Annotated[list[NonNegativeInt], Field(min_length=1, max_length=MAX_SPATIAL)]

Size = Annotated[
    int | list[int],
    PlainValidator(_per_axis(1, "a positive integer"), json_schema_input_type=_POSITIVE_OR_LIST),
]
"""A kernel size, stride or dilation: one value for every spatial axis, or one per axis."""

OutputPadding = Annotated[
    int | list[int],
    PlainValidator(_per_axis(0, "a non-negative integer"), json_schema_input_type=_NON_NEG_OR_LIST),
]

_PAIR = Annotated[list[NonNegativeInt], Field(min_length=2, max_length=2)]
_PADDING_SCHEMA = (
    NonNegativeInt
    | Annotated[list[NonNegativeInt], Field(min_length=1, max_length=MAX_SPATIAL)]
    | Annotated[list[_PAIR], Field(min_length=1, max_length=MAX_SPATIAL)]
    | Literal["same", "valid"]
)


def _padding(value: Any) -> int | list[int] | list[list[int]] | str:
    if value in ("same", "valid"):
        return value
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, list) and 1 <= len(value) <= MAX_SPATIAL:
        if all(_is_int(v) and v >= 0 for v in value):
            return list(value)
        if all(
            isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x >= 0 for x in v)
            for v in value
        ):
            return [list(v) for v in value]
    raise _error(
        "padding",
        'must be a non-negative integer, a list of one per spatial axis, a list of '
        '[begin, end] pairs, "same" or "valid"',
        value,
    )


Padding = Annotated[
    int | list[int] | list[list[int]] | str,
    PlainValidator(_padding, json_schema_input_type=_PADDING_SCHEMA),
]


def _scale(value: Any) -> float | list[float]:
    if _is_number(value) and value > 0:
        return float(value)
    if (
        isinstance(value, list)
        and 1 <= len(value) <= MAX_SPATIAL
        and all(_is_number(v) and v > 0 for v in value)
    ):
        return [float(v) for v in value]
    raise _error("scale", "must be a positive number or a list of one per spatial axis", value)


PositiveNumber = Annotated[float, Field(gt=0)]
Scale = Annotated[
    float | list[float],
    PlainValidator(
        _scale,
        json_schema_input_type=PositiveNumber | Annotated[list[PositiveNumber], Field(min_length=1, max_length=MAX_SPATIAL)],
    ),
]


def _output_size(value: Any) -> int | list[int | None]:
    if _is_int(value) and value >= 1:
        return value
    if (
        isinstance(value, list)
        and 1 <= len(value) <= MAX_SPATIAL
        and all(v is None or (_is_int(v) and v >= 1) for v in value)
    ):
        return list(value)
    raise _error(
        "output_size",
        "must be a positive integer or a list of one per spatial axis (null keeps the input's)",
        value,
    )


OutputSize = Annotated[
    int | list[int | None],
    PlainValidator(
        _output_size,
        json_schema_input_type=PositiveInt | Annotated[list[PositiveInt | None], Field(min_length=1, max_length=MAX_SPATIAL)],
    ),
]


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise _error("inputs", "must be a layer or input name, or a non-empty list of names", value)


Inputs = Annotated[
    list[str],
    PlainValidator(
        _names,
        json_schema_input_type=Name | Annotated[list[Name], Field(min_length=1)],
    ),
]
