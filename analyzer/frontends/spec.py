"""JSON architecture spec front end: JSON -> pydantic validation -> the common graph.

Every validation problem is reported, one line each, with its JSON pointer
(``/layers/3/kernel_size: ...``). Tensors are per sample; internally they get a symbolic
batch dim ``N`` in front, which reports leave out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analyzer.builder import GraphBuilder
from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes, apply_sizes
from analyzer.frontends.json_positions import LazyPositions
from analyzer.frontends.spec_types import MAX_DIGITS, Digits
from analyzer.graph import Model, Node, Tensor
from analyzer.limits import MAX_DIM, MAX_NODES, MAX_PROBLEMS, describe
from analyzer.strings import did_you_mean

BATCH = "N"


def pointer(loc: tuple[Any, ...]) -> str:
    """A JSON pointer (RFC 6901) for a pydantic error location."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def _location(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic inserts into locations (``layers.3.conv.stride``)."""
    cleaned: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and part == node.get("op"):
            continue
        cleaned.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(cleaned)


def _loc(error: dict[str, Any]) -> tuple[Any, ...]:
    loc = tuple(error["loc"])
    return (*loc, "op") if error["type"] == "union_tag_invalid" else loc


_EXPECTED = {
    "int_type": "an integer", "bool_type": "true or false", "float_type": "a number", "string_type": "a string",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object",
}
"""What a field of each type must be: the spec is validated strictly, as its JSON Schema says
(no "10" for 10, no 10.0 for an integer, no "yes" for true)."""


def _message(error: dict[str, Any]) -> str:
    from analyzer.frontends.spec_layers import op_names

    kind = error["type"]
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag"))
        return f"unknown op {tag[:80]!r}{did_you_mean(tag, op_names())}; known ops: {', '.join(op_names())}"
    if kind == "union_tag_not_found":
        return "missing 'op'"
    if kind == "extra_forbidden":
        return _unknown_field(error["loc"])
    if kind == "missing":
        return "missing required field"
    if kind == "string_pattern_mismatch":
        if "/" in error.get("ctx", {}).get("pattern", ""):
            return "must be a name: no '/', no control characters, no space at either end"
        return "must not contain control characters"
    if isinstance(error.get("input"), Digits):
        return f"{error['input']}: sizes are at most {describe(MAX_DIM)}"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, got {_json_value(error.get('input'))}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _json_value(value: Any) -> str:
    """A JSON value for a message, and its kind where the text alone would hide it."""
    shown = json.dumps(value, default=str)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    if isinstance(value, str):
        return f"the string {shown}"
    if isinstance(value, (list, dict)):
        return f"{'a list' if isinstance(value, list) else 'an object'} {shown}"
    return shown


def _unknown_field(loc: tuple[Any, ...]) -> str:
    """``unknown field of this conv layer (did you mean 'out_channels'?)``: the fields of the object the
    location is in (a layer, by its op; an input; the spec)."""
    from analyzer.frontends.spec_layers import LAYERS, InputSpec, Spec

    name = str(loc[-1])
    if len(loc) == 4 and loc[0] == "layers" and loc[2] in LAYERS:  # ("layers", 3, op, field)
        owner, fields = f"this {loc[2]} layer", LAYERS[loc[2]].model_fields
    elif len(loc) == 3 and loc[0] == "inputs":
        owner, fields = "this input", InputSpec.model_fields
    elif len(loc) == 1:
        owner, fields = "the spec", {f.alias or n: f for n, f in Spec.model_fields.items()}
    else:
        return "unknown field"
    return f"unknown field of {owner}{did_you_mean(name, [f for f in fields if f != 'op'])}"


def _number(text: str) -> int | Digits:
    """An integer of the spec: one too long to be a size is never converted (Python refuses
    past 4,300 digits, and converting long ones is slow)."""
    return int(text) if len(text) <= MAX_DIGITS else Digits(len(text.lstrip("-")))


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is not a finite number")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(path: str, text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_int=_number, parse_float=_finite, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise InputError.one(
            path, f"line {error.lineno} column {error.colno}", f"invalid JSON: {error.msg}"
        ) from None
    except RecursionError:
        raise InputError.one(path, None, "invalid JSON: nested too deeply") from None
    except UnicodeDecodeError as error:
        raise InputError.one(path, None, f"not a UTF-8 JSON file: {error.reason}") from None
    except ValueError as error:  # from the number readers above
        raise InputError.one(path, None, f"invalid JSON: {error}") from None


def validate(path: str, data: Any):
    from pydantic import ValidationError

    from analyzer.frontends.spec_layers import spec_model_for

    layers = data.get("layers") if isinstance(data, dict) else None
    if isinstance(layers, list) and len(layers) > MAX_NODES:
        raise InputError.one(path, "/layers", f"{len(layers):,} layers: more than {MAX_NODES:,}, convlint's limit")
    try:
        return spec_model_for(data).model_validate(data)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        # Only the problems shown are worded (a suggestion costs a few string comparisons);
        # the rest are counted.
        problems: list[tuple[str | None, str]] = [
            (pointer(_location(_loc(e), data)) if e["loc"] else "/", _message(e))  # type: ignore[arg-type]
            for e in errors[:MAX_PROBLEMS]
        ]
        problems += [(None, "")] * (len(errors) - len(problems))
        raise InputError(path, problems) from None
    except RecursionError:
        raise InputError.one(path, None, "the spec is nested too deeply") from None


