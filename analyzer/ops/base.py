"""What an op declaration is, and the contexts its functions receive from the passes.

An :class:`OpDef` holds everything convlint knows about one op: the shape rule (which also
performs the op's checks and records resolved geometry such as padding), which inputs are
weights, the receptive-field transform, the MAC count, and constant folding for the small
integer tensors of shape computations. Passes walk the graph and call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from analyzer.graph import ConstTensor, Dim, Node, Shape, format_shape
from analyzer.limits import MAX_RANK
from analyzer.receptive import Field
from analyzer.rules import INVALID_ATTRIBUTE, MISSING_INPUT, SIZE_OUT_OF_RANGE, Diagnostic, Rule
from analyzer.symbolic import is_expr, is_size

WeightKind = Literal["param", "buffer"]


def _same_kind(value: Any, like: Any) -> bool:
    """Whether an attribute value has the kind of ``like``: an integer (specs may write flags
    as booleans), a number, a string, or a list of such."""
    if isinstance(like, (list, tuple)):
        return isinstance(value, (list, tuple)) and (not like or all(_same_kind(v, like[0]) for v in value))
    if isinstance(like, bool | int):
        return type(value) in (int, bool)
    if isinstance(like, float):
        return type(value) in (int, float)
    return type(value) is type(like)


_KIND_NAMES = {int: "integer", bool: "integer", float: "number", str: "string"}


def _kind_name(like: Any) -> str:
    if isinstance(like, (list, tuple)):
        return f"a list of {_KIND_NAMES.get(type(like[0]), 'value')}s" if like else "a list"
    name = _KIND_NAMES.get(type(like), type(like).__name__)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def shown(value: Any) -> str:
    """An attribute value for a message: a tensor as such, a long list by its first values."""
    if isinstance(value, ConstTensor):
        return f"a tensor of dims {list(value.dims)}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"[{', '.join(map(repr, value[:8]))}, ... ({len(value):,} values)]"
    return repr(value)


class UnknownInput(Exception):
    """An input's shape (or a value the rule needs) is unknown: outputs stay unknown."""


