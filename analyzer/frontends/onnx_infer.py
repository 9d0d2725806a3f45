"""onnx shape inference for the ops convlint does not model, run in a child process.

onnx's shape inference is native code, and crafted models make it crash (SIGSEGV, SIGABRT),
exhaust memory, or run for ever (model-local functions calling each other twice per level
expand 2**39 times). It never runs in convlint's own process: a child gets the model's
structure (no weights) on its standard input, under a wall-clock limit and an address-space
limit, and answers with the shapes it found as JSON. Whatever happens to the child is said
as a finding (U105) and the analysis goes on with those shapes unknown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from analyzer.graph import Shape
from analyzer.limits import CHILD_GRACE, CHILD_MEMORY, CHILD_RESERVE, CHILD_SECONDS

_CHILD = r"""
import json, resource, sys
limit, seconds = int(sys.argv[1]), int(sys.argv[2])
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
if hard != resource.RLIM_INFINITY:
    limit = min(limit, hard)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
data = sys.stdin.buffer.read()
size = int.from_bytes(data[:8], "little")
wanted = set(json.loads(data[8:8 + size]))
import onnx
model = onnx.ModelProto()
model.ParseFromString(data[8 + size:])
inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
text = lambda s: s.decode("utf-8", "replace") if isinstance(s, bytes) else s
found = {}
for value in (*inferred.graph.value_info, *inferred.graph.output):
    name = text(value.name)
    if name not in wanted or not value.type.HasField("tensor_type"):
        continue
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        continue
    found[name] = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                   else text(d.dim_param) if d.HasField("dim_param") and d.dim_param else None
                   for d in tensor.shape.dim]
sys.stdout.write(json.dumps(found))
"""


@dataclass
class Inferred:
    """What the child found: output shapes by tensor name, or why it found nothing."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    failure: str | None = None


_reserve = float(CHILD_RESERVE)
"""Seconds this process (a run, or one worker of `check`) can still lend children past
CHILD_SECONDS: a few slow models cannot add up to minutes, while any number of models whose
inference takes the usual fraction of a second never draw on it."""


def infer_in_child(model: bytes, wanted: list[str], seconds: int | None = None,
                   memory: int = CHILD_MEMORY) -> Inferred:
    """Run onnx shape inference on ``model`` (serialised ModelProto) in a child process and
    return the shapes of the ``wanted`` tensors it could infer.

    The child may use ``seconds`` of CPU time (the kernel stops it: SIGXCPU), which a busy
    machine does not shorten; the wall clock allows a little more, for a child that waits. By
    default that is CHILD_SECONDS plus what is left of the run's CHILD_RESERVE, which the time
    the child then takes past CHILD_SECONDS uses up."""
    global _reserve
    limit = seconds if seconds is not None else CHILD_SECONDS + int(_reserve)
    started = time.monotonic()
    try:
        return _run_child(model, wanted, limit, memory)
    finally:
        if seconds is None:
            _reserve = max(0.0, _reserve - max(0.0, time.monotonic() - started - CHILD_SECONDS))


def _run_child(model: bytes, wanted: list[str], seconds: int, memory: int) -> Inferred:
    header = json.dumps(wanted).encode()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, str(memory), str(seconds)],
            input=len(header).to_bytes(8, "little") + header + model,
            capture_output=True, timeout=seconds + CHILD_GRACE, env=environment, check=False,
        )
    except subprocess.TimeoutExpired:
        return Inferred(failure=f"did not finish within {seconds + CHILD_GRACE:g} s (stopped)")
    except OSError as error:
        return Inferred(failure=f"could not be started ({error.strerror or error})")
    if done.returncode == -signal.SIGXCPU:
        return Inferred(failure=f"did not finish within {seconds} s of CPU time (stopped)")
    if done.returncode < 0:
        return Inferred(failure=f"crashed ({_signal_name(-done.returncode)})")
    if done.returncode != 0:
        return Inferred(failure=_error_line(done.stderr, memory))
    try:
        found = json.loads(done.stdout)
    except ValueError:
        return Inferred(failure="answered something that is not JSON")
    return Inferred(shapes=_shapes(found, set(wanted)))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _error_line(stderr: bytes, memory: int) -> str:
    """The child's own error, in one line (its last line names the exception)."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    last = lines[-1].strip() if lines else ""
    if "MemoryError" in last or "bad_alloc" in stderr.decode("utf-8", "replace"):
        return f"ran out of memory ({memory // 2**30} GiB limit)"
    if len(last) > 200:
        last = last[:199] + "…"
    return f"failed: {last}" if last else "failed"


def _shapes(found: object, wanted: set[str]) -> dict[str, Shape]:
    """The child's answer, checked as any other file content is: it came from the model."""
    from analyzer.limits import MAX_DIM, MAX_RANK

    shapes: dict[str, Shape] = {}
    if not isinstance(found, dict):
        return shapes
    for name, dims in found.items():
        if name not in wanted or not isinstance(dims, list) or len(dims) > MAX_RANK:
            continue
        if all(d is None or isinstance(d, str) or (type(d) is int and 0 < d <= MAX_DIM) for d in dims):
            shapes[name] = tuple(dims)
    return shapes
