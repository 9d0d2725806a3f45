"""`convlint check` and the review formats: selection and configuration precedence, exit
codes, folders and globs, SARIF (validated against the OASIS schema), Markdown, GitHub
annotations, and `convlint diff` on two versions of a model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()
SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())


def check(*arguments: str, cwd: Path | None = None):
    args = ["check", *arguments]
    if cwd is None:
        return runner.invoke(app, args)
    return subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with two models and a pyproject.toml."""
    shutil.copy(SAMPLES / "seed.json", tmp_path / "seed.json")
    shutil.copy(SAMPLES / "broken_channels.json", tmp_path / "broken.json")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    return tmp_path


def codes(result) -> list[str]:
    return sorted(d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"])


# -- exit codes -----------------------------------------------------------------------------------
def test_exit_codes(project):
    assert check(str(project / "seed.json")).exit_code == 0  # a warning does not fail by default
    assert check(str(project / "seed.json"), "--fail-on", "warning").exit_code == 1
    assert check(str(project / "broken.json")).exit_code == 1
    assert check(str(project / "nope.json")).exit_code == 2
    assert check(str(project / "seed.json"), "--select", "XYZ").exit_code == 2
    assert check(str(project / "seed.json"), "--fail-on", "sometimes").exit_code == 2
    (project / "bad.json").write_text("{")
    result = check(str(project / "seed.json"), str(project / "bad.json"))
    assert result.exit_code == 2  # unreadable input wins, the rest is still reported
    assert "F101" in result.stdout and f"{project / 'bad.json'}: line 1 column 2: invalid JSON" in result.stdout


def test_text_lines_point_at_the_spec(project):
    result = check(str(project / "broken.json"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{project / 'broken.json'}:9:52: C101 [error] conv2: in_channels=64")
    assert lines[-1] == "Found 2 errors, 0 warnings in 1 model."


# -- selection and configuration --------------------------------------------------------------
def test_select_and_ignore(project):
    both = str(project)
    assert codes(check(both, "-f", "json")) == ["C101", "F101", "S104"]
    assert codes(check(both, "-f", "json", "--select", "C,S")) == ["C101", "S104"]
    assert codes(check(both, "-f", "json", "--ignore", "S")) == ["C101", "F101"]
    assert codes(check(both, "-f", "json", "--select", "F1", "--extend-select", "C101")) == ["C101", "F101"]


def test_config_and_command_line_precedence(project):
    (project / "pyproject.toml").write_text(
        '[tool.convlint]\nselect = ["F", "S"]\nignore = ["S104"]\nfail-on = "warning"\n'
    )
    result = check(".", "-f", "json", cwd=project)
    assert sorted(d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]) == ["F101"]
    assert result.returncode == 1  # fail-on = warning from the config
    result = check(".", "-f", "json", "--select", "C", "--fail-on", "error", cwd=project)
    assert sorted(d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]) == ["C101"]
    assert result.returncode == 1
    result = check(".", "-f", "json", "--isolated", cwd=project)
    assert sorted(d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]) == ["C101", "F101", "S104"]


def test_convlint_toml_and_config_errors(project):
    (project / "convlint.toml").write_text('ignore = ["F101"]\n')
    result = check("seed.json", "-f", "json", cwd=project)
    assert json.loads(result.stdout)["files"][0]["diagnostics"] == []
    (project / "convlint.toml").write_text('ignored = ["F101"]\n')
    result = check("seed.json", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {project / 'convlint.toml'}: top level: unknown key 'ignored' (did you mean 'ignore'?); known: "
        "select, extend-select, ignore, per-node-ignores, fail-on, input-shape, override-shape, batch, exclude, "
        "extend-exclude, force-exclude")
    (project / "convlint.toml").write_text('select = ["Q"]\n')
    result = check("seed.json", cwd=project)
    assert result.returncode == 2 and "unknown rule code or prefix 'Q'" in result.stderr


def test_select_on_the_command_line_replaces_the_configured_extend_select(project):
    """As ruff: --select is the whole selection; the file's extend-select does not add to it,
    its ignore still applies, and --extend-select given with it does add."""
    (project / "pyproject.toml").write_text('[tool.convlint]\nextend-select = ["F101"]\nignore = ["S104"]\n')
    assert codes(check(str(project), "-f", "json")) == ["C101", "F101"]
    assert codes(check(str(project), "-f", "json", "--select", "C,S")) == ["C101"]
    assert codes(check(str(project), "-f", "json", "--select", "C", "--extend-select", "F")) == ["C101", "F101"]