class ShapeError(Exception):
    """The node cannot produce an output: reported as an error diagnostic."""

    def __init__(self, rule: Rule, message: str, attr: str | None = None,
                 partial: Shape | None = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.attr = attr
        self.partial = partial
        """What is still known of output 0 (e.g. the channels of a failed concat)."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """A check that depends on a scanned input size (``convlint sizes``): ``holds`` is a
    boolean expression; where it is false the node fails with ``rule`` and ``message``."""

    node: str
    rule: Rule
    message: str
    location: str | None
    holds: Any


class InferContext:
    """What a shape rule sees of one node: attributes, input shapes/values, and a diagnostics sink."""

    def __init__(
        self,
        node: Node,
        opset: int,
        in_shapes: Sequence[Shape | None],
        in_dtypes: Sequence[str],
        in_values: Sequence[ConstTensor | None],
        deferred: Sequence[bool],
        diagnostics: list[Diagnostic],
        per_sample: bool = False,
        constraints: list[Constraint] | None = None,
    ):
        self.node = node
        self.per_sample = per_sample
        self.constraints = constraints if constraints is not None else []
        self.opset = opset
        self._shapes = in_shapes
        self._dtypes = in_dtypes
        self._values = in_values
        self._deferred = deferred
        self._diagnostics = diagnostics
        self.out_shapes: list[Shape | None] = [None] * len(node.outputs)
        self.out_dtypes: list[str | None] = [None] * len(node.outputs)
        self.out_values: list[ConstTensor | None] = [None] * len(node.outputs)
        self.bound: dict[int, Shape] = {}
        self.resolved: dict[str, Any] = {}
        self.reports: list[tuple[Rule, str, str | None]] = []

    # -- reading ---------------------------------------------------------------------------
    def attr(self, name: str, default: Any = None, *, like: Any = None) -> Any:
        """An attribute; one of another kind than ``like`` (or the default) is an error: a
        string axis, an integer where a list of integers belongs."""
        value = self.node.attrs.get(name, default)
        like = default if like is None else like
        if like is not None and value is not default and not _same_kind(value, like):
            self.fail(INVALID_ATTRIBUTE, f"{name} must be {_kind_name(like)}, got {shown(value)}", name)
        return value

    def ints_attr(self, name: str) -> int | list[int] | None:
        """An integer or a list of integers (kernel_shape, strides, pads...), if given."""
        return self._one_or_list(name, 0, "integers")

    def numbers_attr(self, name: str) -> float | list[float] | None:
        """A number or a list of numbers (scale factors), if given."""
        return self._one_or_list(name, 0.0, "numbers")

    def _one_or_list(self, name: str, like: Any, what: str) -> Any:
        value = self.node.attrs.get(name)
        if value is not None and not _same_kind(value, like) and not _same_kind(value, [like]):
            self.fail(INVALID_ATTRIBUTE, f"{name} must be {what}, got {shown(value)}", name)
        return value

    def require_inputs(self, count: int) -> None:
        """The first ``count`` inputs must be there (S108 names a missing one)."""
        for index in range(count):
            if not self.has(index):
                self._missing(index)

    def require_at_most(self, count: int | None) -> None:
        """No non-empty input past the first ``count`` (S108 names the first extra one)."""
        if count is None or len(self.node.inputs) <= count:
            return
        extra = next((i for i in range(count, len(self.node.inputs)) if self.node.inputs[i]), None)
        if extra is not None:
            self.fail(MISSING_INPUT, f"{self.node.op} takes at most {count} input{'' if count == 1 else 's'}, "
                      f"but the node gives it input {extra}")

    def has(self, index: int) -> bool:
        return index < len(self.node.inputs) and bool(self.node.inputs[index])

    @property
    def n_inputs(self) -> int:
        return len(self.node.inputs)

    def shape(self, index: int) -> Shape:
        """A required input's shape: rules ask ``has`` first for optional ones."""
        if not self.has(index):
            self._missing(index)
        shape = self._shapes[index]
        if shape is None:
            raise UnknownInput(f"input {index} has an unknown shape")
        return shape

    def _missing(self, index: int) -> NoReturn:
        count = len(self.node.inputs)
        opdef = self.node.opdef
        what = " (a weight)" if opdef is not None and index in getattr(opdef, "weights", ()) else ""
        found = (f"its input {index} is empty" if index < count
                 else f"the node has only {count} input{'' if count == 1 else 's'}")
        self.fail(MISSING_INPUT, f"{self.node.op} needs input {index}{what}, but {found}")

    def dtype(self, index: int) -> str:
        return self._dtypes[index] if self.has(index) else "float32"

    def value(self, index: int) -> ConstTensor | None:
        return self._values[index] if self.has(index) else None

    def ints(self, index: int) -> tuple[int, ...] | None:
        """The input's values when all are known integers (shape tensors, axes, pads...)."""
        value = self.value(index)
        if value is None or value.values is None:
            return None
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value.values):
            return tuple(value.values)  # type: ignore[arg-type]
        return None

    def dims(self, index: int) -> tuple[Dim, ...] | None:
        """A shape-like input's values: known sizes and symbolic names (``None`` if any is unknown)."""
        value = self.value(index)
        if value is None or value.values is None:
            return None
        if all(isinstance(v, str) or is_size(v) for v in value.values):
            return tuple(value.values)
        return None

    def ints_from(self, attr: str, index: int, since: int) -> tuple[int, ...] | None:
        """An integer list that is an attribute before opset ``since`` and an input after."""
        if self.opset < since and attr in self.node.attrs:
            return tuple(self.attr(attr, like=[0]))
        if self.has(index):
            values = self.ints(index)
            if values is None:
                raise UnknownInput(f"{attr} is not a constant")
            return values
        if attr in self.node.attrs:
            return tuple(self.attr(attr, like=[0]))
        return None

    def unknown_dims(self, rank: Dim) -> Shape | None:
        """A shape of ``rank`` unknown dims (a rank read from a shape tensor's length); None when
        the rank is unknown too. A rank past convlint's limit is S111, never allocated."""
        if not isinstance(rank, int):
            return None
        if rank > MAX_RANK:
            self.fail(SIZE_OUT_OF_RANGE, f"the output would have rank {rank:,}, over convlint's limit of {MAX_RANK}")
        return (None,) * rank

    def weight(self, index: int, expected: Shape) -> Shape:
        """A weight input's shape; a deferred weight (JSON specs) takes ``expected``."""
        if self.has(index) and self._deferred[index]:
            self.bound[index] = expected
            return expected
        return self.shape(index)

    def fmt(self, shape: Shape | None) -> str:
        """A shape as the user's source writes it (specs: per sample)."""
        return format_shape(shape, self.per_sample)

    # -- writing ---------------------------------------------------------------------------
    def set(self, index: int, shape: Shape | None, dtype: str | None = None,
            value: ConstTensor | None = None) -> None:
        if index >= len(self.out_shapes):
            return
        self.out_shapes[index] = shape
        self.out_dtypes[index] = dtype
        self.out_values[index] = value

    def resolve(self, key: str, value: Any) -> None:
        """Record geometry the rule worked out (padding, windows) for the later passes."""
        self.resolved[key] = value

    def report(self, rule: Rule, message: str, attr: str | None = None) -> None:
        """A finding on this node (the pass attaches the node's name and location)."""
        self.reports.append((rule, message, attr))

    def require(self, holds: Any, rule: Rule, message: Callable[[], str], attr: str | None = None,
                generic: str | None = None) -> None:
        """Fail unless ``holds``. When it depends on a scanned size (an expression), record it
        as a constraint with the ``generic`` message instead of deciding now."""
        if is_expr(holds):
            self.constraints.append(
                Constraint(self.node.name, rule, generic or rule.summary, self.node.location_of(attr), holds)
            )
        elif not holds:
            self.fail(rule, message(), attr)

    def fail(self, rule: Rule, message: str, attr: str | None = None,
             partial: Shape | None = None) -> NoReturn:
        raise ShapeError(rule, message, attr, partial)


