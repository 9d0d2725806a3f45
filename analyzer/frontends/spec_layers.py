"""The layers of a JSON architecture spec (pydantic v2), each with its translation to the graph.

A layer has a unique ``name``, an ``op`` (the discriminator), optional ``inputs`` (default:
the previous layer) and PyTorch-like fields with PyTorch's defaults. Shapes are per sample:
``(C, *spatial)``, so axis 0 is the channel axis. ``lower()`` turns a layer into one op of
the registry, with its weights as tensors whose dims follow from the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from analyzer.frontends.spec_types import (
    Inputs,
    Name,
    NonNegativeInt,
    OutputPadding,
    OutputSize,
    Padding,
    PositiveInt,
    Scale,
    Size,
    Title,
)
from analyzer.ops import CONVLINT_DOMAIN

# Where each canonical attribute is written in a spec layer, for error locations.
ATTR_FIELDS = {
    "kernel_shape": "kernel_size",
    "strides": "stride",
    "pads": "padding",
    "auto_pad": "padding",
    "dilations": "dilation",
    "group": "groups",
    "output_padding": "output_padding",
    "in_channels": "in_channels",
    "num_features": "num_features",
    "in_features": "in_features",
    "axis": "axis",
    "output_size": "output_size",
    "normalized_shape": "normalized_shape",
    "num_groups": "num_groups",
    "num_parameters": "num_parameters",
    "scale_factor": "scale_factor",
    "size": "size",
    "bias": "bias",
}


@dataclass
class Lowered:
    """One registry op for a spec layer. ``weights`` name the weight inputs after the data
    inputs (``None`` for an absent optional one), PyTorch-style (``weight``, ``bias``...)."""

    op: str
    attrs: dict[str, Any] = field(default_factory=dict)
    weights: tuple[str | None, ...] = ()
    domain: str = ""


class Layer(BaseModel):
    # Each model's validator is built when it is first used (see spec_model_for): building all
    # of them costs more than a small spec's whole analysis.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    name: Name = Field(description="Unique layer name; the layer's output tensor has this name.")
    inputs: Inputs | None = Field(
        None, description="Names of the layers or model inputs this layer reads (default: the "
        "previous layer, or the first model input for the first layer)."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Rule codes (or prefixes) not to report for this layer."
    )

    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    @model_validator(mode="after")
    def _count_inputs(self) -> Layer:
        count = len(self.inputs) if self.inputs is not None else 1
        if count < self.min_inputs:
            raise ValueError(f"{self.op} needs at least {self.min_inputs} inputs, got {count}")  # type: ignore[attr-defined]
        if self.max_inputs is not None and count > self.max_inputs:
            raise ValueError(f"{self.op} takes {self.max_inputs} input(s), got {count}")  # type: ignore[attr-defined]
        return self

    def lower(self) -> Lowered:
        raise NotImplementedError


def _spatial_attrs(layer: Any) -> dict[str, Any]:
    """kernel_shape, strides, dilations and padding in the registry's (ONNX) form."""
    attrs: dict[str, Any] = {"kernel_shape": layer.kernel_size}
    stride = getattr(layer, "stride", 1)
    attrs["strides"] = layer.kernel_size if stride is None else stride
    attrs["dilations"] = getattr(layer, "dilation", 1)
    padding = layer.padding
    if padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"
    elif padding == "valid":
        attrs["auto_pad"] = "VALID"
    elif isinstance(padding, int):
        attrs["pads"] = padding
    elif padding and isinstance(padding[0], list):
        attrs["pads"] = [b for b, _ in padding] + [e for _, e in padding]
    else:
        attrs["pads"] = list(padding) + list(padding)
    return attrs


