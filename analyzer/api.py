"""The library: analyse a model from Python, at the sizes you plan to train it at.

    from analyzer.api import analyze
    report = analyze("unet.json", input_shapes={"image": (3, 512, 512)}, batch=16)
    report.node("cat3").outputs[0].shape, report.totals.per_batch.macs, report.findings

A source is a path (an ONNX model or a JSON spec), a PyTorch reference
(``"package.module:build_model"``), a spec document (a dict) or a parsed
:class:`~analyzer.frontends.spec_layers.Spec`, an ``onnx.ModelProto``, the bytes of an ONNX
file or a spec, or a ``torch.nn.Module`` (``pip install 'convlint[torch]'``). A source that
cannot be read raises :class:`~analyzer.errors.InputError` (its ``lines()`` are what the CLI
prints).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes, parse_input_shapes, valid_batch
from analyzer.graph import Model, Shape
from analyzer.limits import MAX_DIM
from analyzer.report.model import Report
from analyzer.settings import Settings

if TYPE_CHECKING:
    from analyzer.diff import ModelDiff as DiffReport

__all__ = ["DiffReport", "InputError", "Report", "Settings", "SizesReport", "analyze", "analyze_path", "diff",
           "sizes"]

ShapeLike = Sequence[int | str] | str
"""``(3, 512, 512)``, or ``"3x512x512"`` as on the command line."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """Analysis allocates many small objects and frees them together; the cyclic collector's
    passes over them cost a third of the time on large graphs and find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                # What was made meanwhile is mostly a long-lived result: move it to the oldest
                # generation in O(1) (freeze, then unfreeze into it) rather than have the next
                # young collection walk all of it (30 ms for a 50k-node report). Cyclic garbage
                # among it is still collected, by the next full collection.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def input_sizes(input_shapes: Mapping[str, ShapeLike] | None = None, input_shape: ShapeLike | None = None,
                batch: int | None = None, override_shape: bool = False) -> InputSizes:
    """The what-if sizes of the keyword arguments every function here takes: ``input_shapes``
    by input name, or ``input_shape`` for the first input; dims as on the command line (ONNX
    and PyTorch: every dim, the batch included; specs: per sample)."""
    given = dict(input_shapes or {})
    if input_shape is not None:
        given[""] = input_shape
    shapes: dict[str, Shape] = {}
    for name, shape in given.items():
        text = shape if isinstance(shape, str) else "x".join(map(str, shape))
        (shapes[name],) = parse_input_shapes([f"{name}={text}"]).values()
    if batch is not None and not valid_batch(batch):
        raise ValueError(f"batch must be an integer from 1 to {MAX_DIM:,}, got {batch!r}")
    return InputSizes(shapes, batch, override_shape)


def _settings(settings: Settings | None, select: Iterable[str] | None, extend_select: Iterable[str] | None,
              ignore: Iterable[str] | None) -> Settings:
    """``settings`` (default: every rule on by default, no configuration file read) with the
    selection arguments taking precedence, as on the command line."""
    from analyzer.settings import check_selectors

    base = settings or Settings()
    chosen = {key: tuple(code.upper() for code in value) for key, value in
              (("select", select), ("extend_select", extend_select), ("ignore", ignore)) if value is not None}
    for key, codes in chosen.items():
        check_selectors(codes, key)
    return base.selecting(chosen.get("select", ()), chosen.get("extend_select", ()), chosen.get("ignore", ()))


def load(source: Any, sizes: InputSizes | None = None) -> Model:
    """The graph of ``source`` (any kind above) at what-if ``sizes``."""
    from analyzer.frontends import load_source

    return load_source(source, sizes)


def analyze(
    source: Any,
    *,
    input_shapes: Mapping[str, ShapeLike] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
    override_shape: bool = False,
    select: Iterable[str] | None = None,
    extend_select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    settings: Settings | None = None,
) -> Report:
    """Analyse a model: per node shapes, receptive fields, parameters and MACs, totals (per
    sample, and per batch of ``batch``), and the findings ``select``/``ignore`` choose.

    ``input_shapes``/``input_shape`` analyse at other input dims than the source declares
    (``override_shape`` lets them replace dims an ONNX model fixes); a PyTorch module needs
    them, as it declares none."""
    sizes = input_sizes(input_shapes, input_shape, batch, override_shape)
    return _analyze(source, sizes, _settings(settings, select, extend_select, ignore))


