"""The report: what every output format shows, as pydantic models (its JSON Schema is
``schemas/report.schema.json``). Formatters only format these objects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Dim = int | str
"""A size, or a symbolic name; ``"?"`` marks a dim that cannot be known statically."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Tool(_Model):
    name: Literal["convlint"] = "convlint"
    version: str


class ModelInfo(_Model):
    path: str
    format: Literal["spec", "onnx"]
    name: str


class TensorInfo(_Model):
    name: str
    shape: list[Dim] | None = Field(description="null when even the rank is unknown")


class ReceptiveField(_Model):
    size: list[int] = Field(description="Per spatial axis: input pixels a unit can see (largest over units).")
    stride: list[int | float] = Field(description="Input pixels between neighbouring units.")
    padding: list[int | None] = Field(description="Effective padding (-offset of unit 0's field); null if unknown.")
    global_: bool = Field(alias="global", description="Units see the whole input (global pooling, "
                          "flattening) or carry global context (squeeze-and-excitation gates).")
    size_min: list[int] = Field(description="Smallest extent over units; differs from size after upsampling.")
    center_offset: list[int | float | None] = Field(
        description="Centre of unit 0's field minus the centre of its stride cell ((stride - 1) / 2); "
        "0 when fields are centred on their units; null if unknown."
    )


class Memory(_Model):
    elements: int | None
    bytes: int | None


class NodeReport(_Model):
    name: str
    op: str
    inputs: list[str]
    outputs: list[TensorInfo]
    params: int | None = Field(description="Trainable parameters; null when weight dims are unknown.")
    buffers: int | None = Field(description="Non-trainable state (BatchNorm running statistics).")
    macs: int | None = Field(description="Multiply-accumulates per sample; null when unknown.")
    receptive_field: ReceptiveField | None
    memory: Memory = Field(description="Activation memory of the node's outputs, per sample.")


class FieldSummary(_Model):
    """The receptive field of the last feature map against the input size."""

    node: str
    size: list[int]
    stride: list[int | float]
    input: list[int | str | None]
    ratio: list[float | None] = Field(description="size / input size per axis")


class Totals(_Model):
    params: int | None
    buffers: int | None
    macs: int | None
    memory: Memory


class DiagnosticReport(_Model):
    code: str
    severity: Literal["error", "warning", "info"]
    node: str | None
    message: str
    location: str | None = Field(description="JSON pointer (specs) or path in the ONNX model.")
    line: int | None = Field(default=None, description="Line of the location in a spec file.")
    column: int | None = Field(default=None, description="Column of the location in a spec file.")


class Report(_Model):
    tool: Tool
    model: ModelInfo
    inputs: list[TensorInfo]
    nodes: list[NodeReport]
    totals: Totals
    receptive_field: FieldSummary | None = Field(
        default=None, description="The last feature map's receptive field against the input size."
    )
    diagnostics: list[DiagnosticReport]


class FileError(_Model):
    path: str
    message: str


class Summary(_Model):
    files: int
    unreadable: int
    errors: int
    warnings: int
    info: int


class CheckReport(_Model):
    """`convlint check`: the report of every model checked, and the files that could not be read."""

    tool: Tool
    files: list[Report]
    errors: list[FileError]
    summary: Summary
