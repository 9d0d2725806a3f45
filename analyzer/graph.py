"""The common graph every front end produces and every pass reads.

A model is a DAG of operator nodes connected by named tensors, like ONNX: a node's inputs
and outputs are tensor names; tensors with no producing node are model inputs or constants.
Front ends only translate into this form; passes never see protobuf or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import networkx as nx

Dim = int | str | None
"""One dimension: a size, a symbolic name such as ``"N"``, or ``None`` when unknown."""

Shape = tuple[Dim, ...]

# ONNX TensorProto.DataType -> (name, bytes per element); 0 for strings and unknown sizes.
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 4), 2: ("uint8", 1), 3: ("int8", 1), 4: ("uint16", 2), 5: ("int16", 2),
    6: ("int32", 4), 7: ("int64", 8), 8: ("string", 0), 9: ("bool", 1), 10: ("float16", 2),
    11: ("float64", 8), 12: ("uint32", 4), 13: ("uint64", 8), 14: ("complex64", 8),
    15: ("complex128", 16), 16: ("bfloat16", 2), 17: ("float8e4m3fn", 1),
    18: ("float8e4m3fnuz", 1), 19: ("float8e5m2", 1), 20: ("float8e5m2fnuz", 1),
    21: ("uint4", 1), 22: ("int4", 1), 23: ("float4e2m1", 1),
}
DTYPE_BYTES: dict[str, int] = {name: size for name, size in DTYPES.values()}
FLOAT_DTYPES = frozenset(
    name for name, _ in DTYPES.values() if name.startswith(("float", "bfloat"))
)


def dtype_name(code: int) -> str:
    return DTYPES.get(code, (f"dtype{code}", 0))[0]


SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def format_shape(shape: Shape | None, per_sample: bool = False) -> str:
    """``(64, 2, 2)``; specs leave out the implicit batch dim; unknown dims print as ``?``."""
    if shape is None:
        return "(?)"
    dims = shape[1:] if per_sample else shape
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def axis_name(axis: int, rank: int) -> str:
    """A readable name for tensor axis ``axis`` of an (N, C, *spatial) tensor."""
    names = SPATIAL_NAMES.get(rank - 2)
    if names and axis >= 2:
        return names[axis - 2]
    return {0: "N", 1: "C"}.get(axis, f"axis {axis}")

TensorRole = Literal["input", "constant", "deferred"]


@dataclass(slots=True)
class ConstTensor:
    """A constant tensor described by dims; ``values`` only for small tensors (never weights)."""

    dims: tuple[int, ...]
    dtype: str
    values: tuple[Any, ...] | None = None


@dataclass(slots=True)
class Tensor:
    """A named value that no node produces: the graph's sources. (Activations, the tensors
    nodes produce, are only names: ``Model.producers`` maps them to their node.)

    ``role``:
      - ``input``: a model input, ``shape`` declared by the source;
      - ``constant``: an initializer, ``shape`` its dims, ``value`` when small enough to fold;
      - ``deferred``: a weight whose dims follow from its consumer's input (JSON specs write
        ``out_channels`` but not the weight's input channels); the consumer's op binds them.
    """

    name: str
    role: TensorRole
    shape: Shape | None = None
    dtype: str = "float32"
    value: ConstTensor | None = None
    implicit: bool = False
    """Created by a front end (a spec layer's weight), not named by the user."""


@dataclass(slots=True)
class Node:
    """One operator application. ``op`` is the registry key; ``label`` is what the source calls it."""

    name: str
    op: str
    inputs: Sequence[str]
    outputs: Sequence[str]
    """Tensor names; ``""`` for an omitted optional input or output (ONNX)."""
    attrs: Mapping[str, Any] = field(default_factory=dict)
    """Read-only: front ends may share one mapping between nodes."""
    domain: str = ""
    label: str = ""
    index: int = 0
    location: str | None = None
    attr_locations: dict[str, str] | None = None
    """Specs: where each attribute (and ``input:N``) is written; ONNX uses ``attributes_at``."""
    attributes_at: str | None = None
    """ONNX: attribute locations are ``location + attributes_at + name`` (built when asked)."""
    ignore: tuple[str, ...] = ()
    opdef: Any = field(default=None, repr=False, compare=False)
    """The registry entry, filled in by ``analyzer.ops.opdef_of`` on first use."""

    def location_of(self, attr: str | None) -> str | None:
        """Where an attribute of this node is written in the source, else the node itself."""
        if attr is not None:
            if self.attr_locations and attr in self.attr_locations:
                return self.attr_locations[attr]
            if self.attributes_at is not None and attr in self.attrs:
                return f"{self.location}{self.attributes_at}{attr}"
        return self.location


@dataclass
class Model:
    """A loaded model: its graph, tensors, and where it came from."""

    path: str
    format: Literal["spec", "onnx"]
    name: str
    nodes: dict[str, Node]
    tensors: dict[str, Tensor]
    """The sources: model inputs, constants, deferred weights (not the activations)."""
    inputs: list[str]
    outputs: list[str]
    order: list[str]
    """Node names in topological order (source order where the graph allows it)."""
    consumers: dict[str, list[str]]
    """Tensor name -> names of the nodes reading it, in topological order; every tensor the
    graph defines (source or produced) has a list, empty when nothing reads it."""
    opset: dict[str, int] = field(default_factory=dict)
    per_sample: bool = False
    """True for specs: dim 0 of every tensor is an implicit batch, left out of reports."""
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Specs: JSON pointer -> (line, column) in the file, for locating findings."""
    notes: list[Any] = field(default_factory=list)
    """Findings about the file itself, made while loading it (rules.Diagnostic)."""
    hints: dict[str, Shape] = field(default_factory=dict)
    """Output shapes found by another tool (onnx shape inference), used only for unmodelled ops."""
    declared: dict[str, Shape | None] = field(default_factory=dict)
    """The inputs' shapes as the source declares them, when the model is analysed at other
    sizes that replace dims the source fixes (empty otherwise): the fixed-size check compares
    the two."""
    stored_parameters: bool = False
    """Every parameter of the source is an initializer (the PyTorch front end exports each one
    as such, without folding): a tensor a node makes (Constant, ConstantOfShape) is a value
    the forward computes, never a parameter (REFERENCE §5)."""
    partial: bool = False
    """The graph could not be made (a PyTorch module that cannot run at the shape asked for):
    figures are unknown, not zero."""
    _producers: dict[str, str] | None = field(default=None, repr=False)
    _graph: nx.DiGraph | None = field(default=None, repr=False)
    _steps: list[tuple[Node, Any]] | None = field(default=None, repr=False)

    @property
    def producers(self) -> dict[str, str]:
        """Tensor name -> the node writing it. Built on first use: the passes walk the steps,
        and few runs ever ask (constants behind shape-only ops, the networkx view)."""
        if self._producers is None:
            self._producers = {t: node.name for node in self.nodes.values() for t in node.outputs if t}
        return self._producers

    def producer(self, tensor: str) -> str | None:
        return self.producers.get(tensor)

    def steps(self) -> list[tuple[Node, Any]]:
        """``(node, its registry entry or None)`` in topological order: what every pass walks."""
        if self._steps is None:
            from analyzer.ops import opdef_of

            nodes = self.nodes
            # Most graphs come in topological order: the dict's own order then, no look-ups.
            ordered = nodes.values() if list(nodes) == self.order else map(nodes.__getitem__, self.order)
            self._steps = [(node, opdef_of(node)) for node in ordered]
        return self._steps

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG as networkx sees it: nodes are op nodes, edges carry the tensor names.

        Built on first use: the passes walk the steps, ``producers`` and ``consumers``, so a
        run that needs no graph algorithm does not pay for (or import) networkx.
        """
        if self._graph is None:
            import networkx as nx

            graph = nx.DiGraph()
            graph.add_nodes_from(self.nodes)
            for tensor, readers in self.consumers.items():
                source = self.producers.get(tensor)
                if source is None:
                    continue
                for reader in readers:
                    if graph.has_edge(source, reader):
                        graph.edges[source, reader]["tensors"].append(tensor)
                    else:
                        graph.add_edge(source, reader, tensors=[tensor])
            self._graph = graph
        return self._graph