def load_spec(path: str, text: str | bytes | None = None, sizes: InputSizes | None = None) -> Model:
    """The graph of the spec in ``text`` (default: read from ``path``), at ``sizes``."""
    if text is None:
        text = Path(path).read_bytes()
    model = build_spec(path, validate(path, read_json(path, text)), sizes)
    model.positions = LazyPositions(text)
    return model


def _batch_dims(spec: Any) -> list[tuple[str, str]]:
    """Inputs written with a batch dim (``[1, 3, 224, 224]``), as a layer reading one proves:
    it expects the second dim as its channels (``in_channels=3``, ``num_features=3``), or it
    gives per-axis sizes for one spatial axis fewer (``kernel_size [7, 7]``). Read per sample,
    such an input is 1 channel of a 3x224x224 volume, and every figure after it is wrong."""
    problems = []
    for index, item in enumerate(spec.inputs):
        shape = item.shape
        if len(shape) < 3 or shape[0] != 1:
            continue
        readers = [(i, layer) for i, layer in enumerate(spec.layers)
                   if (layer.inputs is None and i == 0 and index == 0) or item.name in (layer.inputs or ())]
        for i, layer in readers:
            evidence = _batch_evidence(layer, shape)
            if evidence:
                written = ", ".join(map(str, shape[1:]))
                problems.append((f"/inputs/{index}/shape", (
                    f"{list(shape)} reads as 1 channel of {'x'.join(map(str, shape[1:]))}, but {layer.name} "
                    f"(/layers/{i}) {evidence}: spec shapes are per sample, (C, *spatial), without the batch dim; "
                    f"write [{written}] (--batch sets the batch size)")))
                break
    return problems


def _batch_evidence(layer: Any, shape: tuple[int, ...] | list[int]) -> str | None:
    """What in ``layer`` shows that dim 0 of its input ``shape`` is a batch dim, if anything."""
    for channels in ("in_channels", "num_features"):
        if getattr(layer, channels, None) == shape[1] != 1:
            return f"has {channels}={shape[1]}"
    for size in ("kernel_size", "stride", "dilation"):
        value = getattr(layer, size, None)
        if isinstance(value, list) and len(value) == len(shape) - 2:
            return f"has a {len(value)}-D {size} {value}"
    return None


def build_spec(path: str, spec: Any, sizes: InputSizes | None = None) -> Model:
    """The graph of a validated spec (:class:`~analyzer.frontends.spec_layers.Spec`)."""
    from analyzer.frontends.spec_layers import ATTR_FIELDS

    batched = _batch_dims(spec)
    if batched:
        raise InputError(path, batched)
    builder = GraphBuilder(path, "spec", spec.name or Path(path).stem, per_sample=True)
    builder.opset = {"": 28, "convlint": 1}
    declared = [(item.name, (BATCH, *item.shape)) for item in spec.inputs]
    applied = apply_sizes(path, declared, sizes or InputSizes(), per_sample=True)
    for i, item in enumerate(spec.inputs):
        builder.add_tensor(
            Tensor(item.name, "input", applied.shapes[item.name], item.dtype), f"/inputs/{i}/name"
        )
    previous = spec.inputs[0].name
    input_names = {item.name for item in spec.inputs}
    for i, layer in enumerate(spec.layers):
        where = f"/layers/{i}"
        if layer.name in input_names:
            builder.problem(f"{where}/name", f"duplicate name {layer.name!r} (a model input)")
            continue
        if layer.name in builder.nodes:
            first = builder.nodes[layer.name].location
            builder.problem(f"{where}/name", f"duplicate name {layer.name!r} (first used at {first})")
            continue
        lowered = layer.lower()
        data = list(layer.inputs) if layer.inputs is not None else [previous]
        weights = []
        for slot in lowered.weights:
            if slot is None:
                weights.append("")
                continue
            tensor = f"{layer.name}.{slot}"
            builder.add_tensor(Tensor(tensor, "deferred", implicit=True), where)
            weights.append(tensor)
        fields = type(layer).model_fields
        locations = {attr: f"{where}/{f}" for attr, f in ATTR_FIELDS.items() if f in fields}
        if layer.inputs is not None:
            locations |= {f"input:{k}": f"{where}/inputs/{k}" for k in range(len(data))}
        else:
            locations["input:0"] = where
        builder.add_node(
            Node(
                name=layer.name,
                op=lowered.op,
                domain=lowered.domain,
                inputs=data + weights,
                outputs=[layer.name],
                attrs=lowered.attrs,
                label=layer.op,  # type: ignore[attr-defined]
                location=where,
                attr_locations=locations,
                ignore=tuple(layer.ignore),
            ),
            f"{where}/name",
        )
        previous = layer.name
    builder.outputs = list(spec.outputs) if spec.outputs else [spec.layers[-1].name]
    model = builder.build()
    model.declared = applied.declared
    return model
