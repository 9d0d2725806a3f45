"""convlint's performance against the usual ways of reading an ONNX model, in one run.

    python benchmarks/run.py [--workdir /tmp/convlint-bench] [--repeat 5] [--text-only]

Generates its models (benchmarks/models.py: VGG-16-, ResNet-50- and MobileNetV2-like networks
with random weights of the real sizes, conv/relu/add chains and issue 16's residual graphs of
1k, 10k and 50k nodes, Inception- and DenseNet-style branch-heavy graphs, a ten-layer spec
and a folder of 100 small models), then measures, each case in a fresh process so that peak
memory is its own:

- in-process, per model: convlint (load + every pass + the report, ``analyze_path``) and the
  baselines: protobuf parse of the file, ``onnx.load``, a naive networkx walk (``onnx.load``,
  a DiGraph of the nodes, a topological sort), ``onnx.shape_inference.infer_shapes``, and
  onnxruntime's symbolic shape inference and onnx-tool when they are installed (skipped past
  10k nodes: minutes each);
- whole processes, each beside its yardstick and run in turns with it, so that the machine's
  other load weighs on both alike: ``convlint analyze MODEL --format json`` against
  ``onnx.load`` + ``infer_shapes`` (the residual graph, MobileNetV2) or ``onnx.load``
  (ResNet-50, VGG-16, with peak RSS), the ten-layer spec, ``--help`` and ``--version``
  against ``python -c pass``, ``convlint check`` over the 100 small models (per model), and
  ``convlint sizes`` over 1..4096 on the ResNet-50-like graph;
- growth: from 10k to 50k nodes (chain, residual), and for the branch-heavy graphs against
  their nodes + edges;
- the text report against the JSON report, whole processes on the 1k, 10k and 50k chains
  (output to a pipe, so at its default width of 80 columns); ``--text-only`` runs just this.

Prints Markdown tables of medians, ratios against the yardstick measured in the same run, and
peak RSS (a case over 5 s is run once). Child processes may write bytecode caches (a
PYTHONDONTWRITEBYTECODE in the environment is dropped for them: installed packages have
theirs), and each command runs once before it is timed. Nothing here is a unit test: timings
vary with the machine. The optional baselines come with ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
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
OPTIONAL = ("onnxruntime symbolic", "onnx-tool")
OPTIONAL_MAX_NODES = 10_000
"""Past this many nodes the optional baselines take minutes (onnx-tool: 150 s on chain50k)."""

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
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
"""Children may write bytecode caches: compiling convlint's modules at every start is no cost
of an installed convlint."""

LAUNCHER = r"""
import json, os, subprocess, sys, threading, time
commands, repeat, warm, capture, env, slow, timeout = json.load(sys.stdin)
results = [[] for _ in commands]
for turn in range(-1 if warm else 0, repeat):
    for command, found in zip(commands, results):
        if len(found) == 1 and found[0][0] > slow:
            continue
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=env)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        out = process.stdout.read() if capture else b""
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
        if turn >= 0:
            found.append([time.perf_counter() - start, usage.ru_maxrss / 1024, status, out.decode()])
