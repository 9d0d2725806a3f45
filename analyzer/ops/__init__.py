"""The op registry: one :class:`~analyzer.ops.base.OpDef` per op, looked up by (domain, op).

Op modules declare their ops with :func:`register`; adding an op means adding one
declaration there (and its tests). ONNX's default domain is ``""``; ops that PyTorch has but
ONNX has not (``Linear``, ``AdaptiveAvgPool``...) live in the ``convlint`` domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzer.ops.base import FixedSizeFn, InferFn, MacsFn, OpDef, RfFn, WeightKind

REGISTRY: dict[tuple[str, str], OpDef] = {}
CONVLINT_DOMAIN = "convlint"

_MODULES = ("conv", "pool", "norm", "elementwise", "tensor", "linear", "resize")
_loaded = False


def register(
    *ops: str,
    infer: InferFn,
    doc: str,
    rf: RfFn | None = None,
    macs: MacsFn | None = None,
    domain: str = "",
    weights: Mapping[int, WeightKind] | None = None,
    scale_operands: bool = False,
    tables: tuple[int, ...] = (),
    shape_only: bool = False,
    min_inputs: int = 0,
    max_inputs: int | None = None,
    fixed_size: FixedSizeFn | None = None,
) -> None:
    """Declare one or more ops sharing the same semantics."""
    from analyzer.ops.common import no_macs, rf_union

    for op in ops:
        key = (domain, op)
        if key in REGISTRY:
            raise ValueError(f"op {domain or 'ai.onnx'}::{op} is registered twice")
        REGISTRY[key] = OpDef(
            op=op,
            doc=doc,
            infer=infer,
            rf=rf or rf_union,
            macs=macs or no_macs,
            domain=domain,
            weights=dict(weights or {}),
            scale_operands=scale_operands,
            tables=tables,
            shape_only=shape_only,
            min_inputs=min_inputs,
            max_inputs=max_inputs,
            fixed_size=fixed_size,
        )


def _load() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for module in _MODULES:
            importlib.import_module(f"analyzer.ops.{module}")
        _loaded = True


def lookup(domain: str, op: str) -> OpDef | None:
    _load()
    if domain == "ai.onnx":
        domain = ""
    return REGISTRY.get((domain, op))


_MISSING = object()


def opdef_of(node: Any) -> OpDef | None:
    """The registry entry of a graph node, looked up once and kept on the node."""
    found = node.opdef
    if found is None:
        found = lookup(node.domain, node.op) or _MISSING
        node.opdef = found
    return None if found is _MISSING else found


def all_ops() -> list[OpDef]:
    _load()
    return sorted(REGISTRY.values(), key=lambda d: (d.domain, d.op))
