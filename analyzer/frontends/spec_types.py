"""Field types of the JSON architecture spec: one clear message per invalid value.

Union types (``3`` or ``[3, 3]``) validate with a single function, so an invalid value gives
one error naming what is accepted instead of one error per union member; the JSON Schema
still spells the alternatives out for editors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

MAX_SPATIAL = 3

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s/]([^/]*[^\s/])?$")]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _error(kind: str, message: str, value: Any) -> PydanticCustomError:
    import json

    shown = json.dumps(value, default=str)
    return PydanticCustomError(kind, message + ", got {value}", {"value": shown[:80]})


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
