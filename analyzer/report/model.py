"""The report: what every output format shows. Formatters only format these objects.

Plain slotted dataclasses, so that a 50,000-node report is built in a blink. pydantic reads
their annotations (and the descriptions in them) to generate ``schemas/report.schema.json``,
only when a schema is asked for: reporting needs no pydantic. The JSON report is written by
:mod:`analyzer.formatters.json`; a test validates every JSON report against the schema and
compares it with pydantic's serialisation of the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

if TYPE_CHECKING:
    import networkx as nx
    from pydantic import Field  # the annotations name it; resolved when a schema is made (adapter)

Dim = int | str
"""A size, or a symbolic name; ``"?"`` marks a dim that cannot be known statically."""

_STRICT = {"extra": "forbid"}
"""pydantic's configuration of every report object (a ConfigDict)."""


@dataclass(slots=True)
class Tool:
    __pydantic_config__ = _STRICT
    name: Literal["convlint"]
    version: str


@dataclass(slots=True)
class ModelInfo:
    __pydantic_config__ = _STRICT
    path: str
    format: Literal["spec", "onnx"]
    name: str


@dataclass(slots=True)
class TensorInfo:
    __pydantic_config__ = _STRICT
    name: str
    shape: Annotated[list[Dim] | None, Field(description="null when even the rank is unknown")]


@dataclass(slots=True)
class ReceptiveField:
    __pydantic_config__ = _STRICT
    size: Annotated[list[int], Field(description="Per spatial axis: input pixels a unit can see (largest over units).")]
    stride: Annotated[list[int | float], Field(description="Input pixels between neighbouring units.")]
    padding: Annotated[list[int | None], Field(description="Effective padding (-offset of unit 0's field); null if unknown.")]
    global_: Annotated[bool, Field(alias="global", description="Units see the whole input (global pooling, "
                                   "flattening) or carry global context (squeeze-and-excitation gates).")]
    size_min: Annotated[list[int], Field(description="Smallest extent over units; differs from size after upsampling.")]
    center_offset: Annotated[list[int | float | None], Field(
        description="Centre of unit 0's field minus the centre of its stride cell ((stride - 1) / 2); "
        "0 when fields are centred on their units; null if unknown.")]


@dataclass(slots=True)
class Memory:
    __pydantic_config__ = _STRICT
    elements: int | None
    bytes: int | None


@dataclass(slots=True)
class NodeReport:
    __pydantic_config__ = _STRICT
    name: str
    op: str
    inputs: list[str]
    outputs: list[TensorInfo]
    params: Annotated[int | None, Field(description="Trainable parameters; null when weight dims are unknown.")]
    buffers: Annotated[int | None, Field(description="Non-trainable state (BatchNorm running statistics).")]
    macs: Annotated[int | None, Field(description="Multiply-accumulates per sample; null when unknown.")]
    receptive_field: ReceptiveField | None
    memory: Annotated[Memory, Field(description="Activation memory of the node's outputs, per sample.")]


@dataclass(slots=True)
class FieldSummary:
    """The receptive field of the last feature map against the input size."""

    __pydantic_config__ = _STRICT
    node: str
    size: list[int]
    stride: list[int | float]
    input: list[int | str | None]
    ratio: Annotated[list[float | None], Field(description="size / input size per axis")]


@dataclass(slots=True)
class UnknownNodes:
    """Per figure, how many nodes have it unknown: the totals leave them out."""

    __pydantic_config__ = _STRICT
    params: int
    buffers: int
    macs: int
    memory: int


@dataclass(slots=True)
class PeakMemory:
    """The most activation memory live at once in a forward pass at batch 1."""

    __pydantic_config__ = _STRICT
    bytes: Annotated[int | None, Field(
        description="Running the nodes in the reported order: the model's inputs, the outputs still to be read "
        "or returned, and the running node's outputs; at least this when unknown > 0; null without a graph.")]
    node: Annotated[str | None, Field(description="The node running at the peak; null when it is the inputs alone.")]
    unknown: Annotated[int, Field(description="Model inputs and nodes whose outputs are of unknown size, left out.")]


@dataclass(slots=True)
class BatchTotals:
    """MACs and activation memory of a whole batch: the per-sample totals times its size."""

    __pydantic_config__ = _STRICT
    size: int
    macs: int | None
    memory: Memory
    peak_memory: Annotated[int | None, Field(description="Peak live activation bytes of the whole batch.")]