def _channels(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class Conv(Layer):
    """Convolution (nn.Conv1d/2d/3d): a filter spans all input channels of its group."""

    op: Literal["conv"]
    out_channels: PositiveInt
    kernel_size: Size
    stride: Size = 1
    padding: Padding = 0
    dilation: Size = 1
    groups: PositiveInt = 1
    bias: bool = True
    in_channels: PositiveInt | None = Field(
        None, description="Checked against the input's channels when given."
    )
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> Conv:
        strides = self.stride if isinstance(self.stride, list) else [self.stride]
        if self.padding == "same" and any(s != 1 for s in strides):
            raise ValueError('padding="same" is not supported for strided convolutions (PyTorch)')
        return self

    def lower(self) -> Lowered:
        attrs = _spatial_attrs(self) | {"group": self.groups, "out_channels": self.out_channels}
        attrs |= _channels(in_channels=self.in_channels)
        return Lowered("Conv", attrs, ("weight", "bias" if self.bias else None))


class ConvTranspose(Layer):
    """Transposed convolution (nn.ConvTranspose1d/2d/3d)."""

    op: Literal["conv_transpose"]
    out_channels: PositiveInt
    kernel_size: Size
    stride: Size = 1
    padding: Padding = 0
    output_padding: OutputPadding = 0
    dilation: Size = 1
    groups: PositiveInt = 1
    bias: bool = True
    in_channels: PositiveInt | None = None

    @model_validator(mode="after")
    def _explicit_padding(self) -> ConvTranspose:
        if self.padding in ("same", "valid"):
            raise ValueError('padding="same"/"valid" is not supported for transposed convolutions')
        return self

    def lower(self) -> Lowered:
        attrs = _spatial_attrs(self) | {"group": self.groups, "out_channels": self.out_channels}
        attrs |= {"output_padding": self.output_padding} | _channels(in_channels=self.in_channels)
        return Lowered("ConvTranspose", attrs, ("weight", "bias" if self.bias else None))


class MaxPool(Layer):
    """Max pooling (nn.MaxPool1d/2d/3d); stride defaults to the kernel size."""

    op: Literal["max_pool"]
    kernel_size: Size
    stride: Size | None = None
    padding: Padding = 0
    dilation: Size = 1
    ceil_mode: bool = False

    def lower(self) -> Lowered:
        return Lowered("MaxPool", _spatial_attrs(self) | {"ceil_mode": int(self.ceil_mode)})


class AvgPool(Layer):
    """Average pooling (nn.AvgPool1d/2d/3d); stride defaults to the kernel size."""

    op: Literal["avg_pool"]
    kernel_size: Size
    stride: Size | None = None
    padding: Padding = 0
    dilation: Size = 1
    ceil_mode: bool = False
    count_include_pad: bool = True

    def lower(self) -> Lowered:
        attrs = _spatial_attrs(self) | {"ceil_mode": int(self.ceil_mode)}
        return Lowered("AveragePool", attrs | {"count_include_pad": int(self.count_include_pad)})


class GlobalPool(Layer):
    """Global average or max pooling: every spatial dim becomes 1."""

    op: Literal["global_avg_pool", "global_max_pool"]

    def lower(self) -> Lowered:
        return Lowered("GlobalAveragePool" if self.op == "global_avg_pool" else "GlobalMaxPool")


class AdaptivePool(Layer):
    """nn.AdaptiveAvgPool1d/2d/3d, nn.AdaptiveMaxPool*: output_size per spatial axis (null
    keeps the input's)."""

    op: Literal["adaptive_avg_pool", "adaptive_max_pool"]
    output_size: OutputSize

    def lower(self) -> Lowered:
        op = "AdaptiveAvgPool" if self.op == "adaptive_avg_pool" else "AdaptiveMaxPool"
        return Lowered(op, {"output_size": self.output_size}, domain=CONVLINT_DOMAIN)


class BatchNorm(Layer):
    """nn.BatchNorm1d/2d/3d: weight and bias are parameters, running statistics buffers."""

    op: Literal["batch_norm"]
    num_features: PositiveInt | None = Field(None, description="Checked against the input's channels.")
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True

    def lower(self) -> Lowered:
        affine = ("weight", "bias") if self.affine else (None, None)
        stats = ("running_mean", "running_var") if self.track_running_stats else (None, None)
        attrs = {"epsilon": self.eps} | _channels(num_features=self.num_features)
        return Lowered("BatchNormalization", attrs, (*affine, *stats))


class InstanceNorm(Layer):
    """nn.InstanceNorm1d/2d/3d (affine off by default, as in PyTorch)."""

    op: Literal["instance_norm"]
    num_features: PositiveInt | None = None
    eps: float = 1e-5
    affine: bool = False

    def lower(self) -> Lowered:
        weights = ("weight", "bias") if self.affine else ()
        return Lowered("InstanceNormalization", {"epsilon": self.eps}, weights)


class GroupNorm(Layer):
    """nn.GroupNorm: channels split into num_groups; weight and bias per channel."""

    op: Literal["group_norm"]
    num_groups: PositiveInt
    eps: float = 1e-5
    affine: bool = True

    def lower(self) -> Lowered:
        weights = ("weight", "bias") if self.affine else ()
        return Lowered("GroupNormalization", {"num_groups": self.num_groups, "epsilon": self.eps}, weights)


class LayerNorm(Layer):
    """nn.LayerNorm over the last dims (normalized_shape); default: the whole sample."""

    op: Literal["layer_norm"]
    normalized_shape: PositiveInt | list[PositiveInt] | None = None
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def lower(self) -> Lowered:
        shape = self.normalized_shape
        if isinstance(shape, int):
            shape = [shape]
        attrs: dict[str, Any] = {"epsilon": self.eps, "axis": -len(shape) if shape else 1}
        if shape:
            attrs["normalized_shape"] = shape
        weights = ("weight", "bias" if self.bias else None) if self.elementwise_affine else ()
        return Lowered("LayerNormalization", attrs, weights)


class Activation(Layer):
    """An element-wise activation: output shape = input shape, no parameters."""

    op: Literal[
        "relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid", "hardsigmoid",
        "tanh", "hardswish", "softplus", "softsign",
    ]
    approximate: Literal["none", "tanh"] = Field("none", description="gelu only.")

    ONNX: ClassVar[dict[str, str]] = {
        "relu": "Relu", "relu6": "Clip", "elu": "Elu", "selu": "Selu", "celu": "Celu",
        "gelu": "Gelu", "silu": "Swish", "mish": "Mish", "sigmoid": "Sigmoid",
        "hardsigmoid": "HardSigmoid", "tanh": "Tanh", "hardswish": "HardSwish",
        "softplus": "Softplus", "softsign": "Softsign",
    }

    def lower(self) -> Lowered:
        attrs = {"min": 0.0, "max": 6.0} if self.op == "relu6" else {}
        return Lowered(self.ONNX[self.op], attrs)


class LeakyRelu(Layer):
    """nn.LeakyReLU."""

    op: Literal["leaky_relu"]
    negative_slope: float = 0.01

    def lower(self) -> Lowered:
        return Lowered("LeakyRelu", {"alpha": self.negative_slope})


class PRelu(Layer):
    """nn.PReLU: a learned slope, one or one per channel (num_parameters)."""

    op: Literal["prelu"]
    num_parameters: PositiveInt = 1

    def lower(self) -> Lowered:
        return Lowered("PRelu", {"num_parameters": self.num_parameters}, ("weight",))


class Softmax(Layer):
    """Softmax / log-softmax along a per-sample axis (0 = channels; -1 = last)."""

    op: Literal["softmax", "log_softmax"]
    axis: int = 0

    def lower(self) -> Lowered:
        return Lowered("Softmax" if self.op == "softmax" else "LogSoftmax", {"axis": _axis(self.axis)})


def _axis(axis: int) -> int:
    """A per-sample axis as an axis of the (N, C, *spatial) tensor."""
    return axis + 1 if axis >= 0 else axis


class Dropout(Layer):
    """Dropout: identity at inference."""

    op: Literal["dropout"]
    p: Annotated[float, Field(ge=0, le=1)] = 0.5

    def lower(self) -> Lowered:
        return Lowered("Dropout", {"ratio": self.p})


class Identity(Layer):
    """nn.Identity."""

    op: Literal["identity"]

    def lower(self) -> Lowered:
        return Lowered("Identity")


class Add(Layer):
    """Element-wise sum of two or more tensors (numpy broadcasting): residual connections."""

    op: Literal["add"]
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def lower(self) -> Lowered:
        return Lowered("Add" if self.inputs and len(self.inputs) == 2 else "Sum")


class Mul(Layer):
    """Element-wise product of two tensors (numpy broadcasting): gates, attention."""

    op: Literal["mul"]
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2

    def lower(self) -> Lowered:
        return Lowered("Mul")


class Concat(Layer):
    """Concatenation along a per-sample axis (0 = channels): all other dims must match."""

    op: Literal["concat"]
    axis: int = 0
    max_inputs: ClassVar[int | None] = None

    def lower(self) -> Lowered:
        return Lowered("Concat", {"axis": _axis(self.axis)})


class Flatten(Layer):
    """nn.Flatten(): all per-sample dims into one."""

    op: Literal["flatten"]

    def lower(self) -> Lowered:
        return Lowered("Flatten", {"axis": 1})


class Linear(Layer):
    """nn.Linear on the last dim: weight (out_features, in_features), bias (out_features)."""

    op: Literal["linear"]
    out_features: PositiveInt
    in_features: PositiveInt | None = Field(None, description="Checked against the input when given.")
    bias: bool = True

    def lower(self) -> Lowered:
        attrs = {"out_features": self.out_features} | _channels(in_features=self.in_features)
        return Lowered("Linear", attrs, ("weight", "bias" if self.bias else None), CONVLINT_DOMAIN)


class Upsample(Layer):
    """nn.Upsample / F.interpolate: scale_factor or size (exactly one)."""

    op: Literal["upsample"]
    scale_factor: Scale | None = None
    size: Size | None = None
    mode: Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"] = "nearest"
    align_corners: bool | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Upsample:
        if (self.scale_factor is None) == (self.size is None):
            raise ValueError("give exactly one of scale_factor and size")
        if self.align_corners and self.mode.startswith("nearest"):
            raise ValueError("align_corners only applies to linear and cubic modes")
        return self

    def lower(self) -> Lowered:
        attrs = _channels(scale_factor=self.scale_factor, size=self.size)
        attrs |= {"mode": self.mode, "align_corners": bool(self.align_corners)}
        return Lowered("Interpolate", attrs, domain=CONVLINT_DOMAIN)


class Pad(Layer):
    """Padding of the spatial axes: one int for every side, one per axis, or [begin, end] pairs."""

    op: Literal["pad"]
    padding: Annotated[Padding, Field(description="Not 'same'/'valid'.")]
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    value: float = 0.0

    @model_validator(mode="after")
    def _explicit(self) -> Pad:
        if isinstance(self.padding, str):
            raise ValueError('pad needs explicit padding, not "same" or "valid"')
        return self

    def lower(self) -> Lowered:
        mode = {"replicate": "edge", "circular": "wrap"}.get(self.mode, self.mode)
        padding = self.padding
        if isinstance(padding, int):
            return Lowered("Pad", {"pads": padding, "mode": mode})
        pairs = padding if isinstance(padding[0], list) else [[p, p] for p in padding]  # type: ignore[union-attr]
        axes = list(range(-len(pairs), 0))
        pads = [b for b, _ in pairs] + [e for _, e in pairs]  # type: ignore[misc]
        return Lowered("Pad", {"pads": pads, "axes": axes, "mode": mode})


LAYER_TYPES: tuple[type[Layer], ...] = (
    Conv, ConvTranspose, MaxPool, AvgPool, GlobalPool, AdaptivePool, BatchNorm, InstanceNorm, GroupNorm, LayerNorm, Activation, LeakyRelu, PRelu,
    Softmax, Dropout, Identity, Add, Mul, Concat, Flatten, Linear, Upsample, Pad,
)

# Union[tuple] is the union of the tuple's members; no "|" spelling takes a tuple.
AnyLayer = Annotated[Union[LAYER_TYPES], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007


LAYERS: dict[str, type[Layer]] = {
    op: layer for layer in LAYER_TYPES for op in layer.model_fields["op"].annotation.__args__  # type: ignore[union-attr]
}
"""The layer type of each op name."""


def op_names() -> list[str]:
    return list(LAYERS)


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    name: Name
    shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)] = Field(
        description="Per-sample shape (C, *spatial): (C,), (C, L), (C, H, W) or (C, D, H, W)."
    )
    dtype: Literal["float32", "float16", "bfloat16", "float64", "uint8", "int8"] = "float32"


