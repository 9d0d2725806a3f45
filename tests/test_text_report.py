"""The text report as people read it (issue 15): figures never cut at any width, the terminal's
width and colour (NO_COLOR, --color), readable totals (--exact), constant rows hidden
(--all-nodes), --summary, --depth, and its speed against the JSON report.

The truths: the JSON report's own integers (the text must show each of them whole), PyTorch
(torchvision's published parameter and operation counts, module names and output shapes),
the ONNX graph read with onnx (which nodes compute from constants only), and a real pseudo
terminal for what a terminal gets."""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import struct
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import onnx
import pytest
from conftest import ROOT, SAMPLES
from onnx import TensorProto, helper

from analyzer.api import analyze

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
TORCHVISION = ROOT / "tests" / "data" / "torchvision"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def convlint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**environment, **(env or {})}, check=False)


def unpacked(path: Path, folder: Path) -> Path:
    target = folder / path.name.removesuffix(".gz")
    target.write_bytes(gzip.decompress(path.read_bytes()))
    return target


def display_width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(text: str) -> list[str]:
    """The lines of the per-node table: from the rule under the header to the first blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─"))
    end = lines.index("", start)
    return lines[start + 1:end]


def shown_nodes(report: dict) -> list[dict]:
    """The nodes the table shows by default: those computing from an input, or with findings."""
    reached = {i["name"] for i in report["inputs"]}
    flagged = {d["node"] for d in report["diagnostics"]}
    kept = []
    for node in report["nodes"]:
        if reached.intersection(node["inputs"]) or node["name"] in flagged:
            kept.append(node)
            reached.update(o["name"] for o in node["outputs"])
    return kept


def figures(node: dict) -> tuple[str, str, str]:
    """(output shape, params, MACs) as the text must show them, whole."""
    shape = node["outputs"][0]["shape"]
    text = "?" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"
    count = lambda v: "?" if v is None else f"{v:,}"  # noqa: E731
    return text, count(node["params"]), count(node["macs"])


# -- 2. figures are never cut; names wrap; --width ---------------------------------------------
@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "seed": SAMPLES / "seed.json",
        "tiny_resnet": SAMPLES / "tiny_resnet.onnx",
        "unet": SAMPLES / "unet.json",  # fields that differ by unit: 188..204x188..204
        "efficientnet_b0": unpacked(TORCHVISION / "efficientnet_b0.ts.onnx.gz", folder),  # 73-character names
        "vgg16": SAMPLES / "vgg16.json",  # 102,764,544 params in one row
    }


@pytest.mark.parametrize("width", [30, 60, 80, 100, 160, 0])
@pytest.mark.parametrize("name", ["seed", "tiny_resnet", "unet", "efficientnet_b0", "vgg16"])
def test_every_figure_is_whole_at_every_width(models, name, width):
    path = str(models[name])
    report = json.loads(convlint("analyze", path, "-f", "json").stdout)
    text = convlint("analyze", path, "--width", str(width)).stdout
    lines = table(text)
    position = 0
    for node in shown_nodes(report):
        shape, params, macs = figures(node)
        while not (lines[position].split()[-2:] == [params, macs] and shape in lines[position]):
            position += 1  # IndexError: this node's figures are not shown whole, in order
        if node["name"] not in lines[position]:  # on a line of its own, just above
            assert lines[position - 1] == node["name"]
        position += 1
    if width == 0:
        assert all(node["name"] in text for node in shown_nodes(report))


@pytest.mark.parametrize(("name", "width"), [("tiny_resnet", 80), ("tiny_resnet", 66), ("efficientnet_b0", 80),
                                             ("unet", 90), ("vgg16", 80)])
def test_the_table_fits_the_width_when_its_figures_do(models, name, width):
    lines = table(convlint("analyze", str(models[name]), "--width", str(width)).stdout)
    assert max(display_width(line) for line in lines) <= width


def test_names_wrap_instead_of_pushing_figures_off(models):
    lines = table(convlint("analyze", str(models["tiny_resnet"]), "--width", "80").stdout)
    assert "stage2.down.conv" in lines  # a line of its own: longer than the name column
    assert not [line for line in lines if "…" in line.split("  ")[0]]  # names are never cut


def test_piped_output_is_80_columns_unless_columns_says_otherwise(models):
    piped = table(convlint("analyze", str(models["efficientnet_b0"])).stdout)
    assert max(map(display_width, piped)) <= 80
    wide = table(convlint("analyze", str(models["efficientnet_b0"]), env={"COLUMNS": "200"}).stdout)
    assert re.search(r"^/features/features.0/features.0.0/Conv +Conv +\(N, 32, 112, 112\)", "\n".join(wide), re.M)


# -- 3. colour ------------------------------------------------------------------------------------
def on_a_terminal(*args: str, env: dict[str, str] | None = None, columns: int = 100) -> str:
    """What convlint writes to a pseudo terminal ``columns`` wide."""
    import fcntl
    import termios

    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "TERM")}
    process = subprocess.Popen([sys.executable, "-m", "analyzer", *args], stdout=secondary, stderr=subprocess.DEVNULL,
                               cwd=ROOT, env={**environment, "TERM": "xterm", **(env or {})})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_terminal_gets_colour_and_its_width():
    text = on_a_terminal("analyze", "samples/tiny_resnet.onnx", columns=100)
    (gap,) = [line for line in text.splitlines() if SGR.sub("", line).startswith("gap ")]
    assert gap.startswith("\x1b[33m") and gap.endswith("\x1b[0m")  # yellow: its finding is a warning
    assert "\x1b[33mwarning[D104]\x1b[0m gap" in text
    assert "stage2.down.conv  " in text  # 100 columns: no name needs a line of its own


@pytest.mark.parametrize(("args", "env"), [((), {"NO_COLOR": "1"}), (("--color", "never"), {}), ((), {"TERM": "dumb"})])
def test_no_colour_when_asked_not_to(args, env):
    text = on_a_terminal("analyze", "samples/tiny_resnet.onnx", *args, env=env)
    assert "D104" in text and "\x1b" not in text


def test_colour_always_even_into_a_pipe():
    text = convlint("analyze", "samples/seed.json", "--color", "always", env={"NO_COLOR": "1"}).stdout
    assert "\x1b[33mwarning[F101]\x1b[0m conv1" in text


# -- hostile names: escaped in the text report, with colour or without ----------------------------
HOSTILE = ["\x1b[2Jcleared", "two\nlines", "[bold red]markup[/]", "長いノードの名前です", "a`b|c<img src=x onerror=alert(1)>",
           "::error::forged"]


def hostile_model(tmp_path: Path) -> Path:
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"], name=name)
             for i, name in enumerate(HOSTILE)]
    graph = helper.make_graph(nodes, "hostile\x1b]0;title\x07", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N\x1b[31m", 3, 8, 8])], [helper.make_tensor_value_info(f"t{len(HOSTILE) - 1}",
                                                                                       TensorProto.FLOAT, None)])
    path = tmp_path / "hostile.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("args", [(), ("--color", "always"), ("--width", "30"), ("--depth", "1"), ("--summary",)])
def test_hostile_names_cannot_reach_the_terminal(tmp_path, args):
    text = convlint("analyze", str(hostile_model(tmp_path)), *args).stdout
    assert "\x1b" not in SGR.sub("", text) and "\x07" not in text
    assert not [line for line in text.splitlines() if line.startswith("::")]
    if "--summary" not in args:
        assert "\\x1b[2Jcleared" in text and "two\\nlines" in text and "[bold red]markup[/]" in text
        assert "\\x3a:error::forged" in text


def test_wide_characters_keep_the_columns_aligned(tmp_path):
    lines = [line for line in table(convlint("analyze", str(hostile_model(tmp_path)), "--width", "0").stdout)
             if line.rstrip().endswith(" 0")]
    assert len(lines) == len(HOSTILE)
    assert len({display_width(line) for line in lines}) == 1


def test_hostile_names_stay_text_in_markdown(tmp_path):
    from markdown_it import MarkdownIt

    text = convlint("analyze", str(hostile_model(tmp_path)), "-f", "markdown").stdout
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<img" not in rendered.replace("&lt;img", "")
    assert "\x1b" not in text


# -- 4. readable magnitudes, --exact ------------------------------------------------------------
def test_resnet50_totals_read_as_torchvision_publishes_them():
    """torchvision's own figures for ResNet-50: 25,557,032 params and 4.089 GFLOPS (MACs)."""
    from torchvision.models import ResNet50_Weights

    meta = ResNet50_Weights.IMAGENET1K_V1.meta
    params = meta["num_params"]
    text = convlint("analyze", "torchvision.models:resnet50", "--input-shape", "1x3x224x224", "--summary",
                    "--width", "0").stdout
    assert (f"Totals: {params / 1e6:.1f} M params ({params * 4 / 2**20:.1f} MiB as float32), "
            f"{53_120 / 1e3:.1f} k buffers, {meta['_ops']:.2f} GMACs per sample\n") in text
    exact = convlint("analyze", "torchvision.models:resnet50", "--input-shape", "1x3x224x224", "--summary",
                     "--exact", "--width", "0").stdout
    assert f"Totals: {params:,} params ({params * 4:,} bytes as float32), 53,120 buffers, " in exact


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (999, "999"), (9_999, "9,999"), (10_000, "10.0 k"), (19_994, "20.0 k"),
                                             (999_499, "999 k"), (999_500, "1.00 M"), (25_557_032, "25.6 M"),
                                             (4_089_184_256, "4.09 G"), (10**18, "1.00 E"),
                                             (27 * 10**30, "27,000,000 Y")])