@dataclass(slots=True)
class Totals:
    """Sums over the nodes whose figure is known: exact when ``unknown`` counts no node for
    that figure, else a lower bound ("at least 1,234,567 params; 3 nodes unknown"). Null only
    when there is no graph to sum over (a PyTorch module that cannot run at the given shape)."""

    __pydantic_config__ = _STRICT
    params: Annotated[int | None, Field(description="Sum of the known per-node params; at least this when unknown.params > 0.")]
    buffers: int | None
    macs: Annotated[int | None, Field(description="Sum of the known per-node MACs, per sample.")]
    memory: Annotated[Memory, Field(description="Sums of the known per-node activation memory, per sample.")]
    unknown: Annotated[UnknownNodes, Field(description="Nodes left out of each sum because their figure is unknown.")]
    peak_memory: Annotated[PeakMemory, Field(
        description="The most activation memory live at once, per sample (a forward pass at batch 1, input included).")]
    batch: Annotated[Dim | None, Field(
        description="The batch size: --batch, or the model's batch dim (a size, or a symbolic name); "
        "null for a spec analysed without --batch.")] = None
    per_batch: Annotated[BatchTotals | None, Field(
        description="The figures of a whole batch, when its size is known.")] = None

    def exact(self, figure: str) -> int | None:
        """A total when no node's figure is unknown, else None."""
        if figure == "peak_memory":
            return None if self.peak_memory.unknown else self.peak_memory.bytes
        value = self.memory.bytes if figure == "memory" else getattr(self, figure)
        return None if getattr(self.unknown, figure) else value


@dataclass(slots=True)
class DiagnosticReport:
    __pydantic_config__ = _STRICT
    code: str
    severity: Literal["error", "warning", "info"]
    node: str | None
    message: str
    location: Annotated[str | None, Field(description="JSON pointer (specs) or path in the ONNX model.")]
    line: Annotated[int | None, Field(description="Line of the location in a spec file.")] = None
    column: Annotated[int | None, Field(description="Column of the location in a spec file.")] = None


@dataclass(slots=True)
class Report:
    __pydantic_config__ = _STRICT
    tool: Tool
    model: ModelInfo
    inputs: list[TensorInfo]
    nodes: list[NodeReport]
    totals: Totals
    diagnostics: list[DiagnosticReport]
    receptive_field: Annotated[FieldSummary | None, Field(
        description="The last feature map's receptive field against the input size.")] = None

    @property
    def findings(self) -> list[DiagnosticReport]:
        """The diagnostics, in topological order of their nodes."""
        return self.diagnostics

    def node(self, name: str) -> NodeReport:
        """The node called ``name`` (KeyError naming the model's nodes if there is none)."""
        for node in self.nodes:
            if node.name == name:
                return node
        names = ", ".join(n.name for n in self.nodes[:10]) + (", ..." if len(self.nodes) > 10 else "")
        raise KeyError(f"no node {name!r} in {self.model.name} (nodes: {names or 'none'})")

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (``schemas/report.schema.json``) as Python values."""
        from analyzer.formatters.json import to_dict

        return to_dict(self)

    def to_json(self) -> str:
        """The JSON report, as ``convlint analyze --format json`` writes it."""
        from analyzer.formatters.json import render

        return render(self)

    def graph(self) -> nx.DiGraph:
        """The graph as networkx sees it (built on each call): a node per op node, keyed by
        name, with ``report`` (its :class:`NodeReport`), ``op``, ``shape`` (of its first
        output), ``params`` and ``macs``; an edge from producer to reader per tensor between
        them, with ``tensors`` (their names)."""
        import networkx as nx

        graph = nx.DiGraph()
        producers = {}
        for node in self.nodes:
            graph.add_node(node.name, report=node, op=node.op, shape=node.outputs[0].shape if node.outputs else None,
                           params=node.params, macs=node.macs)
            producers.update((o.name, node.name) for o in node.outputs)
        for node in self.nodes:
            for tensor in node.inputs:
                source = producers.get(tensor)
                if source is None:
                    continue
                if graph.has_edge(source, node.name):
                    graph.edges[source, node.name]["tensors"].append(tensor)
                else:
                    graph.add_edge(source, node.name, tensors=[tensor])
        return graph


@dataclass(slots=True)
class FileError:
    __pydantic_config__ = _STRICT
    path: str
    message: str


@dataclass(slots=True)
class Summary:
    __pydantic_config__ = _STRICT
    files: int
    unreadable: int
    errors: int
    warnings: int
    info: int


@dataclass(slots=True)
class CheckReport:
    """`convlint check`: the report of every model checked, and the files that could not be read."""

    __pydantic_config__ = _STRICT
    tool: Tool
    files: list[Report]
    errors: list[FileError]
    skipped: Annotated[list[FileError], Field(
        description="Files met in folders and globs but not read: links leading out of the folder, FIFOs, devices.")]
    summary: Summary


_ADAPTERS: dict[type, Any] = {}


def adapter(kind: type) -> Any:
    """pydantic's view of a report class (its schema, its own serialisation), made on first use:
    pydantic is imported only here."""
    if kind not in _ADAPTERS:
        from pydantic import Field, TypeAdapter

        globals().setdefault("Field", Field)  # the annotations' descriptions, read by pydantic
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def json_schema(kind: type) -> dict[str, Any]:
    return adapter(kind).json_schema(by_alias=True)
