"""PyTorch front end: an ``nn.Module`` -> ONNX in memory -> the common graph.

The module is exported once at the input shape asked for, by the TorchScript exporter,
without its weights: parameters and buffers become initializers that carry their dims (and
the values of small ones), so a large model costs what its graph costs. BatchNorm stays a
node of its own (the module is exported as in eval mode, without the inference-time folding
into the convolution), initializers are never merged by value, and nodes are named by the
module that made them. Every parameter is thus an initializer, and a Constant node a value
``forward`` computes (the model says so: ``stored_parameters``). The result is then
analysed like any ONNX file.

torch is imported here only, and only when a module is analysed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from analyzer.errors import InputError
from analyzer.frontends.inputs import InputSizes
from analyzer.graph import Model

INSTALL_HINT = "analysing a PyTorch module needs torch: pip install 'convlint[torch]'"
REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
"""``package.module:attribute``, as console scripts name their entry points."""
SMALL = 256
"""Parameters and buffers up to this many elements keep their values (shape computations)."""


def is_reference(text: str) -> bool:
    return bool(REFERENCE.match(text))


def is_module(value: Any) -> bool:
    """Whether ``value`` is a torch module, without importing torch for other values."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def require_torch(where: str) -> Any:
    try:
        import torch
    except ImportError:
        raise InputError.one(where, None, INSTALL_HINT) from None
    return torch