class Spec(BaseModel):
    """A convlint architecture spec: named inputs and a list of layers forming a DAG."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)

    schema_: str | None = Field(None, alias="$schema", description="Path or URL of this schema.")
    name: Title | None = Field(None, description="Model name (default: the file name).")
    description: str | None = None
    inputs: Annotated[list[InputSpec], Field(min_length=1)]
    layers: Annotated[list[AnyLayer], Field(min_length=1)]
    outputs: list[Name] | None = Field(None, description="Output layers (informational).")


def spec_model_for(data: Any) -> type[Spec]:
    """The model that validates ``data`` exactly as :class:`Spec` does, with validators built
    only for the layer types it uses; :class:`Spec` itself (every layer type) when a layer's op
    is missing or unknown, so that the error names the known ops."""
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        return Spec
    used = set()
    for layer in layers:
        op = layer.get("op") if isinstance(layer, dict) else None
        if not isinstance(op, str) or op not in LAYERS:
            return Spec
        used.add(LAYERS[op])
    return _spec_of(frozenset(used)) if used else Spec


@cache
def _spec_of(used: frozenset[type[Layer]]) -> type[Spec]:
    # A discriminated union needs two members at least: a spec of one layer type takes Identity along.
    members = tuple(t for t in LAYER_TYPES if t in used or (len(used) == 1 and t is Identity))
    union = Annotated[Union[members], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(  # type: ignore[call-overload, no-any-return]
        "Spec", __base__=Spec, __config__=None, __module__=__name__,
        layers=(Annotated[list[union], Field(min_length=1)], ...),  # type: ignore[valid-type]
    )


__all__ = ["ATTR_FIELDS", "LAYERS", "LAYER_TYPES", "AnyLayer", "InputSpec", "Layer", "Lowered", "NonNegativeInt", "Spec"]