class _Slots:
    """Input and output shapes by slot, for the rules that run after shape inference: an
    absent slot reads as unknown (the shape rule reported it if the op needs it)."""

    __slots__ = ()
    in_shapes: Sequence[Shape | None]
    out_shapes: Sequence[Shape | None]

    def in_shape(self, index: int) -> Shape | None:
        return self.in_shapes[index] if index < len(self.in_shapes) else None

    def out_shape(self, index: int) -> Shape | None:
        return self.out_shapes[index] if index < len(self.out_shapes) else None


@dataclass(slots=True)
class PooledField:
    """A global pool of features whose receptive field is smaller than the input: D104
    unless the pooled result gates or joins a path that keeps positions (the pass decides,
    once it knows what the pool feeds)."""

    node: Node
    size: str
    """The pooled field, e.g. ``35x35``."""
    input: str


@dataclass(slots=True)
class RfContext(_Slots):
    """What a receptive-field transform sees: the input fields and the resolved geometry."""

    node: Node
    fields: Sequence[Field | None]
    in_shapes: Sequence[Shape | None]
    """Per input slot, as shape inference found them (None for an omitted input)."""
    out_shapes: Sequence[Shape | None]
    """Per output slot (None for an omitted output)."""
    resolved: Mapping[str, Any]
    diagnostics: list[Diagnostic]
    input_sizes: tuple[Dim, ...] | None = None
    """The model input's spatial sizes, along the axes fields track."""
    pools: list[PooledField] | None = None
    """Where global pools of fields smaller than the input are recorded (D104 candidates)."""

    def data_fields(self) -> list[tuple[int, Field]]:
        return [(i, f) for i, f in enumerate(self.fields) if f is not None]

    def pooled_globally(self, field: Field) -> Field:
        """A local field pooled over the whole feature map: a D104 candidate when it is
        smaller than the input (the pooled features never saw the whole image). Returns the
        pooled field."""
        if not field.is_global and self.input_sizes is not None and self.pools is not None:
            short = [
                (max(axis.sizes(), default=0), size)
                for axis, size in zip(field.per_axis, self.input_sizes)
                if isinstance(size, int) and max(axis.sizes(), default=0) < size
            ]
            if short and len(short) == len(field.per_axis):
                self.pools.append(PooledField(
                    self.node, "x".join(str(r) for r, _ in short), "x".join(str(s) for _, s in short),
                ))
        return field.as_pooled()


@dataclass(slots=True)
class CostContext(_Slots):
    node: Node
    in_shapes: Sequence[Shape | None]
    out_shapes: Sequence[Shape | None]
    resolved: Mapping[str, Any]
    batch: Dim
    """The model's batch dim (dim 0 of its inputs): costs are per sample."""


@dataclass(slots=True)
class Run(_Slots):
    """What one shape-inference run found for a node."""

    in_shapes: Sequence[Shape | None]
    out_shapes: Sequence[Shape | None]
    in_values: Sequence[ConstTensor | None]
    resolved: Mapping[str, Any]


@dataclass(slots=True)
class FixedSizeContext:
    """A node at the sizes the source declares (``then``) and at what-if input sizes (``now``)."""

    node: Node
    then: Run
    now: Run
    per_sample: bool = False

    def fmt(self, shape: Shape | None) -> str:
        return format_shape(shape, self.per_sample)


InferFn = Callable[[InferContext], None]
RfFn = Callable[[RfContext], "Field | None"]
MacsFn = Callable[[CostContext], "int | None"]
FixedSizeFn = Callable[[FixedSizeContext], "str | None"]


@dataclass(frozen=True, slots=True)
class OpDef:
    """Everything convlint knows about one op. See the module docstring."""

    op: str
    doc: str
    infer: InferFn
    rf: RfFn
    macs: MacsFn
    domain: str = ""
    weights: Mapping[int, WeightKind] = field(default_factory=dict)
    """Input index -> kind, for inputs that are weight operands (REFERENCE §5)."""
    scale_operands: bool = False
    """Constant operands with more than one element count as parameters (Add, Mul, ...)."""
    tables: tuple[int, ...] = ()
    """Inputs read as lookup tables (Gather's data): a float initializer there is a parameter
    at its own size (an embedding, a relative-position bias table). Unlike ``weights``, their
    values take part in constant folding (Gather also picks from shape tensors)."""
    shape_only: bool = False
    """Moves data without computing (Reshape, Transpose...): parameters are traced through it."""
    min_inputs: int = 0
    """Inputs a variadic op cannot do without (its operands); fewer is S108. Fixed-arity ops
    need not say: asking for a required input the node lacks is S108 too."""
    max_inputs: int | None = None
    """Inputs the op takes at most (None: variadic); a node with more (non-empty) ones is S108:
    runtimes refuse it, and its rules would read operands the op does not have."""
    fixed_size: FixedSizeFn | None = None
    """For ops whose output size a constant can fix (Reshape targets, Resize sizes): at what-if
    input sizes, why the node does not follow its input as it did at the declared sizes (S109),
    or None."""


def known(*dims: Dim) -> bool:
    return all(isinstance(d, int) for d in dims)