def _analyze(source: Any, sizes: InputSizes, settings: Settings, debug: bool = False) -> Report:
    with paused_gc():
        return _report(load(source, sizes), settings, debug)


def _report(model: Model, settings: Settings, debug: bool = False) -> Report:
    from analyzer.passes import analyze as run_passes
    from analyzer.report.build import build_report

    return build_report(run_passes(model, debug=debug), settings)


def analyze_path(path: str, settings: Settings | None = None,
                 input_shapes: Mapping[str, Shape] | InputSizes | None = None, debug: bool = False) -> Report:
    """The report of the model at ``path`` (or a PyTorch reference): what ``convlint analyze``
    prints. Raises :class:`InputError` when it cannot be read."""
    sizes = input_shapes if isinstance(input_shapes, InputSizes) else InputSizes(dict(input_shapes or {}))
    return _analyze(path, sizes, settings or Settings(), debug)


@dataclass
class SizesReport:
    """Which input sizes a model accepts, per spatial axis (``convlint sizes``)."""

    model: Model
    result: Any
    """The scan (:class:`analyzer.passes.sizes.SizesResult`)."""

    @property
    def axes(self) -> list[Any]:
        """Per scanned axis (:class:`analyzer.passes.sizes.AxisScan`): ``name``, ``valid`` sizes,
        ``rule`` (e.g. ``H % 16 == 0``), ``rejections``, ``dropping``."""
        return self.result.axes

    def axis(self, name: str) -> Any:
        return next(a for a in self.result.axes if a.name == name)

    def accepts(self, size: int) -> bool:
        """Whether every scanned axis accepts ``size`` (inside the scanned range or not)."""
        return all(a.accepts(size) for a in self.result.axes)

    def to_dict(self) -> dict[str, Any]:
        """As ``convlint sizes --format json`` writes it."""
        from analyzer.formatters.sizes import to_dict

        return to_dict(self.model, self.result)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_text(self, check: Sequence[int] = ()) -> str:
        from analyzer.formatters.sizes import render_text

        return render_text(self.model, self.result, list(check))


def sizes(
    source: Any,
    *,
    low: int = 1,
    high: int = 4096,
    input_shapes: Mapping[str, ShapeLike] | None = None,
    input_shape: ShapeLike | None = None,
    override_shape: bool = False,
) -> SizesReport:
    """Scan every size from ``low`` to ``high`` of each spatial axis (free dims together, as
    for square inputs; fixed ones one at a time), as ``convlint sizes`` does. Bounds outside
    1..MAX_SCAN_SIZE (analyzer.limits), or ``low > high``, are a ValueError, as the CLI's
    ``--min``/``--max`` are a usage error."""
    from analyzer.limits import MAX_SCAN_SIZE
    from analyzer.passes.sizes import scan_sizes

    for name, value in (("low", low), ("high", high)):
        if type(value) is not int or not 1 <= value <= MAX_SCAN_SIZE:
            raise ValueError(f"{name} must be an integer from 1 to {MAX_SCAN_SIZE:,}, got {value!r}")
    if low > high:
        raise ValueError(f"low {low} is larger than high {high}")
    model = load(source, input_sizes(input_shapes, input_shape, None, override_shape))
    with paused_gc():
        return SizesReport(model, scan_sizes(model, low, high))


def diff(
    old: Any,
    new: Any,
    *,
    input_shapes: Mapping[str, ShapeLike] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
    override_shape: bool = False,
    select: Iterable[str] | None = None,
    extend_select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    settings: Settings | None = None,
) -> DiffReport:
    """Compare two versions of a model (any kinds of source), both at the same what-if sizes:
    a :class:`DiffReport`."""
    return diff_sources(old, new, input_sizes(input_shapes, input_shape, batch, override_shape),
                        _settings(settings, select, extend_select, ignore))


def diff_sources(old: Any, new: Any, sizes: InputSizes, settings: Settings) -> DiffReport:
    """:func:`diff` of resolved sizes and settings (what the ``diff`` command runs)."""
    from analyzer.diff import diff_models

    with paused_gc():  # as in analyze: two graphs and reports of long-lived objects
        models = [load(source, sizes) for source in (old, new)]
        reports = [_report(model, settings) for model in models]
        return diff_models(models[0], reports[0], models[1], reports[1])


def __getattr__(name: str) -> Any:
    if name == "DiffReport":  # imported when asked for: analysing needs no diff
        from analyzer.diff import ModelDiff

        return ModelDiff
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

