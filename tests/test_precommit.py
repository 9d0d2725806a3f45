"""The pre-commit hook, run the way users run it: `pre-commit try-repo` over the samples."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def try_repo(tmp_path, *files: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "convlint", "--files", *files],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )


def test_pre_commit_hook_over_the_samples(tmp_path):
    done = try_repo(tmp_path, "samples/seed.json", "samples/broken_channels.json", "samples/unet.json",
                    "samples/tiny_resnet.onnx", "schemas/spec.schema.json", "tests/data/sarif/sarif-2.1.0-rtm.5.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "convlint" in done.stdout and "Failed" in done.stdout
    assert "samples/broken_channels.json:9:52: C101 [error] conv2" in done.stdout
    assert "samples/seed.json:7:85: F101 [warning] conv1" in done.stdout
    assert "Found 2 errors, 2 warnings in 4 models." in done.stdout  # JSON that is not a spec is skipped
    clean = try_repo(tmp_path, "samples/unet.json", "samples/vgg16.json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
