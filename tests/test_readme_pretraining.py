"""The README's pre-training checks are produced by the code: each Python example's printed
values, and the pytest example run as a user's suite (test_docs.py runs the commands)."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import sys

from conftest import ROOT, SAMPLES

from analyzer import api

SECTION = "## Pre-training checks at the sizes you train at"


def blocks(kind: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    return re.findall(rf"```{kind}\n(.*?)```", readme[start:end], re.S)


def printed(code: str) -> tuple[str, list[str]]:
    """What the example prints, and what its comments say it prints."""
    expected = [line.split("  # ", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "README.md", "exec"), {})
    return buffer.getvalue(), expected


def test_the_python_examples_print_what_their_comments_say(monkeypatch):
    monkeypatch.chdir(ROOT)
    library, torch_example = blocks("python")[0], blocks("python")[2]
    for code in (library, torch_example):
        output, expected = printed(code)
        assert output.splitlines() == expected


def test_the_pytest_example_passes_as_a_users_suite(tmp_path):
    (tmp_path / "models").mkdir()
    for name in ("unet.json", "seed.json", "depthwise.json", "tiny_resnet.onnx"):
        shutil.copy(SAMPLES / name, tmp_path / "models" / name)
    (tmp_path / "test_architecture.py").write_text(blocks("python")[1])
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_architecture.py"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "5 passed" in result.stdout
    shutil.copy(SAMPLES / "unet_bad_size.json", tmp_path / "models" / "unet_bad_size.json")
    failing = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_architecture.py"],
                             capture_output=True, text=True, cwd=tmp_path)
    assert "FAILED test_architecture.py::test_architecture[unet_bad_size.json]" in failing.stdout
    check = subprocess.run([sys.executable, "-m", "analyzer", "check", "models/unet_bad_size.json", "--fail-on", "error"],
                           capture_output=True, text=True, cwd=tmp_path)
    (error,) = [line for line in check.stdout.splitlines() if "[error]" in line]
    assert error in failing.stdout  # listed as `convlint check` lists it


def test_the_finding_of_a_module_that_cannot_run():
    from test_torch import UNet

    (finding,) = api.analyze(UNet(), input_shape=(1, 3, 66, 66)).findings
    line = f"{finding.severity}[{finding.code}] {finding.node}: {finding.message}"
    assert "\n" + line + "\n" in blocks("text")[-1] or blocks("text")[-1] == line + "\n"
