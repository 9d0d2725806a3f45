"""convlint's performance against the usual ways of reading an ONNX model, in one run.

    python benchmarks/run.py [--workdir /tmp/convlint-bench] [--repeat 5]

Generates its models (benchmarks/models.py: VGG-16- and ResNet-50-like networks with random
weights of the real sizes, synthetic conv/relu/add chains of 1k, 10k and 50k nodes), then
measures, each case in a fresh process so that peak memory is its own:

- convlint in-process: load + every pass + the report (``analyze_path``);
- baselines: protobuf parse of the file, ``onnx.load``, a naive networkx walk (``onnx.load``,
  a DiGraph of the nodes, a topological sort), ``onnx.shape_inference.infer_shapes``, and
  onnxruntime's symbolic shape inference and onnx-tool when they are installed;
- whole processes: ``convlint analyze MODEL --format json`` against
  ``python -c "import onnx; onnx.load(MODEL)"``, and ``convlint --help``;
- ``convlint sizes`` over 1..4096 on the ResNet-50-like graph;
- the text report against the JSON report, whole processes on the 1k, 10k and 50k chains
  (output to a pipe, so at its default width of 80 columns); ``--text-only`` runs just this.

Prints a Markdown table of medians, ratios against the baseline measured in the same run, and
peak RSS (a case over 5 s is run once). Nothing here is a unit test: timings vary with the
machine. The optional baselines come with ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES = {
    "convlint": """
from analyzer.api import analyze_path
report = analyze_path(PATH)
""",
    "protobuf parse": """
import onnx
model = onnx.ModelProto()
model.ParseFromString(open(PATH, "rb").read())
""",
    "onnx.load": """
import onnx
onnx.load(PATH)
""",
    "networkx walk": """
import onnx
import networkx as nx
model = onnx.load(PATH)
graph = nx.DiGraph()
producer = {o: n.name for n in model.graph.node for o in n.output}
for n in model.graph.node:
    graph.add_node(n.name, op=n.op_type)
    graph.add_edges_from((producer[i], n.name) for i in n.input if i in producer)
order = list(nx.topological_sort(graph))
""",
    "onnx infer_shapes": """
import onnx
onnx.shape_inference.infer_shapes(onnx.load(PATH))
""",
    "onnxruntime symbolic": """
import onnx
from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
SymbolicShapeInference.infer_shapes(onnx.load(PATH))
""",
    "onnx-tool": """
import onnx_tool
model = onnx_tool.Model(PATH)
model.graph.shape_infer()
model.graph.profile()
""",
}

MEASURE = """
import resource, sys, time
PATH = sys.argv[1]
{imports}
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


SLOW = 5.0
"""Seconds: a case that takes longer is run once instead of ``--repeat`` times."""
TIMEOUT = 600.0
"""Seconds: a case still running after this is reported as failed."""


def available(module: str) -> bool:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, check=False)
    return done.returncode == 0


def in_process(case: str, path: Path, repeat: int) -> tuple[float, float] | None:
    """Median seconds of the work (modules imported before the clock starts) and peak RSS MiB."""
    body = CASES[case].strip().splitlines()
    imports = "\n".join(line for line in body if line.startswith(("import ", "from ")))
    work = "\n".join(line for line in body if not line.startswith(("import ", "from ")))
    if case == "convlint":
        imports += "\nimport analyzer.frontends.onnx, analyzer.passes, analyzer.report.build, analyzer.ops\nanalyzer.ops._load()"
    script = MEASURE.format(imports=imports, body=work)
    times, peaks = [], []
    for _ in range(repeat):
        try:
            done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                                  check=False, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            return None
        seconds, rss = done.stdout.split()
        times.append(float(seconds))
        peaks.append(int(rss) / 1024)
        if times[0] > SLOW:
            break  # a slow baseline: one run says enough, and five would take minutes
    return statistics.median(times), max(peaks)