def test_magnitudes_have_three_significant_digits(value, text):
    from analyzer.formatters.figures import magnitude

    assert magnitude(value) == text
    assert magnitude(value, exact=True) == f"{value:,}"


@pytest.mark.parametrize(("value", "text"), [(432, "432 B"), (1024, "1.00 KiB"), (180_224, "176 KiB"),
                                             (102_228_128, "97.5 MiB"), (2**30, "1.00 GiB")])
def test_sizes_in_binary_units(value, text):
    from analyzer.formatters.figures import size_text

    assert size_text(value) == text


def test_peak_activations_in_the_text():
    """seed: the (3, 6, 6) input and the (64, 2, 2) output, float32, live while conv1 runs."""
    peak = (3 * 6 * 6 + 64 * 2 * 2) * 4
    text = convlint("analyze", "samples/seed.json", "--exact", "--batch", "4", "--width", "0").stdout
    assert f"Activations: peak {peak:,} bytes at conv1 (batch 1, input included); 1,024 bytes over all outputs\n" in text
    assert f"Per batch of 4: {4 * 6912:,} MACs, peak activations {4 * peak:,} bytes\n" in text


@pytest.mark.parametrize("arguments", [["samples/seed.json"], ["samples/unet.json", "--input-shape", "image=1x100x100"],
                                       ["samples/broken_channels.json"], ["samples/tiny_resnet.onnx"]])
