"""Builds a :class:`~analyzer.graph.Model` from nodes and tensors; shared by every front end.

It checks what makes a graph a graph: unique node names, tensors produced once, references
that resolve, and no cycles. Each problem is reported with the node's location in the source.
"""

from __future__ import annotations

from analyzer.errors import InputError
from analyzer.graph import Model, Node, Tensor
from analyzer.rules import Diagnostic, Rule
from analyzer.strings import printable


class GraphBuilder:
    def __init__(self, path: str, fmt: str, name: str, per_sample: bool = False):
        self.path = printable(path)
        self.format = fmt
        self.name = name
        self.per_sample = per_sample
        self.nodes: dict[str, Node] = {}
        self.tensors: dict[str, Tensor] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.opset: dict[str, int] = {}
        self.consumers: dict[str, list[str]] = {}
        self._pending: list[tuple[Node, str]] = []
        """Inputs read before anything defined them: forward references, or undefined."""
        self._problems: list[tuple[str | None, str]] = []
        self.notes: list[Diagnostic] = []

    def note(self, rule: Rule, node: str | None, message: str, location: str | None) -> None:
        """A finding about the file itself, reported with the analysis (not an error)."""
        self.notes.append(Diagnostic(rule.code, rule.severity, node, message, location))

    def problem(self, location: str | None, message: str) -> None:
        self._problems.append((location, message))

    def add_tensor(self, tensor: Tensor, location: str | None = None) -> None:
        readers: list[str] = []
        if self.consumers.setdefault(tensor.name, readers) is not readers:
            self.problem(location, f"tensor {tensor.name!r} is defined more than once")
            return
        self.tensors[tensor.name] = tensor
        if tensor.role == "input":
            self.inputs.append(tensor.name)

    def add_node(self, node: Node, name_location: str | None = None, rename: bool = False) -> None:
        """Add a node; ``rename`` gives a duplicate name the node's index (ONNX, where names
        need not be unique) instead of reporting it."""
        nodes = self.nodes
        node.index = index = len(nodes)
        if nodes.setdefault(node.name, node) is not node:
            if rename:
                node.name = f"{node.name}_{index}"
            if not rename or nodes.setdefault(node.name, node) is not node:
                first = nodes[node.name].location
                self.problem(
                    name_location or node.location,
                    f"duplicate name {node.name!r} (first used at {first})",
                )
                return
        name = node.name
        # ``consumers`` has a (possibly empty) list for every tensor defined so far, source or
        # produced: one look-up per tensor tells whether it is defined and where its readers go.
        consumers = self.consumers
        for tensor in node.inputs:
            readers = consumers.get(tensor)
            if readers is not None:
                readers.append(name)
            elif tensor:
                self._pending.append((node, tensor))  # produced by a later node, or never
        produces = False
        for out in node.outputs:
            if out:
                produces = True
                readers = []
                if consumers.setdefault(out, readers) is not readers:
                    self.problem(node.location, f"tensor {out!r} is produced more than once")
        if not produces:
            self.problem(node.location, f"{name!r} has no output (every op writes at least one)")

    def build(self) -> Model:
        consumers, nodes, sources = self.consumers, self.nodes, self.tensors
        in_order = True
        late: set[str] = set()
        for node, tensor in self._pending:
            readers = consumers.get(tensor)
            if readers is None:
                slot = node.inputs.index(tensor)
                where = node.location_of(f"input:{slot}")
                self.problem(where, f"{node.name!r} reads {tensor!r}, which is not defined")
                continue
            if tensor not in sources:
                in_order = False  # a forward reference: produced by a later node
            readers.append(node.name)
            late.add(tensor)
        if in_order:
            for tensor in late:  # readers recorded out of turn
                consumers[tensor].sort(key=lambda n: nodes[n].index)
        if self._problems:
            raise InputError(self.path, self._problems)
        model = Model(
            path=self.path,
            format=self.format,  # type: ignore[arg-type]
            name=self.name,
            nodes=self.nodes,
            tensors=self.tensors,
            inputs=self.inputs,
            outputs=self.outputs,
            order=list(self.nodes),
            consumers=consumers,
            opset=self.opset,
            per_sample=self.per_sample,
            notes=self.notes,
        )
        if not in_order:  # forward references: sort, and refuse cycles
            model.order = self._order(model.graph)
            rank = {name: i for i, name in enumerate(model.order)}
            for names in consumers.values():
                names.sort(key=rank.__getitem__)
        return model

    def _order(self, graph) -> list[str]:
        """Topological order, source order where the graph allows it; cycles are errors."""
        import networkx as nx

        try:
            return list(
                nx.lexicographical_topological_sort(graph, key=lambda n: self.nodes[n].index)
            )
        except nx.NetworkXUnfeasible:
            cycle = [edge[0] for edge in nx.find_cycle(graph)]
            first = min(cycle, key=lambda n: self.nodes[n].index)
            path = " -> ".join([*cycle, cycle[0]])
            raise InputError.one(
                self.path, self.nodes[first].location, f"the graph has a cycle: {path}"
            ) from None