def whole_process(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def text_against_json(models: dict[str, Path], repeat: int) -> list[str]:
    """Rows of a Markdown table: whole-process medians of the text and JSON reports per chain,
    the two run in turns so that the machine's other load weighs on both alike."""
    convlint = [sys.executable, "-m", "analyzer", "analyze"]
    rows = []
    for name in ("chain1k", "chain10k", "chain50k"):
        path = str(models[name])
        times: dict[str, list[float]] = {"json": [], "text": []}
        for _ in range(repeat):
            for format in times:
                times[format].append(whole_process([*convlint, path, "--format", format], 1))
        json_time, text_time = (statistics.median(times[f]) for f in ("json", "text"))
        rows.append(f"| {name} | {json_time:.3f} s | {text_time:.3f} s | {text_time / json_time:.2f}x |")
    return rows


def print_text_against_json(rows: list[str]) -> None:
    print("| whole process | `--format json` | `--format text` | text / JSON |")
    print("| --- | ---: | ---: | ---: |")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/convlint-bench"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--text-only", action="store_true", help="Only the text report against the JSON report.")
    args = parser.parse_args()
    from models import generate

    models = generate(args.workdir)
    if args.text_only:
        print_text_against_json(text_against_json(models, args.repeat))
        return
    cases = [c for c in CASES if c in ("convlint", "protobuf parse", "onnx.load", "networkx walk", "onnx infer_shapes")]
    if available("onnxruntime.tools.symbolic_shape_infer"):
        cases.append("onnxruntime symbolic")
    if available("onnx_tool"):
        cases.append("onnx-tool")

    rows = []
    results: dict[str, dict[str, tuple[float, float] | None]] = {}
    for name, path in models.items():
        results[name] = {case: in_process(case, path, args.repeat) for case in cases}
        base = results[name]["protobuf parse"]
        for case in cases:
            found = results[name][case]
            if found is None:
                rows.append(f"| {name} | {case} | failed or timed out | | |")
                continue
            ratio = f"{found[0] / base[0]:.2f}x" if base else ""
            rows.append(f"| {name} ({path.stat().st_size / 2**20:.0f} MB) | {case} | {found[0]:.3f} s | {ratio} | {found[1]:.0f} MiB |")

    convlint = [sys.executable, "-m", "analyzer"]
    resnet = str(models["resnet50"])
    process_rows = [
        ("convlint analyze resnet50.onnx --format json", whole_process([*convlint, "analyze", resnet, "--format", "json"], args.repeat)),
        ('python -c "import onnx; onnx.load(resnet50.onnx)"',
         whole_process([sys.executable, "-c", f"import onnx; onnx.load({resnet!r})"], args.repeat)),
        ("convlint --help", whole_process([*convlint, "--help"], args.repeat)),
        ("convlint sizes resnet50.onnx (1..4096)", whole_process([*convlint, "sizes", resnet, "--format", "json"], args.repeat)),
    ]
    text_rows = text_against_json(models, args.repeat)

    print(f"convlint benchmarks, {date.today().isoformat()}, Python {platform.python_version()}, "
          f"{platform.machine()}, {_cores()} cores")
    print()
    print("| model | reader | median | vs protobuf parse | peak RSS |")
    print("| --- | --- | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print("| whole process | median |")
    print("| --- | ---: |")
    for label, seconds in process_rows:
        print(f"| `{label}` | {seconds:.3f} s |")
    print()
    print_text_against_json(text_rows)
    print()
    for case in ("convlint", "networkx walk", "protobuf parse"):
        chain10, chain50 = results["chain10k"][case], results["chain50k"][case]
        if chain10 and chain50:
            print(f"{case} 10k -> 50k nodes: {chain50[0] / chain10[0]:.2f}x the time for 5x the nodes  ")
    print(json.dumps({"whole_process": dict(process_rows)}), file=sys.stderr)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