def test_summary_and_finding_lines_fold_at_the_width(arguments):
    """At 80 columns every line below the table fits (a word longer than the line, such as a
    long node name, stays whole), and joining each continued line to the one before gives
    back the report without a width limit."""
    folded = convlint("analyze", *arguments, "--summary", "--width", "80").stdout.splitlines()
    whole = convlint("analyze", *arguments, "--summary", "--width", "0").stdout.splitlines()
    assert all(len(line) <= 80 or " " not in line.strip() for line in folded)
    assert len(folded) > len(whole)
    joined: list[str] = []
    for line in folded:
        if line.startswith("  ") and joined:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    assert joined == whole


# -- 5. constants hidden, --all-nodes, --summary, --depth ---------------------------------------
def constant_only_nodes(model: onnx.ModelProto) -> int:
    """Nodes no model input reaches, read from the ONNX graph itself."""
    weights = {t.name for t in model.graph.initializer}
    reached = {i.name for i in model.graph.input if i.name not in weights}
    count = 0
    for node in model.graph.node:
        if reached.intersection(node.input):
            reached.update(node.output)
        else:
            count += 1
    return count


def test_constant_rows_are_hidden_unless_asked_for():
    path = ONNX_DATA / "light" / "light_densenet121.onnx"
    model = onnx.load(str(path))
    hidden = constant_only_nodes(model)
    assert hidden >= 836  # the issue counted 836 ConstantOfShape rows alone
    text = convlint("analyze", str(path), "--width", "0").stdout
    assert f"\n{hidden} nodes computing constants only not shown (--all-nodes shows them)\n" in text
    assert len(table(text)) == 1 + len(model.graph.node) - hidden  # and the input
    everything = convlint("analyze", str(path), "--width", "0", "--all-nodes").stdout
    assert len(table(everything)) == 1 + len(model.graph.node) and "not shown" not in everything