json.dump(results, sys.stdout)
"""
"""Starts the measured processes: a process's peak RSS counts the memory of the one that
forked it, so they are forked from this small one (python -S), never from the benchmark."""


def launch(commands: list[list[str]], repeat: int, warm: bool = True, capture: bool = False) -> list[list[tuple]]:
    """Per command, per run: (seconds, peak RSS MiB, wait status, standard output). The
    commands run in turns, after one untimed run each when ``warm`` (bytecode caches, the file
    system's cache), so that the machine's other load weighs on all alike; a command slower
    than SLOW runs once."""
    request = json.dumps([commands, repeat, warm, capture, ENV, SLOW, TIMEOUT])
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER], input=request, capture_output=True, text=True,
                          check=True)
    return [[tuple(run) for run in runs] for runs in json.loads(done.stdout)]


def available(module: str) -> bool:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, check=False, env=ENV)
    return done.returncode == 0


def in_process(case: str, path: Path, repeat: int) -> tuple[float, float] | None:
    """Median seconds of the work (modules imported before the clock starts) and peak RSS MiB."""
    body = CASES[case].strip().splitlines()
    imports = "\n".join(line for line in body if line.startswith(("import ", "from ")))
    work = "\n".join(line for line in body if not line.startswith(("import ", "from ")))
    if case == "convlint":
        imports += "\nimport analyzer.frontends.onnx, analyzer.passes, analyzer.report.build, analyzer.ops\nanalyzer.ops._load()"
    script = MEASURE.format(imports=imports, body=work)
    (runs,) = launch([[sys.executable, "-c", script, str(path)]], repeat, warm=False, capture=True)
    if any(status != 0 for _, _, status, _ in runs):
        return None
    measured = [out.split() for _, _, _, out in runs]
    return statistics.median(float(seconds) for seconds, _ in measured), max(int(rss) / 1024 for _, rss in measured)


def in_turns(commands: list[list[str]], repeat: int) -> list[tuple[float, float]]:
    """Median seconds and peak RSS MiB of each command, run in turns (see launch)."""
    return [(statistics.median(s for s, _, _, _ in runs), max(m for _, m, _, _ in runs))
            for runs in launch(commands, repeat)]


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _load_and_infer(path: Path) -> list[str]:
    """The yardstick of a whole-process JSON report: onnx.load + onnx.shape_inference."""
    return _python(f"import onnx; onnx.shape_inference.infer_shapes(onnx.load({str(path)!r}))")


def _json_report(path: Path) -> list[str]:
    return [sys.executable, "-m", "analyzer", "analyze", str(path), "-f", "json"]


def whole_processes(models: dict[str, Path], repeat: int) -> list[str]:
    """Rows of a Markdown table: each convlint command beside its yardstick, run in turns."""
    convlint = [sys.executable, "-m", "analyzer"]

    def load(path: Path) -> list[str]:
        return _python(f"import onnx; onnx.load({str(path)!r})")

    small = models["small"]
    count = sum(1 for _ in small.iterdir())
    pairs = [
        ("convlint analyze residual50k.onnx --format json", _json_report(models["residual50k"]),
         "onnx.load + infer_shapes", _load_and_infer(models["residual50k"]), 1),
        ("convlint analyze mobilenet_v2.onnx --format json", _json_report(models["mobilenet_v2"]),
         "onnx.load + infer_shapes", _load_and_infer(models["mobilenet_v2"]), 1),
        ("convlint analyze resnet50.onnx --format json", _json_report(models["resnet50"]),
         "onnx.load", load(models["resnet50"]), 1),
        ("convlint analyze vgg16.onnx --format json", _json_report(models["vgg16"]),
         "onnx.load", load(models["vgg16"]), 1),
        ("convlint analyze ten_layers.json", [*convlint, "analyze", str(models["ten_layers"])],
         "python -c pass", _python("pass"), 1),
        ("convlint --help", [*convlint, "--help"], "python -c pass", _python("pass"), 1),
        ("convlint --version", [*convlint, "--version"], "python -c pass", _python("pass"), 1),
        (f"convlint check (per model, {count} small models)", [*convlint, "check", str(small)],
         "python -c pass", _python("pass"), count),
        ("convlint sizes resnet50.onnx (1..4096)", [*convlint, "sizes", str(models["resnet50"]), "-f", "json"],
         "python -c pass", _python("pass"), 1),
    ]
    rows = []
    for label, command, yardstick, baseline, per in pairs:
        (ours, ours_rss), (theirs, theirs_rss) = in_turns([command, baseline], repeat)
        rows.append(f"| `{label}` | {ours / per:.3f} s | {ours_rss:.0f} MiB | {yardstick} | {theirs:.3f} s "
                    f"| {theirs_rss:.0f} MiB | {ours / per / theirs:.2f}x |")
    return rows


def against_the_floor(path: Path, repeat: int) -> str:
    """convlint's JSON report of the residual graph beside the least a Python program does to
    write its node lines (benchmarks/floor.py) and the yardstick, run in turns; the floor's
    lines are first checked to be convlint's."""
    convlint = _json_report(path)
    floor = [sys.executable, str(HERE / "floor.py"), str(path)]
    (ours,), (bare,) = launch([convlint, floor], 1, warm=False, capture=True)
    node_lines = [json.dumps(node, ensure_ascii=False) for node in json.loads(ours[3])["nodes"]]
    if node_lines != bare[3].splitlines():
        raise SystemExit("benchmarks/floor.py does not write convlint's node lines: no floor to compare with")
    yardstick = _load_and_infer(path)
    (ours_time, _), (bare_time, _), (theirs, _) = in_turns([convlint, floor, yardstick], repeat)
    return (f"{path.stem}, whole processes in turns: `convlint analyze --format json` {ours_time:.3f} s "
            f"({ours_time / theirs:.2f}x), benchmarks/floor.py (the same node lines, nothing else) "
            f"{bare_time:.3f} s ({bare_time / theirs:.2f}x), onnx.load + infer_shapes {theirs:.3f} s")


def real_exports(workdir: Path, repeat: int) -> tuple[list[str], str]:
    """Rows of a Markdown table and a summary line: each torchvision export the tests use
    (tests/data/torchvision, both torch exporters; weight payloads removed, which spares
    the yardstick's onnx.load their reading), ``convlint analyze --format json`` and
    ``onnx.load`` + ``infer_shapes`` in turns."""
    folder = workdir / "torchvision"
    folder.mkdir(parents=True, exist_ok=True)
    rows, ratios = [], []
    for packed in sorted((HERE.parent / "tests" / "data" / "torchvision").glob("*.onnx.gz")):
        path = folder / packed.name.removesuffix(".gz")
        if not path.exists():
            path.write_bytes(gzip.decompress(packed.read_bytes()))
        (ours, _), (theirs, _) = in_turns([_json_report(path), _load_and_infer(path)], repeat)
        ratios.append(ours / theirs)
        rows.append(f"| {path.stem} | {ours:.3f} s | {theirs:.3f} s | {ours / theirs:.2f}x |")
    summary = (f"{len(ratios)} torchvision exports: median {statistics.median(ratios):.2f}x of onnx.load + "
               f"infer_shapes, from {min(ratios):.2f}x to {max(ratios):.2f}x; convlint faster on "
               f"{sum(r < 1 for r in ratios)} of {len(ratios)}")
    return rows, summary


def text_against_json(models: dict[str, Path], repeat: int) -> list[str]:
    """Rows of a Markdown table: whole-process medians of the text and JSON reports per chain,
    the two run in turns so that the machine's other load weighs on both alike."""
    convlint = [sys.executable, "-m", "analyzer", "analyze"]
    rows = []
    for name in ("chain1k", "chain10k", "chain50k"):
        path = str(models[name])
        (json_time, _), (text_time, _) = in_turns([[*convlint, path, "--format", format] for format in ("json", "text")],
                                                  repeat)
        rows.append(f"| {name} | {json_time:.3f} s | {text_time:.3f} s | {text_time / json_time:.2f}x |")
    return rows


def print_text_against_json(rows: list[str]) -> None:
    print("| whole process | `--format json` | `--format text` | text / JSON |")
    print("| --- | ---: | ---: | ---: |")
    print("\n".join(rows))


def nodes_and_edges(path: Path) -> tuple[int, int]:
    """The node count and the edges between nodes (a node's inputs that another node makes),
    read by convlint's slim reader (onnx.load would read VGG-16's weights)."""
    from analyzer.frontends.onnx import read_model

    with open(path, "rb") as file:
        graph = read_model(str(path), file)[0].graph
    produced = {o for n in graph.node for o in n.output}
    return len(graph.node), sum(1 for n in graph.node for i in n.input if i in produced)


def growth(results: dict[str, dict[str, tuple[float, float] | None]], sizes: dict[str, tuple[int, int]]) -> list[str]:
    lines = []
    for family in ("chain", "residual"):
        for case in ("convlint", "networkx walk", "protobuf parse"):
            small, large = results[f"{family}10k"].get(case), results[f"{family}50k"].get(case)
            if small and large:
                lines.append(f"{family}, {case}: 10k -> 50k nodes, {large[0] / small[0]:.2f}x the time for 5x the nodes")
    for small_name, large_name in (("inception200", "inception1000"), ("densenet50", "densenet250")):
        small, large = results[small_name].get("convlint"), results[large_name].get("convlint")
        if small and large:
            (n0, e0), (n1, e1) = sizes[small_name], sizes[large_name]
            lines.append(f"{small_name} -> {large_name}, convlint: {large[0] / small[0]:.2f}x the time for "
                         f"{(n1 + e1) / (n0 + e0):.2f}x the nodes + edges ({n0:,} + {e0:,} -> {n1:,} + {e1:,})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/convlint-bench"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--text-only", action="store_true", help="Only the text report against the JSON report.")
    args = parser.parse_args()
    from models import generate, small_models, ten_layer_spec

    models = generate(args.workdir)
    if args.text_only:
        print_text_against_json(text_against_json(models, args.repeat))
        return
    small = args.workdir / "small"
    models_folder = small if small.is_dir() and any(small.iterdir()) else small_models(small)
    spec = ten_layer_spec(args.workdir)
    cases = [c for c in CASES if c in ("convlint", "protobuf parse", "onnx.load", "networkx walk", "onnx infer_shapes")]
    cases += [c for c, module in zip(OPTIONAL, ("onnxruntime.tools.symbolic_shape_infer", "onnx_tool")) if available(module)]

    rows = []
    results: dict[str, dict[str, tuple[float, float] | None]] = {}
    sizes = {name: nodes_and_edges(path) for name, path in models.items()}
    for name, path in models.items():
        nodes, _ = sizes[name]
        chosen = [c for c in cases if c not in OPTIONAL or nodes <= OPTIONAL_MAX_NODES]
        results[name] = {case: in_process(case, path, args.repeat) for case in chosen}
        base = results[name]["protobuf parse"]
        for case in chosen:
            found = results[name][case]
            if found is None:
                rows.append(f"| {name} | {case} | failed or timed out | | |")
                continue
            ratio = f"{found[0] / base[0]:.2f}x" if base else ""
            rows.append(f"| {name} ({path.stat().st_size / 2**20:.0f} MB) | {case} | {found[0]:.3f} s | {ratio} | {found[1]:.0f} MiB |")

    process_rows = whole_processes({**models, "small": models_folder, "ten_layers": spec}, args.repeat)
    floor_line = against_the_floor(models["residual50k"], args.repeat)
    export_rows, export_summary = real_exports(args.workdir, args.repeat)
    text_rows = text_against_json(models, args.repeat)

    print(f"convlint benchmarks, {date.today().isoformat()}, Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count() or 1} cores")
    print()
    print("| model | reader | median | vs protobuf parse | peak RSS |")
    print("| --- | --- | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print("| whole process | convlint | peak RSS | yardstick | yardstick | peak RSS | ratio |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    print("\n".join(process_rows))
    print()
    print(floor_line)
    print()
    print("| torchvision export | `convlint analyze --format json` | onnx.load + infer_shapes | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print("\n".join(export_rows))
    print()
    print(export_summary)
    print()
    print_text_against_json(text_rows)
    print()
    print("  \n".join(growth(results, sizes)))


if __name__ == "__main__":
    main()
