"""The bounds convlint puts on what a file may ask of it, in one place.

Every model comes from somewhere else (a pull request, a download): sizes and counts read
from a file are checked against these before any work or allocation depends on them, so that
no input can make convlint hang, run out of memory or print a number no runtime could hold.
README.md ("Errors and exit codes") lists them with what happens beyond each.
"""

from __future__ import annotations

MAX_SPEC_BYTES = 64 * 2**20
"""A JSON spec is read up to this many bytes; a larger one is refused."""
MAX_NODES = 250_000
"""Nodes in one graph: analysed within 1 GiB of address space (a graph takes about 1.5 KiB a
node from file to report) in seconds; real CNNs have a few thousand."""
MAX_NODE_INPUTS = 100_000
"""Inputs (or outputs) of one node: a Concat of a few thousand tensors is large."""
MAX_FIELD_BYTES = 2**20
"""One name, dims list, attribute value or declared type in an ONNX file (weights and
long strings that convlint never reads are skipped whatever their size)."""
MAX_LIST_VALUES = 1_000_000
"""Numbers listed one by one in one tensor or attribute (dims, kernel_shape...)."""
MAX_RANK = 64
"""Dims of one tensor (numpy's limit; ONNX models use 8 at most in practice)."""
MAX_DIM = 2**40
"""One dimension: 1,099,511,627,776 (a 10^12-pixel input side is still counted)."""
MAX_SCAN_SIZE = 2**20
"""`convlint sizes --max`: 1,048,576 sizes per axis."""
MAX_PATTERNS = 1_000
"""Globs in one exclusion list, or in per-node-ignores, of a configuration file (a pull request
can change it)."""
MAX_CONFIG_BYTES = 2**20
"""A configuration file (convlint.toml, pyproject.toml): 1 MiB."""
MAX_PROBLEMS = 50
"""Problems listed for one unreadable file; the rest are counted."""
CHILD_SECONDS = 1
"""CPU seconds onnx shape inference may take in its child process, per model (it takes a
fifth of one on usual models, onnx's import included)..."""
CHILD_RESERVE = 2
"""...plus what is left of this reserve, in seconds, which the time children take past
CHILD_SECONDS uses up, per run (per worker process of `check`): one model may take 3 s, and
once slow models have spent it, each takes 1 s at most."""
CHILD_GRACE = 3
"""Wall-clock seconds it is given beyond that (start-up, a busy machine) before it is stopped."""
CHILD_MEMORY = 2 * 2**30
"""Address space of that child process (bytes)."""


def describe(limit: int) -> str:
    """A limit as people read it: ``2**40 = 1,099,511,627,776``."""
    if limit > 1 << 16 and limit & (limit - 1) == 0:
        return f"2**{limit.bit_length() - 1} = {limit:,}"
    return f"{limit:,}"