def test_config_option_reads_a_pyproject_style_file(project):
    """--config FILE takes a convlint.toml (top-level keys) or any file with a [tool.convlint]
    table; a pyproject-style file without one is refused, naming the file."""
    (project / "ci.toml").write_text('[project]\nname = "x"\n\n[tool.convlint]\nselect = ["C"]\n')
    assert codes(check(str(project), "-f", "json", "--config", str(project / "ci.toml"))) == ["C101"]
    (project / "ci.toml").write_text('[tool.black]\nline-length = 80\n')
    result = check(str(project), "--config", str(project / "ci.toml"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {project / 'ci.toml'}: no [tool.convlint] table\n"
    (project / "plain.toml").write_text('select = ["S"]\n')
    assert codes(check(str(project), "-f", "json", "--config", str(project / "plain.toml"))) == ["S104"]


def test_per_node_ignores_for_onnx(tmp_path):
    model = tmp_path / "tiny.onnx"
    shutil.copy(SAMPLES / "tiny_resnet.onnx", model)
    assert codes(check(str(model), "-f", "json", "--isolated")) == ["D104"]
    (tmp_path / "convlint.toml").write_text('[per-node-ignores]\n"ga*" = ["D"]\n')
    assert codes(check(str(model), "-f", "json")) == []
    (tmp_path / "convlint.toml").write_text('[per-node-ignores]\n"stage*" = ["D"]\n')
    assert codes(check(str(model), "-f", "json")) == ["D104"]


def test_per_layer_ignore_in_specs():
    # samples/audio1d.json's pooling layer ignores D104 in the spec itself.
    assert codes(check(str(SAMPLES / "audio1d.json"), "-f", "json", "--isolated")) == ["F101"]


# -- folders, globs, parallel processes -------------------------------------------------------
def test_folders_and_globs(tmp_path):
    (tmp_path / "models" / "deep").mkdir(parents=True)
    shutil.copy(SAMPLES / "seed.json", tmp_path / "models" / "seed.json")
    shutil.copy(SAMPLES / "tiny_resnet.onnx", tmp_path / "models" / "deep" / "tiny.onnx")
    (tmp_path / "models" / "package.json").write_text('{"name": "not a spec"}')
    (tmp_path / "models" / ".hidden").mkdir()
    shutil.copy(SAMPLES / "seed.json", tmp_path / "models" / ".hidden" / "seed.json")
    report = json.loads(check(str(tmp_path / "models"), "-f", "json", "--isolated").stdout)
    assert sorted(Path(f["model"]["path"]).name for f in report["files"]) == ["seed.json", "tiny.onnx"]
    report = json.loads(check(str(tmp_path / "models" / "**" / "*.onnx"), "-f", "json", "--isolated").stdout)
    assert [Path(f["model"]["path"]).name for f in report["files"]] == ["tiny.onnx"]
    assert check(str(tmp_path / "nothing" / "*.onnx")).exit_code == 2


@pytest.mark.parametrize("where", ["empty", "empty/*.onnx", "docs", "docs/*.json", "docs/**/*.txt"])
def test_a_path_without_models_fails_and_is_named(tmp_path, monkeypatch, where):
    """An empty folder, a glob matching nothing or only other files: exit code 2 and a line
    naming the path, so a CI job pointed at the wrong place fails."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "package.json").write_text('{"name": "not a spec"}')
    (tmp_path / "docs" / "notes.txt").write_text("no model")
    result = check(where)
    assert result.exit_code == 2
    expected = ("(no file matches this pattern)" if where == "empty/*.onnx"
                else "(ONNX files or convlint specs)")
    error = result.stdout.splitlines()[0]
    assert error == f"error: no models found under {where} {expected}"
    document = json.loads(check(where, "-f", "json").stdout)
    assert [e["path"] for e in document["errors"]] == [where]
    assert check(where, "missing.onnx").stdout.splitlines()[1] == "error: missing.onnx: no such file or folder"


def test_check_with_models_only_and_nothing_left_passes(tmp_path, monkeypatch):
    """pre-commit names staged files; when none is a model there is nothing to check (not
    the whole folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "package.json").write_text('{"name": "not a spec"}')
    shutil.copy(SAMPLES / "broken_channels.json", tmp_path / "broken.json")
    result = check("package.json", "--models-only")
    assert result.exit_code == 0 and result.stdout == "All checks passed: 0 errors, 0 warnings in 0 models.\n"


def _tree(root: Path) -> None:
    for folder in ("models/legacy", "models/archive/old", ".git", "node_modules/pkg", "env", "build"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # a virtualenv of any name
    for target in ("models/seed.json", "models/legacy/seed.json", "models/archive/old/seed.json",
                   "models/seed_old.json", ".git/seed.json", "node_modules/pkg/seed.json", "env/seed.json",
                   "build/seed.json"):
        shutil.copy(SAMPLES / "seed.json", root / target)


def checked(result) -> list[str]:
    return sorted(Path(f["model"]["path"]).as_posix() for f in json.loads(result.stdout)["files"])


def test_default_and_configured_exclusions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _tree(tmp_path)
    everything = ["models/archive/old/seed.json", "models/legacy/seed.json", "models/seed.json", "models/seed_old.json"]
    assert checked(check(".", "-f", "json")) == everything  # .git, node_modules, env/, build/ left out
    (tmp_path / "pyproject.toml").write_text(
        '[tool.convlint]\nextend-exclude = ["legacy", "*_old.json", "models/archive"]\n')
    assert checked(check(".", "-f", "json")) == ["models/seed.json"]
    assert check("models/*/*.json").exit_code == 2  # the glob's one match is excluded: no models
    # exclude replaces the defaults: build/ is searched now, .git still not (".*" kept)
    (tmp_path / "pyproject.toml").write_text('[tool.convlint]\nexclude = [".*", "node_modules"]\n')
    assert checked(check(".", "-f", "json")) == ["build/seed.json", *everything]
    assert checked(check(".", "-f", "json", "--exclude", "models")) == [
        ".git/seed.json", "build/seed.json", "node_modules/pkg/seed.json"]
    result = check(".", "--extend-exclude", "models,build")
    assert result.exit_code == 2 and result.stdout.startswith("error: no models found under .")


def test_named_files_are_checked_unless_force_exclude(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _tree(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.convlint]\nextend-exclude = ["legacy"]\n')
    assert checked(check("models/legacy/seed.json", "-f", "json")) == ["models/legacy/seed.json"]
    assert checked(check("models/legacy/seed.json", "-f", "json", "--force-exclude")) == []
    (tmp_path / "pyproject.toml").write_text('[tool.convlint]\nextend-exclude = ["legacy"]\nforce-exclude = true\n')
    assert checked(check("models/legacy/seed.json", "models/seed.json", "-f", "json")) == ["models/seed.json"]
    assert check("models/legacy", "-f", "json").exit_code == 0  # a folder named explicitly is searched


def test_parallel_and_serial_runs_agree():
    serial = json.loads(check(str(SAMPLES), "-f", "json", "--isolated", "--jobs", "1").stdout)
    parallel = json.loads(check(str(SAMPLES), "-f", "json", "--isolated", "--jobs", "2").stdout)
    assert serial == parallel
    assert serial["summary"]["files"] == len(list(SAMPLES.glob("*.json"))) + len(list(SAMPLES.glob("*.onnx")))


# -- review formats -------------------------------------------------------------------------------
def test_sarif_is_valid_sarif_2_1_0():
    result = check(str(SAMPLES), "-f", "sarif", "--isolated")
    document = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    run = document["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["C101"]["help"]["text"].startswith("A convolution's weight expects")
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in run["results"]}
    assert ("C101", "samples/broken_channels.json") in results or ("C101", str(SAMPLES / "broken_channels.json")) in results
    c101 = next(r for r in run["results"] if r["ruleId"] == "C101")
    assert c101["level"] == "error"
    assert c101["locations"][0]["physicalLocation"]["region"] == {"startLine": 9, "startColumn": 52}
    assert run["results"][[r["ruleId"] for r in run["results"]].index("D104")]["level"] == "warning"


def test_sarif_of_analyze_and_of_an_unreadable_file(tmp_path):
    document = json.loads(runner.invoke(app, ["analyze", str(SAMPLES / "seed.json"), "-f", "sarif"]).stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
    (tmp_path / "empty").mkdir()
    document = json.loads(check(str(tmp_path / "bad.onnx"), str(tmp_path / "empty"), str(SAMPLES / "seed.json"),
                                "-f", "sarif").stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    run = document["runs"][0]
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("F101", "warning"), ("E000", "error"),
                                                                    ("E000", "error")]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:  # code scanning shows a result's rule from driver.rules
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert len({r["id"] for r in rules}) == len(rules)


def test_github_annotations():
    result = check(str(SAMPLES / "broken_channels.json"), str(SAMPLES / "tiny_resnet.onnx"), "-f", "github", "--isolated")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error file=") and ",line=9,col=52,title=C101 conv-channel-mismatch::conv2: in_channels=64" in lines[0]
    assert any(line.startswith("::warning file=") and "title=D104" in line and "line=" not in line for line in lines)


def test_markdown_pull_request_comment():
    text = check(str(SAMPLES / "broken_channels.json"), str(SAMPLES / "seed.json"), "-f", "markdown", "--isolated").stdout
    lines = text.splitlines()
    assert lines[0] == "### :x: convlint: 2 errors, 1 warning in 2 models"
    assert "| | code | where | node | finding |" in lines
    assert any(line.startswith("| :x: | C101 |") for line in lines)
    assert text.count("<details>") == 2 and "| `conv1` | `conv` | (64, 2, 2) | 3x3 | 2x2 | 1,792 | 6,912 |" in text


# -- diff -------------------------------------------------------------------------------------------
def test_diff_of_a_widened_stage_with_renumbered_nodes():
    result = runner.invoke(app, ["diff", str(SAMPLES / "tiny_resnet.onnx"), str(SAMPLES / "tiny_resnet_wide.onnx"), "-f", "json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["nodes"]["added"] == [] and document["nodes"]["removed"] == []
    changed = {c["old"]: c for c in document["nodes"]["changed"]}
    assert sorted(changed) == sorted([
        "stage2.a.conv", "stage2.a.bn", "stage2.a.relu", "stage2.b.conv", "stage2.b.bn", "stage2.down.conv",
        "stage2.down.bn", "stage2.add", "stage2.out", "gap", "flatten", "logits"])
    conv = changed["stage2.b.conv"]
    assert conv["new"] == "Conv_14" and conv["matched_by_position"]
    params = next(c for c in conv["changes"] if c["what"] == "params")
    assert (params["old"], params["new"]) == (32 * 32 * 9, 48 * 48 * 9)
    totals = {t["what"]: (t["old"], t["new"]) for t in document["totals"]}
    # stage 2 convs and BNs, and the classifier, grow with the width: 32 -> 48.
    grow = lambda w: w * 16 * 9 + w * w * 9 + w * 16 + 3 * 2 * w + 10 * w + 10  # noqa: E731
    assert totals["params"] == (19994, 19994 - grow(32) + grow(48))


def test_diff_of_spec_versions_names_new_and_fixed_findings(tmp_path):
    before = json.loads((SAMPLES / "broken_channels.json").read_text())
    after = json.loads(json.dumps(before))
    after["layers"][2]["in_channels"] = 32  # fix conv2
    after["layers"].insert(1, {"name": "extra", "op": "conv", "out_channels": 32, "kernel_size": 1, "stride": 2})
    (tmp_path / "a.json").write_text(json.dumps(before))
    (tmp_path / "b.json").write_text(json.dumps(after))
    result = runner.invoke(app, ["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-f", "json"])
    document = json.loads(result.stdout)
    assert [n["name"] for n in document["nodes"]["added"]] == ["extra"]
    # conv2 now takes 32 channels; the stride-2 layer halves the map, so fc's 4096 now fits.
    assert [f["code"] for f in document["findings"]["fixed"]] == ["C101", "S104"]
    assert sorted(f["code"] for f in document["findings"]["new"]) == ["F102"]
    assert result.exit_code == 0  # the new finding is a warning
    assert runner.invoke(app, ["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--fail-on", "warning"]).exit_code == 1
    markdown = runner.invoke(app, ["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-f", "markdown"]).stdout
    assert "| + | `extra` | `conv` |" in markdown and "| fixed | C101 | `conv2` |" in markdown


def _conv_model(path: Path, alias: bool = False, **attributes) -> str:
    """One conv on a 1x3x8x8 input; ``alias`` reads its weight through an Identity, as the
    TorchScript exporter writes shared initializers."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Identity", ["w0"], ["w"])] if alias else []
    nodes.append(helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attributes))
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w0" if alias else "w")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def test_diff_reads_an_attribute_left_out_as_the_value_onnx_gives_it(tmp_path):
    """The ONNX spec's defaults for Conv: auto_pad NOTSET, group 1, dilations and strides 1 (one
    exporter writes them, another leaves them out); a real change shows the default it left."""
    plain = _conv_model(tmp_path / "a.onnx")
    spelled = _conv_model(tmp_path / "b.onnx", auto_pad="NOTSET", group=1, dilations=[1, 1], strides=[1, 1])
    document = json.loads(runner.invoke(app, ["diff", plain, spelled, "-f", "json"]).stdout)
    assert document["nodes"]["changed"] == [] and document["nodes"]["unchanged"] == 1
    same = _conv_model(tmp_path / "c.onnx", auto_pad="SAME_UPPER")
    document = json.loads(runner.invoke(app, ["diff", plain, same, "-f", "json"]).stdout)
    (change,) = document["nodes"]["changed"]
    assert {"what": "attribute auto_pad", "old": "NOTSET", "new": "SAME_UPPER"} in change["changes"]


def test_diff_lists_no_node_that_computes_from_constants_only(tmp_path):
    """As `analyze` shows no row for an exporter's alias of a weight, `diff` lists none."""
    aliased, plain = _conv_model(tmp_path / "a.onnx", alias=True), _conv_model(tmp_path / "b.onnx")
    text = runner.invoke(app, ["diff", aliased, plain]).stdout
    assert "nodes: 0 added, 1 removed, 0 changed, 1 unchanged" in text
    assert "- Identity" not in text and "1 node computing constants only not listed" in text
    assert json.loads(runner.invoke(app, ["diff", aliased, plain, "-f", "json"]).stdout)["nodes"]["removed"] == [
        {"name": "Identity_0", "op": "Identity"}]


def test_rules_commands():
    listing = runner.invoke(app, ["rules"]).stdout
    assert "F101   warning  on   trailing-input-dropped" in listing
    assert "D101   info     off  stride-exceeds-window" in listing
    explained = runner.invoke(app, ["rule", "c101"]).stdout
    assert explained.startswith("C101 (conv-channel-mismatch): error") and "## Fix" in explained
    assert runner.invoke(app, ["rule", "X999"]).exit_code == 2
    assert (ROOT / "docs" / "rules.md").read_text() == runner.invoke(app, ["rules", "-f", "markdown"]).stdout


def test_folder_searches_exclude_exactly_what_excluded_says(tmp_path, monkeypatch):
    """A search matches each entry's own name and path (Exclusions.below); the verdicts must be
    Exclusions.excluded's for every entry under folders that passed, whatever root and base."""
    import os
    import random

    from analyzer.lint import Exclusions

    rng = random.Random(7)
    names = ["a", "b", "models", "archive", "x.onnx", "y.json", "legacy", "c_old.onnx"]

    def make(folder, depth):
        for name in rng.sample(names, 5):
            if "." in name:
                (folder / name).touch()
            elif depth < 3:
                (folder / name).mkdir(exist_ok=True)
                make(folder / name, depth + 1)

    make(tmp_path, 0)
    monkeypatch.chdir(tmp_path)
    pool = ["legacy", "*_old.onnx", "models/archive", "a/b", "a/*/x.onnx", "archive", "b/*.json", "models", "*/b/*"]
    compared = 0
    for _ in range(200):
        exclusions = Exclusions(tuple(rng.sample(pool, rng.randint(0, 3))), rng.choice([".", "a", "models", "a/b", ".."]))
        for base in (".", "a", "./a", "models", "a/b"):
            if not os.path.isdir(base):
                continue
            verdict = exclusions.below(base)
            for folder, folders, files in os.walk(base):
                inside = os.path.relpath(folder, base)
                if inside != "." and exclusions.excluded(folder, base):
                    folders[:] = []
                    continue
                for name in folders + files:
                    below = name if inside == "." else f"{inside}/{name}"
                    assert verdict(name, below) == exclusions.excluded(os.path.join(folder, name), base)
                    compared += 1
    assert compared > 10_000
