"""Honest docs (issue 15, item 16): every console example of README.md and docs/ prints what it
shows (docs/examples.py runs them; `python docs/examples.py --write` updates them), the
configuration example works on the shipped samples, the pre-commit example runs in a
repository, and `check --help` offers only the formats `check` accepts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES

sys.path.insert(0, str(ROOT / "docs"))
import examples

EXAMPLES = examples.every_example()


def test_the_documents_have_console_examples():
    assert len(EXAMPLES) >= 11
    assert {e.document.name for e in EXAMPLES} >= {"README.md"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{e.document.name}: {e.command}" for e in EXAMPLES])
def test_each_command_prints_what_the_document_shows(example):
    assert examples.run(example.command) == example.shown, (
        f"{example.document.name}: `{example.command}` prints something else: `python docs/examples.py --write`")


def test_the_check_finds_a_stale_example(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text("```text\n$ convlint analyze samples/seed.json --summary\nseed (spec: samples/seed.json)\n```\n")
    rewritten = examples.rewritten(document)
    assert rewritten != document.read_text() and "Totals: 1,792 params" in rewritten
    document.write_text(rewritten)
    assert examples.rewritten(document) == rewritten  # up to date now


def blocks(document: Path, kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", document.read_text(), re.S)


def test_the_configuration_example_checks_the_samples(tmp_path):
    (config,) = [b for b in blocks(ROOT / "README.md", "toml") if "[tool.convlint]" in b]
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "pyproject.toml").write_text(config)
    done = subprocess.run([sys.executable, "-m", "analyzer", "check", "samples"], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1, done.stderr  # findings at fail-on = "warning", every file read
    assert done.stderr == "" and "could not be read" not in done.stdout
    assert "R102" not in done.stdout  # ignored as configured


def precommit_config(document: Path) -> str:
    (config,) = [b for b in blocks(document, "yaml") if "hooks:" in b and "id: convlint" in b]
    return config


def test_the_pre_commit_example_runs_in_a_repository(tmp_path):
    config = precommit_config(ROOT / "README.md")
    assert config.split("repos:", 1)[1] == precommit_config(ROOT / "docs" / "ci.md").split("repos:", 1)[1]
    for name in ("seed.json", "broken_channels.json", "tiny_resnet.onnx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"name": "not a model"}')
    (tmp_path / ".pre-commit-config.yaml").write_text(config)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PRE_COMMIT_HOME": str(tmp_path / ".cache"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], ["git", "add", "."]):
        subprocess.run(command, cwd=tmp_path, check=True, env=env)
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broken_channels.json:9:52: C101 [error] conv2" in done.stdout
    assert "Found 2 errors, 2 warnings in 3 models." in done.stdout  # package.json is skipped


def test_check_help_offers_only_the_formats_check_accepts():
    done = subprocess.run([sys.executable, "-m", "analyzer", "check", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, check=False)
    (line,) = [line for line in done.stdout.splitlines() if "--format" in line]
    formats = re.findall(r"\b(text|json|markdown|sarif|github|html)\b", line.split("[default")[0])
    assert formats == ["text", "json", "markdown", "sarif", "github"]
    for name in formats:
        run = subprocess.run([sys.executable, "-m", "analyzer", "check", "samples/seed.json", "-f", name],
                             capture_output=True, text=True, cwd=ROOT, check=False)
        assert run.returncode == 0, (name, run.stderr)
    refused = subprocess.run([sys.executable, "-m", "analyzer", "check", "samples/seed.json", "-f", "html"],
                             capture_output=True, text=True, cwd=ROOT, check=False)
    assert refused.returncode == 2 and "convlint analyze MODEL --format html" in refused.stderr
