"""The command line as users run it: exit codes, formats, output files, entry points."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()


def test_exit_code_0_without_errors_even_with_warnings():
    result = runner.invoke(app, ["analyze", str(SAMPLES / "seed.json")])
    assert result.exit_code == 0
    assert "(64, 2, 2)" in result.stdout
    assert "F101" in result.stdout


def test_exit_code_1_with_error_findings():
    result = runner.invoke(app, ["analyze", str(SAMPLES / "broken_channels.json")])
    assert result.exit_code == 1
    assert "C101" in result.stdout and "S104" in result.stdout


def test_exit_code_2_on_misuse():
    assert runner.invoke(app, ["analyze"]).exit_code == 2
    assert runner.invoke(app, ["analyze", str(SAMPLES / "seed.json"), "--format", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_json_report_shape():
    result = runner.invoke(app, ["analyze", str(SAMPLES / "seed.json"), "-f", "json"])
    report = json.loads(result.stdout)
    assert set(report) == {"tool", "model", "inputs", "nodes", "totals", "receptive_field", "diagnostics"}
    assert report["receptive_field"] == {"node": "conv1", "size": [3, 3], "stride": [2, 2],
                                         "input": [6, 6], "ratio": [0.5, 0.5]}
    assert report["tool"]["name"] == "convlint"
    assert report["model"] == {"path": str(SAMPLES / "seed.json"), "format": "spec", "name": "seed"}
    assert report["inputs"] == [{"name": "image", "shape": [3, 6, 6]}]
    (conv,) = report["nodes"]
    assert conv["inputs"] == ["image"]
    assert conv["outputs"] == [{"name": "conv1", "shape": [64, 2, 2]}]
    assert conv["receptive_field"]["global"] is False
    assert report["diagnostics"][0]["code"] == "F101"


def test_output_file(tmp_path):
    target = tmp_path / "report.json"
    result = runner.invoke(app, ["analyze", str(SAMPLES / "vgg16.json"), "-f", "json", "-o", str(target)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text())["totals"]["params"] == 138_357_544


def test_text_has_no_escape_codes_when_not_a_terminal(tmp_path):
    target = tmp_path / "report.txt"
    runner.invoke(app, ["analyze", str(SAMPLES / "unet_bad_size.json"), "-o", str(target)])
    text = target.read_text()
    assert "\x1b[" not in text
    assert "error[S103] cat3" in text


def test_console_script_and_module_entry_points():
    for command in (["convlint"], [sys.executable, "-m", "analyzer"]):
        done = subprocess.run([*command, "analyze", "samples/seed.json", "-f", "json"],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["nodes"][0]["outputs"][0]["shape"] == [64, 2, 2]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("convlint ")


def test_library_entry_point_and_graph():
    import gc

    import networkx as nx

    from analyzer.api import analyze_path
    from analyzer.frontends import load

    report = analyze_path(str(SAMPLES / "resnet18.json"))
    assert report.totals.params == 11_689_512
    assert gc.isenabled()  # the collector is paused during the analysis only
    model = load(str(SAMPLES / "resnet18.json"))
    assert isinstance(model.graph, nx.DiGraph) and nx.is_directed_acyclic_graph(model.graph)
    assert model.graph.number_of_nodes() == len(model.nodes)
    assert model.graph.edges["layer1.0.bn2", "layer1.0.add"]["tensors"] == ["layer1.0.bn2"]
    assert next(iter(nx.topological_sort(model.graph))) == "conv1"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["sizes", "samples/seed.json", "--max", "10**12"], "error: --max: '10**12' is not a valid int"),
        (["sizes", "samples/seed.json", "--max", "0"], "error: --max: 0 is not in the range 1<=x<="),
        (["analyze"], "error: missing argument MODEL"),
        (["frobnicate"], "error: no such command 'frobnicate'"),
        (["analyze", "samples/seed.json", "--frob"], "error: no such option: --frob"),
        (["analyze", "samples/seed.json", "-f", "yaml"], "error: --format: 'yaml' is not one of 'text', "),
        (["rule"], "error: missing argument CODE"),
    ],
)
def test_usage_errors_are_one_line(arguments, expected):
    """Misuse is reported like every other convlint error: one line on stderr, exit code 2,
    no boxed panel and no usage block (as the installed command runs it)."""
    done = subprocess.run([sys.executable, "-m", "analyzer", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(expected), line


def test_help_and_version_still_work():
    for arguments in (["--help"], ["sizes", "-h"]):
        result = runner.invoke(app, arguments)
        assert result.exit_code == 0 and "Usage: convlint" in result.stdout
    bare = runner.invoke(app, [])  # no command: the help, and exit code 2 (as before)
    assert bare.exit_code == 2 and "Usage: convlint" in bare.stdout


@pytest.mark.parametrize(
    ("command", "name", "looks_like"),
    [
        (["analyze", "samples/seed.json"], "report.html", lambda t: t.lstrip().lower().startswith("<!doctype html")),
        (["analyze", "samples/seed.json"], "report.json", lambda t: json.loads(t)["nodes"][0]["name"] == "conv1"),
        (["analyze", "samples/seed.json"], "report.md", lambda t: t.startswith("### ") and "| F101 |" in t),
        (["analyze", "samples/seed.json"], "report.sarif", lambda t: json.loads(t)["version"] == "2.1.0"),
        (["analyze", "samples/seed.json"], "report.txt", lambda t: "warning[F101] conv1" in t),
        (["analyze", "samples/seed.json"], "report.log", lambda t: "warning[F101] conv1" in t),
        (["check", "samples/seed.json"], "lint.SARIF", lambda t: json.loads(t)["runs"][0]["results"][0]["ruleId"] == "F101"),
        (["check", "samples/seed.json"], "lint.json", lambda t: json.loads(t)["summary"]["warnings"] == 1),
        (["diff", "samples/tiny_resnet.onnx", "samples/tiny_resnet_wide.onnx"], "diff.json",
         lambda t: isinstance(json.loads(t), dict)),
        (["diff", "samples/tiny_resnet.onnx", "samples/tiny_resnet_wide.onnx"], "diff.md", lambda t: t.startswith("#")),
        (["sizes", "samples/seed.json", "--max", "20"], "sizes.json", lambda t: json.loads(t)["axes"][0]["name"] == "H"),
        (["analyze", "samples/seed.json", "--format", "text"], "report.json", lambda t: "warning[F101] conv1" in t),
    ],
)
def test_output_format_follows_the_file_extension(tmp_path, monkeypatch, command, name, looks_like):
    """-o FILE without --format writes the format FILE's extension names; --format wins."""
    monkeypatch.chdir(ROOT)
    target = tmp_path / name
    result = runner.invoke(app, [*command, "-o", str(target)])
    assert result.exit_code in (0, 1), result.stderr
    assert looks_like(target.read_text())


def test_an_extension_the_command_cannot_write_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    target = tmp_path / "scan.sarif"
    result = runner.invoke(app, ["sizes", "samples/seed.json", "-o", str(target)])
    assert result.exit_code == 2 and not target.exists()
    assert result.stderr == (f"error: --output {target}: `convlint sizes` writes no sarif (text, json); "
                             "give --format\n")
    result = runner.invoke(app, ["check", "samples/seed.json", "-o", str(tmp_path / "lint.html")])
    assert result.exit_code == 2 and "--format html draws one model" in result.stderr
