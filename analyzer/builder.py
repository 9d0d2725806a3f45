"""Builds a :class:`~analyzer.graph.Model` from nodes and tensors; shared by every front end.

It checks what makes a graph a graph: unique node names, tensors produced once, references
that resolve, and no cycles. Each problem is reported with the node's location in the source.
"""

from __future__ import annotations

from analyzer.errors import InputError
from analyzer.graph import Model, Node, Tensor
from analyzer.rules import Diagnostic, Rule


class GraphBuilder:
    def __init__(self, path: str, fmt: str, name: str, per_sample: bool = False):
        self.path = path
        self.format = fmt
        self.name = name
        self.per_sample = per_sample
        self.nodes: dict[str, Node] = {}
        self.tensors: dict[str, Tensor] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.opset: dict[str, int] = {}
        self._problems: list[tuple[str | None, str]] = []
        self.notes: list[Diagnostic] = []

    def note(self, rule: Rule, node: str | None, message: str, location: str | None) -> None:
        """A finding about the file itself, reported with the analysis (not an error)."""
        self.notes.append(Diagnostic(rule.code, rule.severity, node, message, location))

    def problem(self, location: str | None, message: str) -> None:
        self._problems.append((location, message))

    def add_tensor(self, tensor: Tensor, location: str | None = None) -> None:
        if tensor.name in self.tensors:
            self.problem(location, f"tensor {tensor.name!r} is defined more than once")
            return
        self.tensors[tensor.name] = tensor
        if tensor.role == "input":
            self.inputs.append(tensor.name)

    def add_node(self, node: Node, name_location: str | None = None) -> None:
        if node.name in self.nodes:
            first = self.nodes[node.name].location
            self.problem(
                name_location or node.location,
                f"duplicate name {node.name!r} (first used at {first})",
            )
            return
        node.index = len(self.nodes)
        self.nodes[node.name] = node
        for out in node.outputs:
            if not out:
                continue
            if out in self.tensors:
                self.problem(node.location, f"tensor {out!r} is produced more than once")
                continue
            self.tensors[out] = Tensor(out, "activation")

    def build(self) -> Model:
        producers = {t: n.name for n in self.nodes.values() for t in n.outputs if t}
        consumers: dict[str, list[str]] = {}
        in_order = True
        nodes, tensors = self.nodes, self.tensors
        for node in nodes.values():
            name, index = node.name, node.index
            for tensor in node.inputs:
                if not tensor:
                    continue
                if tensor not in tensors:
                    slot = node.inputs.index(tensor)
                    where = node.attr_locations.get(f"input:{slot}", node.location)
                    self.problem(where, f"{name!r} reads {tensor!r}, which is not defined")
                    continue
                readers = consumers.get(tensor)
                if readers is None:
                    consumers[tensor] = [name]
                else:
                    readers.append(name)
                source = producers.get(tensor)
                if source is not None and nodes[source].index >= index:
                    in_order = False
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
            producers=producers,
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