def resolve(reference: str) -> Any:
    """The module ``package.module:name`` names: an ``nn.Module``, a class of one, or a
    function building one (called without arguments). The working folder is importable, as
    with ``python -m``."""
    import importlib
    import sys

    torch = require_torch(reference)
    module_name, _, attribute = reference.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError.one(reference, None, f"cannot import {module_name}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise InputError.one(reference, None, f"{module_name} has no attribute {attribute}")
        found = getattr(found, part)
    if not isinstance(found, torch.nn.Module) and callable(found):
        found = found()
    if not isinstance(found, torch.nn.Module):
        raise InputError.one(reference, None, f"is a {type(found).__name__}, not a torch.nn.Module "
                             "(or a class or function making one)")
    return found


def load_module(module: Any, sizes: InputSizes, path: str | None = None) -> Model:
    """The graph of ``module`` run at ``sizes`` (every dim of each input, the batch included)."""
    torch = require_torch(path or type(module).__name__)
    path = path or f"{type(module).__module__}.{type(module).__qualname__}"
    names, shapes = _inputs(module, sizes, path)
    modes = {sub: sub.training for sub in module.modules()}
    calls: list[str] = []
    called: set[str] = set()
    try:
        module.eval()
        with _tracking(module, calls, called), torch.no_grad(), _composite_attention(torch):
            proto = _export(torch, module, names, shapes)
    except Exception as error:
        if not calls:
            raise InputError.one(path, None, f"the TorchScript ONNX exporter failed: {_one_line(error)}") from None
        return _failed(path, module, names, shapes, calls[-1], error)
    finally:
        for sub, training in modes.items():
            sub.training = training
    _weights_as_initializers(proto, module, len(names))
    _name_by_module(proto, module, called)
    from analyzer.frontends.onnx import build_graph

    model = build_graph(path, proto, InputSizes())
    model.name = type(module).__name__
    model.stored_parameters = True
    return model


def _inputs(module: Any, sizes: InputSizes, path: str) -> tuple[list[str], list[tuple[int, ...]]]:
    """The forward arguments to make, by name, and their shapes."""
    import inspect

    parameters = [
        p.name for p in inspect.signature(module.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ] or ["input"]
    given = dict(sizes.shapes)
    if "" in given:
        given[parameters[0]] = given.pop("")
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        raise InputError.one(path, None, f"--input-shape names {', '.join(unknown)}, but forward takes "
                             f"{', '.join(parameters)}")
    missing = [p for p in parameters if p not in given]
    if missing:
        raise InputError.one(path, None, f"a PyTorch module is analysed at the input shape it is given: add "
                             f"--input-shape {missing[0]}=1x3x224x224 (every dim, the batch included)")
    shapes = []
    for name in parameters:
        shape = given[name]
        if not all(isinstance(d, int) for d in shape):
            raise InputError.one(path, None, f"--input-shape for {name!r} must give every dim as a number, got "
                                 f"{'x'.join(map(str, shape))}")
        if sizes.batch is not None:
            shape = (sizes.batch, *shape[1:])
        shapes.append(tuple(shape))  # type: ignore[arg-type]
    return parameters, shapes


@contextmanager
def _tracking(module: Any, calls: list[str], called: set[str]) -> Iterator[None]:
    """Keep ``calls`` the stack of module names being run (the innermost last) and ``called``
    every module that ran. A hook that returned a value would replace the module's output."""
    def enter(name: str):
        def hook(_module: Any, _args: Any) -> None:
            calls.append(name)
            called.add(name)
        return hook

    def leave(_module: Any, _args: Any, _output: Any) -> None:
        calls.pop()

    handles = []
    for name, sub in module.named_modules():
        handles.append(sub.register_forward_pre_hook(enter(name)))
        handles.append(sub.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _composite_attention(torch: Any) -> Iterator[None]:
    """nn.MultiheadAttention and nn.TransformerEncoderLayer run a fused kernel in eval mode
    without gradients, which the exporter cannot write (aten::_native_multi_head_attention):
    their composite path meanwhile, the one training runs, which it can."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:  # torch before 2.1: no fast path to turn off
        yield
        return
    enabled = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(enabled)


def _export(torch: Any, module: Any, names: list[str], shapes: list[tuple[int, ...]]) -> Any:
    import io
    import warnings

    import onnx

    first = next(iter(module.parameters()), None)
    device = first.device if first is not None else "cpu"
    args = tuple(torch.zeros(shape, device=device) for shape in shapes)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice, folding hints
        torch.onnx.export(
            module, args, buffer, dynamo=False, input_names=names, export_params=False,
            # every parameter its own initializer (no merging of equal values), no folding:
            keep_initializers_as_inputs=True, do_constant_folding=False,
            # the module in eval mode, without the eval-time folding of BatchNorm into Conv:
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    return onnx.load_from_string(buffer.getvalue())


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _failed(path: str, module: Any, names: list[str], shapes: list[tuple[int, ...]], where: str,
            error: BaseException) -> Model:
    """A model with its inputs alone and the finding that the module cannot run at them."""
    from analyzer.builder import GraphBuilder
    from analyzer.graph import Tensor
    from analyzer.rules import MODULE_CANNOT_RUN

    builder = GraphBuilder(path, "onnx", type(module).__name__)
    for name, shape in zip(names, shapes):
        builder.add_tensor(Tensor(name, "input", shape))
    kind = type(module.get_submodule(where)).__name__
    inputs = ", ".join("x".join(map(str, s)) for s in shapes)
    builder.note(MODULE_CANNOT_RUN, where or None,
                 f"{kind}.forward fails at input {inputs}: {_one_line(error)}", None)
    model = builder.build()
    model.partial = True
    return model


def _weights_as_initializers(proto: Any, module: Any, inputs: int) -> None:
    """Graph inputs after the first ``inputs`` are parameters and buffers: make them
    initializers with their dims (the values of small ones, for shape computations)."""
    from onnx import TensorProto, numpy_helper

    tensors = {**dict(module.named_buffers()), **dict(module.named_parameters())}
    weights = list(proto.graph.input)[inputs:]
    del proto.graph.input[inputs:]
    for value_info in weights:
        tensor_type = value_info.type.tensor_type
        dims = [d.dim_value for d in tensor_type.shape.dim]
        found = tensors.get(value_info.name)
        if found is not None and found.numel() <= SMALL:
            initializer = numpy_helper.from_array(found.detach().cpu().numpy(), value_info.name)
        else:
            initializer = TensorProto(name=value_info.name, data_type=tensor_type.elem_type, dims=dims)
        proto.graph.initializer.append(initializer)


def _name_by_module(proto: Any, module: Any, called: set[str]) -> None:
    """``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``: the module's qualified name when
    it made this one node, ``name/Op`` for each node of a module that made several (or that
    has children), the exporter's name for nodes made by the top module's forward."""
    paths = _scope_paths(module, called)
    leaves = {name for name, sub in module.named_modules() if not any(True for _ in sub.children())}
    parsed = []
    for node in proto.graph.node:
        parts = node.name.strip("/").split("/")
        parsed.append((node, parts[:-1], parts[-1]))
    per_scope: dict[tuple[str, ...], int] = {}
    for _, scope, _ in parsed:
        per_scope[tuple(scope)] = per_scope.get(tuple(scope), 0) + 1
    for node, scope, op in parsed:
        if not scope:
            node.name = op
            continue
        path = _module_path(scope, paths) or ".".join(scope)
        alone = per_scope[tuple(scope)] == 1 and re.sub(r"_\d+$", "", path) in leaves
        node.name = path if alone else f"{path}/{op}"


def _scope_paths(module: Any, called: set[str]) -> dict[str, str]:
    """The exporter's scope of each module that ran (``layer1/layer1.0/conv1``) -> its name.
    A scope has a part per running ancestor: its attribute name, or for a numbered child
    (a Sequential's) its parent's part, a dot, and the number."""
    parts: dict[str, str] = {"": ""}
    scopes: dict[str, str] = {"": ""}
    found = {}
    for name, _ in module.named_modules():
        if not name:
            continue
        parent, _, attribute = name.rpartition(".")
        parts[name] = f"{parts[parent]}.{attribute}" if attribute.isdigit() and parts[parent] else attribute
        ancestor = parent
        while ancestor and ancestor not in called:
            ancestor = ancestor.rpartition(".")[0]
        scopes[name] = f"{scopes[ancestor]}/{parts[name]}" if scopes.get(ancestor) else parts[name]
        if name in called:
            found[scopes[name]] = name
    return found


def _module_path(scope: Sequence[str], paths: Mapping[str, str]) -> str | None:
    """The module a scope names; a module run a second time gets the exporter's suffix (``relu_1``)."""
    key = "/".join(scope)
    if key in paths:
        return paths[key]
    base = re.sub(r"_\d+$", "", scope[-1])
    found = paths.get("/".join([*scope[:-1], base]))
    return found + scope[-1][len(base):] if found else None