def test_summary_is_totals_and_findings_only():
    text = convlint("analyze", "samples/broken_channels.json", "--summary").stdout
    lines = text.splitlines()
    assert lines[0] == "broken_channels (spec: samples/broken_channels.json)" and lines[1] == ""
    assert lines[2].startswith("Totals: ") and "─" not in text
    assert [line.split("]")[0] for line in lines if line.startswith("error[")] == ["error[C101", "error[S104"]


def test_depth_groups_rows_by_module_as_pytorch_names_them():
    """resnet18.json names its layers as torchvision's ResNet-18 names its modules: at depth 1,
    each stage is a row with the parameters and output shape PyTorch gives that module."""
    import torch
    import torchvision

    model = torchvision.models.resnet18().eval()
    shapes = {}
    for name in ("layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    layers = json.loads((SAMPLES / "resnet18.json").read_text())["layers"]
    lines = table(convlint("analyze", "samples/resnet18.json", "--depth", "1", "--width", "0").stdout)
    for name, shape in shapes.items():
        params = sum(p.numel() for p in getattr(model, name).parameters())
        members = sum(layer["name"].startswith(name + ".") for layer in layers)
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert f" {members} nodes " in row and f"({', '.join(map(str, shape))})" in row
        assert f" {params:,} " in row


def test_module_paths_of_exported_names_are_pytorch_modules(models):
    """The TorchScript exporter names nodes /features/features.1/features.1.0/block/.../Conv: the
    module path convlint reads from them is a module of torchvision's EfficientNet-B0."""
    import torchvision

    from analyzer.formatters.rows import module_path

    modules = dict(torchvision.models.efficientnet_b0().named_modules())
    report = analyze(str(models["efficientnet_b0"]))
    paths = {".".join(module_path(n.name)) for n in report.nodes if n.name.startswith("/")}
    assert len(paths) > 100 and paths <= set(modules)


# -- 1. as fast as the JSON report, and rich is not imported ---------------------------------------
def test_text_costs_no_more_than_json():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from models import chain

    from analyzer.formatters import View
    from analyzer.formatters.text import render

    report = analyze(chain(6000))
    best = {}
    for name, make in (("json", report.to_json), ("text", lambda: render(report, View(width=80)))):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            make()
            times.append(time.perf_counter() - start)
        best[name] = min(times)
    assert best["text"] <= 1.5 * best["json"] + 0.02, best


def test_rich_is_not_imported_for_the_text_report():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "analyzer", "analyze", "samples/tiny_resnet.onnx",
                             "--color", "always"], capture_output=True, text=True, cwd=ROOT)
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "analyzer.formatters.text" in imported and not [m for m in imported if m.split(".")[0] == "rich"]


# -- diff as text ---------------------------------------------------------------------------------
def test_diff_text_one_change_a_line_and_the_peak_from_onnxruntime():
    from onnx_utils import run_all_values, with_input_dims
    from test_peak_memory import brute_force_peak

    peaks = []
    for name in ("tiny_resnet.onnx", "tiny_resnet_wide.onnx"):
        model = with_input_dims(onnx.load(str(SAMPLES / name)), [1])
        sizes = {k: v.nbytes for k, v in run_all_values(model).items()}
        sizes["image"] = 3 * 64 * 64 * 4
        peaks.append(brute_force_peak(model, sizes)[0])
    old, new = (str(SAMPLES / "tiny_resnet.onnx"), str(SAMPLES / "tiny_resnet_wide.onnx"))
    text = convlint("diff", old, new).stdout
    document = json.loads(convlint("diff", old, new, "-f", "json").stdout)
    delta = "" if peaks[0] == peaks[1] else f" (+{peaks[1] - peaks[0]:,}, +{(peaks[1] - peaks[0]) / peaks[0]:.1%})"
    assert f"\npeak activation bytes: {peaks[0]:,} -> {peaks[1]:,}{delta}\n" in text
    changes = [c for node in document["nodes"]["changed"] for c in node["changes"]]
    assert sum(line.startswith("    ") for line in text.splitlines()) == len(changes) > 12
    assert "\n~ stage2.b.conv -> Conv_14 (Conv)\n    output shape (N, 32, 8, 8) -> (N, 48, 8, 8)\n" in text
